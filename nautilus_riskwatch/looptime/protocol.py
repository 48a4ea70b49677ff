"""``LoopTime``: what the watch needs from where its loop gets its time.

Two implementations satisfy it: ``SimulatedTime`` (a backtest: a private loop stepped by the
engine's simulated clock) and ``LiveTime`` (a live node: the node's own loop). The actor is
written against this protocol alone, so the same code runs in both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from nautilus_riskwatch.looptime.origin import LoopOrigin


class LoopTime(Protocol):
    """The watch's event loop and its time.

    ``loop`` runs the watch's tasks; ``origin`` ties its time to the engine's nanoseconds.
    The engine's callbacks hand a message over between ``sync`` (bring the loop's time up
    to the engine's) and ``settle`` (run what became ready); ``step`` is both, for a callback
    with no message. ``call`` runs a callback on the loop from anywhere; ``close`` ends the
    watch's use of the loop.
    """

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the watch's tasks run on."""
        ...

    @property
    def origin(self) -> LoopOrigin:
        """The engine instant at loop time zero."""
        ...

    def now_ns(self) -> int:
        """The watch's time now, in engine nanoseconds since the epoch."""
        ...

    @property
    def now(self) -> float:
        """The loop's time as of the last ``sync`` (a message's arrival time)."""
        ...

    def sync(self) -> None:
        """Bring the loop's time up to the engine's, before a message is handed over."""
        ...

    def settle(self) -> None:
        """Run what is ready or due at the loop's time, after the hand-over."""
        ...

    def step(self) -> None:
        """``sync`` then ``settle``."""
        ...

    def on_loop(self) -> bool:
        """The caller runs on the watch's loop now (a callback of it, or one of its tasks)."""
        ...

    def call(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop, from any thread."""
        ...

    def close(self) -> None:
        """The watch stops: release what it holds of the loop."""
        ...
