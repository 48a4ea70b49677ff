"""The staleness watchdog: a deadline per feed, and missing it *is* the trip.

Why lazy: a watchdog that woke on every message would pay a task switch per quote. Instead
an arrival only notes its time (``Feed.put``), and the watchdog wakes once per deadline:
it sleeps until the deadline, then reads with ``asyncio.timeout_at(deadline)`` around the
read. If anything arrived meanwhile the read returns at once and the deadline moves to the
newest arrival plus the bound; if nothing did, the read waits and the timeout fires at the
deadline itself, in loop time, to the nanosecond in a backtest. No timestamp
polling: between deadlines the watchdog does not run at all.
"""

from __future__ import annotations

import asyncio
from typing import NoReturn

from nautilus_riskwatch.core.event_log import emit
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.trips import StalenessError


async def watchdog(feed: Feed[object], bound: float) -> NoReturn:
    """Raise ``StalenessError`` once ``feed`` has been silent for ``bound`` seconds.

    The bound runs from the moment the watchdog starts, so a feed that never delivers its
    first message trips too. A message that arrives exactly at the deadline is late.
    """
    if not bound > 0:
        raise ValueError(f"bound must be a positive number of seconds, got {bound!r}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    while True:
        first = feed.first_unread_at
        try:
            async with asyncio.timeout_at(deadline):
                await feed.read_one()
        except TimeoutError:
            emit("deadline", feed=feed.name, bound=bound, received=feed.received)
            raise StalenessError(feed.name, bound) from None
        if first is None:  # it came while we waited, so before the timeout fired
            first = feed.arrived_at
        assert first is not None
        if first >= deadline:
            # Seen after the deadline (a busy live loop woke us late): the gap was real.
            emit("deadline", feed=feed.name, bound=bound, received=feed.received, late=True)
            raise StalenessError(feed.name, bound)
        newest = feed.arrived_at
        assert newest is not None
        deadline = newest + bound
        await sleep_until(deadline)


async def sleep_until(when: float) -> None:
    """Sleep to an absolute loop time, exactly (``asyncio.sleep`` would re-add floats)."""
    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()
    handle = loop.call_at(when, _wake, woken)
    try:
        await woken
    finally:
        handle.cancel()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
