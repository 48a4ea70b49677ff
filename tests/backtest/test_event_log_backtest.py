"""The event log on real backtests: the file against the engine's cache, and after a crash.

The engine's cache is the judge: every cancel and close it shows must be in the file, and
every command in the file must be in the cache. A process killed mid-cascade must leave a
file that ends at the last step it took.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import invariants
import pytest
from invariants import checked
from nautilus_trader.model.events import OrderCanceled, OrderDenied, OrderFilled

from nautilus_riskwatch import (
    RearmCommand,
    RiskWatchConfig,
    RiskWatchConfigError,
    command_endpoint,
    read_event_log,
    records_from,
)
from nautilus_riskwatch.core.denials import LOGGED_DENIALS
from nautilus_riskwatch.demo import build_engine, eurusd_instrument
from nautilus_riskwatch.demo.engine import HEDGER_ID, TRADER_ID

build_engine = checked(build_engine)  # each run checks the invariants (conftest.py)

WATCH = {
    "feeds": [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}],
    "max_loss": "1000 USD",
    "hedge_tags": ["HEDGE"],
}
CANCELS = ("CancelOrder", "CancelAllOrders")
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("log") / "events.jsonl"
    run = build_engine(RiskWatchConfig(**WATCH, event_log=str(path)))
    run.engine.run()
    yield run, path
    invariants.dispose(run.engine)


def _cancelled_by(events) -> dict[str, object]:
    """Each order a cancel command in the log names, with its line."""
    named = {}
    for e in events:
        if e.kind == "command" and e.fields["command"] in CANCELS:
            for order in e.fields.get("orders") or [e.fields["order"]]:
                named[order] = e
    return named


def test_the_demo_trip_file_lists_every_command_the_engine_shows(demo):
    run, path = demo
    read = read_event_log(path)
    assert read.skipped == []
    events = read.events
    record = run.watch.record
    assert record is not None
    cache = run.engine.cache
    trip = record.tripped_at_ns

    # every order the engine cancelled after the trip, and only those, named by a cancel
    cancelled = {
        o.client_order_id.value: next(e for e in o.events if isinstance(e, OrderCanceled))
        for o in cache.orders()
        if any(isinstance(e, OrderCanceled) and e.ts_event >= trip for e in o.events)
    }
    named = _cancelled_by(events)
    assert len(cancelled) == 6 and set(named) == set(cancelled)
    for order, line in named.items():
        assert line.fields["endpoint"] == "ExecEngine.execute"
        assert line.fields["strategy_id"] == TRADER_ID
        assert line.ts_ns <= cancelled[order].ts_event
        # and its confirmation, at the engine's own time of the cancel
        confirmed = next(e for e in events if e.kind == "confirmed" and order in e.fields["ids"])
        assert confirmed.ts_ns == cancelled[order].ts_event and confirmed.seq > line.seq

    # every close the engine holds (the watch's tag), with its position, named by a submit
    closes = {
        o.client_order_id.value: next(e for e in o.events if isinstance(e, OrderFilled))
        for o in cache.orders()
        if "RISKWATCH" in (o.tags or [])
    }
    submits = {
        e.fields["order"]: e
        for e in events
        if e.kind == "command" and e.fields["command"] == "SubmitOrder"
    }
    assert len(closes) == 1 and set(submits) == set(closes)
    for order, line in submits.items():
        fill = closes[order]
        assert line.fields["position"] == fill.position_id.value
        assert line.fields["reduce_only"] is True and line.fields["tags"] == ["RISKWATCH"]
        assert line.fields["quantity"] == str(fill.last_qty)
        fills = [e for e in events if e.kind == "fill" and e.fields["order"] == order]
        assert [(f.fields["price"], f.fields["closing"]) for f in fills] == [
            (str(fill.last_px), True)
        ]

    # the orders denied after the trip (HALTED): the first LOGGED_DENIALS of each strategy
    # in the log one by one, numbered; every one counted in the record and the file
    denials = sorted(
        (e.ts_event, o.client_order_id.value, str(o.strategy_id))
        for o in cache.orders()
        for e in o.events
        if isinstance(e, OrderDenied)
    )
    by_strategy: dict[str, list[str]] = {}
    for _, order, strategy in denials:
        by_strategy.setdefault(strategy, []).append(order)
    assert len(denials) > LOGGED_DENIALS  # the demo denies more than are written
    lines = [e for e in events if e.kind == "denied"]
    assert [(e.fields["strategy_id"], e.fields["order"], e.fields["count"]) for e in lines] == [
        (strategy, order, n)
        for strategy, orders in by_strategy.items()
        for n, order in enumerate(orders[:LOGGED_DENIALS], start=1)
    ]
    assert {s: d["count"] for s, d in record.denied.items()} == {
        s: len(orders) for s, orders in by_strategy.items()
    }
    counts = [e for e in events if e.kind == "denials"]
    assert [(e.fields["strategy_id"], e.fields["count"]) for e in counts] == [
        (s, len(orders)) for s, orders in by_strategy.items() if len(orders) > LOGGED_DENIALS
    ]
    assert {s: d["count"] for s, d in records_from(events)[-1].denied.items()} == {
        s: len(orders) for s, orders in by_strategy.items()
    }

    # one session on every line, the one the watch names; the trip at the engine's time
    assert {e.session_id for e in events} == {run.watch.session_id}
    assert {e.scope for e in events} == {"portfolio"}
    (trip_line,) = [e for e in events if e.kind == "trip"]
    assert trip_line.ts_ns == trip
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].kind == "armed" and events[-1].kind == "stopped"


def test_the_record_comes_back_from_the_file_whole_and_from_its_steps(demo):
    run, path = demo
    events = read_event_log(path).events
    record = run.watch.record.to_dict()
    assert [r.to_dict() for r in records_from(events)] == [record]
    assert [r.to_dict() for r in records_from(events, use_records=False)] == [record]
    (back,) = records_from(events, scope="portfolio")
    assert back.report() == run.watch.record.report()


def _normalised(event) -> tuple:
    """What must be identical between two runs of the same backtest (ids made by uuid aside)."""
    fields = dict(event.fields)
    fields.pop("command_id", None)
    if (event.kind == "command" and fields["command"] == "SubmitOrder") or event.kind == "fill":
        if fields.get("closing", True):
            fields.pop("order", None)
    return (event.kind, event.ts_ns, event.seq, event.scope, fields)


_KILLED_RUN = """
import os, signal, sys
sys.path.insert(0, sys.argv[2])
from venue import Venue, is_watch_close
from nautilus_riskwatch import RiskWatchConfig
from nautilus_riskwatch.demo import build_engine

