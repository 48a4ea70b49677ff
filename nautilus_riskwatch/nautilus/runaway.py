"""Which engine events the runaway guards count, and at what time.

A runaway guard counts a kind of order event of its scope on the engine's clock. Each count
is read from an event NautilusTrader publishes on ``events.order.*`` anyway (the watch
subscribes to it for its fills), never from a command: the count is the engine's own record
of what happened, a backtest's control run yields the very same times from its cache, and
nothing is added to any order's path.

- ``orders``: an order's *first* submission event, on whichever path it took:
  ``OrderSubmitted`` (to a venue, directly or after an execution algorithm or the emulator
  let it go), ``OrderEmulated`` (held by the emulator: it was submitted, and its later
  release is not a second order), or ``OrderDenied`` (a denied order was submitted too:
  a strategy resubmitting into a denial is the runaway the guard exists for). An order
  emulated, released and then submitted counts once, at its emulation.
- ``rejects``: ``OrderDenied``, ``OrderRejected``, ``OrderModifyRejected``,
  ``OrderCancelRejected``.
- ``fills``: ``OrderFilled``.

Two things count as nothing. The watch's own closes: they are the kill, not the strategy
(the one rule of "is this our close" is the book's, ``closes``, handed in). And the watch's
own refusals after a trip (``watch_refusal``): a blocked scope's denials by the gate (their
reason is a tripped book's block reason), and the RiskEngine's trading-state refusals while
the trading state is the one a watch set. They never reached
a market, and the scope they refuse is already down: a strategy retrying into the kill must
not trip a second guard (the portfolio's, say, over a blocked strategy's retries) and take
everyone else down for messages that went nowhere.

The time is the event's ``ts_event``, integer nanoseconds, as the rate breaker wants it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from nautilus_trader.model.events import (
    OrderCancelRejected,
    OrderDenied,
    OrderEmulated,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderSubmitted,
)

__all__ = [
    "FILLS",
    "ORDERS",
    "REFUSALS",
    "REJECTS",
    "SUBMISSIONS",
    "counted",
    "first_submission",
    "watch_refusal",
]

ORDERS, REJECTS, FILLS = "orders", "rejects", "fills"

#: The events that show an order was submitted (the first of them per order counts).
SUBMISSIONS = (OrderSubmitted, OrderEmulated, OrderDenied)
#: The refusals a reject guard counts.
REFUSALS = (OrderDenied, OrderRejected, OrderModifyRejected, OrderCancelRejected)
#: The RiskEngine's refusals by its trading state carry this in their reason.
_TRADING_STATE = "TradingState"

_NONE: tuple[str, ...] = ()
_ORDERS = (ORDERS,)
_REJECTS = (REJECTS,)
_ORDERS_AND_REJECTS = (ORDERS, REJECTS)
_FILLS = (FILLS,)


def first_submission(order: Any, event: Any) -> bool:
    """Whether ``event`` is the first submission event of ``order`` (the cache's order, the
    event already applied). An order the cache does not know is taken as submitted now."""
    if order is None:
        return True
    event_id = event.id
    for earlier in order.events:
        if earlier.id == event_id:
            return True
        if isinstance(earlier, SUBMISSIONS):
            return False
    return True


def watch_refusal(
    reason: str, blocks: Collection[str], state_is_watch_s: Callable[[], bool]
) -> bool:
    """Whether a refusal is the watch's own doing: its reason is one of ``blocks`` (the
    block reasons of the tripped books on the bus: the gate's denials), or it is the
    RiskEngine's trading-state refusal while that state is one a watch set
    (``state_is_watch_s`` is asked only then)."""
    if reason in blocks:
        return True
    return _TRADING_STATE in reason and state_is_watch_s()


def counted(
    event: Any,
    order: Any,
    closes: Callable[[Any], bool],
    refused_by_watch: Callable[[str], bool],
) -> tuple[str, ...]:
    """What ``event`` counts as for a runaway guard whose scope covers it: some of
    ``orders``, ``rejects``, ``fills``, or nothing.

    ``order`` is the event's order in the cache (``None`` if unknown), ``closes(order)`` the
    book's rule for the watch's own closes, ``refused_by_watch(reason)`` whether a refusal
    with that reason is the watch's own (``watch_refusal``).
    """
    if order is not None and closes(order):
        return _NONE
    if isinstance(event, OrderFilled):
        return _FILLS
    if isinstance(event, OrderDenied):
        if refused_by_watch(str(event.reason)):
            return _NONE
        return _ORDERS_AND_REJECTS if first_submission(order, event) else _REJECTS
    if isinstance(event, OrderSubmitted | OrderEmulated):
        return _ORDERS if first_submission(order, event) else _NONE
    if isinstance(event, REFUSALS):
        return _NONE if refused_by_watch(str(event.reason)) else _REJECTS
    return _NONE
