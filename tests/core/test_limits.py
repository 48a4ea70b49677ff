"""Trailing and daily breakers, and the daily reset schedule, on plain asyncio."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vtime import run_virtual

from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.limits import daily_breaker, daily_resets, trailing_breaker
from nautilus_riskwatch.core.trips import (
    DailyLossBreached,
    DrawdownBreached,
    TrailingDrawdownBreached,
    Trip,
)
from nautilus_riskwatch.looptime import NS_PER_SECOND, LoopOrigin

D = Decimal


async def settle():
    """Let a woken breaker run (a few loop turns)."""
    for _ in range(3):
        await asyncio.sleep(0)


async def put_and_check_quiet(feed, task, figures):
    for figure in figures:
        feed.put(D(figure))
        await settle()
        assert not task.done(), f"tripped early at {figure}"


async def tripped(task, kind):
    """The trip the task raised; a breach the breaker missed fails by timeout, not a hang."""
    with pytest.raises(kind) as caught:
        await asyncio.wait_for(task, 1.0)
    return caught.value


# --- trailing ---------------------------------------------------------------------------


def test_trailing_trips_exactly_when_the_drop_from_the_high_water_mark_reaches_the_ceiling():
    async def main():
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        task = asyncio.create_task(trailing_breaker(pnl.read_one, D("100.00"), "USD"))
        await put_and_check_quiet(pnl, task, ["0", "150", "300.00", "250", "200.01"])
        pnl.put(D("200.00"))  # 300.00 - 200.00 == 100.00 exactly
        return await tripped(task, TrailingDrawdownBreached)

    error = run_virtual(main())
    assert isinstance(error, DrawdownBreached)
    assert error.drawdown == error.loss == D("100.00") and isinstance(error.drawdown, Decimal)
    assert error.high_water == D("300.00") and error.ceiling == D("100.00")
    assert str(error) == (
        "drawdown 100.00 USD from the high-water mark 300.00 USD"
        " reached the trailing ceiling 100.00 USD"
    )
    assert error.describe() == {
        "kind": "trailing-drawdown",
        "message": str(error),
        "loss": "100.00",
        "ceiling": "100.00",
        "currency": "USD",
        "drawdown": "100.00",
        "high_water": "300.00",
    }


def test_trailing_arithmetic_is_exact_beyond_the_default_28_digits():
    """50 - (-49.99...9) with 31 digits is just below 100; the default context rounds it
    up to 100 and would trip early."""

    async def main():
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        task = asyncio.create_task(trailing_breaker(pnl.read_one, D(100)))
        await put_and_check_quiet(pnl, task, ["50", "-49.99999999999999999999999999999"])
        pnl.put(D("-50"))
        return await tripped(task, TrailingDrawdownBreached)

    error = run_virtual(main())
    assert (error.drawdown, error.high_water) == (D(100), D(50))
    assert str(error) == "drawdown 100 from the high-water mark 50 reached the trailing ceiling 100"


def test_a_new_high_moves_the_mark_and_the_next_drop_is_measured_from_it():
    async def main():
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        task = asyncio.create_task(trailing_breaker(pnl.read_one, D(100), "USD"))
        # 90 down from 250 (no trip), then a new high at 400; 310 and 300.01 are
        # less than 100 below it, though 150 above the old low
        await put_and_check_quiet(pnl, task, ["0", "250", "160", "400", "310", "300.01"])
        pnl.put(D("300"))
        return await tripped(task, TrailingDrawdownBreached)

    error = run_virtual(main())
    assert (error.drawdown, error.high_water) == (D(100), D(400))


def test_start_is_the_initial_high_water_mark():
    async def main():
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        task = asyncio.create_task(trailing_breaker(pnl.read_one, D(100), start=D(500)))
        await put_and_check_quiet(pnl, task, ["420", "400.5"])
        pnl.put(D("400"))
        return await tripped(task, TrailingDrawdownBreached)

    error = run_virtual(main())
    assert (error.drawdown, error.high_water) == (D(100), D(500))


def test_a_trailing_breach_is_not_lost_when_the_pnl_recovers_before_the_breaker_runs():
    """Several figures land before the woken breaker runs: the breach is reported as it
    was, not as the newest figure or a later high would make it."""

    async def main():
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        task = asyncio.create_task(trailing_breaker(pnl.read_one, D(100), "USD"))
        await asyncio.sleep(0)
        for figure in ("0", "300", "250", "199.5", "260", "350"):  # no yield between
            pnl.put(D(figure))
        return await tripped(task, TrailingDrawdownBreached)

    error = run_virtual(main())
    assert (error.drawdown, error.high_water) == (D("100.5"), D(300))


def test_the_trailing_breaker_is_not_woken_for_figures_that_do_not_breach():
    async def main():
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        wakes = 0

        async def counting_read(until=None):
            nonlocal wakes
            value = await pnl.read_one(until=until)
            wakes += 1
            return value

        task = asyncio.create_task(trailing_breaker(counting_read, D(10)))
        await asyncio.sleep(0)
        for i in range(1000):
            pnl.put(D(i // 100 * 20 + i % 10))  # rising in steps, never 10 below the best
            await asyncio.sleep(0)
        assert wakes == 0 and not task.done()
        pnl.put(D(179))  # the best was 189
        await tripped(task, TrailingDrawdownBreached)
        return wakes

    assert run_virtual(main()) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ceiling": 100.0}, TypeError, "ceiling must be a Decimal, got float"),
        ({"ceiling": 100}, TypeError, "ceiling must be a Decimal, got int"),
        ({"ceiling": D(0)}, ValueError, "ceiling must be positive, got 0"),
        ({"ceiling": D("-1")}, ValueError, "ceiling must be positive, got -1"),
        ({"ceiling": D("NaN")}, ValueError, "ceiling must be positive, got NaN"),
        ({"ceiling": D(1), "start": 0.0}, TypeError, "start must be a Decimal, got float"),
        ({"ceiling": D(1), "start": D("Infinity")}, ValueError, "start must be finite"),
    ],
)
def test_trailing_breaker_refuses_bad_arguments(kwargs, error, match):
    async def main():
        read = Feed("p", asyncio.get_running_loop().time).read_one
        await asyncio.wait_for(trailing_breaker(read, **kwargs), 1.0)  # refused, not waiting

    with pytest.raises(error, match=match):
        run_virtual(main())


@pytest.mark.parametrize(
    ("figure", "error", "match"),
    [
        (1.5, TypeError, "a PnL figure must be a Decimal, got float"),
        (D("NaN"), ValueError, "a PnL figure must be finite, got NaN"),
    ],
)
def test_a_figure_that_cannot_be_judged_fails_the_breaker_not_the_put(figure, error, match):
    """put() runs in an engine callback and must not raise; the breaker task raises instead
    (and the supervisor makes that a trip)."""

    async def main(make_breaker):
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        task = asyncio.create_task(make_breaker(pnl.read_one))
        await asyncio.sleep(0)
        pnl.put(D(1))
        pnl.put(figure)  # must not raise here
        with pytest.raises(error, match=match):
            await asyncio.wait_for(task, 1.0)

    run_virtual(main(lambda read: trailing_breaker(read, D(100))))
    run_virtual(main(lambda read: daily_breaker(read, D(100), lambda t: t + 1, lambda: 0.0)))


# --- daily ------------------------------------------------------------------------------


class Clock:
    """A loop clock the test moves by hand, shared by the feed and the breaker."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def every_100s(t: float) -> float:
    """A reset every 100 loop seconds: the first multiple of 100 strictly after t."""
    return (math.floor(t / 100) + 1) * 100.0


