"""nautilus-riskwatch: a kill switch that stands watch beside any NautilusTrader strategy.

Per-feed staleness watchdogs and an exact ``Decimal`` drawdown breaker, supervised by one
``asyncio.TaskGroup``; on the first trip a shielded risk-off cascade cancels, confirms,
flattens everything but the protective hedges, and records what it did.
"""

from typing import TYPE_CHECKING, Any

from nautilus_riskwatch.core import (
    Book,
    CascadePolicy,
    DailyLossBreached,
    DrawdownBreached,
    Feed,
    FirmKill,
    FirmUnreachable,
    KillSwitch,
    ManualKill,
    NoExchangeRate,
    RiskOff,
    StalenessError,
    TrailingDrawdownBreached,
    Trip,
    WatchFailure,
    breaker,
    read_event_log,
    records_from,
    run_watch,
    watchdog,
)
from nautilus_riskwatch.errors import RiskWatchError

if TYPE_CHECKING:
    from nautilus_riskwatch.nautilus import (
        FirmConfig,
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
        next_record,
        risk_off_topic,
    )

#: The adapter's names load on first use: ``nautilus_riskwatch.core`` (and ``looptime``) must
#: import without nautilus_trader installed, and ``python -m nautilus_riskwatch firm ...``
#: (the operator's CLI, used in emergencies) must not wait for nautilus_trader to import.
_ADAPTER = frozenset(
    {
        "FirmConfig",
        "KillCommand",
        "LossLimit",
        "PnlLedger",
        "RearmCommand",
        "RearmRefused",
        "RiskWatch",
        "RiskWatchConfig",
        "RiskWatchConfigError",
        "WatchedFeed",
        "command_endpoint",
        "next_record",
        "risk_off_topic",
    }
)


def __getattr__(name: str) -> Any:
    if name in _ADAPTER:
        from nautilus_riskwatch import nautilus

        return getattr(nautilus, name)
    raise AttributeError(f"module 'nautilus_riskwatch' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "Book",
    "CascadePolicy",
    "DailyLossBreached",
    "DrawdownBreached",
    "Feed",
    "FirmConfig",
    "FirmKill",
    "FirmUnreachable",
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
    "RiskWatchError",
    "StalenessError",
    "TrailingDrawdownBreached",
    "Trip",
    "WatchFailure",
    "WatchedFeed",
    "breaker",
    "command_endpoint",
    "next_record",
    "read_event_log",
    "records_from",
    "risk_off_topic",
    "run_watch",
    "watchdog",
]
