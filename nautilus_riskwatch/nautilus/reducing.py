"""REDUCING, for the watch: whether an order only reduces its strategy's own position, net
of everything already working to reduce it.

Why net: judged against the open position alone, a SELL sent while the watch's close of
the same long is in flight passes, and once both fill the strategy is short. So what is
left to reduce is the position less the leaves of every live order of the strategy on the
instrument that points the reducing way: the watch's closes (those in memory too: a close
just sent may not be in the cache yet) and the strategy's own orders in flight, resting or
held.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from nautilus_trader.model.enums import OrderSide, PositionSide
from nautilus_trader.model.identifiers import ClientOrderId, PositionId

if TYPE_CHECKING:
    from nautilus_trader.model.orders import Order

_ZERO = Decimal(0)


def reduces(
    cache: Any, order: Order, position_id: PositionId | None, closes: Iterable[Order]
) -> bool:
    """True if ``order`` only reduces its strategy's position, net of what already works
    to reduce it (``closes``: the watch's own closes in memory).

    Which position: the one the command names; with none named, the strategy's netted
    position (NautilusTrader names a NETTING position ``<instrument>-<strategy>``). A
    strategy whose positions are not netted (a HEDGING venue) opens a new position with
    an order that names none: that reduces nothing.
    """
    positions = cache.positions_open(
        instrument_id=order.instrument_id, strategy_id=order.strategy_id
    )
    if position_id is not None:
        positions = [p for p in positions if p.id == position_id]
    else:
        netted = f"{order.instrument_id}-{order.strategy_id}"
        if any(p.id.value != netted for p in positions):
            return False
    net = _ZERO
    for position in positions:
        qty = position.quantity.as_decimal()
        net += qty if position.side == PositionSide.LONG else -qty
    if net == 0:
        return False
    reducing = OrderSide.SELL if net > 0 else OrderSide.BUY
    if order.side != reducing:
        return False
    working: dict[ClientOrderId, Order] = {}
    for close in closes:
        working[close.client_order_id] = close
    for client_order_id in cache.client_order_ids(
        instrument_id=order.instrument_id, strategy_id=order.strategy_id
    ) - cache.client_order_ids_closed(
        instrument_id=order.instrument_id, strategy_id=order.strategy_id
    ):
        other = cache.order(client_order_id)
        if other is not None:
            working.setdefault(client_order_id, other)
    working.pop(order.client_order_id, None)
    busy = _ZERO
    for other in working.values():
        if (
            other.side == reducing
            and not other.is_closed
            and other.strategy_id == order.strategy_id
            and other.instrument_id == order.instrument_id
        ):
            busy += other.leaves_qty.as_decimal()
    return bool(order.quantity.as_decimal() <= abs(net) - busy)
