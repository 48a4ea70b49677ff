"""Figures in several currencies, compared with a ceiling in one: the one inexact step.

The ledger keeps each settlement currency exactly. A ceiling is in one currency, so at
compare time every other currency's figure is multiplied by the current exchange rate. The
rate is exact (a ``Fraction``: a mid of two decimal prices, inverted or chained across
pairs), but the product is in general no finite decimal (a JPY loss times ``1 / 91.66``),
so it is rounded, and **always toward tripping**: a PnL is rounded down (a loss up) for the
figure that is judged, and up for the figure a trailing high-water mark or a daily baseline
is taken from. A watch that trips one cent early is a nuisance; one that trips one cent
late has let the loss through the ceiling it promised to hold.

The precision is the ceiling currency's (``quantum``, e.g. ``0.01`` for USD): what
NautilusTrader's own ``Portfolio`` rounds a converted PnL to, except that it rounds half-even
and this rounds toward the trip. Each converted currency is rounded on its own (so a figure
that did not move keeps its rounded value and costs nothing to re-add); the ceiling
currency's own decimal figure is never rounded.

Pure: the rates come from a callable the adapter supplies (``rate(currency) -> Rate``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal
from fractions import Fraction
from math import ceil, floor

from nautilus_riskwatch.core.money import EXACT, EXACT_DIGITS, Exact

_DISPLAY = Context(prec=24)  # for showing a rational in a record, never for a figure judged
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Rate:
    """What one unit of ``source`` is worth in ``target``, exactly, and where it came from.

    ``ts_ns`` is the time of the newest price it was computed from; ``via`` says how
    (``"1/mid USD/JPY.SIM (bid 91.653 ask 91.667)"``), for the record.
    """

    source: str
    target: str
    value: Fraction
    ts_ns: int
    via: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, Fraction) or self.value <= 0:
            raise ValueError(f"an exchange rate must be a positive Fraction, got {self.value!r}")

    def describe(self) -> str:
        return f"{self.source}->{self.target} {_show(self.value)} = {self.via} at {self.ts_ns} ns"


@dataclass(frozen=True)
class Part:
    """One currency's figure and what it counts for in the ceiling currency."""

    currency: str
    figure: Exact  # exact, in its own currency
    rate: Rate | None  # None: the ceiling currency itself, or no rate (see ``held``)
    low: Decimal  # in the ceiling currency, rounded down (toward a loss)
    high: Decimal  # rounded up
    held: bool = False  # no rate now: the last converted figure (or zero) is counted

    def describe(self) -> str:
        figure, rate = _show(self.figure), self.rate
        if self.held:
            return f"{figure} {self.currency}: NO RATE, counted as {self.low}..{self.high} (held)"
        if rate is None:
            return f"{figure} {self.currency}"
        return f"{figure} {self.currency} -> {self.low}..{self.high} at {rate.describe()}"


@dataclass(frozen=True)
class Valuation:
    """The book's PnL in the ceiling currency: ``low`` (judged) and ``high`` (reference)."""

    currency: str
    low: Decimal
    high: Decimal
    parts: tuple[Part, ...]
    missing: tuple[str, ...] = ()  # currencies held with no rate now

    def by_currency(self) -> dict[str, str]:
        """Each currency's exact figure, as text (rationals shown as ``p/q (~x)``)."""
        return {part.currency: _show(part.figure) for part in self.parts}

    def rates(self) -> list[str]:
        """Every rate used, with its source and timestamp, as text."""
        return [part.describe() for part in self.parts if part.rate is not None or part.held]


class Bounded(Decimal):
    """A figure rounded toward the trip (its value), the other bound, and how it was made.

    A ``Decimal`` so that the breakers compare and report it as any figure; ``other`` is the
    same figure rounded the other way (the high-water mark and the daily baseline take it:
    a reference rounded up is, again, toward the trip), ``valuation`` what it came from.
    """

    __slots__ = ("other", "valuation")

    other: Decimal
    valuation: Valuation | None


def bounded(value: Decimal, other: Decimal, valuation: Valuation | None) -> Bounded:
    figure = Bounded(value)
    figure.other = other
    figure.valuation = valuation
    return figure


def upper(figure: Decimal) -> Decimal:
    """The figure rounded away from the trip (itself, for an exact figure)."""
    return figure if type(figure) is Decimal else figure.other  # type: ignore[attr-defined]


