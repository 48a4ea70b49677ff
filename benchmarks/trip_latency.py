"""Trip-to-first-command latency of the watch on a live TradingNode's event loop.

Each trial: the demo trader rests a limit order on the sandbox venue; the session calls
``watch.kill()`` on the loop thread; the time until the cascade's first command (the
cancel) reaches the ``ExecEngine.execute`` endpoint is measured with ``perf_counter_ns``;
the cascade finishes; the watch is re-armed. Also reported: kill to the end of the cascade
(the record's ``finished_at``). Real replayed quotes keep flowing throughout.

With ``--stale`` the trip is a stale feed instead of a kill: the watch also watches the
instrument's trades (the replay sends none) with a short bound, so each re-arm is followed,
one bound later, by a staleness trip. Measured: the watchdog seeing its deadline pass (its
``deadline`` event) to the first command, and the deadline as scheduled (re-arm + bound, in
the loop's time) to the first command, which adds how late the loop ran the timer.

    python benchmarks/trip_latency.py --trials 300
    python benchmarks/trip_latency.py --trials 300 --event-log /tmp/events.jsonl
    python benchmarks/trip_latency.py --trials 200 --stale
    python benchmarks/trip_latency.py --trials 300 --receiver hang

With ``--receiver ok|hang|fail`` each trip's alerts (the trip, the cascade's end) go to a
real HTTP receiver on 127.0.0.1 that answers 200, never answers, or answers 500: the kill's
time to its first command must not move (the alert is put after the first commands, and a
put never waits); the sender's counts are printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.objects import Price, Quantity

from nautilus_riskwatch.demo.live import node_config, run_node
from nautilus_riskwatch.demo.replay import ReplayDataClientConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--event-log", help="also write the event log to this file")
    parser.add_argument("--stale", action="store_true", help="trip on a stale feed")
    parser.add_argument("--receiver", choices=["ok", "hang", "fail"], help="alerts to it")
    args = parser.parse_args()
    if args.stale:
        stale(args.trials)
        return
    first_command: list[float] = []
    whole_cascade: list[float] = []
    sent_stats: list[object] = []

    async def session(node) -> None:
        stamp: dict[str, float] = {}
        watch, trader = _stamping(node, stamp)
        while node.cache.quote_tick(trader.instrument_id) is None:
            await asyncio.sleep(0.01)
        for _ in range(args.trials):
            order = _far_bid(node, trader)
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
        heard = watch.session.alerts.alerts
        if heard is not None:
            sent_stats.extend(heard.sender.stats())

    watch_config: dict[str, object] = {
        "feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 60.0}]
    }
    if args.event_log:
        watch_config["event_log"] = args.event_log
    receiver = None
    if args.receiver:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from receivers import Receiver

        receiver = Receiver(args.receiver)
        watch_config.update(alerts=[receiver.url()], alerts_timeout=1.0, alerts_retries=1)
    try:
        _run(watch_config, session)
    finally:
        if receiver is not None:
            receiver.close()
    _header(len(first_command))
    print(f"kill() -> first command on the bus:  {summary(first_command)}")
    print(f"kill() -> cascade done (confirmed):  {summary(whole_cascade)}")
    if receiver is not None:
        print(f"alerts to a receiver that answers {args.receiver}: {sent_stats}")


BOUND = 0.2  # the stale feed's bound, seconds


def stale(trials: int) -> None:
    """Staleness trips: each re-arm restarts the trade feed's watchdog, which trips one
    bound later (the replay sends quotes only)."""
    from nautilus_riskwatch.core.event_log import EventLog

    seen: dict[str, float] = {}
    write = EventLog.write

    def stamped(self, kind, fields, at_ns=None):  # type: ignore[no-untyped-def]
        if kind == "deadline":
            seen.setdefault("deadline", time.perf_counter_ns())
        return write(self, kind, fields, at_ns)

    EventLog.write = stamped  # type: ignore[method-assign]
    noticed: list[float] = []
    scheduled: list[float] = []

    async def session(node) -> None:
        loop = asyncio.get_running_loop()
        watch, trader = _stamping(node, seen)
        while node.cache.quote_tick(trader.instrument_id) is None or watch.record is None:
            await asyncio.sleep(0.01)  # the first staleness trip, one bound after the start
        while watch.record.stage != "done":
            await asyncio.sleep(0.001)
        for _ in range(trials):
            seen.clear()
            watch.rearm(who="benchmark")
            armed_at = loop.time()
            order = _far_bid(node, trader)
            trader.submit_order(order)
            while watch.record is None or watch.record.stage != "done":
                await asyncio.sleep(0.001)
            if "first" not in seen or "deadline" not in seen:
                raise RuntimeError(f"no cancel or no deadline seen: {watch.record.report()}")
            noticed.append((seen["first"] - seen["deadline"]) / 1e3)
            scheduled.append((seen["first_loop"] - (armed_at + BOUND)) * 1e6)
            await asyncio.sleep(0.012)

    feeds = [
        {"instrument_id": "EUR/USD.SIM", "stale_after": 60.0},
        {"instrument_id": "EUR/USD.SIM", "kind": "trade", "stale_after": BOUND},
    ]
    _run({"feeds": feeds}, session)
    _header(len(noticed))
    print(f"deadline seen -> first command:      {summary(noticed)}")
    print(f"deadline due -> first command:       {summary(scheduled)}  (loop time, coarse)")


def _run(watch_config: dict[str, object], session) -> None:  # type: ignore[no-untyped-def]
    """A live node on replayed quotes (60x), the demo trader alone, the watch as given."""
    config = node_config(
        watch_config,
        replay=ReplayDataClientConfig(speed=60.0),
        hedger=False,
        reorder_every=10**9,
    )
    run_node(config, session)


def _stamping(node, stamps: dict[str, float]):  # type: ignore[no-untyped-def]
    """Stamp the first cancel each trial sends to the ``ExecEngine`` (wall clock and loop
    time, into ``stamps`` until it is cleared); return the watch and the demo trader."""
    exec_engine = node.kernel.exec_engine
    loop = asyncio.get_running_loop()

    def timed_execute(command) -> None:  # type: ignore[no-untyped-def]
        if type(command).__name__ == "CancelOrder":  # the cascade's, not the trader's
            stamps.setdefault("first", time.perf_counter_ns())
            stamps.setdefault("first_loop", loop.time())
        exec_engine.execute(command)

    node.kernel.msgbus.deregister("ExecEngine.execute", exec_engine.execute)
    node.kernel.msgbus.register("ExecEngine.execute", timed_execute)
    watch = node.trader.actors()[0]
    trader = next(s for s in node.trader.strategies() if s.id.value == "DemoTrader-001")
    return watch, trader


def _far_bid(node, trader):  # type: ignore[no-untyped-def]
    """A buy limit far below the bid: it rests until the watch cancels it."""
    bid = node.cache.quote_tick(trader.instrument_id).bid_price.as_decimal()
    return trader.order_factory.limit(
        trader.instrument_id,
        OrderSide.BUY,
        Quantity.from_int(100_000),
        Price.from_str(f"{bid - Decimal('0.01'):.5f}"),
        time_in_force=TimeInForce.GTC,
    )


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    median = statistics.median(values)
    return f"median {median:8.1f} us   p99 {p99:8.1f} us   max {ordered[-1]:8.1f} us"


def _header(trips: int) -> None:
    import nautilus_trader

    print(
        f"nautilus_trader {nautilus_trader.__version__}, Python {sys.version.split()[0]}, "
        f"{trips} trips on a live TradingNode loop"
    )


if __name__ == "__main__":
    main()
