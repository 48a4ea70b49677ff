"""Waiting on a live node's loop for something the test expects, in real time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(predicate: Callable[[], object], timeout: float) -> None:
    """Poll ``predicate`` every 5 ms on the running loop; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout}s")
        await asyncio.sleep(0.005)
