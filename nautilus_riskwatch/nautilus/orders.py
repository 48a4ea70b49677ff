"""Where NautilusTrader holds a live order, and where a cancel of it goes.

An order of another strategy may be at a venue, in flight to one, with the
``OrderEmulator``, with an execution algorithm, or waiting as a contingent child in the
order manager: the record names each by its place (``held_by``), and the cascade sends its
cancel where the owning strategy's own ``cancel_order`` would (``cancel_endpoint``); a
trip reads every live order in all those places (``live_orders``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nautilus_trader.model.enums import OrderStatus, TriggerType

from nautilus_riskwatch.nautilus.engine_hooks import EXEC_ENGINE
from nautilus_riskwatch.nautilus.gate import EMULATOR

if TYPE_CHECKING:
    from nautilus_trader.model.identifiers import StrategyId
    from nautilus_trader.model.orders import Order


def held_by(order: Order) -> str:
    """Where NautilusTrader holds a live order: the record lists orders by it."""
    status = order.status
    if status == OrderStatus.EMULATED:
        return "emulator"
    if order.exec_algorithm_id is not None and order.is_active_local:
        return f"exec algorithm {order.exec_algorithm_id}"
    if status == OrderStatus.INITIALIZED:
        return "held (contingent)" if order.parent_order_id is not None else "not yet submitted"
    if status == OrderStatus.RELEASED:
        return "released by the emulator"
    if order.is_inflight:
        return "in flight"
    return "venue"


def cancel_endpoint(order: Order) -> str:
    """Where the owning strategy's ``cancel_order`` would send it.

    An order held locally and not by an algorithm (emulated, or a contingent child waiting
    in the order manager) goes to the emulator, which cancels what it holds and passes on
    what a venue holds.
    """
    if order.is_emulated or order.emulation_trigger != TriggerType.NO_TRIGGER:
        return EMULATOR
    if order.exec_algorithm_id is not None and order.is_active_local:
        return f"{order.exec_algorithm_id}.execute"
    if order.status == OrderStatus.INITIALIZED:
        return EMULATOR
    return EXEC_ENGINE


def same_book(order: Order, other: Order) -> bool:
    """Both orders are one strategy's on one instrument."""
    return bool(
        order.strategy_id == other.strategy_id and order.instrument_id == other.instrument_id
    )


def submitted(order: Order) -> tuple[int, str]:
    """The order in which the orders came to be (then by id): a run's order, every run."""
    return order.ts_init, order.client_order_id.value


def live_orders(
    cache: Any, strategy_id: StrategyId | None, wanted: Callable[[Order], bool]
) -> list[Order]:
    """Every live order (of ``strategy_id``, if given) for which ``wanted(order)``, wherever
    NautilusTrader holds it, in the order they came to be.

    ``orders_open`` misses emulated orders, orders in flight, orders an execution
    algorithm holds and contingent children waiting for their parent; every one of
    them can still reach a venue, so this reads them all: every order id the cache
    holds but has not closed. Taken as a difference of the cache's id sets (made in C),
    not a pass over every order of the session in Python: a trip must not slow down as
    the day's closed orders pile up.
    """
    if strategy_id is not None:
        ids = cache.client_order_ids(strategy_id=strategy_id)
    else:
        ids = cache.client_order_ids()
    ids = ids - cache.client_order_ids_closed()  # a new set: never the cache's own
    orders = []
    for client_order_id in ids:
        order = cache.order(client_order_id)
        if order is not None and not order.is_closed and wanted(order):
            orders.append(order)
    orders.sort(key=submitted)  # sets have no order; the cascade's must not vary by run
    return orders