async def put_at(clock, feed, task, figures):
    """Put (time, figure) pairs, checking nothing trips."""
    for at, figure in figures:
        clock.now = at
        feed.put(D(figure))
        await settle()
        assert not task.done(), f"tripped early at {figure} (t={at})"


async def start_daily(ceiling="100", currency="USD"):
    """A daily breaker on a hand clock, started at loop time 0 (its first day begins there)."""
    clock = Clock()
    pnl: Feed[Decimal] = Feed("pnl", clock)
    task = asyncio.create_task(daily_breaker(pnl.read_one, D(ceiling), every_100s, clock, currency))
    await asyncio.sleep(0)
    return clock, pnl, task


def test_daily_loss_within_a_day_trips_at_the_ceiling_measured_from_the_day_start_pnl():
    async def main():
        clock, pnl, task = await start_daily()
        # baseline 50; the rise to 80 does not move it (not trailing: 80 -> -30 would be 110)
        await put_at(clock, pnl, task, [(1, "50"), (2, "80"), (3, "-30"), (4, "-49.99")])
        clock.now = 5
        pnl.put(D("-50.00"))  # 50 - (-50.00) == 100 exactly
        return await tripped(task, DailyLossBreached)

    error = run_virtual(main())
    assert isinstance(error, DrawdownBreached)
    assert error.loss == D("100.00") and isinstance(error.loss, Decimal)
    assert (error.ceiling, error.day_start, error.currency) == (D(100), 0.0, "USD")
    assert str(error) == (
        "loss 100.00 USD since the day began at loop time 0.0 reached the daily ceiling 100 USD"
    )
    assert error.describe() == {
        "kind": "daily-loss",
        "message": str(error),
        "loss": "100.00",
        "ceiling": "100",
        "currency": "USD",
        "day_start": "0.0",
    }


