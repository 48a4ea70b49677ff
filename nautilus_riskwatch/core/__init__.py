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
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.limits import (
    DailyLossBreached,
    TrailingDrawdownBreached,
    breaker,
    daily_breaker,
    daily_resets,
    trailing_breaker,
)
from nautilus_riskwatch.core.record import RiskOff, Stage
from nautilus_riskwatch.core.replay import records_from
from nautilus_riskwatch.core.supervisor import run_watch, trip_on
from nautilus_riskwatch.core.trips import (
    DrawdownBreached,
    FirmKill,
    FirmUnreachable,
    ManualKill,
    NoExchangeRate,
    StalenessError,
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
    "Feed",
    "FirmKill",
    "FirmUnreachable",
    "JsonLinesFile",
    "KillSwitch",
    "ManualKill",
    "NoExchangeRate",
    "RiskOff",
    "Stage",
    "StalenessError",
    "TrailingDrawdownBreached",
    "Trip",
    "WatchFailure",
    "attribute",
    "breaker",
    "daily_breaker",
    "daily_resets",
    "emit",
    "read_event_log",
    "records_from",
    "run_watch",
    "trailing_breaker",
    "trip_on",
    "watchdog",
]
