"""``OrderGate``: after a trip no new order of a guarded strategy reaches a venue, by any path.

NautilusTrader has four doors to a venue, and the RiskEngine's trading state guards only
one of them. ``Strategy.submit_order`` sends an order to the ``RiskEngine``, to the
``OrderEmulator`` (an ``emulation_trigger``) or to an execution algorithm (an
``exec_algorithm_id``); the emulator releases a triggered order, and an algorithm its
spawned children, straight to the ``ExecEngine``. So HALTED alone lets an emulated stop
through. The gate stands in front of every one of those endpoints (``RiskEngine.execute``,
``OrderEmulator.execute``, each algorithm's ``<id>.execute`` and ``ExecEngine.execute``,
the funnel every submission reaches last) and asks each tripped book whether an order may
pass. A blocked order is denied the way the RiskEngine denies one: an ``OrderDenied``
event with the reason, so the strategy hears about it in ``on_order_denied``.

One gate per message bus, shared by every watch on it: two watches in one engine add
their books to the same gate instead of wrapping each other's handlers.

The handlers already registered at those endpoints are found in the bus's endpoint table
(NautilusTrader exposes no getter for it: ``engine_hooks.endpoint_table`` reads it; if a
future version hides it, the start-time probe says so and the watch runs with the
RiskEngine's trading state only, logged as degraded).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import ModifyOrder, SubmitOrder, SubmitOrderList
from nautilus_trader.model.enums import OrderStatus
from nautilus_trader.model.events import OrderDenied

from nautilus_riskwatch.nautilus.engine_hooks import EXEC_ENGINE, endpoint_table, is_exec_algorithm
from nautilus_riskwatch.nautilus.runaway import watch_refusal

RISK_ENGINE = "RiskEngine.execute"
EMULATOR = "OrderEmulator.execute"


class Blocker(Protocol):
    """A tripped book's say on an order: ``None`` lets it pass, a reason denies it."""

    def denies(self, order: Any, position_id: Any = None) -> str | None:
        """Why ``order`` may not pass (``None``: it may); ``position_id`` is the one its
        command names (a HEDGING venue reduces only the position named)."""
        ...

    def keeps_own(self, order: Any) -> bool:
        """The book keeps this order itself (live and protective at its trip, or spawned
        from such an order by an execution algorithm)."""
        ...

    def closes(self, order: Any) -> bool:
        """The order is one of the book's watch's own closes."""
        ...

    def would_keep(self, order: Any) -> bool:
        """The book's watch guards the order's strategy and calls the order protective:
        it keeps it when it trips."""
        ...

    def holds_trading_state(self) -> bool:
        """The RiskEngine is in the trading state this book's trip set."""
        ...

    def closes_working(self, position: Any) -> list[Any]:
        """The book's watch's closes of ``position`` still open."""
        ...

    @property
    def blocking(self) -> str | None:
        """The reason the book's denials give while it blocks (``None``: it does not)."""
        ...


