"""Every order path NautilusTrader has, against the kill: nothing guarded trades after a trip.

Judged by the engine's own state (the cache's live orders wherever held, open positions,
fills after the trip), never by the watch's record. Each scenario first runs without the
watch (or with it not tripping) to prove the orders involved really would have traded.
The recorded EUR/USD ask climbs from 1.12172 to 1.12228 over the first 3,000 quotes (and
dips to 1.12124 on the way), so a buy stop at 1.12200 triggers, a sell limit at 1.12200
and a buy limit at 1.12130 are touched, all well after the trip on quote 50.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from nautilus_trader.examples.algorithms.twap import TWAPExecAlgorithm
from nautilus_trader.model.enums import OrderSide, OrderType, TimeInForce, TriggerType
from nautilus_trader.model.identifiers import ExecAlgorithmId
from nautilus_trader.model.objects import Price, Quantity
from scripted import Scripted, build

from nautilus_riskwatch import RiskWatchConfig

TRIP = 50  # the quote on which the first strategy pulls the switch
LATER = 60  # a quote after the trip, on which strategies try again


def _qty(n: int) -> Quantity:
    return Quantity.from_int(n)


def _px(text: str) -> Price:
    return Price.from_str(text)


def market(side: str, qty: int = 100_000, tags: list[str] | None = None):
    def step(s: Scripted, _tick) -> None:
        s.submit_order(
            s.order_factory.market(s.instrument_id, OrderSide[side], _qty(qty), tags=tags)
        )

    return step


def emulated_book(s: Scripted, _tick) -> None:
    """Everything the OrderEmulator can hold: a stop, a trailing stop, a limit, a bracket."""
    f, i = s.order_factory, s.instrument_id
    s.submit_order(
        f.stop_market(
            i, OrderSide.BUY, _qty(200_000), _px("1.12200"), emulation_trigger=TriggerType.BID_ASK
        )
    )
    s.submit_order(
        f.limit(
            i, OrderSide.SELL, _qty(100_000), _px("1.12200"), emulation_trigger=TriggerType.BID_ASK
        )
    )
    s.submit_order(
        f.trailing_stop_market(
            i,
            OrderSide.BUY,
            _qty(100_000),
            trailing_offset=Decimal("0.00020"),
            trigger_price=_px("1.12200"),
            emulation_trigger=TriggerType.BID_ASK,
        )
    )
    s.submit_order_list(
        f.bracket(
            i,
            OrderSide.BUY,
            _qty(100_000),
            emulation_trigger=TriggerType.BID_ASK,
            entry_order_type=OrderType.LIMIT,
            entry_price=_px("1.12130"),
            sl_trigger_price=_px("1.12050"),
            tp_price=_px("1.12400"),
        )
    )


def close_part(qty: int):
    def step(s: Scripted, _tick) -> None:
        [position] = s.cache.positions_open(strategy_id=s.id)
        order = s.order_factory.market(s.instrument_id, position.closing_order_side(), _qty(qty))
        s.submit_order(order, position_id=position.id)

    return step


def kill(s: Scripted, _tick) -> None:
    s.watch.kill("test: pull the switch", who="test")


def _with_watch(run):
    for strategy in run.strategies:
        strategy.watch = run.watch
    return run


def _trip(run):
    record = run.watch.record
    assert record is not None and record.stage == "done"
    return record


# --- 1. emulated orders at the trip ------------------------------------------------------
def test_control_the_emulated_book_fills_when_nobody_pulls_the_switch():
    run = build(None, [{1: market("BUY"), 2: emulated_book}])
    run.engine.run()
    [s] = run.strategies
    # the emulated stop, limit and trailing stop and the bracket entry all traded
    assert len(run.fills_after(0, s)) >= 4


def test_emulated_orders_and_brackets_are_cancelled_and_never_fill_after_the_trip():
    run = _with_watch(
        build(
            RiskWatchConfig(max_loss="1000000 USD"),
            [{1: market("BUY"), 2: emulated_book, TRIP: kill}],
        )
    )
    run.engine.run()
    [s] = run.strategies
    record = _trip(run)
    assert run.live_orders(s) == [] and run.open_positions(s) == []
    assert run.fills_after(record.tripped_at_ns, s) == []
    assert run.cache.orders_emulated(strategy_id=s.id) == []
    # the record says where each order was held, and that the engine holds nothing more
    held = sorted(record.held_by[o] for o in record.orders_cancelled)
    # (1.231 releases the trailing stop at once, 1.221 holds it: 3 or 4 in the emulator)
    assert held.count("held (contingent)") == 2 and held.count("emulator") >= 3
    assert record.complete and record.left_live == []


# --- 2. new orders after the trip, on every path ----------------------------------------
def test_orders_submitted_after_the_trip_are_denied_on_every_path():
    run = _with_watch(
        build(
            RiskWatchConfig(max_loss="1000000 USD"),
            [{1: market("BUY"), TRIP: kill, LATER: emulated_book, LATER + 1: market("BUY")}],
        )
    )
    run.engine.run()
    [s] = run.strategies
    record = _trip(run)
    assert run.fills_after(record.tripped_at_ns, s) == []
    assert run.live_orders(s) == [] and run.open_positions(s) == []
    # 3 emulated orders, the bracket's 3 and the market order: all denied, reason named
    assert len(s.denied) == 3 + 3 + 1
    assert all("RiskWatch" in d.reason and "after a trip" in d.reason for d in s.denied)
    assert run.watch.denied == {str(s.id): 7}


# --- 3. REDUCING means reducing, from flat too --------------------------------------------
def test_reducing_lets_only_orders_that_reduce_the_strategys_own_position_through():
    hedge = {1: market("BUY", 300_000, tags=["HEDGE"])}
    hedge[LATER] = close_part(100_000)  # reduces its own kept hedge: passes
    hedge[LATER + 1] = market("BUY", 100_000)  # grows it: denied
    hedge[LATER + 2] = market("SELL", 500_000)  # flips it: denied
    trader = {1: market("BUY"), TRIP: kill, LATER: market("BUY"), LATER + 1: emulated_book}
    run = _with_watch(
        build(
            RiskWatchConfig(
                max_loss="1000000 USD", hedge_tags=["HEDGE"], trading_state_on_trip="REDUCING"
            ),
            [trader, hedge],
        )
    )
    run.engine.run()
    t, h = run.strategies
    record = _trip(run)
    assert record.trading_state == "REDUCING"
    # the trader, flat after the cascade, may not open again, on any path
    assert run.fills_after(record.tripped_at_ns, t) == [] and run.open_positions(t) == []
    assert len(t.denied) == 1 + 3 + 3
    # the hedger reduced its own position; growing or flipping it was denied
    assert run.open_positions(h) == ["LONG 200000"]
    assert len(h.denied) == 2


# --- 4. never cancel what is not ours ----------------------------------------------------
def test_orders_in_flight_of_other_strategies_are_never_cancelled():
    def rest(side: str, price: str, tags=None):
        def step(s: Scripted, _tick) -> None:
            s.submit_order(
                s.order_factory.limit(
                    s.instrument_id, OrderSide[side], _qty(100_000), _px(price), tags=tags
                )
            )

        return step

    # the guarded strategy rests an order, and puts a protective stop in flight at the trip
    guarded = {1: rest("BUY", "1.11000"), TRIP: rest("SELL", "1.13000", tags=["HEDGE"])}

    def unguarded_then_kill(s, tick):  # its order is in flight (latency) at the trip
        rest("BUY", "1.11100")(s, tick)
        rest("SELL", "1.13100", tags=["HEDGE"])(s, tick)
        kill(s, tick)

    run = _with_watch(
        build(
            RiskWatchConfig(
                max_loss="1000000 USD", strategies=["Scripted-001"], hedge_tags=["HEDGE"]
            ),
            [guarded, {TRIP: unguarded_then_kill}],
            latency_ms=50,
        )
    )
    run.engine.run()
    g, u = run.strategies
    record = _trip(run)
    # only its protective order is left, resting, and the record's "kept" is what rests
    [kept] = run.live_orders(g)
    assert kept.endswith(":ACCEPTED") and record.orders_kept == [kept.split(":")[0]]
    assert len(record.orders_cancelled) == 1
    # the unguarded strategy's orders were in flight at the trip; they rest untouched
    assert [o.split(":")[1] for o in run.live_orders(u)] == ["ACCEPTED", "ACCEPTED"]
    assert record.complete


# --- 5. execution algorithms --------------------------------------------------------------
def twap(s: Scripted, _tick) -> None:
    s.submit_order(
        s.order_factory.market(
            s.instrument_id,
            OrderSide.BUY,
            _qty(1_000_000),
            time_in_force=TimeInForce.FOK,
            exec_algorithm_id=ExecAlgorithmId("TWAP"),
            exec_algorithm_params={"horizon_secs": 3_600, "interval_secs": 60},
        )
    )


def test_control_a_twap_order_keeps_trading_when_nobody_pulls_the_switch():
    run = build(None, [{1: twap}], algorithms=(TWAPExecAlgorithm(),))
    run.engine.run()
    [s] = run.strategies
    assert len(run.fills_after(0, s)) > 20


def test_an_exec_algorithm_order_and_its_children_stop_at_the_trip():
    run = _with_watch(
        build(
            RiskWatchConfig(max_loss="1000000 USD"),
            [{1: twap, 400: kill}],
            algorithms=(TWAPExecAlgorithm(),),
        )
    )
    run.engine.run()
    [s] = run.strategies
    record = _trip(run)
    assert run.fills_after(record.tripped_at_ns, s) == []
    assert run.live_orders(s) == [] and run.open_positions(s) == []
    [primary] = [
        o for o in record.orders_cancelled if record.held_by[o].startswith("exec algorithm")
    ]
    assert record.held_by[primary] == "exec algorithm TWAP"
    assert record.complete


# --- 6. NETTING: protection follows quantity ---------------------------------------------
@pytest.mark.parametrize("oms_type", ["NETTING", "HEDGING"])
def test_a_hedge_grown_by_untagged_orders_keeps_only_the_hedge_quantity(oms_type):
    script = {1: market("BUY", 300_000, tags=["HEDGE"]), 2: market("BUY", 1_000_000), TRIP: kill}
    if oms_type == "HEDGING":  # grow the hedge's own position by its id

        def grow(s, _tick):
            [position] = s.cache.positions_open(strategy_id=s.id)
            order = s.order_factory.market(s.instrument_id, OrderSide.BUY, _qty(1_000_000))
            s.submit_order(order, position_id=position.id)

        script[2] = grow
    run = _with_watch(
        build(
            RiskWatchConfig(max_loss="1000000 USD", hedge_tags=["HEDGE"]),
            [script],
            oms_type=oms_type,
        )
    )
    run.engine.run()
    [s] = run.strategies
    record = _trip(run)
    assert run.open_positions(s) == ["LONG 300000"]
    assert record.hedges_kept == record.positions_closed and len(record.hedges_kept) == 1
    assert record.complete


# --- 7. NautilusTrader's own example, unchanged, guarded through configuration only ------
def _ema_cross_bracket_run(catalog: str, watch: dict | None):
    from nautilus_trader.backtest.node import BacktestNode
    from nautilus_trader.config import ImportableStrategyConfig

    from nautilus_riskwatch.demo.node import backtest_run_config

    example = "nautilus_trader.examples.strategies.ema_cross_bracket"
    config = backtest_run_config(
        catalog,
        watch,
        oms_type="NETTING",
        strategies=[
            ImportableStrategyConfig(
                strategy_path=f"{example}:EMACrossBracket",
                config_path=f"{example}:EMACrossBracketConfig",
                config={
                    "instrument_id": "EUR/USD.SIM",
                    "bar_type": "EUR/USD.SIM-1-MINUTE-BID-INTERNAL",
                    "trade_size": "100000",
                    "bracket_distance_atr": 1.0,
                    "emulation_trigger": "BID_ASK",
                    "order_id_tag": "001",
                },
            )
        ],
    )
    node = BacktestNode(configs=[config])
    node.run()
    return node, node.get_engine(config.id)


def test_nautilus_ema_cross_bracket_example_with_emulated_brackets_is_taken_down(tmp_path):
    from nautilus_riskwatch.demo.node import write_catalog

    write_catalog(str(tmp_path))
    # control: unguarded, the example trades its emulated brackets all evening
    node, engine = _ema_cross_bracket_run(str(tmp_path), None)
    emulated_fills = [
        o
        for o in engine.cache.orders()
        if o.filled_qty and any(type(e).__name__ == "OrderReleased" for e in o.events)
    ]
    assert len(emulated_fills) > 5
    node.dispose()

    watch = {"feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 90.0}], "max_loss": "30 USD"}
    node, engine = _ema_cross_bracket_run(str(tmp_path), watch)
    [riskwatch] = engine.trader.actors()
    [strategy] = engine.trader.strategies()
    record = riskwatch.record
    assert record is not None and record.stage == "done", "the example never tripped the watch"
    cache = engine.cache
    # at the trip the example held emulated stop-loss and take-profit orders: cancelled
    assert "emulator" in record.held_by.values()
    assert cache.orders_emulated() == [] and cache.positions_open() == []
    assert [o for o in cache.orders() if not o.is_closed] == []
    after = [
        e
        for o in cache.orders(strategy_id=strategy.id)
        if "RISKWATCH" not in (o.tags or [])
        for e in o.events
        if type(e).__name__ == "OrderFilled" and e.ts_event > record.tripped_at_ns
    ]
    assert after == []
    # the example kept trying (a bracket per bar): every try was denied by the watch
    denied = [o for o in cache.orders(strategy_id=strategy.id) if o.status.name == "DENIED"]
    assert denied and all(o.ts_init > record.tripped_at_ns for o in denied)
    assert record.complete
    node.dispose()


# --- several watches in one engine share one gate ----------------------------------------
def test_two_watches_with_scoped_limits_start_trip_and_block_only_their_own_scope():
    from nautilus_riskwatch import RiskWatch

    # the first fill's commission (about 2.24 USD) trips watch A's limit on Scripted-001
    first = {1: market("BUY"), LATER: market("BUY")}
    second = {1: market("BUY"), LATER: market("BUY")}
    run = build(
        RiskWatchConfig(
            component_id="Watch-A",
            limits=[{"max_loss": "1 USD", "strategy_id": "Scripted-001"}],
        ),
        [first, second],
    )
    other = RiskWatch(
        RiskWatchConfig(
            component_id="Watch-B",
            limits=[{"max_loss": "1000000 USD", "strategy_id": "Scripted-002"}],
            strategies=["Scripted-002"],
        )
    )
    run.engine.add_actor(other)
    run.invariants.add_watch(other)
    run.engine.run()  # used to abort: the second gate could not register its endpoint
    a, b = run.strategies
    record = run.watch.scope_records["strategy Scripted-001"]
    assert record is not None and record.stage == "done"
    assert run.watch.record is None and other.record is None
    assert run.open_positions(a) == [] and len(a.denied) == 1
    # the other watch's strategy trades on, twice long; nothing of it was denied
    assert run.open_positions(b) == ["LONG 100000", "LONG 100000"] and b.denied == []
    assert record.complete
    # both watches stopped at the end of the run: A's trip holds its gate until a re-arm
    # (or a reset); after the reset the engine's own handlers are back
    from nautilus_riskwatch.nautilus.engine_hooks import endpoint_table

    table = endpoint_table(run.engine.kernel.msgbus)
    assert not hasattr(table["RiskEngine.execute"], "__self__")  # the gate's
    run.engine.reset()
    table = endpoint_table(run.engine.kernel.msgbus)
    assert type(table["RiskEngine.execute"].__self__).__name__ == "RiskEngine"
    assert type(table["OrderEmulator.execute"].__self__).__name__ == "OrderEmulator"


# --- contingent orders without emulation: the venue holds the children ---------------------
def venue_bracket(s: Scripted, _tick) -> None:
    """A bracket sent whole to the venue: its SL/TP wait there for the entry to fill."""
    s.submit_order_list(
        s.order_factory.bracket(
            s.instrument_id,
            OrderSide.BUY,
            _qty(100_000),
            entry_order_type=OrderType.LIMIT,
            entry_price=_px("1.12130"),
            sl_trigger_price=_px("1.12050"),
            tp_price=_px("1.12400"),
        )
    )


def test_control_a_venue_bracket_fills_when_nobody_pulls_the_switch():
    run = build(None, [{2: venue_bracket}])
    run.engine.run()
    [s] = run.strategies
    assert run.fills_after(0, s)  # the entry fills (and its SL and TP then rest)


def test_a_venue_bracket_entry_and_its_held_children_are_cancelled():
    run = _with_watch(
        build(RiskWatchConfig(max_loss="1000000 USD"), [{2: venue_bracket, TRIP: kill}])
    )
    run.engine.run()
    [s] = run.strategies
    record = _trip(run)
    assert run.live_orders(s) == [] and run.open_positions(s) == []
    assert run.fills_after(record.tripped_at_ns, s) == []
    # the venue holds the children (OTO) before the entry fills: all three are cancelled
    held = sorted(record.held_by[o] for o in record.orders_cancelled)
    assert len(held) == 3 and "venue" in held
    assert record.complete


def test_a_kept_emulated_protective_stop_still_fires_after_the_trip():
    def protect(s: Scripted, _tick) -> None:  # a stop on the hedge's own position
        [position] = s.cache.positions_open(strategy_id=s.id)
        stop = s.order_factory.stop_market(
            s.instrument_id,
            OrderSide.BUY,
            _qty(300_000),
            _px("1.12200"),
            emulation_trigger=TriggerType.BID_ASK,
            reduce_only=True,
            tags=["HEDGE"],
        )
        s.submit_order(stop, position_id=position.id)

    run = _with_watch(
        build(
            RiskWatchConfig(max_loss="1000000 USD", hedge_tags=["HEDGE"]),
            [{1: market("BUY"), TRIP: kill}, {1: market("SELL", 300_000, ["HEDGE"]), 2: protect}],
        )
    )
    run.engine.run()
    t, h = run.strategies
    record = _trip(run)
    [stop_id] = record.orders_kept
    assert record.held_by[stop_id] == "emulator" and record.complete
    # the hold saw it fire: kept, and no longer live (the record says when)
    changes = [c for a in record.amendments for c in a["changes"]]
    assert f"kept live: ['{stop_id}'] -> []" in changes
    # the emulator released the kept stop after the trip and the gate let it through:
    # the hedge closed itself, as a protective stop should
    stop = [o for o in run.cache.orders(strategy_id=h.id) if str(o.client_order_id) == stop_id]
    assert stop[0].status.name == "FILLED" and run.fills_after(record.tripped_at_ns, h)
    assert run.open_positions(h) == [] and run.open_positions(t) == [] and h.denied == []


def test_after_a_reset_the_next_run_trades_on_every_path_again():
    # a parameter sweep: run 1 trips (the gate blocks the strategy), the engine is reset,
    # run 2 must start unblocked: its emulated stop is accepted and fills, nothing denied
    def stop(s: Scripted, _tick) -> None:
        s.submit_order(
            s.order_factory.stop_market(
                s.instrument_id,
                OrderSide.BUY,
                _qty(100_000),
                _px("1.12200"),
                emulation_trigger=TriggerType.BID_ASK,
            )
        )

    run = build(RiskWatchConfig(max_loss="1000000 USD"), [{1: market("BUY"), LATER: stop}])
    [s] = run.strategies
    s.steps[TRIP] = lambda s, t: run.watch.kill("run 1 only") if run.watch.record is None else None
    run.engine.run()
    assert run.watch.record is not None and len(s.denied) == 1  # run 1: the stop was denied
    run.engine.reset()
    del s.steps[TRIP]
    run.engine.run()
    assert run.watch.record is None and s.denied == []
    filled = [o for o in run.cache.orders(strategy_id=s.id) if o.status.name == "FILLED"]
    assert any(any(type(e).__name__ == "OrderReleased" for e in o.events) for o in filled)
    assert run.watch.denied == {}
