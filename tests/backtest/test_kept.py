"""What the watch keeps stays kept: through contingent links, across watches, under algorithms.

Judged by the engine's cache (orders wherever held, positions, fills after the trip), each
scenario with a control run showing the kept order really trades. The recorded EUR/USD ask
climbs from 1.12172 to 1.12228 over the first 3,000 quotes, so a buy stop at 1.12200 fires
well after the trip on quote 50, and a buy limit at 1.11000 never fills.
"""

from __future__ import annotations

import pytest
from nautilus_trader.examples.algorithms.twap import TWAPExecAlgorithm
from nautilus_trader.model.enums import ContingencyType, OrderSide, OrderType, TriggerType
from nautilus_trader.model.identifiers import ExecAlgorithmId
from nautilus_trader.model.objects import Price, Quantity
from scripted import Run, Scripted, build

from nautilus_riskwatch import RiskWatch, RiskWatchConfig

TRIP = 50
LATER = 200


def _market(side: str, qty: int, tags: list[str] | None = None):
    def step(s: Scripted, _tick) -> None:
        order = s.order_factory.market(
            s.instrument_id, OrderSide[side], Quantity.from_int(qty), tags=tags
        )
        s.submit_order(order)

    return step


def _hedge_bracket(contingency: ContingencyType, emulated: bool):
    """A short hedge opened by a bracket: entry and stop-loss tagged HEDGE, the
    take-profit untagged (NautilusTrader's default tags), as a new user writes it."""

    def step(s: Scripted, _tick) -> None:
        s.submit_order_list(
            s.order_factory.bracket(
                s.instrument_id,
                OrderSide.SELL,
                Quantity.from_int(300_000),
                emulation_trigger=TriggerType.BID_ASK if emulated else TriggerType.NO_TRIGGER,
                contingency_type=contingency,
                entry_order_type=OrderType.LIMIT,
                entry_price=Price.from_str("1.12100"),  # marketable: the hedge opens at once
                sl_trigger_price=Price.from_str("1.12200"),  # fires after the trip
                tp_price=Price.from_str("1.11000"),  # never reached
                entry_tags=["HEDGE"],
                sl_tags=["HEDGE"],
            )
        )

    return step


def _kill(name: str = "watch"):
    def step(s: Scripted, _tick) -> None:
        getattr(s, name).kill("test: pull the switch", who="test")

    return step


def _stop_and_take_profit(run: Run, strategy: Scripted) -> tuple:
    """The bracket's two children (both BUY): the HEDGE-tagged stop, the untagged limit.
    (An emulated stop is a MARKET order once released, so found by its tag.)"""
    children = [o for o in run.cache.orders(strategy_id=strategy.id) if o.side == OrderSide.BUY]
    [stop] = [o for o in children if "HEDGE" in (o.tags or [])]
    [take_profit] = [o for o in children if "HEDGE" not in (o.tags or [])]
    return stop, take_profit


# --- 1. a kept protective stop never dies through its contingent link ------------------
BRACKETS = [
    pytest.param(ContingencyType.OUO, False, id="venue-OUO"),
    pytest.param(ContingencyType.OCO, False, id="venue-OCO"),
    pytest.param(ContingencyType.OUO, True, id="emulated-OUO"),
    pytest.param(ContingencyType.OCO, True, id="emulated-OCO"),
]


@pytest.mark.parametrize(("contingency", "emulated"), BRACKETS)
def test_control_the_hedges_bracket_stop_fires_after_the_trip_quote(contingency, emulated):
    run = build(None, [{1: _market("BUY", 100_000)}, {1: _hedge_bracket(contingency, emulated)}])
    run.engine.run()
    _, h = run.strategies
    stop, _ = _stop_and_take_profit(run, h)
    assert stop.status.name == "FILLED"
    assert run.open_positions(h) == []  # the stop closed the hedge


