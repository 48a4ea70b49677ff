"""Where the watch's deadlines get their time: simulated (backtest) or real (live)."""

from nautilus_riskwatch.clock.live import LiveTime
from nautilus_riskwatch.clock.virtual import SimulatedTime, VirtualTimeLoop

__all__ = ["LiveTime", "SimulatedTime", "VirtualTimeLoop"]
