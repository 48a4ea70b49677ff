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


class LiveTime:
    """The running loop, used as it is."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, now_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self.loop = loop
        self.now_ns = now_ns

    def sync(self) -> None:
        """Nothing to do: the loop's clock is real time."""

    def step(self) -> None:
        """Nothing to do: the node's loop runs by itself."""

    def settle(self) -> None:
        """Nothing to do: the node's loop runs by itself."""

    def call(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop soon, from any thread."""
        if asyncio._get_running_loop() is self.loop:
            self.loop.call_soon(callback)
        else:
            self.loop.call_soon_threadsafe(callback)

    def close(self) -> None:
        """Cancel this watch's tasks; the loop belongs to the node and stays open."""
