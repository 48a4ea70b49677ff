"""The simulated-time loop against a fake engine clock: deadlines land on the exact ns."""

from __future__ import annotations

import asyncio

import pytest
from fakes import FakeBook, FakeEngineClock

from nautilus_riskwatch.core import Feed, KillSwitch, StalenessError, run_watch, watchdog
from nautilus_riskwatch.looptime import SimulatedTime, VirtualTimeLoop

SECOND = 1_000_000_000


class _Harness:
    """A watchdog on a feed, driven the way the actor drives it."""

    def __init__(self, bound: float) -> None:
        self.clock = FakeEngineClock()
        self.start = self.clock.now
        self.time = SimulatedTime(self.clock)
        self.feed: Feed[int] = Feed("EUR/USD quotes", self.time.loop.time)
        self.book = FakeBook()
        self.book.now_ns = self.clock.timestamp_ns  # type: ignore[method-assign]
        self.switch = KillSwitch(self.book)
        self.task = self.time.loop.create_task(
            run_watch([lambda: watchdog(self.feed, bound)], self.switch)
        )
        self.time.step()

    def quote(self, ns: int) -> None:
        self.clock.advance_to(ns)
        self.time.sync()
        self.feed.put(ns)
        self.time.step()


def test_deadline_fires_at_last_message_plus_bound_to_the_nanosecond():
    h = _Harness(bound=5.0)
    last = h.start + 3 * SECOND + 123_456_789
    for ns in (h.start + SECOND + 7, h.start + 2 * SECOND + 1, last):
        h.quote(ns)
    h.clock.advance_to(h.start + 3600 * SECOND)  # no more data: only the alert can fire
    record = h.switch.record
    assert record is not None and isinstance(record.cause, StalenessError)
    assert record.tripped_at_ns == last + 5 * SECOND


def test_pause_that_resumes_one_nanosecond_inside_the_bound_does_not_trip():
    h = _Harness(bound=5.0)
    t = h.start
    for _ in range(100):
        t += 5 * SECOND - 1
        h.quote(t)
    assert h.switch.record is None
    h.clock.advance_to(t + 5 * SECOND - 1)
    assert h.switch.record is None
    h.clock.advance_to(t + 5 * SECOND)
    assert h.switch.record is not None
    assert h.switch.record.tripped_at_ns == t + 5 * SECOND


def test_a_message_exactly_at_the_deadline_is_late():
    h = _Harness(bound=2.0)
    h.quote(h.start + 2 * SECOND)
    assert h.switch.record is not None
    assert h.switch.record.tripped_at_ns == h.start + 2 * SECOND


def test_the_bound_runs_from_start_for_a_feed_that_never_speaks():
    h = _Harness(bound=1.5)
    h.clock.advance_to(h.start + 10 * SECOND)
    assert h.switch.record.tripped_at_ns == h.start + 1_500_000_000


def test_alerts_are_rearmed_lazily_not_per_message():
    h = _Harness(bound=60.0)
    for i in range(1, 10_001):
        h.quote(h.start + i * 1_000_000)  # 10,000 quotes a millisecond apart
    assert h.switch.record is None
    assert h.clock.alerts_set == 1  # the first deadline; nothing since


def test_stepping_inside_a_running_loop_restores_it():
    """engine.run() called from a notebook cell or an async main."""

    async def outer():
        mine = asyncio.get_running_loop()
        h = _Harness(bound=1.0)
        h.clock.advance_to(h.start + 2 * SECOND)
        assert asyncio.get_running_loop() is mine
        return h.switch.record

    record = asyncio.run(outer())
    assert record is not None and record.cause.source == "EUR/USD quotes"


def test_close_cancels_what_still_runs_and_the_alert():
    h = _Harness(bound=1.0)
    assert h.clock.alerts
    h.time.close()
    assert h.task.cancelled()
    assert not h.clock.alerts
    assert h.time.loop.is_closed()


def test_the_loop_is_the_standard_library_one_even_under_uvloop_policy():
    """Importing nautilus_trader installs uvloop's policy; a uvloop loop cannot be stepped by
    hand, so the simulated time must build the standard library's loop whatever the policy."""
    uvloop = pytest.importorskip("uvloop")
    before = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        probe = asyncio.new_event_loop()
        assert isinstance(probe, uvloop.Loop)  # the policy is really in force
        probe.close()
        h = _Harness(bound=1.0)
        assert type(h.time.loop).__mro__[1] is asyncio.SelectorEventLoop
        assert not isinstance(h.time.loop, uvloop.Loop)
        with pytest.raises(AttributeError):
            h.time.loop.run_forever_uvloop  # noqa: B018
        h.clock.advance_to(h.start + 2 * SECOND)  # and it runs: the deadline fires on time
        h.time.step()
        assert h.switch.record is not None
        assert h.switch.record.tripped_at_ns == h.start + SECOND
    finally:
        asyncio.set_event_loop_policy(before)


