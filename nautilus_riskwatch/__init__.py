"""nautilus-riskwatch: a kill switch that stands watch beside any NautilusTrader strategy.

Per-feed staleness watchdogs and an exact ``Decimal`` drawdown breaker, supervised by one
``asyncio.TaskGroup``; on the first trip a shielded risk-off cascade cancels, confirms,
flattens everything but the protective hedges, and records what it did.
"""

from nautilus_riskwatch.core import (
    Book,
    CascadePolicy,
    DailyLossBreached,
    DrawdownBreached,
    Feed,
    KillSwitch,
    ManualKill,
    NoExchangeRate,
    RiskOff,
    StalenessError,
    TrailingDrawdownBreached,
    Trip,
    WatchFailure,
    breaker,
    run_watch,
    watchdog,
)
from nautilus_riskwatch.nautilus import (
    KillCommand,
    LossLimit,
    PnlLedger,
    RearmCommand,
    RearmRefused,
    RiskWatch,
    RiskWatchConfig,
    RiskWatchConfigError,
    WatchedFeed,
    command_endpoint,
    risk_off_topic,
)

__version__ = "0.1.0"

__all__ = [
    "Book",
    "CascadePolicy",
    "DailyLossBreached",
    "DrawdownBreached",
    "Feed",
    "KillCommand",
    "KillSwitch",
    "LossLimit",
    "ManualKill",
    "NoExchangeRate",
    "PnlLedger",
    "RearmCommand",
    "RearmRefused",
    "RiskOff",
    "RiskWatch",
    "RiskWatchConfig",
    "RiskWatchConfigError",
    "StalenessError",
    "TrailingDrawdownBreached",
    "Trip",
    "WatchFailure",
    "WatchedFeed",
    "breaker",
    "command_endpoint",
    "risk_off_topic",
    "run_watch",
    "watchdog",
]