def test_a_daily_trip_names_the_day_start_in_utc_when_it_knows_the_loop_origin():
    origin = LoopOrigin(1_577_898_000 * NS_PER_SECOND)  # loop time 0 = 2020-01-01 17:00 UTC

    async def main():
        clock = Clock()
        pnl: Feed[Decimal] = Feed("pnl", clock)
        task = asyncio.create_task(
            daily_breaker(pnl.read_one, D(100), every_100s, clock, "USD", origin=origin)
        )
        await asyncio.sleep(0)
        await put_at(clock, pnl, task, [(150, "0")])  # the day rolled at loop second 100
        clock.now = 160
        pnl.put(D(-100))
        return await tripped(task, DailyLossBreached)

    error = run_virtual(main())
    assert (error.day_start, error.day_start_ns) == (100.0, origin.ns + 100 * NS_PER_SECOND)
    assert str(error) == (
        "loss 100 USD since the day began at 2020-01-01T17:01:40.000000000Z"
        " reached the daily ceiling 100 USD"
    )
    restored = Trip.restore(error.describe())
    assert isinstance(restored, DailyLossBreached)
    assert (restored.day_start, restored.day_start_ns) == (100.0, error.day_start_ns)
    assert str(restored) == str(error)


def test_a_loss_accumulated_yesterday_does_not_count_today():
    async def main():
        clock, pnl, task = await start_daily()
        # day 1 loses 90; day 2 opens at -150: 150 down from day 1's start, 60 from day 2's
        await put_at(clock, pnl, task, [(10, "0"), (50, "-90"), (100.5, "-150"), (150, "-189.99")])
        pnl.put(D("-190"))  # 100 below -90, the PnL when the day rolled
        return await tripped(task, DailyLossBreached)

    error = run_virtual(main())
    assert (error.loss, error.day_start) == (D(100), 100.0)


def test_a_figure_exactly_at_the_reset_time_belongs_to_the_new_day():
    async def main():
        clock, pnl, task = await start_daily()
        # at 100.0 exactly the day has rolled: -100 is 5 below the baseline -95, not 100
        await put_at(clock, pnl, task, [(10, "0"), (99.5, "-95"), (100.0, "-100")])
        await put_at(clock, pnl, task, [(100.0, "-194.99")])
        pnl.put(D("-195"))
        return await tripped(task, DailyLossBreached)

    error = run_virtual(main())
    assert (error.loss, error.day_start) == (D(100), 100.0)


