"""The runaway replay on the recorded EUR/USD quotes: the strategies run away, and the events
the watch counts are the engine's own.

The control runs here have no watch: they give the event times the guarded runs must trip
on (``brute``). An observer on the bus sorts the engine's order events with the package's
rule (``nautilus/runaway.py``, through ``RunawaySources``) as they are published, and what
it counts must be what the brute force reads from the cache afterwards, kind by kind, to
the nanosecond.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from types import SimpleNamespace

import pytest
from brute import fills, first_over, first_position_over, order_times, reject_times
from nautilus_trader.common.actor import Actor
from runaway import (
    FillBegetsOrder,
    FillBegetsOrderConfig,
    Resubmitter,
    ResubmitterConfig,
    replay,
)

from nautilus_riskwatch.nautilus.runaway_guards import RunawaySources

SECOND = 1_000_000_000


class Recorder:
    """A guard's runaway feeds that only write down what they are told."""

    counts = True

    def __init__(self) -> None:
        self.times: dict[str, list[int]] = defaultdict(list)

    def count(self, kinds, ts_ns) -> None:
        for kind in kinds:
            self.times[kind].append(ts_ns)


class Everything:
    """A guard over the whole book, no watch behind it."""

    def __init__(self) -> None:
        self.runaway = Recorder()
        self.book = SimpleNamespace(closes=lambda order: "RISKWATCH" in (order.tags or ()))

    def covers(self, strategy_id, instrument_id) -> bool:
        return True


class Observer(Actor):
    """Sorts every order event on the bus as the watch's runaway guards would (``RunawaySources``),
    for a guard over the whole book: no trip, no watch."""

    def __init__(self) -> None:
        super().__init__()
        self.guard = Everything()
        self.times = self.guard.runaway.times

    def on_start(self) -> None:
        sources = RunawaySources(self.cache, [self.guard], lambda reason: False)
        self.msgbus.subscribe(topic="events.order.*", handler=sources.event)


def _control(strategy, latency_ms=0):
    run = replay(None, strategy, latency_ms=latency_ms)
    observer = Observer()
    run.engine.add_actor(observer)
    run.engine.run()
    return run, observer


def test_every_fill_begets_an_order_and_the_counts_are_the_engine_s():
    run, observer = _control(FillBegetsOrder(FillBegetsOrderConfig(most=200)), latency_ms=1)
    orders, found = order_times(run.cache), fills(run.cache)
    assert len(orders) == len(found) == 200  # every fill begot the next order, to the end
    assert observer.times["orders"] == orders
    assert observer.times["fills"] == [fill.ts_event for fill in found]
    assert observer.times["rejects"] == reject_times(run.cache) == []
    # the position only grows: 10,000 more at every fill
    assert first_position_over(found, Decimal(1_000_000)).net == Decimal(1_010_000)


def test_every_refusal_begets_a_resubmission_and_the_counts_are_the_engine_s():
    run, observer = _control(Resubmitter(ResubmitterConfig(most=40)))
    orders, rejects = order_times(run.cache), reject_times(run.cache)
    assert len(orders) == len(rejects) == 40  # every order refused, every refusal resubmitted
    reasons = {type(e).__name__ for o in run.cache.orders() for e in o.events}
    assert {"OrderDenied", "OrderRejected"} <= reasons  # the RiskEngine's and the venue's
    assert observer.times["orders"] == orders
    assert observer.times["rejects"] == rejects
    assert observer.times["fills"] == []
    assert rejects[1] - rejects[0] == SECOND // 4  # one back-off apart


def test_without_latency_the_runaway_is_one_instant_and_the_counts_agree():
    run, observer = _control(FillBegetsOrder(FillBegetsOrderConfig(most=80)))
    orders = order_times(run.cache)
    assert len(orders) == 80 and len(set(orders)) == 1  # Knight's storm in one nanosecond
    assert observer.times["orders"] == orders
    over = first_over(orders, 50, SECOND)
    assert over is not None and over.index == 50 and over.count == 51


@pytest.mark.parametrize(
    ("times", "limit", "window", "expected"),
    [
        ([0, 1, 2], 3, 10, None),  # N events: no trip
        ([0, 1, 2, 3], 3, 10, (3, 4)),  # N + 1: trip at the last
        ([0, 1, 2, 10], 3, 10, None),  # exactly W after the first: the first has left
        ([0, 1, 2, 9], 3, 10, (3, 4)),  # one ns less: it has not
        ([5, 5, 5, 5], 3, 1, (3, 4)),  # one instant
    ],
)
def test_the_brute_force_reads_the_rule_as_written(times, limit, window, expected):
    over = first_over(times, limit, window)
    assert (None if over is None else (over.index, over.count)) == expected
