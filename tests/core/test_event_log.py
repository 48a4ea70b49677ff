"""The event log in the core: attribution through context variables, the file, the reader.

Virtual time throughout: the watch's loop is stepped by a fake engine clock, so every line's
timestamp is an exact engine nanosecond and nothing depends on the wall clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from decimal import Decimal

import pytest
from fakes import FakeBook, FakeEngineClock

from nautilus_riskwatch.core import (
    CascadePolicy,
    DrawdownBreached,
    Event,
    EventLog,
    Feed,
    JsonLinesFile,
    KillSwitch,
    ManualKill,
    RiskOff,
    StalenessError,
    Trip,
    WatchFailure,
    attribute,
    emit,
    read_event_log,
    records_from,
    run_watch,
    watchdog,
)
from nautilus_riskwatch.core.event_log import SESSION_ID, redact
from nautilus_riskwatch.core.trips import DailyLossBreached, TrailingDrawdownBreached
from nautilus_riskwatch.looptime import SimulatedTime

SECOND = 1_000_000_000


class _World:
    """A fake engine clock, the watch's simulated time on it, and one event log."""

    def __init__(self) -> None:
        self.clock = FakeEngineClock()
        self.start = self.clock.now
        self.time = SimulatedTime(self.clock)
        self.loop = self.time.loop
        self.events: list[Event] = []
        self.log = EventLog(self.clock.timestamp_ns, [self.events.append])

    def book(self, prefix: str, latency: float, responsive: bool = True) -> FakeBook:
        book = FakeBook(
            orders=[f"{prefix}-O-1", f"{prefix}-O-2"],
            protective_orders=[f"{prefix}-STOP"],
            positions=[f"{prefix}-P-1"],
            hedges=[f"{prefix}-HEDGE"],
            latency=latency,
            responsive=responsive,
        )
        book.now_ns = self.clock.timestamp_ns  # type: ignore[method-assign]
        return book

    def arm(self, context, children, book, policy=None) -> KillSwitch:
        """What ``Guard.arm`` does: the group and the switch, in the scope's context."""
        switch = KillSwitch(book, policy, context=context)
        self.loop.create_task(run_watch(children, switch), context=context.copy())
        return switch

    def run_to(self, seconds: float) -> None:
        self.clock.advance_to(self.start + round(seconds * SECOND))
        self.time.step()


def _mentions(event: Event, prefix: str) -> bool:
    return prefix in json.dumps(dict(event.fields))


def test_two_scopes_tripping_at_once_each_write_their_own_lines():
    w = _World()
    contexts, switches, books = {}, {}, {}
    for name, bound, latency in (("A", 1.0, 0.25), ("B", 1.1, 0.2)):
        contexts[name] = attribute(w.log, "S-1", f"strategy {name}", [f"Strat-{name}"])
        feed: Feed[object] = Feed(f"{name} quotes", w.loop.time)
        books[name] = w.book(name, latency)
        switches[name] = w.arm(
            contexts[name],
            [lambda f=feed, b=bound: watchdog(f, b)],
            books[name],
            CascadePolicy(confirm_timeout=5.0),
        )
    w.time.step()
    w.run_to(10.0)

    for name in ("A", "B"):
        record = switches[name].record
        assert record is not None and record.stage == "done" and books[name].flat
        mine = [e for e in w.events if e.scope == f"strategy {name}"]
        assert {e.strategy_ids for e in mine} == {(f"Strat-{name}",)}
        assert {e.session_id for e in mine} == {"S-1"}
        other = "B" if name == "A" else "A"
        assert not any(_mentions(e, f"{other}-") for e in mine)
        kinds = [e.kind for e in mine]
        assert kinds[:2] == ["deadline", "trip"] and kinds[-1] == "record"
        # the log alone gives back the record the switch kept
        (rebuilt,) = records_from(w.events, scope=f"strategy {name}")
        assert rebuilt.to_dict() == {**record.to_dict(), "scope": f"strategy {name}"}
    # they really ran at once: the scopes' lines interleave in time
    order = [e.scope[-1] for e in w.events]
    first_b = order.index("B")
    assert "A" in order[first_b:]
    trip_b = next(e for e in w.events if e.kind == "trip" and e.scope == "strategy B")
    done_a = next(e for e in w.events if e.kind == "record" and e.scope == "strategy A")
    assert trip_b.ts_ns < done_a.ts_ns


