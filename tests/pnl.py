"""Brute-force PnL, independent of the ledger: for checking the breaker against the engine."""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderFilled


def fills_of(cache, exclude_tag: str = "RISKWATCH") -> list[OrderFilled]:
    """Every fill in the cache but the watch's own closes, in time order."""
    return sorted(
        (
            e
            for o in cache.orders()
            for e in o.events
            if isinstance(e, OrderFilled) and exclude_tag not in (o.tags or [])
        ),
        key=lambda e: e.ts_event,
    )


def loss_at(fills: list[OrderFilled], quote, by_time: bool = True) -> Decimal:
    """Loss after ``quote``: fills up to it (all of them if not ``by_time``), longs at its
    bid, shorts at its ask."""
    bid, ask = quote.bid_price.as_decimal(), quote.ask_price.as_decimal()
    return loss_marked(fills, quote.ts_init if by_time else None, bid, ask)


def loss_marked(fills: list[OrderFilled], ts: int | None, bid: Decimal, ask: Decimal) -> Decimal:
    """Loss with the fills up to ``ts`` (all if ``None``), longs at ``bid``, shorts at ``ask``."""
    cash = Decimal(0)
    qty: dict[str, Decimal] = {}
    for f in fills:
        if ts is not None and f.ts_event > ts:
            break
        signed = f.last_qty.as_decimal() * (1 if f.order_side == OrderSide.BUY else -1)
        cash -= signed * f.last_px.as_decimal() + f.commission.as_decimal()
        qty[str(f.position_id)] = qty.get(str(f.position_id), Decimal(0)) + signed
    value = sum((q * (bid if q > 0 else ask) for q in qty.values()), Decimal(0))
    return -(cash + value)


def first_breach(fills, quotes, ceiling: Decimal, by_time: bool = True):
    """The first quote after which the loss reaches ``ceiling``, and that loss."""
    for quote in quotes:
        loss = loss_at(fills, quote, by_time)
        if loss >= ceiling:
            return quote, loss
    return None, None
