"""The runaway guards on a real engine: each guard alone trips at the exact event a brute
force over a control run's cache predicts (``brute``), and the book ends flat.

A control run is the same replay with no watch: its cache gives the event times, and the
orders it filled after the predicted trip prove they would have traded. The guarded run
must trip at exactly that event (the cause's own event time, and the record's trip time),
hold nothing after its cascade (no open order, no open position, no fill of the strategy's
but those of orders already in flight at the trip), and name its cause in the record, the
event log, the report read back from the log and the trip picture. The kill's invariants
(``invariants``) are checked on every guarded run by ``conftest``.

Boundaries, on the engine: N events in a window do not trip and N + 1 do (a whole runaway
in one instant), an event exactly W after the first no longer shares its window (the
resubmitter's refusals are exactly a quarter of a second apart), and a position equal to
its cap does not trip while one unit more does.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from brute import (
    fills,
    first_gross_over,
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

from nautilus_riskwatch import ExposureBreached, RiskWatchConfig, RunawayDetected
from nautilus_riskwatch.nautilus.gross import GrossWeight
from nautilus_riskwatch.report.labels import cause_name
from nautilus_riskwatch.report.picture import draw_trip
from nautilus_riskwatch.report.postmortem import postmortem

SECOND = 1_000_000_000
EURUSD = "EUR/USD.SIM"
CLOSE_TAG = "RISKWATCH"
SUBMITTED = {"OrderSubmitted", "OrderEmulated", "OrderDenied"}


def _fill_run(watch=None, *, most=400, latency_ms=1, quotes=None):
    run = replay(
        None if watch is None else RiskWatchConfig(**watch),
        FillBegetsOrder(FillBegetsOrderConfig(most=most)),
        latency_ms=latency_ms,
        quotes=quotes,
    )
    run.engine.run()
    return run


def _resubmit_run(watch=None, *, most=40):
    run = replay(
        None if watch is None else RiskWatchConfig(**watch),
        Resubmitter(ResubmitterConfig(most=most)),
    )
    run.engine.run()
    return run


@pytest.fixture(scope="module")
def control():
    """Every fill begets an order, no watch: 400 orders, 400 fills, and the brute force's
    trip points for each guard of docs/runaway.md."""
    run = _fill_run()
    found, orders = fills(run.cache), order_times(run.cache)
    assert len(orders) == len(found) == 400  # it ran away to the end
    return {
        "orders": first_over(orders, 10, 30 * SECOND),
        "fills": first_over([f.ts_event for f in found], 10, 30 * SECOND),
        "position": first_position_over(found, Decimal(500_000)),
        "gross": first_gross_over(found, run.quotes, Decimal(600_000)),
        "last_fill": found[-1].ts_event,
    }


def _strategy_fills_after(run, t_ns):
    """The strategy's own fills (not the watch's closes) after ``t_ns``, each with when its
    order was first submitted."""
    late = []
    for order in run.cache.orders():
        if CLOSE_TAG in (order.tags or ()):
            continue
        after = [e for e in order.events if type(e).__name__ == "OrderFilled" and e.ts_event > t_ns]
        if after:
            submitted = min(e.ts_event for e in order.events if type(e).__name__ in SUBMITTED)
            late.extend((fill, submitted) for fill in after)
    return late


def _ends_flat(run, tripped_at_ns):
    cache = run.cache
    assert cache.orders_open() == [] and cache.orders_inflight() == []
    assert cache.orders_emulated() == []
    assert cache.positions_open() == []  # the replay has no hedges: nothing is kept
    # what filled after the trip was in flight at it (a market order a millisecond away)
    for fill, submitted in _strategy_fills_after(run, tripped_at_ns):
        assert submitted <= tripped_at_ns, f"{fill.client_order_id} was sent after the trip"


def _the_cause_is_shown(log, record, name, kind, key, value):
    """The cause in the record, the event log's trip line, the report read back from the
    log alone, and the trip picture's title or legend."""
    assert record.cause.kind == kind
    assert f"cause          {kind}" in record.report()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    armed = next(line for line in lines if line["event"] == "armed")
    assert armed[key] == value  # the guard as it was written
    trips = [line for line in lines if line["event"] == "trip"]
    assert len(trips) == 1 and trips[0]["cause"]["kind"] == kind
    assert trips[0]["cause"]["message"] == str(record.cause)
    found = postmortem(log)
    assert found.record is not None and found.record.cause.kind == kind
    assert found.report() == record.report()
    assert cause_name(found.record) == name
    fig = draw_trip(found.record, found.times_ns, found.equity, found.ceiling, currency="USD")
    texts = [fig._suptitle.get_text()] + [
        t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()
    ]
    assert any(f"({name})" in text for text in texts), texts


