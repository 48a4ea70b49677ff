"""The thin NautilusTrader adapter: the actor, its config, the book and its guards.

Its public names are listed once, in the package's top level (``nautilus_riskwatch``),
which loads the adapter's from here on first use; each is re-exported here by name
(``X as X``).
"""

from nautilus_riskwatch.nautilus.actor import RiskWatch as RiskWatch
from nautilus_riskwatch.nautilus.book import NautilusBook as NautilusBook
from nautilus_riskwatch.nautilus.commands import KillCommand as KillCommand
from nautilus_riskwatch.nautilus.commands import RearmCommand as RearmCommand
from nautilus_riskwatch.nautilus.commands import RearmRefused as RearmRefused
from nautilus_riskwatch.nautilus.commands import command_endpoint as command_endpoint
from nautilus_riskwatch.nautilus.commands import next_record as next_record
from nautilus_riskwatch.nautilus.commands import risk_off_topic as risk_off_topic
from nautilus_riskwatch.nautilus.config import FirmConfig as FirmConfig
from nautilus_riskwatch.nautilus.config import LossLimit as LossLimit
from nautilus_riskwatch.nautilus.config import RiskWatchConfig as RiskWatchConfig
from nautilus_riskwatch.nautilus.config import WatchedFeed as WatchedFeed