class OrderGate:
    """Denies submissions that a tripped book blocks, on every path to a venue."""

    _by_bus: ClassVar[dict[int, OrderGate]] = {}

    @classmethod
    def for_bus(cls, msgbus: Any, clock: Any, cache: Any, log: Any) -> OrderGate:
        """The gate of this message bus (made on first use, shared by every watch)."""
        gate = cls._by_bus.get(id(msgbus))
        if gate is None or gate._msgbus is not msgbus:
            gate = cls._by_bus[id(msgbus)] = cls(msgbus, clock, cache, log)
        return gate

    def __init__(self, msgbus: Any, clock: Any, cache: Any, log: Any) -> None:
        self._msgbus = msgbus
        self._clock = clock
        self._cache = cache
        self._log = log
        self._blockers: list[Blocker] = []
        # Every book of every watch on this bus, tripped or not: their closes pass.
        self._closers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._users: set[int] = set()
        self._wrapped: dict[str, Callable[[Any], None]] = {}  # endpoint -> original handler
        self._handlers: dict[str, Callable[[Any], None]] = {}  # endpoint -> our handler
        self.denied: dict[str, int] = {}  # strategy id -> orders denied

    # --- who uses the gate ------------------------------------------------------------------
    def attach(self, user: object) -> None:
        """A watch starts: stand in front of the endpoints (once, for every watch)."""
        self._users.add(id(user))
        self._install()

    def detach(self, user: object) -> None:
        """A watch stops; the last one out puts the engine's own handlers back."""
        self._users.discard(id(user))
        if not self._users:
            self._blockers.clear()
            self._uninstall()
            if OrderGate._by_bus.get(id(self._msgbus)) is self:
                del OrderGate._by_bus[id(self._msgbus)]

    def add(self, blocker: Blocker) -> None:
        """A tripped book: from now on it has its say on every submission."""
        if blocker not in self._blockers:
            self._blockers.append(blocker)

    def remove(self, blocker: Blocker) -> None:
        """A re-armed (or stopped) book no longer blocks anything."""
        if blocker in self._blockers:
            self._blockers.remove(blocker)

    def know(self, book: Blocker) -> None:
        """A book of a watch on this bus: its closes pass every other watch's block.

        Held weakly: a watch that rebuilds its books on a restart leaves no stale ones."""
        self._closers.add(book)

    def refused(self, reason: str) -> bool:
        """Whether a refusal with ``reason`` is a watch's own after a trip: the denial of a
        tripped book on this bus, or the RiskEngine's trading-state refusal while a tripped
        book's state holds (``runaway.watch_refusal``). A runaway guard counts neither."""
        blockers = self._blockers
        if not blockers:
            return False
        blocks = {b.blocking for b in blockers if b.blocking is not None}
        return watch_refusal(reason, blocks, lambda: any(b.holds_trading_state() for b in blockers))

    def kept_by_another(self, order: Any, book: Blocker) -> bool:
        """Whether a book other than ``book`` keeps ``order``: a tripped one keeps it, or
        any book of a watch on the bus would keep it on its trip (its protective rule over
        its guarded strategies). Then no watch's cascade cancels it, whichever watch trips
        first; a tripped one's keep also means no watch denies it."""
        if any(b is not book and b.keeps_own(order) for b in self._blockers):
            return True
        return any(b is not book and b.would_keep(order) for b in list(self._closers))

    def closes_of_others(self, position: Any, book: Blocker) -> list[Any]:
        """The closes of ``position`` that the watches of books other than ``book`` still
        have open: what two watches tripping together must not both send."""
        return [o for b in list(self._closers) if b is not book for o in b.closes_working(position)]

    # --- in front of the endpoints ----------------------------------------------------------
    def _install(self) -> None:
        table = endpoint_table(self._msgbus)
        if table is None:  # the start-time probe has said so (engine_hooks)
            return
        for endpoint, handler in list(table.items()):
            if endpoint in self._wrapped or not self._gated(endpoint, handler):
                continue
            ours = self._handler_for(handler, endpoint)
            self._msgbus.deregister(endpoint=endpoint, handler=handler)
            self._msgbus.register(endpoint=endpoint, handler=ours)
            self._wrapped[endpoint] = handler
            self._handlers[endpoint] = ours

    def _uninstall(self) -> None:
        for endpoint, original in self._wrapped.items():
            try:
                self._msgbus.deregister(endpoint=endpoint, handler=self._handlers[endpoint])
                self._msgbus.register(endpoint=endpoint, handler=original)
            except Exception as error:  # someone else re-registered it: leave theirs
                self._log.warning(f"RiskWatch: could not restore {endpoint}: {error!r}")
        self._wrapped.clear()
        self._handlers.clear()

    @staticmethod
    def _gated(endpoint: str, handler: Any) -> bool:
        if endpoint in (RISK_ENGINE, EMULATOR, EXEC_ENGINE):
            return True
        return endpoint.endswith(".execute") and is_exec_algorithm(handler)

    def _handler_for(self, original: Callable[[Any], None], endpoint: str) -> Callable[[Any], None]:
        past_halt = endpoint == RISK_ENGINE

        def execute(command: Any) -> None:
            if self._blockers and isinstance(command, SubmitOrder | SubmitOrderList):
                orders = _orders_of(command)
                why = self._why_denied(orders, getattr(command, "position_id", None))
                if why is not None:
                    self._deny(orders, why)
                    return
                if past_halt and self._kept_past_halt(orders):
                    # A kept order keeps working through whatever works it: an execution
                    # algorithm submits its slices and its remainder through the RiskEngine,
                    # whose trading state the watch itself set. They go on to the venue the
                    # way the watch's own closes do.
                    self._msgbus.send(endpoint=EXEC_ENGINE, msg=command)
                    return
            elif past_halt and self._blockers and isinstance(command, ModifyOrder):
                if self._kept_modify(command):
                    # HALTED rejects every modify: a kept stop may still be trailed
                    self._msgbus.send(endpoint=EXEC_ENGINE, msg=command)
                    return
            original(command)

        return execute

    def _why_denied(self, orders: tuple[Any, ...], position_id: Any = None) -> str | None:
        """Whose orders pass: a close of any watch on the bus (it only reduces, and two
        watches must never block each other's risk-off) and an order any tripped watch
        keeps (none denies what another keeps); the rest as each tripped book says."""
        for order in orders:
            if any(book.closes(order) for book in self._closers):
                continue
            if any(blocker.keeps_own(order) for blocker in self._blockers):
                continue
            for blocker in self._blockers:
                why = blocker.denies(order, position_id)
                if why is not None:
                    return why
        return None

    def _kept_modify(self, command: ModifyOrder) -> bool:
        """A modify of a kept order that does not grow it (a stop trailed, a price moved)
        goes past the trading state the watch set; one that grows it is judged as usual."""
        order = self._cache.order(command.client_order_id)
        if order is None or not self._kept_past_halt((order,)):
            return False
        quantity = command.quantity
        return quantity is None or quantity <= order.quantity

    def _kept_past_halt(self, orders: tuple[Any, ...]) -> bool:
        """Every order is kept by a tripped book whose trading state is still in force
        (a state someone else set since is theirs to enforce)."""
        holding = [b for b in self._blockers if b.holds_trading_state()]
        return bool(holding) and all(any(b.keeps_own(o) for b in holding) for o in orders)

    def _deny(self, orders: tuple[Any, ...], why: str) -> None:
        """All of a command's orders are denied together, as the RiskEngine denies a list."""
        for order in orders:
            if order.status not in (OrderStatus.INITIALIZED, OrderStatus.RELEASED):
                continue
            # counted here for the metrics; each tripped watch writes (the first few) and
            # counts it per trip when the OrderDenied reaches it (``core.denials``)
            strategy = str(order.strategy_id)
            self.denied[strategy] = self.denied.get(strategy, 0) + 1
            if not self._cache.order_exists(order.client_order_id):
                self._cache.add_order(order)
            self._msgbus.send(
                endpoint="ExecEngine.process",
                msg=OrderDenied(
                    trader_id=order.trader_id,
                    strategy_id=order.strategy_id,
                    instrument_id=order.instrument_id,
                    client_order_id=order.client_order_id,
                    reason=why,
                    event_id=UUID4(),
                    ts_init=self._clock.timestamp_ns(),
                ),
            )


def _orders_of(command: SubmitOrder | SubmitOrderList) -> tuple[Any, ...]:
    """The orders a submission carries: one, or a whole list (a bracket, OTO, OCO)."""
    if isinstance(command, SubmitOrder):
        return (command.order,)
    return tuple(command.order_list.orders)
