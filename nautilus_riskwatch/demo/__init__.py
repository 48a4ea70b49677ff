"""A small, offline demo world: real EUR/USD quotes, a trader, a hedger, and an engine.

Used by the README demo, the examples and the tests, so that what is demonstrated is what
is tested. **Not API**: it ships in the wheel (with its data file) so that the quick start
runs from an installed package, but its names may change in any release; build your own
engine and strategies from NautilusTrader, not from this.
"""

from nautilus_riskwatch.demo.data import (
    EURUSD_CSV,
    eurusd_bars,
    eurusd_instrument,
    eurusd_quotes,
)
from nautilus_riskwatch.demo.engine import DemoRun, build_engine
from nautilus_riskwatch.demo.strategies import (
    DemoHedger,
    DemoHedgerConfig,
    DemoTrader,
    DemoTraderConfig,
)

__all__ = [
    "EURUSD_CSV",
    "DemoHedger",
    "DemoHedgerConfig",
    "DemoRun",
    "DemoTrader",
    "DemoTraderConfig",
    "build_engine",
    "eurusd_bars",
    "eurusd_instrument",
    "eurusd_quotes",
]
