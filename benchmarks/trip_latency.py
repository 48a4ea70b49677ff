"""Trip-to-first-command latency of the watch on a live TradingNode's event loop.

Each trial: the demo trader rests a limit order on the sandbox venue; the session calls
``watch.kill()`` on the loop thread; the time until the cascade's first command (the
cancel) reaches the ``ExecEngine.execute`` endpoint is measured with ``perf_counter_ns``;
the cascade finishes; the watch is re-armed. Also reported: kill to the end of the cascade
(the record's ``finished_at``). Real replayed quotes keep flowing throughout.

    python benchmarks/trip_latency.py --trials 300
    python benchmarks/trip_latency.py --trials 300 --event-log /tmp/events.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from decimal import Decimal

from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.objects import Price, Quantity

from nautilus_riskwatch.demo.live import node_config, run_node
from nautilus_riskwatch.demo.replay import ReplayDataClientConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--event-log", help="also write the event log to this file")
    args = parser.parse_args()
    first_command: list[float] = []
    whole_cascade: list[float] = []

    async def session(node) -> None:
        exec_engine = node.kernel.exec_engine
        msgbus = node.kernel.msgbus
        stamp: dict[str, int] = {}

        def timed_execute(command) -> None:
            stamp.setdefault("first", time.perf_counter_ns())
            exec_engine.execute(command)

        msgbus.deregister("ExecEngine.execute", exec_engine.execute)
        msgbus.register("ExecEngine.execute", timed_execute)
        watch = node.trader.actors()[0]
        trader = next(s for s in node.trader.strategies() if s.id.value == "DemoTrader-001")
        while node.cache.quote_tick(trader.instrument_id) is None:
            await asyncio.sleep(0.01)
        for _ in range(args.trials):
            bid = node.cache.quote_tick(trader.instrument_id).bid_price.as_decimal()
            order = trader.order_factory.limit(
                trader.instrument_id,
                OrderSide.BUY,
                Quantity.from_int(100_000),
                Price.from_str(f"{bid - Decimal('0.01'):.5f}"),  # rests: far below the bid
                time_in_force=TimeInForce.GTC,
            )
            trader.submit_order(order)
            deadline = time.monotonic() + 5.0
            while not order.is_open:
                if order.is_closed or time.monotonic() > deadline:
                    reason = getattr(order.last_event, "reason", "")
                    raise RuntimeError(f"trial order not accepted ({reason}): {order}")
                await asyncio.sleep(0.001)
            stamp.clear()
            started = time.perf_counter_ns()
            started_clock = node.kernel.clock.timestamp_ns()
            watch.kill("latency trial", who="benchmark")
            while watch.record is None or watch.record.stage != "done":
                await asyncio.sleep(0.0005)
            first_command.append((stamp["first"] - started) / 1e3)
            whole_cascade.append((watch.record.finished_at_ns - started_clock) / 1e3)
            watch.rearm(who="benchmark")
            await asyncio.sleep(0.012)  # under the RiskEngine's default 100 submits/s throttle

    watch_config: dict[str, object] = {
        "feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 60.0}]
    }
    if args.event_log:
        watch_config["event_log"] = args.event_log
    config = node_config(
        watch_config,
        replay=ReplayDataClientConfig(speed=60.0),
        hedger=False,
        reorder_every=10**9,
    )
    run_node(config, session)

    def summary(values: list[float]) -> str:
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        median = statistics.median(values)
        return f"median {median:8.1f} us   p99 {p99:8.1f} us   max {ordered[-1]:8.1f} us"

    import nautilus_trader

    print(
        f"nautilus_trader {nautilus_trader.__version__}, Python {sys.version.split()[0]}, "
        f"{len(first_command)} trips on a live TradingNode loop"
    )
    print(f"kill() -> first command on the bus:  {summary(first_command)}")
    print(f"kill() -> cascade done (confirmed):  {summary(whole_cascade)}")


if __name__ == "__main__":
    main()
