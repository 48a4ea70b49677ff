"""Firm-kill latency: a trip on node A to the first cancel sent on nodes B and C.

Three real TradingNode processes (``tests/firm/node_runner.py``: replayed quotes, the
sandbox venue, the demo trader resting limit orders) share one ``redis-server`` on
loopback (started here). Each trial: wait until B and C have resting orders, ``kill`` the
watch on A (its stdin), read A's trip time (its record's ``tripped_at_ns``, the node's
wall clock) and the first cancel command B and C sent after it (their ``ExecEngine``
endpoint, wall clock: one machine, one clock), then re-arm the firm with a signed re-arm
of that epoch and wait until all three are ACTIVE again.

    python benchmarks/firm_latency.py --trials 100
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "firm"))

from nodes import Nodes

from nautilus_riskwatch.firm.link import FirmLink
from nautilus_riskwatch.firm.server import LocalRedis


def _rearm(url: str, epoch: int) -> None:
    async def go() -> None:
        link = FirmLink(url, "acme")
        try:
            done, said = await link.rearm(epoch, "bench", "next trial", b"s3cret", 0)
            assert done, said
        finally:
            await link.close()

    asyncio.run(go())


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args()
    latencies: list[float] = []
    with LocalRedis() as redis:
        group = Nodes()
        try:
            # 60x: the recorded day lasts ~8 min of replay, enough for the resting orders
            # the trader places every 5 quotes to be there at each trial
            options = {"speed": 60.0, "reorder_every": 5}
            a, b, c = (group.start(name, redis.url, **options) for name in "ABC")
            for node in (a, b, c):
                node.wait("running")
            for trial in range(1, args.trials + 1):
                for node in (b, c):  # something resting to cancel
                    deadline = time.monotonic() + 30
                    while True:
                        node.send("report")
                        if len(node.wait("report")["open_orders"]) > 1:
                            break
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"node {node.name}: no resting orders in 30 s")
                        time.sleep(0.02)
                a.send(f"kill trial {trial}")
                tripped = {node.name: node.wait("tripped") for node in (a, b, c)}
                t0 = tripped["A"]["record"]["tripped_at_ns"]
                for name in "BC":
                    after = [t for t in tripped[name]["cancels_ns"] if t >= t0]
                    latencies.append((min(after) - t0) / 1e6)
                epoch = int(tripped["B"]["record"]["cause"]["epoch"])
                _rearm(redis.url, epoch)
                for node in (a, b, c):
                    node.wait("rearmed")
            for node in (a, b, c):
                node.stop()
        finally:
            group.close()
    print(
        f"firm kill, trip on A -> first cancel on B and C: {len(latencies)} samples "
        f"({args.trials} trips, 3 nodes)\n"
        f"  median {statistics.median(latencies):.2f} ms, p99 {_percentile(latencies, 0.99):.2f} "
        f"ms, min {min(latencies):.2f} ms, max {max(latencies):.2f} ms"
    )


if __name__ == "__main__":
    main()
