"""The hold: after its cascade a tripped switch keeps its book flat until a re-arm.

On plain asyncio with the fake book (virtual time): an order or a position of the book
that appears after the record is published is cancelled or flattened, and the record says
what changed and when (``amendments``) and is published again. A released switch (a
re-arm) no longer acts.
"""

from __future__ import annotations

import asyncio

from fakes import FakeBook
from vtime import run_virtual

from nautilus_riskwatch.core import KillSwitch, ManualKill


def _trip_and_finish(book: FakeBook):
    async def main():
        switch = KillSwitch(book)
        record = await switch.risk_off(ManualKill("test"))
        await asyncio.sleep(0.01)  # the hold starts the turn after the cascade ends
        return switch, record

    return main()


def test_a_position_that_appears_after_the_cascade_is_flattened_and_the_record_amended():
    book = FakeBook(orders=["O-1"], positions=["P-1"], hedges=["P-HEDGE"])

    async def main():
        switch, record = await _trip_and_finish(book)
        assert switch.holding and record.complete and len(book.published) == 1
        finished = record.finished_at_ns
        book.fill("O-LATE", "P-LATE")  # something of the book fills after the cascade
        await asyncio.sleep(0.5)
        return switch, record, finished

    _, record, finished = run_virtual(main())
    assert ("close", "P-LATE") in book.commands and "P-LATE" not in book.positions
    assert record.positions_closed == ["P-1", "P-LATE"] and record.complete
    changes = [c for a in record.amendments for c in a["changes"]]
    assert "flattening P-LATE" in changes
    assert all(a["at_ns"] > finished for a in record.amendments)
    # published again with each amendment: the same record, brought up to the engine
    assert len(book.published) == 1 + len(record.amendments)
    assert all(r is record for r in book.published)


def test_an_order_that_becomes_live_after_the_cascade_is_cancelled():
    book = FakeBook(orders=["O-1"], positions=["P-1"])

    async def main():
        _, record = await _trip_and_finish(book)
        book.open_orders.add("O-NEW")  # released by whatever held it
        book.notify()
        await asyncio.sleep(0.5)
        return record

    record = run_virtual(main())
    assert ("cancel", "O-NEW") in book.commands and "O-NEW" not in book.open_orders
    assert "O-NEW" in record.orders_cancelled and record.complete
    assert any(c.startswith("cancelled O-NEW") for a in record.amendments for c in a["changes"])


def test_a_released_switch_no_longer_holds():
    book = FakeBook(orders=["O-1"], positions=["P-1"])

    async def main():
        switch, record = await _trip_and_finish(book)
        switch.release()  # a re-arm
        await asyncio.sleep(0)
        book.fill("O-LATE", "P-LATE")
        await asyncio.sleep(0.5)
        return switch, record

    switch, record = run_virtual(main())
    assert not switch.holding
    assert ("close", "P-LATE") not in book.commands and record.amendments == []


def test_a_switch_released_as_its_record_is_published_never_holds():
    # A re-arm can come between the record's publication and the hold's start (a listener
    # of the record re-arms at once, or a re-arm polled on the loop in that turn): the hold
    # must not start after the release. Found by benchmarks/trip_latency.py, where the old
    # trip's hold went on after the re-arm and cancelled the next trial's order.
    book = FakeBook(orders=["O-1"], positions=["P-1"])

    async def main():
        loop = asyncio.get_running_loop()
        switch = KillSwitch(book)
        published = book.publish

        def publish(record):
            published(record)
            if len(book.published) == 1:
                loop.call_soon(switch.release)  # the re-arm, as the record goes out

        book.publish = publish
        record = await switch.risk_off(ManualKill("test"))
        await asyncio.sleep(0.01)
        book.fill("O-LATE", "P-LATE")
        await asyncio.sleep(0.5)
        return switch, record

    switch, record = run_virtual(main())
    assert not switch.holding
    assert ("close", "P-LATE") not in book.commands and record.amendments == []
