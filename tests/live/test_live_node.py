"""The same watch on a real TradingNode: replayed real quotes, the sandbox venue.

Real time on a loaded 2-core machine: these tests assert order and outcome, and give
timing generous margins.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from nautilus_trader.execution.messages import CancelAllOrders, CancelOrder
from nautilus_trader.model.enums import TradingState
from pnl import fills_of, first_breach
from waiting import until

from nautilus_riskwatch import (
    DrawdownBreached,
    RearmRefused,
    StalenessError,
    read_event_log,
    records_from,
)
from nautilus_riskwatch.demo.engine import HEDGER_ID
from nautilus_riskwatch.demo.live import node_config, run_node
from nautilus_riskwatch.demo.replay import ReplayDataClient, ReplayDataClientConfig

HEDGE = ["HEDGE"]
BOOK_AFTER = ([(HEDGER_ID, ["HEDGE"])], [(HEDGER_ID, "LONG")])


def _book(node):
    cache = node.cache
    return (
        sorted((str(o.strategy_id), o.tags) for o in cache.orders_open()),
        sorted((str(p.strategy_id), p.side.name) for p in cache.positions_open()),
    )


def test_a_feed_that_stops_trips_within_its_bound_and_the_node_keeps_running():
    seen = {}

    async def session(node):
        watch = node.trader.actors()[0]
        await until(lambda: watch.record is not None and watch.record.stage == "done", 20)
        await asyncio.sleep(0.2)
        seen["running"] = node.is_running()
        seen["state"] = node.kernel.risk_engine.trading_state
        seen["watch"] = watch
        seen["book"] = _book(node)

    config = node_config(
        {"feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 0.5}], "hedge_tags": HEDGE},
        replay=ReplayDataClientConfig(speed=600.0, stop_after=300, max_gap=0.1),
    )
    run_node(config, session)
    record = seen["watch"].record
    feed = ReplayDataClient.last
    assert feed.delivered == 300
    assert isinstance(record.cause, StalenessError)
    silent_ms = (record.tripped_at_ns - feed.last_delivered_ns) / 1e6
    assert 500 <= silent_ms < 500 + 400  # the bound, plus a generous margin of real time
    assert record.complete and record.trading_state == "HALTED"
    assert seen["running"] and seen["state"] == TradingState.HALTED
    assert seen["book"] == BOOK_AFTER


def test_a_drawdown_on_replayed_prices_trips_at_the_first_breaching_quote():
    seen = {}

    async def session(node):
        watch = node.trader.actors()[0]
        await until(lambda: watch.record is not None and watch.record.stage == "done", 30)
        await asyncio.sleep(0.2)
        seen["watch"] = watch
        seen["book"] = _book(node)
        seen["fills"] = fills_of(node.cache)

    config = node_config(
        {
            "feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 30.0}],
            "max_loss": "1000 USD",
            "hedge_tags": HEDGE,
        },
        replay=ReplayDataClientConfig(speed=12_000.0, max_gap=0.05),
        reorder_every=2_000,
    )
    run_node(config, session)
    record = seen["watch"].record
    assert isinstance(record.cause, DrawdownBreached)
    # Live fills depend on timing, so recompute from what really happened: the fills in
    # the cache (the two opening market orders, hours of market time before the trip) and
    # the quotes as delivered. The trip is at the first breaching quote, with its loss.
    ceiling = Decimal(1000)
    fills = seen["fills"]
    assert len(fills) == 2
    quote, loss = first_breach(fills, ReplayDataClient.last.sent, ceiling, by_time=False)
    assert record.cause.loss == loss
    assert record.tripped_at_ns >= quote.ts_init  # live data is queued: no upper bound
    assert record.complete
    assert seen["book"] == BOOK_AFTER


def test_node_stop_during_the_cascade_still_leaves_the_book_flat(tmp_path):
    seen = {}

    async def session(node):
        loop = asyncio.get_running_loop()
        msgbus = node.kernel.msgbus
        exec_engine = node.kernel.exec_engine
        msgbus.deregister("ExecEngine.execute", exec_engine.execute)

        def slow_cancels(command):
            # a venue slow to answer cancels: 300 ms each
            if isinstance(command, CancelOrder | CancelAllOrders):
                loop.call_later(0.3, exec_engine.execute, command)
            else:
                exec_engine.execute(command)

        msgbus.register("ExecEngine.execute", slow_cancels)
        watch = node.trader.actors()[0]
        await until(lambda: watch.record is not None, 20)
        seen["stage_at_stop"] = watch.record.stage
        await node.stop_async()  # the operator stops the node mid-cascade
        await asyncio.sleep(0.4)
        seen["watch"] = watch
        seen["book"] = _book(node)  # before dispose (1.231 clears the cache on dispose)

    config = node_config(
        {
            "feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 0.5}],
            "hedge_tags": HEDGE,
            "confirm_timeout": 10.0,
            "event_log": str(tmp_path / "events.jsonl"),
        },
        replay=ReplayDataClientConfig(speed=600.0, stop_after=300, max_gap=0.1),
    )
    run_node(config, session)
    record = seen["watch"].record
    assert seen["stage_at_stop"] in ("halting", "cancelling")
    assert record.hurried and record.stage == "done"
    assert seen["book"] == BOOK_AFTER
    # the trail says it was stopped mid-cascade, and the rest still went out and is there
    events = read_event_log(tmp_path / "events.jsonl").events
    kinds = [e.kind for e in events]
    assert kinds.index("trip") < kinds.index("hurried") < kinds.index("record")
    assert "stopped" in kinds
    assert [r.to_dict() for r in records_from(events)] == [record.to_dict()]


def test_a_venue_that_never_answers_cancels_is_bounded_retried_and_recorded(tmp_path):
    seen = {}

    async def session(node):
        msgbus, exec_engine = node.kernel.msgbus, node.kernel.exec_engine
        msgbus.deregister("ExecEngine.execute", exec_engine.execute)
        dropped = []

        def silent_cancels(command):
            if isinstance(command, CancelOrder | CancelAllOrders):
                dropped.append(command)  # the venue never answers
            else:
                exec_engine.execute(command)

        msgbus.register("ExecEngine.execute", silent_cancels)
        watch = node.trader.actors()[0]
        await until(lambda: watch.record is not None and watch.record.stage == "done", 20)
        seen["watch"], seen["dropped"], seen["book"] = watch, len(dropped), _book(node)

    config = node_config(
        {
            "feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 0.5}],
            "hedge_tags": HEDGE,
            "confirm_timeout": 0.2,
            "confirm_attempts": 2,
            "event_log": str(tmp_path / "events.jsonl"),
        },
        replay=ReplayDataClientConfig(speed=600.0, stop_after=300, max_gap=0.1),
    )
    run_node(config, session)
    record = seen["watch"].record
    unconfirmed = len(record.orders_unconfirmed)
    assert unconfirmed > 0 and record.orders_cancelled == []
    assert seen["dropped"] == 2 * unconfirmed  # asked twice each, then given up on
    elapsed_ms = (record.finished_at_ns - record.tripped_at_ns) / 1e6
    assert 400 <= elapsed_ms < 400 + 600  # two bounded waits of 0.2 s, plus a margin
    # the flatten went on regardless: only the unconfirmed orders and the hedge are left
    assert record.positions_closed == ["SIM-1-001"] and not record.complete
    orders, positions = seen["book"]
    assert positions == [(HEDGER_ID, "LONG")]
    assert len(orders) == unconfirmed + 1
    # the trail on a live node (uvloop): every command dropped, each wait that ran out, the
    # retry, all in the watch's session
    events = read_event_log(tmp_path / "events.jsonl").events
    assert {e.session_id for e in events} == {seen["watch"].session_id}
    cancels = [e for e in events if e.kind == "command" and e.fields["command"] == "CancelOrder"]
    assert len(cancels) == seen["dropped"]
    timeouts = [e for e in events if e.kind == "timeout" and e.fields["stage"] == "cancelling"]
    assert [sorted(t.fields["ids"]) for t in timeouts] == [sorted(record.orders_unconfirmed)] * 2
    (retry,) = [e for e in events if e.kind == "retry"]
    assert retry.fields["attempt"] == 2 and timeouts[0].seq < retry.seq < timeouts[1].seq
    assert [r.to_dict() for r in records_from(events)] == [record.to_dict()]


def test_emulated_orders_are_cancelled_and_new_ones_denied_on_a_live_node():
    from nautilus_trader.model.enums import OrderSide, TriggerType
    from nautilus_trader.model.objects import Price, Quantity

    seen = {}

    def emulated_stop(strategy, trigger: str):
        order = strategy.order_factory.stop_market(
            strategy.instrument_id,
            OrderSide.BUY,
            Quantity.from_int(100_000),
            Price.from_str(trigger),
            emulation_trigger=TriggerType.BID_ASK,
        )
        strategy.submit_order(order)
        return order

    async def session(node):
        watch = node.trader.actors()[0]
        trader = next(s for s in node.trader.strategies() if "DemoTrader" in str(s.id))
        await until(lambda: node.cache.positions_open(strategy_id=trader.id), 20)
        before = emulated_stop(trader, "1.20000")  # far above the market: held by the emulator
        await until(lambda: node.cache.orders_emulated(strategy_id=trader.id), 5)
        watch.kill("test: live emulated order", who="test")
        await until(lambda: watch.record is not None and watch.record.stage == "done", 20)
        after = emulated_stop(trader, "1.20000")
        await asyncio.sleep(0.2)
        seen.update(
            record=watch.record,
            before=before.status.name,
            after=after.status.name,
            emulated=node.cache.orders_emulated(strategy_id=trader.id),
            live=[o for o in node.cache.orders(strategy_id=trader.id) if not o.is_closed],
            book=_book(node),
        )

    config = node_config(
        {"feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 30.0}], "hedge_tags": HEDGE},
        replay=ReplayDataClientConfig(speed=600.0),
    )
    run_node(config, session)
    record = seen["record"]
    assert seen["before"] == "CANCELED" and seen["after"] == "DENIED"
    assert seen["emulated"] == [] and seen["live"] == []
    assert seen["book"] == BOOK_AFTER
    assert "emulator" in record.held_by.values() and record.complete


def test_a_trip_holds_over_stop_and_resume_on_a_live_node_until_a_rearm():
    from nautilus_trader.model.enums import OrderSide, TriggerType
    from nautilus_trader.model.objects import Price, Quantity

    seen = {}

    def emulated_stop(strategy):
        order = strategy.order_factory.stop_market(
            strategy.instrument_id,
            OrderSide.BUY,
            Quantity.from_int(100_000),
            Price.from_str("1.20000"),  # far above the market: the emulator would hold it
            emulation_trigger=TriggerType.BID_ASK,
        )
        strategy.submit_order(order)
        return order

    async def session(node):
        watch = node.trader.actors()[0]
        trader = next(s for s in node.trader.strategies() if "DemoTrader" in str(s.id))
        await until(lambda: node.cache.positions_open(strategy_id=trader.id), 20)
        watch.kill("test: live stop/resume", who="test")
        await until(lambda: watch.record is not None and watch.record.stage == "done", 20)
        tripped = watch.record
        watch.stop()  # a Controller stops the watch, and resumes it
        stopped = emulated_stop(trader)
        watch.resume()
        resumed = emulated_stop(trader)
        await asyncio.sleep(0.2)
        seen.update(
            tripped=tripped,
            running=watch.is_running,
            stopped=stopped.status.name,
            resumed=resumed.status.name,
            record=watch.record,
            state=node.kernel.risk_engine.trading_state,
            book=_book(node),
        )
        try:
            seen["rearm"] = watch.rearm(who="test", reason="after the resume")
        except RearmRefused as refused:
            seen["rearm"] = f"refused: {refused}"
        rearmed = emulated_stop(trader)
        await asyncio.sleep(0.2)
        seen["rearmed"] = rearmed.status.name
        trader.cancel_order(rearmed)
        await asyncio.sleep(0.1)

    config = node_config(
        {"feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 30.0}], "hedge_tags": HEDGE},
        replay=ReplayDataClientConfig(speed=600.0),
    )
    run_node(config, session)
    # while stopped and after the resume the block held: both orders denied, none held
    assert seen["running"]
    assert seen["stopped"] == "DENIED" and seen["resumed"] == "DENIED"
    assert seen["record"] is seen["tripped"] and seen["record"].complete
    assert seen["state"] == TradingState.HALTED
    assert seen["book"] == BOOK_AFTER
    # only the re-arm lifted it: the next order is held by the emulator as usual
    assert seen["rearm"] == "ACTIVE" and seen["rearmed"] == "EMULATED"


def test_a_close_the_venue_rejects_escalates_to_an_ioc_limit_on_a_live_node(tmp_path):
    """The sandbox execution client answers the watch's market close as a venue in a
    reserved state does (``OrderSubmitted``, then ``OrderRejected`` with its reason): the
    watch records the reason and sends its next order type, a marketable IOC limit."""
    from nautilus_trader.model.enums import OrderType
    from nautilus_trader.model.identifiers import ClientId

    reason = "order type not permitted while the market is reserved"
    seen = {}

    async def session(node):
        client = node.kernel.exec_engine._clients[ClientId("SIM")]
        submit = client.submit_order
        refused = []

        def reserved_market(command):
            order = command.order
            if "RISKWATCH" in (order.tags or []) and order.order_type == OrderType.MARKET:
                refused.append(order.client_order_id)
                venue = client._client  # the sandbox's simulated venue: it holds the account
                now = client._clock.timestamp_ns()
                ids = (command.strategy_id, order.instrument_id, order.client_order_id)
                venue.generate_order_submitted(*ids, now)
                venue.generate_order_rejected(*ids, reason, now)
                return None
            return submit(command)

        client.submit_order = reserved_market
        watch = node.trader.actors()[0]
        await until(lambda: watch.record is not None and watch.record.stage == "done", 20)
        await asyncio.sleep(0.2)
        seen.update(watch=watch, refused=list(refused), book=_book(node))
        seen["closes"] = [
            (o.order_type.name, o.time_in_force.name, o.status.name)
            for o in sorted(node.cache.orders(), key=lambda o: o.ts_init)
            if "RISKWATCH" in (o.tags or [])
        ]

    config = node_config(
        {
            "feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 0.5}],
            "hedge_tags": HEDGE,
            "event_log": str(tmp_path / "events.jsonl"),
        },
        replay=ReplayDataClientConfig(speed=600.0, stop_after=300, max_gap=0.1),
    )
    run_node(config, session)
    record = seen["watch"].record
    assert len(seen["refused"]) == 1
    assert seen["closes"] == [("MARKET", "GTC", "REJECTED"), ("LIMIT", "IOC", "FILLED")]
    [line] = record.close_rejections
    assert reason in line and str(seen["refused"][0]) in line
    assert record.positions_closed == ["SIM-1-001"] and record.complete
    assert seen["book"] == BOOK_AFTER
    events = read_event_log(tmp_path / "events.jsonl").events
    assert [r.to_dict() for r in records_from(events)] == [record.to_dict()]


def test_a_kill_with_nothing_resting_trips_once_on_a_live_node_and_the_rearm_holds():
    """The live loop is the node's and the watch never steps it: the close's events arriving
    inside the cascade's send are plain callbacks. The kill trips once, the supervisor
    collapses, and the re-arm does not trip again on the kill it handled."""
    seen = {}

    async def session(node):
        watch = node.trader.actors()[0]
        trader = next(s for s in node.trader.strategies() if "DemoTrader" in str(s.id))
        await until(lambda: node.cache.positions_open(strategy_id=trader.id), 20)
        trader.cancel_all_orders(trader.instrument_id)  # nothing of it rests any more,
        trader.stop()  # and it places nothing new
        await until(lambda: not node.cache.orders_open(strategy_id=trader.id), 5)
        watch.kill("test: live kill, nothing resting", who="test")
        await until(lambda: watch.record is not None and watch.record.stage == "done", 20)
        await asyncio.sleep(0.1)
        seen["collapsed"] = watch.session.portfolio.task.done()
        seen["rearm"] = watch.rearm(who="test", reason="kill handled")
        await asyncio.sleep(0.3)
        seen.update(
            record=watch.record,
            records=list(watch.records),
            state=node.kernel.risk_engine.trading_state,
            positions=node.cache.positions_open(strategy_id=trader.id),
        )

    config = node_config(
        {"feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 30.0}]},
        replay=ReplayDataClientConfig(speed=600.0),
        hedger=False,
    )
    run_node(config, session)
    [record] = seen["records"]
    assert record.orders_cancelled == [] and len(record.positions_closed) == 1
    assert record.complete and record.suppressed == []
    assert seen["collapsed"] and seen["rearm"] == "ACTIVE"
    assert seen["record"] is None and seen["state"] == TradingState.ACTIVE
    assert seen["positions"] == []