@pytest.mark.parametrize(("contingency", "emulated"), BRACKETS)
def test_cancelling_the_untagged_take_profit_never_takes_the_kept_stop_with_it(
    contingency, emulated
):
    trader = {1: _market("BUY", 100_000), TRIP: _kill()}
    run = build(
        RiskWatchConfig(max_loss="1000000 USD", hedge_tags=["HEDGE"]),
        [trader, {1: _hedge_bracket(contingency, emulated)}],
    )
    t, h = run.strategies
    t.watch = run.watch
    run.engine.run()
    record = run.watch.record
    assert record is not None and record.stage == "done"
    stop, take_profit = _stop_and_take_profit(run, h)
    # the stop and the take-profit were kept, not cancelled; nothing of the hedger was
    assert set(record.orders_kept) == {
        stop.client_order_id.value,
        take_profit.client_order_id.value,
    }
    assert record.orders_cancelled == []
    # the kept stop fired after the trip and closed the hedge, as a stop should; its
    # contingent take-profit then went with it (the engine's doing, after the stop)
    assert stop.status.name == "FILLED"
    assert [
        f.ts_event > record.tripped_at_ns for f in run.fills_after(record.tripped_at_ns, h)
    ] == [True]
    assert take_profit.status.name == "CANCELED"
    assert take_profit.events[-1].ts_event >= stop.events[-1].ts_event
    assert run.open_positions(h) == [] and run.open_positions(t) == []
    assert h.denied == []
    assert record.complete and record.left_live == []


def _waiting_hedge_bracket(emulated: bool):
    """The hedge's bracket still waiting at the trip: its entry fills only later."""

    def step(s: Scripted, _tick) -> None:
        s.submit_order_list(
            s.order_factory.bracket(
                s.instrument_id,
                OrderSide.SELL,
                Quantity.from_int(300_000),
                emulation_trigger=TriggerType.BID_ASK if emulated else TriggerType.NO_TRIGGER,
                entry_order_type=OrderType.LIMIT,
                entry_price=Price.from_str("1.12200"),  # reached after the trip
                sl_trigger_price=Price.from_str("1.12300"),
                tp_price=Price.from_str("1.11000"),
                entry_tags=["HEDGE"],
                sl_tags=["HEDGE"],
            )
        )

    return step


@pytest.mark.parametrize("emulated", [False, True], ids=["venue", "emulated"])
def test_control_the_waiting_hedge_entry_fills_after_the_trip_quote(emulated):
    run = build(None, [{}, {2: _waiting_hedge_bracket(emulated)}])
    run.engine.run()
    _, h = run.strategies
    assert run.open_positions(h) == ["SHORT 300000"]


@pytest.mark.parametrize("emulated", [False, True], ids=["venue", "emulated"])
def test_a_hedges_bracket_waiting_at_the_trip_opens_later_with_its_stop_and_target(emulated):
    run = build(
        RiskWatchConfig(max_loss="1000000 USD", hedge_tags=["HEDGE"]),
        [{1: _market("BUY", 100_000), TRIP: _kill()}, {2: _waiting_hedge_bracket(emulated)}],
    )
    t, h = run.strategies
    t.watch = run.watch
    run.engine.run()
    record = run.watch.record
    assert record is not None and record.complete
    orders = run.cache.orders(strategy_id=h.id)
    assert sorted(record.orders_kept) == sorted(o.client_order_id.value for o in orders)
    assert record.orders_cancelled == []
    # the entry filled after the trip; its stop and target then came to work, as kept
    [entry] = [o for o in orders if o.parent_order_id is None]
    assert entry.status.name == "FILLED" and run.fills_after(record.tripped_at_ns, h)
    live = "EMULATED" if emulated else "ACCEPTED"
    assert sorted(o.status.name for o in orders if o is not entry) == [live, live]
    assert run.open_positions(h) == ["SHORT 300000"] and h.denied == []
    assert run.open_positions(t) == []


def _bracket_with_a_tagged_stop(s: Scripted, _tick) -> None:
    """An untagged entry waiting at the venue, its stop-loss tagged HEDGE: the stop
    protects nothing yet, and cancelling the entry cancels it (OTO)."""
    s.submit_order_list(
        s.order_factory.bracket(
            s.instrument_id,
            OrderSide.BUY,
            Quantity.from_int(100_000),
            entry_order_type=OrderType.LIMIT,
            entry_price=Price.from_str("1.12130"),  # touched after the trip
            sl_trigger_price=Price.from_str("1.12050"),
            tp_price=Price.from_str("1.12400"),
            sl_tags=["HEDGE"],
        )
    )


def test_control_the_untagged_entry_fills_after_the_trip_quote():
    run = build(None, [{2: _bracket_with_a_tagged_stop}])
    run.engine.run()
    [s] = run.strategies
    [entry] = [o for o in run.cache.orders(strategy_id=s.id) if o.parent_order_id is None]
    assert entry.status.name == "FILLED"