def test_a_line_from_a_watchdog_child_carries_the_session_without_being_given_it():
    w = _World()
    context = attribute(w.log, "S-42", "portfolio", None)
    feed: Feed[object] = Feed("EUR/USD.SIM quotes", w.loop.time)
    heard: list[str] = []

    async def chatty_child() -> None:
        heard.append(SESSION_ID.get())  # reads its context, nobody handed it the id
        emit("note", said="hello from a child")
        await asyncio.Event().wait()

    switch = w.arm(context, [lambda: watchdog(feed, 2.5), chatty_child], w.book("T", 0.1))
    w.time.step()
    feed.put(1)
    w.run_to(1.0)
    feed.put(2)
    w.run_to(60.0)

    assert heard == ["S-42"]
    note = next(e for e in w.events if e.kind == "note")
    assert (note.session_id, note.scope, note.fields["said"]) == (
        "S-42",
        "portfolio",
        "hello from a child",
    )
    deadline = next(e for e in w.events if e.kind == "deadline")
    assert deadline.session_id == "S-42" and deadline.scope == "portfolio"
    assert deadline.fields["feed"] == "EUR/USD.SIM quotes" and deadline.fields["received"] == 2
    # stamped on the engine clock: the exact deadline, last message + bound
    assert deadline.ts_ns == w.start + 1 * SECOND + 2_500_000_000
    assert switch.record is not None and switch.record.tripped_at_ns == deadline.ts_ns
    # the module-level variable itself is untouched outside the scope's tasks
    assert SESSION_ID.get() == ""


def test_a_trip_from_outside_the_scope_is_still_attributed_to_it():
    w = _World()
    context = attribute(w.log, "S-7", "instrument EUR/USD.SIM", ["Strat-X"])
    book = w.book("X", 0.5, responsive=False)
    switch = KillSwitch(book, CascadePolicy(confirm_timeout=1.0, attempts=2), context=context)
    # an operator's kill arrives from a loop callback that runs in the engine's context
    w.loop.call_soon(switch.trip, ManualKill("fat finger", who="desk"))
    w.time.step()
    w.loop.call_soon(switch.trip, StalenessError("late feed", 5.0))
    w.time.step()
    w.run_to(0.5)
    w.loop.call_soon(switch.hurry)
    w.time.step()
    w.run_to(10.0)

    assert {(e.session_id, e.scope) for e in w.events} == {("S-7", "instrument EUR/USD.SIM")}
    kinds = [e.kind for e in w.events]
    for kind in ("trip", "suppressed", "hurried", "timeout", "record"):
        assert kind in kinds, kind
    assert switch.record is not None and switch.record.hurried
    (rebuilt,) = records_from(w.events)
    assert rebuilt.to_dict() == {**switch.record.to_dict(), "scope": "instrument EUR/USD.SIM"}


