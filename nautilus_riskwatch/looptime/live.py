"""Real time for the watch: the live node's own event loop.

On a live ``TradingNode`` the engine's data, bus and order callbacks run on the node's loop
thread, so messages go straight into the feeds and deadlines are ordinary
``asyncio.timeout`` deadlines on that loop. There is nothing to step. Timer callbacks and
operator calls may come from other threads: ``call`` hands them to the loop safely.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from nautilus_riskwatch.looptime.origin import LoopOrigin


class LiveTime:
    """The running loop, used as it is (a ``LoopTime``).

    Parameters
    ----------
    loop : asyncio.AbstractEventLoop
        The node's loop.
    now_ns : Callable[[], int]
        The engine's clock in nanoseconds since the epoch (``clock.timestamp_ns``).

    The loop's time is monotonic and the engine's is the wall clock: ``origin`` ties the two
    together once, when the watch starts (a daily reset falls at its UTC instant as of then).
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, now_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self.loop = loop
        self.now_ns = now_ns
        self.origin = LoopOrigin.at(now_ns(), loop.time())

    @property
    def now(self) -> float:
        """The loop's time now."""
        return self.loop.time()

    def sync(self) -> None:
        """Nothing to do: the loop's time is real time."""

    def step(self) -> None:
        """Nothing to do: the node's loop runs by itself."""

    def settle(self) -> None:
        """Nothing to do: the node's loop runs by itself."""

    def on_loop(self) -> bool:
        """The caller runs on the node's loop (not on another thread)."""
        return asyncio._get_running_loop() is self.loop

    def call(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop soon, from any thread."""
        if self.on_loop():
            self.loop.call_soon(callback)
        else:
            self.loop.call_soon_threadsafe(callback)

    def close(self) -> None:
        """Nothing to close: the loop belongs to the node and stays open.

        The actor has already cancelled the watch's own tasks (its supervisors and samplers)
        and hurried any cascade in flight; a hurried cascade is left to send its last
        commands on the node's loop, which is the point of shielding it.
        """