def test_a_figure_just_before_the_reset_time_belongs_to_the_old_day():
    async def main():
        clock, pnl, task = await start_daily()
        await put_at(clock, pnl, task, [(10, "0"), (99.5, "-95")])
        clock.now = math.nextafter(100.0, 0.0)
        pnl.put(D("-100"))
        return await tripped(task, DailyLossBreached)

    error = run_virtual(main())
    assert (error.loss, error.day_start) == (D(100), 0.0)


def test_after_days_without_a_figure_the_baseline_is_the_last_figure_and_the_day_the_latest():
    async def main():
        clock, pnl, task = await start_daily()
        await put_at(clock, pnl, task, [(10, "0"), (20, "-60"), (1234.5, "-60"), (1290, "-159.9")])
        pnl.put(D("-160"))
        return await tripped(task, DailyLossBreached)

    error = run_virtual(main())
    assert (error.loss, error.day_start) == (D(100), 1200.0)


def test_when_no_figure_came_before_the_first_reset_the_first_figure_is_the_baseline():
    async def main():
        clock, pnl, task = await start_daily()
        await put_at(clock, pnl, task, [(250, "-500"), (260, "-599")])
        pnl.put(D("-600"))
        return await tripped(task, DailyLossBreached)

    error = run_virtual(main())
    assert (error.loss, error.day_start) == (D(100), 200.0)


def test_a_daily_breach_is_not_lost_when_the_pnl_recovers_before_the_breaker_runs():
    async def main():
        clock, pnl, task = await start_daily()
        for at, figure in [(1, "0"), (2, "-100.5"), (3, "-20"), (150, "-300")]:  # no yield
            clock.now = at
            pnl.put(D(figure))
        return await tripped(task, DailyLossBreached)

    error = run_virtual(main())
    assert (error.loss, error.day_start) == (D("100.5"), 0.0)


@pytest.mark.parametrize(
    ("ceiling", "next_reset", "error", "match"),
    [
        (100.0, every_100s, TypeError, "ceiling must be a Decimal, got float"),
        (D(0), every_100s, ValueError, "ceiling must be positive, got 0"),
        (D("-1"), every_100s, ValueError, "ceiling must be positive, got -1"),
        (D(1), lambda t: t, ValueError, r"next_reset\(0.0\) returned 0.0, not a time after it"),
        (D(1), lambda t: math.nan, ValueError, "returned nan, not a time after it"),
    ],
)
def test_daily_breaker_refuses_bad_arguments(ceiling, next_reset, error, match):
    async def main():
        clock = Clock()
        read = Feed("p", clock).read_one
        await asyncio.wait_for(daily_breaker(read, ceiling, next_reset, clock), 1.0)

    with pytest.raises(error, match=match):
        run_virtual(main())


def test_a_schedule_that_stops_advancing_later_fails_the_breaker_not_the_put():
    def stuck_after_the_first(t: float) -> float:
        return every_100s(t) if t < 100 else t

    async def main():
        clock = Clock()
        pnl: Feed[Decimal] = Feed("pnl", clock)
        task = asyncio.create_task(daily_breaker(pnl.read_one, D(1), stuck_after_the_first, clock))
        await put_at(clock, pnl, task, [(10, "0")])
        clock.now = 150
        pnl.put(D(0))  # rolls the day: must not raise here
        with pytest.raises(ValueError, match=r"next_reset\(100.0\) returned 100.0"):
            await asyncio.wait_for(task, 1.0)

    run_virtual(main())


# --- daily_resets -----------------------------------------------------------------------

ORIGIN = datetime(2020, 1, 1, tzinfo=UTC)
ORIGIN_NS = int(ORIGIN.timestamp()) * 1_000_000_000


def loop_at(iso: str, origin_ns: int = ORIGIN_NS) -> float:
    """Loop seconds of a UTC instant, as daily_resets is specified to compute them."""
    instant = datetime.fromisoformat(iso).replace(tzinfo=UTC)
    return (int(instant.timestamp()) * 1_000_000_000 - origin_ns) / 1e9


