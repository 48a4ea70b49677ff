"""``NautilusBook``: the cascade's commands, sent on the message bus for other strategies.

An Actor has no ``cancel_all_orders`` or ``close_position``, and the book it guards belongs
to other strategies. So the book builds the engine's own command objects on behalf of the
owning strategy and sends them where that strategy's own ``cancel_order`` would: an
emulated order to the ``OrderEmulator``, an order still held by an execution algorithm to
that algorithm, anything at (or on its way to) a venue to the ``ExecEngine``. Closes go to
the ``ExecEngine`` directly: straight past the RiskEngine's trading-state gate, which the
watch itself has just set so that nobody else adds risk. The owning strategies receive the
events of these orders as usual.

Orders are cancelled one by one, never with ``CancelAllOrders``: a venue may cancel every
order on the instrument for it (the simulated exchange ignores the strategy), including
another strategy's order still in flight, which no snapshot of the cache can rule out.

The rules the book applies live beside it: what is protective (``protective``), which live
orders a trip cancels and which it keeps (``plan``), where an order is held and where its
cancel goes (``orders``), the watch's own closes and their
escalation (``closes``), REDUCING judged net (``reducing``), and the RiskEngine's trading
state set and put back (``trading_state``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import CancelOrder, SubmitOrder
from nautilus_trader.model.enums import (
    OrderStatus,
)
from nautilus_trader.model.events import OrderCancelRejected
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId, PositionId, StrategyId

from nautilus_riskwatch.core.event_log import emit
from nautilus_riskwatch.core.record import RiskOff, scope_of
from nautilus_riskwatch.nautilus.closes import CloseIds, Closes, is_watch_close
from nautilus_riskwatch.nautilus.commands import risk_off_topic
from nautilus_riskwatch.nautilus.engine_hooks import EXEC_ENGINE
from nautilus_riskwatch.nautilus.event_log import command_fields
from nautilus_riskwatch.nautilus.gate import OrderGate
from nautilus_riskwatch.nautilus.orders import cancel_endpoint, held_by, live_orders
from nautilus_riskwatch.nautilus.plan import plan_cancels
from nautilus_riskwatch.nautilus.protective import is_protective, protected_qty
from nautilus_riskwatch.nautilus.reducing import reduces
from nautilus_riskwatch.nautilus.settings import Settings
from nautilus_riskwatch.nautilus.trading_state import SetTradingState

if TYPE_CHECKING:
    from nautilus_trader.common.actor import Actor
    from nautilus_trader.model.orders import Order
    from nautilus_trader.model.position import Position


class NautilusBook:
    """The ``Book`` of the core cascade, over a NautilusTrader cache and message bus.

    Parameters
    ----------
    actor : Actor
        The watch; its trader id, clock, cache, message bus and logger are used.
    settings : Settings
        Which strategies are guarded and what is protective.
    risk_engine : object, optional
        The ``RiskEngine`` to set the trading state on (``None``: not found, degraded).
    now_ns : Callable[[], int]
        The watch's time in engine nanoseconds (``LoopTime.now_ns``).
    strategy_id, instrument_id : optional
        Narrow the book to one strategy or one instrument (a scoped limit).
    gate : OrderGate, optional
        The order gate: after the trip the book denies its new orders there, on every
        path to a venue (the RiskEngine's trading state guards only one of them).
    close_ids : CloseIds, optional
        Where the closes' client order ids come from: one per watch, shared by its books
        (``None``: a book of its own).

    """

    def __init__(
        self,
        actor: Actor,
        settings: Settings,
        risk_engine: Any | None,
        now_ns: Callable[[], int],
        strategy_id: StrategyId | None = None,
        instrument_id: InstrumentId | None = None,
        gate: OrderGate | None = None,
        close_ids: CloseIds | None = None,
    ) -> None:
        self._actor = actor
        self._settings = settings
        self._trading_state = SetTradingState(risk_engine)
        self.now_ns = now_ns
        self._scope_strategy = strategy_id
        self._scope_instrument = instrument_id
        self._gate = gate
        if gate is not None:
            gate.know(self)
        self._waiters: list[asyncio.Future[None]] = []
        # After the trip: why new orders are denied (None: not blocking), and the orders
        # that were live and protective at the trip, which may still go to a venue.
        self._blocking: str | None = None
        self._reducing = False
        self._kept: set[ClientOrderId] = set()
        self._live_at_halt: list[Order] | None = None  # the live orders halt just read
        ids = close_ids if close_ids is not None else CloseIds(actor)
        self._closes = Closes(actor, settings, ids)  # its closes, and their escalation
        # Instruments this book holds that nothing prices yet: the owner fills it in.
        self.unmarked: Callable[[], list[str]] = list

    # --- what is guarded and what is protective ----------------------------------------
    def guards(self, strategy_id: StrategyId) -> bool:
        strategies = self._settings.strategies
        return strategies is None or strategy_id in strategies

    def covers(self, strategy_id: StrategyId, instrument_id: InstrumentId) -> bool:
        """True if this book (its scope, among the guarded strategies) includes them."""
        if self._scope_strategy is not None and strategy_id != self._scope_strategy:
            return False
        if self._scope_instrument is not None and instrument_id != self._scope_instrument:
            return False
        return self.guards(strategy_id)

    def is_protective_order(self, order: Order) -> bool:
        """The one rule of what is protective (``protective.is_protective``)."""
        return is_protective(order, self._actor.cache, self._settings)

    def keeps(self, order: Order) -> bool:
        """Whether the watch leaves ``order`` alone after its trip: never cancels it, never
        denies it. Kept are the protective orders live at the trip, the orders an execution
        algorithm spawns from them later, what another tripped watch on the engine keeps,
        and what another watch would keep when it trips (no watch cancels what another
        keeps, whichever trips first). Before a trip: nothing of its own."""
        if self.keeps_own(order):
            return True
        gate = self._gate
        return gate is not None and gate.kept_by_another(order, self)

    def would_keep(self, order: Order) -> bool:
        """Whether this book's watch keeps ``order`` when it trips: it guards the order's
        strategy and calls the order protective. Asked by every other watch on the engine
        before a cancel, tripped or not: a hedge must not lose its stop to whichever watch
        happened to trip first."""
        return self.guards(order.strategy_id) and self.is_protective_order(order)

    def keeps_own(self, order: Order) -> bool:
        """``keeps`` by this book's own trip alone (what the gate asks every book)."""
        kept = self._kept
        if order.client_order_id in kept:
            return True
        spawn = order.exec_spawn_id
        return spawn is not None and spawn in kept

    def closes(self, order: Order) -> bool:
        """True for a close this watch made: it only reduces, so no watch's gate denies it."""
        return self._is_ours(order)

    @property
    def blocking(self) -> str | None:
        """The reason this book's denials give while it blocks (``None``: it does not)."""
        return self._blocking

    def holds_trading_state(self) -> bool:
        """True while the RiskEngine is in the state this book's trip set."""
        return self._trading_state.holds()

    def protected_qty(self, position: Position) -> Decimal:
        """How much of an open position is a protective hedge (the rest is flattened)."""
        cache = self._actor.cache
        return protected_qty(position, cache, self._settings, self.is_protective_order)

    def _is_ours(self, order: Order) -> bool:
        return is_watch_close(order.tags, self._settings.close_tag)

    # --- after the trip: the gate asks ---------------------------------------------------
    def denies(self, order: Order, position_id: PositionId | None = None) -> str | None:
        """Why ``order`` may not go on to a venue now (``None``: it may)."""
        why = self._blocking
        if why is None or not self.covers(order.strategy_id, order.instrument_id):
            return None
        if self._is_ours(order) or order.client_order_id in self._kept:
            return None
        if self._reducing and reduces(self._actor.cache, order, position_id, self._closes.sent()):
            return None
        return why

    # --- the Book protocol --------------------------------------------------------------
    def halt(self) -> str:
        state = self._settings.trading_state
        scoped = self._scope_strategy or self._scope_instrument
        self._reducing = state is not None and state.name == "REDUCING"
        live = self._live_at_halt = self._live_orders()
        self._kept = {order.client_order_id for order in self._plan(live)[1]}
        if scoped is not None:
            # the record says what the gate lets through: under REDUCING the scope's own
            # reducing orders still go (``denies``), so "blocked" would misstate it
            how = "REDUCING" if self._reducing else "blocked"
            self._block(f"{self._watch}: {scoped} {how} after a trip of its limit")
            return f"{scoped} {how} (others trade on)"
        if state is None:
            return "unchanged (trading_state_on_trip=ACTIVE)"
        self._block(f"{self._watch}: trading {state.name} after a trip")
        if self._trading_state.risk_engine is None:
            self._actor.log.error("No RiskEngine found: the trading state could not be set")
            return f"unchanged: no RiskEngine found (degraded; the order gate is {state.name})"
        self._trading_state.set(state)
        return str(state.name)

    @property
    def _watch(self) -> str:
        """The watch, named once in a denial's reason: its id, with "RiskWatch" before it
        unless the id says so already (a second watch's ``component_id``)."""
        name = str(self._actor.id)
        return name if "riskwatch" in name.lower() else f"RiskWatch {name}"

    def _block(self, why: str) -> None:
        self._blocking = why
        if self._gate is not None:
            self._gate.add(self)

    def restore_trading_state(self) -> str:
        """Undo ``halt``, but only if the state is still the one the watch set."""
        blocked, self._blocking, self._kept = self._blocking, None, set()
        if self._gate is not None:
            self._gate.remove(self)
        if self._scope_strategy or self._scope_instrument:
            return "unblocked" if blocked else "not blocked"
        return self._trading_state.restore()

    def resting_orders(self) -> tuple[list[str], list[str]]:
        live, self._live_at_halt = self._live_at_halt, None  # the halt's read, if just made
        to_cancel, to_keep = self._plan(live if live is not None else self._live_orders())
        cancel = [order.client_order_id.value for order in to_cancel]
        kept = [order.client_order_id.value for order in to_keep]
        return cancel, kept

    def _plan(self, live: list[Order]) -> tuple[list[Order], list[Order]]:
        gate = self._gate

        def keeps(order: Order) -> bool:
            if self.is_protective_order(order):
                return True
            return gate is not None and gate.kept_by_another(order, self)

        return plan_cancels(live, keeps, self._actor.cache, self._actor.log.warning)

    def places(self, order_ids: Sequence[str]) -> dict[str, str]:
        """Where each of these orders is held now (venue, emulator, exec algorithm ...)."""
        cache = self._actor.cache
        found = ((i, cache.order(ClientOrderId(i))) for i in order_ids)
        return {i: held_by(order) for i, order in found if order is not None}

    def cancel(self, order_ids: Sequence[str]) -> None:
        cache = self._actor.cache
        for order_id in order_ids:
            order = cache.order(ClientOrderId(order_id))
            if order is None or order.is_closed:
                continue
            self._send(self._cancel_of(order), endpoint=cancel_endpoint(order))

    def open_orders_among(self, order_ids: Sequence[str]) -> list[str]:
        return self._among(order_ids, lambda order: not order.is_closed)

    def cancel_refused(self, order_ids: Sequence[str]) -> list[str]:
        return self._among(
            order_ids,
            lambda order: not order.is_closed and isinstance(order.last_event, OrderCancelRejected),
        )

    def filled_among(self, order_ids: Sequence[str]) -> list[str]:
        return self._among(order_ids, lambda order: order.status == OrderStatus.FILLED)

    def _among(self, order_ids: Sequence[str], holds: Callable[[Order], bool]) -> list[str]:
        """Those of ``order_ids`` the cache knows and for which ``holds(order)``."""
        cache = self._actor.cache
        found = ((i, cache.order(ClientOrderId(i))) for i in order_ids)
        return [i for i, order in found if order is not None and holds(order)]

    def open_positions(self) -> tuple[list[str], list[str]]:
        flatten, kept = [], []
        for position in self._actor.cache.positions_open():
            if not self.covers(position.strategy_id, position.instrument_id):
                continue
            protected = self.protected_qty(position)
            if protected < position.quantity.as_decimal():
                flatten.append(position.id.value)
            if protected > 0:
                kept.append(position.id.value)
        return flatten, kept

    def flatten(self, position_ids: Sequence[str]) -> list[str]:
        cache = self._actor.cache
        sent = []
        for position_id in position_ids:
            position = cache.position(PositionId(position_id))
            if position is None or position.is_closed:
                continue
            exposed = position.quantity.as_decimal() - self.protected_qty(position)
            remainder = exposed - self._working_qty(position)
            if remainder <= 0:
                continue  # what is in flight already closes it
            refused = self._closes.refused_in_a_row(position.id)
            if refused >= self._settings.close_attempts:
                continue  # every order type was refused as often as allowed: recorded
            self._send_close(position, remainder, step=refused)
            sent.append(position_id)
        return sent

    def closing(self, position_ids: Sequence[str]) -> list[str]:
        cache = self._actor.cache
        working = []
        for position_id in position_ids:
            position = cache.position(PositionId(position_id))
            if position is not None and self._working_qty(position) > 0:
                working.append(position_id)
        return working

    def closes_working(self, position: Position) -> list[Order]:
        return self._closes.working(position)

    def _working_qty(self, position: Position) -> Decimal:
        """What the closes in flight for ``position`` take off, every watch's on the bus."""
        gate = self._gate
        others = gate.closes_of_others(position, self) if gate is not None else ()
        return self._closes.working_qty(position, others)

    def close_failures(self) -> dict[str, list[str]]:
        """Every close of ours the venue (or a gate) refused, per position, with its reason."""
        return self._closes.failures()

    def live_after(self) -> list[str]:
        """What of the book is still live by the engine's own account, after the cascade.

        "Complete" is a fact read back from the cache, not the cascade's own tally: every
        live order of the book that is not protective, and every position with more than
        its protected quantity open.
        """
        left = [
            f"order {order.client_order_id} ({held_by(order)})"
            for order in self._live_orders()
            if not (self.keeps(order) or self.is_protective_order(order))
        ]
        for position in self._actor.cache.positions_open():
            if self.covers(position.strategy_id, position.instrument_id):
                size = position.quantity.as_decimal()
                if self.protected_qty(position) < size:
                    left.append(f"position {position.id} ({position.side.name} {size})")
        return left

    async def changed(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def publish(self, record: RiskOff) -> None:
        record.scope = self.scope
        record.unmarked = self.unmarked()
        self._actor.log.warning(record.report())
        self._actor.msgbus.publish(topic=risk_off_topic(self._actor.id), msg=record)

    @property
    def scope(self) -> str:
        """The part of the book this book covers, by name: its limits' scope."""
        return scope_of(self._scope_strategy, self._scope_instrument)

    # --- engine side --------------------------------------------------------------------
    def notify(self) -> None:
        """An order or position event arrived: wake whoever waits in ``changed``."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def release(self) -> None:
        """The watch stops: the book blocks nothing any more."""
        if self._gate is not None:
            self._gate.remove(self)

    def _live_orders(self) -> list[Order]:
        """Every live order of the book wherever NautilusTrader holds it (``live_orders``),
        but the watch's own closes."""
        return live_orders(
            self._actor.cache,
            self._scope_strategy,
            lambda order: (
                self.covers(order.strategy_id, order.instrument_id) and not self._is_ours(order)
            ),
        )

    def _cancel_of(self, order: Order) -> CancelOrder:
        return CancelOrder(
            trader_id=self._actor.trader_id,
            strategy_id=order.strategy_id,
            instrument_id=order.instrument_id,
            client_order_id=order.client_order_id,
            venue_order_id=order.venue_order_id,
            command_id=UUID4(),
            ts_init=self.now_ns(),
        )

    def _send_close(self, position: Position, quantity: Decimal, step: int = 0) -> None:
        """A reduce-only close of the type the escalation has reached (``Closes.new``)."""
        order = self._closes.new(position, quantity, step)
        self._send(
            SubmitOrder(
                trader_id=self._actor.trader_id,
                strategy_id=position.strategy_id,
                order=order,
                command_id=UUID4(),
                ts_init=self.now_ns(),
                position_id=position.id,
            )
        )

    def _send(self, command: object, endpoint: str = EXEC_ENGINE) -> None:
        """Log the command, then send it: a crash between the two leaves a line saying
        it may have gone out, never a command sent without a line."""
        emit("command", **command_fields(command, endpoint))
        self._actor.msgbus.send(endpoint=endpoint, msg=command)
