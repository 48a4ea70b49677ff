"""A venue that rejects the watch's close: each refusal is recorded with the venue's reason,
and the next order type of ``close_escalation`` is sent.

Real venues refuse market orders in some market states (CME while the market is reserved),
reduce-only orders that no longer reduce, prices outside a band. The simulated exchange
has no market state that refuses a market order, so a reject model stands in front of it
(``venue.Venue``, action ``"refuse"``): it takes the order and answers ``OrderRejected``
with the venue's reason, as a venue does; everything else goes on to the simulated
exchange. The demo's real drawdown trip on the recorded EUR/USD quotes.
"""

from __future__ import annotations

from decimal import Decimal

from invariants import checked
from nautilus_trader.model.enums import OrderStatus, OrderType, TimeInForce
from venue import Venue, is_watch_close

from nautilus_riskwatch import RiskWatchConfig
from nautilus_riskwatch.demo import build_engine
from nautilus_riskwatch.demo.engine import HEDGER_ID, TRADER_ID

# The escalation's run checks the kill's invariants (conftest.py); the control's cannot
# hold them: a venue that refuses every close leaves the position open, said in the record.
checked_build = checked(build_engine)

WATCH = {
    "feeds": [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}],
    "max_loss": "1000 USD",
    "hedge_tags": ["HEDGE"],
}
RESERVED = "order type not permitted while the market is reserved"


def _refuse_market_orders(command) -> str:
    """From the trip on the market is reserved: the watch's market closes are refused (the
    strategies' opening orders, hours before, went through)."""
    if is_watch_close(command) and command.order.order_type == OrderType.MARKET:
        return "refuse"
    return "pass"


def _positions(engine, strategy: str) -> list[str]:
    return sorted(
        p.id.value for p in engine.cache.positions_open() if str(p.strategy_id) == strategy
    )


def _closes(engine):
    """The watch's closes in the order sent (one instant may hold several: the market
    close, its rejection and the limit close that follows it)."""
    closes = [o for o in engine.cache.orders() if "RISKWATCH" in (o.tags or [])]
    return sorted(closes, key=lambda o: (o.ts_init, o.order_type != OrderType.MARKET))


def test_control_market_closes_only_are_refused_every_time_and_the_record_says_why():
    run = build_engine(RiskWatchConfig(**WATCH, close_escalation=["market"]))
    Venue(run.engine, _refuse_market_orders, refusal=RESERVED)
    run.engine.run()
    record = run.watch.record
    # the trader's short stays open: three market closes, each rejected by the venue
    assert _positions(run.engine, TRADER_ID) == ["SIM-1-001"]
    closes = _closes(run.engine)
    assert [(o.order_type, o.status) for o in closes] == [
        (OrderType.MARKET, OrderStatus.REJECTED)
    ] * 3
    assert record.positions_unflattened == ["SIM-1-001"] and not record.complete
    assert len(record.close_rejections) == 3
    assert all(RESERVED in line and "market BUY" in line for line in record.close_rejections)
    assert record.unflattened_why == {"SIM-1-001": record.close_rejections[-1]}
    assert "not closed     SIM-1-001: market BUY" in record.report()


def test_a_refused_market_close_escalates_to_a_marketable_ioc_limit_that_closes():
    run = checked_build(RiskWatchConfig(**WATCH, close_through_ticks=5))
    venue = Venue(run.engine, _refuse_market_orders, refusal=RESERVED)
    run.engine.run()
    record = run.watch.record
    assert _positions(run.engine, TRADER_ID) == [] and _positions(run.engine, HEDGER_ID)
    market, limit = _closes(run.engine)
    assert (market.order_type, market.status) == (OrderType.MARKET, OrderStatus.REJECTED)
    assert (limit.order_type, limit.time_in_force) == (OrderType.LIMIT, TimeInForce.IOC)
    assert limit.status == OrderStatus.FILLED and limit.is_reduce_only
    # priced 5 ticks through the ask it was sent at (a BUY closing the short), filled at
    # that ask: the touch, not its limit
    ask = limit.events[-1].last_px.as_decimal()
    assert limit.price.as_decimal() == ask + 5 * Decimal("0.00001")
    # at once after the rejection: no confirm_timeout waited for a refused close
    assert limit.ts_init == market.events[-1].ts_event
    assert record.positions_closed == ["SIM-1-001"] and record.positions_unflattened == []
    [line] = record.close_rejections
    assert RESERVED in line and market.client_order_id.value in line
    assert record.unflattened_why == {} and record.complete
    assert venue.count("SubmitOrder", "refuse") == 1
