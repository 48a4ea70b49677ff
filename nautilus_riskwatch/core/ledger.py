"""The exact PnL ledger: realized plus unrealized, per settlement currency, from fills and marks.

Why our own: NautilusTrader computes PnL in floats and rounds into ``Money``, and a breaker
that must trip at exactly ``loss >= ceiling`` cannot stand on a float. So the ledger keeps,
per position, the signed quantity, and per settlement currency the cash flow of every fill
less commissions. Marking an instrument's longs at the bid and its shorts at the ask then
gives total PnL = cash + mark-to-market, with no split into realized and unrealized needed,
partial fills and flips included.

Each currency is kept on its own, exactly: a book that trades GBP/USD and USD/JPY holds a
USD figure and a JPY figure, and a commission is booked in its own currency. Turning them
into one figure needs an exchange rate, which is not the ledger's business (``convert``).

Two kinds of instrument:

- **linear** (the PnL is in the quote currency, or a quanto's settlement currency): a fill's
  cash flow is ``-signed_qty * price * multiplier``, a finite decimal: kept as ``Decimal``
  in the one exact context (``money.EXACT``), which traps ``Inexact``, so if a figure ever
  needed rounding the ledger raises instead of being silently wrong (and the watch trips on
  its failure).
- **inverse** (contracts worth ``multiplier`` units of the quote currency, PnL in the base
  currency, e.g. BTC on a BTC/USD inverse perpetual): a fill's cash flow is
  ``+signed_qty * multiplier / price``, and ``1 / price`` is in general no finite decimal
  (``1 / 3``). These are kept as exact rationals (``Fraction``), beside the currency's
  ``Decimal`` part; nothing is rounded here. The one rounding happens when the figure is
  compared with a ceiling (``convert``), toward the trip.

The linear path is the hot one (every quote of an exposed instrument): it stays in
``Decimal`` and never touches a ``Fraction``.
"""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal
from fractions import Fraction

from nautilus_riskwatch.core.money import EXACT as _EXACT  # the name the arithmetic reads
from nautilus_riskwatch.core.money import Exact

_ZERO = Decimal(0)
_NONE = Fraction(0)


class Purse:
    """One settlement currency's figures: the decimal part and the rational (inverse) part."""

    __slots__ = ("cash", "currency", "inverse", "mtm")

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.cash = _ZERO  # linear fills' cash flows, less commissions in this currency
        self.mtm = _ZERO  # linear exposures' mark-to-market
        self.inverse = _NONE  # inverse fills' cash flows plus their mark-to-market

    @property
    def pnl(self) -> Exact:
        """This currency's PnL, exact: a ``Decimal`` unless an inverse part makes it rational."""
        decimal = _EXACT.add(self.cash, self.mtm)
        if not self.inverse:
            return decimal
        return Fraction(decimal) + self.inverse


class _Exposure:
    """One instrument's open quantity, split by side because the sides mark differently."""

    __slots__ = ("ask", "bid", "inverse", "long", "multiplier", "purse", "short", "value")

    def __init__(
        self, multiplier: Decimal, bid: Decimal, ask: Decimal, purse: Purse, inverse: bool
    ) -> None:
        self.multiplier = multiplier
        self.long = _ZERO  # sum of long positions' quantities
        self.short = _ZERO  # sum of short positions' (negative) quantities
        self.bid = bid
        self.ask = ask
        self.purse = purse
        self.inverse = inverse
        self.value: Exact = _NONE if inverse else _ZERO

    def revalue(self) -> None:
        """Set the new mark-to-market value and book the change in the purse.

        Only the sides that are held are multiplied (usually one), and a multiplier of one
        is skipped: this runs on every quote of an exposed instrument.
        """
        if self.inverse:
            self._revalue_inverse()
            return
        mul = _EXACT.multiply
        old = self.value
        if self.short:
            value = mul(self.short, self.ask)
            if self.long:
                value = _EXACT.add(value, mul(self.long, self.bid))
        elif self.long:
            value = mul(self.long, self.bid)
        else:
            value = _ZERO
        if self.multiplier != 1:
            value = mul(value, self.multiplier)
        self.value = value
        purse = self.purse
        purse.mtm = _EXACT.add(purse.mtm, _EXACT.subtract(value, old))  # type: ignore[arg-type]

    def _revalue_inverse(self) -> None:
        """An inverse position is worth, in the base currency, what closing it would pay:
        ``-qty * multiplier / price`` (a long sells at the bid, a short buys at the ask)."""
        value = _NONE
        if self.long:
            value -= Fraction(self.long) / Fraction(self.bid)
        if self.short:
            value -= Fraction(self.short) / Fraction(self.ask)
        if value and self.multiplier != 1:
            value *= Fraction(self.multiplier)
        old = self.value
        self.value = value
        self.purse.inverse += value - Fraction(old)  # both Fractions on the inverse path


