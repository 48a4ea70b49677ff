"""Backtest quick start: the watch guards a trader and spares a hedge, on real EUR/USD quotes.

A trader sells 1,000,000 EUR/USD on the first quote of 2020-01-01 17:00 UTC and keeps
resting limit orders on both sides; a hedger holds 300,000 long with a protective stop,
both tagged ``HEDGE``. The watch requires a quote at least every 90 seconds (the real data
has quiet spells of up to 86 s: a quiet market is not a dead feed) and a loss ceiling of
1,000 USD. The euro rallies, the ceiling is reached, and the watch takes the book down.

Run it: ``bash dev.sh demo`` (or ``python examples/backtest_quickstart.py``). With the
``[plot]`` extra installed it also draws ``out/trip_report.png``.
"""

from __future__ import annotations

from pathlib import Path

from nautilus_riskwatch import RiskWatchConfig
from nautilus_riskwatch.demo import DemoRun, build_engine


def main() -> None:
    config = RiskWatchConfig(
        feeds=({"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0},),
        max_loss="1000 USD",
        hedge_tags=("HEDGE",),
        trading_state_on_trip="HALTED",
        confirm_timeout=5.0,
    )
    run = build_engine(config)
    run.engine.run()

    record = run.watch.record if run.watch else None
    print("=" * 78)
    if record is None:
        print("The watch did not trip.")
    else:
        print(record.report())
    cache = run.engine.cache
    print("-" * 78)
    print("After the run:")
    for order in cache.orders_open():
        print(f"  resting order  {order.client_order_id} {order.strategy_id} tags={order.tags}")
    for position in cache.positions_open():
        print(
            f"  open position  {position.id} {position.strategy_id} "
            f"{position.side.name} {position.quantity}"
        )
    print(f"  trader orders denied after the trip: {len(run.trader.denied)}")
    if record is not None:
        print(f"  trip report picture: {_picture(run)}")
    print("=" * 78)
    run.engine.dispose()


def _picture(run: DemoRun) -> str:
    """Equity, drawdown, ceiling, trip, cancels and closes in one PNG (needs [plot])."""
    try:
        from nautilus_riskwatch.report import write_trip_report

        path = Path(__file__).resolve().parent.parent / "out" / "trip_report.png"
        path.parent.mkdir(exist_ok=True)
        return str(write_trip_report(run.engine.cache, run.watch, run.quotes, path))
    except ImportError as missing:
        return f"not drawn ({missing})"


if __name__ == "__main__":
    main()
