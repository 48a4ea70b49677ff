"""The one seam between the engine's nanoseconds and the watch's loop seconds.

The watch's deadlines live in its event loop's time: ``loop.time()``, float seconds. The
engine speaks integer nanoseconds since the epoch. ``LoopOrigin`` is the engine instant at
loop time zero, and every conversion between the two goes through it, so there is one
rounding rule (to the nearest nanosecond) and one spelling of a second.

Why relative seconds: a float holds about 15.9 significant digits, so epoch seconds as a
float (~1.6e9) lose ~240 ns, while seconds since the watch started keep nanoseconds exact
for days. In a backtest loop time is the engine's simulated time since the start; on a live
node it is the node loop's monotonic clock, tied to the engine's wall clock at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

#: Nanoseconds in a second: the only spelling of it in the package.
NS_PER_SECOND = 1_000_000_000


def seconds_to_ns(seconds: float) -> int:
    """A span of seconds as whole nanoseconds (rounded to the nearest)."""
    return round(seconds * NS_PER_SECOND)


def ns_to_seconds(ns: int) -> float:
    """A span of nanoseconds as seconds."""
    return ns / NS_PER_SECOND


@dataclass(frozen=True, slots=True)
class LoopOrigin:
    """Engine nanoseconds since the epoch at loop time zero.

    Parameters
    ----------
    ns : int
        The engine instant (nanoseconds since the epoch) that loop time ``0.0`` stands for.

    """

    ns: int

    @classmethod
    def at(cls, ns: int, seconds: float) -> LoopOrigin:
        """The origin that makes loop time ``seconds`` the engine instant ``ns``."""
        return cls(ns - seconds_to_ns(seconds))

    def to_ns(self, seconds: float) -> int:
        """Loop time ``seconds`` as engine nanoseconds since the epoch."""
        return self.ns + round(seconds * NS_PER_SECOND)

    def to_loop(self, ns: int) -> float:
        """Engine nanoseconds since the epoch as loop time (seconds since the origin)."""
        return (ns - self.ns) / NS_PER_SECOND  # on every message in a backtest: no call

    def utc(self, seconds: float) -> str:
        """Loop time ``seconds`` as the UTC instant an operator reads."""
        return utc(self.to_ns(seconds))


def utc(ns: int) -> str:
    """Epoch nanoseconds as ISO 8601 UTC with all nine digits, for people reading them
    (``2020-01-01T17:00:00.000000000Z``)."""
    seconds, nanos = divmod(ns, NS_PER_SECOND)
    return f"{_second(seconds)}.{nanos:09d}Z"


@lru_cache(maxsize=256)
def _second(seconds: int) -> str:
    """A second's date and time (cached: a cascade's lines share their second)."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
