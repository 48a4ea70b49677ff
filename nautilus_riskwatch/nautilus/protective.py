"""What is protective: the one rule, by configuration and by contingent link, and how much
of a position it keeps.

Why one rule: the cascade keeps protective orders and hedges, the gate lets them pass after
a trip, and every other watch on the engine asks it before a cancel (no watch cancels what
another keeps). Said once, here, the three cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from nautilus_trader.model.enums import ContingencyType, OrderSide, PositionSide
from nautilus_trader.model.events import OrderFilled

from nautilus_riskwatch.nautilus.closes import is_watch_close
from nautilus_riskwatch.nautilus.orders import same_book

if TYPE_CHECKING:
    from nautilus_trader.model.orders import Order
    from nautilus_trader.model.position import Position

    from nautilus_riskwatch.nautilus.settings import Settings

_ZERO = Decimal(0)
# Contingencies whose linked orders NautilusTrader cancels along with the order.
_SIBLINGS = (ContingencyType.OUO, ContingencyType.OCO)


def named_protective(order: Order, s: Settings) -> bool:
    """Protective by configuration alone: its strategy, its instrument or a tag (never a
    close of the watch's, whatever else it carries)."""
    if order.strategy_id in s.hedge_strategies or order.instrument_id in s.hedge_instruments:
        return True
    if is_watch_close(order.tags, s.close_tag):
        return False  # a close of ours is never a hedge, whatever else it carries
    return bool(s.hedge_tags) and any(tag in s.hedge_tags for tag in (order.tags or ()))


def is_protective(order: Order, cache: Any, s: Settings) -> bool:
    """The one rule of what is protective, by configuration and by contingent link.

    Named protective (a hedge strategy, a hedge instrument, a hedge tag; never a close of
    ours), or kept with one by a link that cannot add risk: NautilusTrader (the venue, or
    the ``OrderManager`` for emulated orders) cancels an OUO/OCO order's linked orders, and
    an OTO parent's waiting children, along with it, so cancelling the untagged take-profit
    of a hedge's bracket would take the hedge's stop with it. Kept with a named protective
    order: an OUO/OCO sibling on the same side (both close the same position), an OTO child
    on the other side of its parent (it closes what the parent opens), and an order an
    execution algorithm spawned from it.
    """
    if named_protective(order, s):
        return True
    spawn = order.exec_spawn_id
    if spawn is not None and spawn != order.client_order_id:
        primary = cache.order(spawn)
        if primary is not None and named_protective(primary, s):
            return True
    if order.contingency_type in _SIBLINGS:
        for linked_id in order.linked_order_ids or ():
            linked = cache.order(linked_id)
            if linked is not None and same_book(order, linked):
                if linked.side == order.side and named_protective(linked, s):
                    return True
    parent_id = order.parent_order_id
    if parent_id is not None:
        parent = cache.order(parent_id)
        if parent is not None and same_book(order, parent):
            if parent.side != order.side and named_protective(parent, s):
                return True
    return False


def protected_qty(
    position: Position, cache: Any, s: Settings, protective: Callable[[Order], bool]
) -> Decimal:
    """How much of an open position is a protective hedge (the rest is flattened).

    Protection follows quantity, not the opening order: on a NETTING venue a hedge opened
    by a tagged order and then grown by untagged ones is one position, and only what the
    protective fills hold is kept. So: the signed sum of the ``protective`` fills, kept only
    as far as it points the way the position does and no further than its size.
    """
    size: Decimal = position.quantity.as_decimal()
    if position.strategy_id in s.hedge_strategies:
        return size
    if position.instrument_id in s.hedge_instruments:
        return size
    signed = _ZERO
    for event in position.events:
        if not isinstance(event, OrderFilled):
            continue
        order = cache.order(event.client_order_id)
        if order is not None and protective(order):
            qty: Decimal = event.last_qty.as_decimal()
            signed += qty if event.order_side == OrderSide.BUY else -qty
    if position.side == PositionSide.SHORT:
        signed = -signed
    return min(max(signed, _ZERO), size)
