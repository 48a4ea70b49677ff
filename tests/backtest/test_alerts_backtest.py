"""Alerts and warnings of a real backtest, end to end, judged against the engine's own fills.

The demo trader loses on the recorded EUR/USD quotes; the watch has ``max_loss`` 1000 USD
and ``warn_at=WARN_AT``. What each quote's loss is comes from a brute force over the
cache's fills (``pnl.loss_at``), not from the watch's ledger: the warnings must arrive at
exactly the quotes where that loss first reached 500 and 750 (and again only after falling
back by the hysteresis), with that exact figure, then the trip, then the cascade's end,
once each, at a real HTTP receiver on 127.0.0.1 (``alerts_in_backtest``). Without it
(the default) nothing reaches the receiver and the event log says what would have been
sent, the same alerts. A receiver that hangs, or answers 500, changes nothing of the
cascade: its every command and the engine's book after it are those of the run without
alerts, and the sender counts what it lost.
"""

from __future__ import annotations

import itertools
import socket
import time
import urllib.request
from decimal import Decimal

import pytest
from invariants import checked
from pnl import fills_of, loss_at
from receivers import Receiver
from scripted import build

from nautilus_riskwatch import DrawdownBreached, RiskWatchConfig, read_event_log
from nautilus_riskwatch.alerts import Alert, AlertsConfigError
from nautilus_riskwatch.demo import build_engine
from nautilus_riskwatch.demo.engine import TRADER_ID
from nautilus_riskwatch.metrics.settings import MetricsConfigError

build_engine = checked(build_engine)  # each run checks the invariants (conftest.py)

