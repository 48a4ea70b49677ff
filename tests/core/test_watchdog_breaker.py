"""Watchdog, breaker and feed on plain asyncio: each trip path and each refusal."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from vtime import run_virtual

from nautilus_riskwatch.core import (
    DrawdownBreached,
    Feed,
    StalenessError,
    breaker,
    daily_breaker,
    trailing_breaker,
    watchdog,
)


def test_silent_feed_trips_with_its_name_and_bound():
    async def main():
        loop = asyncio.get_running_loop()
        feed: Feed[object] = Feed("EUR/USD quotes", loop.time)
        started = loop.time()
        with pytest.raises(StalenessError) as caught:
            await watchdog(feed, 0.05)
        return loop.time() - started, caught.value

    elapsed, error = run_virtual(main())
    assert error.source == "EUR/USD quotes"
    assert error.bound == 0.05
    assert "EUR/USD quotes" in str(error) and "0.05s" in str(error)
    assert elapsed == pytest.approx(0.05, abs=1e-9)  # virtual time: the bound, exactly


def test_feed_that_keeps_talking_never_trips_then_trips_after_it_stops():
    async def main():
        loop = asyncio.get_running_loop()
        feed: Feed[int] = Feed("ticks", loop.time)
        dog = asyncio.create_task(watchdog(feed, 0.1))
        for i in range(30):  # 30 messages 0.02s apart: 0.6s, six bounds long
            await asyncio.sleep(0.02)
            feed.put(i)
            assert not dog.done()
        last = feed.arrived_at
        with pytest.raises(StalenessError):
            await dog
        return loop.time() - last

    silent_for = run_virtual(main())
    assert silent_for == pytest.approx(0.1, abs=1e-9)  # virtual time: the bound, exactly


def test_watchdog_refuses_a_bound_that_is_not_positive():
    async def main(bound):
        await watchdog(Feed("f", asyncio.get_running_loop().time), bound)

    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="bound must be a positive"):
            run_virtual(main(bad))


def test_breaker_trips_on_exact_equality_with_the_ceiling():
    async def main():
        loop = asyncio.get_running_loop()
        losses: Feed[Decimal] = Feed("loss", loop.time)
        task = asyncio.create_task(breaker(losses.read_one, Decimal("100.00"), "USD"))
        for loss in ("-5", "99.99", "99.999999999999999999"):
            losses.put(Decimal(loss))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert not task.done(), loss
        losses.put(Decimal("100.00"))
        with pytest.raises(DrawdownBreached) as caught:
            await task
        return caught.value

    error = run_virtual(main())
    assert error.loss == Decimal("100.00") and isinstance(error.loss, Decimal)
    assert error.ceiling == Decimal("100.00")
    assert str(error) == "loss 100.00 USD reached the ceiling 100.00 USD"


@pytest.mark.parametrize(
    ("ceiling", "error", "match"),
    [
        (100.0, TypeError, "ceiling must be a Decimal, got float"),
        (Decimal(0), ValueError, "ceiling must be positive, got 0"),
        (Decimal("-1"), ValueError, "ceiling must be positive, got -1"),
    ],
)
def test_breaker_refuses_bad_ceilings(ceiling, error, match):
    async def main():
        await breaker(Feed("l", asyncio.get_running_loop().time).read_one, ceiling)

    with pytest.raises(error, match=match):
        run_virtual(main())


def test_feed_keeps_only_the_newest_message_under_a_flood():
    async def main():
        loop = asyncio.get_running_loop()
        feed: Feed[int] = Feed("flood", loop.time)
        for i in range(1_000_000):
            feed.put(i)
        first = await feed.read_one()
        reader = asyncio.create_task(feed.read_one())
        await asyncio.sleep(0)
        assert not reader.done()  # nothing unread: it waits
        feed.put(-1)
        return first, await reader, feed.received

    first, second, received = run_virtual(main())
    assert (first, second, received) == (999_999, -1, 1_000_001)


def test_a_reader_with_until_sleeps_through_values_that_do_not_matter():
    """The breaker is not woken for a loss below the ceiling: no task switch per mark."""

    async def main():
        loop = asyncio.get_running_loop()
        losses: Feed[Decimal] = Feed("loss", loop.time)
        wakes = 0
        real_read = losses.read_one

        async def counting_read(until=None):
            nonlocal wakes
            value = await real_read(until=until)
            wakes += 1
            return value

        task = asyncio.create_task(breaker(counting_read, Decimal("10"), "USD"))
        await asyncio.sleep(0)
        for i in range(1000):
            losses.put(Decimal(i % 10))  # 0..9, never the ceiling
            await asyncio.sleep(0)
        assert wakes == 0 and not task.done()
        losses.put(Decimal("10.0"))
        with pytest.raises(DrawdownBreached):
            await task
        return wakes

    assert run_virtual(main()) == 1


def test_read_one_with_until_returns_an_unread_value_that_already_matches():
    async def main():
        feed: Feed[int] = Feed("f", asyncio.get_running_loop().time)
        feed.put(7)
        return await feed.read_one(until=lambda v: v > 5)

    assert run_virtual(main()) == 7


def test_a_breach_is_not_lost_when_the_loss_recovers_before_the_breaker_runs():
    """On a busy live loop several marks land before the woken breaker runs: the breach
    itself must trip, not whatever mark came last."""

    async def main():
        losses: Feed[Decimal] = Feed("loss", asyncio.get_running_loop().time)
        task = asyncio.create_task(breaker(losses.read_one, Decimal("100"), "USD"))
        await asyncio.sleep(0)
        for loss in ("99", "100.5", "98", "97"):  # breach, then recovery, no yield between
            losses.put(Decimal(loss))
        with pytest.raises(DrawdownBreached) as caught:
            await asyncio.wait_for(task, 1.0)  # a lost breach would wait forever
        return caught.value.loss

    assert run_virtual(main()) == Decimal("100.5")


# --- one family: the fixed, trailing and daily breakers judge alike ----------------------
FAMILY = {
    "fixed": lambda read, ceiling: breaker(read, ceiling),
    "trailing": lambda read, ceiling: trailing_breaker(read, ceiling),
    "daily": lambda read, ceiling: daily_breaker(read, ceiling, lambda t: t + 1e9, lambda: 0.0),
}


@pytest.mark.parametrize("kind", FAMILY)
@pytest.mark.parametrize(
    ("figure", "error", "match"),
    [
        (100.0, TypeError, "figure must be a Decimal, got float"),
        (Decimal("NaN"), ValueError, "figure must be finite, got NaN"),
    ],
)
def test_a_figure_the_breaker_cannot_judge_fails_the_breaker_not_the_put(
    kind, figure, error, match
):
    """A float (even one past the ceiling) or a NaN is refused by every breaker alike: it
    fails the breaker's task (a trip, by the supervisor), never the engine's ``put``."""

    async def main():
        figures: Feed[Decimal] = Feed("figures", asyncio.get_running_loop().time)
        task = asyncio.create_task(FAMILY[kind](figures.read_one, Decimal("10")))
        await asyncio.sleep(0)
        figures.put(Decimal(0))
        figures.put(figure)  # must not raise into the engine's callback
        with pytest.raises(error, match=match):
            await asyncio.wait_for(task, 1.0)

    run_virtual(main())


@pytest.mark.parametrize("kind", FAMILY)
@pytest.mark.parametrize(
    ("ceiling", "error", "match"),
    [
        (100.0, TypeError, "ceiling must be a Decimal, got float"),
        (Decimal("NaN"), ValueError, "ceiling must be positive, got NaN"),
        (Decimal("-Infinity"), ValueError, "ceiling must be positive, got -Infinity"),
    ],
)
def test_every_breaker_refuses_a_bad_ceiling_alike(kind, ceiling, error, match):
    async def main():
        read = Feed("f", asyncio.get_running_loop().time).read_one
        await asyncio.wait_for(FAMILY[kind](read, ceiling), 1.0)  # refused, not waiting

    with pytest.raises(error, match=match):
        run_virtual(main())