def test_a_record_cut_short_is_rebuilt_from_its_steps():
    w = _World()
    context = attribute(w.log, "S-1", "portfolio", None)
    book = w.book("T", 0.25, responsive=False)
    book.open_orders.add("T-O-3")
    switch = KillSwitch(book, CascadePolicy(confirm_timeout=1.0, attempts=2), context=context)
    w.loop.call_soon(switch.trip, DrawdownBreached(Decimal("1000.01"), Decimal("1000"), "USD"))
    w.time.step()
    w.run_to(0.1)
    book.responsive = True  # the venue wakes up: the retry's cancels are confirmed
    book.fill("T-O-3", "T-P-3")  # and one order filled before its cancel landed
    w.run_to(30.0)
    record = switch.record
    assert record is not None and record.stage == "done"
    assert record.orders_filled == ["T-O-3"] and "T-P-3" in record.positions_closed

    whole = records_from(w.events)
    steps = records_from(w.events, use_records=False)
    assert [r.to_dict() for r in whole] == [r.to_dict() for r in steps] == [record.to_dict()]

    # cut the log where the process would have died: after the cancels, before the closes
    cut = next(
        i for i, e in enumerate(w.events) if e.kind == "stage" and e.fields["stage"] == "flattening"
    )
    (partial,) = records_from(w.events[: cut + 1])
    assert partial.stage == "flattening" and partial.finished_at_ns is None
    assert partial.orders_cancelled == record.orders_cancelled
    assert partial.orders_filled == ["T-O-3"] and partial.positions_closed == []
    assert not partial.complete
    # mid-cancel: what was asked and not yet seen confirmed is unconfirmed
    retry = next(i for i, e in enumerate(w.events) if e.kind == "retry")
    (early,) = records_from(w.events[:retry])
    assert early.stage == "cancelling"
    assert early.orders_unconfirmed == ["T-O-1", "T-O-2"] and early.orders_filled == ["T-O-3"]
    assert early.orders_cancelled == []


@pytest.mark.parametrize(
    "trip",
    [
        StalenessError("EUR/USD.SIM quotes", 2.5),
        DrawdownBreached(Decimal("1002.15000"), Decimal("1000"), "USD"),
        TrailingDrawdownBreached(Decimal("250.5"), Decimal("250"), Decimal("1200.25"), "USD"),
        DailyLossBreached(Decimal("3000"), Decimal("3000"), 1234.5, "USD"),
        ManualKill("venue outage", who="ops-1"),
        WatchFailure(ZeroDivisionError("division by zero"), "on_quote_tick"),
    ],
    ids=lambda t: t.kind,
)
def test_every_kind_of_trip_comes_back_from_its_description(trip):
    back = Trip.restore(json.loads(json.dumps(trip.describe())))
    assert type(back) is type(trip)
    assert str(back) == str(trip) and back.describe() == trip.describe()
    record = RiskOff(cause=trip, tripped_at_ns=5, suppressed=[ManualKill("x")], orders_kept=["O"])
    again = RiskOff.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again.to_dict() == record.to_dict() and again.report() == record.report()
    if isinstance(trip, DrawdownBreached):
        assert back.loss == trip.loss and isinstance(back.loss, Decimal)


def test_an_unknown_kind_of_trip_keeps_its_kind_and_message():
    back = Trip.restore({"kind": "from-the-future", "message": "something new"})
    assert back.describe() == {"kind": "from-the-future", "message": "something new"}


def _event(seq: int, kind: str = "stage", **fields) -> Event:
    return Event(kind, 1_000 + seq, seq, "S-1", "portfolio", ("Strat-A",), fields)


def test_the_file_is_append_only_line_per_event_and_private(tmp_path):
    path = tmp_path / "events.jsonl"
    first, second = JsonLinesFile(path), JsonLinesFile(path)
    first(_event(1, stage="halting"))
    second(_event(2, stage="cancelling"))  # another writer on the same file
    first(_event(3, amount=Decimal("0.1")))
    first.close()
    second.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3]
    read = read_event_log(path)
    assert read.skipped == [] and [e.seq for e in read.events] == [1, 2, 3]
    assert read.events[2].fields == {"amount": "0.1"}
    assert read.events[0] == _event(1, stage="halting")
    with pytest.raises(ValueError, match="closed"):
        first(_event(4))


def test_a_truncated_last_line_and_a_mangled_one_are_skipped_and_named(tmp_path):
    path = tmp_path / "events.jsonl"
    sink = JsonLinesFile(path)
    for seq in (1, 2, 3):
        sink(_event(seq))
    sink.close()
    whole = path.read_bytes()
    lines = whole.split(b"\n")
    mangled = lines[0] + b"\n" + b'{"ts_ns": "oops"\n' + lines[1] + b"\n" + lines[2][:37]
    path.write_bytes(mangled)
    read = read_event_log(path)
    assert [e.seq for e in read.events] == [1, 2]
    assert len(read.skipped) == 2
    assert read.skipped[0].startswith("line 2: ")
    assert read.skipped[1].startswith("line 4: cut short")
    # a line cut inside a multi-byte character is no different
    path.write_bytes(lines[0] + b"\n" + '{"é'.encode()[:-1])
    read = read_event_log(path)
    assert [e.seq for e in read.events] == [1] and read.skipped[0].startswith("line 2: cut short")