D = Decimal
FEED = {"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}
CEILING = D(1000)
WARN_AT = ["0.5", "0.75"]
LEVELS = (D(500), D(750))  # WARN_AT of 1000
REARM = (D(400), D(650))  # each level less the hysteresis (0.1 of the ceiling)


def _config(tmp_path, **more) -> RiskWatchConfig:
    """The watch, with an event log in ``tmp_path`` (``None``: none, so that nothing samples
    the PnL and the guard's quiet band, the warning levels' folded in, is in force)."""
    if tmp_path is None:
        return RiskWatchConfig(feeds=[FEED], max_loss="1000 USD", **more)
    tmp_path.mkdir(parents=True, exist_ok=True)
    return RiskWatchConfig(
        feeds=[FEED], max_loss="1000 USD", event_log=str(tmp_path / "events.jsonl"), **more
    )


def _run(config):
    run = build_engine(config, hedger=False)
    run.engine.run()
    return run


def _expected_warnings(run) -> list[tuple[Decimal, int, Decimal]]:
    """(level, quote time, loss) of each upward crossing before the trip, by brute force."""
    fills = fills_of(run.engine.cache)
    crossings, fired = [], 0
    for quote in run.quotes:
        loss = loss_at(fills, quote)
        if loss >= CEILING:  # the trip says it: no warning at the trip's own quote
            break
        while fired < len(LEVELS) and loss >= LEVELS[fired]:
            crossings.append((LEVELS[fired], quote.ts_init, loss))
            fired += 1
        while fired > 0 and loss <= REARM[fired - 1]:
            fired -= 1
    return crossings


def _commands(path) -> list[tuple]:
    """The cascade's every step in the event log, without the alert lines."""
    kept = ("trip", "stage", "plan", "command", "confirmed", "outcome", "record")
    return [
        (e.ts_ns, e.kind, e.fields.get("command"), e.fields.get("stage"))
        for e in read_event_log(path).events
        if e.kind in kept
    ]


def test_warnings_then_the_trip_reach_a_real_receiver_at_the_quotes_the_figures_crossed():
    with Receiver("ok") as receiver:
        config = _config(
            None,
            alerts=[receiver.url("hook/TOKEN")],
            warn_at=WARN_AT,
            alerts_in_backtest=True,
        )
        run = _run(config)
        record = run.watch.record
        got = receiver.wait_for(len(_expected_warnings(run)) + 2)
    assert isinstance(record.cause, DrawdownBreached) and record.complete
    expected = _expected_warnings(run)
    levels = [level for level, _, _ in expected]
    assert levels[0] == LEVELS[0] and set(levels) == set(LEVELS)  # the control: both crossed
    assert len(levels) > len(LEVELS)  # and 500 again after falling back below 400
    alerts = [Alert.from_text(r["message"]) for r in got]
    assert [a.kind.value for a in alerts] == ["warning"] * len(expected) + ["trip", "cascade_end"]
    for alert, (level, at_ns, loss) in zip(alerts, expected, strict=False):
        fields = alert.fields()
        assert (D(fields["level"]), alert.at_ns, D(fields["figure"])) == (level, at_ns, loss)
        assert alert.at_ns < record.tripped_at_ns
    trip, end = alerts[-2:]
    assert trip.at_ns == record.tripped_at_ns
    assert (
        D(trip.fields()["loss"])
        == record.cause.loss
        == loss_at(
            fills_of(run.engine.cache), next(q for q in run.quotes if q.ts_init == trip.at_ns)
        )
    )
    assert end.fields()["complete"] == "true" and end.at_ns == record.finished_at_ns
    assert len({r["message"] for r in got}) == len(got)  # nothing twice
    assert all(path == "/hook/TOKEN" for path in receiver.paths)


def test_the_trail_says_what_was_sent_and_to_whom_without_the_token(tmp_path):
    with Receiver("ok") as receiver:
        config = _config(
            tmp_path,
            alerts=[receiver.url("hook/TOKEN")],
            warn_at=WARN_AT,
            alerts_in_backtest=True,
        )
        run = _run(config)
        got = receiver.wait_for(len(_expected_warnings(run)) + 2)
    alerts = [Alert.from_text(r["message"]) for r in got]
    lines = [e for e in read_event_log(tmp_path / "events.jsonl").events if e.kind == "alert"]
    assert [x.fields["alert"] for x in lines] == [a.fields() for a in alerts]
    assert all(not x.fields["dry"] and "TOKEN" not in str(x.fields) for x in lines)
    assert {tuple(x.fields["targets"]) for x in lines} == {(receiver.url("***/***"),)}


def test_in_a_backtest_nothing_goes_to_the_network_unless_asked(tmp_path):
    with Receiver("ok") as receiver:
        run = _run(_config(tmp_path, alerts=[receiver.url()], warn_at=WARN_AT))
        assert run.watch.record is not None
        receiver.wait_for(1, timeout=0.5)
        assert receiver.requests == []
    lines = [e for e in read_event_log(tmp_path / "events.jsonl").events if e.kind == "alert"]
    kinds = [x.fields["alert"]["kind"] for x in lines]
    assert kinds == ["warning"] * len(_expected_warnings(run)) + ["trip", "cascade_end"]
    assert all(x.fields["dry"] for x in lines)
    # in order with the cascade: the trip's alert after its first command, the end after
    # the record
    events = read_event_log(tmp_path / "events.jsonl").events
    order = [e.kind for e in events if e.kind in ("command", "record", "alert")]
    first_command = order.index("command")
    trip_alert = next(i for i, x in enumerate(lines) if x.fields["alert"]["kind"] == "trip")
    assert order.index("alert", 0) < first_command  # the warnings came before the trip
    assert [i for i, k in enumerate(order) if k == "alert"][trip_alert] > first_command
    assert order[-1] == "alert" and order[-2] == "record"


@pytest.mark.parametrize("mode", ["hang", "fail"])
def test_a_receiver_that_hangs_or_fails_changes_nothing_of_the_cascade(tmp_path, mode):
    control = _run(_config(tmp_path / "control"))
    with Receiver(mode) as receiver:
        config = _config(
            tmp_path / mode,
            alerts=[receiver.url()],
            warn_at=WARN_AT,
            alerts_in_backtest=True,
            alerts_timeout=0.2,
            alerts_retries=1,
        )
        run = _run(config)  # the watch stopped with the run: its sender closed
        receiver.wait_for(1)
    sender = run.watch.session.alerts.alerts.sender
    expected = len(_expected_warnings(run)) + 2
    _until(lambda: sender.stats()[0].dropped == expected)  # a hung send returns at the close
    (target,) = sender.stats()
    assert target.sent == 0 and target.queued == 0
    assert target.attempts_failed >= 1
    record, before = run.watch.record, control.watch.record
    assert (record.tripped_at_ns, record.finished_at_ns) == (
        before.tripped_at_ns,
        before.finished_at_ns,
    )
    assert record.report() == before.report().replace(before.session_id, record.session_id)
    assert _commands(tmp_path / mode / "events.jsonl") == _commands(
        tmp_path / "control" / "events.jsonl"
    )
    cache, was = run.engine.cache, control.engine.cache
    assert sorted(str(o.client_order_id) + o.status.name for o in cache.orders()) == sorted(
        str(o.client_order_id) + o.status.name for o in was.orders()
    )
    assert cache.positions_open() == [] and was.positions_open() == []


def _until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not reached"
        time.sleep(0.01)


def test_a_bad_alert_url_is_refused_when_the_config_is_built_naming_it():
    with pytest.raises(AlertsConfigError) as error:
        _config(None, alerts=["json://127.0.0.1:9/hook", "tgram://SECRET"])
    assert error.value.field == "alerts[1]" and "SECRET" not in str(error.value)
    with pytest.raises(AlertsConfigError, match="warn_at"):
        _config(None, warn_at=["0.8", "0.5"])


def test_a_taken_metrics_port_refuses_the_start_naming_metrics_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = build_engine(_config(None, metrics_port=port), hedger=False)
        with pytest.raises(MetricsConfigError, match=rf"metrics_port={port}"):
            run.engine.run()
    assert run.watch.record is None


def test_a_feeds_silence_warns_at_its_fractions_of_the_bound_on_the_engine_clock(tmp_path):
    # the recorded quotes fall silent for up to 86 s, never 90: warnings, never a trip
    feeds = [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}]
    path = tmp_path / "events.jsonl"
    config = RiskWatchConfig(feeds=feeds, event_log=str(path), feed_warn_at=["0.25", "0.5"])
    run = build_engine(config, hedger=False)
    run.engine.run()
    assert run.watch.record is None
    # brute force: each silence between two quotes, each level it outlasted, said once
    times = sorted({q.ts_init for q in run.quotes})
    expected = []
    for last, after in itertools.pairwise(times):
        for fraction in ("0.25", "0.5"):
            due = last + int(D(fraction) * 90 * 1_000_000_000)
            if due < after:
                expected.append((due, fraction))
    assert len(expected) > 100  # the control: many silences outlast a level
    lines = [e for e in read_event_log(path).events if e.kind == "alert"]
    said = [
        (int(x.fields["alert"]["at_ns"]), x.fields["alert"]["fraction"])
        for x in lines
        if x.fields["alert"]["kind"] == "feed_warning"
    ]
    assert said == expected
    assert all(x.ts_ns == int(x.fields["alert"]["at_ns"]) for x in lines)  # the engine's clock


