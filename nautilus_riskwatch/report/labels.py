"""Every word and number the trip picture writes: the title, the cause's name, the tick
labels of time and money, times of day, spans and durations.

Why apart from the drawing (``picture``): what a reader sees written must say one thing in
one way whatever the layout (a cause has one name; a time its date when the span has
several days; money never reads ``-0``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from nautilus_riskwatch.core.record import RiskOff, Stage
from nautilus_riskwatch.looptime import NS_PER_SECOND

#: How the picture names each trip cause: "drawdown" is kept for the fall from the
#: high-water mark (the lower panel), so the session loss limit is called what it is.
CAUSE_NAMES = {
    "drawdown": "loss limit",
    "trailing-drawdown": "trailing drawdown",
    "daily-loss": "daily loss limit",
    "stale": "stale feed",
    "manual": "manual kill",
    "watch-failure": "failure inside the watch",
    "no-exchange-rate": "no exchange rate",
    "firm-kill": "firm-wide kill",
    "firm-unreachable": "firm switch unreachable",
}
#: A runaway trip is named by what it counted, an exposure trip by what it measured.
RUNAWAY_NAMES = {"orders": "order storm", "rejects": "reject storm", "fills": "fill storm"}
EXPOSURE_NAMES = {"position": "position cap", "gross": "gross exposure cap"}
DAY_S = 86_400
_TITLE_WIDTH = 120  # characters a title line holds across the figure


def cause_name(record: RiskOff) -> str:
    """The trip's cause as the picture names it (``CAUSE_NAMES``, else its kind)."""
    cause = record.cause
    if cause.kind == "runaway":
        return RUNAWAY_NAMES.get(getattr(cause, "counted", ""), "runaway")
    if cause.kind == "exposure":
        return EXPOSURE_NAMES.get(getattr(cause, "measure", ""), "exposure cap")
    return CAUSE_NAMES.get(cause.kind, cause.kind)


def trip_title(
    record: RiskOff | None, cancels: Sequence[int], closes: Sequence[tuple[int, Decimal]]
) -> str:
    if record is None:
        return "Session PnL: the watch did not trip"
    parts = [
        _count(len(record.orders_cancelled), "order") + " cancelled",
        _count(len(record.positions_closed), "position") + " closed",
    ]
    if record.hedges_kept:
        parts.append(_count(len(record.hedges_kept), "hedge") + " kept")
    confirmed = [*cancels, *(t for t, _ in closes)]
    if record.stage is not Stage.DONE:
        parts.append(f"cascade stopped at {record.stage}")
    elif confirmed:
        took = (max(confirmed) - record.tripped_at_ns) / 1e6
        parts.append(f"last confirmation {_millis(took)} after the trip")
    else:
        parts = ["nothing to cancel or close"]
    head = (
        f"Risk-off at {day_of(record.tripped_at_ns)} {time_of_day(record.tripped_at_ns)} UTC "
        f"({cause_name(record)}): "
        f"{record.cause.describe()['message']}"
    )
    return "\n".join([*textwrap.wrap(head, _TITLE_WIDTH), ", ".join(parts)])


def clock_ticks() -> Any:
    """Tick labels of a time axis, to the precision the ticks' spacing needs: a span of
    seconds reads ``17:02:30``, of hours ``17:00``, of days ``01-02 17:00``."""
    import matplotlib.dates as mdates
    from matplotlib.ticker import Formatter

    class Clock(Formatter):
        step_s = 60.0

        def set_locs(self, locs: list[float]) -> None:
            super().set_locs(locs)
            gaps = [b - a for a, b in pairwise(locs)]
            self.step_s = min(gaps) * DAY_S if gaps else 60.0

        def __call__(self, value: float, pos: int | None = None) -> str:
            moment = mdates.num2date(value, tz=UTC)
            if self.step_s >= DAY_S - 1:
                return str(moment.strftime("%m-%d"))
            if self.step_s >= 3600 and self._days() > 1:
                return str(moment.strftime("%m-%d %H:%M"))
            if self.step_s >= 59.5:
                return str(moment.strftime("%H:%M"))
            if self.step_s >= 0.999:
                return str(moment.strftime("%H:%M:%S"))
            return str(moment.strftime("%H:%M:%S.%f"))[:-3]

        def _days(self) -> float:
            if self.axis is None:
                return 0.0
            lo, hi = self.axis.get_view_interval()
            return float(hi - lo)

    return Clock()


def money_ticks() -> Any:
    """Tick labels for money: thousands separated, as many decimals as the ticks' spacing
    needs, and never ``-0``."""
    from matplotlib.ticker import Formatter

    class Money(Formatter):
        decimals = 0

        def set_locs(self, locs: list[float]) -> None:
            super().set_locs(locs)
            gaps = [abs(b - a) for a, b in pairwise(locs) if b != a]
            step = min(gaps) if gaps else 1.0
            self.decimals = next(
                (d for d in range(9) if abs(round(step, d) - step) <= step * 1e-6), 8
            )

        def __call__(self, value: float, pos: int | None = None) -> str:
            return _unsign(f"{value:,.{self.decimals}f}")

    return Money()


def _unsign(text: str) -> str:
    """``-0.00`` (a value that rounds to zero) as ``0.00``."""
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


def _millis(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def time_of_day(ns: int, millis: bool = True) -> str:
    seconds, nanos = divmod(ns, NS_PER_SECOND)
    text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%H:%M:%S")
    return f"{text}.{nanos // 1_000_000:03d}" if millis else text


def moment(ns: int, *, with_day: bool) -> str:
    """A time of day to the second, with its date when the picture spans several days."""
    text = time_of_day(ns, millis=False)
    return f"{day_of(ns)[5:]} {text}" if with_day else text


def day_of(ns: int) -> str:
    return datetime.fromtimestamp(ns // NS_PER_SECOND, tz=UTC).strftime("%Y-%m-%d")


def duration(seconds: float) -> str:
    whole = round(seconds)
    if whole % 3600 == 0:
        return f"{whole // 3600} h"
    return f"{whole // 60} min" if whole % 60 == 0 else f"{whole} s"


def span_text(times: list[int]) -> str:
    if times[0] == times[-1]:
        return f"at {time_of_day(times[0])}"
    return f"{time_of_day(times[0])} to {time_of_day(times[-1])}"
