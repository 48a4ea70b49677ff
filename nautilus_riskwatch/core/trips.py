"""The reasons a watch trips.

Every trip is an exception so that it can collapse the supervisor's ``TaskGroup`` the
ordinary way: the first child to raise one cancels its siblings, and ``except*`` hands it to
the cascade. Each carries the facts an operator needs in the record, and its message names
them, because at 3 a.m. "stale" is useless and "EUR/USD.SIM quotes silent for 5s" is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from nautilus_riskwatch.looptime.origin import NS_PER_SECOND, utc

#: Every kind of trip by its ``kind``, so that a described trip can be restored.
_KINDS: dict[str, type[Trip]] = {}


class Trip(Exception):
    """Base of every cause that pulls the kill switch."""

    kind: str = "trip"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _KINDS.setdefault(cls.kind, cls)

    def describe(self) -> dict[str, str]:
        """Return the cause as plain strings, for the record and the log."""
        return {"kind": self.kind, "message": str(self)}

    @staticmethod
    def restore(described: Mapping[str, str]) -> Trip:
        """Rebuild a trip from its ``describe()``: for a post-mortem read from a log.

        The trip comes back as its own class with its own facts (a ``Decimal`` loss stays
        exact), and describes itself as it did. A kind this version does not know comes
        back as a plain ``Trip`` that keeps its kind and message.
        """
        kind = str(described.get("kind", Trip.kind))
        cls = _KINDS.get(kind, Trip)
        trip = cls.__new__(cls)
        Exception.__init__(trip, str(described.get("message", "")))
        if cls is Trip:
            trip.kind = kind
        trip._restore(described)
        return trip

    def _restore(self, described: Mapping[str, str]) -> None:
        """Set this kind's facts from ``described`` (``restore`` has set the message)."""


class StalenessError(Trip):
    """A watched feed delivered nothing within its bound."""

    kind = "stale"

    def __init__(self, source: str, bound: float) -> None:
        super().__init__(f"feed {source!r} delivered nothing for {bound:g}s (its bound)")
        self.source = source
        self.bound = bound

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "source": self.source, "bound": f"{self.bound:g}"}

    def _restore(self, described: Mapping[str, str]) -> None:
        self.source = described["source"]
        self.bound = float(described["bound"])


class DrawdownBreached(Trip):
    """Realized plus unrealized loss reached the ceiling (exact ``Decimal`` comparison)."""

    kind = "drawdown"
    #: How the figure was valued when several currencies (or an inverse instrument) made it
    #: a conversion: a ``convert.Valuation``, for the record; ``None`` for an exact figure.
    valuation: object | None = None

    def __init__(self, loss: Decimal, ceiling: Decimal, currency: str = "") -> None:
        unit = f" {currency}" if currency else ""
        super().__init__(f"loss {loss}{unit} reached the ceiling {ceiling}{unit}")
        self.loss = loss
        self.ceiling = ceiling
        self.currency = currency

    def describe(self) -> dict[str, str]:
        return {
            **super().describe(),
            "loss": str(self.loss),
            "ceiling": str(self.ceiling),
            "currency": self.currency,
        }

    def _restore(self, described: Mapping[str, str]) -> None:
        self.loss = Decimal(described["loss"])
        self.ceiling = Decimal(described["ceiling"])
        self.currency = described.get("currency", "")


class TrailingDrawdownBreached(DrawdownBreached):
    """The PnL fell from its high-water mark by the trailing ceiling or more.

    ``loss`` is the drawdown, so code that handles any ``DrawdownBreached`` reads the right
    figure; the mark is reported too, because "down 100" means little without "from where".
    """

    kind = "trailing-drawdown"

    def __init__(
        self, drawdown: Decimal, ceiling: Decimal, high_water: Decimal, currency: str = ""
    ) -> None:
        super().__init__(drawdown, ceiling, currency)
        unit = f" {currency}" if currency else ""
        self.args = (
            f"drawdown {drawdown}{unit} from the high-water mark {high_water}{unit}"
            f" reached the trailing ceiling {ceiling}{unit}",
        )
        self.drawdown = drawdown
        self.high_water = high_water

    def describe(self) -> dict[str, str]:
        return {
            **super().describe(),
            "drawdown": str(self.drawdown),
            "high_water": str(self.high_water),
        }

    def _restore(self, described: Mapping[str, str]) -> None:
        super()._restore(described)
        self.drawdown = Decimal(described["drawdown"])
        self.high_water = Decimal(described["high_water"])


