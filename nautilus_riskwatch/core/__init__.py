"""The pure asyncio core: watchdog, breaker, supervisor, cascade. No nautilus_trader here."""

from nautilus_riskwatch.core.breaker import breaker
from nautilus_riskwatch.core.cascade import Book, CascadePolicy, KillSwitch
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.record import RiskOff
from nautilus_riskwatch.core.supervisor import run_watch, trip_on
from nautilus_riskwatch.core.trips import (
    DrawdownBreached,
    ManualKill,
    StalenessError,
    Trip,
    WatchFailure,
)
from nautilus_riskwatch.core.watchdog import watchdog

__all__ = [
    "Book",
    "CascadePolicy",
    "DrawdownBreached",
    "Feed",
    "KillSwitch",
    "ManualKill",
    "RiskOff",
    "StalenessError",
    "Trip",
    "WatchFailure",
    "breaker",
    "run_watch",
    "trip_on",
    "watchdog",
]
