"""What the runaway guards must do, found by brute force over the engine's own record.

Written apart from the package on purpose (no import of its rate window or its event
rules): the times are read from a finished run's cache (every order wherever it ended,
every event it went through), and the first event over a rate is found by counting, for
every event, all the events before it. A control run (no watch) gives the times; the
guarded run must trip at exactly the event found here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nautilus_trader.model.enums import OrderSide

_SUBMITTED = {"OrderSubmitted", "OrderEmulated", "OrderDenied"}
_REFUSED = {"OrderDenied", "OrderRejected", "OrderModifyRejected", "OrderCancelRejected"}


def _scope_orders(cache: Any, keep: Callable[[Any], bool], close_tag: str) -> list[Any]:
    return [
        order for order in cache.orders() if keep(order) and close_tag not in (order.tags or ())
    ]


def order_times(
    cache: Any, keep: Callable[[Any], bool] = lambda o: True, close_tag: str = "RISKWATCH"
) -> list[int]:
    """When each order of the scope was first submitted: the time of its first
    submitted, emulated or denied event (an order never submitted is not counted)."""
    times = []
    for order in _scope_orders(cache, keep, close_tag):
        for event in order.events:
            if type(event).__name__ in _SUBMITTED:
                times.append(event.ts_event)
                break
    return sorted(times)


def reject_times(
    cache: Any, keep: Callable[[Any], bool] = lambda o: True, close_tag: str = "RISKWATCH"
) -> list[int]:
    """Every refusal of an order of the scope (denied, rejected, a modify or a cancel
    rejected), except the watch's own (their reason starts with ``RiskWatch ``)."""
    return sorted(
        event.ts_event
        for order in _scope_orders(cache, keep, close_tag)
        for event in order.events
        if type(event).__name__ in _REFUSED and not str(event.reason).startswith("RiskWatch ")
    )


def fills(
    cache: Any, keep: Callable[[Any], bool] = lambda o: True, close_tag: str = "RISKWATCH"
) -> list[Any]:
    """Every fill of an order of the scope, in time order (the engine's order within a time)."""
    found = [
        event
        for order in _scope_orders(cache, keep, close_tag)
        for event in order.events
        if type(event).__name__ == "OrderFilled"
    ]
    return sorted(found, key=lambda fill: fill.ts_event)


@dataclass(frozen=True)
class Over:
    """The first event over a rate: its index among the times, its time, the count then."""

    index: int
    at_ns: int
    count: int


def first_over(times: Sequence[int], limit: int, window_ns: int) -> Over | None:
    """The first event at which more than ``limit`` events lie in ``(t - W, t]``, by
    counting, for each event, every event up to it (quadratic, and plainly right)."""
    for i, t in enumerate(times):
        count = sum(1 for u in times[: i + 1] if t - window_ns < u <= t)
        if count > limit:
            return Over(i, t, count)
    return None


@dataclass(frozen=True)
class Held:
    """The first fill after which |net| on an instrument exceeded the cap."""

    index: int
    at_ns: int
    net: Decimal


def first_position_over(found: Iterable[Any], cap: Decimal) -> Held | None:
    """Net quantity per instrument, fill by fill, and the first fill that takes |net| over
    ``cap`` (equal to the cap is allowed)."""
    net: dict[str, Decimal] = {}
    for i, fill in enumerate(found):
        qty = fill.last_qty.as_decimal()
        key = str(fill.instrument_id)
        net[key] = net.get(key, Decimal(0)) + (qty if fill.order_side == OrderSide.BUY else -qty)
        if abs(net[key]) > cap:
            return Held(i, fill.ts_event, abs(net[key]))
    return None


def book_at(found: Sequence[Any], quotes: Sequence[Any], t: int) -> tuple[Decimal, Decimal]:
    """The net quantity and the loss (commissions in, marked long at the bid and short at
    the ask of the newest quote at or before ``t``) of one instrument's fills up to ``t``."""
    net = cash = Decimal(0)
    for fill in found:
        if fill.ts_event > t:
            break
        qty = fill.last_qty.as_decimal()
        signed = qty if fill.order_side == OrderSide.BUY else -qty
        net += signed
        cash -= signed * fill.last_px.as_decimal() + fill.commission.as_decimal()
    mark = None
    for quote in quotes:
        if quote.ts_event > t:
            break
        mark = quote
    if mark is None or not net:
        return net, -cash
    price = (mark.bid_price if net > 0 else mark.ask_price).as_decimal()
    return net, -(cash + net * price)


def first_loss_over(found: Sequence[Any], quotes: Sequence[Any], cap: Decimal) -> int | None:
    """The first fill or quote time at which the loss exceeds ``cap`` (``max_loss`` alone)."""
    times = sorted({fill.ts_event for fill in found} | {q.ts_event for q in quotes})
    for t in times:
        if book_at(found, quotes, t)[1] > cap:
            return t
    return None


def first_gross_over(found: Sequence[Any], quotes: Sequence[Any], cap: Decimal) -> int | None:
    """The first fill or quote time at which one instrument's |net| x mark (a net long at
    the bid, a net short at the ask; multiplier 1) exceeds ``cap``."""
    times = sorted({fill.ts_event for fill in found} | {q.ts_event for q in quotes})
    for t in times:
        net, _ = book_at(found, quotes, t)
        mark = None
        for quote in quotes:
            if quote.ts_event > t:
                break
            mark = quote
        if mark is None or not net:
            continue
        price = (mark.bid_price if net > 0 else mark.ask_price).as_decimal()
        if abs(net) * price > cap:
            return t
    return None
