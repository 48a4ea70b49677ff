"""The figures of docs/runaway.md: the runaway replay's control runs (no watch) and, by brute
force over the engine's own event times, where each guard alone trips, what the position
and the loss were then, and when max_loss alone would have tripped.

    .venv/bin/python tests/runaway_figures.py
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from brute import (
    book_at,
    fills,
    first_gross_over,
    first_loss_over,
    first_over,
    first_position_over,
    order_times,
    reject_times,
)
from runaway import (
    FillBegetsOrder,
    FillBegetsOrderConfig,
    Resubmitter,
    ResubmitterConfig,
    replay,
)

from nautilus_riskwatch.looptime.origin import utc

SECOND = 1_000_000_000


def main() -> None:
    run = replay(None, FillBegetsOrder(FillBegetsOrderConfig(most=400)), latency_ms=1, quotes=None)
    run.engine.run()
    found, orders = fills(run.cache), order_times(run.cache)
    quotes = run.quotes
    rows = [
        ("max_order_rate 10/00:00:30", first_over(orders, 10, 30 * SECOND).at_ns),
        (
            "max_fill_rate 10/00:00:30",
            first_over([f.ts_event for f in found], 10, 30 * SECOND).at_ns,
        ),
        ("max_position 500000", first_position_over(found, Decimal(500_000)).at_ns),
        ("max_gross_exposure 600000 USD", first_gross_over(found, quotes, Decimal(600_000))),
        ("max_loss 500 USD alone", first_loss_over(found, quotes, Decimal(500))),
    ]
    print("every fill begets an order:", len(orders), "orders,", len(found), "fills")
    for name, at in rows:
        net, loss = book_at(found, quotes, at)
        print(f"  {name:<32} {utc(at)}  net {net:>9}  loss {loss:.2f}")
    run = replay(None, Resubmitter(ResubmitterConfig(most=400)))
    run.engine.run()
    print("every refusal begets a resubmission:", len(order_times(run.cache)), "orders")
    for name, times in (("orders", order_times(run.cache)), ("rejects", reject_times(run.cache))):
        over = first_over(times, 3, SECOND)
        print(f"  {name} 3/00:00:01: {utc(over.at_ns)} (the {over.index + 1}th)")


if __name__ == "__main__":
    main()