def test_a_tagged_stop_an_untagged_cancel_takes_along_is_recorded_as_cancelled_not_kept():
    run = build(
        RiskWatchConfig(max_loss="1000000 USD", hedge_tags=["HEDGE"]),
        [{2: _bracket_with_a_tagged_stop, TRIP: _kill()}],
    )
    [s] = run.strategies
    s.watch = run.watch
    run.engine.run()
    record = run.watch.record
    assert record is not None and record.stage == "done"
    # the record says what the engine did: all three cancelled, nothing kept
    orders = run.cache.orders(strategy_id=s.id)
    assert sorted(o.status.name for o in orders) == ["CANCELED"] * 3
    assert record.orders_kept == []
    assert sorted(record.orders_cancelled) == sorted(o.client_order_id.value for o in orders)
    assert run.fills_after(record.tripped_at_ns, s) == [] and record.complete


# --- 4. several watches: each one's closes pass the others' blocks ---------------------
def _two_watches(kill_b: int, kill_a: int):
    """Watch A (built first, keeps nothing, closes tagged RW-A) and watch B (keeps HEDGE,
    closes tagged RW-B) on one engine; the trader pulls B's switch, then A's."""
    trader = {1: _market("BUY", 100_000), kill_b: _kill("watch_b"), kill_a: _kill("watch")}
    hedger = {1: _market("SELL", 300_000, tags=["HEDGE"])}
    run = build(
        RiskWatchConfig(component_id="Watch-A", max_loss="1000000 USD", close_tag="RW-A"),
        [trader, hedger],
    )
    other = RiskWatch(
        RiskWatchConfig(
            component_id="Watch-B",
            max_loss="1000000 USD",
            hedge_tags=["HEDGE"],
            close_tag="RW-B",
        )
    )
    run.engine.add_actor(other)
    run.invariants.add_watch(other)
    trader = run.strategies[0]
    trader.watch, trader.watch_b = run.watch, other
    return run, other


def test_control_watch_b_alone_keeps_the_hedge_short():
    run, b = _two_watches(TRIP, 10_000)  # A's switch is never pulled
    run.engine.run()
    t, h = run.strategies
    assert b.record is not None and b.record.complete and run.watch.record is None
    assert run.open_positions(t) == [] and run.open_positions(h) == ["SHORT 300000"]


def test_a_later_watch_that_keeps_nothing_flattens_past_the_first_watchs_block():
    run, b = _two_watches(TRIP, LATER)
    run.engine.run()
    t, h = run.strategies
    a = run.watch
    assert b.record is not None and a.record is not None
    assert a.record.tripped_at_ns > b.record.tripped_at_ns
    # B kept the hedge; A keeps nothing and closed it, through B's block
    assert b.record.hedges_kept and a.record.positions_closed == b.record.hedges_kept
    closes = [o for o in run.cache.orders(strategy_id=h.id) if "RW-A" in (o.tags or [])]
    assert [o.status.name for o in closes] == ["FILLED"]
    assert h.denied == [] and t.denied == []
    assert run.open_positions(h) == [] and run.open_positions(t) == []
    assert run.live_orders(h) == [] and run.live_orders(t) == []
    assert a.record.complete and a.record.left_live == []


def test_no_watch_cancels_what_another_keeps():
    # B keeps the hedge's reduce-only protective stop; A (which keeps nothing) trips while
    # it rests: A closes the hedge but leaves the stop to B; the venue retires it when the
    # position it protects is closed
    def stop(s: Scripted, _tick) -> None:
        [position] = s.cache.positions_open(strategy_id=s.id)
        order = s.order_factory.stop_market(
            s.instrument_id,
            OrderSide.BUY,
            Quantity.from_int(300_000),
            Price.from_str("1.12200"),
            reduce_only=True,
            tags=["HEDGE"],
        )
        s.submit_order(order, position_id=position.id)

    run, b = _two_watches(TRIP, TRIP + 1)
    h = run.strategies[1]
    h.steps[2] = stop
    run.engine.run()
    a = run.watch
    [kept] = b.record.orders_kept
    assert a.record.orders_cancelled == [] and a.record.orders_kept == [kept]
    [close] = [o for o in run.cache.orders(strategy_id=h.id) if "RW-A" in (o.tags or [])]
    order = run.cache.order(_cid(kept))
    assert close.status.name == "FILLED" and order.status.name == "CANCELED"
    assert order.events[-1].ts_event >= close.events[-1].ts_event  # after the close, not before
    assert run.open_positions(h) == [] and run.live_orders(h) == [] and h.denied == []
    assert a.record.complete and b.record.complete