@pytest.mark.parametrize(
    ("guard", "counted", "name"),
    [
        ({"max_order_rate": "10/00:00:30"}, "orders", "order storm"),
        ({"max_fill_rate": "10/00:00:30"}, "fills", "fill storm"),
    ],
)
def test_a_rate_guard_alone_trips_at_the_event_the_brute_force_predicts(
    control, guard, counted, name
):
    over = control[counted]
    run = _fill_run(guard)
    record = run.watch.record
    assert isinstance(record.cause, RunawayDetected)
    assert record.cause.counted == counted
    assert (record.cause.at_ns, record.cause.count) == (over.at_ns, over.count) == (over.at_ns, 11)
    assert record.tripped_at_ns == over.at_ns  # on the engine's clock, to the nanosecond
    assert control["last_fill"] > over.at_ns  # the control run went on filling
    assert record.complete and run.watch.session.portfolio.records == []  # one trip
    _ends_flat(run, record.tripped_at_ns)


def test_the_position_cap_alone_trips_at_the_fill_the_brute_force_predicts(control):
    held = control["position"]
    run = _fill_run({"max_position": {EURUSD: 500_000}})
    record = run.watch.record
    assert isinstance(record.cause, ExposureBreached)
    assert (record.cause.measure, record.cause.figure) == ("position", held.net)
    assert held.net == Decimal(510_000)
    assert record.tripped_at_ns == held.at_ns
    assert control["last_fill"] > held.at_ns
    _ends_flat(run, record.tripped_at_ns)


@pytest.mark.parametrize("cap", ["600000 USD", "6%"])  # 6% of the 10,000,000 USD account
def test_the_gross_cap_alone_trips_at_the_fill_or_quote_the_brute_force_predicts(control, cap):
    at = control["gross"]
    run = _fill_run({"max_gross_exposure": cap})
    record = run.watch.record
    assert isinstance(record.cause, ExposureBreached) and record.cause.measure == "gross"
    assert record.cause.figure > Decimal(600_000) and record.cause.cap == Decimal(600_000)
    assert record.tripped_at_ns == at
    if cap.endswith("%"):
        assert record.limit_bases["max_gross_exposure"].endswith("= 600000.00 USD")
    assert control["last_fill"] > at
    _ends_flat(run, record.tripped_at_ns)


def test_a_far_gross_cap_leaves_the_marks_quiet_and_a_near_one_is_exact(monkeypatch):
    # held all day (5 fills, then no order): the gross moves at every bid, yet inside the
    # PnL's band and below the gross breaker's, a mark is not put; without the gross band
    # (its sink a no-op) every moving mark is, and the figures judged are the same
    watch = {"max_loss": "1000000 USD", "max_gross_exposure": "100000000 USD"}
    quiet = _fill_run(watch, most=5)
    with monkeypatch.context() as patch:
        patch.setattr(GrossWeight, "told", lambda self, band: None)
        loud = _fill_run(watch, most=5)
    received = [run.watch.session.portfolio.runaway.gross_feed.received for run in (quiet, loud)]
    assert received[1] > 5_000  # a real day of marks, every one put
    assert received[0] * 20 < received[1]
    assert quiet.watch.record is None and loud.watch.record is None
    assert quiet.watch.loss == loud.watch.loss


@pytest.mark.parametrize(
    ("guard", "name", "kind"),
    [
        ({"max_order_rate": "10/00:00:30"}, "order storm", "runaway"),
        ({"max_fill_rate": "10/00:00:30"}, "fill storm", "runaway"),
        ({"max_position": {EURUSD: 500_000}}, "position cap", "exposure"),
        ({"max_gross_exposure": "600000 USD"}, "gross exposure cap", "exposure"),
    ],
)
def test_each_cause_is_shown_in_the_record_the_log_the_report_and_the_picture(
    tmp_path, guard, name, kind
):
    # apart from the exact trip points: the event log's PnL samples set timers, and a timer
    # is a step at which the simulated venue takes the orders in flight, so a run with an
    # event log fills at other times than its control run does
    log = tmp_path / "events.jsonl"
    run = _fill_run({**guard, "event_log": str(log)})
    record = run.watch.record
    assert record is not None
    _ends_flat(run, record.tripped_at_ns)
    ((key, value),) = guard.items()
    shown = {EURUSD: "500000"} if key == "max_position" else value
    _the_cause_is_shown(log, record, name, kind, key, shown)


