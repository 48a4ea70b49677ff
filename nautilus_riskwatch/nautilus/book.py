"""``NautilusBook``: the cascade's commands, sent on the message bus for other strategies.

An Actor has no ``cancel_all_orders`` or ``close_position``, and the book it guards belongs
to other strategies. So the book builds the engine's own command objects on behalf of the
owning strategy and sends them to the ``ExecEngine`` directly: straight past the
RiskEngine's trading-state gate, which the watch itself has just set to HALTED so that
nobody else adds risk. The owning strategies receive the events of these orders as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from nautilus_trader.common.factories import OrderFactory
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import CancelAllOrders, CancelOrder, SubmitOrder
from nautilus_trader.model.enums import OrderSide, OrderStatus
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId, PositionId, StrategyId
from nautilus_trader.model.objects import Quantity

from nautilus_riskwatch.core.record import RiskOff
from nautilus_riskwatch.nautilus.config import Settings
from nautilus_riskwatch.nautilus.gate import OrderGate

if TYPE_CHECKING:
    from nautilus_trader.common.actor import Actor
    from nautilus_trader.model.orders import Order
    from nautilus_trader.model.position import Position

EXEC_ENGINE = "ExecEngine.execute"


def risk_off_topic(actor_id: object) -> str:
    """The message-bus topic a watch publishes its ``RiskOff`` record on."""
    return f"events.riskwatch.{actor_id}"


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
        The watch's clock in nanoseconds.
    strategy_id, instrument_id : optional
        Narrow the book to one strategy or one instrument (a scoped limit).
    gate : OrderGate, optional
        For a scoped book: block only the scope's new orders instead of setting the
        trader-wide trading state.

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
    ) -> None:
        self._actor = actor
        self._settings = settings
        self._risk_engine = risk_engine
        self.now_ns = now_ns
        self._scope_strategy = strategy_id
        self._scope_instrument = instrument_id
        self._gate = gate
        self._factories: dict[StrategyId, OrderFactory] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._cancel_requested: set[ClientOrderId] = set()
        self._state_before: Any | None = None
        self._state_set: Any | None = None
        # Our closing orders, held by us: on a live node the ExecEngine queues commands, so
        # an order just sent is not in the cache yet, and must still count as in flight.
        self._closes: dict[PositionId, list[Order]] = {}

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
        s = self._settings
        if order.strategy_id in s.hedge_strategies or order.instrument_id in s.hedge_instruments:
            return True
        return bool(s.hedge_tags) and any(tag in s.hedge_tags for tag in (order.tags or ()))

    def is_protective_position(self, position: Position) -> bool:
        s = self._settings
        if position.strategy_id in s.hedge_strategies:
            return True
        if position.instrument_id in s.hedge_instruments:
            return True
        opening = self._actor.cache.order(position.opening_order_id)
        return opening is not None and self.is_protective_order(opening)

    def _is_ours(self, order: Order) -> bool:
        return self._settings.close_tag in (order.tags or ())

    # --- the Book protocol --------------------------------------------------------------
    def halt(self) -> str:
        gate = self._gate
        if gate is not None:
            key = self._scope_strategy or self._scope_instrument
            gate.blocked[key] = f"RiskWatch: {key} blocked after a trip of its loss limit"
            return f"{key} blocked (others trade on)"
        state = self._settings.trading_state
        if state is None:
            return "unchanged (trading_state_on_trip=ACTIVE)"
        if self._risk_engine is None:
            self._actor.log.error("No RiskEngine found: the trading state could not be set")
            return "unchanged: no RiskEngine found (degraded)"
        if self._state_set is None or self._risk_engine.trading_state != self._state_set:
            self._state_before = self._risk_engine.trading_state  # halting twice keeps the first
        self._state_set = state
        self._risk_engine.set_trading_state(state)
        return state.name

    def restore_trading_state(self) -> str:
        """Undo ``halt``, but only if the state is still the one the watch set."""
        if self._gate is not None:
            key = self._scope_strategy or self._scope_instrument
            return "unblocked" if self._gate.blocked.pop(key, None) else "not blocked"
        engine, before, mine = self._risk_engine, self._state_before, self._state_set
        self._state_before = self._state_set = None
        if engine is None or before is None or mine is None:
            return "unchanged (the watch did not set it)"
        if engine.trading_state != mine:
            return f"unchanged: someone set {engine.trading_state.name} since the trip"
        engine.set_trading_state(before)
        return before.name

    def resting_orders(self) -> tuple[list[str], list[str]]:
        cancel, kept = [], []
        for order in self._open_orders():
            (kept if self.is_protective_order(order) else cancel).append(
                order.client_order_id.value
            )
        return cancel, kept

    def cancel(self, order_ids: Sequence[str]) -> None:
        cache = self._actor.cache
        orders = [o for o in (cache.order(ClientOrderId(i)) for i in order_ids) if o is not None]
        orders = [o for o in orders if not o.is_closed]
        by_key: dict[tuple[Any, Any], list[Order]] = {}
        for order in orders:
            by_key.setdefault((order.strategy_id, order.instrument_id), []).append(order)
        for (strategy_id, instrument_id), group in by_key.items():
            ids = {o.client_order_id for o in group}
            resting = {o.client_order_id for o in cache.orders_open(instrument_id=instrument_id)}
            # A venue may cancel *every* order on the instrument for a cancel-all (the
            # simulated exchange ignores the strategy), so use it only when that is exactly
            # what we want and this is the first ask.
            if resting == ids and not (ids & self._cancel_requested):
                self._send(
                    CancelAllOrders(
                        trader_id=self._actor.trader_id,
                        strategy_id=strategy_id,
                        instrument_id=instrument_id,
                        order_side=OrderSide.NO_ORDER_SIDE,
                        command_id=UUID4(),
                        ts_init=self.now_ns(),
                    )
                )
            else:
                for order in group:
                    self._send(
                        CancelOrder(
                            trader_id=self._actor.trader_id,
                            strategy_id=strategy_id,
                            instrument_id=instrument_id,
                            client_order_id=order.client_order_id,
                            venue_order_id=order.venue_order_id,
                            command_id=UUID4(),
                            ts_init=self.now_ns(),
                        )
                    )
            self._cancel_requested |= ids

    def open_orders_among(self, order_ids: Sequence[str]) -> list[str]:
        cache = self._actor.cache
        still = []
        for order_id in order_ids:
            order = cache.order(ClientOrderId(order_id))
            if order is not None and not order.is_closed:
                still.append(order_id)
        return still

    def filled_among(self, order_ids: Sequence[str]) -> list[str]:
        cache = self._actor.cache
        filled = []
        for order_id in order_ids:
            order = cache.order(ClientOrderId(order_id))
            if order is not None and order.status == OrderStatus.FILLED:
                filled.append(order_id)
        return filled

    def open_positions(self) -> tuple[list[str], list[str]]:
        flatten, kept = [], []
        for position in self._actor.cache.positions_open():
            if not self.covers(position.strategy_id, position.instrument_id):
                continue
            (kept if self.is_protective_position(position) else flatten).append(position.id.value)
        return flatten, kept

    def flatten(self, position_ids: Sequence[str]) -> None:
        cache = self._actor.cache
        for position_id in position_ids:
            position = cache.position(PositionId(position_id))
            if position is None or position.is_closed:
                continue
            closing = self._closing_qty(position)
            remainder = position.quantity.as_decimal() - closing
            if remainder <= 0:
                continue  # what is in flight already closes it
            self._send_close(position, remainder)

    async def changed(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def publish(self, record: RiskOff) -> None:
        record.scope = self.scope_name
        self._actor.log.warning(record.report())
        self._actor.msgbus.publish(topic=risk_off_topic(self._actor.id), msg=record)

    @property
    def scope_name(self) -> str:
        if self._scope_strategy is not None:
            return f"strategy {self._scope_strategy}"
        if self._scope_instrument is not None:
            return f"instrument {self._scope_instrument}"
        return "trader"

    # --- engine side --------------------------------------------------------------------
    def notify(self) -> None:
        """An order or position event arrived: wake whoever waits in ``changed``."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _open_orders(self) -> list[Order]:
        cache = self._actor.cache
        seen: dict[ClientOrderId, Order] = {}
        for order in [*cache.orders_open(), *cache.orders_inflight()]:
            if self.covers(order.strategy_id, order.instrument_id) and not self._is_ours(order):
                seen.setdefault(order.client_order_id, order)
        return list(seen.values())

    def _closing_qty(self, position: Position) -> Decimal:
        """What our closing orders still in flight for ``position`` will take off.

        Ours in memory, and (after a restart, when that memory is gone) those the cache
        links to the position and that carry our close tag: a flatten repeated across
        restarts must never double a close.
        """
        orders = {order.client_order_id: order for order in self._closes.get(position.id, ())}
        for order in self._actor.cache.orders_for_position(position.id):
            if self._is_ours(order):
                orders.setdefault(order.client_order_id, order)
        total = Decimal(0)
        for order in orders.values():
            if not order.is_closed:
                total += order.leaves_qty.as_decimal()
        return total

    def _send_close(self, position: Position, quantity: Decimal) -> None:
        factory = self._factories.get(position.strategy_id)
        if factory is None:
            factory = self._factories[position.strategy_id] = OrderFactory(
                trader_id=self._actor.trader_id,
                strategy_id=position.strategy_id,
                clock=self._actor.clock,
                cache=self._actor.cache,
                use_uuid_client_order_ids=True,
            )
        order = factory.market(
            instrument_id=position.instrument_id,
            order_side=position.closing_order_side(),
            quantity=Quantity.from_str(
                f"{quantity.quantize(Decimal(1).scaleb(-position.size_precision)):f}"
            ),
            reduce_only=True,
            tags=[self._settings.close_tag],
        )
        self._closes.setdefault(position.id, []).append(order)
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

    def _send(self, command: object) -> None:
        self._actor.msgbus.send(endpoint=EXEC_ENGINE, msg=command)
