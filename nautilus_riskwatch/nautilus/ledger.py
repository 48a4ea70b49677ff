"""The exact PnL ledger: realized plus unrealized, in ``Decimal``, from fills and marks.

Why our own: NautilusTrader computes PnL in floats and rounds into ``Money``, and a breaker
that must trip at exactly ``loss >= ceiling`` cannot stand on a float. So the ledger keeps,
per position, the signed quantity, and for the whole book the cash flow of every fill
(``-signed_qty * price * multiplier``) less commissions. Marking an instrument's longs at
the bid and its shorts at the ask then gives total PnL = cash + mark-to-market, with no
split into realized and unrealized needed, partial fills and flips included.

Every operation runs in a context that traps ``Inexact``: if a figure ever needed rounding
the ledger raises instead of being silently wrong (and the watch trips on its failure).
"""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Context, Decimal, Inexact, InvalidOperation

_EXACT = Context(prec=80, traps=[Inexact, InvalidOperation])
_ZERO = Decimal(0)


class _Exposure:
    """One instrument's open quantity, split by side because the sides mark differently."""

    __slots__ = ("ask", "bid", "long", "multiplier", "short", "value")

    def __init__(self, multiplier: Decimal, bid: Decimal, ask: Decimal) -> None:
        self.multiplier = multiplier
        self.long = _ZERO  # sum of long positions' quantities
        self.short = _ZERO  # sum of short positions' (negative) quantities
        self.bid = bid
        self.ask = ask
        self.value = _ZERO

    def revalue(self) -> Decimal:
        """Set and return the new mark-to-market value; the caller books the change.

        Only the sides that are held are multiplied (usually one), and a multiplier of one
        is skipped: this runs on every quote of an exposed instrument.
        """
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
        return _EXACT.subtract(value, old)


class PnlLedger:
    """Session PnL of a set of positions, exact.

    Positions and instruments are keyed by anything hashable (the adapter uses
    NautilusTrader ids). Quantities are signed: positive long, negative short.
    """

    def __init__(self) -> None:
        self._cash = _ZERO
        self._mtm = _ZERO
        self._positions: dict[Hashable, tuple[Hashable, Decimal]] = {}
        self._exposures: dict[Hashable, _Exposure] = {}

    @property
    def pnl(self) -> Decimal:
        """Realized plus unrealized PnL, commissions included."""
        return _EXACT.add(self._cash, self._mtm)

    @property
    def loss(self) -> Decimal:
        """The money lost: ``-pnl`` (negative while in profit)."""
        return _EXACT.minus(self.pnl)

    def is_exposed(self, instrument: Hashable) -> bool:
        return instrument in self._exposures

    def position_qty(self, position: Hashable) -> Decimal:
        entry = self._positions.get(position)
        return entry[1] if entry is not None else _ZERO

    def fill(
        self,
        position: Hashable,
        instrument: Hashable,
        signed_qty: Decimal,
        price: Decimal,
        multiplier: Decimal,
        commission: Decimal,
        mark: tuple[Decimal, Decimal] | None = None,
    ) -> None:
        """Book one fill. ``mark`` (bid, ask) values a new exposure; default: the fill price."""
        mul, add, sub = _EXACT.multiply, _EXACT.add, _EXACT.subtract
        self._cash = sub(sub(self._cash, mul(mul(signed_qty, price), multiplier)), commission)
        old = self.position_qty(position)
        new = add(old, signed_qty)
        exposure = self._exposures.get(instrument)
        if exposure is None:
            bid, ask = mark if mark is not None else (price, price)
            exposure = self._exposures[instrument] = _Exposure(multiplier, bid, ask)
        if old > 0:
            exposure.long = sub(exposure.long, old)
        elif old < 0:
            exposure.short = sub(exposure.short, old)
        if new > 0:
            exposure.long = add(exposure.long, new)
        elif new < 0:
            exposure.short = add(exposure.short, new)
        self._positions[position] = (instrument, new)
        self._mtm = add(self._mtm, exposure.revalue())

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
        self._mtm = _EXACT.add(self._mtm, exposure.revalue())
        return True
