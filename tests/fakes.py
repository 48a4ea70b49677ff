"""A fake Book and a fake engine clock for testing the core without NautilusTrader."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from nautilus_riskwatch.core.record import RiskOff


class FakeBook:
    """A venue in miniature: orders and positions, confirmations after ``latency`` seconds.

    ``responsive=False`` makes it a silent venue: commands are logged, never answered.
    ``on_changed_wait`` is called each time the cascade starts waiting for an event, with
    the stage name, so a test can strike (cancel the watch) at exactly that await.
    """

    def __init__(
        self,
        orders: Sequence[str] = (),
        protective_orders: Sequence[str] = (),
        positions: Sequence[str] = (),
        hedges: Sequence[str] = (),
        latency: float = 0.001,
        responsive: bool = True,
    ) -> None:
        self.open_orders = set(orders) | set(protective_orders)
        self.protective_orders = set(protective_orders)
        self.positions = set(positions) | set(hedges)
        self.hedges = set(hedges)
        self.latency = latency
        self.responsive = responsive
        self.commands: list[tuple[str, str]] = []
        self.published: list[RiskOff] = []
        self.halted = False
        self.on_changed_wait: Callable[[str], None] | None = None
        self.stage = ""
        self._waiters: list[asyncio.Future[None]] = []
        self._closing: set[str] = set()
        self._unanswered: set[str] = set()  # closes sent and never answered (silent)
        self.filled: set[str] = set()
        self.ns = 1_000
        self.held_by: dict[str, str] = {}
        # live by the engine's account, but never listed by resting_orders (a path the
        # book does not look at): only the final read-back can see it
        self.hidden_orders: set[str] = set()

    # --- Book protocol -------------------------------------------------------------------
    def now_ns(self) -> int:
        self.ns += 1
        return self.ns

    def halt(self) -> str:
        self.halted = True
        return "HALTED"

    def resting_orders(self) -> tuple[list[str], list[str]]:
        self.stage = "cancel"
        cancel = sorted(self.open_orders - self.protective_orders)
        return cancel, sorted(self.open_orders & self.protective_orders)

    def places(self, order_ids: Sequence[str]) -> dict[str, str]:
        return {o: self.held_by.get(o, "venue") for o in order_ids}

    def live_after(self) -> list[str]:
        orders = sorted((self.open_orders - self.protective_orders) | self.hidden_orders)
        positions = sorted(self.positions - self.hedges)
        return [f"order {o}" for o in orders] + [f"position {p}" for p in positions]

    def cancel(self, order_ids: Sequence[str]) -> None:
        loop = asyncio.get_running_loop()
        for order in order_ids:
            self.commands.append(("cancel", order))
            if self.responsive:
                loop.call_later(self.latency, self._cancelled, order)

    def open_orders_among(self, order_ids: Sequence[str]) -> list[str]:
        return [o for o in order_ids if o in self.open_orders]

    def cancel_refused(self, order_ids: Sequence[str]) -> list[str]:
        return []

    def filled_among(self, order_ids: Sequence[str]) -> list[str]:
        return [o for o in order_ids if o in self.filled]

    def open_positions(self) -> tuple[list[str], list[str]]:
        self.stage = "flatten"
        return sorted(self.positions - self.hedges), sorted(self.positions & self.hedges)

    def flatten(self, position_ids: Sequence[str]) -> list[str]:
        loop = asyncio.get_running_loop()
        sent = []
        for position in position_ids:
            if position in self._closing:
                continue
            self.commands.append(("close", position))
            sent.append(position)
            self._unanswered.add(position)
            if self.responsive:
                self._closing.add(position)
                loop.call_later(self.latency, self._closed, position)
        return sent

    def closing(self, position_ids: Sequence[str]) -> list[str]:
        """A silent venue never answers a close: it stays working (waited for)."""
        return [p for p in position_ids if p in self._closing or p in self._unanswered]

    def close_failures(self) -> dict[str, list[str]]:
        return {}

    async def changed(self) -> None:
        if self.on_changed_wait is not None:
            self.on_changed_wait(self.stage)
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

    def publish(self, record: RiskOff) -> None:
        self.published.append(record)

    # --- venue side ----------------------------------------------------------------------
    def fill(self, order: str, position: str) -> None:
        """A resting order fills (the race with its cancel): it opens a position."""
        self.open_orders.discard(order)
        self.filled.add(order)
        self.positions.add(position)
        self.notify()

    def _cancelled(self, order: str) -> None:
        self.open_orders.discard(order)
        self.notify()

    def _closed(self, position: str) -> None:
        self._closing.discard(position)
        self._unanswered.discard(position)
        self.positions.discard(position)
        self.notify()

    def notify(self) -> None:
        """Something changed at the venue: wake every ``changed`` waiter (as
        ``NautilusBook.notify`` does on each order or position event)."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    @property
    def flat(self) -> bool:
        return self.open_orders <= self.protective_orders and self.positions <= self.hedges


class FakeEngineClock:
    """Behaves like a backtest ``TestClock``: alerts fire at their exact nanosecond."""

    def __init__(
        self, start_ns: int = 1_577_898_000_000_000_000, holds_while_firing: bool = False
    ) -> None:
        self.now = start_ns
        self.alerts: dict[str, tuple[int, Callable[[object], None]]] = {}
        self.alerts_set = 0
        #: keep a firing alert's name until its callback returns (nautilus_trader 1.231's
        #: backtest engine does, flushing its last events at the end of a run)
        self.holds_while_firing = holds_while_firing

    def timestamp_ns(self) -> int:
        return self.now

    def set_time_alert_ns(
        self, name: str, alert_time_ns: int, callback: Callable[[object], None]
    ) -> None:
        assert name not in self.alerts, f"alert {name!r} already set"
        assert alert_time_ns > self.now, "alert in the past"
        self.alerts[name] = (alert_time_ns, callback)
        self.alerts_set += 1

    def cancel_timer(self, name: str) -> None:
        del self.alerts[name]

    def advance_to(self, ns: int) -> None:
        """Fire every alert due up to ``ns`` at its own time, then stop at ``ns``."""
        while self.alerts:
            name, (when, callback) = min(self.alerts.items(), key=lambda kv: kv[1][0])
            if when > ns:
                break
            self.now = when
            if self.holds_while_firing:
                callback(object())
                del self.alerts[name]
                continue
            del self.alerts[name]
            callback(object())
        self.now = ns
