"""Loop time: where the watch's deadlines get their time, simulated (backtest) or live.

``LoopTime`` is the protocol the actor is written against; ``SimulatedTime`` and
``LiveTime`` satisfy it. ``LoopOrigin`` is the one conversion between the engine's
nanoseconds and the loop's seconds. Nothing here imports nautilus_trader.
"""

from nautilus_riskwatch.looptime.live import LiveTime
from nautilus_riskwatch.looptime.origin import (
    NS_PER_SECOND,
    LoopOrigin,
    ns_to_seconds,
    seconds_to_ns,
    utc,
)
from nautilus_riskwatch.looptime.protocol import LoopTime
from nautilus_riskwatch.looptime.virtual import SimulatedTime, VirtualTimeLoop

__all__ = [
    "NS_PER_SECOND",
    "LiveTime",
    "LoopOrigin",
    "LoopTime",
    "SimulatedTime",
    "VirtualTimeLoop",
    "ns_to_seconds",
    "seconds_to_ns",
    "utc",
]
