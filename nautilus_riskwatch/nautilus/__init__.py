"""The thin NautilusTrader adapter: the actor, its config, the book and the ledger."""

from nautilus_riskwatch.nautilus.actor import RiskWatch
from nautilus_riskwatch.nautilus.book import NautilusBook
from nautilus_riskwatch.nautilus.commands import (
    KillCommand,
    RearmCommand,
    RearmRefused,
    command_endpoint,
    next_record,
    risk_off_topic,
)
from nautilus_riskwatch.nautilus.config import (
    FirmConfig,
    LossLimit,
    RiskWatchConfig,
    RiskWatchConfigError,
    WatchedFeed,
)
from nautilus_riskwatch.nautilus.ledger import PnlLedger

__all__ = [
    "FirmConfig",
    "KillCommand",
    "LossLimit",
    "NautilusBook",
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
]