class DailyLossBreached(DrawdownBreached):
    """The loss since the last daily reset reached the daily ceiling.

    ``day_start`` is when the day being judged began, in loop time: the reset time, or the
    breaker's start if no reset has passed yet. ``day_start_ns`` is the same instant in
    engine nanoseconds (``None`` if the breaker was not told the loop's origin), and the
    message gives it in UTC: "since 17:00:00 UTC" tells an operator which day is meant.
    """

    kind = "daily-loss"

    def __init__(
        self,
        loss: Decimal,
        ceiling: Decimal,
        day_start: float,
        currency: str = "",
        day_start_ns: int | None = None,
    ) -> None:
        super().__init__(loss, ceiling, currency)
        unit = f" {currency}" if currency else ""
        began = f"loop time {day_start}" if day_start_ns is None else utc(day_start_ns)
        self.args = (
            f"loss {loss}{unit} since the day began at {began}"
            f" reached the daily ceiling {ceiling}{unit}",
        )
        self.day_start = day_start
        self.day_start_ns = day_start_ns

    def describe(self) -> dict[str, str]:
        described = {**super().describe(), "day_start": str(self.day_start)}
        if self.day_start_ns is not None:
            described["day_start_ns"] = str(self.day_start_ns)
        return described

    def _restore(self, described: Mapping[str, str]) -> None:
        super()._restore(described)
        self.day_start = float(described["day_start"])
        ns = described.get("day_start_ns")
        self.day_start_ns = None if ns is None else int(ns)


class NoExchangeRate(Trip):
    """A currency is held and no exchange rate to the ceiling's currency exists.

    Its figure cannot be compared with the ceiling, and the watch was told not to guess
    (``on_missing_rate="trip"``): a loss it cannot measure is a loss it cannot cap.
    """

    kind = "no-exchange-rate"

    def __init__(self, currency: str, target: str, figure: str = "") -> None:
        held = f" (holding {figure} {currency})" if figure else ""
        super().__init__(
            f"no exchange rate from {currency} to {target}{held}: the loss cannot be measured"
        )
        self.currency = currency
        self.target = target
        self.figure = figure

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "currency": self.currency, "target": self.target}


class ManualKill(Trip):
    """An operator pulled the switch by hand."""

    kind = "manual"

    def __init__(self, reason: str, who: str = "") -> None:
        by = f" by {who}" if who else ""
        super().__init__(f"manual kill{by}: {reason}")
        self.reason = reason
        self.who = who

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "reason": self.reason, "who": self.who}

    def _restore(self, described: Mapping[str, str]) -> None:
        self.reason = described.get("reason", "")
        self.who = described.get("who", "")


class WatchFailure(Trip):
    """The watch itself broke.

    A broken watch cannot promise to trip when it should, so it trips now: the book comes
    down flat rather than trading on unguarded.
    """

    kind = "watch-failure"

    def __init__(self, error: BaseException, where: str = "") -> None:
        at = f" in {where}" if where else ""
        super().__init__(f"the watch failed{at}: {type(error).__name__}: {error}")
        self.error = error
        self.where = where

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "error": repr(self.error), "where": self.where}

    def _restore(self, described: Mapping[str, str]) -> None:
        self.error = RecordedError(described.get("error", ""))
        self.where = described.get("where", "")


class RecordedError(Exception):
    """An error known only by its ``repr``, as a log recorded it (the object is gone)."""

    def __repr__(self) -> str:
        return str(self)


class FirmKill(Trip):
    """The firm latch is set: another node (or an operator, or the firm loss ceiling)
    tripped the firm, and every node comes down with it."""

    kind = "firm-kill"

    def __init__(self, origin: str, epoch: int, reason: str, cause: str = "") -> None:
        super().__init__(f"firm kill (epoch {epoch}) from {origin or '?'}: {reason}")
        self.origin = origin
        self.epoch = epoch
        self.reason = reason
        self.cause = cause  # the origin's own cause kind ("stale", "firm-loss", ...)

    def describe(self) -> dict[str, str]:
        return {
            **super().describe(),
            "origin": self.origin,
            "epoch": str(self.epoch),
            "reason": self.reason,
            "origin_cause": self.cause,
        }

    def _restore(self, described: Mapping[str, str]) -> None:
        self.origin = described.get("origin", "")
        self.epoch = int(described.get("epoch", "0") or 0)
        self.reason = described.get("reason", "")
        self.cause = described.get("origin_cause", "")


