"""What ``AlertSender.put`` costs the watch's thread: no target, a healthy receiver, a hung one.

The watch calls ``put`` at a trip, a warning, a cascade's end. It must not wait for the
network. Each scenario puts ``--alerts`` alerts, ``--every`` seconds apart (so a healthy
receiver keeps up and nothing is dropped), timing each ``put`` alone; then, with the hung
receiver's queue full, the refused puts. Real HTTP receivers on 127.0.0.1 through Apprise's
``json://``. Prints the median, p99 and max per put, and each as a ratio to the no-target
case (``dry`` with a no-op callback: the cost of the call itself).

    .venv/bin/python benchmarks/alerts_put.py --alerts 400 --every 0.005
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from receivers import Receiver

from nautilus_riskwatch.alerts import Alert, AlertKind, AlertSender, Delivery, figures


def alert(n: int) -> Alert:
    return Alert(
        kind=AlertKind.WARNING,
        watch="RiskWatch",
        node="BENCH-001",
        scope="portfolio",
        cause="drawdown",
        summary=f"loss 800.00 USD: 80% of the ceiling (#{n})",
        at_ns=n,
        figures=figures(loss=Decimal("800.00"), ceiling=Decimal("1000")),
    )


def timed_puts(sender: AlertSender, count: int, every: float) -> tuple[list[int], int]:
    alerts = [alert(n) for n in range(count)]
    times, refused = [], 0
    for a in alerts:
        start = time.perf_counter_ns()
        ok = sender.put(a)
        times.append(time.perf_counter_ns() - start)
        refused += not ok
        if every:
            time.sleep(every)
    return times, refused


def summary(times: list[int]) -> tuple[float, float, float]:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) / 1000, p99 / 1000, ordered[-1] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=400)
    parser.add_argument("--every", type=float, default=0.005, help="seconds between puts")
    args = parser.parse_args()
    n, every = args.alerts, args.every
    roomy = Delivery(timeout=2.0, retries=0, queue=n + 10)
    rows: list[tuple[str, list[int], int, str]] = []

    sender = AlertSender.dry(lambda a: None)
    times, refused = timed_puts(sender, n, every)
    rows.append(("no target (dry, no-op callback)", times, refused, ""))

    with Receiver("ok") as ok:
        sender = AlertSender([ok.url()], roomy)
        sender.start()
        times, refused = timed_puts(sender, n, every)
        sender.close(timeout=30)
        stats = sender.stats()[0]
        rows.append(("healthy receiver", times, refused, f"sent {stats.sent}/{n}"))

    with Receiver("hang") as hung:
        sender = AlertSender([hung.url()], roomy)
        sender.start()
        times, refused = timed_puts(sender, n, every)
        rows.append(("hung receiver (queue filling)", times, refused, ""))
        full = AlertSender([hung.url()], Delivery(timeout=30.0, retries=0, queue=4))
        full.start()
        timed_puts(full, 10, 0.0)  # one stuck in its send, four queued, the rest refused
        times, refused = timed_puts(full, n, every)
        rows.append(("hung receiver, queue full (refused)", times, refused, ""))
        sender.close(timeout=0.5)
        full.close(timeout=0.5)

    base = summary(rows[0][1])
    print(f"put latency, {n} alerts {every * 1000:g} ms apart (µs; ratio to no target)")
    print(f"{'scenario':38} {'median':>14} {'p99':>14} {'max':>16}  refused  note")
    for name, times, refused, note in rows:
        med, p99, top = summary(times)
        print(
            f"{name:38} {med:7.2f} ({med / base[0]:4.1f}x) {p99:7.2f} ({p99 / base[1]:4.1f}x) "
            f"{top:8.1f} ({top / base[2]:5.1f}x)  {refused:7d}  {note}"
        )
    healthy, hung_ = summary(rows[1][1]), summary(rows[2][1])
    print(
        f"hung / healthy: median {hung_[0] / healthy[0]:.2f}, p99 {hung_[1] / healthy[1]:.2f}, "
        f"max {hung_[2] / healthy[2]:.2f}"
    )


if __name__ == "__main__":
    main()
