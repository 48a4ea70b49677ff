"""Per-quote cost of the watch, side by side with the alternatives, in one run.

Scenarios (every one has the same strategy holding one open position, so the differences
are the actor's alone):

1. ``engine``     engine + strategy, no actor
2. ``noop``       + a no-op actor subscribed to the quotes
3. ``handwritten``+ an actor doing the usual inline check: portfolio unrealized + realized
                  PnL of the instrument, turned into a Decimal, compared with a ceiling
4. ``watch``      + RiskWatch with one quote feed watchdog and the breaker
5. ``noop1000``   the no-op actor over 1,000 instruments, the same number of quotes spread
                  across them: the baseline for
6. ``watch1000``  RiskWatch watching those 1,000 instruments (one position, on the first)

Each run happens in a fresh subprocess (so peak memory is per scenario), runs are
interleaved (1 2 3 4 5, 1 2 3 4 5, ...) so machine noise hits all alike, and the median of
``--repeats`` runs is reported. Only ``engine.run()`` is timed.

    python benchmarks/per_quote.py --quotes 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from decimal import Decimal

SCENARIOS = ("engine", "noop", "handwritten", "watch", "noop1000", "watch1000")


def _quotes(n: int, instruments: list) -> list:
    """``n`` real EUR/USD quotes, the day repeated (shifted in time) as often as needed."""
    from nautilus_trader.model.data import QuoteTick

    from nautilus_riskwatch.demo import eurusd_quotes

    base = eurusd_quotes(instruments[0])
    span = base[-1].ts_init - base[0].ts_init + 1_000_000_000
    out = []
    k = 0
    while len(out) < n:
        shift = (len(out) // len(base)) * span
        for q in base:
            if len(out) == n:
                break
            instrument = instruments[k % len(instruments)]
            k += 1
            out.append(
                QuoteTick(
                    instrument_id=instrument.id,
                    bid_price=q.bid_price,
                    ask_price=q.ask_price,
                    bid_size=q.bid_size,
                    ask_size=q.ask_size,
                    ts_event=q.ts_event + shift,
                    ts_init=q.ts_init + shift,
                )
            )
    return out


def _instruments(count: int) -> list:
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.instruments import CurrencyPair

    from nautilus_riskwatch.demo import eurusd_instrument

    first = eurusd_instrument()
    out = [first]
    template = CurrencyPair.to_dict(first)
    for i in range(1, count):
        d = dict(template)
        d["id"] = f"EUR/USD{i}.SIM"
        d["raw_symbol"] = f"EUR/USD{i}"
        out.append(CurrencyPair.from_dict(d))
        assert out[-1].id == InstrumentId.from_str(f"EUR/USD{i}.SIM")
    return out


def worker(scenario: str, n: int) -> dict[str, float]:
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.common.actor import Actor
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Money

    from nautilus_riskwatch import RiskWatch, RiskWatchConfig
    from nautilus_riskwatch.demo import DemoTrader, DemoTraderConfig

    instruments = _instruments(1000 if scenario.endswith("1000") else 1)
    quotes = _quotes(n, instruments)
    iid = instruments[0].id

    class NoOp(Actor):
        def on_start(self) -> None:
            for instrument in instruments:
                self.subscribe_quote_ticks(instrument.id)

        def on_quote_tick(self, tick) -> None:
            pass

    class HandWritten(Actor):
        def on_start(self) -> None:
            self.subscribe_quote_ticks(iid)
            self.ceiling = Decimal("100000000")

        def on_quote_tick(self, tick) -> None:
            unrealized = self.portfolio.unrealized_pnl(iid)
            realized = self.portfolio.realized_pnl(iid)
            loss = Decimal(0)
            if unrealized is not None:
                loss -= unrealized.as_decimal()
            if realized is not None:
                loss -= realized.as_decimal()
            if loss >= self.ceiling:
                raise RuntimeError("tripped")

    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR")))
    engine.add_venue(
        venue=Venue("SIM"),
        oms_type=OmsType.HEDGING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(10_000_000, USD)],
    )
    for instrument in instruments:
        engine.add_instrument(instrument)
    engine.add_data(quotes)
    engine.add_strategy(
        DemoTrader(
            DemoTraderConfig(instrument_id=str(iid), reorder_every=10**12, order_id_tag="001")
        )
    )
    if scenario in ("noop", "noop1000"):
        engine.add_actor(NoOp())
    elif scenario == "handwritten":
        engine.add_actor(HandWritten())
    elif scenario in ("watch", "watch1000"):
        feeds = [{"instrument_id": str(i.id), "stale_after": 10_000_000.0} for i in instruments]
        engine.add_actor(RiskWatch(RiskWatchConfig(feeds=feeds, max_loss="100000000 USD")))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    engine.run()
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if scenario.startswith("watch"):
        watch = engine.trader.actors()[0]
        assert watch.record is None, watch.record.report()
    engine.dispose()
    return {"us_per_quote": elapsed / n * 1e6, "peak_kib": peak, "rss_before_kib": rss_before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quotes", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.quotes)))
        return

    import nautilus_trader

    results: dict[str, list[dict[str, float]]] = {s: [] for s in args.only}
    for _ in range(args.repeats):
        for scenario in args.only:
            out = subprocess.run(
                [sys.executable, __file__, "--worker", scenario, "--quotes", str(args.quotes)],
                capture_output=True,
                text=True,
                check=True,
            )
            results[scenario].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {s: statistics.median(r["us_per_quote"] for r in results[s]) for s in results}
    peak = {s: statistics.median(r["peak_kib"] for r in results[s]) / 1024 for s in results}
    print(
        f"nautilus_trader {nautilus_trader.__version__}, Python {sys.version.split()[0]}, "
        f"{args.quotes:,} quotes, median of {args.repeats} interleaved runs"
    )
    print(f"{'scenario':<12} {'us/quote':>9} {'over noop*':>10} {'peak MiB':>9}")
    for s in results:
        base = "noop1000" if s.endswith("1000") else "noop"
        over = med[s] - med[base] if base in med else float("nan")
        print(f"{s:<12} {med[s]:9.3f} {over:10.3f} {peak[s]:9.1f}")
    print("(*) over the no-op actor on the same instruments")
    if {"noop", "handwritten", "watch"} <= med.keys():
        hand = med["handwritten"] - med["noop"]
        watch = med["watch"] - med["noop"]
        print(f"watch overhead / hand-written overhead = {watch / hand:.2f}  (target <= 1.00)")
    if {"noop", "watch", "noop1000", "watch1000"} <= med.keys():
        w1000 = med["watch1000"] - med["noop1000"]
        watch = med["watch"] - med["noop"]
        print(f"1,000-feed overhead / 1-feed overhead  = {w1000 / watch:.2f}  (target <= 1.20)")
    if {"noop", "watch"} <= peak.keys():
        print(f"peak memory, watch - noop = {peak['watch'] - peak['noop']:.1f} MiB (target <= 10)")


if __name__ == "__main__":
    main()
