"""Supervisor and cascade on plain asyncio with a fake book.

The property that matters most: whatever cancels the watch, at whatever await of the
cascade, the book still ends flat and exactly one record is published.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from fakes import FakeBook
from vtime import run_virtual

from nautilus_riskwatch.core import (
    CascadePolicy,
    DrawdownBreached,
    Feed,
    KillSwitch,
    ManualKill,
    RiskOff,
    StalenessError,
    WatchFailure,
    breaker,
    run_watch,
    trip_on,
    watchdog,
)


def _book() -> FakeBook:
    return FakeBook(
        orders=["O-1", "O-2"],
        protective_orders=["HEDGE-STOP"],
        positions=["P-1", "P-2"],
        hedges=["P-HEDGE"],
    )


def test_stale_feed_collapses_the_group_and_leaves_the_book_flat():
    book = _book()

    async def main():
        loop = asyncio.get_running_loop()
        quiet: Feed[object] = Feed("quiet", loop.time)
        busy: Feed[object] = Feed("busy", loop.time)
        losses: Feed[Decimal] = Feed("loss", loop.time)
        pump = loop.call_soon(lambda: None)

        def keep_busy():
            nonlocal pump
            busy.put(1)
            losses.put(Decimal(1))
            pump = loop.call_later(0.005, keep_busy)

        keep_busy()
        switch = KillSwitch(book)
        record = await run_watch(
            [
                lambda: watchdog(quiet, 0.05),
                lambda: watchdog(busy, 0.05),
                lambda: breaker(losses.read_one, Decimal(10)),
            ],
            switch,
        )
        pump.cancel()
        await asyncio.sleep(0)  # the hold starts the turn after the cascade ends
        assert switch.holding  # the tripped book stays held until a re-arm
        switch.release()
        await asyncio.sleep(0)
        leftovers = asyncio.all_tasks() - {asyncio.current_task()}
        return record, leftovers

    record, leftovers = run_virtual(main())
    assert leftovers == set()  # every sibling cancelled and awaited, the cascade finished
    assert isinstance(record.cause, StalenessError) and record.cause.source == "quiet"
    assert record.suppressed == []
    assert record.stage == "done" and record.complete
    assert book.flat and book.halted
    assert record.orders_cancelled == ["O-1", "O-2"]
    assert record.orders_kept == ["HEDGE-STOP"]
    assert record.positions_closed == ["P-1", "P-2"]
    assert record.hedges_kept == ["P-HEDGE"]
    assert book.published == [record]
    # cancels are confirmed before any close is sent
    kinds = [kind for kind, _ in book.commands]
    assert kinds == ["cancel", "cancel", "close", "close"]


def test_drawdown_trip_carries_the_exact_loss():
    book = _book()

    async def main():
        losses: Feed[Decimal] = Feed("loss", asyncio.get_running_loop().time)
        switch = KillSwitch(book)
        watch = asyncio.create_task(
            run_watch([lambda: breaker(losses.read_one, Decimal("250.50"), "USD")], switch)
        )
        for loss in ("0", "250.49", "250.50"):
            await asyncio.sleep(0.001)
            losses.put(Decimal(loss))
        return await watch

    record = run_virtual(main())
    assert isinstance(record.cause, DrawdownBreached)
    assert record.cause.loss == Decimal("250.50")
    assert book.flat


def test_simultaneous_trips_give_one_cascade_and_record_the_rest():
    book = _book()

    async def main():
        loop = asyncio.get_running_loop()
        feeds = [Feed(f"feed-{i}", loop.time) for i in range(3)]
        switch = KillSwitch(book)
        return await run_watch([lambda f=f: watchdog(f, 0.05) for f in feeds], switch)

    record = run_virtual(main())
    assert len(book.published) == 1
    assert record.cause.source == "feed-0"
    assert sorted(t.source for t in record.suppressed) == ["feed-1", "feed-2"]
    assert book.commands.count(("close", "P-1")) == 1


def test_a_trip_during_the_cascade_is_suppressed_not_a_second_cascade():
    book = _book()
    book.latency = 0.02

    async def main():
        switch = KillSwitch(book)
        first = asyncio.create_task(switch.risk_off(ManualKill("first", who="ops")))
        await asyncio.sleep(0.005)  # the cascade is waiting for cancel confirmations
        assert switch.running
        second = await switch.risk_off(StalenessError("late feed", 1.0))
        return await first, second

    first, second = run_virtual(main())
    assert first is second
    assert len(book.published) == 1
    assert [str(t) for t in first.suppressed] == [
        "feed 'late feed' delivered nothing for 1s (its bound)"
    ]
    assert book.flat


def test_a_child_that_breaks_is_itself_a_trip():
    book = _book()

    async def broken():
        await asyncio.sleep(0.001)
        raise RuntimeError("ledger exploded")

    async def main():
        feed = Feed("ok", asyncio.get_running_loop().time)
        return await run_watch([broken, lambda: watchdog(feed, 10.0)], KillSwitch(book))

    record = run_virtual(main())
    assert isinstance(record.cause, WatchFailure)
    assert "RuntimeError: ledger exploded" in str(record.cause)
    assert book.flat


def test_outside_causes_join_the_group_through_trip_on():
    book = _book()

    async def main():
        kills: Feed[ManualKill] = Feed("kills", asyncio.get_running_loop().time)
        watch = asyncio.create_task(run_watch([lambda: trip_on(kills.read_one)], KillSwitch(book)))
        await asyncio.sleep(0.001)
        kills.put(ManualKill("fat finger", who="desk"))
        return await watch

    record = run_virtual(main())
    assert record.cause.describe()["who"] == "desk"
    assert book.flat


def test_children_that_all_return_mean_no_trip():
    async def done():
        return None

    book = _book()
    assert run_virtual(run_watch([done, done], KillSwitch(book))) is None
    assert book.published == [] and not book.halted


@pytest.mark.parametrize("strike_at", ["trip", "cancel", "flatten", "again-and-again"])
def test_cancelling_the_watch_at_any_await_of_the_cascade_still_ends_flat(strike_at):
    """The mid-cascade cancellation: the watch dies, the cascade does not.

    ``again-and-again``: the watch is cancelled twice while cancels are in flight, and a
    second waiter on the cascade (a stopping actor, say) is cancelled during the flatten.
    """
    book = _book()

    async def main():
        loop = asyncio.get_running_loop()
        feed: Feed[object] = Feed("dies", loop.time)
        switch = KillSwitch(book)
        watch = asyncio.create_task(run_watch([lambda: watchdog(feed, 0.01)], switch))
        other_waiter: asyncio.Task[object] | None = None
        strikes: list[str] = []

        def strike(stage: str) -> None:
            nonlocal other_waiter
            if strike_at == "again-and-again":
                if stage == "cancel" and not strikes:
                    watch.cancel()
                    watch.cancel()
                    strikes.append(stage)
                    other_waiter = loop.create_task(switch.risk_off(ManualKill("second")))
                elif stage == "flatten" and other_waiter is not None and len(strikes) == 1:
                    other_waiter.cancel()
                    strikes.append(stage)
            elif stage == strike_at and not strikes:
                watch.cancel()
                strikes.append(stage)

        book.on_changed_wait = strike
        if strike_at == "trip":
            # strike in the very step that trips, before the cascade has run at all
            latch = switch.trip

            def trip_and_strike(cause):
                task = latch(cause)
                if not strikes:
                    watch.cancel()
                    strikes.append("trip")
                return task

            switch.trip = trip_and_strike
        with pytest.raises(asyncio.CancelledError):
            await watch
        assert switch.record is not None
        # the cascade goes on by itself; nothing awaits it but the loop
        while switch.running:
            await asyncio.sleep(0.001)
        if other_waiter is not None:
            assert other_waiter.cancelled()
        return switch.record, strikes

    record, strikes = run_virtual(main())
    expected = {"again-and-again": ["cancel", "flatten"]}.get(strike_at, [strike_at])
    assert strikes == expected
    assert book.flat
    assert record.stage == "done" and record.complete
    assert book.published == [record]


def test_a_silent_venue_is_bounded_retried_and_recorded():
    book = _book()
    book.responsive = False

    async def main():
        switch = KillSwitch(book, CascadePolicy(confirm_timeout=0.01, attempts=2))
        return await switch.risk_off(ManualKill("test"))

    record = run_virtual(main())
    assert book.commands.count(("cancel", "O-1")) == 2  # asked, then asked again
    assert record.orders_unconfirmed == ["O-1", "O-2"]
    assert record.orders_cancelled == []
    # the flatten still ran after the cancels went unanswered
    assert ("close", "P-1") in book.commands
    assert record.positions_unflattened == ["P-1", "P-2"]
    assert record.stage == "done" and not record.complete


def test_a_fill_racing_the_cancel_is_flattened_too():
    book = _book()

    async def main():
        switch = KillSwitch(book)
        book.on_changed_wait = lambda stage: (
            book.fill("O-1", "P-RACE") if stage == "cancel" and "O-1" in book.open_orders else None
        )
        return await switch.risk_off(ManualKill("race"))

    record = run_virtual(main())
    assert "P-RACE" in record.positions_closed
    assert record.orders_filled == ["O-1"]
    assert record.orders_cancelled == ["O-2"]
    assert book.flat


def test_hurry_sends_the_rest_at_once_and_says_so():
    book = _book()
    book.responsive = False

    async def main():
        switch = KillSwitch(book, CascadePolicy(confirm_timeout=60.0))
        task = asyncio.create_task(switch.risk_off(ManualKill("stop")))
        await asyncio.sleep(0.001)
        assert switch.running
        switch.hurry()
        return await asyncio.wait_for(task, 1.0)

    record = run_virtual(main())
    assert record.hurried
    assert ("close", "P-1") in book.commands and ("close", "P-2") in book.commands
    assert record.orders_unconfirmed == ["O-1", "O-2"]


def test_a_broken_book_step_does_not_stop_the_next_stage():
    book = _book()

    def broken_halt() -> str:
        raise RuntimeError("no risk engine")

    book.halt = broken_halt  # type: ignore[method-assign]
    record = run_virtual(KillSwitch(book).risk_off(ManualKill("x")))
    assert record.errors == ["halting: RuntimeError: no risk engine"]
    assert book.flat and record.stage == "done" and not record.complete


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"confirm_timeout": 0}, "confirm_timeout must be > 0 seconds, got 0"),
        ({"confirm_timeout": -2.5}, "confirm_timeout must be > 0 seconds, got -2.5"),
        ({"attempts": 0}, "attempts must be an integer >= 1, got 0"),
        ({"attempts": 1.5}, "attempts must be an integer >= 1, got 1.5"),
    ],
)
def test_cascade_policy_refuses_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CascadePolicy(**kwargs)


def test_complete_is_read_back_from_the_engine_not_claimed():
    # Every cancel and close the cascade asked for is confirmed, yet the engine still
    # holds a live order the cascade never saw (held somewhere the snapshot missed):
    # the record must say incomplete and name it.
    book = _book()
    book.hidden_orders.add("O-EMULATED")

    async def main():
        switch = KillSwitch(book, CascadePolicy(confirm_timeout=1.0))
        return await switch.risk_off(ManualKill("test"))

    record = run_virtual(main())
    assert record.orders_cancelled == ["O-1", "O-2"] and not record.positions_unflattened
    assert record.left_live == ["order O-EMULATED"]
    assert record.stage == "done" and not record.complete
    assert "still live     1 [order O-EMULATED] (INCOMPLETE)" in record.report()


def test_the_record_says_where_each_order_was_held():
    book = _book()
    book.held_by = {"O-1": "emulator", "HEDGE-STOP": "exec algorithm TWAP"}

    async def main():
        return await KillSwitch(book).risk_off(ManualKill("test"))

    record = run_virtual(main())
    assert record.complete and record.held_by["O-1"] == "emulator"
    report = record.report()
    assert "cancelled 2 [O-1 (emulator), O-2]" in report
    assert "protective kept 1 [HEDGE-STOP (exec algorithm TWAP)]" in report


def test_the_stage_only_moves_forward_and_reads_as_its_word():
    from nautilus_riskwatch.core.record import Stage

    record = RiskOff(cause=ManualKill("test"), tripped_at_ns=1)
    assert record.stage is Stage.LATCHED and f"{record.stage}" == "latched"
    record.enter(Stage.CANCELLING)  # a stage may be skipped (a broken step) ...
    with pytest.raises(RuntimeError, match="from cancelling back to halting"):
        record.enter(Stage.HALTING)  # ... but never re-entered or gone back to
    with pytest.raises(RuntimeError):
        record.enter(Stage.CANCELLING)
    record.enter(Stage.DONE)
    assert RiskOff.from_dict(record.to_dict()).stage is Stage.DONE
