"""The denial flood: NautilusTrader's own ``EMACross`` resubmits on every bar after the trip.

Judged by the engine: the orders its cache shows DENIED are counted exactly, per strategy,
in the record, the event log and the post-mortem report, while only the first
``LOGGED_DENIALS`` are written one by one (in the node's log and in the file). The node runs
in a process of its own, so its log is the log a user's node writes. The watch's closes
carry ids in NautilusTrader's own form and are the watch's by the one rule (the close tag).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nautilus_riskwatch import read_event_log, records_from
from nautilus_riskwatch.core.denials import LOGGED_DENIALS
from nautilus_riskwatch.nautilus.closes import is_watch_close
from nautilus_riskwatch.report.postmortem import main as postmortem_main

HERE = Path(__file__).parent
STRATEGY = "EMACross-001"
#: NautilusTrader's form: O-<yyyymmdd>-<hhmmss>-<trader tag>-<strategy tag>-<count>
NAUTILUS_ID = re.compile(r"^O-\d{8}-\d{6}-[^-]+-[^-]+-\d+$")


def _node(folder: Path, mode: str) -> tuple[list[str], dict]:
    done = subprocess.run(
        [sys.executable, str(HERE / "ema_cross_node.py"), str(folder), mode],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    lines = done.stdout.splitlines()
    facts = json.loads(lines[-1])
    return lines[:-1], facts


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    guarded = tmp_path_factory.mktemp("watch")
    control = tmp_path_factory.mktemp("control")
    return (guarded, *_node(guarded, "watch")), _node(control, "control")[1]


def test_control_ema_cross_trades_all_evening_without_the_watch(runs):
    (_, _, facts), control = runs
    tripped_at = facts["record"]["tripped_at_ns"]
    after = [f for f in control["fills"] if f[0] > tripped_at]
    assert len(after) > 10 and control["denied"] == []


def test_hours_of_denials_are_counted_exactly_and_written_only_a_few_times(runs, capsys):
    (folder, log, facts), _ = runs
    record = facts["record"]
    tripped_at = record["tripped_at_ns"]
    # the engine's truth: EMACross tried on (nearly) every bar for hours, all denied
    denied = sorted(facts["denied"])
    assert len(denied) > 300 and all(ts > tripped_at for ts, _, _ in denied)
    assert denied[-1][0] - denied[0][0] > 5 * 3600 * 10**9
    assert facts["denied_status"] == len(denied)
    assert not [f for f in facts["fills"] if f[0] > tripped_at and "RISKWATCH" not in f[2]]
    assert facts["open_positions"] == 0 and facts["live_orders"] == 0
    assert facts["invariants"] == "held"
    # the reason names the watch once
    assert {reason for _, _, reason in denied} == {"RiskWatch: trading HALTED after a trip"}
    # the record counts every one (first and last at the engine's times)
    count = {"count": len(denied), "first_ns": denied[0][0], "last_ns": denied[-1][0]}
    assert record["denied"] == {STRATEGY: count}

    # the node's log: the watch's first LOGGED_DENIALS, then one count line
    ours = [line for line in log if ".RiskWatch: " in line]
    one_by_one = [line for line in ours if "riskwatch denied: " in line]
    assert len(one_by_one) == LOGGED_DENIALS
    for line, (_, order, _) in zip(one_by_one, denied, strict=False):
        assert f'"order":"{order}"' in line
    [total] = [line for line in ours if "riskwatch denials: " in line]
    assert f'"count":{len(denied)}' in total
    assert len(ours) < 15  # bounded, whatever the evening's length

    # the event log: the same few lines and the count, the record rebuilt with it
    events = read_event_log(folder / "events.jsonl").events
    assert len(events) < 40
    lines = [e for e in events if e.kind == "denied"]
    assert [(e.fields["order"], e.fields["count"]) for e in lines] == [
        (order, n) for n, (_, order, _) in enumerate(denied[:LOGGED_DENIALS], start=1)
    ]
    [summary] = [e for e in events if e.kind == "denials"]
    assert summary.fields == {**count, "strategy_id": STRATEGY, "logged": LOGGED_DENIALS}
    [rebuilt] = records_from(events)
    assert rebuilt.denied == {STRATEGY: count}
    [from_steps] = records_from(events, use_records=False)
    assert from_steps.denied == {STRATEGY: count}

    # the post-mortem: the few lines, then the report with the count
    assert postmortem_main([str(folder / "events.jsonl")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) < 50
    report = out.index(next(line for line in out if line.startswith("RISK-OFF")))
    assert sum(" denied " in line for line in out[:report]) == LOGGED_DENIALS
    [counted] = [line for line in out[report:] if line.startswith("  denied ")]
    assert f"{STRATEGY}: {len(denied)} orders" in counted


def test_the_watchs_closes_have_nautilus_ids_and_are_its_own_by_the_close_tag(runs):
    (folder, _, facts), _ = runs
    closes = [o for o in facts["orders"] if is_watch_close(o[2], "RISKWATCH")]
    assert closes and all(status == "FILLED" for *_, status in closes)
    for order_id, strategy, _, _ in closes:
        assert NAUTILUS_ID.match(order_id), order_id
        assert order_id.split("-")[4] == "RiskWatch"  # the watch's tag, not a strategy's
        assert strategy == STRATEGY
    ids = [o[0] for o in facts["orders"]]
    assert len(ids) == len(set(ids))
    # the cache's closes are the record's, and the file marks their fills closing
    record = facts["record"]
    assert record["positions_closed"] == [f"EUR/USD.SIM-{STRATEGY}"]
    events = read_event_log(folder / "events.jsonl").events
    closing = {e.fields["order"] for e in events if e.kind == "fill" and e.fields["closing"]}
    assert closing == {o[0] for o in closes}
