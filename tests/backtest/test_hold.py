"""After a trip the tripped scope stays held until a re-arm: nothing of it trades again.

Judged by the engine's cache (live orders wherever held, open positions, fills after the
trip), each scenario with a control run showing the order would have traded without the
watch. The recorded EUR/USD quotes; NETTING, so that a SELL of a strategy that is long
reduces (or flips) its one position, as the RiskEngine's REDUCING judges it.
"""

from __future__ import annotations

from nautilus_trader.model.enums import OrderSide, OrderStatus
from nautilus_trader.model.events import OrderCanceled
from nautilus_trader.model.objects import Price, Quantity
from scripted import Run, Scripted, ScriptedConfig, build

from nautilus_riskwatch import RiskWatchConfig

TRIP = 50
LOT = 100_000


def _buy(s: Scripted, _tick) -> None:
    s.submit_order(s.order_factory.market(s.instrument_id, OrderSide.BUY, Quantity.from_int(LOT)))


def _sell_market(s: Scripted) -> None:
    s.submit_order(s.order_factory.market(s.instrument_id, OrderSide.SELL, Quantity.from_int(LOT)))


def _with_watch(run: Run) -> Run:
    for strategy in run.strategies:
        strategy.watch = run.watch
    return run


def _shorts_ever(run: Run, s: Scripted) -> list[str]:
    """Every fill of the strategy that left it short, by the engine's position events."""
    found = []
    for position in run.cache.positions(strategy_id=s.id):
        net = 0
        for fill in position.events:
            qty = int(fill.last_qty.as_decimal())
            net += qty if fill.order_side == OrderSide.BUY else -qty
            if net < 0:
                found.append(f"{fill.client_order_id} -> {net}")
    return found


# --- 2a: the strategy's own SELL on the trip's quote ---------------------------------------
def _sell_at_the_trip(s: Scripted, _tick) -> None:
    """The watch trips on this quote and sends its close; the strategy then sells its long
    on the same quote, as a strategy exiting on the same signal would."""
    s.watch.kill("test: the trip on this quote", who="test")
    _sell_market(s)


def _sell_only(s: Scripted, _tick) -> None:
    _sell_market(s)


def test_control_the_strategys_own_sell_trades_without_the_watch():
    run = build(None, [{1: _buy, TRIP: _sell_only}], oms_type="NETTING")
    run.engine.run()
    [s] = run.strategies
    assert len(run.fills_after(0, s)) == 2 and run.open_positions(s) == []


def test_reducing_a_sell_on_the_trips_quote_is_judged_net_of_the_watchs_close():
    run = _with_watch(
        build(
            RiskWatchConfig(max_loss="1000000 USD", trading_state_on_trip="REDUCING"),
            [{1: _buy, TRIP: _sell_at_the_trip}],
            oms_type="NETTING",
        )
    )
    run.engine.run()
    [s] = run.strategies
    record = run.watch.record
    assert record is not None and record.stage == "done"
    # the watch's close is already working for the whole long: the strategy's SELL does
    # not reduce anything more, so it is denied, and the strategy never goes short
    assert _shorts_ever(run, s) == []
    assert [d.reason for d in s.denied][:1] and "after a trip" in s.denied[0].reason
    assert run.fills_after(record.tripped_at_ns, s) == []
    assert run.live_orders(s) == [] and run.open_positions(s) == []
    assert record.complete


# --- 2b: a take-profit re-placed in on_order_canceled --------------------------------------
class _Replacer(Scripted):
    """Re-places its take-profit whenever it is cancelled (a common strategy pattern)."""

    def on_order_canceled(self, event: OrderCanceled) -> None:
        order = self.cache.order(event.client_order_id)
        if order is None or order.side != OrderSide.SELL or self.replaced >= 5:
            return
        self.replaced += 1
        self.submit_order(
            self.order_factory.limit(
                self.instrument_id,
                OrderSide.SELL,
                Quantity.from_int(LOT),
                Price.from_str("1.12200"),
            )
        )


def _take_profit(s: Scripted, _tick) -> None:
    s.submit_order(
        s.order_factory.limit(
            s.instrument_id, OrderSide.SELL, Quantity.from_int(LOT), Price.from_str("1.12200")
        )
    )


def _kill(s: Scripted, _tick) -> None:
    s.watch.kill("test: pull the switch", who="test")


def _replacer_run(watch: RiskWatchConfig | None, steps) -> Run:
    run = build(watch, [], oms_type="NETTING")
    strategy = _Replacer(ScriptedConfig(order_id_tag="001"), steps)
    strategy.replaced = 0
    run.engine.add_strategy(strategy)
    run.strategies.append(strategy)
    return run


def test_control_the_take_profit_fills_when_nobody_pulls_the_switch():
    run = _replacer_run(None, {1: _buy, 2: _take_profit, TRIP: _cancel_own_tp})
    run.engine.run()
    [s] = run.strategies
    # the strategy cancels its own take-profit, re-places it, and the new one fills later
    assert s.replaced == 1
    [fill] = [f for f in run.fills_after(0, s) if f.order_side == OrderSide.SELL]
    assert run.cache.order(fill.client_order_id).status == OrderStatus.FILLED
    assert run.open_positions(s) == []