class Converter:
    """Values a ledger's per-currency figures in the ceiling currency, toward the trip.

    Parameters
    ----------
    currency : str
        The ceiling currency.
    quantum : Decimal
        The precision converted figures are rounded to (``Decimal("0.01")`` for USD).
    rate : Callable[[str], Rate | None]
        The current rate from a currency to ``currency``, or ``None`` if there is none.

    With no rate for a currency its last converted figure (zero if none) is counted and the
    part is marked ``held``: whether that is good enough (``on_missing_rate="hold"``) or a
    trip (``"trip"``) is the caller's policy, not the arithmetic's.

    A currency's converted part is remembered with the figure and rate it came from, so a
    quote that moves only one currency re-rounds only that one.
    """

    def __init__(
        self,
        currency: str,
        quantum: Decimal,
        rate: Callable[[str], Rate | None],
    ) -> None:
        if not isinstance(quantum, Decimal) or not quantum > 0:
            raise ValueError(f"quantum must be a positive Decimal, got {quantum!r}")
        self.currency = currency
        self.quantum = quantum
        self._rate = rate
        self._scale = Fraction(quantum)
        self._parts: dict[str, Part] = {}

    def value(self, figures: Mapping[str, Exact]) -> Valuation:
        """Value ``figures`` (currency -> exact PnL) in the ceiling currency."""
        low = high = _ZERO
        parts: list[Part] = []
        missing: list[str] = []
        for code, figure in figures.items():
            part = self._part(code, figure)
            if part.held:
                missing.append(code)
            parts.append(part)
            low = EXACT.add(low, part.low)
            high = EXACT.add(high, part.high)
        return Valuation(self.currency, low, high, tuple(parts), tuple(missing))

    def _part(self, code: str, figure: Exact) -> Part:
        last = self._parts.get(code)
        if code == self.currency:
            if last is not None and last.figure == figure:
                return last
            if isinstance(figure, Decimal):
                part = Part(code, figure, None, figure, figure)
            else:  # an inverse instrument's rational figure in the ceiling currency itself
                part = Part(code, figure, None, *self.round(figure))
            self._parts[code] = part
            return part
        rate = self._rate(code)
        if rate is None:
            if not figure:
                return Part(code, figure, None, _ZERO, _ZERO)
            kept = (last.low, last.high) if last is not None else (_ZERO, _ZERO)
            return Part(code, figure, last.rate if last else None, *kept, held=True)
        if last is not None and last.rate is rate and last.figure == figure:
            return last
        if rate.target != self.currency or rate.source != code:
            raise ValueError(f"asked for a {code}->{self.currency} rate, got {rate.describe()}")
        part = Part(code, figure, rate, *self.round(Fraction(figure) * rate.value))
        self._parts[code] = part
        return part

    def round(self, amount: Fraction) -> tuple[Decimal, Decimal]:
        """``amount`` rounded down and up to the quantum, as exact Decimals."""
        steps = amount / self._scale
        return self._decimal(floor(steps)), self._decimal(ceil(steps))

    def _decimal(self, steps: int) -> Decimal:
        return EXACT.multiply(Decimal(steps), self.quantum)


def share_of(base: Decimal | Fraction, percent: Decimal, quantum: Decimal) -> Decimal:
    """``percent`` % of ``base``, rounded down to ``quantum``: a smaller ceiling is the one
    toward the trip. (Exact when ``base * percent / 100`` falls on the quantum.)"""
    steps = Fraction(base) * Fraction(percent) / 100 / Fraction(quantum)
    return EXACT.multiply(Decimal(floor(steps)), quantum)


def _terminating(value: Fraction) -> Decimal | None:
    """The exact Decimal of a fraction with a finite decimal expansion, else ``None``."""
    d, twos, fives = value.denominator, 0, 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    if d != 1:
        return None
    places = max(twos, fives)
    scaled = value.numerator * 10**places // value.denominator
    if len(str(abs(scaled))) > EXACT_DIGITS:
        return None  # more digits than a figure may have: shown as a fraction instead
    return Decimal(scaled).scaleb(-places, EXACT)


def _show(figure: Exact) -> str:
    """A figure as text: exact if it is a finite decimal, else ``p/q (~x)``."""
    if isinstance(figure, Decimal):
        return str(figure)
    exact = _terminating(figure)
    if exact is not None:
        return str(exact)
    approx = _DISPLAY.divide(Decimal(figure.numerator), Decimal(figure.denominator))
    return f"{figure.numerator}/{figure.denominator} (~{approx})"