class FirmUnreachable(Trip):
    """The firm latch could not be read (at start, or for too long) and the configured
    policy is to fail closed: a node that cannot know whether the firm is tripped stops."""

    kind = "firm-unreachable"

    def __init__(self, reason: str) -> None:
        super().__init__(f"firm latch unreachable: {reason}")
        self.reason = reason

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "reason": self.reason}

    def _restore(self, described: Mapping[str, str]) -> None:
        self.reason = described.get("reason", "")


#: What a runaway guard counts, and what an exposure guard measures.
RUNAWAY_COUNTS = ("orders", "rejects", "fills")
EXPOSURE_MEASURES = ("position", "gross")


class RunawayDetected(Trip):
    """More than a rate's N events of one kind lay in its window: a strategy running away.

    ``counted`` is what the guard counts (``orders``, ``rejects``, ``fills``), ``count`` the
    events in the window ``(t - window_ns, t]`` at the event that tripped (``limit + 1``),
    ``window_ns`` the window in engine nanoseconds, ``at_ns`` the tripping event's time.
    The cause's ``kind`` stays ``runaway`` for every count, as ``drawdown`` does for every
    currency: the record, the log and the report read ``counted`` for which one.
    """

    kind = "runaway"

    def __init__(
        self,
        counted: str,
        count: int,
        window_ns: int,
        limit: int | None = None,
        at_ns: int | None = None,
    ) -> None:
        if counted not in RUNAWAY_COUNTS:
            raise ValueError(f"a runaway guard counts one of {RUNAWAY_COUNTS}, got {counted!r}")
        of = "" if limit is None else f" (the limit is {limit})"
        at = "" if at_ns is None else f", the last at {utc(at_ns)}"
        super().__init__(
            f"{count} {counted} within {window_text(window_ns)} on the engine's clock{of}{at}"
        )
        self.counted = counted
        self.count = count
        self.window_ns = window_ns
        self.limit = limit
        self.at_ns = at_ns

    def describe(self) -> dict[str, str]:
        described = {
            **super().describe(),
            "counted": self.counted,
            "count": str(self.count),
            "window_ns": str(self.window_ns),
        }
        if self.limit is not None:
            described["limit"] = str(self.limit)
        if self.at_ns is not None:
            described["at_ns"] = str(self.at_ns)
        return described

    def _restore(self, described: Mapping[str, str]) -> None:
        self.counted = described.get("counted", "")
        self.count = int(described.get("count", "0") or 0)
        self.window_ns = int(described.get("window_ns", "0") or 0)
        limit, at = described.get("limit"), described.get("at_ns")
        self.limit = None if limit is None else int(limit)
        self.at_ns = None if at is None else int(at)


class ExposureBreached(Trip):
    """A position or the gross exposure went past its cap (exact ``Decimal``, strictly).

    ``measure`` is ``position`` (the absolute net quantity on one instrument, ``instrument``
    names it) or ``gross`` (the sum of |net| x mark x multiplier over instruments, in
    ``currency``). Equal to the cap is allowed: a cap is the most one may hold.
    """

    kind = "exposure"
    #: How a converted gross figure was valued (a ``convert.Valuation``), for the record.
    valuation: object | None = None

    def __init__(
        self,
        measure: str,
        figure: Decimal,
        cap: Decimal,
        instrument: str = "",
        currency: str = "",
    ) -> None:
        if measure not in EXPOSURE_MEASURES:
            raise ValueError(
                f"an exposure guard measures one of {EXPOSURE_MEASURES}, got {measure!r}"
            )
        unit = f" {currency}" if currency else ""
        what = f"position |net| on {instrument or '?'}" if measure == "position" else "gross"
        exposure = "" if measure == "position" else " exposure"
        super().__init__(f"{what}{exposure} {figure}{unit} exceeded the cap {cap}{unit}")
        self.measure = measure
        self.figure = figure
        self.cap = cap
        self.instrument = instrument
        self.currency = currency

    def describe(self) -> dict[str, str]:
        return {
            **super().describe(),
            "measure": self.measure,
            "figure": str(self.figure),
            "cap": str(self.cap),
            "instrument": self.instrument,
            "currency": self.currency,
        }

    def _restore(self, described: Mapping[str, str]) -> None:
        self.measure = described.get("measure", "")
        self.figure = Decimal(described["figure"])
        self.cap = Decimal(described["cap"])
        self.instrument = described.get("instrument", "")
        self.currency = described.get("currency", "")


def window_text(ns: int) -> str:
    """A window in NautilusTrader's rate form, ``HH:MM:SS`` (and the fraction, if any)."""
    seconds, nanos = divmod(ns, NS_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return f"{hours:02d}:{minute:02d}:{second:02d}{fraction}"
