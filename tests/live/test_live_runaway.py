"""A runaway strategy on a real TradingNode: the order-rate guard trips on the node's loop.

Every fill begets an order on the sandbox venue (replayed real quotes, real time). What the
guard must do is read afterwards from the node's own cache: the first order at which more
than N orders lay in the window (``brute``, over every order's first submission event)
is the event the watch tripped on, to the nanosecond (the same event, read live), and after
the cascade nothing of the strategy's is open. Real time on a loaded machine: nothing here
asserts a duration.
"""

from __future__ import annotations

import asyncio

import msgspec
from brute import first_over, order_times
from nautilus_trader.config import ImportableStrategyConfig
from nautilus_trader.model.enums import TradingState
from waiting import until

from nautilus_riskwatch import RunawayDetected
from nautilus_riskwatch.demo.live import node_config, run_node
from nautilus_riskwatch.demo.replay import ReplayDataClientConfig

SECOND = 1_000_000_000
RUNAWAY = ImportableStrategyConfig(
    strategy_path="runaway:FillBegetsOrder",
    config_path="runaway:FillBegetsOrderConfig",
    config={"instrument_id": "EUR/USD.SIM", "order_id_tag": "009", "most": 400},
)


def test_a_runaway_strategy_trips_the_order_rate_guard_on_the_node_s_loop():
    seen = {}

    async def session(node):
        watch = node.trader.actors()[0]
        await until(lambda: watch.record is not None and watch.record.stage == "done", 30)
        await asyncio.sleep(0.3)  # late answers settle
        cache = node.cache
        seen["watch"] = watch
        seen["state"] = node.kernel.risk_engine.trading_state
        seen["open"] = (cache.orders_open(), cache.orders_inflight(), cache.positions_open())
        seen["orders"] = order_times(cache)
        seen["sent"] = node.trader.strategies()[0].sent

    config = node_config(
        {"max_order_rate": "10/00:00:01"},
        replay=ReplayDataClientConfig(speed=600.0, max_gap=0.05),
        hedger=False,
    )
    config = msgspec.structs.replace(config, strategies=[RUNAWAY])
    run_node(config, session)
    record = seen["watch"].record
    assert isinstance(record.cause, RunawayDetected) and record.cause.counted == "orders"
    over = first_over(seen["orders"], 10, SECOND)
    assert over is not None, "the strategy never ran away"
    assert (record.cause.at_ns, record.cause.count) == (over.at_ns, over.count) == (over.at_ns, 11)
    assert record.tripped_at_ns >= over.at_ns  # live: the trip follows the event on the loop
    assert seen["sent"] < 400  # stopped long before its end
    assert record.complete and record.trading_state == "HALTED"
    assert seen["state"] == TradingState.HALTED
    assert seen["open"] == ([], [], [])  # flat: nothing open, nothing in flight