def chain(next_reset, iso, n):
    """The n resets after an instant, as UTC ISO strings."""
    out, t = [], loop_at(iso)
    for _ in range(n):
        t = next_reset(t)
        out.append((ORIGIN + timedelta(seconds=t)).strftime("%Y-%m-%d %H:%M:%S"))
    return out


def test_london_resets_follow_the_clocks_across_the_spring_2020_change():
    """Clocks went 01:00 GMT -> 02:00 BST on 2020-03-29: 17:00 moves from 17:00 to 16:00 UTC,
    23 hours after the previous reset."""
    next_reset = daily_resets(ORIGIN_NS, "17:00", "Europe/London")
    assert chain(next_reset, "2020-03-27 18:00", 3) == [
        "2020-03-28 17:00:00",
        "2020-03-29 16:00:00",
        "2020-03-30 16:00:00",
    ]
    assert next_reset(loop_at("2020-03-28 17:00")) - loop_at("2020-03-28 17:00") == 23 * 3600


def test_london_local_times_skipped_or_repeated_by_the_clock_changes():
    # 01:30 did not exist on 2020-03-29: it falls at 02:30 BST (01:30 UTC)
    gap = daily_resets(ORIGIN_NS, "01:30", "Europe/London")
    assert chain(gap, "2020-03-28 12:00", 2) == ["2020-03-29 01:30:00", "2020-03-30 00:30:00"]
    # 01:30 happened twice on 2020-10-25: the first, 01:30 BST (00:30 UTC), counts, once
    assert chain(gap, "2020-10-24 12:00", 2) == ["2020-10-25 00:30:00", "2020-10-26 01:30:00"]


def test_new_york_17_00_is_22_00_utc_in_winter_and_21_00_utc_in_summer():
    next_reset = daily_resets(ORIGIN_NS, "17:00", "America/New_York")
    assert chain(next_reset, "2020-01-15 12:00", 1) == ["2020-01-15 22:00:00"]
    assert chain(next_reset, "2020-07-15 12:00", 1) == ["2020-07-15 21:00:00"]
    # across the 2020-03-08 change, starting exactly at a reset: the next day's, 23h later
    assert chain(next_reset, "2020-03-07 22:00", 2) == [
        "2020-03-08 21:00:00",
        "2020-03-09 21:00:00",
    ]
    # and back on 2020-11-01: 25 hours
    assert chain(next_reset, "2020-10-31 21:00", 1) == ["2020-11-01 22:00:00"]


def test_next_reset_is_strictly_after_t_and_an_instant_at_a_reset_gets_the_next_days():
    next_reset = daily_resets(ORIGIN_NS, "17:00", "America/New_York")
    reset = loop_at("2020-01-15 22:00")
    assert next_reset(math.nextafter(reset, 0.0)) == reset
    assert next_reset(reset) == loop_at("2020-01-16 22:00")
    assert next_reset(next_reset(reset)) == loop_at("2020-01-17 22:00")