def test_a_step_asked_for_inside_a_step_only_queues(caplog):
    """A task sends a command; the engine answers in the same call, to a callback that
    steps the loop. That step must not run other tasks inside the running one."""
    time = SimulatedTime(FakeEngineClock())
    ran: list[str] = []

    async def other() -> None:
        await asyncio.sleep(0)  # its wake-up is ready when the answer comes back
        ran.append("other")

    async def sender() -> None:
        time.loop.call_soon(ran.append, "answer")  # what the engine callback handed over
        time.step()  # ... and the callback steps
        ran.append("sender")

    tasks = [time.loop.create_task(other()), time.loop.create_task(sender())]
    time.step()
    assert ran == ["sender", "other", "answer"]
    assert all(task.done() and task.exception() is None for task in tasks)
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


def test_a_close_asked_for_inside_a_step_waits_for_the_step():
    time = SimulatedTime(FakeEngineClock())
    ran: list[str] = []

    async def stopper() -> None:
        time.close()  # the actor stopped by a callback this task caused
        ran.append("went on")

    task = time.loop.create_task(stopper())
    time.step()
    assert ran == ["went on"] and task.done() and not task.cancelled()
    assert time.loop.is_closed()


def test_the_loop_alone_jumps_to_each_timer_at_its_own_time_when_idle():
    """The one VirtualTimeLoop, run on its own (as the core tests run it): time moves only
    when nothing is ready, straight to the earliest live timer, so timers run in order,
    each at its own time; a cancelled earlier timer is skipped."""

    async def main() -> tuple[float, list[tuple[str, float]]]:
        loop = asyncio.get_running_loop()
        seen: list[tuple[str, float]] = []
        loop.call_later(3600.0, lambda: seen.append(("hour", loop.time())))
        loop.call_later(0.5, lambda: seen.append(("half", loop.time())))
        loop.call_later(0.25, lambda: seen.append(("cancelled", loop.time()))).cancel()
        await asyncio.sleep(7200.0)
        return loop.time(), seen

    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        now, seen = runner.run(main())
    assert now == 7200.0
    assert seen == [("half", 0.5), ("hour", 3600.0)]


def test_two_runs_on_one_engine_clock_keep_their_own_alerts():
    """A stop and resume leaves two runs on one engine clock for a moment (the old run's
    close waits for its step to end): each keeps its own alert, and each deadline fires at
    its own nanosecond. With one shared alert name the engine clock refused the second
    (nautilus_trader 1.231: ``KeyError ... already contained in timer_names``)."""
    from nautilus_trader.common.component import TestClock

    clock = TestClock()
    clock.set_time(1_000 * SECOND)
    start = clock.timestamp_ns()
    fired: list[tuple[str, int]] = []

    def run(name: str, delay: float) -> SimulatedTime:
        time = SimulatedTime(clock, alert_name="riskwatch-deadline-Watch-A")

        async def sleeper() -> None:
            await asyncio.sleep(delay)
            fired.append((name, time.now_ns()))

        time.loop.create_task(sleeper())
        time.step()
        return time

    old = run("old", 2.0)
    new = run("new", 3.0)
    assert len(set(clock.timer_names)) == 2
    for handler in clock.advance_time(start + 5 * SECOND):
        handler.handle()
    assert fired == [("old", start + 2 * SECOND), ("new", start + 3 * SECOND)]
    old.close()
    new.close()


def test_the_next_alert_is_set_while_the_clock_still_holds_the_firing_one():
    """nautilus_trader 1.231 holds an alert's name while its callback runs (the end of a
    backtest flushes it so), and the callback sets the next alert: a chain of deadlines
    each fires at its own nanosecond, no name is refused."""
    clock = FakeEngineClock(holds_while_firing=True)
    start = clock.now
    time = SimulatedTime(clock)
    fired: list[int] = []

    async def chain() -> None:
        for _ in range(3):
            await asyncio.sleep(1.5)
            fired.append(time.now_ns())

    task = time.loop.create_task(chain())
    time.step()
    clock.advance_to(start + 10 * SECOND)
    assert task.done() and not task.cancelled()
    assert fired == [start + 1_500_000_000, start + 3 * SECOND, start + 4_500_000_000]
    time.close()
