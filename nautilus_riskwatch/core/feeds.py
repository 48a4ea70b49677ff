"""The bridge from engine callbacks to ``read_one()``.

Engine callbacks are synchronous and must never block or raise, and a burst of a million
messages in one instant must not grow memory. So a ``Feed`` holds one slot: the newest
message wins. That is exactly what its readers need: a watchdog only asks *whether and when*
something arrived, and the breaker only cares about the newest loss (an older mark is worth
nothing once a newer one exists). The count of arrivals is kept for the record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Feed(Generic[T]):
    """One watched stream: ``put`` from the engine side, ``read_one`` from the watch side.

    Parameters
    ----------
    name : str
        What the feed is, as an operator would name it (``"EUR/USD.SIM quotes"``).
    loop_time : Callable[[], float]
        The watch's loop time (the event loop's ``time``), read once per arrival.

    A feed has a single reader. ``put`` is O(1), allocates nothing and wakes the reader only
    if it is waiting, so a feed nobody is waiting on costs one attribute store per message.
    """

    __slots__ = (
        "_arrived_at",
        "_first_unread_at",
        "_hit",
        "_latest",
        "_loop_time",
        "_unread",
        "_until",
        "_waiter",
        "name",
        "received",
    )

    def __init__(self, name: str, loop_time: Callable[[], float]) -> None:
        self.name = name
        self.received = 0
        self._loop_time = loop_time
        self._latest: T | None = None
        self._arrived_at: float | None = None
        self._first_unread_at: float | None = None
        self._unread = False
        self._waiter: asyncio.Future[None] | None = None
        self._until: Callable[[T], bool] | None = None
        self._hit: tuple[T] | None = None

    @property
    def arrived_at(self) -> float | None:
        """When the newest message arrived, in loop time (``None``: nothing yet)."""
        return self._arrived_at

    @property
    def first_unread_at(self) -> float | None:
        """When the oldest message not yet read arrived (``None``: everything was read).

        The slot keeps only the newest message, but a watchdog must know whether anything
        came *in time*, which the oldest unread arrival answers.
        """
        return self._first_unread_at if self._unread else None

    def put(self, message: T) -> None:
        """Hand over a message. Never blocks, never raises, keeps only the newest."""
        self.arrive(message, self._loop_time())

    def arrive(self, message: T, now: float) -> None:
        """``put``, for a caller that already knows the loop time now (the engine's data
        callbacks, once per message: one call less on the hottest path)."""
        self._latest = message
        self._arrived_at = now
        if not self._unread:
            self._unread = True
            self._first_unread_at = now
        self.received += 1
        until = self._until
        if until is not None:
            if self._hit is not None:
                return
            try:
                matched = until(message)
            except Exception:  # not ours to raise here: the reader will meet it again
                matched = True
            if not matched:
                return
            self._hit = (message,)  # kept for the reader, whatever comes after it
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def read_one(self, until: Callable[[T], bool] | None = None) -> T:
        """Return the newest message not yet read, waiting for one if there is none.

        With ``until``, return the first message for which ``until(message)`` is true:
        ``put`` asks the predicate and wakes the reader only then, so a reader that cares
        about one value in a million costs one call per message and no task switch. The
        message that matched is kept for the reader even if newer ones arrive before it
        runs (on a busy live loop they do): a breach seen once is not lost to a recovery.
        The predicate stays registered between reads; each read may replace it.
        """
        if until is None:
            self._until = self._hit = None
            if not self._unread:
                await self._wait()
            self._unread = False
            return self._latest  # type: ignore[return-value]  # set by put before _unread
        if self._until is not until:
            self._until, self._hit = until, None
            if self._unread and until(self._latest):  # type: ignore[arg-type]
                self._hit = (self._latest,)  # type: ignore[assignment]
        if self._hit is None:
            await self._wait()
        assert self._hit is not None
        (message,) = self._hit
        self._hit = None
        self._unread = False
        return message

    async def _wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None