watch = {watch!r}
run = build_engine(RiskWatchConfig(**watch, event_log=sys.argv[1]))

def decide(command):
    if is_watch_close(command):  # the cancels are done; the first close is on its way
        os.kill(os.getpid(), signal.SIGKILL)
    return "pass"

Venue(run.engine, decide)
run.engine.run()
"""


def test_a_process_killed_mid_cascade_leaves_a_file_that_ends_at_its_last_step(demo, tmp_path):
    run, full_path = demo
    path = tmp_path / "killed.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN.format(watch=WATCH), str(path), str(HERE)],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    read = read_event_log(path)
    assert read.skipped == []
    killed = read.events
    # the last line is the close it was sending when it died: written, then killed
    last = killed[-1]
    assert (last.kind, last.fields["command"], last.fields["position"]) == (
        "command",
        "SubmitOrder",
        "SIM-1-001",
    )
    assert not {"record", "stopped"} & {e.kind for e in killed}
    # up to there, line for line what the run that was not killed wrote
    full = read_event_log(full_path).events
    assert [_normalised(e) for e in killed] == [_normalised(e) for e in full[: len(killed)]]
    # the post-mortem record says how far it got: cancels confirmed, the close unconfirmed
    (record,) = records_from(killed)
    whole = run.watch.record
    assert record.stage == "flattening" and record.finished_at_ns is None
    assert record.orders_cancelled == whole.orders_cancelled and record.orders_unconfirmed == []
    assert record.positions_unflattened == ["SIM-1-001"] and record.positions_closed == []
    assert record.hedges_kept == whole.hedges_kept and not record.complete
    # a crash in the middle of a write leaves half a line: the reader goes past it
    with path.open("ab") as f:
        f.write(b'{"ts_ns":1577909935019000000,"time":"2020-01-01T20:18:55.0')
    again = read_event_log(path)
    assert again.events == killed and len(again.skipped) == 1
    assert again.skipped[0].startswith(f"line {len(killed) + 1}: cut short")


def test_a_scoped_limit_writes_its_own_lines_and_a_rearm_keeps_the_session(tmp_path):
    from nautilus_trader.common.actor import Actor

    path = tmp_path / "events.jsonl"
    scope = f"strategy {TRADER_ID}"

    class Rearmer(Actor):
        def on_start(self):
            self.subscribe_quote_ticks(eurusd_instrument().id)
            self.sent = False

        def on_quote_tick(self, tick):
            rec = run.watch.scope_records.get(scope)
            if not self.sent and rec is not None and rec.stage == "done":
                self.sent = True
                self.msgbus.send(
                    endpoint=command_endpoint(run.watch.id),
                    msg=RearmCommand("fixed", who="ops", scope=scope),
                )

    run = build_engine(
        RiskWatchConfig(
            feeds=WATCH["feeds"],
            hedge_tags=["HEDGE"],
            limits=[{"max_loss": "1000 USD", "strategy_id": TRADER_ID}],
            event_log=str(path),
        )
    )
    run.engine.add_actor(Rearmer())
    run.engine.run()
    first_session = run.watch.session_id
    events = read_event_log(path).events
    assert {e.session_id for e in events} == {first_session}
    scoped = [e for e in events if e.scope == scope]
    portfolio = [e for e in events if e.scope == "portfolio"]
    assert {e.strategy_ids for e in scoped} == {(TRADER_ID,)}
    assert {e.strategy_ids for e in portfolio} == {None}
    assert {e.kind for e in portfolio} == {"armed", "stopped"}  # the portfolio-wide watch held
    # armed, tripped, re-armed by the operator in the same session, tripped again
    armed = [e for e in scoped if e.kind == "armed"]
    assert [(e.fields["rearm"], e.fields["who"], e.fields["reason"]) for e in armed] == [
        (False, "", ""),
        (True, "ops", "fixed"),
    ]
    records = records_from(events, scope=scope)
    history = [*run.watch.session.guards[1].records, run.watch.scope_records[scope]]
    assert [r.to_dict() for r in records] == [r.to_dict() for r in history]
    # its cascade touched only its strategy; the gate's denials are in its lines
    commands = [e for e in events if e.kind == "command"]
    assert commands and {e.fields["strategy_id"] for e in commands} == {TRADER_ID}
    denied = [e for e in events if e.kind == "denied"]
    assert denied and all(e.scope == scope for e in denied)
    assert all("blocked after a trip" in e.fields["reason"] for e in denied)
    assert not any(HEDGER_ID in str(e.fields) for e in commands)

    # a reset starts a new session, appended to the same file
    run.engine.reset()
    run.engine.run()
    assert run.watch.session_id not in (None, first_session)
    assert read_event_log(path).sessions == [first_session, run.watch.session_id]
    invariants.dispose(run.engine)


def test_a_full_disk_loses_the_file_not_the_cascade():
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    run = build_engine(RiskWatchConfig(**WATCH, event_log="/dev/full"), log_level="ERROR")
    run.engine.run()
    cache = run.engine.cache
    assert run.watch.record is not None and run.watch.record.complete
    assert [str(p.strategy_id) for p in cache.positions_open()] == [HEDGER_ID]
    assert run.watch.session.event_log.failures > 0


def test_an_event_log_that_cannot_be_opened_refuses_to_start(tmp_path):
    run = build_engine(RiskWatchConfig(**WATCH, event_log=str(tmp_path / "no" / "such.jsonl")))
    with pytest.raises(RiskWatchConfigError, match="event_log"):
        run.engine.run()


def test_a_stale_feed_is_announced_by_its_own_watchdog_on_the_engine_clock(tmp_path):
    path = tmp_path / "events.jsonl"
    feeds = [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 30.0}]
    run = build_engine(RiskWatchConfig(feeds=feeds, hedge_tags=["HEDGE"], event_log=str(path)))
    run.engine.run()
    record = run.watch.record
    assert record is not None and record.cause.kind == "stale"
    events = read_event_log(path).events
    deadline, trip = events[1], events[2]  # after "armed": the child's line, then the trip
    assert (deadline.kind, trip.kind) == ("deadline", "trip")
    assert deadline.fields["feed"] == "EUR/USD.SIM quotes" and deadline.fields["bound"] == 30.0
    assert (deadline.session_id, deadline.scope) == (run.watch.session_id, "portfolio")
    # the last quote before the silence, plus the bound, to the nanosecond
    last = max(q.ts_init for q in run.quotes if q.ts_init < record.tripped_at_ns)
    assert deadline.ts_ns == trip.ts_ns == record.tripped_at_ns == last + 30 * 1_000_000_000
    invariants.dispose(run.engine)


def test_each_cancel_is_one_line_naming_its_order_and_where_it_went(tmp_path):
    # Without a hedger nothing else rests on the instrument; the watch still cancels order
    # by order (a cancel-all could take another strategy's order in flight with it).
    path = tmp_path / "events.jsonl"
    run = build_engine(RiskWatchConfig(**WATCH, event_log=str(path)), hedger=False)
    run.engine.run()
    trip = run.watch.record.tripped_at_ns
    cancelled = {
        o.client_order_id.value
        for o in run.engine.cache.orders()
        if any(isinstance(e, OrderCanceled) and e.ts_event >= trip for e in o.events)
    }
    events = read_event_log(path).events
    commands = [e.fields for e in events if e.kind == "command"]
    cancels = [c for c in commands if c["command"].startswith("Cancel")]
    assert cancelled and {c["command"] for c in cancels} == {"CancelOrder"}
    assert sorted(c["order"] for c in cancels) == sorted(cancelled)
    assert {c["endpoint"] for c in cancels} == {"ExecEngine.execute"}
    assert set(_cancelled_by(events)) == cancelled
    invariants.dispose(run.engine)


def test_every_line_goes_through_the_actors_logger_too(tmp_path, monkeypatch):
    import nautilus_riskwatch.nautilus.session as session_module
    from nautilus_riskwatch.nautilus.event_log import LoggerSink

    heard: list[tuple[str, str]] = []
    given: list[object] = []

    class Recording:
        """The actor's own logger, with every call noted on the way through."""

        def __init__(self, log) -> None:
            self.log = log

        def __getattr__(self, level):
            def call(text: str) -> None:
                heard.append((level, text))
                getattr(self.log, level)(text)

            return call

    class RecordingSink(LoggerSink):
        def __init__(self, log) -> None:
            given.append(log)
            super().__init__(Recording(log))

    monkeypatch.setattr(session_module, "LoggerSink", RecordingSink)
    path = tmp_path / "events.jsonl"
    run = build_engine(RiskWatchConfig(**WATCH, event_log=str(path)))
    run.engine.run()
    assert given == [run.watch.log]
    lines = path.read_text().splitlines()
    events = read_event_log(path).events
    # the same JSON, in the same order, each at the level its kind deserves
    assert [text for _, text in heard] == [
        f"riskwatch {e.kind}: {line}" for e, line in zip(events, lines, strict=True)
    ]
    levels = {e.kind: level for e, (level, _) in zip(events, heard, strict=True)}
    assert levels["trip"] == levels["denied"] == "warning"
    assert levels["command"] == levels["stage"] == "info"
    assert levels["pnl"] == levels["fill"] == "debug"
    invariants.dispose(run.engine)
