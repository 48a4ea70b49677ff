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

T = TypeVar("T")


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A standard-library loop whose time starts at 0.0 and only moves when idle."""

    def __init__(self) -> None:
        super().__init__()
        self._virtual_now = 0.0

    def time(self) -> float:
        return self._virtual_now

    def _run_once(self) -> None:
        scheduled = self._scheduled  # type: ignore[attr-defined]
        if not self._ready and scheduled:  # type: ignore[attr-defined]
            earliest = scheduled[0].when()
            if earliest > self._virtual_now:
                self._virtual_now = earliest
        super()._run_once()  # type: ignore[misc]


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a ``VirtualTimeLoop``."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)


def test_virtual_time_jumps_and_keeps_order():
    async def main():
        loop = asyncio.get_running_loop()
        order = []
        loop.call_later(3600.0, order.append, "hour")
        loop.call_later(0.5, order.append, "half")
        await asyncio.sleep(7200.0)
        return loop.time(), order

    now, order = run_virtual(main())
    assert now == 7200.0 and order == ["half", "hour"]
