"""The pure asyncio core: watchdog, breaker, supervisor, cascade. No nautilus_trader here."""

from nautilus_riskwatch.core.breaker import breaker
from nautilus_riskwatch.core.cascade import Book, CascadePolicy, KillSwitch
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.limits import (
    DailyLossBreached,
    TrailingDrawdownBreached,
    daily_breaker,
    daily_resets,
    trailing_breaker,
)
from nautilus_riskwatch.core.record import RiskOff
from nautilus_riskwatch.core.supervisor import run_watch, trip_on
from nautilus_riskwatch.core.trips import (
    DrawdownBreached,
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
    "Feed",
    "KillSwitch",
    "ManualKill",
    "NoExchangeRate",
    "RiskOff",
    "StalenessError",
    "TrailingDrawdownBreached",
    "Trip",
    "WatchFailure",
    "breaker",
    "daily_breaker",
    "daily_resets",
    "run_watch",
    "trailing_breaker",
    "trip_on",
    "watchdog",
]
