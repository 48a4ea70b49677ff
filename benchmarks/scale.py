"""How the watch's per-quote cost grows with the book: positions, feeds, limits.

In the scale world (10,000 instruments, quotes dealt round-robin) NautilusTrader's own
backtest costs about 0.8 ms per quote (its simulated exchange visits every instrument's
matching engine on every data point), so the watch's share, under a microsecond, is far
below the noise of timing whole runs, and callgrind cannot run such a world long enough.
So this measures the watch's own handlers instead: every quote the watch receives goes
through its route handler (``PriceRouter._quote``), which is wrapped with a clock; the total
handler time over all quotes of the run is the watch's per-quote cost (quotes of
instruments the watch does not route cost it nothing: it is not subscribed to them). The
clock's own cost is measured the same way on an empty handler and taken off. The first
pass over the instruments (``--warmup`` quotes, one per instrument in the scale world) is
left out: there each watchdog is woken once by its feed's first quote and goes to sleep
until its deadline, a one-time cost per feed, not a per-quote one.

Each scenario runs in a fresh process, interleaved, median of ``--repeats``; printed as a
ratio to the one-position case (the ``watch`` scenario: one quote feed, the breaker, one
position).

    python benchmarks/scale.py --quotes 40000 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

NAMES = [
    "watch",
    "grow_p1_one_l1",
    "grow_p10_one_l1",
    "grow_p100_one_l1",
    "grow_p100_one_l4",
    "grow_p100_all_l1",
    "grow_p100_all_l4",
]


def worker(name: str, n: int, warmup: int) -> dict[str, Any]:
    import _world

    try:  # the quote handler: the router's since the hot path left the actor
        from nautilus_riskwatch.nautilus.router import PriceRouter as Handler
    except ImportError:
        from nautilus_riskwatch import RiskWatch as Handler  # type: ignore[assignment]

    spent = [0, 0]  # ns, calls
    real = Handler._quote
    clock = time.perf_counter_ns
    count = _world.SCALE_INSTRUMENTS if _world.SCENARIOS[name].world == "scale" else 1
    stamps = [q.ts_init for q in _world.quotes(n, _world.instruments(count))]
    warm_ts = stamps[warmup]
    steady = sum(1 for ts in stamps if ts >= warm_ts)

    def timed(self: Any, route: Any, tick: Any) -> None:
        if tick.ts_init < warm_ts:
            real(self, route, tick)
            return
        started = clock()
        real(self, route, tick)
        spent[0] += clock() - started
        spent[1] += 1

    def empty(self: Any, route: Any, tick: Any) -> None:
        started = clock()
        spent[0] += clock() - started
        spent[1] += 1

    # the clock's own cost per call, in this process
    for _ in range(3):
        spent[:] = [0, 0]
        for _ in range(100_000):
            empty(None, None, None)
    calibration = spent[0] / spent[1]
    Handler._quote = timed  # type: ignore[method-assign]
    spent[:] = [0, 0]
    engine = _world.build(name, n)
    engine.run()
    watch = engine.trader.actors()[0]
    if watch.record is not None:
        raise RuntimeError(f"{name}: the watch tripped: {watch.record.report()}")
    out = {
        "ns_per_quote": (spent[0] - calibration * spent[1]) / steady,
        "calls": spent[1],
        "positions": len(engine.cache.positions_open()),
    }
    engine.dispose()
    return out


def main() -> None:
    import _world
    import nautilus_trader

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quotes", type=int, default=40_000)
    parser.add_argument("--warmup", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=NAMES, choices=list(_world.SCENARIOS))
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.quotes, args.warmup)))
        return
    names = list(args.only)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for _ in range(args.repeats):
        for name in names:
            cmd = [sys.executable, __file__, "--worker", name, "--quotes", str(args.quotes)]
            cmd += ["--warmup", str(args.warmup)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{name} failed:\n{done.stderr}")
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(
        f"nautilus_trader {nautilus_trader.__version__}, Python {sys.version.split()[0]}, "
        f"{args.quotes:,} quotes (the first {args.warmup:,} left out), "
        f"median of {args.repeats} interleaved fresh-process runs"
    )
    base = statistics.median(r["ns_per_quote"] for r in runs[names[0]])
    print(f"{'scenario':<18} {'ns/quote':>9} {'x ' + names[0]:>9} {'calls':>8} {'pos':>4}")
    for name in names:
        ns = statistics.median(r["ns_per_quote"] for r in runs[name])
        r = runs[name][0]
        print(
            f"{name:<18} {ns:9.0f} {ns / base:9.2f} {r['calls']:8d} {r['positions']:4d}"
            f"    {_world.SCENARIOS[name].text}"
        )
    print("ns/quote: the watch's handler time over all the run's quotes, the clock's cost off")


if __name__ == "__main__":
    main()
