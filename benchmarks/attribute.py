"""Where a quote's cost goes: the watch's quote callback cut after each of its steps.

Each stage (``_stages.py``) replaces the quote handler (``PriceRouter._quote``;
``RiskWatch.on_quote_tick`` before issue 15) with a copy of the real one that stops after
one more step; the full handler is the last. Run in the ``watch`` scenario (one quote feed,
the breaker, one open position) against the no-op actor, each step's share is the
difference between consecutive stages: in instructions per quote (exact, callgrind) and in
µs (median of interleaved fresh-process runs, noisy).

    python benchmarks/attribute.py --quotes 200000 --repeats 5 --instructions 20000
    python benchmarks/attribute.py --version before --source /tmp/rw-before --instructions 20000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> None:
    import _stages
    import nautilus_trader
    import per_quote

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quotes", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--instructions", type=int, default=0, metavar="N")
    parser.add_argument("--version", choices=["before", "after"], default="after")
    parser.add_argument("--source", help="the package copy to load (default: installed)")
    args = parser.parse_args()
    stages, steps = (
        (_stages.STAGES_BEFORE, _stages.STEPS_BEFORE)
        if args.version == "before"
        else (_stages.STAGES_AFTER, _stages.STEPS_AFTER)
    )
    # each stage is a scenario name of its own for the runner: watch@stage
    import _world

    names = ["noop"]
    patches = {}
    for stage in [*stages, "full"]:
        name = f"watch@{stage}"
        _world.SCENARIOS[name] = _world.SCENARIOS["watch"]
        names.append(name)
        if stage != "full":
            patches[name] = f"{args.version}:{stage}"
    sources = {args.version: args.source}
    results = per_quote.measure(
        names, args.quotes, args.repeats, sources, args.instructions, patches
    )
    print(
        f"nautilus_trader {nautilus_trader.__version__}, Python {sys.version.split()[0]}, "
        f"{args.quotes:,} quotes, median of {args.repeats} interleaved fresh-process runs"
        + (
            f"; instructions exact from {args.instructions:,}/{2 * args.instructions:,}"
            if args.instructions
            else ""
        )
    )
    print(f"{'step':<72} {'us':>7} {'instr':>7}")
    prev = results[(args.version, "noop")]
    total_us = total_in = 0.0
    for stage in [*stages, "full"]:
        r = results[(args.version, f"watch@{stage}")]
        d_us = r["us"] - prev["us"]
        d_in = r.get("instr", 0.0) - prev.get("instr", 0.0)
        total_us += d_us
        total_in += d_in
        print(f"{steps[stage]:<72} {d_us:7.3f} {d_in:7.0f}")
        prev = r
    print(f"{'total over the no-op actor':<72} {total_us:7.3f} {total_in:7.0f}")


if __name__ == "__main__":
    main()
