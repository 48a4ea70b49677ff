"""A scope's runaway guards as read from the config, and as supervisor children."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from functools import partial

import pytest
from fakes import FakeBook
from nautilus_trader.model.identifiers import InstrumentId
from vtime import run_virtual

from nautilus_riskwatch.core import (
    EventRate,
    ExposureBreached,
    KillSwitch,
    RunawayDetected,
    run_watch,
)
from nautilus_riskwatch.errors import RiskWatchError
from nautilus_riskwatch.nautilus.runaway_guards import (
    RunawayFeeds,
    RunawaySpec,
    position_caps,
    rates,
)

EURUSD = InstrumentId.from_str("EUR/USD.SIM")
SECOND = 1_000_000_000


def test_rates_are_read_per_field_and_what_each_counts():
    found = rates("", {"max_order_rate": "100/00:00:01", "max_fill_rate": "5/00:01:00"})
    assert found == {"orders": EventRate(100, SECOND), "fills": EventRate(5, 60 * SECOND)}
    assert rates("", {"max_reject_rate": None}) == {}


@pytest.mark.parametrize(
    ("prefix", "values", "match"),
    [
        ("", {"max_order_rate": "100"}, r"^max_order_rate must be 'N/HH:MM:SS'"),
        ("limits[2].", {"max_reject_rate": 5}, r"^limits\[2\].max_reject_rate must be"),
        ("", {"max_fill_rate": "0/00:00:01"}, r"^max_fill_rate: N must be at least 1"),
    ],
)
def test_a_bad_rate_is_refused_with_its_field_named(prefix, values, match):
    with pytest.raises(RiskWatchError, match=match):
        rates(prefix, values)


def test_position_caps_are_exact_per_instrument():
    caps = position_caps("max_position", {"EUR/USD.SIM": 1_000_000, "USD/JPY.SIM": "0.5"})
    assert caps == {
        EURUSD: Decimal(1_000_000),
        InstrumentId.from_str("USD/JPY.SIM"): Decimal("0.5"),
    }
    assert position_caps("max_position", {"EUR/USD.SIM": 0}) == {EURUSD: Decimal(0)}
    assert position_caps("max_position", None) == {}


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"EUR/USD.SIM": 0.1}, r"max_position\['EUR/USD.SIM'\] must be a whole number"),
        ({"EUR/USD.SIM": True}, r"max_position\['EUR/USD.SIM'\] must be a whole number"),
        ({"EUR/USD.SIM": -1}, r"a position cap must be a finite number, 0 or more"),
        ({"EUR/USD.SIM": "lots"}, r"'lots' is not a number"),
        ({"EUR/USD.SIM": "Infinity"}, r"finite number"),
        ({"EURUSD": 5}, r"max_position\['EURUSD'\]: not an instrument id"),
        ({}, r"max_position must be a non-empty dict"),
        ([("EUR/USD.SIM", 5)], r"max_position must be a non-empty dict"),
    ],
)
def test_a_bad_position_cap_is_refused_with_its_field_named(value, match):
    with pytest.raises(RiskWatchError, match=match):
        position_caps("max_position", value)


def _watch(spec, feed):
    """Run the guards' children under a supervisor; ``feed(feeds)`` plays the events."""

    async def main():
        feeds = RunawayFeeds(spec, asyncio.get_running_loop().time, "portfolio")

        async def play():
            await asyncio.sleep(0.001)  # the guards are reading
            feed(feeds)
            await asyncio.sleep(3600)

        return await run_watch([*feeds.children(), play], KillSwitch(FakeBook()))

    return run_virtual(main())


def test_the_order_rate_guard_trips_at_n_plus_one_and_not_at_n():
    spec = RunawaySpec(rates={"orders": EventRate(3, SECOND)})

    def play(feeds):
        for t in (0, 1, 2):
            feeds.count(("orders", "rejects"), t)
        feeds.count(("fills",), 2)  # not what it counts
        feeds.count(("orders",), SECOND)  # exactly W after the first: it has left, 3 in
        feeds.count(("orders",), SECOND + 1)  # the second has left too: 3 in the window
        feeds.count(("orders",), SECOND + 1)  # 4 in (1, W + 1]: trips here

    record = _watch(spec, play)
    assert isinstance(record.cause, RunawayDetected)
    assert (record.cause.counted, record.cause.count, record.cause.at_ns) == (
        "orders",
        4,
        SECOND + 1,
    )


def test_the_position_guard_trips_one_unit_over_the_cap():
    spec = RunawaySpec(positions={EURUSD: Decimal(500_000)})

    def play(feeds):
        assert feeds.caps(EURUSD) and not feeds.counts
        feeds.net(EURUSD, Decimal(500_000))
        feeds.net(EURUSD, Decimal(-500_001))

    record = _watch(spec, play)
    assert isinstance(record.cause, ExposureBreached)
    assert (record.cause.figure, record.cause.instrument) == (Decimal(500_001), "EUR/USD.SIM")


def test_a_re_arm_counts_from_empty():
    spec = RunawaySpec(rates={"fills": EventRate(1, SECOND)})

    async def main():
        feeds = RunawayFeeds(spec, asyncio.get_running_loop().time, "portfolio")

        async def play(*times):
            await asyncio.sleep(0.001)
            for t in times:
                feeds.count(("fills",), t)
            await asyncio.sleep(3600)

        first = await run_watch([*feeds.children(), partial(play, 0, 1)], KillSwitch(FakeBook()))
        assert isinstance(first.cause, RunawayDetected)
        feeds.count(("fills",), 2)  # after the trip, before the re-arm
        second = asyncio.create_task(
            run_watch([*feeds.children(), partial(play, 3)], KillSwitch(FakeBook()))
        )
        await asyncio.sleep(60)  # one fill in the window since the re-arm: no trip
        assert not second.done()
        second.cancel()

    run_virtual(main())
