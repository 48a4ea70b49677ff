"""The trip picture reads right for every trip cause, an empty book and any time span.

Judged by the drawn artists, not by the PNG's bytes: the time axis's tick labels, where the
trip lines are, that the legends and the zoom inset stay where a reader can see them and
off the axis labels, that no axis reads "-0", that "drawdown" names one quantity, and that
the cascade's time runs from the trip to the last confirmation.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

pytest.importorskip("matplotlib")

import matplotlib.dates as mdates
import numpy as np
from backtest.scripted import build

from nautilus_riskwatch import DrawdownBreached, ManualKill, RiskWatchConfig, WatchFailure
from nautilus_riskwatch.core.record import RiskOff, Stage
from nautilus_riskwatch.core.trips import (
    DailyLossBreached,
    ExposureBreached,
    RunawayDetected,
    StalenessError,
    TrailingDrawdownBreached,
)
from nautilus_riskwatch.report.picture import draw_trip
from nautilus_riskwatch.report.postmortem import postmortem

T0 = 1_577_898_000_000_000_000  # 2020-01-01 17:00:00 UTC
S = 1_000_000_000
MS = 1_000_000
CAUSES = {
    "stale": lambda: StalenessError("EUR/USD.SIM trades", 150.0),
    "drawdown": lambda: DrawdownBreached(Decimal("1002.15"), Decimal(1000), "USD"),
    "trailing": lambda: TrailingDrawdownBreached(
        Decimal("300"), Decimal(300), Decimal("120"), "USD"
    ),
    "daily": lambda: DailyLossBreached(Decimal("1000"), Decimal(1000), 0.0, "USD", T0),
    "manual": lambda: ManualKill("desk saw a fat finger", "ops"),
    "failure": lambda: WatchFailure(RuntimeError("boom " * 40), "guard"),
    "orders": lambda: RunawayDetected("orders", 11, 30 * S, 10, T0 + 81 * S),
    "position": lambda: ExposureBreached(
        "position", Decimal(510000), Decimal(500000), "EUR/USD.SIM"
    ),
}
SPANS = {"40 s": 40 * S, "3 h": 3 * 3600 * S, "3 days": 3 * 86_400 * S}


def _record(cause, trip_ns, *, finished_after=22 * S, cancelled=(), closed=()) -> RiskOff:
    record = RiskOff(cause=cause, tripped_at_ns=trip_ns, stage=Stage.DONE)
    record.orders_cancelled = list(cancelled)
    record.positions_closed = list(closed)
    record.finished_at_ns = trip_ns + finished_after
    return record


def _curve(span_ns: int, points: int = 400, low: float = -1100.0):
    times = [T0 + span_ns * i // (points - 1) for i in range(points)]
    rng = np.random.default_rng(7)
    walk = np.cumsum(rng.normal(0, 1, points))
    walk = walk / max(abs(walk).max(), 1e-9) * abs(low) * 0.5 + low * 0.5
    return times, [Decimal(f"{v:.2f}") for v in walk]


def _x(ns: int) -> float:
    return float(mdates.date2num(np.datetime64(ns, "ns")))


def _axes(fig, gid):
    [ax] = [a for a in fig.axes if a.get_gid() == gid]
    return ax


def _insets(fig):
    return [a for a in _axes(fig, "pnl").child_axes if a.get_gid() == "zoom"]


def _check_readable(fig, trip_ns: int | None) -> None:
    """What must hold for every picture."""
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    top, bottom = _axes(fig, "pnl"), _axes(fig, "drawdown")
    # the time axis: at least three ticks, each label different from the others
    labels = [t.get_text() for t in bottom.get_xticklabels() if t.get_visible()]
    lo, hi = bottom.get_xlim()
    ticks = [t for t in bottom.get_xticks() if lo <= t <= hi]
    shown = [label for label, t in zip(labels, bottom.get_xticks(), strict=True) if lo <= t <= hi]
    assert len(ticks) >= 3, labels
    assert len(set(shown)) == len(shown), shown
    assert all(shown), shown
    # no money axis reads "-0"
    for ax in fig.axes:
        for label in ax.get_yticklabels():
            assert not re.fullmatch(r"-0(\.0*)?", label.get_text()), label.get_text()
    # the trip is drawn, in both panels, inside the visible range
    if trip_ns is not None:
        for ax in (top, bottom):
            [line] = [ln for ln in ax.get_lines() if ln.get_gid() == "trip"]
            assert line.get_xdata()[0] == pytest.approx(_x(trip_ns), abs=1e-9)
            assert lo < _x(trip_ns) < hi
    # the legends are inside the figure
    figure_box = fig.bbox
    for legend in (top.get_legend(), bottom.get_legend()):
        box = legend.get_window_extent(renderer)
        assert box.x0 >= figure_box.x0 - 1 and box.x1 <= figure_box.x1 + 1, box
        assert box.y0 >= figure_box.y0 - 1 and box.y1 <= figure_box.y1 + 1, box
    # the title too, however long the cause's message
    box = fig._suptitle.get_window_extent(renderer)
    assert box.x0 >= figure_box.x0 - 1 and box.x1 <= figure_box.x1 + 1, box
    # the zoom inset, if any, stays inside its panel and off the panel's axis labels
    for inset in _insets(fig):
        box = inset.get_tightbbox(renderer)
        assert box.x0 >= top.bbox.x0 and box.x1 <= top.bbox.x1, (box, top.bbox)
        for label in top.get_yticklabels():
            if label.get_text():
                assert not box.overlaps(label.get_window_extent(renderer)), label.get_text()


@pytest.mark.parametrize("span", SPANS, ids=list(SPANS))
@pytest.mark.parametrize("kind", CAUSES, ids=list(CAUSES))
def test_every_cause_on_every_span_reads_right(kind, span):
    times, equity = _curve(SPANS[span])
    trip = times[len(times) * 2 // 3] + 65 * MS
    record = _record(CAUSES[kind](), trip, cancelled=["O-1"])
    fig = draw_trip(
        record, times, equity, Decimal(1000), cancels_ns=[trip + 120 * MS], currency="USD"
    )
    _check_readable(fig, trip)


def test_a_stale_trip_with_nothing_open_after_the_last_point():
    # the post-mortem's curve of an empty book: one point when the watch armed, then
    # nothing moves; the feed trips 150 s later and the cascade has nothing to do
    trip = T0 + 150 * S + 65 * MS
    record = _record(StalenessError("EUR/USD.SIM trades", 150.0), trip)
    fig = draw_trip(record, [T0], [Decimal(0)], Decimal(1000), currency="USD")
    _check_readable(fig, trip)
    bottom = _axes(fig, "drawdown")
    labels = [t.get_text() for t in bottom.get_xticklabels()]
    assert all(re.fullmatch(r"17:0[0-2]:[0-5]\d", label) for label in labels if label), labels
    title = fig._suptitle.get_text()
    assert "(stale feed)" in title
    assert "nothing to cancel or close" in title
    assert " ms" not in title  # not the 22 s until the engine next woke the watch
    assert not _insets(fig)  # nothing there to zoom on


def test_the_cascade_time_runs_from_the_trip_to_the_last_confirmation():
    times, equity = _curve(3 * 3600 * S)
    trip = times[250] + 7 * MS
    record = _record(
        DrawdownBreached(Decimal("1002.15"), Decimal(1000), "USD"),
        trip,
        cancelled=["O-1", "O-2"],
        closed=["P-1"],
    )
    fig = draw_trip(
        record,
        times,
        equity,
        Decimal(1000),
        cancels_ns=[trip, trip + 40 * MS],
        closes=[(trip + 250 * MS, Decimal("1.12235"))],
        currency="USD",
    )
    _check_readable(fig, trip)
    title = fig._suptitle.get_text()
    assert "last confirmation 250 ms after the trip" in title
    assert "22" not in title.splitlines()[-1]


def test_drawdown_names_one_quantity():
    # a loss-limit trip is called a loss limit: "drawdown" is the fall from the high-water
    # mark, drawn (and named) in the lower panel only
    times, equity = _curve(3 * 3600 * S)
    trip = times[300]
    record = _record(DrawdownBreached(Decimal("1002.15"), Decimal(1000), "USD"), trip)
    fig = draw_trip(record, times, equity, Decimal(1000), currency="USD")
    fig.canvas.draw()
    top, bottom = _axes(fig, "pnl"), _axes(fig, "drawdown")
    upper = [t.get_text() for t in top.get_legend().get_texts()] + [fig._suptitle.get_text()]
    assert not [text for text in upper if "drawdown" in text.lower()], upper
    assert "(loss limit)" in fig._suptitle.get_text()
    lower = " ".join(t.get_text() for t in bottom.get_legend().get_texts())
    assert "high-water mark" in lower and bottom.get_ylabel().startswith("drawdown")


def test_the_zoom_on_a_long_drawdown_trip_keeps_off_the_axis_labels():
    # the curve crosses the right-hand corners: the inset goes left, clear of the labels
    times, equity = _curve(6 * 3600 * S, points=2000)
    trip = times[1900]
    record = _record(DrawdownBreached(Decimal("1002.15"), Decimal(1000), "USD"), trip)
    fig = draw_trip(
        record, times, equity, Decimal(1000), closes=[(trip, Decimal("1.1"))], currency="USD"
    )
    assert _insets(fig)
    _check_readable(fig, trip)


def test_an_empty_book_without_a_trip_has_no_minus_zero():
    times = [T0 + i * 60 * S for i in range(30)]
    fig = draw_trip(None, times, [Decimal(0)] * 30, None)
    _check_readable(fig, None)
    assert fig._suptitle.get_text() == "Session PnL: the watch did not trip"


def test_a_real_stale_trip_with_nothing_open_from_its_event_log(tmp_path):
    # end to end: a trade feed that never speaks on an engine with nothing open; the
    # post-mortem draws it from the file alone
    log = tmp_path / "events.jsonl"
    watch = RiskWatchConfig(
        feeds=[{"instrument_id": "EUR/USD.SIM", "kind": "trade", "stale_after": 150.0}],
        max_loss="1000 USD",
        event_log=str(log),
    )
    run = build(watch, [{}], quotes=40)
    run.engine.run()
    record = run.watch.record
    assert isinstance(record.cause, StalenessError)
    assert not run.cache.orders() and not run.cache.positions()  # the engine: nothing open
    found = postmortem(log)
    assert found.times_ns[-1] < record.tripped_at_ns  # the curve stops before the trip
    fig = draw_trip(found.record, found.times_ns, found.equity, found.ceiling, currency="USD")
    _check_readable(fig, record.tripped_at_ns)
    assert "nothing to cancel or close" in fig._suptitle.get_text()
    run.engine.dispose()


@pytest.mark.parametrize(
    ("cause", "name"),
    [
        (RunawayDetected("orders", 11, 30 * S, 10), "order storm"),
        (RunawayDetected("rejects", 6, 2 * S, 5), "reject storm"),
        (RunawayDetected("fills", 11, 30 * S, 10), "fill storm"),
        (ExposureBreached("position", Decimal(2), Decimal(1), "EUR/USD.SIM"), "position cap"),
        (ExposureBreached("gross", Decimal(2), Decimal(1), currency="USD"), "gross exposure cap"),
    ],
)
def test_a_runaway_or_exposure_trip_is_named_by_what_it_counted_or_measured(cause, name):
    times, equity = _curve(40 * S)
    record = _record(cause, times[10])
    fig = draw_trip(record, times, equity, None, currency="USD")
    assert f"({name})" in fig._suptitle.get_text() or any(
        f"({name})" in t.get_text()
        for ax in fig.axes
        if ax.get_legend()
        for t in ax.get_legend().get_texts()
    )