def _hedger_bracket(emulated: bool):
    """A short hedge opened by a plain bracket (no tags at all): protective only because
    watch B names its strategy in ``hedge_strategies``."""

    def step(s: Scripted, _tick) -> None:
        s.submit_order_list(
            s.order_factory.bracket(
                s.instrument_id,
                OrderSide.SELL,
                Quantity.from_int(300_000),
                emulation_trigger=TriggerType.BID_ASK if emulated else TriggerType.NO_TRIGGER,
                entry_order_type=OrderType.LIMIT,
                entry_price=Price.from_str("1.12100"),  # marketable: the hedge opens at once
                sl_trigger_price=Price.from_str("1.12200"),  # fires after the trip
                tp_price=Price.from_str("1.11000"),  # never reached
            )
        )

    return step


def _a_and_b_keeping_the_hedger(emulated: bool, kill_b: int | None):
    """Watch A (keeps nothing, RW-A) and watch B (keeps the hedger's strategy, RW-B); the
    trader pulls A's switch at TRIP, and B's at ``kill_b`` (None: B never trips)."""
    trader = {1: _market("BUY", 100_000), TRIP: _kill("watch")}
    if kill_b is not None:
        trader[kill_b] = _kill("watch_b")
    run = build(
        RiskWatchConfig(component_id="Watch-A", max_loss="1000000 USD", close_tag="RW-A"),
        [trader, {1: _hedger_bracket(emulated)}],
    )
    hedger = run.strategies[1]
    other = RiskWatch(
        RiskWatchConfig(
            component_id="Watch-B",
            max_loss="1000000 USD",
            hedge_strategies=[str(hedger.id)],
            close_tag="RW-B",
        )
    )
    run.engine.add_actor(other)
    run.invariants.add_watch(other)
    trader = run.strategies[0]
    trader.watch, trader.watch_b = run.watch, other
    return run, other


@pytest.mark.parametrize("emulated", [False, True], ids=["venue", "emulated"])
def test_control_the_hedger_strategys_bracket_is_cancelled_by_a_watch_alone(emulated):
    # without B on the engine, A (which keeps nothing) cancels the hedger's stop and target
    trader = {1: _market("BUY", 100_000), TRIP: _kill("watch")}
    run = build(
        RiskWatchConfig(component_id="Watch-A", max_loss="1000000 USD", close_tag="RW-A"),
        [trader, {1: _hedger_bracket(emulated)}],
    )
    t, h = run.strategies
    t.watch = run.watch
    run.engine.run()
    record = run.watch.record
    assert record is not None and len(record.orders_cancelled) == 2
    assert record.orders_kept == [] and run.live_orders(h) == []


@pytest.mark.parametrize("kill_b", [None, TRIP + 1], ids=["B-untripped", "B-next-quote"])
@pytest.mark.parametrize("emulated", [False, True], ids=["venue", "emulated"])
def test_a_watch_never_cancels_the_bracket_of_another_watchs_hedge_strategy(emulated, kill_b):
    # Issue 20.4: A trips first and keeps nothing itself, but B (tripped or not) keeps the
    # hedger's strategy: A cancels none of its orders. A still closes the hedge position
    # (a close only reduces); the venue, or the emulator, retires the reduce-only legs.
    run, b = _a_and_b_keeping_the_hedger(emulated, kill_b)
    run.engine.run()
    t, h = run.strategies
    a = run.watch
    assert a.record is not None and a.record.stage == "done"
    legs = [o for o in run.cache.orders(strategy_id=h.id) if o.side == OrderSide.BUY]
    legs = [o for o in legs if "RW-A" not in (o.tags or []) and "RW-B" not in (o.tags or [])]
    ids = sorted(o.client_order_id.value for o in legs)
    assert len(ids) == 2
    assert a.record.orders_cancelled == [] and sorted(a.record.orders_kept) == ids
    if kill_b is not None:
        # B keeps what is still live at its trip (the venue may have retired the legs)
        assert b.record is not None and set(b.record.orders_kept) <= set(ids)
        assert b.record.orders_cancelled == []
    [close] = [o for o in run.cache.orders(strategy_id=h.id) if "RW-A" in (o.tags or [])]
    assert close.status.name == "FILLED"
    for leg in legs:  # never cancelled before A's close filled: retired with the position
        assert leg.status.name != "CANCELED" or leg.events[-1].ts_event >= close.ts_last
    assert run.open_positions(t) == [] and run.open_positions(h) == []
    assert h.denied == [] and a.record.complete


# --- 5. a kept order keeps working through whatever works it ----------------------------
def _hedge_twap(s: Scripted, _tick) -> None:
    s.submit_order(
        s.order_factory.market(
            s.instrument_id,
            OrderSide.SELL,
            Quantity.from_int(1_000_000),
            exec_algorithm_id=ExecAlgorithmId("TWAP"),
            exec_algorithm_params={"horizon_secs": 600, "interval_secs": 60},
            tags=["HEDGE"],
        )
    )


