"""How an instrument's PnL is booked: multiplier, currency, linear or inverse.

The currency is the one NautilusTrader's own ``Position`` books PnL in,
``Instrument.get_cost_currency()`` (read in both versions' instrument ``.pyx`` files):

- a **linear** instrument: its quote currency (GBP/USD in USD, USD/JPY in JPY);
- an **inverse** one (``is_inverse``, e.g. a BTC/USD inverse perpetual whose contracts are
  worth ``multiplier`` USD each): its base currency (BTC). Its PnL is
  ``qty * multiplier * (1 / open - 1 / close)``, which the ledger books per fill as the
  cash flow ``+signed_qty * multiplier / price``, exactly (a ``Fraction``);
- a **quanto** (``CryptoPerpetual`` / ``CryptoFuture`` with ``is_quanto``: settled in a
  third currency, e.g. ETH/USD settled in BTC): its settlement currency, with the linear
  formula ``qty * multiplier * (close - open)``, the conversion fixed in the multiplier.
  That is NautilusTrader 1.x's model of it (its ``Position`` applies the linear formula in
  the settlement currency), so the watch follows the engine. NB the versions differ on
  what is quanto: 1.231 no longer calls a USD-quoted contract settled in a USD stablecoin
  (USDT, USDC...) quanto, and books it in USD where 1.221 books it in USDT.

Betting instruments (back/lay stakes, NautilusTrader's ``BetPosition``) are not a price
times a quantity: refused, by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nautilus_trader.model.identifiers import Venue


@dataclass(frozen=True, slots=True)
class Settlement:
    """What the ledger needs to book an instrument's fills."""

    multiplier: Decimal
    currency: str
    inverse: bool
    venue: Venue


def settlement_of(instrument: Any) -> Settlement:
    """Read an instrument's booking; raise ``ValueError`` for one the ledger cannot book."""
    kind = type(instrument).__name__
    if kind == "BettingInstrument":
        raise ValueError(
            f"{instrument.id} is a betting instrument: its PnL is not a price times a "
            "quantity, and the watch cannot value it exactly"
        )
    return Settlement(
        multiplier=instrument.multiplier.as_decimal(),
        currency=instrument.get_cost_currency().code,
        inverse=bool(instrument.is_inverse),
        venue=instrument.id.venue,
    )
