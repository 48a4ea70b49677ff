"""The pure asyncio core: watchdog, breaker, supervisor, cascade. No nautilus_trader here."""

from nautilus_riskwatch.core.cascade import Book, CascadePolicy, KillSwitch
from nautilus_riskwatch.core.event_log import (
    Event,
    EventLog,
    JsonLinesFile,
    attribute,
    emit,
    read_event_log,
)
from nautilus_riskwatch.core.exposure import check_position, gross_breaker, position_breaker
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.limits import (
    breaker,
    daily_breaker,
    daily_resets,
    trailing_breaker,
)
from nautilus_riskwatch.core.rates import EventRate, RateWindow, parse_rate, rate_breaker
from nautilus_riskwatch.core.record import RiskOff, Stage
from nautilus_riskwatch.core.replay import records_from
from nautilus_riskwatch.core.supervisor import run_watch, trip_on
from nautilus_riskwatch.core.trips import (
    DailyLossBreached,
    DrawdownBreached,
    ExposureBreached,
    FirmKill,
    FirmUnreachable,
    ManualKill,
    NoExchangeRate,
    RunawayDetected,
    StalenessError,
    TrailingDrawdownBreached,
    Trip,
    WatchFailure,
)
from nautilus_riskwatch.core.watchdog import watchdog

__all__ = [
    "Book",
    "CascadePolicy",
    "DailyLossBreached",
    "DrawdownBreached",
    "Event",
    "EventLog",
    "EventRate",
    "ExposureBreached",
    "Feed",
    "FirmKill",
    "FirmUnreachable",
    "JsonLinesFile",
    "KillSwitch",
    "ManualKill",
    "NoExchangeRate",
    "RateWindow",
    "RiskOff",
    "RunawayDetected",
    "Stage",
    "StalenessError",
    "TrailingDrawdownBreached",
    "Trip",
    "WatchFailure",
    "attribute",
    "breaker",
    "check_position",
    "daily_breaker",
    "daily_resets",
    "emit",
    "gross_breaker",
    "parse_rate",
    "position_breaker",
    "rate_breaker",
    "read_event_log",
    "records_from",
    "run_watch",
    "trailing_breaker",
    "trip_on",
    "watchdog",
]