@pytest.mark.parametrize(
    ("guard", "counted"),
    [({"max_reject_rate": "3/00:00:01"}, "rejects"), ({"max_order_rate": "3/00:00:01"}, "orders")],
)
def test_a_resubmit_loop_trips_at_its_fourth_refused_order_in_a_second(guard, counted):
    control = _resubmit_run()
    times = reject_times(control.cache) if counted == "rejects" else order_times(control.cache)
    over = first_over(times, 3, SECOND)
    assert over is not None and over.index == 3
    run = _resubmit_run(guard)
    record = run.watch.record
    assert isinstance(record.cause, RunawayDetected) and record.cause.counted == counted
    assert (record.cause.at_ns, record.cause.count) == (over.at_ns, 4)
    assert record.tripped_at_ns == over.at_ns
    # the strategy goes on resubmitting into the watch's denials: they count as nothing
    assert record.denied[str(run.strategy.id)]["count"] > 4
    assert run.watch.session.portfolio.records == []  # and trip nothing again
    _ends_flat(run, record.tripped_at_ns)


def test_a_scoped_guard_trips_its_strategy_only():
    strategy = "FillBegetsOrder-000"
    watch = {"limits": [{"strategy_id": strategy, "max_fill_rate": "10/00:00:30"}]}
    run = _fill_run(watch)
    assert run.watch.record is None  # the portfolio guard did not trip
    record = run.watch.scope_records[f"strategy {strategy}"]
    assert record is not None and isinstance(record.cause, RunawayDetected)
    assert record.cause.counted == "fills"
    _ends_flat(run, record.tripped_at_ns)


# --- boundaries, on the engine -------------------------------------------------------------
def test_n_orders_in_one_instant_do_not_trip_and_n_plus_one_do():
    control = _fill_run(most=20, latency_ms=0, quotes=50)
    orders = order_times(control.cache)
    assert len(orders) == 20 and len(set(orders)) == 1  # the whole runaway in one instant
    calm = _fill_run({"max_order_rate": "20/00:00:01"}, most=20, latency_ms=0, quotes=50)
    assert calm.watch.record is None and len(fills(calm.cache)) == 20
    tripped = _fill_run({"max_order_rate": "19/00:00:01"}, most=20, latency_ms=0, quotes=50)
    record = tripped.watch.record
    assert isinstance(record.cause, RunawayDetected)
    assert (record.cause.count, record.cause.at_ns) == (20, orders[-1])
    _ends_flat(tripped, record.tripped_at_ns)


def test_an_order_exactly_w_after_the_first_no_longer_shares_its_window():
    control = _resubmit_run(most=12)
    orders = order_times(control.cache)
    assert orders[4] - orders[0] == SECOND  # four a second, a quarter of a second apart
    assert first_over(orders, 4, SECOND) is None
    calm = _resubmit_run({"max_order_rate": "4/00:00:01"}, most=12)
    assert calm.watch.record is None and len(order_times(calm.cache)) == 12
    over = first_over(orders, 4, SECOND + 1)
    assert over is not None and over.index == 4
    tripped = _resubmit_run({"max_order_rate": "4/00:00:01.000000001"}, most=12)
    record = tripped.watch.record
    assert isinstance(record.cause, RunawayDetected)
    assert (record.cause.count, record.cause.at_ns) == (5, orders[4])


def test_a_position_equal_to_its_cap_does_not_trip_and_one_unit_more_does():
    control = _fill_run(most=50, quotes=3_000)
    found = fills(control.cache)
    assert first_position_over(found, Decimal(500_000)) is None  # it ends at exactly 500,000
    held = first_position_over(found, Decimal(499_999))
    assert held is not None and held.net == Decimal(500_000) and held.index == 49
    calm = _fill_run({"max_position": {EURUSD: 500_000}}, most=50, quotes=3_000)
    assert calm.watch.record is None and len(fills(calm.cache)) == 50
    tripped = _fill_run({"max_position": {EURUSD: "499999"}}, most=50, quotes=3_000)
    record = tripped.watch.record
    assert isinstance(record.cause, ExposureBreached)
    assert (record.cause.figure, record.tripped_at_ns) == (Decimal(500_000), held.at_ns)
    _ends_flat(tripped, record.tripped_at_ns)
