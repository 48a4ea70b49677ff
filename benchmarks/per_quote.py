"""Per-quote cost of the watch, side by side with the alternatives, in one run.

Each scenario (``_world.SCENARIOS``) is a backtest of the same world with one actor: none,
a no-op actor, the hand-written Portfolio check, or the watch in some configuration. The
figure that matters is a scenario's cost *over its no-op baseline* (same world, same open
positions, a no-op actor subscribed to the same data), per data point.

Method: every run is a fresh process (so peak memory is per scenario); runs are
interleaved (a b c, a b c, ...) so that the shared machine's noise hits every scenario
alike; the median of ``--repeats`` is reported. Only ``engine.run()`` is timed. With
``--instructions`` each scenario is also run under valgrind's callgrind, counting the
instructions of ``engine.run()`` for N and 2N data points: their difference over N is the
exact per-point instruction count, with every fixed cost (start, stop) cancelled, and it
does not move with the machine's load.

``--source NAME=DIR`` (repeatable) runs every scenario against each copy of the package
(e.g. ``before=/tmp/rw-before after=.``), interleaved too, and prints them side by side.

``--short`` runs a few scenarios once, in this process, on a few thousand points: it
checks that every scenario still builds, runs and is watched (the watch holds the positions
and did not trip); it asserts no time. ``.ci/run`` calls it.

    python benchmarks/per_quote.py --quotes 1000000 --repeats 3
    python benchmarks/per_quote.py --quotes 200000 --only noop watch --instructions
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

DEFAULT = ["engine", "noop", "handwritten", "watch", "limits", "runaway", "stale"]
SHORT = [
    "noop",
    "watch",
    "limits",
    "alerts",
    "runaway",
    "stale",
    "noop_trade",
    "watch_trade",
    "noop_bar",
    "watch_bar",
    "noop_scale",
    "watch_scale",
]


def use_source(source: str | None) -> None:
    """Import ``nautilus_riskwatch`` from ``source`` instead of the installed copy."""
    if not source:
        return
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__]
    sys.path.insert(0, str(Path(source).resolve()))


def worker(name: str, n: int, short: bool = False, patch: str | None = None) -> dict[str, Any]:
    """Build and run one scenario; return its timing, memory and a check of the watch."""
    import _callgrind
    import _world

    name = name.split("@")[0]  # "watch@sync": the watch scenario, patched (attribute.py)
    engine = _world.build(name, n, short=short)
    if patch:
        import _stages

        _stages.apply(patch)
    scenario = _world.SCENARIOS[name]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _callgrind.start()
    started = time.perf_counter()
    engine.run()
    elapsed = time.perf_counter() - started
    _callgrind.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out: dict[str, Any] = {
        "us_per_quote": elapsed / n * 1e6,
        "peak_kib": peak,
        "rss_before_kib": rss_before,
        "positions": len(engine.cache.positions_open()),
    }
    if scenario.actor == "watch":
        watch = engine.trader.actors()[0]
        if watch.record is not None:
            raise RuntimeError(f"{name}: the watch tripped: {watch.record.report()}")
        out["loss"] = str(watch.loss)
        if scenario.max_loss is not None and not patch and watch.loss == 0:
            raise RuntimeError(f"{name}: the watch holds no loss: it is not marking")
    engine.dispose()
    return out


def _run_worker(
    name: str, n: int, source: str | None, cg_out: str | None = None, patch: str | None = None
) -> dict[str, Any]:
    import _callgrind

    cmd = [sys.executable]
    env = dict(os.environ, PYTHONHASHSEED="0")
    if cg_out is not None:
        cmd = _callgrind.command(cg_out)
        env["RISKWATCH_CALLGRIND"] = "1"
    cmd += [__file__, "--worker", name, "--quotes", str(n)]
    if source:
        cmd += ["--worker-source", source]
    if patch:
        cmd += ["--worker-patch", patch]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"worker {name} ({source or 'installed'}) failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if cg_out is not None:
        result["instructions"] = _callgrind.instructions(cg_out)
        os.unlink(cg_out)
    return result


def instructions_per_point(
    name: str, n: int, source: str | None, patch: str | None = None
) -> float:
    """Exact instructions per data point: (count at 2n - count at n) / n."""
    with tempfile.TemporaryDirectory() as tmp:
        one = _run_worker(name, n, source, f"{tmp}/cg.1", patch)["instructions"]
        two = _run_worker(name, 2 * n, source, f"{tmp}/cg.2", patch)["instructions"]
    return (two - one) / n


def measure(
    names: list[str],
    n: int,
    repeats: int,
    sources: dict[str, str | None],
    instructions: int = 0,
    patches: dict[str, str] | None = None,
) -> dict[tuple[str, str], dict[str, float]]:
    """Every (source, scenario): median µs per point, median peak MiB, instructions."""
    patches = patches or {}
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {
        (src, name): [] for src in sources for name in names
    }
    for _ in range(repeats):
        for name in names:
            for src, path in sources.items():
                runs[(src, name)].append(_run_worker(name, n, path, patch=patches.get(name)))
    out: dict[tuple[str, str], dict[str, float]] = {}
    for key, results in runs.items():
        out[key] = {
            "us": statistics.median(r["us_per_quote"] for r in results),
            "spread": max(r["us_per_quote"] for r in results)
            - min(r["us_per_quote"] for r in results),
            "mib": statistics.median(r["peak_kib"] for r in results) / 1024,
        }
        if instructions:
            src, name = key
            out[key]["instr"] = instructions_per_point(
                name, instructions, sources[src], patches.get(name)
            )
    return out


def report(
    names: list[str],
    sources: dict[str, str | None],
    results: dict[tuple[str, str], dict[str, float]],
    header: str,
) -> None:
    import _world

    print(header)
    instr = any("instr" in r for r in results.values())
    cols = "".join(f" | {src:>8} us  over  {'instr/pt' if instr else ''}" for src in sources)
    print(f"{'scenario':<22}{cols}")
    for name in names:
        base = _world.baseline(name)
        line = f"{name:<22}"
        for src in sources:
            r = results[(src, name)]
            over = r["us"] - results[(src, base)]["us"] if base and (src, base) in results else None
            over_s = f"{over:6.3f}" if over is not None else "      "
            extra = ""
            if "instr" in r:
                if base and (src, base) in results:
                    extra = f" {r['instr'] - results[(src, base)]['instr']:+8.0f}"
                else:
                    extra = f" {r['instr']:9.0f}"
            line += f" | {r['us']:9.3f}  {over_s} {extra}"
        print(f"{line}    {_world.SCENARIOS[name].text}")
    print("us: median us per data point; over: minus its no-op baseline (same world);")
    if instr:
        print("instr/pt: instructions per point (over the baseline where there is one)")
    for src in sources:
        pairs = [(n, _world.baseline(n)) for n in names]
        mem = [
            f"{n} {results[(src, n)]['mib'] - results[(src, b)]['mib']:+.1f}"
            for n, b in pairs
            if b and (src, b) in results
        ]
        if mem:
            print(f"[{src}] peak memory over the baseline, MiB: " + ", ".join(mem))
    if len(sources) == 2:
        a, b = list(sources)
        ratios = []
        for name in names:
            base = _world.baseline(name)
            if base and (a, base) in results:
                over_a = results[(a, name)]["us"] - results[(a, base)]["us"]
                over_b = results[(b, name)]["us"] - results[(b, base)]["us"]
                ratios.append(f"{name} {over_b / over_a:.2f}" if over_a > 0 else f"{name} n/a")
        print(f"overhead {b}/{a}: " + ", ".join(ratios))


def short(sources: dict[str, str | None]) -> None:
    """Every short scenario once, a few thousand points, in this process: no time asserted."""
    import _world

    for src, path in sources.items():
        use_source(path)
        for name in SHORT:
            n = 2000 if _world.SCENARIOS[name].world != "bar" else 600
            result = worker(name, n, short=True)
            expect = 1 if _world.SCENARIOS[name].world != "scale" else 100
            if result["positions"] != expect:
                raise RuntimeError(f"{name}: {result['positions']} positions, {expect} expected")
            print(
                f"[{src}] {name:<14} {result['us_per_quote']:8.3f} us/point "
                f"(one run, not a measurement) loss {result.get('loss', '-')}"
            )


def main() -> None:
    import _world

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quotes", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=DEFAULT, choices=list(_world.SCENARIOS))
    parser.add_argument("--instructions", type=int, default=0, metavar="N")
    parser.add_argument("--source", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--worker")
    parser.add_argument("--worker-source")
    parser.add_argument("--worker-patch")
    args = parser.parse_args()
    if args.worker:
        use_source(args.worker_source)
        result = worker(args.worker, args.quotes, patch=args.worker_patch)
        print(json.dumps(result))
        return
    sources: dict[str, str | None] = {"installed": None}
    if args.source:
        sources = dict(x.split("=", 1) for x in args.source)  # type: ignore[misc]
    if args.short:
        short(sources)
        return
    if args.instructions:
        import _callgrind

        missing = _callgrind.available()
        if missing:
            parser.error(f"--instructions: {missing}")
    import nautilus_trader

    names = list(args.only)
    for name in list(names):  # every scenario's baseline runs too
        base = _world.baseline(name)
        if base and base not in names:
            names.insert(0, base)
    results = measure(names, args.quotes, args.repeats, sources, args.instructions)
    report(
        names,
        sources,
        results,
        f"nautilus_trader {nautilus_trader.__version__}, Python {sys.version.split()[0]}, "
        f"{args.quotes:,} points, median of {args.repeats} interleaved fresh-process runs"
        + (
            f"; instructions from {args.instructions:,} and {2 * args.instructions:,}"
            if args.instructions
            else ""
        ),
    )


if __name__ == "__main__":
    main()
