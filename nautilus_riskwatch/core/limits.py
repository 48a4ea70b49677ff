"""The drawdown breakers, one family: fixed, trailing and daily.

The fixed breaker caps the loss from zero. A desk that has made money wants to keep most of
it (trailing: the ceiling follows the best PnL seen), and a desk that trades every day wants
each day's loss capped on its own, without yesterday's counting against today (daily).

All three share one way of reading figures and one set of rules, so that none can drift:

- **A predicate handed to the feed.** Every new figure (marks and fills both move it) is
  judged inside ``Feed.put`` (``read(until=...)``), so the breaker task sleeps through every
  harmless figure instead of being woken a million times to say "not yet". The judge may
  keep state (a high-water mark, the day's baseline), which is why the facts of the breach
  are recorded the moment it is seen: whatever arrives after cannot change what is reported.
- **Exact, or refused.** A ceiling is a positive, finite ``Decimal`` (checked before the
  breaker waits); a figure is a finite ``Decimal`` (a float or a NaN is refused, never
  compared). The comparison is ``>=`` on Decimals: a ceiling of ``5000.00`` trips at a loss
  of ``5000.00``, not at ``4999.999999``. Differences are taken in the one exact context
  (``money.EXACT``), never rounded.
- **Nothing raises into the engine.** ``Feed.put`` runs in an engine callback, so a figure
  the judge cannot judge (a float, a NaN) or a broken reset schedule is not raised there: it
  is handed to the breaker task, which raises it, and the supervisor turns that into a trip
  (a watch that cannot judge the loss must not keep trading unguarded).

- **Quiet bands.** After each figure it judges, a breaker may say which figures cannot
  matter to it (``Quiet``: strictly between ``low`` and ``high``, they neither breach nor
  change what it remembers) through its ``quiet`` callback. The hand-over may then skip
  putting such figures at all: on a book that mostly moves inside its band, the breaker
  costs an integer comparison per mark. A band is only a promise about the state the
  breaker had when it gave it; every state change gives a new one.

The fixed breaker reads losses (positive = money lost); the trailing and daily breakers read
PnL figures (profit positive). A figure converted from several currencies
(``convert.Bounded``) is the PnL rounded down; its ``other`` bound, rounded up, is what a
high-water mark or a daily baseline is taken from, so both ends of the comparison lean toward
the trip. An exact figure is its own other bound.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Generic, NoReturn, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nautilus_riskwatch.core.convert import upper
from nautilus_riskwatch.core.money import EXACT
from nautilus_riskwatch.core.trips import (
    DailyLossBreached,
    DrawdownBreached,
    TrailingDrawdownBreached,
)
from nautilus_riskwatch.looptime.origin import NS_PER_SECOND, LoopOrigin

_Breach = TypeVar("_Breach")

__all__ = [
    "Quiet",
    "breaker",
    "daily_breaker",
    "daily_resets",
    "parse_time_of_day",
    "trailing_breaker",
]

#: Seconds before a daily reset from which a daily limit says no quiet band (see
#: ``daily_breaker``): more than a live loop is ever late, far less than a day.
NEAR_RESET = 1.0

_HH_MM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Quiet:
    """Figures strictly between ``low`` and ``high`` (``None``: unbounded) cannot breach the
    breaker that said so, nor change what it remembers: they need not be put at all."""

    low: Decimal | None
    high: Decimal | None

    def negated(self) -> Quiet:
        """The band of the negated figures (a band of losses as one of PnL)."""
        low, high = self.low, self.high
        return Quiet(
            None if high is None else high.copy_negate(),
            None if low is None else low.copy_negate(),
        )


#: Where a breaker says its quiet band (``None``: every figure matters now).
QuietSink = Callable[[Quiet | None], None]


async def breaker(
    read_loss: Callable[..., Awaitable[Decimal]],
    ceiling: Decimal,
    currency: str = "",
    quiet: QuietSink | None = None,
) -> NoReturn:
    """Raise ``DrawdownBreached`` on the first loss that reaches ``ceiling``.

    ``read_loss(until=predicate)`` returns the newest loss (positive = money lost) for
    which the predicate holds, waiting for one: ``Feed.read_one`` has that signature.
    ``quiet`` is told the band of losses that cannot matter: below the ceiling.
    """
    _check_ceiling(ceiling)
    band = Quiet(None, ceiling)

    def judge(loss: Decimal) -> Decimal | None:
        return loss if loss >= ceiling else None

    loss, figure = await _first_breach(read_loss, judge, lambda: band, quiet, what="loss")
    raise _with_valuation(DrawdownBreached(loss, ceiling, currency), figure)


async def trailing_breaker(
    read_pnl: Callable[..., Awaitable[Decimal]],
    ceiling: Decimal,
    currency: str = "",
    start: Decimal = Decimal(0),
    quiet: QuietSink | None = None,
) -> NoReturn:
    """Raise ``TrailingDrawdownBreached`` when the PnL falls ``ceiling`` below its best.

    The high-water mark is the greatest of ``start`` and every figure the predicate sees.
    ``read_pnl(until=predicate)`` returns a figure for which the predicate held, waiting for
    one (``Feed.read_one``). A ``Feed`` keeps only its newest message, so figures put before
    the breaker first reads are not seen, except the newest: pass the mark so far as ``start``.
    ``quiet`` is told the band that cannot matter: above the trip, below the high-water mark.
    """
    _check_ceiling(ceiling)
    if not isinstance(start, Decimal):
        raise TypeError(f"start must be a Decimal, got {type(start).__name__} {start!r}")
    if not start.is_finite():
        raise ValueError(f"start must be finite, got {start}")
    high_water = start

    def judge(pnl: Decimal) -> tuple[Decimal, Decimal] | None:
        nonlocal high_water
        best = upper(pnl)
        if best > high_water:
            high_water = best
        drawdown = EXACT.subtract(high_water, pnl)
        return (drawdown, high_water) if drawdown >= ceiling else None

    def band() -> Quiet:
        return Quiet(EXACT.subtract(high_water, ceiling), high_water)

    (drawdown, mark), figure = await _first_breach(read_pnl, judge, band, quiet)
    raise _with_valuation(TrailingDrawdownBreached(drawdown, ceiling, mark, currency), figure)


async def daily_breaker(
    read_pnl: Callable[..., Awaitable[Decimal]],
    ceiling: Decimal,
    next_reset: Callable[[float], float],
    loop_time: Callable[[], float],
    currency: str = "",
    rebase: Callable[[], Decimal] | None = None,
    origin: LoopOrigin | None = None,
    quiet: QuietSink | None = None,
    current: Callable[[], Decimal] | None = None,
) -> NoReturn:
    """Raise ``DailyLossBreached`` when the loss since the last reset reaches ``ceiling``.

    The loss is ``baseline - pnl``, the baseline being the PnL in force when the day rolled:
    the last figure seen before the reset (the first figure if there was none), so a loss
    made yesterday is not counted again today. ``loop_time()`` is the watch's loop time now
    and ``next_reset(t)`` the first reset strictly after ``t`` (see ``daily_resets``);
    ``origin``, the loop's tie to the engine's nanoseconds, lets the trip say in UTC when
    the day began.

    The day is rolled when a figure arrives, not by a timer: the loss can only change with
    a figure, so that is the first moment the roll can matter. A figure arriving exactly at
    the reset time belongs to the new day.

    ``rebase()``, if given, is asked for the new day's ceiling when the day rolls (a limit
    in percent of the equity then); what it raises trips the watch.

    ``current()``, if given, is the figure in force now (what would be put if something
    moved): the day is then also rolled by a timer at the reset itself, taking
    ``current()`` as the baseline. That is what a hand-over that skips quiet figures
    needs (the last figure *put* may be older than the last figure); ``quiet`` is told the
    band that cannot matter: above the day's trip. From ``NEAR_RESET`` seconds before each
    reset until the day has rolled there is no band (every figure is put), so that a
    figure arriving on a busy live loop after the reset but before its timer ran is
    judged against the true figure before it, never a stale one.
    """
    _check_ceiling(ceiling)
    day_start = loop_time()
    reset_at = _reset_after(next_reset, day_start)
    baseline: Decimal | None = None
    last: Decimal | None = None
    near = False  # within NEAR_RESET of the reset: no band

    def roll(now: float) -> None:
        nonlocal day_start, reset_at, ceiling, near
        while now >= reset_at:  # walk every reset passed, to date the day right
            day_start, reset_at = reset_at, _reset_after(next_reset, reset_at)
        near = False
        if current is not None:
            schedule()
        if rebase is not None:
            ceiling = rebase()
            _check_ceiling(ceiling)

    def judge(pnl: Decimal) -> tuple[Decimal, float, Decimal] | None:
        nonlocal baseline, last
        now = loop_time()
        if now >= reset_at:
            baseline = last  # the PnL as it stood when the day rolled
            roll(now)
        if baseline is None:
            baseline = upper(pnl)
        last = upper(pnl)
        loss = EXACT.subtract(baseline, pnl)
        return (loss, day_start, ceiling) if loss >= ceiling else None

    def band() -> Quiet | None:
        if baseline is None or near:
            return None
        return Quiet(EXACT.subtract(baseline, ceiling), None)

    judging = _Judging(judge, band, quiet, "PnL")
    timers: list[asyncio.TimerHandle] = []
    loop = asyncio.get_running_loop()

    def schedule() -> None:
        for timer in timers:
            timer.cancel()
        timers[:] = [
            loop.call_at(reset_at - NEAR_RESET, near_reset),
            loop.call_at(reset_at, at_reset),
        ]

    def in_force() -> Decimal:
        """The figure in force now, checked, as a baseline is taken (its upper bound)."""
        figure = current()  # type: ignore[misc]
        _check_figure(figure, "PnL")
        return upper(figure)

    def near_reset() -> None:
        """Every figure is put from now until the day rolls, and the last one is the
        figure in force now (those skipped before it were never judged)."""
        nonlocal near, last
        if judging.done:
            return
        try:
            figure = in_force()
            if baseline is not None:
                last = figure
        except Exception as error:  # raised by the breaker, at the next figure
            judging.fail(error)
            return
        near = True
        judging.tell()

    def at_reset() -> None:
        """The day rolls now, unless a figure rolled it already: the figure in force is
        the new day's baseline."""
        nonlocal baseline, last
        if judging.done:
            return
        try:
            now = loop_time()
            if now >= reset_at:
                baseline = last = in_force()
                roll(now)
        except Exception as error:  # raised by the breaker, at the next figure
            judging.fail(error)
            return
        judging.tell()

    if current is not None:
        schedule()
    try:
        (loss, began, limit), figure = await judging.first_breach(read_pnl)
    finally:
        for timer in timers:
            timer.cancel()
    began_ns = None if origin is None else origin.to_ns(began)
    raise _with_valuation(DailyLossBreached(loss, limit, began, currency, began_ns), figure)