class PnlLedger:
    """Session PnL of a set of positions, exact, per settlement currency.

    Positions and instruments are keyed by anything hashable (the adapter uses
    NautilusTrader ids). Quantities are signed: positive long, negative short. A ledger
    used without currencies (the default ``""``) is a single-currency ledger, as before.
    """

    def __init__(self) -> None:
        self._purses: dict[str, Purse] = {}
        self._positions: dict[Hashable, tuple[Hashable, Decimal]] = {}
        self._exposures: dict[Hashable, _Exposure] = {}
        self._plain: str | None = None  # the one currency, while there is one and no inverse
        self._mixed = False  # several currencies, or an inverse instrument, seen

    # --- figures --------------------------------------------------------------------------
    @property
    def currencies(self) -> tuple[str, ...]:
        """Every currency the ledger has booked something in, in the order first seen."""
        return tuple(self._purses)

    def plain_in(self, currency: str) -> bool:
        """True while everything booked is linear and in ``currency`` (or nothing is): the
        ledger's ``pnl`` is then the exact figure in that currency, with no conversion."""
        return not self._mixed and (self._plain is None or self._plain == currency)

    def pnl_by_currency(self) -> dict[str, Exact]:
        """Each currency's realized plus unrealized PnL, commissions included, exact."""
        return {code: purse.pnl for code, purse in self._purses.items()}

    @property
    def pnl(self) -> Decimal:
        """Realized plus unrealized PnL, commissions included: for a single-currency linear
        ledger (a figure in several currencies has no sum without rates: ``convert``)."""
        if self._mixed:
            raise ValueError(
                f"the ledger holds {', '.join(self._purses)} (or an inverse instrument): "
                "its figures need converting, see pnl_by_currency()"
            )
        if self._plain is None:
            return _ZERO
        purse = self._purses[self._plain]
        return _EXACT.add(purse.cash, purse.mtm)

    @property
    def loss(self) -> Decimal:
        """The money lost: ``-pnl`` (negative while in profit); single currency, as ``pnl``."""
        return _EXACT.minus(self.pnl)

    def is_exposed(self, instrument: Hashable) -> bool:
        return instrument in self._exposures

    def position_qty(self, position: Hashable) -> Decimal:
        entry = self._positions.get(position)
        return entry[1] if entry is not None else _ZERO

    # --- booking --------------------------------------------------------------------------
    def fill(
        self,
        position: Hashable,
        instrument: Hashable,
        signed_qty: Decimal,
        price: Decimal,
        multiplier: Decimal,
        commission: Decimal,
        mark: tuple[Decimal, Decimal] | None = None,
        currency: str = "",
        commission_currency: str | None = None,
        inverse: bool = False,
    ) -> None:
        """Book one fill. ``mark`` (bid, ask) values a new exposure; default: the fill price.

        ``currency`` is the instrument's settlement currency (its PnL's); the commission is
        booked in ``commission_currency`` (default: the same). ``inverse`` instruments book
        ``+signed_qty * multiplier / price`` in their (base) settlement currency.
        An instrument keeps the currency and kind of its first fill.
        """
        mul, add, sub = _EXACT.multiply, _EXACT.add, _EXACT.subtract
        exposure = self._exposures.get(instrument)
        if exposure is None:
            bid, ask = mark if mark is not None else (price, price)
            purse = self._purse(currency)
            exposure = self._exposures[instrument] = _Exposure(multiplier, bid, ask, purse, inverse)
            if inverse:
                self._mixed = True
        purse = exposure.purse
        if exposure.inverse:
            purse.inverse += Fraction(signed_qty) * Fraction(exposure.multiplier) / Fraction(price)
        else:
            purse.cash = sub(purse.cash, mul(mul(signed_qty, price), exposure.multiplier))
        if commission:
            fee_purse = purse if commission_currency in (None, purse.currency) else None
            if fee_purse is None:
                fee_purse = self._purse(commission_currency)  # type: ignore[arg-type]
            fee_purse.cash = sub(fee_purse.cash, commission)
        old = self.position_qty(position)
        new = add(old, signed_qty)
        if old > 0:
            exposure.long = sub(exposure.long, old)
        elif old < 0:
            exposure.short = sub(exposure.short, old)
        if new > 0:
            exposure.long = add(exposure.long, new)
        elif new < 0:
            exposure.short = add(exposure.short, new)
        self._positions[position] = (instrument, new)
        exposure.revalue()

    def mark(self, instrument: Hashable, bid: Decimal, ask: Decimal) -> bool:
        """Revalue an exposed instrument at a new bid and ask; return whether PnL moved.

        A quote that moves neither side held (longs are marked at the bid, shorts at the
        ask) changes nothing, and costs two comparisons.
        """
        exposure = self._exposures[instrument]
        moved = (exposure.long and bid != exposure.bid) or (exposure.short and ask != exposure.ask)
        exposure.bid = bid
        exposure.ask = ask
        if not moved:
            return False
        exposure.revalue()
        return True

    def currency_of(self, instrument: Hashable) -> str | None:
        """The settlement currency an exposed instrument's PnL is booked in."""
        exposure = self._exposures.get(instrument)
        return None if exposure is None else exposure.purse.currency

    def _purse(self, currency: str) -> Purse:
        purse = self._purses.get(currency)
        if purse is None:
            purse = self._purses[currency] = Purse(currency)
            if self._plain is None:
                self._plain = currency
            else:
                self._mixed = True
        return purse