def test_a_failing_sink_never_stops_the_cascade_and_is_reported_once(tmp_path):
    w = _World()
    failures: list[BaseException] = []

    def broken(_event: Event) -> None:
        raise OSError(28, "No space left on device")

    log = EventLog(w.clock.timestamp_ns, [broken, w.events.append], on_failure=failures.append)
    context = attribute(log, "S-1", "portfolio", None)
    book = w.book("T", 0.1)
    switch = KillSwitch(book, context=context)
    w.loop.call_soon(switch.trip, ManualKill("test"))
    w.time.step()
    w.run_to(5.0)
    assert switch.record is not None and switch.record.complete and book.flat
    assert len(failures) == 1 and log.failures == len(w.events) > 5


def test_no_secret_reaches_a_line():
    secret_error = ConnectionError(
        "redis://trader:hunter2@10.0.0.5:6379 refused; api_key=AKIA123SECRET token: tok-999"
        " Authorization: Bearer eyJhbGciOi"
    )
    events: list[Event] = []
    log = EventLog(lambda: 1, [events.append])
    context = attribute(log, "S-1", "portfolio", None)
    context.run(emit, "trip", cause=WatchFailure(secret_error, "a feed").describe())
    context.run(emit, "note", reason="password=letmein", nested={"x": ["secret: abc123"]})
    line = "\n".join(e.to_json() for e in events)
    for secret in ("hunter2", "AKIA123SECRET", "tok-999", "eyJhbGciOi", "letmein", "abc123"):
        assert secret not in line, secret
    assert "10.0.0.5:6379" in line and "refused" in line  # the useful part stays
    assert redact("order O-1 cancelled by ops-desk") == "order O-1 cancelled by ops-desk"


def test_fsync_waits_for_the_disk_on_every_line_only_when_asked(tmp_path, monkeypatch):
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    plain_file, durable = (
        JsonLinesFile(tmp_path / "a.jsonl"),
        JsonLinesFile(tmp_path / "b.jsonl", fsync=True),
    )
    for seq in (1, 2, 3):
        plain_file(_event(seq))
        durable(_event(seq))
    plain_file.close()
    durable.close()
    assert len(synced) == 3 and len(set(synced)) == 1
    assert [e.seq for e in read_event_log(tmp_path / "b.jsonl").events] == [1, 2, 3]


def test_an_old_log_that_calls_the_whole_book_trader_reads_as_portfolio(tmp_path):
    """Logs written before 0.2 name the whole book "trader": read today, it is "portfolio"
    (quietly: a file cannot be rewritten), and a caller's own "trader" still filters, with a
    DeprecationWarning."""
    path = tmp_path / "old.jsonl"
    sink = JsonLinesFile(path)
    old = Event("trip", 1_000, 1, "S-1", "trader", None, {"cause": ManualKill("x").describe()})
    record = RiskOff(ManualKill("x"), 1_000, scope="trader").to_dict()
    sink(old)
    sink(Event("record", 2_000, 2, "S-1", "trader", None, {"record": record}))
    sink.close()
    events = read_event_log(path).events
    assert {e.scope for e in events} == {"portfolio"}
    (back,) = records_from(events, scope="portfolio")
    assert back.scope == "portfolio" and back.cause.reason == "x"
    with pytest.warns(DeprecationWarning, match='"trader" is now called "portfolio"'):
        (again,) = records_from(events, scope="trader")
    assert again.to_dict() == back.to_dict()
    assert RiskOff.from_dict(record).scope == "portfolio"
