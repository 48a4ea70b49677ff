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

**Fixed point, on integers.** NautilusTrader's prices, quantities and amounts are fixed-point
integers underneath (``Price.raw`` is the price times ``10**FIXED_PRECISION``). The ledger
keeps the same kind of figures: every quantity, price and multiplier as an integer of
``10**-precision`` units, and every money figure as an integer of ``10**-(3 * precision)``
units (a quantity times a price times a multiplier). Python integers do not overflow and
never round, so every sum and product is exact by construction, and far cheaper than a
``Decimal`` product: a mark is one integer multiplication per side held. A ``Decimal`` is
made only when a figure is read (``pnl``, ``loss``, ``pnl_by_currency``), exactly, in the one
exact context (``money.EXACT``): a figure of more than 80 significant digits is refused
(``Inexact``) there, never rounded. A ``Decimal`` handed in with more decimals than
``precision`` is refused (``ValueError``): it has no exact place in the ledger.

Two kinds of instrument:

- **linear** (the PnL is in the quote currency, or a quanto's settlement currency): a fill's
  cash flow is ``-signed_qty * price * multiplier``, an integer of money units.
- **inverse** (contracts worth ``multiplier`` units of the quote currency, PnL in the base
  currency, e.g. BTC on a BTC/USD inverse perpetual): a fill's cash flow is
  ``+signed_qty * multiplier / price``, and ``1 / price`` is in general no finite decimal
  (``1 / 3``). These are kept as exact rationals (``Fraction``), beside the currency's
  integer part; nothing is rounded here. The one rounding happens when the figure is
  compared with a ceiling (``convert``), toward the trip.

The linear path is the hot one (every quote of an exposed instrument): ``mark_raw`` takes
the engine's raw integers as they are and never touches a ``Decimal`` or a ``Fraction``.
"""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal
from fractions import Fraction

from nautilus_riskwatch.core.money import EXACT as _EXACT  # the name the arithmetic reads
from nautilus_riskwatch.core.money import Exact

_ZERO = Decimal(0)
_NONE = Fraction(0)

#: NautilusTrader's fixed precision (its raw values are in units of 10**-16): the default,
#: so that the engine's raw integers are the ledger's own.
PRECISION = 16


def to_raw(value: Decimal, places: int) -> int:
    """``value`` as an integer of ``10**-places`` units, exactly, or ``ValueError``."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"not a finite Decimal: {value!r}")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    coefficient = int("".join(map(str, digits))) if digits else 0
    shift = exponent + places
    if shift >= 0:
        raw = coefficient * 10**shift
    else:
        raw, rest = divmod(coefficient, 10**-shift)
        if rest:
            raise ValueError(f"{value} has more than {places} decimal places: not exact here")
    return int(-raw if sign else raw)


def to_decimal(raw: int, places: int) -> Decimal:
    """An integer of ``10**-places`` units as the shortest exact ``Decimal`` (at most
    ``places`` decimals); more than 80 significant digits raise ``Inexact``."""
    if not raw:
        return _ZERO
    digits = str(abs(raw))
    zeros = min(len(digits) - len(digits.rstrip("0")), places)
    if zeros:
        raw //= 10**zeros  # exact: the digits removed are zeros
    return Decimal(raw).scaleb(zeros - places, _EXACT)


class Purse:
    """One settlement currency's figures: an integer of money units, and the rational
    (inverse) part."""

    __slots__ = ("_places", "currency", "inverse", "total")

    def __init__(self, currency: str, places: int) -> None:
        self.currency = currency
        self._places = places  # of the money units
        self.total = 0  # linear cash flows, less commissions, plus their mark-to-market
        self.inverse = _NONE  # inverse fills' cash flows plus their mark-to-market

    @property
    def pnl(self) -> Exact:
        """This currency's PnL, exact: a ``Decimal`` unless an inverse part makes it rational."""
        decimal = to_decimal(self.total, self._places)
        if not self.inverse:
            return decimal
        return Fraction(decimal) + self.inverse


class _Exposure:
    """One instrument's open quantity, split by side because the sides mark differently.

    ``long``/``short`` are summed signed quantities times the multiplier (both in units, so
    a side's value is one product with its price); ``bid``/``ask`` raw prices.
    """

    __slots__ = ("ask", "bid", "inverse", "long", "multiplier", "purse", "short", "unit", "value")

    def __init__(
        self, multiplier: int, bid: int, ask: int, purse: Purse, inverse: bool, unit: int
    ) -> None:
        self.multiplier = multiplier
        self.long = 0  # long quantities times the multiplier
        self.short = 0  # short (negative) quantities times the multiplier
        self.bid = bid
        self.ask = ask
        self.purse = purse
        self.inverse = inverse
        self.unit = unit  # 10**precision
        self.value: int | Fraction = _NONE if inverse else 0

    def revalue(self) -> None:
        """Set the new mark-to-market value and book the change in the purse (only the
        sides held are multiplied: this runs on every quote of an exposed instrument)."""
        if self.inverse:
            self._revalue_inverse()
            return
        value = self.short * self.ask + self.long * self.bid  # a side not held is zero
        self.purse.total += value - self.value  # type: ignore[assignment]
        self.value = value

    def _revalue_inverse(self) -> None:
        """An inverse position is worth, in the base currency, what closing it would pay:
        ``-qty * multiplier / price`` (a long sells at the bid, a short buys at the ask)."""
        value = _NONE
        units = self.unit * self.unit  # long/short are in units squared, prices in units
        if self.long:
            value -= Fraction(self.long * self.unit, self.bid * units)
        if self.short:
            value -= Fraction(self.short * self.unit, self.ask * units)
        old = self.value
        self.value = value
        self.purse.inverse += value - old


class PnlLedger:
    """Session PnL of a set of positions, exact, per settlement currency.

    Positions and instruments are keyed by anything hashable (the adapter uses
    NautilusTrader ids). Quantities are signed: positive long, negative short. A ledger
    used without currencies (the default ``""``) is a single-currency ledger.

    Parameters
    ----------
    precision : int
        Decimal places of a quantity, price or multiplier unit (NautilusTrader's fixed
        precision by default, so ``mark_raw`` takes ``Price.raw`` as it is).

    """

    def __init__(self, precision: int = PRECISION) -> None:
        if not isinstance(precision, int) or not 0 <= precision <= 18:
            raise ValueError(f"precision must be an int from 0 to 18, got {precision!r}")
        self.precision = precision
        self._unit = 10**precision
        self._money_places = 3 * precision  # quantity x price x multiplier
        self._purses: dict[str, Purse] = {}
        self._positions: dict[Hashable, tuple[Hashable, int]] = {}
        self._exposures: dict[Hashable, _Exposure] = {}
        self._plain: str | None = None  # the one currency, while there is one and no inverse
        self._mixed = False  # several currencies, or an inverse instrument, seen
        #: The one purse while the ledger is plain (one currency, linear): its ``total`` is
        #: the PnL in money units, for a comparison on the hot path; ``None`` otherwise.
        self.plain_purse: Purse | None = None

    # --- figures --------------------------------------------------------------------------
    @property
    def currencies(self) -> tuple[str, ...]:
        """Every currency the ledger has booked something in, in the order first seen."""
        return tuple(self._purses)

    @property
    def money_places(self) -> int:
        """Decimal places of the integer money units (``Purse.total``)."""
        return self._money_places

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
        purse = self.plain_purse
        if purse is None:
            return _ZERO
        return to_decimal(purse.total, self._money_places)

    @property
    def loss(self) -> Decimal:
        """The money lost: ``-pnl`` (negative while in profit); single currency, as ``pnl``."""
        return _EXACT.minus(self.pnl)

    def is_exposed(self, instrument: Hashable) -> bool:
        return instrument in self._exposures

    def sides(self, instrument: Hashable) -> tuple[bool, bool]:
        """Whether longs, and whether shorts, of ``instrument`` are held: which of its
        prices (the bid, the ask) can move the PnL."""
        exposure = self._exposures.get(instrument)
        if exposure is None:
            return False, False
        return bool(exposure.long), bool(exposure.short)

    def net_qty(self, instrument: Hashable) -> Decimal:
        """The signed net quantity held on ``instrument`` over every position (0 if none):
        what a position cap judges."""
        exposure = self._exposures.get(instrument)
        if exposure is None:
            return _ZERO
        units = (exposure.long + exposure.short) // exposure.multiplier
        return to_decimal(units, self.precision)

    def gross_by_currency(self) -> dict[str, Exact]:
        """Each settlement currency's gross exposure, exact: the sum over its instruments of
        |net| x multiplier, valued at the mark a close would take (a net long at the bid, a
        net short at the ask); an inverse instrument's in its base, |net| x multiplier /
        price. Run on a fill or a quote of a held instrument, never per quote otherwise."""
        linear: dict[str, int] = {}
        inverse: dict[str, Fraction] = {}
        unit = self._unit
        for exposure in self._exposures.values():
            net = exposure.long + exposure.short
            if not net:
                continue
            price = exposure.bid if net > 0 else exposure.ask
            code = exposure.purse.currency
            if exposure.inverse:
                inverse[code] = inverse.get(code, _NONE) + Fraction(abs(net), price * unit)
            else:
                linear[code] = linear.get(code, 0) + abs(net) * price
        figures: dict[str, Exact] = {}
        for code in (*linear, *(c for c in inverse if c not in linear)):
            decimal = to_decimal(linear.get(code, 0), self._money_places)
            part = inverse.get(code)
            figures[code] = decimal if part is None else Fraction(decimal) + part
        return figures

    @property
    def instruments(self) -> tuple[Hashable, ...]:
        """Every instrument the ledger has booked a fill on (held or not any more)."""
        return tuple(self._exposures)

    def gross_raw(self, instrument: Hashable) -> int | None:
        """One instrument's gross exposure in the ledger's money units (integers), as
        ``gross_by_currency`` values it (|net| x multiplier at the bid for a net long, the
        ask for a net short); ``None`` for an inverse instrument. What a guard's gross
        quiet check adds up, a quote at a time, with no ``Decimal``."""
        exposure = self._exposures[instrument]
        if exposure.inverse:
            return None
        net = exposure.long + exposure.short
        return abs(net) * (exposure.bid if net > 0 else exposure.ask)

    def position_qty(self, position: Hashable) -> Decimal:
        entry = self._positions.get(position)
        return to_decimal(entry[1], self.precision) if entry is not None else _ZERO

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
        An instrument keeps the currency and kind of its first fill. Every figure must be
        exact at ``precision`` decimals (``ValueError`` otherwise, nothing booked).
        """
        places = self.precision
        qty, px = to_raw(signed_qty, places), to_raw(price, places)
        fee = to_raw(commission, places)
        exposure = self._exposures.get(instrument)
        if exposure is None:
            mult = to_raw(multiplier, places)
            if mult <= 0:
                raise ValueError(f"multiplier must be positive, got {multiplier}")
            bid, ask = (px, px)
            if mark is not None:
                bid, ask = to_raw(mark[0], places), to_raw(mark[1], places)
            purse = self._purse(currency)
            exposure = _Exposure(mult, bid, ask, purse, inverse, self._unit)
            self._exposures[instrument] = exposure
            if inverse:
                self._mixed = True
                self.plain_purse = None
        purse = exposure.purse
        if exposure.inverse:
            purse.inverse += Fraction(qty * exposure.multiplier, px * self._unit)
        else:
            purse.total -= qty * px * exposure.multiplier
        if fee:
            if commission_currency is None or commission_currency == purse.currency:
                fee_purse = purse
            else:
                fee_purse = self._purse(commission_currency)
            fee_purse.total -= fee * self._unit * self._unit
        old = self._positions.get(position, (instrument, 0))[1]
        new = old + qty
        mult = exposure.multiplier
        if old > 0:
            exposure.long -= old * mult
        elif old < 0:
            exposure.short -= old * mult
        if new > 0:
            exposure.long += new * mult
        elif new < 0:
            exposure.short += new * mult
        self._positions[position] = (instrument, new)
        exposure.revalue()

    def mark(self, instrument: Hashable, bid: Decimal, ask: Decimal) -> bool:
        """Revalue an exposed instrument at a new bid and ask; return whether PnL moved."""
        if instrument not in self._exposures:
            raise KeyError(instrument)
        places = self.precision
        return self.mark_raw(instrument, to_raw(bid, places), to_raw(ask, places))

    def mark_raw(self, instrument: Hashable, bid: int, ask: int) -> bool:
        """``mark`` with raw prices (integers of ``10**-precision`` units, as
        ``Price.raw``): the hot path. A quote that moves neither side held (longs are
        marked at the bid, shorts at the ask) changes nothing, and costs two comparisons."""
        exposure = self._exposures[instrument]
        long, short = exposure.long, exposure.short
        moved = (long and bid != exposure.bid) or (short and ask != exposure.ask)
        exposure.bid = bid
        exposure.ask = ask
        if not moved:
            return False
        if exposure.inverse:
            exposure.revalue()
            return True
        value = short * ask + long * bid  # revalue(), inlined: every quote of a held instrument
        exposure.purse.total += value - exposure.value  # type: ignore[assignment]
        exposure.value = value
        return True

    def _purse(self, currency: str) -> Purse:
        purse = self._purses.get(currency)
        if purse is None:
            purse = self._purses[currency] = Purse(currency, self._money_places)
            if self._plain is None:
                self._plain = currency
                if not self._mixed:
                    self.plain_purse = purse
            else:
                self._mixed = True
                self.plain_purse = None
        return purse
