"""Denials after a trip: counted exactly into the record, rebuilt from any log, reported.

A log written before the count existed has every ``denied`` line and no ``denials``: the
rebuilt record counts its lines, and the timeline shows only the first few of them.
"""

from __future__ import annotations

from nautilus_riskwatch.core.denials import LOGGED_DENIALS, merge, summary_fields, tally
from nautilus_riskwatch.core.event_log import Event
from nautilus_riskwatch.core.record import RiskOff
from nautilus_riskwatch.core.replay import records_from
from nautilus_riskwatch.core.trips import ManualKill
from nautilus_riskwatch.report.postmortem import timeline


def _line(seq: int, kind: str, ts: int, **fields) -> Event:
    return Event(kind, ts, seq, "S-1", "portfolio", None, fields)


def _trip(seq: int = 1, ts: int = 100) -> Event:
    return _line(seq, "trip", ts, cause=ManualKill("x").describe())


def test_tally_counts_each_strategy_with_its_first_and_last():
    denied: dict[str, dict[str, int]] = {}
    assert [tally(denied, "A", ts) for ts in (5, 7, 9)] == [1, 2, 3]
    assert tally(denied, "B", 8) == 1
    assert denied == {
        "A": {"count": 3, "first_ns": 5, "last_ns": 9},
        "B": {"count": 1, "first_ns": 8, "last_ns": 8},
    }
    merge(denied, "A", 2, 4, 6)  # an older line never lowers what is known
    assert denied["A"] == {"count": 3, "first_ns": 4, "last_ns": 9}
    assert summary_fields("A", denied["A"])["logged"] == LOGGED_DENIALS


def test_the_count_line_and_the_record_line_rebuild_the_count():
    record = RiskOff(ManualKill("x"), 100, session_id="S-1")
    record.denied = {"A": {"count": 2, "first_ns": 110, "last_ns": 120}}
    events = [
        _trip(),
        _line(2, "denied", 110, strategy_id="A", order="O-1", count=1),
        _line(3, "denied", 120, strategy_id="A", order="O-2", count=2),
        _line(4, "record", 150, record=record.to_dict()),
        _line(5, "denied", 160, strategy_id="A", order="O-3", count=3, further="counted"),
        _line(
            6, "denials", 900, **summary_fields("A", {"count": 40, "first_ns": 110, "last_ns": 800})
        ),
    ]
    for use_records in (True, False):
        [rebuilt] = records_from(events, use_records=use_records)
        assert rebuilt.denied == {"A": {"count": 40, "first_ns": 110, "last_ns": 800}}
    report = rebuilt.report()
    assert "  denied         A: 40 orders, first 1970-01-01 00:00:00.000000110 UTC" in report


def test_an_old_log_with_every_denied_line_is_counted_and_its_timeline_cut_short():
    old = [_trip()] + [
        _line(n + 2, "denied", 200 + n, strategy_id="A", order=f"O-{n}", reason="r")
        for n in range(50)
    ]
    [rebuilt] = records_from(old)
    assert rebuilt.denied == {"A": {"count": 50, "first_ns": 200, "last_ns": 249}}
    shown = timeline(old).splitlines()
    assert sum(" denied " in line for line in shown) == LOGGED_DENIALS
    assert shown[-1].startswith(f"({50 - LOGGED_DENIALS} more 'denied' lines of A")
    assert sum(" denied " in line for line in timeline(old, everything=True).splitlines()) == 50


def test_each_trip_counts_its_own_denials():
    events = [
        _trip(1, 100),
        *[_line(n, "denied", 100 + n, strategy_id="A", count=n - 1) for n in range(2, 5)],
        _trip(5, 500),
        *[_line(n, "denied", 500 + n, strategy_id="A", count=n - 5) for n in range(6, 9)],
    ]
    first, second = records_from(events)
    assert first.denied["A"]["count"] == 3 and second.denied["A"]["count"] == 3
    assert sum(" denied " in line for line in timeline(events).splitlines()) == 6
