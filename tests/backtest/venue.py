"""A misbehaving venue for tests: an interceptor on the ``ExecEngine.execute`` endpoint.

Every command on its way to the execution engine (the strategies' through the RiskEngine,
and the watch's own) passes ``decide(command)``, which answers ``"pass"``, ``"drop"`` (a
silent venue), ``"reject"`` (a cancel is rejected; a submit is denied), or ``"refuse"``
(a submit is taken and then rejected as a venue does it, ``OrderSubmitted`` then
``OrderRejected`` with ``refusal``, the venue's reason).
"""

from __future__ import annotations

from collections.abc import Callable

from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import CancelAllOrders, CancelOrder, SubmitOrder
from nautilus_trader.model.events import (
    OrderCancelRejected,
    OrderDenied,
    OrderRejected,
    OrderSubmitted,
)

ENDPOINT = "ExecEngine.execute"


class Venue:
    def __init__(
        self,
        engine,
        decide: Callable[[object], str],
        refusal: str = "order type not permitted while the market is reserved",
    ) -> None:
        self.engine = engine
        self.decide = decide
        self.refusal = refusal
        self.seen: list[tuple[str, str, str]] = []
        kernel = engine.kernel
        self._exec = kernel.exec_engine
        kernel.msgbus.deregister(ENDPOINT, self._exec.execute)
        kernel.msgbus.register(ENDPOINT, self._execute)

    def count(self, kind: str, action: str | None = None) -> int:
        return sum(1 for k, a, _ in self.seen if k == kind and (action is None or a == action))

    def _execute(self, command) -> None:
        action = self.decide(command)
        self.seen.append((type(command).__name__, action, _what(command)))
        if action == "pass":
            self._exec.execute(command)
        elif action == "reject":
            self._reject(command)
        elif action == "refuse":
            self._refuse(command)
        else:
            assert action == "drop", action

    def _refuse(self, command: SubmitOrder) -> None:
        """Taken, then rejected: the events a venue sends for an order it will not work."""
        cache = self.engine.cache
        order = command.order
        if not cache.order_exists(order.client_order_id):
            cache.add_order(order, command.position_id)
        account = cache.account_for_venue(order.instrument_id.venue)
        now = self.engine.kernel.clock.timestamp_ns()
        common = {
            "trader_id": command.trader_id,
            "strategy_id": command.strategy_id,
            "instrument_id": order.instrument_id,
            "client_order_id": order.client_order_id,
            "account_id": account.id,
        }
        msgbus = self.engine.kernel.msgbus
        submitted = OrderSubmitted(**common, event_id=UUID4(), ts_event=now, ts_init=now)
        msgbus.send(endpoint="ExecEngine.process", msg=submitted)
        rejected = OrderRejected(
            **common, reason=self.refusal, event_id=UUID4(), ts_event=now, ts_init=now
        )
        msgbus.send(endpoint="ExecEngine.process", msg=rejected)

    def _reject(self, command) -> None:
        cache = self.engine.cache
        clock = self.engine.kernel.clock
        msgbus = self.engine.kernel.msgbus
        if isinstance(command, SubmitOrder):
            cache.add_order(command.order, command.position_id)
            event = OrderDenied(
                trader_id=command.trader_id,
                strategy_id=command.strategy_id,
                instrument_id=command.order.instrument_id,
                client_order_id=command.order.client_order_id,
                reason="test venue: denied",
                event_id=UUID4(),
                ts_init=clock.timestamp_ns(),
            )
            msgbus.send(endpoint="ExecEngine.process", msg=event)
            return
        if isinstance(command, CancelOrder):
            orders = [cache.order(command.client_order_id)]
        elif isinstance(command, CancelAllOrders):
            orders = cache.orders_open(
                instrument_id=command.instrument_id, strategy_id=command.strategy_id
            )
        else:
            raise AssertionError(f"cannot reject {command}")
        for order in orders:
            event = OrderCancelRejected(
                trader_id=order.trader_id,
                strategy_id=order.strategy_id,
                instrument_id=order.instrument_id,
                client_order_id=order.client_order_id,
                venue_order_id=order.venue_order_id,
                account_id=order.account_id,
                reason="test venue: cancel rejected",
                event_id=UUID4(),
                ts_event=clock.timestamp_ns(),
                ts_init=clock.timestamp_ns(),
            )
            msgbus.send(endpoint="ExecEngine.process", msg=event)


def _what(command) -> str:
    if isinstance(command, SubmitOrder):
        return command.order.client_order_id.value
    if isinstance(command, CancelOrder):
        return command.client_order_id.value
    return str(getattr(command, "instrument_id", ""))


def is_watch_close(command) -> bool:
    return isinstance(command, SubmitOrder) and "RISKWATCH" in (command.order.tags or [])


def is_cancel(command) -> bool:
    return isinstance(command, CancelOrder | CancelAllOrders)
