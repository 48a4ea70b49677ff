"""The cancel plan: which live orders a trip cancels and which it keeps.

Why apart from the book: what is kept is decided by the protective rule and by the other
watches, but what is *cancelled* is decided by NautilusTrader's contingent links as much as
by us. A cancel takes an order's OUO/OCO siblings and an OTO entry's waiting children along
(the venue does, or the emulator's ``OrderManager``), so a kept order on the far side of such
a link is lost anyway. The plan follows those links, so the record never calls kept what
the engine is about to cancel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nautilus_trader.model.enums import ContingencyType, OrderStatus

if TYPE_CHECKING:
    from nautilus_trader.model.identifiers import ClientOrderId
    from nautilus_trader.model.orders import Order

# Contingencies whose linked orders NautilusTrader cancels along with the order.
_TAKES_LINKED = (ContingencyType.OUO, ContingencyType.OCO, ContingencyType.OTO)


def plan_cancels(
    live: list[Order], keeps: Callable[[Order], bool], cache: Any, warn: Callable[[str], None]
) -> tuple[list[Order], list[Order]]:
    """Split ``live`` into the orders to cancel and those kept, in ``live``'s order.

    Kept: what ``keeps`` says (the protective ones, and what another watch keeps). Then a
    kept order a cancelled one would take along anyway (an OCO sibling on the other side of
    a hedge's stop, a hedge's stop waiting for an untagged entry: links the protective rule
    does not follow, since the other order could add risk) is cancelled too, said and
    warned; so is one waiting for an entry already cancelled unfilled (another watch's
    cancel of it came first): the engine cancels such an entry's children with it.
    """
    kept: dict[ClientOrderId, Order] = {}
    cancel: dict[ClientOrderId, Order] = {}
    for order in live:
        (kept if keeps(order) else cancel)[order.client_order_id] = order
    taking = list(cancel.values())
    for order in list(kept.values()):
        if _entry_gone_unfilled(order, cache):
            warn(
                f"RiskWatch: protective {order.client_order_id} waits for "
                f"{order.parent_order_id}, which has gone unfilled: NautilusTrader cancels it "
                "along with its entry"
            )
            cancel[order.client_order_id] = kept.pop(order.client_order_id)
            taking.append(order)
    while taking:
        order = taking.pop()
        if order.contingency_type not in _TAKES_LINKED:
            continue
        for linked_id in order.linked_order_ids or ():
            lost = kept.pop(linked_id, None)
            if lost is None:
                continue
            warn(
                f"RiskWatch: protective {linked_id} is {order.contingency_type.name}-linked "
                f"to {order.client_order_id}, which is not protective: cancelling that one "
                "cancels both (tag the whole group to keep it)"
            )
            cancel[linked_id] = lost
            taking.append(lost)
    return [o for o in live if o.client_order_id in cancel], list(kept.values())


def _entry_gone_unfilled(order: Order, cache: Any) -> bool:
    """``order`` waits for an entry cancelled with nothing filled: NautilusTrader cancels
    it along with its entry. Not so for an entry that was denied: its children stay as they
    are (nautilus_trader 1.231, an emulated bracket under HALTED), and a kept one is left
    alone."""
    parent_id = order.parent_order_id
    if parent_id is None:
        return False
    parent = cache.order(parent_id)
    if parent is None or parent.status != OrderStatus.CANCELED:
        return False
    return bool(parent.filled_qty.as_decimal() == 0)