def _cancel_own_tp(s: Scripted, _tick) -> None:
    for order in s.cache.orders_open(strategy_id=s.id):
        s.cancel_order(order)


def test_a_take_profit_re_placed_in_on_order_canceled_is_cancelled_by_the_hold():
    run = _with_watch(
        _replacer_run(
            RiskWatchConfig(max_loss="1000000 USD", trading_state_on_trip="REDUCING"),
            {1: _buy, 2: _take_profit, TRIP: _kill},
        )
    )
    run.engine.run()
    [s] = run.strategies
    record = run.watch.record
    assert record is not None and record.stage == "done"
    # it was admitted as reducing while the long was open, then cancelled by the hold:
    # it never filled, the strategy never went short, nothing of it is live
    assert s.replaced >= 1
    assert _shorts_ever(run, s) == []
    assert run.fills_after(record.tripped_at_ns, s) == []
    assert run.live_orders(s) == [] and run.open_positions(s) == []
    # the record agrees with the cache: every order the strategy had after the trip is
    # cancelled in it, and it is complete
    cancelled = {
        o.client_order_id.value
        for o in run.cache.orders(strategy_id=s.id)
        if o.status == OrderStatus.CANCELED
    }
    assert set(record.orders_cancelled) == cancelled
    assert record.left_live == [] and record.complete


# --- the hold after the cascade: orders admitted under REDUCING, positions that appear ----
LATER = 200  # well after the cascade is done


def _hedge(s: Scripted, _tick) -> None:
    s.submit_order(
        s.order_factory.market(
            s.instrument_id, OrderSide.BUY, Quantity.from_int(3 * LOT), tags=["HEDGE"]
        )
    )


def _sell_without_position(s: Scripted, _tick) -> None:
    """Would reduce the strategy's net long, as the RiskEngine's REDUCING judges it; on a
    HEDGING venue, naming no position, it opens a new short position instead."""
    _sell_market(s)


def _rest_a_reducing_limit(s: Scripted, _tick) -> None:
    """A take-profit on the hedger's own position, named: it reduces it."""
    [position] = [p for p in s.cache.positions_open(strategy_id=s.id) if p.is_long]
    order = s.order_factory.limit(
        s.instrument_id, OrderSide.SELL, Quantity.from_int(LOT), Price.from_str("1.13000")
    )
    s.submit_order(order, position_id=position.id)


def _rest_a_far_buy(s: Scripted, _tick) -> None:
    s.submit_order(
        s.order_factory.limit(
            s.instrument_id, OrderSide.BUY, Quantity.from_int(LOT), Price.from_str("1.10000")
        )
    )


def _hedger_script() -> dict:
    return {1: _hedge, LATER: _sell_without_position, LATER + 1: _rest_a_reducing_limit}


def test_control_after_the_trip_the_hedgers_orders_would_trade():
    run = build(None, [{}, _hedger_script()])
    run.engine.run()
    _, h = run.strategies
    assert run.open_positions(h) == ["LONG 300000", "SHORT 100000"]
    assert [o.split(":")[1] for o in run.live_orders(h)] == ["ACCEPTED"]


def test_the_hold_cancels_an_order_admitted_under_reducing_after_the_cascade(
    tmp_path,
):
    from nautilus_riskwatch import read_event_log, records_from
    from nautilus_riskwatch.nautilus.commands import risk_off_topic

    run = _with_watch(
        build(
            RiskWatchConfig(
                max_loss="1000000 USD",
                hedge_tags=["HEDGE"],
                trading_state_on_trip="REDUCING",
                event_log=str(tmp_path / "events.jsonl"),
            ),
            [{1: _buy, 2: _rest_a_far_buy, TRIP: _kill}, _hedger_script()],
        )
    )
    published = []
    run.engine.kernel.msgbus.subscribe(risk_off_topic(run.watch.id), published.append)
    run.engine.run()
    t, h = run.strategies
    record = run.watch.record
    assert record is not None and record.stage == "done"
    # the SELL naming no position would open a short on this HEDGING venue: denied; the
    # limit naming the hedge's position reduces it: admitted, then cancelled by the hold
    [denied] = h.denied
    assert run.cache.order(denied.client_order_id).order_type.name == "MARKET"
    assert run.open_positions(h) == ["LONG 300000"] and run.live_orders(h) == []
    assert run.open_positions(t) == [] and run.live_orders(t) == []
    # the record agrees with the cache, says what changed and when, and was re-published
    [limit] = [
        o
        for o in run.cache.orders(strategy_id=h.id)
        if o.order_type.name == "LIMIT" and "RISKWATCH" not in (o.tags or [])
    ]
    assert limit.status == OrderStatus.CANCELED
    assert limit.client_order_id.value in record.orders_cancelled
    assert record.left_live == [] and record.complete
    changes = [c for a in record.amendments for c in a["changes"]]
    assert f"cancelled {limit.client_order_id} (venue)" in changes
    assert all(a["at_ns"] > record.finished_at_ns for a in record.amendments)
    assert len(published) == 1 + len(record.amendments) and published[-1] is record
    events = read_event_log(tmp_path / "events.jsonl").events
    assert [e.fields["changes"] for e in events if e.kind == "amended"] == [
        a["changes"] for a in record.amendments
    ]
    assert [r.to_dict() for r in records_from(events)] == [record.to_dict()]
