"""Each limit's figure as its breaker judges it, and its warnings; a feed's silence warnings.

Why read the figure from the breaker's quiet band: a trailing limit's figure is the
drawdown from a high-water mark, a daily one's the loss from the day's baseline, and both
marks live inside the breaker (``core.limits``), which must stay the only judge of them.
But every band a breaker says carries its mark exactly: ``Quiet(high - ceiling, high)``
for a trailing limit, ``Quiet(baseline - ceiling, None)`` for a daily one, and the loss
itself for a fixed one. So ``LimitFigure`` learns the mark each time the breaker says its
band (``told``), and the figure is ``mark - pnl``: exact, the breaker's own number, with
nothing added to the breaker and nothing computed per quote. The metrics read it at scrape
time (``figure``), the warnings on each figure the guard puts (``see``).

A band of ``None`` (a daily limit within a second of its reset, a breaker that has
tripped) keeps the mark last said: the mark does not change then (the daily baseline
changes only at the roll, which says a new band).

``FeedSilence`` warnings run as one lazy task per feed (``silence_warnings``): asleep
until the next level is due, never woken by a message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import NoReturn

from nautilus_riskwatch.alerts.levels import DEFAULT_HYSTERESIS, Crossing, FeedSilence, Levels
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.limits import Quiet
from nautilus_riskwatch.core.money import EXACT

__all__ = ["LimitFigure", "silence_warnings"]

#: The limit kinds (``LimitSpec.kind``) and what their figure is.
KINDS = ("max_loss", "trailing", "daily")


class LimitFigure:
    """One limit's figure (``mark - pnl``) and, with ``fractions``, its warning levels.

    ``kind`` is the limit's (``max_loss``: the mark is 0; ``trailing``: the high-water
    mark; ``daily``: the day's baseline); ``ceiling`` its ceiling in force. The guard calls
    ``told(band, ceiling)`` with each band its breaker says, in PnL terms, and ``see(pnl)``
    with each PnL it puts; ``band()`` is the levels' quiet band in PnL terms, for the
    guard to intersect with its breakers'.
    """

    __slots__ = ("ceiling", "kind", "levels", "mark", "moved")

    def __init__(
        self,
        kind: str,
        ceiling: Decimal,
        fractions: Iterable[Decimal] = (),
        hysteresis: Decimal = DEFAULT_HYSTERESIS,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r}: one of {KINDS}")
        self.kind = kind
        self.ceiling = ceiling
        #: ``None`` until the breaker has said a band (a trailing or daily limit's mark is
        #: its own); a fixed limit's mark is 0 from the start.
        self.mark: Decimal | None = Decimal(0) if kind == "max_loss" else None
        fractions = tuple(fractions)
        self.levels = Levels(fractions, ceiling, hysteresis) if fractions else None
        #: The last ``see`` fired or re-armed a level: the levels' band moved.
        self.moved = False

    def told(self, band: Quiet | None, ceiling: Decimal) -> None:
        """The breaker's band, in PnL terms, and the ceiling in force with it."""
        if ceiling != self.ceiling:
            self.ceiling = ceiling
            if self.levels is not None:
                self.levels.relimit(ceiling)
        if band is None or self.kind == "max_loss":
            return
        if self.kind == "trailing":
            if band.high is not None:
                self.mark = band.high
        elif band.low is not None:  # daily: low = baseline - ceiling
            self.mark = EXACT.add(band.low, ceiling)

    def figure(self, pnl: Decimal) -> Decimal | None:
        """What the limit compares with its ceiling at ``pnl`` (``None``: not known yet)."""
        mark = self.mark
        return None if mark is None else EXACT.subtract(mark, pnl)

    def reached(self, pnl: Decimal) -> bool:
        """True if the figure at ``pnl`` has reached the ceiling: the limit trips."""
        figure = self.figure(pnl)
        return figure is not None and self.ceiling > 0 and figure >= self.ceiling

    def see(self, pnl: Decimal) -> tuple[Crossing, ...]:
        """The warning levels the figure at ``pnl`` crossed upward (lowest first); none
        once the figure reaches the ceiling: that is the trip, which says it itself, and
        nothing may be put before the kill's first commands."""
        levels, mark = self.levels, self.mark
        if levels is None or mark is None:
            return ()
        figure = EXACT.subtract(mark, pnl)
        fired = levels.fired
        crossed = levels.see(figure)
        self.moved = levels.fired != fired
        if crossed and figure >= self.ceiling:
            return ()
        return crossed

    def band(self) -> Quiet | None:
        """PnL figures strictly inside cannot fire or re-arm a level (``None``: every
        figure matters, the mark is not known yet); no levels: unbounded."""
        levels, mark = self.levels, self.mark
        if levels is None:
            return Quiet(None, None)
        if mark is None:
            return None
        return levels.pnl_band(mark)


async def silence_warnings(
    feed: Feed[object],
    silence: FeedSilence,
    say: Callable[[Crossing], None],
    started: float | None = None,
) -> NoReturn:
    """Say each level of ``feed``'s silence once per silence, lazily; never raises.

    Asleep until the next level is due after the newest arrival (``started``, by default
    the time the task starts, as a watchdog's bound runs from its start, if none came),
    never woken by a message: at each wake the newest arrival is read, so a message that
    came meanwhile re-arms the levels and only a silence really that long is said. It never
    sleeps past ``now + f[0] * bound`` either: a message may come at any moment and start a
    new silence, whose first level is due no sooner than that; so every level of every
    silence is said at its time exactly, for any levels, at the cost of one wake per
    ``f[0] * bound`` at most while messages flow. What ``say`` raises is dropped here (it
    logs its own failures): a warning must never trip the watch.
    """
    loop = asyncio.get_running_loop()
    if started is None:
        started = loop.time()
    while True:
        now = loop.time()
        last = feed.arrived_at
        last = started if last is None else last
        for crossing in silence.check(now, last):
            try:
                say(crossing)
            except Exception:  # a warning must never trip the watch
                pass
        due = silence.due(last)
        wake = due if due is not None else last + silence.bound
        soonest = silence.due(now)  # a silence starting now: its first level's time
        if soonest is not None and (wake <= now or soonest < wake):
            wake = soonest
        await _sleep_until(loop, wake)


async def _sleep_until(loop: asyncio.AbstractEventLoop, when: float) -> None:
    woken: asyncio.Future[None] = loop.create_future()
    handle = loop.call_at(when, _wake, woken)
    try:
        await woken
    finally:
        handle.cancel()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
