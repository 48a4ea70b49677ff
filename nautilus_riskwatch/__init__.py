"""nautilus-riskwatch: a kill switch that stands watch beside any NautilusTrader strategy.

Per-feed staleness watchdogs and an exact ``Decimal`` drawdown breaker, supervised by one
``asyncio.TaskGroup``; on the first trip a shielded risk-off cascade cancels, confirms,
flattens everything but the protective hedges, and records what it did.

The names here are what a NautilusTrader user needs: the actor and its config
(``RiskWatch``, ``RiskWatchConfig``, ``WatchedFeed``, ``LossLimit``, ``FirmConfig``), the
operator's commands and where they go (``KillCommand``, ``RearmCommand``,
``command_endpoint``, ``risk_off_topic``, ``next_record``), the record (``RiskOff``) and
what tripped it (``Trip`` and its kinds), the event log read back (``read_event_log``,
``records_from``), and what the watch refuses (``RiskWatchError``, ``RiskWatchConfigError``,
``RearmRefused``). The parts the watch is built of (``KillSwitch``, ``run_watch``,
``watchdog``, the breakers, ``Feed``, ``Book``, ``PnlLedger``) are
``nautilus_riskwatch.core``'s.
"""

from typing import TYPE_CHECKING, Any

from nautilus_riskwatch.core import (
    DailyLossBreached,
    DrawdownBreached,
    ExposureBreached,
    FirmKill,
    FirmUnreachable,
    ManualKill,
    NoExchangeRate,
    RiskOff,
    RunawayDetected,
    StalenessError,
    TrailingDrawdownBreached,
    Trip,
    WatchFailure,
    read_event_log,
    records_from,
)
from nautilus_riskwatch.errors import RiskWatchConfigError, RiskWatchError

if TYPE_CHECKING:
    from nautilus_riskwatch.nautilus import (
        FirmConfig,
        KillCommand,
        LossLimit,
        RearmCommand,
        RearmRefused,
        RiskWatch,
        RiskWatchConfig,
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
        "RearmCommand",
        "RearmRefused",
        "RiskWatch",
        "RiskWatchConfig",
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
    "DailyLossBreached",
    "DrawdownBreached",
    "ExposureBreached",
    "FirmConfig",
    "FirmKill",
    "FirmUnreachable",
    "KillCommand",
    "LossLimit",
    "ManualKill",
    "NoExchangeRate",
    "RearmCommand",
    "RearmRefused",
    "RiskOff",
    "RiskWatch",
    "RiskWatchConfig",
    "RiskWatchConfigError",
    "RiskWatchError",
    "RunawayDetected",
    "StalenessError",
    "TrailingDrawdownBreached",
    "Trip",
    "WatchFailure",
    "WatchedFeed",
    "command_endpoint",
    "next_record",
    "read_event_log",
    "records_from",
    "risk_off_topic",
]
