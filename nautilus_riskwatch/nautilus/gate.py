"""``OrderGate``: blocks new orders of one strategy or instrument, not the whole trader.

The RiskEngine's trading state is global: HALTED stops every strategy. A limit scoped to
one strategy (or instrument) must stop only that one while the others keep trading, so the
watch puts a gate in front of the RiskEngine's ``RiskEngine.execute`` endpoint, the one
strategies submit through. Orders of a blocked strategy or instrument are denied there,
the way the RiskEngine denies them (an ``OrderDenied`` event, reason named); everything
else passes through untouched. Cancels always pass. The watch's own closes never come this
way: they go straight to the ``ExecEngine``.
"""

from __future__ import annotations

from typing import Any

from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import SubmitOrder, SubmitOrderList
from nautilus_trader.model.enums import OrderStatus
from nautilus_trader.model.events import OrderDenied

ENDPOINT = "RiskEngine.execute"


class OrderGate:
    """Denies submits of blocked strategies and instruments in front of the RiskEngine."""

    def __init__(self, actor: Any, risk_engine: Any) -> None:
        self._actor = actor
        self._risk_engine = risk_engine
        self.blocked: dict[object, str] = {}  # strategy or instrument id -> why
        self._installed = False

    def install(self) -> None:
        if self._installed:
            return
        msgbus = self._actor.msgbus
        msgbus.deregister(endpoint=ENDPOINT, handler=self._risk_engine.execute)
        msgbus.register(endpoint=ENDPOINT, handler=self.execute)
        self._installed = True

    def uninstall(self) -> None:
        if not self._installed:
            return
        msgbus = self._actor.msgbus
        msgbus.deregister(endpoint=ENDPOINT, handler=self.execute)
        msgbus.register(endpoint=ENDPOINT, handler=self._risk_engine.execute)
        self._installed = False

    def execute(self, command: Any) -> None:
        if self.blocked:
            orders = ()
            if isinstance(command, SubmitOrder):
                orders = (command.order,)
            elif isinstance(command, SubmitOrderList):
                orders = tuple(command.order_list.orders)
            why = next(
                (
                    self.blocked.get(key)
                    for order in orders
                    for key in (order.strategy_id, order.instrument_id)
                    if key in self.blocked
                ),
                None,
            )
            if why is not None:
                for order in orders:
                    self._deny(order, why)
                return
        self._risk_engine.execute(command)

    def _deny(self, order: Any, why: str) -> None:
        if order.status != OrderStatus.INITIALIZED:
            return
        actor = self._actor
        if not actor.cache.order_exists(order.client_order_id):
            actor.cache.add_order(order)
        actor.msgbus.send(
            endpoint="ExecEngine.process",
            msg=OrderDenied(
                trader_id=order.trader_id,
                strategy_id=order.strategy_id,
                instrument_id=order.instrument_id,
                client_order_id=order.client_order_id,
                reason=why,
                event_id=UUID4(),
                ts_init=actor.clock.timestamp_ns(),
            ),
        )