@pytest.mark.parametrize("uptime", [10**6, 10**7, 10**8, 10**9])
def test_strictly_after_holds_for_the_float_even_when_the_loop_clock_is_large(uptime):
    """With a loop clock of 1e8 s a float step is ~15 ns: "after t" must hold for the float
    t itself, or feeding a reset back in could return the same reset again."""
    origin_ns = ORIGIN_NS - uptime * 1_000_000_000 - 123_456_789  # resets at inexact floats
    next_reset = daily_resets(origin_ns, "17:00", "Europe/London")
    t = loop_at("2020-03-01 12:00", origin_ns)
    for _ in range(60):
        reset = next_reset(t)
        assert reset > t
        assert next_reset(math.nextafter(reset, 0.0)) == reset
        assert 23 * 3600 - 1 < next_reset(reset) - reset < 25 * 3600 + 1
        t = reset


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(
        ["Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
    ),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    uptime=st.sampled_from([0, 10**4, 10**7, 10**8]),  # loop clocks can be large floats
    t=st.floats(0, 3 * 365 * 86400),
)
def test_next_reset_is_the_first_local_hh_mm_strictly_after_t(zone, hour, minute, uptime, t):
    origin_ns = ORIGIN_NS - uptime * 1_000_000_000
    t += uptime
    next_reset = daily_resets(origin_ns, f"{hour:02d}:{minute:02d}", zone)
    reset = next_reset(t)
    assert reset > t
    assert reset - t <= 25.5 * 3600  # at most a day, plus the largest clock change
    # it is some day's HH:MM in the zone (fold=0), and no earlier such instant is after t
    utc = datetime.fromtimestamp((origin_ns / 1e9) + reset, UTC)
    local_day = utc.astimezone(ZoneInfo(zone)).date()
    candidates = [
        (datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone)) - ORIGIN).total_seconds()
        + (ORIGIN_NS - origin_ns) / 1e9
        for day in (local_day - timedelta(days=d) for d in (-1, 0, 1, 2))
    ]
    assert any(abs(c - reset) < 1e-3 for c in candidates)
    assert not any(t < c < reset - 1e-3 for c in candidates)
    assert next_reset(reset) > reset


@pytest.mark.parametrize("bad", ["24:00", "7:00", "17:60", "17-00", " 17:00", "", "17:00:00"])
def test_daily_resets_refuses_a_bad_time_of_day_naming_it(bad):
    with pytest.raises(ValueError, match=f"got {bad!r}"):
        daily_resets(ORIGIN_NS, bad, "Europe/London")


@pytest.mark.parametrize(
    "bad", ["Mars/Olympus", "Europe/Lndon", "", "Europe", "../etc/passwd", "/etc/x"]
)
def test_daily_resets_refuses_an_unknown_zone_naming_it(bad):
    with pytest.raises(ValueError, match=f"unknown time zone {bad!r}"):
        daily_resets(ORIGIN_NS, "17:00", bad)


def test_daily_resets_refuses_values_of_the_wrong_type():
    with pytest.raises(TypeError, match="origin_ns must be an int"):
        daily_resets(1.5e18, "17:00", "UTC")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="time_of_day must be a str"):
        daily_resets(ORIGIN_NS, 1700, "UTC")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tz must be a str"):
        daily_resets(ORIGIN_NS, "17:00", None)  # type: ignore[arg-type]


def test_a_daily_limit_given_rebase_takes_a_new_ceiling_when_the_day_rolls():
    # a percent daily limit: the new day's ceiling is asked for when the day rolls
    asked: list[float] = []

    async def main():
        loop = asyncio.get_running_loop()
        pnl: Feed[Decimal] = Feed("pnl", loop.time)

        def rebase() -> Decimal:
            asked.append(loop.time())
            return D("30")

        task = asyncio.create_task(
            daily_breaker(
                pnl.read_one, D("100"), lambda t: (t // 10 + 1) * 10, loop.time, "USD", rebase
            )
        )
        await put_and_check_quiet(pnl, task, ["0", "-90"])  # 90 < 100: yesterday's ceiling
        await asyncio.sleep(10)
        await put_and_check_quiet(pnl, task, ["-100", "-119.99"])  # from -90: 29.99 < 30
        pnl.put(D("-120"))
        return await tripped(task, DailyLossBreached)

    error = run_virtual(main())
    assert asked == [10.0]  # once, at the first figure of the new day
    assert (error.loss, error.ceiling) == (D("30"), D("30"))


def test_a_rebase_that_fails_trips_with_its_error():
    async def main():
        loop = asyncio.get_running_loop()
        pnl: Feed[Decimal] = Feed("pnl", loop.time)

        def rebase() -> Decimal:
            raise ValueError("the equity cannot be measured")

        task = asyncio.create_task(
            daily_breaker(pnl.read_one, D("100"), lambda t: t + 5, loop.time, "USD", rebase)
        )
        pnl.put(D("0"))
        await asyncio.sleep(6)
        pnl.put(D("1"))
        return await tripped(task, ValueError)

    assert "cannot be measured" in str(run_virtual(main()))
