"""Firm-kill latency: a trip on node A to the first cancel sent on nodes B and C.

Three real TradingNode processes (``tests/firm/node_runner.py``: replayed quotes, the
sandbox venue, the demo trader resting limit orders) share one ``redis-server`` on
loopback (started here). Each trial: wait until B and C have resting orders, ``kill`` the
watch on A (its stdin), read A's trip time (its record's ``tripped_at_ns``, the node's
wall clock) and the first cancel command B and C sent after it (their ``ExecEngine``
endpoint, wall clock: one machine, one clock), then re-arm the firm with a signed re-arm
of that epoch and wait until all three are ACTIVE again.

    python benchmarks/firm_latency.py --trials 100
    python benchmarks/firm_latency.py --trials 100 --load 2   # two busy-looping processes

    python benchmarks/firm_latency.py --trials 100 --reply-delay 50  # A's replies late

``--load N`` runs N processes that spin on the CPU for the whole run (the machine under
load, as a node's host may be); the nodes' heartbeat is 0.2 s, so a trip whose wake-up
were lost would show as a sample near 200 ms. ``--reply-delay MS`` puts node A behind a
proxy on loopback that holds every reply from Redis back by MS (requests go through at
once): A's firm tasks spend most of their time awaiting a reply, the case in which a trip
once waited for the next heartbeat (issue 21, point 1), and a trip that has to wait for
any reply before its own request goes out shows as MS per reply.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "firm"))

import subprocess

from keys import rearm_signature
from nodes import Nodes
from proxy import StallingProxy

from nautilus_riskwatch.firm.link import FirmLink
from nautilus_riskwatch.testing import LocalRedis


def _rearm(url: str, epoch: int) -> int:
    """Re-arm ``epoch``; return the time the latch was set (server clock, ms)."""

    async def go() -> int:
        link = FirmLink(url, "acme")
        try:
            at_ms = (await link.latch()).at_ms
            signature = rearm_signature("acme", epoch, "bench", 0, "next trial")
            done, said = await link.rearm(epoch, "bench", "next trial", 0, signature)
            assert done, said
            return at_ms
        finally:
            await link.close()

    return asyncio.run(go())


def _beating(url: str, node: str) -> bool:
    """Has ``node`` written a heartbeat in the last second (its firm link is up)?"""

    async def go() -> bool:
        link = FirmLink(url, "acme")
        try:
            ages = {entry.name: entry.age_s for entry in (await link.status(events=1)).nodes}
        finally:
            await link.close()
        age = ages.get(node)
        return age is not None and age < 1.0

    return asyncio.run(go())


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--load", type=int, default=0, help="CPU-spinning processes")
    parser.add_argument("--verbose", action="store_true", help="every sample, on stderr")
    parser.add_argument(
        "--reply-delay", type=float, default=0.0, metavar="MS", help="node A's replies late by MS"
    )
    args = parser.parse_args()
    latencies: list[float] = []
    told: list[float] = []  # A's trip -> the latch set (A's side alone)
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)
    ]
    try:
        _trials(args.trials, latencies, told, args.reply_delay / 1000, verbose=args.verbose)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    print(
        f"firm kill, trip on A -> first cancel on B and C: {len(latencies)} samples "
        f"({args.trials} trips, 3 nodes, {args.load} CPU-spinning processes, "
        f"A's replies {args.reply_delay:g} ms late)\n"
        f"  p50 {_percentile(latencies, 0.5):.2f} ms, p90 {_percentile(latencies, 0.9):.2f} ms, "
        f"p99 {_percentile(latencies, 0.99):.2f} ms, min {min(latencies):.2f} ms, "
        f"max {max(latencies):.2f} ms; over 100 ms: {sum(x > 100 for x in latencies)}\n"
        f"A's trip -> the latch set (the server's clock, whole ms): p50 "
        f"{_percentile(told, 0.5):.0f} ms, p99 {_percentile(told, 0.99):.0f} ms, "
        f"max {max(told):.0f} ms"
    )


def _trials(
    trials: int,
    latencies: list[float],
    told: list[float],
    reply_delay: float,
    *,
    verbose: bool = False,
) -> None:
    with LocalRedis() as redis:
        group = Nodes()
        proxy = StallingProxy(redis.port, reply_delay=reply_delay) if reply_delay else None
        try:
            # 60x: the recorded day lasts ~8 min of replay, enough for the resting orders
            # the trader places every 5 quotes to be there at each trial
            options = {"speed": 60.0, "reorder_every": 5}
            a_url = proxy.url if proxy is not None else redis.url
            a = group.start("A", a_url, **options)
            b, c = (group.start(name, redis.url, **options) for name in "BC")
            for node in (a, b, c):
                node.wait("running")
            # a node reports running once its book is on, which may be before its firm
            # link is: wait for A's first heartbeat (its tell connection opens meanwhile)
            deadline = time.monotonic() + 30
            while not _beating(redis.url, "A"):
                if time.monotonic() > deadline:
                    raise RuntimeError("node A never beat")
                time.sleep(0.05)
            for trial in range(1, trials + 1):
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
                    if verbose:
                        print(f"trial {trial} {name}: {latencies[-1]:.2f} ms", file=sys.stderr)
                epoch = int(tripped["B"]["record"]["cause"]["epoch"])
                told.append(_rearm(redis.url, epoch) - t0 / 1e6)
                if verbose:
                    print(f"trial {trial} latch set: {told[-1]:.0f} ms", file=sys.stderr)
                for node in (a, b, c):
                    node.wait("rearmed")
            for node in (a, b, c):
                node.stop()
        finally:
            group.close()
            if proxy is not None:
                proxy.close()


if __name__ == "__main__":
    main()
