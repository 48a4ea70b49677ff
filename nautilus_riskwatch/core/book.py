"""``Book``: what the cascade and the hold after it need from a trading engine.

A protocol, so the core imports nothing of an engine: the NautilusTrader adapter
(``nautilus/book.py``) implements it over a cache and a message bus, the tests over a fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from nautilus_riskwatch.core.record import RiskOff


class Book(Protocol):
    """What the cascade needs from a trading engine. Ids are strings."""

    def now_ns(self) -> int:
        """The engine's time, in nanoseconds since the epoch."""
        ...

    def halt(self) -> str:
        """Stop anyone adding risk; return the resulting trading state, for the record."""
        ...

    def resting_orders(self) -> tuple[list[str], list[str]]:
        """Return (open orders to cancel, protective orders to keep)."""
        ...

    def places(self, order_ids: Sequence[str]) -> dict[str, str]:
        """Return where each of these orders is held (a venue, an emulator ...)."""
        ...

    def cancel(self, order_ids: Sequence[str]) -> None:
        """Send cancels for these orders (again, on a retry)."""
        ...

    def open_orders_among(self, order_ids: Sequence[str]) -> list[str]:
        """Return those of ``order_ids`` not yet in a terminal state."""
        ...

    def cancel_refused(self, order_ids: Sequence[str]) -> list[str]:
        """Return those of ``order_ids`` still live whose last answer refused a cancel."""
        ...

    def filled_among(self, order_ids: Sequence[str]) -> list[str]:
        """Return those of ``order_ids`` that ended filled (the venue filled them first)."""
        ...

    def open_positions(self) -> tuple[list[str], list[str]]:
        """Return (open positions to flatten, protective hedges to keep)."""
        ...

    def flatten(self, position_ids: Sequence[str]) -> list[str]:
        """Send reduce-only closes for whatever of these is not already being closed;
        return the positions a close was sent for (none for one the book gave up on)."""
        ...

    def closing(self, position_ids: Sequence[str]) -> list[str]:
        """Return those of ``position_ids`` with a close of the watch still working."""
        ...

    def close_failures(self) -> dict[str, list[str]]:
        """Return, per position, each close of the watch that was refused (and why)."""
        ...

    def live_after(self) -> list[str]:
        """Return what of the book is still live, read back from the engine itself."""
        ...

    async def changed(self) -> None:
        """Return at the next order or position event."""
        ...

    def publish(self, record: RiskOff) -> None:
        """Make the finished record known (message bus, log)."""
        ...
