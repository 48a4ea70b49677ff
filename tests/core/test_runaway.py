"""The runaway guards' core: the rate format, the window to the nanosecond, the guard as a
supervisor child, the exposure caps, and the two trips as the record and the log carry them."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from fakes import FakeBook
from hypothesis import given, settings
from hypothesis import strategies as st
from vtime import run_virtual

from nautilus_riskwatch.core import (
    EventRate,
    ExposureBreached,
    Feed,
    KillSwitch,
    RateWindow,
    RiskOff,
    RunawayDetected,
    Trip,
    check_position,
    gross_breaker,
    parse_rate,
    rate_breaker,
    run_watch,
)
from nautilus_riskwatch.errors import RiskWatchError

SECOND = 1_000_000_000


# --- the rate format -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "limit", "window_ns"),
    [
        ("100/00:00:01", 100, SECOND),
        ("5/00:01:30", 5, 90 * SECOND),
        ("1/25:00:00", 1, 25 * 3600 * SECOND),
        ("3/00:00:00.5", 3, SECOND // 2),
        ("3/00:00:00.000000001", 3, 1),
        ("7/00:00:02.25", 7, 2 * SECOND + SECOND // 4),
    ],
)
def test_parse_rate_reads_nautilus_trader_s_form_in_integer_nanoseconds(text, limit, window_ns):
    rate = parse_rate(text)
    assert rate == EventRate(limit, window_ns)
    assert type(rate.window_ns) is int


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("100", "max_order_rate must be 'N/HH:MM:SS'"),
        ("100/1s", "max_order_rate must be 'N/HH:MM:SS'"),
        ("100/00:60:00", "max_order_rate must be 'N/HH:MM:SS'"),
        ("100/00:00:60", "max_order_rate must be 'N/HH:MM:SS'"),
        ("-1/00:00:01", "max_order_rate must be 'N/HH:MM:SS'"),
        (" 1/00:00:01", "max_order_rate must be 'N/HH:MM:SS'"),
        ("1/00:00:00.0000000001", "max_order_rate must be 'N/HH:MM:SS'"),
        (100, "max_order_rate must be 'N/HH:MM:SS'.*got int 100"),
        (None, "max_order_rate must be 'N/HH:MM:SS'.*got NoneType"),
        ("0/00:00:01", "max_order_rate: N must be at least 1"),
        ("5/00:00:00", "max_order_rate: the window must be longer than zero"),
        ("5/00:00:00.000", "max_order_rate: the window must be longer than zero"),
    ],
)
def test_parse_rate_refuses_bad_values_naming_the_field(text, match):
    with pytest.raises(RiskWatchError, match=match):
        parse_rate(text, field="max_order_rate")


@pytest.mark.parametrize(("limit", "window_ns"), [(0, SECOND), (1, 0), (True, 1), (1, 1.5)])
def test_an_event_rate_refuses_what_no_rate_means(limit, window_ns):
    with pytest.raises(ValueError, match="a rate's"):
        EventRate(limit, window_ns)


# --- the window, exactly -------------------------------------------------------------------
def first_trip(rate: EventRate, times: list[int]) -> int | None:
    window = RateWindow(rate)
    for i, t in enumerate(times):
        if window.over(t):
            return i
    return None


def test_exactly_n_in_the_window_do_not_trip_n_plus_one_do():
    rate = EventRate(3, SECOND)
    assert first_trip(rate, [0, 1, SECOND - 1]) is None
    assert first_trip(rate, [0, 1, 2, SECOND - 1]) == 3


def test_an_event_exactly_w_after_the_first_leaves_its_window():
    rate = EventRate(3, SECOND)
    # at t = W the first event (t = 0) is out of (0, W]: three in the window, no trip
    assert first_trip(rate, [0, 1, 2, SECOND]) is None
    # one nanosecond earlier it is still in: four, a trip
    assert first_trip(rate, [0, 1, 2, SECOND - 1]) == 3


def test_events_in_one_instant_count_one_by_one():
    assert first_trip(EventRate(2, SECOND), [5, 5, 5, 5]) == 2


def test_a_late_time_counts_at_the_newest_time():
    # the stamp 0 arrives after 10: counted at 10, it is still in (9, 19] at 19 (at 0 it
    # would not be), and both leave at 20
    window = RateWindow(EventRate(2, 10))
    assert [window.add(t) for t in (10, 0, 19, 20)] == [1, 2, 3, 2]


def test_the_window_keeps_at_most_n_plus_one_times():
    window = RateWindow(EventRate(3, 10**18))
    counts = [window.add(t) for t in range(1000)]
    assert counts[:5] == [1, 2, 3, 4, 4] and max(counts) == 4
    assert window.held == 4


def brute_force_first_trip(limit: int, window_ns: int, times: list[int]) -> int | None:
    for i, t in enumerate(times):
        if sum(1 for s in times[: i + 1] if t - window_ns < s <= t) > limit:
            return i
    return None


@settings(max_examples=400, deadline=None)
@given(
    limit=st.integers(1, 6),
    window_ns=st.integers(1, 50),
    gaps=st.lists(st.integers(0, 20), max_size=60),
)
def test_the_window_agrees_with_a_brute_force_over_random_event_times(limit, window_ns, gaps):
    times = []
    t = 1_700_000_000 * SECOND  # an engine-like epoch: large integers stay exact
    for gap in gaps:
        t += gap
        times.append(t)
    rate = EventRate(limit, window_ns)
    assert first_trip(rate, times) == brute_force_first_trip(limit, window_ns, times)
    # and at every event, not only the first trip: the count over N agrees with the brute
    window = RateWindow(rate)
    for i, t in enumerate(times):
        inside = sum(1 for s in times[: i + 1] if t - window_ns < s <= t)
        assert window.over(t) == (inside > limit)


# --- the guard, a supervisor child ---------------------------------------------------------
def test_the_guard_trips_at_the_n_plus_first_event_in_a_burst_put_in_one_instant():
    """A feed keeps one message, so the count must run in ``put``: a burst put with no
    yield between is counted event by event, and the trip names the tripping event."""

    async def main():
        orders: Feed[int] = Feed("orders", asyncio.get_running_loop().time)
        guard = asyncio.create_task(
            rate_breaker(orders.read_one, parse_rate("3/00:00:01"), "orders")
        )
        await asyncio.sleep(0)
        for t in (100, 200, 300):
            orders.put(t)
        await asyncio.sleep(0)
        assert not guard.done()
        for t in (SECOND + 99, SECOND + 100, 400):  # 100 leaves at W + 100; 4 in at 400 (late)
            orders.put(t)
        with pytest.raises(RunawayDetected) as caught:
            await asyncio.wait_for(guard, 1.0)
        return caught.value

    trip = run_virtual(main())
    # at SECOND + 99: 100, 200, 300 and it -> 4 > 3, the trip is at that event
    assert (trip.counted, trip.count, trip.limit, trip.window_ns) == ("orders", 4, 3, SECOND)
    assert trip.at_ns == SECOND + 99
    assert str(trip).startswith("4 orders within 00:00:01 on the engine's clock (the limit is 3)")


def test_the_guard_collapses_the_supervisor_and_the_record_names_it_everywhere():
    """A child like the others: the cascade runs on its trip, the book ends flat, and the
    record (its report, its event-log form) says ``runaway`` and what was counted."""
    book = FakeBook(orders=["O-1"], positions=["P-1"])

    async def main():
        fills: Feed[int] = Feed("fills", asyncio.get_running_loop().time)

        async def feed_fills():
            for i in range(10):
                await asyncio.sleep(0.001)
                fills.put(i * 1000)
            await asyncio.sleep(3600)

        return await run_watch(
            [lambda: rate_breaker(fills.read_one, EventRate(4, 5000), "fills"), feed_fills],
            KillSwitch(book),
        )

    record = run_virtual(main())
    trip = record.cause
    assert isinstance(trip, RunawayDetected)
    # fills at 0, 1000, ..., 4000: five in (-1000, 4000], the fifth trips
    assert (trip.counted, trip.count, trip.at_ns) == ("fills", 5, 4000)
    assert book.flat and record.complete
    assert "  cause          runaway" in record.report()
    assert record.report().startswith("RISK-OFF: 5 fills within 00:00:00.000005")
    again = RiskOff.from_dict(json.loads(json.dumps(record.to_dict())))
    assert isinstance(again.cause, RunawayDetected)
    assert again.cause.describe() == trip.describe()


@pytest.mark.parametrize("bad", [1.5, "100", True])
def test_a_time_that_is_not_integer_ns_fails_the_guard_not_the_put(bad):
    async def main():
        rejects: Feed[object] = Feed("rejects", asyncio.get_running_loop().time)
        guard = asyncio.create_task(rate_breaker(rejects.read_one, EventRate(5, 10), "rejects"))
        await asyncio.sleep(0)
        rejects.put(1)
        rejects.put(bad)  # must not raise into the engine's callback
        with pytest.raises(TypeError, match="integer nanoseconds"):
            await asyncio.wait_for(guard, 1.0)

    run_virtual(main())


def test_the_guard_refuses_a_kind_it_does_not_count():
    async def main():
        await rate_breaker(
            Feed("x", asyncio.get_running_loop().time).read_one, EventRate(1, 1), "quotes"
        )

    with pytest.raises(ValueError, match="counts one of"):
        run_virtual(main())


# --- the exposure caps ---------------------------------------------------------------------
def test_a_position_equal_to_the_cap_holds_one_unit_more_trips_long_or_short():
    cap = Decimal("1000000")
    check_position(Decimal("1000000"), cap, "EUR/USD.SIM")
    check_position(Decimal("-1000000"), cap, "EUR/USD.SIM")
    for net in (Decimal("1000001"), Decimal("-1000001"), Decimal("1000000.01")):
        with pytest.raises(ExposureBreached) as caught:
            check_position(net, cap, "EUR/USD.SIM")
        trip = caught.value
        assert (trip.measure, trip.figure, trip.cap) == ("position", abs(net), cap)
        assert trip.instrument == "EUR/USD.SIM"
    assert str(trip) == "position |net| on EUR/USD.SIM 1000000.01 exceeded the cap 1000000"


def test_a_position_cap_of_zero_forbids_any_holding():
    check_position(Decimal(0), Decimal(0))
    with pytest.raises(ExposureBreached):
        check_position(Decimal("0.001"), Decimal(0))


@pytest.mark.parametrize(
    ("net", "cap", "error", "match"),
    [
        (1.0, Decimal(1), TypeError, "net quantity must be a Decimal, got float"),
        (Decimal(1), 1, TypeError, "position cap must be a Decimal, got int"),
        (Decimal("NaN"), Decimal(1), ValueError, "net quantity must be finite"),
        (Decimal(1), Decimal("Infinity"), ValueError, "position cap must be finite"),
        (Decimal(1), Decimal(-1), ValueError, "position cap must be 0 or more"),
    ],
)
def test_check_position_refuses_what_it_cannot_compare_exactly(net, cap, error, match):
    with pytest.raises(error, match=match):
        check_position(net, cap)


def test_the_gross_breaker_holds_at_the_cap_and_trips_past_it_saying_its_quiet_band():
    async def main():
        gross: Feed[Decimal] = Feed("gross", asyncio.get_running_loop().time)
        bands = []
        breaker = asyncio.create_task(
            gross_breaker(gross.read_one, Decimal("2000000.00"), "USD", quiet=bands.append)
        )
        await asyncio.sleep(0)
        for figure in ("0", "1999999.99", "2000000.00", "2000000"):
            gross.put(Decimal(figure))
            await asyncio.sleep(0)
            assert not breaker.done(), figure
        gross.put(Decimal("2000000.01"))
        gross.put(Decimal("10"))  # a recovery before the breaker runs does not hide it
        with pytest.raises(ExposureBreached) as caught:
            await asyncio.wait_for(breaker, 1.0)
        return caught.value, bands

    trip, bands = run_virtual(main())
    assert (trip.measure, trip.figure, trip.cap) == (
        "gross",
        Decimal("2000000.01"),
        Decimal("2000000.00"),
    )
    assert str(trip) == "gross exposure 2000000.01 USD exceeded the cap 2000000.00 USD"
    assert bands[0].high == Decimal("2000000.00") and bands[0].low is None
    assert bands[-1] is None  # done: nothing is quiet any more


@pytest.mark.parametrize(
    ("cap", "error", "match"),
    [
        (100.0, TypeError, "gross cap must be a Decimal, got float"),
        (Decimal(0), ValueError, "gross cap must be positive"),
        (Decimal("NaN"), ValueError, "gross cap must be finite"),
    ],
)
def test_the_gross_breaker_refuses_a_bad_cap(cap, error, match):
    async def main():
        await asyncio.wait_for(
            gross_breaker(Feed("g", asyncio.get_running_loop().time).read_one, cap), 1.0
        )

    with pytest.raises(error, match=match):
        run_virtual(main())


def test_the_gross_breaker_refuses_a_float_figure_by_failing_not_by_raising_into_put():
    async def main():
        gross: Feed[object] = Feed("gross", asyncio.get_running_loop().time)
        breaker = asyncio.create_task(gross_breaker(gross.read_one, Decimal("10")))
        await asyncio.sleep(0)
        gross.put(11.0)
        with pytest.raises(TypeError, match="gross figure must be a Decimal"):
            await asyncio.wait_for(breaker, 1.0)

    run_virtual(main())


# --- the trips, as the record and the log carry them ---------------------------------------
@pytest.mark.parametrize(
    "trip",
    [
        RunawayDetected("orders", 101, SECOND, 100, 1_700_000_000 * SECOND + 7),
        RunawayDetected("rejects", 6, 90 * SECOND + 1),
        RunawayDetected("fills", 3, 1, 2),
        ExposureBreached("position", Decimal("1000001"), Decimal("1000000"), "EUR/USD.SIM"),
        ExposureBreached("gross", Decimal("2000000.015"), Decimal("2000000"), currency="USD"),
    ],
)
def test_each_trip_restores_from_its_description_exactly(trip):
    described = trip.describe()
    assert described["kind"] == trip.kind
    restored = Trip.restore(described)
    assert type(restored) is type(trip)
    assert restored.describe() == described and str(restored) == str(trip)
    if isinstance(trip, ExposureBreached):
        assert restored.figure == trip.figure and isinstance(restored.figure, Decimal)
        assert restored.cap == trip.cap and isinstance(restored.cap, Decimal)
    else:
        assert (restored.count, restored.window_ns, restored.limit, restored.at_ns) == (
            trip.count,
            trip.window_ns,
            trip.limit,
            trip.at_ns,
        )


def test_the_trips_say_what_they_counted_and_measured():
    assert RunawayDetected("rejects", 6, 90 * SECOND + SECOND // 2).kind == "runaway"
    assert str(RunawayDetected("rejects", 6, 90 * SECOND + SECOND // 2)) == (
        "6 rejects within 00:01:30.5 on the engine's clock"
    )
    assert "2023-11-14T22:13:20.000000007Z" in str(
        RunawayDetected("orders", 2, SECOND, 1, 1_700_000_000 * SECOND + 7)
    )
    assert ExposureBreached("gross", Decimal(1), Decimal(0)).kind == "exposure"
    with pytest.raises(ValueError, match="counts one of"):
        RunawayDetected("quotes", 1, 1)
    with pytest.raises(ValueError, match="measures one of"):
        ExposureBreached("net", Decimal(1), Decimal(0))
