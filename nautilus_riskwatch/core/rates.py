"""The rate breakers (the runaway guards of issue 22): events in a sliding window, and the child
that trips on them.

A strategy that runs away (a resubmit loop, a fill handler that sends the next order) shows
first as a rate, long before as a loss. The rate is NautilusTrader's own form, ``"N/HH:MM:SS"``
(as ``RiskEngineConfig.max_order_submit_rate``), so one figure means the same in both places,
but where the RiskEngine denies one order over it, the watch trips.

The rule, exactly: the rate breaker trips at the first event at which *more than* N events lie in
the window ``(t - W, t]``, ``t`` being that event's time on the engine's clock (integer
nanoseconds, so a backtest trips to the nanosecond, with no float in the way). N events in
a window do not trip, N + 1 do; an event exactly W after another no longer shares its window.

Why a deque of times: each event is appended once and dropped once, so the cost is O(1)
amortised per event, and the deque never holds more than N + 1 times. The breaker reads
nothing per quote: it sees only the events it counts. The count runs inside ``Feed.put``
(the feed's ``until`` predicate), because a feed keeps only its newest message and a burst
of orders in one instant must be counted one by one; the breaker's task is woken once, at the
trip.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn

from nautilus_riskwatch.core.trips import RUNAWAY_COUNTS, RunawayDetected
from nautilus_riskwatch.errors import RiskWatchError
from nautilus_riskwatch.looptime.origin import NS_PER_SECOND

__all__ = ["BadRate", "EventRate", "RateWindow", "parse_rate", "rate_breaker"]

_RATE = re.compile(r"([0-9]+)/([0-9]{2,}):([0-5][0-9]):([0-5][0-9])(?:\.([0-9]{1,9}))?")


class BadRate(RiskWatchError, ValueError):
    """A rate the watch refuses (the message names the field, for a config; ``field`` and
    ``value`` say which, when a config's field was read)."""

    def __init__(self, why: str, field: str | None = None, value: object = None) -> None:
        super().__init__(why)
        self.field = field
        self.value = value


@dataclass(frozen=True, slots=True)
class EventRate:
    """At most ``limit`` events in any window of ``window_ns`` engine nanoseconds."""

    limit: int
    window_ns: int

    def __post_init__(self) -> None:
        if type(self.limit) is not int or self.limit < 1:
            raise BadRate(f"a rate's N must be a whole number of at least 1, got {self.limit!r}")
        if type(self.window_ns) is not int or self.window_ns < 1:
            raise BadRate(f"a rate's window must be at least 1ns, got {self.window_ns!r}")


def parse_rate(text: object, field: str = "rate") -> EventRate:
    """Read NautilusTrader's ``"N/HH:MM:SS"`` (seconds may carry up to nine decimals).

    Refused, with ``field`` named: anything else, N of 0 (it would trip at the first event:
    that is a ban, not a rate) and a window of zero.
    """
    form = f"{field} must be 'N/HH:MM:SS' (as RiskEngineConfig.max_order_submit_rate)"
    if not isinstance(text, str):
        raise BadRate(f"{form}, got {type(text).__name__} {text!r}", field, text)
    matched = _RATE.fullmatch(text)
    if matched is None:
        raise BadRate(f"{form}, got {text!r}", field, text)
    count, hours, minutes, seconds, fraction = matched.groups()
    if int(count) < 1:
        raise BadRate(
            f"{field}: N must be at least 1 in {text!r} (0 would trip at once)", field, text
        )
    whole = (int(hours) * 60 + int(minutes)) * 60 + int(seconds)
    window_ns = whole * NS_PER_SECOND + int((fraction or "").ljust(9, "0"))
    if window_ns < 1:
        raise BadRate(f"{field}: the window must be longer than zero in {text!r}", field, text)
    return EventRate(int(count), window_ns)


class RateWindow:
    """Counts events in the window ``(t - W, t]`` ending at the newest one.

    Times are integer engine nanoseconds. A time earlier than the newest seen (a late stamp
    on a live node) is counted at the newest: the window only slides forward, and a late
    event still counts.
    """

    __slots__ = ("_times", "limit", "window_ns")

    def __init__(self, rate: EventRate) -> None:
        self.limit = rate.limit
        self.window_ns = rate.window_ns
        self._times: deque[int] = deque()

    def add(self, t: int) -> int:
        """Count an event at ``t``; return the events now in ``(t - W, t]``, at most N + 1
        (past that the count is not needed, nor kept: the deque stays small)."""
        times = self._times
        if times and t < times[-1]:
            t = times[-1]
        edge = t - self.window_ns
        while times and times[0] <= edge:
            times.popleft()
        times.append(t)
        if len(times) > self.limit + 1:  # more than N + 1 is never needed to know N + 1
            times.popleft()
        return len(times)

    @property
    def held(self) -> int:
        """How many event times the window holds now (never more than ``limit + 1``)."""
        return len(self._times)

    def over(self, t: int) -> bool:
        """Count an event at ``t``; true if more than N events now lie in its window."""
        return self.add(t) > self.limit


async def rate_breaker(
    read_one: Callable[..., Awaitable[int]], rate: EventRate, counted: str
) -> NoReturn:
    """Raise ``RunawayDetected`` at the first event over ``rate``: a supervisor child.

    ``read_one(until=predicate)`` (``Feed.read_one``) delivers the events' times in integer
    engine nanoseconds. Start the breaker before events flow: a feed keeps only its newest
    message, so events put before the first read are not counted, except that one.
    A time that is not an ``int`` fails the breaker (a trip, by the supervisor), never the
    engine's ``put``.
    """
    if counted not in RUNAWAY_COUNTS:
        raise ValueError(f"a rate breaker counts one of {RUNAWAY_COUNTS}, got {counted!r}")
    window = RateWindow(rate)
    tripped: list[RunawayDetected] = []
    failed: list[Exception] = []

    def judge(t: int) -> bool:
        if tripped or failed:
            return True
        if type(t) is not int:
            failed.append(
                TypeError(f"an event time must be integer nanoseconds, got {type(t).__name__}")
            )
            return True
        count = window.add(t)
        if count > rate.limit:
            tripped.append(RunawayDetected(counted, count, rate.window_ns, rate.limit, t))
            return True
        return False

    while True:
        await read_one(until=judge)
        if failed:
            raise failed[0]
        if tripped:
            raise tripped[0]
