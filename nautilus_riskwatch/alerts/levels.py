"""Warnings before a limit: each upward crossing of a fraction of the limit said once.

Why: a risk manager wants to hear "the loss is at 80% of its ceiling" before the trip, but
not a hundred times while the figure wobbles around 80%. So each level (``warn_at``: a
fraction of the limit) warns once when the figure reaches it, and is re-armed only after the
figure has fallen back below the level by the hysteresis (``DEFAULT_HYSTERESIS``: 10% of the
limit; a level of 0.8 re-arms at 0.7 of the limit, one of 0.5 at 0.4).

Because a level fires only when every level below it has fired too, and re-arms before any
level below it does, the fired levels are always the lowest ``n``: the whole state is one
count. Figures strictly inside the band between the lowest unfired level and the re-arm
point of the highest fired one cannot change it (``Levels.band``), so ``see`` costs two
comparisons there, and a hand-over that already keeps a quiet band (docs/design.md, "Quiet
bands") can fold this one in and not call ``see`` at all.

Exact: levels are ``fraction * limit`` in the one exact context, figures are ``Decimal``s,
comparisons are ``>=`` and ``<=`` on Decimals (a level of ``800`` warns at ``800.00``).

A feed's silence is the same idea on time (``FeedSilence``): levels are fractions of the
feed's bound, the figure is the time since its last message, and the silence ending (a
message) re-arms every level; it is checked lazily, like the watchdog, at the moment the
next level would be reached, never per message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation

from nautilus_riskwatch.core.limits import Quiet
from nautilus_riskwatch.core.money import EXACT

__all__ = ["DEFAULT_HYSTERESIS", "Crossing", "FeedSilence", "Levels", "warn_fractions"]

#: How far (a fraction of the limit) a figure must fall below a level before it warns again.
DEFAULT_HYSTERESIS = Decimal("0.1")

#: Loop times are floats, whose exact decimal expansions run to ~1,100 digits at most: this
#: context adds and subtracts any two of them exactly (it raises rather than round).
_TIME = Context(prec=1200, traps=[Inexact, InvalidOperation])


@dataclass(frozen=True, slots=True)
class Crossing:
    """A figure reached ``level`` (``fraction`` of ``limit``) from below."""

    fraction: Decimal
    level: Decimal
    figure: Decimal
    limit: Decimal


def warn_fractions(field: str, value: Iterable[object]) -> tuple[Decimal, ...]:
    """``warn_at`` as exact fractions: each more than 0 and less than 1, increasing.

    Strings and ``Decimal``s are taken as written; a float as its shortest spelling
    (``0.8`` is ``Decimal("0.8")``, never ``0.8000000000000000444``). Refused with a
    ``ValueError`` that names ``field``.
    """
    if isinstance(value, str | bytes):
        raise ValueError(f"{field}={value!r}: expected a list of fractions, e.g. [0.5, 0.8]")
    fractions: list[Decimal] = []
    for item in value:
        fraction = _fraction(field, item)
        if not 0 < fraction < 1:
            raise ValueError(
                f"{field}={item!r}: a warning level is a fraction of the limit, more than 0 "
                "and less than 1 (the limit itself is the trip)"
            )
        if fractions and fraction <= fractions[-1]:
            raise ValueError(f"{field}: levels must increase, got {item!r} after {fractions[-1]}")
        fractions.append(fraction)
    return tuple(fractions)


def _fraction(field: str, item: object) -> Decimal:
    if isinstance(item, bool) or not isinstance(item, str | int | float | Decimal):
        raise ValueError(f"{field}={item!r}: expected a number such as 0.8 or '0.8'")
    try:
        fraction = Decimal(repr(item) if isinstance(item, float) else item)
    except InvalidOperation:
        raise ValueError(f"{field}={item!r}: not a number") from None
    if not fraction.is_finite():
        raise ValueError(f"{field}={item!r}: not a finite number")
    return fraction


def _hysteresis(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 < value < 1:
        raise ValueError(f"hysteresis={value!r}: a Decimal fraction of the limit in (0, 1)")
    return value


class Levels:
    """The warning levels of one limit, and which of them have fired.

    ``see(figure)`` takes the figure in the limit's own terms (a loss, a drawdown, a day's
    loss: what the limit compares with its ceiling) and returns the levels it crossed
    upward, lowest first. ``relimit`` moves the levels when the limit itself moves (a
    percent limit rebased, a new day); the fired count stays and the next figure re-arms
    or fires against the new levels.
    """

    __slots__ = ("_fired", "_high", "_low", "fractions", "hysteresis", "levels", "limit", "rearm")

    def __init__(
        self,
        fractions: Iterable[Decimal],
        limit: Decimal,
        hysteresis: Decimal = DEFAULT_HYSTERESIS,
    ) -> None:
        self.fractions = warn_fractions("warn_at", fractions)
        self.hysteresis = _hysteresis(hysteresis)
        self._fired = 0
        self.relimit(limit)

    def relimit(self, limit: Decimal) -> None:
        """Levels at the fractions of ``limit`` (a positive, finite ``Decimal``)."""
        if not isinstance(limit, Decimal) or not limit.is_finite() or limit <= 0:
            raise ValueError(f"limit={limit!r}: expected a positive, finite Decimal")
        self.limit = limit
        self.levels = tuple(EXACT.multiply(f, limit) for f in self.fractions)
        below = EXACT.multiply(self.hysteresis, limit)
        self.rearm = tuple(EXACT.subtract(level, below) for level in self.levels)
        self._band()

    @property
    def fired(self) -> int:
        """How many levels (the lowest) have warned and wait to be re-armed."""
        return self._fired

    def band(self) -> Quiet:
        """Figures strictly inside cannot fire or re-arm a level (``None``: unbounded)."""
        return Quiet(self._low, self._high)

    def pnl_band(self, offset: Decimal = Decimal(0)) -> Quiet:
        """``band`` in PnL terms, for a guard that keeps its quiet band on the PnL.

        Each limit's figure is ``offset - pnl``: the loss is ``0 - pnl`` (``max_loss``),
        the drawdown ``high_water - pnl`` (``trailing``), the day's loss ``baseline - pnl``
        (``daily``). PnL figures strictly inside the band returned cannot fire or re-arm a
        level; fold it into the breaker's band (intersect) and nothing is put for them.
        """
        low, high = self._low, self._high
        return Quiet(
            None if high is None else EXACT.subtract(offset, high),
            None if low is None else EXACT.subtract(offset, low),
        )

    def see(self, figure: Decimal) -> tuple[Crossing, ...]:
        """The levels ``figure`` reached from below (lowest first); re-arms those it fell
        back from."""
        low, high = self._low, self._high
        if (low is None or figure > low) and (high is None or figure < high):
            return ()
        if not isinstance(figure, Decimal) or not figure.is_finite():
            raise ValueError(f"figure={figure!r}: expected a finite Decimal")
        crossed: list[Crossing] = []
        n, levels = self._fired, self.levels
        while n < len(levels) and figure >= levels[n]:
            crossed.append(Crossing(self.fractions[n], levels[n], figure, self.limit))
            n += 1
        while n > 0 and figure <= self.rearm[n - 1]:
            n -= 1
        self._fired = n
        self._band()
        return tuple(crossed)

    def _band(self) -> None:
        n = self._fired
        self._high = self.levels[n] if n < len(self.levels) else None
        self._low = self.rearm[n - 1] if n > 0 else None


class FeedSilence:
    """Warnings for a feed silent for ``fraction * bound`` seconds, once per silence.

    Lazy, like the watchdog: nothing runs per message. ``due(last)`` is the loop time at
    which the next level would be reached if no message came after ``last`` (``None``: every
    level has warned in this silence); at that time, ``check(now, last)`` with the newest
    arrival says which levels the silence reached. A newer ``last`` than the silence the
    fired levels belong to means a message came: the silence ended, every level re-arms.
    Times are loop-time floats, compared exactly (``Decimal(float)`` is exact).
    """

    __slots__ = ("_fired", "_levels", "_since", "bound", "fractions")

    def __init__(self, fractions: Iterable[Decimal], bound: float) -> None:
        if isinstance(bound, bool) or not isinstance(bound, int | float) or not bound > 0:
            raise ValueError(f"bound={bound!r}: expected a positive number of seconds")
        self.fractions = warn_fractions("feed_warn_at", fractions)
        self.bound = float(bound)
        exact = Decimal(self.bound)
        self._levels = tuple(_TIME.multiply(f, exact) for f in self.fractions)
        self._since: float | None = None  # the arrival the fired levels' silence began at
        self._fired = 0

    @property
    def fired(self) -> int:
        return self._fired

    def due(self, last: float) -> float | None:
        """When to ``check`` next, given the newest arrival ``last`` (or the start)."""
        n = 0 if self._since != last else self._fired
        if n == len(self._levels):
            return None
        at = _TIME.add(Decimal(last), self._levels[n])
        due = float(at)
        return due if Decimal(due) >= at else math.nextafter(due, math.inf)

    def check(self, now: float, last: float) -> tuple[Crossing, ...]:
        """The levels the silence since ``last`` has reached by ``now`` (lowest first)."""
        if self._since != last:
            self._since, self._fired = last, 0
        silent = _TIME.subtract(Decimal(now), Decimal(last))
        crossed: list[Crossing] = []
        exact_bound = Decimal(self.bound)
        n = self._fired
        while n < len(self._levels) and silent >= self._levels[n]:
            crossed.append(Crossing(self.fractions[n], self._levels[n], silent, exact_bound))
            n += 1
        self._fired = n
        return tuple(crossed)