def test_the_metrics_go_with_the_watch_stop_and_come_back_with_its_resume():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    url = f"http://127.0.0.1:{port}/metrics"
    scraped: dict[int, str] = {}

    def scrape(s, _tick):
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                scraped[s.quotes] = answer.read().decode()
        except OSError as error:
            scraped[s.quotes] = f"refused: {error}"

    def stop(s, _tick):
        s.watch.stop()

    def resume(s, _tick):
        s.watch.resume()

    script = {10: scrape, 20: stop, 30: scrape, 40: resume, 50: scrape}
    run = build(_config(None, metrics_port=port), [script])
    run.strategies[0].watch = run.watch
    run.engine.run()
    served = 'riskwatch_up{node="TEST-001",watch="RiskWatch"} 1.0'
    assert served in scraped[10] and served in scraped[50]
    assert scraped[30].startswith("refused")  # stopped: nothing served, the port let go


def test_a_scoped_limit_warns_and_trips_in_its_own_scope(tmp_path):
    scope = f"strategy {TRADER_ID}"
    path = tmp_path / "events.jsonl"
    config = RiskWatchConfig(
        feeds=[FEED],
        limits=[{"max_loss": "600 USD", "strategy_id": TRADER_ID}],
        warn_at=["0.5"],
        event_log=str(path),
    )
    run = build_engine(config, hedger=False)
    run.engine.run()
    record = run.watch.scope_records[scope]
    assert record is not None and record.complete and run.watch.record is None
    lines = [e for e in read_event_log(path).events if e.kind == "alert"]
    said = [(x.scope, x.fields["alert"]["kind"], x.fields["alert"]["scope"]) for x in lines]
    assert said[-2:] == [(scope, "trip", scope), (scope, "cascade_end", scope)]
    warnings = [x for x in lines if x.fields["alert"]["kind"] == "warning"]
    assert warnings and all(x.scope == scope for x in warnings)
    assert all(D(x.fields["alert"]["level"]) == D(300) for x in warnings)
    assert warnings[0].ts_ns < record.tripped_at_ns


def test_no_warning_goes_out_at_the_instant_another_limit_of_the_guard_trips(tmp_path):
    # The demo's short opens about 540 USD down: in that one quote the loss crosses
    # max_loss's 500 level and the drawdown reaches the trailing limit's 500. The trip says
    # it; a warning put then would go before the kill's first commands.
    path = tmp_path / "events.jsonl"
    config = RiskWatchConfig(
        feeds=[FEED],
        max_loss="1000 USD",
        limits=[{"trailing": "500 USD"}],
        warn_at=["0.5"],
        event_log=str(path),
    )
    run = build_engine(config, hedger=False)
    run.engine.run()
    record = run.watch.record
    assert record is not None and record.cause.kind == "trailing-drawdown"
    fills = fills_of(run.engine.cache)
    tripped = next(q for q in run.quotes if q.ts_init == record.tripped_at_ns)
    assert loss_at(fills, tripped) >= LEVELS[0]  # the control: max_loss's level was crossed
    events = read_event_log(path).events
    kinds = [e.fields["alert"]["kind"] for e in events if e.kind == "alert"]
    assert kinds == ["trip", "cascade_end"]