def daily_resets(origin_ns: int, time_of_day: str, tz: str) -> Callable[[float], float]:
    """Return ``next_reset`` for a reset at ``time_of_day`` ("HH:MM") local time in ``tz``.

    Loop second ``t`` is the instant ``LoopOrigin(origin_ns).to_ns(t)``. The reset is
    computed in the zone's own calendar each day, so it follows the clocks across daylight
    saving changes ("17:00" New York is 22:00 UTC in winter, 21:00 UTC in summer). A local
    time skipped by a spring-forward gap falls that many minutes later (01:30 London on the
    spring change day is 02:30 BST); a time that occurs twice at a fall-back is taken at its
    first occurrence (PEP 495, ``fold=0``).
    """
    if not isinstance(origin_ns, int) or isinstance(origin_ns, bool):
        raise TypeError(f"origin_ns must be an int of nanoseconds, got {origin_ns!r}")
    if not isinstance(time_of_day, str):
        raise TypeError(f"time_of_day must be a str 'HH:MM', got {time_of_day!r}")
    if not isinstance(tz, str):
        raise TypeError(f"tz must be a str IANA zone name, got {tz!r}")
    at = parse_time_of_day(time_of_day)
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {tz!r}") from None
    origin = LoopOrigin(origin_ns)

    def loop_time(day: date) -> float:
        utc_ns = (datetime.combine(day, at, tzinfo=zone) - _EPOCH) // _MICROSECOND * 1000
        return origin.to_loop(utc_ns)

    def next_reset(t: float) -> float:
        instant_ns = origin.to_ns(t)
        local = datetime.fromtimestamp(instant_ns // NS_PER_SECOND, tz=zone)
        day = local.date() - timedelta(days=1)  # a day early: cheap safety at odd offsets
        # Compared as loop floats, not nanoseconds: t may be a reset this returned, and
        # "strictly after t" must hold for the float the caller compares with.
        while (reset := loop_time(day)) <= t:
            day += timedelta(days=1)
        return reset

    return next_reset


def parse_time_of_day(text: str) -> time:
    """Read ``HH:MM`` exactly (two digits each, 00:00 to 23:59): the one reading of a daily
    reset's time, shared by the config check and the schedule so they cannot disagree."""
    hh_mm = _HH_MM.fullmatch(text)
    if hh_mm is None:
        raise ValueError(f"time_of_day must be 'HH:MM' from 00:00 to 23:59, got {text!r}")
    return time(int(hh_mm[1]), int(hh_mm[2]))


class _Judging(Generic[_Breach]):
    """A breaker's judge, run inside ``Feed.put`` once per figure and in order (so it may
    keep state): the first breach, or the first failure, is kept, and later figures cannot
    change what is reported. A figure that cannot be judged must not raise into ``put``: the
    failure is raised in the breaker's task, where the supervisor makes it a trip.
    """

    def __init__(
        self,
        judge: Callable[[Decimal], _Breach | None],
        band: Callable[[], Quiet | None],
        quiet: QuietSink | None,
        what: str,
    ) -> None:
        self._judge = judge
        self._band = band
        self._quiet = quiet
        self._what = what
        self.breach: _Breach | None = None
        self.failure: Exception | None = None
        self.judged: Decimal = Decimal(0)

    @property
    def done(self) -> bool:
        return self.breach is not None or self.failure is not None

    def breached(self, figure: Decimal) -> bool:
        if not self.done:
            try:
                _check_figure(figure, self._what)
                self.breach = self._judge(figure)
                self.judged = figure
            except Exception as error:
                self.failure = error
            self.tell()
        return self.done

    def fail(self, error: Exception) -> None:
        """A failure outside a figure (a timer's): every figure matters from now on, and
        the next one wakes the breaker to raise it."""
        self.failure = error
        self.tell()

    def tell(self) -> None:
        """Say the band now (none once done: nothing is quiet for a breaker that ended)."""
        if self._quiet is not None:
            self._quiet(None if self.done else self._band())

    async def first_breach(
        self, read: Callable[..., Awaitable[Decimal]]
    ) -> tuple[_Breach, Decimal]:
        try:
            while True:
                await read(until=self.breached)
                if self.failure is not None:
                    raise self.failure
                if self.breach is not None:
                    return self.breach, self.judged
        finally:
            if self._quiet is not None:
                self._quiet(None)


async def _first_breach(
    read_pnl: Callable[..., Awaitable[Decimal]],
    judge: Callable[[Decimal], _Breach | None],
    band: Callable[[], Quiet | None],
    quiet: QuietSink | None,
    what: str = "PnL",
) -> tuple[_Breach, Decimal]:
    """Read figures until ``judge`` returns a breach; return it and the figure judged."""
    return await _Judging(judge, band, quiet, what).first_breach(read_pnl)


def _with_valuation(breach: DrawdownBreached, figure: Decimal) -> DrawdownBreached:
    """Hand on how a converted figure was made (currencies, rates), for the record."""
    breach.valuation = getattr(figure, "valuation", None)
    return breach


def _check_ceiling(ceiling: Decimal) -> None:
    if not isinstance(ceiling, Decimal):
        raise TypeError(f"ceiling must be a Decimal, got {type(ceiling).__name__} {ceiling!r}")
    if ceiling.is_nan() or not ceiling > 0:
        raise ValueError(f"ceiling must be positive, got {ceiling}")


def _check_figure(figure: Decimal, what: str) -> None:
    if not isinstance(figure, Decimal):
        raise TypeError(
            f"a {what} figure must be a Decimal, got {type(figure).__name__} {figure!r}"
        )
    if not figure.is_finite():
        raise ValueError(f"a {what} figure must be finite, got {figure}")


def _reset_after(next_reset: Callable[[float], float], t: float) -> float:
    reset = next_reset(t)
    if not reset > t:  # also refuses NaN: a schedule that never advances would never roll
        raise ValueError(f"next_reset({t!r}) returned {reset!r}, not a time after it")
    return reset