def _sold(run: Run, strategy: Scripted) -> int:
    return sum(
        int(o.filled_qty.as_double())
        for o in run.cache.orders(strategy_id=strategy.id)
        if o.side == OrderSide.SELL
    )


def test_control_the_hedges_twap_sells_its_whole_size():
    run = build(
        None,
        [{1: _market("BUY", 100_000)}, {1: _hedge_twap}],
        algorithms=(TWAPExecAlgorithm(),),
    )
    run.engine.run()
    _, h = run.strategies
    assert _sold(run, h) == 1_000_000 and len(run.fills_after(0, h)) == 10


@pytest.mark.parametrize("state", ["HALTED", "REDUCING"])
def test_a_kept_twap_hedge_keeps_working_after_the_trip(state):
    trader = {1: _market("BUY", 100_000), TRIP: _kill()}
    run = build(
        RiskWatchConfig(max_loss="1000000 USD", hedge_tags=["HEDGE"], trading_state_on_trip=state),
        [trader, {1: _hedge_twap}],
        algorithms=(TWAPExecAlgorithm(),),
    )
    t, h = run.strategies
    t.watch = run.watch
    run.engine.run()
    record = run.watch.record
    assert record is not None and record.trading_state == state
    [primary] = record.orders_kept
    assert record.held_by[primary] == "exec algorithm TWAP" and record.complete
    # the later slices (new ids, spawned from the kept order) and the primary's remainder
    # all reached the venue after the trip: the hedge reached its whole size
    after = run.fills_after(record.tripped_at_ns, h)
    assert len(after) == 6 and len(run.fills_after(0, h)) == 10 and h.denied == []
    assert _sold(run, h) == 1_000_000 and run.open_positions(h) == ["SHORT 1000000"]
    assert run.cache.order(_cid(primary)).status.name == "FILLED"
    # the trader stays flat, and nothing of the hedger is left working
    assert run.open_positions(t) == [] and t.denied == [] and run.live_orders(h) == []


def _cid(value: str):
    from nautilus_trader.model.identifiers import ClientOrderId

    return ClientOrderId(value)


# --- a kept stop may still be trailed ------------------------------------------------------
def _protect_at(price: str):
    def step(s: Scripted, _tick) -> None:
        [position] = s.cache.positions_open(strategy_id=s.id)
        stop = s.order_factory.stop_market(
            s.instrument_id,
            OrderSide.BUY,
            Quantity.from_int(300_000),
            Price.from_str(price),
            reduce_only=True,
            tags=["HEDGE"],
        )
        s.submit_order(stop, position_id=position.id)

    return step


def _trail_to(price: str):
    def step(s: Scripted, _tick) -> None:
        [stop] = [o for o in s.cache.orders_open(strategy_id=s.id) if o.side == OrderSide.BUY]
        s.modify_order(stop, trigger_price=Price.from_str(price))

    return step


def _trailed_hedge() -> dict:
    # the stop rests out of reach at 1.12400; trailed to 1.12200 after the trip, it fires
    return {
        1: _market("SELL", 300_000, tags=["HEDGE"]),
        2: _protect_at("1.12400"),
        LATER: _trail_to("1.12200"),
    }


def test_control_the_trailed_stop_fires():
    run = build(None, [{1: _market("BUY", 100_000)}, _trailed_hedge()])
    run.engine.run()
    _, h = run.strategies
    [stop] = [o for o in run.cache.orders(strategy_id=h.id) if o.side == OrderSide.BUY]
    assert stop.status.name == "FILLED" and run.open_positions(h) == []


def test_a_kept_stop_trailed_after_the_trip_is_modified_and_fires():
    trader = {1: _market("BUY", 100_000), TRIP: _kill()}
    run = build(
        RiskWatchConfig(max_loss="1000000 USD", hedge_tags=["HEDGE"]), [trader, _trailed_hedge()]
    )
    t, h = run.strategies
    t.watch = run.watch
    run.engine.run()
    record = run.watch.record
    [stop] = [o for o in run.cache.orders(strategy_id=h.id) if o.side == OrderSide.BUY]
    assert record.orders_kept == [stop.client_order_id.value]
    # the trading state the watch set did not reject the kept stop's trailing
    assert not [e for e in stop.events if type(e).__name__ == "OrderModifyRejected"]
    assert stop.status.name == "FILLED" and stop.trigger_price == Price.from_str("1.12200")
    assert run.open_positions(h) == [] and run.open_positions(t) == []
    assert record.complete
