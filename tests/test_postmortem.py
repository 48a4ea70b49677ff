"""The trip report from the event log file alone: text, curve and picture, engine gone."""

from __future__ import annotations

import gc
from bisect import bisect_right

import pytest
from pnl import fills_of, loss_at

from nautilus_riskwatch import RiskWatchConfig
from nautilus_riskwatch.demo import build_engine
from nautilus_riskwatch.report.postmortem import main, postmortem

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WATCH = {
    "feeds": [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}],
    "max_loss": "1000 USD",
    "hedge_tags": ["HEDGE"],
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A demo trip, its log, and what the engine knew, kept; the engine itself disposed."""
    path = tmp_path_factory.mktemp("log") / "events.jsonl"
    run = build_engine(RiskWatchConfig(**WATCH, event_log=str(path)))
    run.engine.run()
    known = {
        "report": run.watch.record.report(),
        "record": run.watch.record,
        "fills": fills_of(run.engine.cache),
        "quotes": run.quotes,
    }
    run.engine.dispose()
    del run
    gc.collect()
    return path, known


def test_the_text_report_comes_from_the_file_alone(finished):
    path, known = finished
    found = postmortem(path)
    assert found.scope == "portfolio" and found.skipped == []
    assert found.report() == known["report"]
    assert found.ceiling is not None and str(found.ceiling) == "1000"
    assert found.currency == "USD"
    assert len(found.cancels_ns) == len(known["record"].orders_cancelled) == 6
    assert all(t == known["record"].tripped_at_ns for t in found.cancels_ns)
    assert len(found.closes) == 1


def test_the_curve_in_the_file_is_the_exact_pnl_at_each_of_its_points(finished):
    path, known = finished
    found = postmortem(path)
    trip = known["record"].tripped_at_ns
    quotes = known["quotes"]
    stamps = [q.ts_init for q in quotes]
    before = [(t, pnl) for t, pnl in zip(found.times_ns, found.equity, strict=True) if t < trip]
    assert len(before) > 100  # sampled, not one point per quote
    assert len(found.times_ns) < len(quotes) / 2
    for t, pnl in before:
        quote = quotes[bisect_right(stamps, t) - 1]
        assert pnl == -loss_at(known["fills"], quote), t
    # at the trip: the loss that tripped, less the commission of the close sent at once
    at_trip = found.equity[found.times_ns.index(trip)]
    assert at_trip < -known["record"].cause.loss


def test_the_picture_comes_from_the_file_alone(finished, tmp_path):
    pytest.importorskip("matplotlib")
    path, _ = finished
    out = postmortem(path).plot(tmp_path / "trip.png")
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 20_000


def test_the_command_line_prints_the_timeline_and_the_report(finished, capsys):
    path, known = finished
    assert main([str(path)]) == 0
    text = capsys.readouterr().out
    assert known["report"] in text
    assert "command" in text and "CancelOrder" in text and "denied" in text
    assert " pnl " not in text  # samples only with --all
    assert "did not stop cleanly" not in text


def test_an_unknown_session_or_scope_is_an_error_that_names_what_there_is(finished, capsys):
    path, known = finished
    session = known["record"].session_id
    assert main([str(path), "--session", "nope"]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == (
        f"riskwatch postmortem: error: {path}: no session 'nope' in it (sessions: {session})\n"
    )
    assert main([str(path), "--scope", "strategy Nobody-001"]) == 1
    err = capsys.readouterr().err
    assert "no events for scope 'strategy Nobody-001' (scopes: portfolio" in err
    assert err.count("\n") == 1
    with pytest.raises(ValueError, match="no session 'nope'"):
        postmortem(path, session_id="nope")


def test_a_picture_that_cannot_be_drawn_fails_the_command_in_one_line(finished, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path, known = finished
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert main([str(path), "--png", str(blocked / "trip.png")]) == 1
    out = capsys.readouterr()
    assert known["report"] in out.out  # the report came first
    assert out.err.startswith("riskwatch postmortem: error: no picture: cannot write ")
    assert out.err.count("\n") == 1
