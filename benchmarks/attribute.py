"""Where a quote's cost goes: the watch's quote callback cut after each of its steps.

Each stage replaces the quote callback (``RiskWatch._quote``; ``on_quote_tick`` before)
with a copy of the real callback that stops after one more step; the full callback is the
last. Run in the ``watch`` scenario (one quote feed, the breaker, one open position)
against the no-op actor, each step's share is the difference between consecutive stages:
in instructions per quote (exact, callgrind) and in µs (median of interleaved
fresh-process runs, noisy).

The stages mirror the callback of the code they are applied to, so they are written per
version: ``STAGES_BEFORE`` for ``on_quote_tick`` as it was before issue 15 (commit
ad68989), ``STAGES_AFTER`` for the routed handler ``RiskWatch._quote`` of the present one
(the route replaces the actor's dispatch: its "entry" is the whole dispatch). A stage that
does not apply to the code loaded raises at once.

    python benchmarks/attribute.py --quotes 200000 --repeats 5 --instructions 20000
    python benchmarks/attribute.py --version before --source /tmp/rw-before --instructions 20000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


# --- the callback before issue 15, cut after each step ------------------------------------
def _b_entry(self: Any, tick: Any) -> None:
    try:
        time = self._time  # noqa: F841
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _b_sync(self: Any, tick: Any) -> None:
    try:
        time = self._time
        time.sync()
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _b_put(self: Any, tick: Any) -> None:
    try:
        time = self._time
        time.sync()
        instrument_id = tick.instrument_id
        feed = self._quote_feeds.get(instrument_id)
        if feed is not None:
            feed.put(tick)
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _b_convert(self: Any, tick: Any) -> None:
    try:
        time = self._time
        time.sync()
        instrument_id = tick.instrument_id
        feed = self._quote_feeds.get(instrument_id)
        if feed is not None:
            feed.put(tick)
        rated = self._rated
        if rated and instrument_id in rated:
            raise AssertionError("no rates in this scenario")
        scopes = self._marking.get(instrument_id)
        if scopes:
            marks = self._marks[instrument_id]  # noqa: F841
            bid, ask = self._decimal(tick.bid_price), self._decimal(tick.ask_price)  # noqa: F841
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _b_marks(self: Any, tick: Any) -> None:
    try:
        time = self._time
        time.sync()
        instrument_id = tick.instrument_id
        feed = self._quote_feeds.get(instrument_id)
        if feed is not None:
            feed.put(tick)
        rated = self._rated
        if rated and instrument_id in rated:
            raise AssertionError("no rates in this scenario")
        scopes = self._marking.get(instrument_id)
        if scopes:
            marks = self._marks[instrument_id]
            bid, ask = self._decimal(tick.bid_price), self._decimal(tick.ask_price)
            marks.quote(bid, ask, tick.ts_init)
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _b_revalue(self: Any, tick: Any) -> None:
    try:
        time = self._time
        time.sync()
        instrument_id = tick.instrument_id
        feed = self._quote_feeds.get(instrument_id)
        if feed is not None:
            feed.put(tick)
        rated = self._rated
        if rated and instrument_id in rated:
            raise AssertionError("no rates in this scenario")
        scopes = self._marking.get(instrument_id)
        if scopes:
            marks = self._marks[instrument_id]
            bid, ask = self._decimal(tick.bid_price), self._decimal(tick.ask_price)
            if marks.quote(bid, ask, tick.ts_init):
                for scope in scopes:  # _remark without the publish
                    scope.ledger.mark(instrument_id, marks.bid, marks.ask)
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _b_publish(self: Any, tick: Any) -> None:
    try:
        time = self._time
        time.sync()
        instrument_id = tick.instrument_id
        feed = self._quote_feeds.get(instrument_id)
        if feed is not None:
            feed.put(tick)
        rated = self._rated
        if rated and instrument_id in rated:
            raise AssertionError("no rates in this scenario")
        scopes = self._marking.get(instrument_id)
        if scopes:
            marks = self._marks[instrument_id]
            bid, ask = self._decimal(tick.bid_price), self._decimal(tick.ask_price)
            if marks.quote(bid, ask, tick.ts_init):
                self._remark(instrument_id, marks, scopes)
    except Exception as error:
        self._fail(error, "on_quote_tick")


STAGES_BEFORE = {
    "entry": _b_entry,
    "sync": _b_sync,
    "put": _b_put,
    "convert": _b_convert,
    "marks": _b_marks,
    "revalue": _b_revalue,
    "publish": _b_publish,
}
#: what each stage adds, for the table
STEPS_BEFORE = {
    "entry": "callback entry (try, attribute reads)",
    "sync": "clock sync (engine ns -> loop time, due-deadline check)",
    "put": "instrument id + feed lookup + Feed.put",
    "convert": "price conversion (two cached Price -> Decimal) + scope lookup",
    "marks": "mark ranking (Marks.quote)",
    "revalue": "ledger revalue (PnlLedger.mark, Decimal products)",
    "publish": "figure hand-off (Guard.put_figures: Decimal PnL -> the breaker's feed)",
    "full": "settle (run the loop if anything is ready or due)",
}


# --- the routed quote handler (RiskWatch._quote), cut after each step ---------------------
def _a_entry(self: Any, route: Any, tick: Any) -> None:
    try:
        time = self._time
        if time is None:
            return
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _a_sync(self: Any, route: Any, tick: Any) -> None:
    try:
        time = self._time
        if time is None:
            return
        time.sync()
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _a_feed(self: Any, route: Any, tick: Any) -> None:
    try:
        time = self._time
        if time is None:
            return
        time.sync()
        feed = route.quote_feed
        if feed is not None:
            feed.arrive(tick, time.now)
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _a_marks(self: Any, route: Any, tick: Any) -> None:
    try:
        time = self._time
        if time is None:
            return
        time.sync()
        feed = route.quote_feed
        if feed is not None:
            feed.arrive(tick, time.now)
        if route.rated:
            self._rate_quote(route, tick)
        elif route.guards:
            route.marks.quote_tick(tick)
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _a_remark(self: Any, route: Any, tick: Any) -> None:
    try:
        time = self._time
        if time is None:
            return
        time.sync()
        feed = route.quote_feed
        if feed is not None:
            feed.arrive(tick, time.now)
        if route.rated:
            self._rate_quote(route, tick)
        elif route.guards:
            marks = route.marks
            if marks.quote_tick(tick):
                self._remark(route.instrument_id, marks, route.guards)
    except Exception as error:
        self._fail(error, "on_quote_tick")


STAGES_AFTER: dict[str, Any] = {
    "entry": _a_entry,
    "sync": _a_sync,
    "feed": _a_feed,
    "marks": _a_marks,
    "remark": _a_remark,
}
STEPS_AFTER = {
    "entry": "handler entry (the route's partial, try, attribute reads)",
    "sync": "clock sync (engine ns -> loop time, due-deadline check)",
    "feed": "Feed.arrive (the staleness watchdog's arrival)",
    "marks": "route checks + Marks.quote_tick (the held side's raw price)",
    "remark": "ledger revalue (mark_raw, integers) + the quiet-band comparison",
    "full": "settle (run the loop if anything is ready or due)",
}


def apply(patch: str) -> None:
    """Replace the watch's quote callback with stage ``version:stage``."""
    from nautilus_riskwatch import RiskWatch

    version, stage = patch.split(":")
    if version == "before":
        RiskWatch.on_quote_tick = STAGES_BEFORE[stage]  # type: ignore[attr-defined]
    else:
        RiskWatch._quote = STAGES_AFTER[stage]  # type: ignore[method-assign]


def main() -> None:
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
        (STAGES_BEFORE, STEPS_BEFORE) if args.version == "before" else (STAGES_AFTER, STEPS_AFTER)
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
