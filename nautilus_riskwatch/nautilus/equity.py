"""The account equity a percent limit is a share of, in the ceiling currency.

``"2%"`` means 2 % of what the accounts are worth when the limit arms (and, for a daily
limit, again at each daily reset). What they are worth, per account, in NautilusTrader's
terms:

- a **cash** account (and a betting one) holds everything it owns as balances (buying
  BTC/USDT moves USDT into BTC): its equity is the sum of its balances' totals;
- a **margin** account's balances hold cash and realized PnL, while open positions are
  worth their unrealized PnL: its equity is the balances' totals plus the Portfolio's
  unrealized PnL of the venue. That figure is NautilusTrader's own (floats rounded into
  ``Money``); it is zero on a flat book, which is when a session normally arms.

Several accounts (venues) are summed, each currency converted into the ceiling currency at
the current exact rate from the account's own venue (``RateBook``). The sum is kept exact
(a ``Fraction``); the ceiling taken from it is rounded down to the ceiling currency's
precision, toward the trip (``core.convert.share_of``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from nautilus_trader.model.identifiers import Venue

from nautilus_riskwatch.core.convert import Rate
from nautilus_riskwatch.errors import RiskWatchError


class EquityUnknown(RiskWatchError, ValueError):
    """The equity cannot be measured (no account, no rate, not positive): a percent limit
    cannot be set, and the watch trips rather than run with no ceiling."""


@dataclass(frozen=True)
class Equity:
    """The accounts' equity in the ceiling currency, exact, and what it is made of."""

    currency: str
    value: Fraction
    parts: tuple[str, ...]  # "SIM: 1000000 USD", "SIM: -120 JPY at JPY->USD ..."

    def describe(self, quantum: Decimal) -> str:
        shown = Decimal(int(self.value / Fraction(quantum))) * quantum
        return f"{shown} {self.currency} ({'; '.join(self.parts)})"


def account_equity(
    cache: Any,
    portfolio: Any,
    currency: str,
    rate: Callable[[str, Venue], Rate | None],
) -> Equity:
    """Every account's equity, converted into ``currency``; raise ``EquityUnknown``."""
    accounts = list(cache.accounts())
    if not accounts:
        raise EquityUnknown("the engine has no account yet: a percent limit has no base")
    total = Fraction(0)
    parts: list[str] = []
    for account in sorted(accounts, key=lambda a: str(a.id)):
        venue = Venue(account.id.get_issuer())
        amounts: dict[str, Decimal] = {}
        for code, money in _balances(account):
            amounts[code] = amounts.get(code, Decimal(0)) + money
        if not account.is_cash_account:
            for money in (portfolio.unrealized_pnls(venue) or {}).values():
                code = money.currency.code
                amounts[code] = amounts.get(code, Decimal(0)) + money.as_decimal()
        for code, amount in amounts.items():
            if code == currency:
                total += Fraction(amount)
                parts.append(f"{venue}: {amount} {code}")
                continue
            if not amount:
                continue
            converted = rate(code, venue)
            if converted is None:
                raise EquityUnknown(
                    f"account {account.id} holds {amount} {code} and there is no "
                    f"{code}->{currency} rate on {venue} yet: the equity cannot be measured"
                )
            total += Fraction(amount) * converted.value
            parts.append(f"{venue}: {amount} {code} at {converted.describe()}")
    if total <= 0:
        raise EquityUnknown(f"the accounts' equity is {float(total):.2f} {currency}: not positive")
    return Equity(currency, total, tuple(parts))


def _balances(account: Any) -> list[tuple[str, Decimal]]:
    return [
        (currency.code, money.as_decimal()) for currency, money in account.balances_total().items()
    ]
