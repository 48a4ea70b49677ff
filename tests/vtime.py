"""Virtual time for the core tests: the loop's time jumps to the next deadline when idle.

The core is pure asyncio, so its timing (a watchdog's bound, a cascade's confirm timeout)
is tested on a loop whose ``time()`` never reads the wall clock. When nothing is ready to
run, the loop moves its time straight to the earliest scheduled callback, so a test that
waits 5 s of loop time takes microseconds, and a loaded CI machine cannot make a deadline
fire early or late. (The same idea as the looptime and trio's MockClock: one seam,
``time()``, and time only moves when everything is idle.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from nautilus_riskwatch.looptime import VirtualTimeLoop

T = TypeVar("T")


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a ``VirtualTimeLoop`` (the watch's own, with the standard selector)."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)
