"""Each limit's figure read from its breaker's bands; warnings on it; a feed's silence.

Judged against the breakers themselves (``core.limits``) on virtual time: the figure a
``LimitFigure`` reads is the one the breaker trips on (the trip's own ``loss``,
``drawdown``), the warnings come in crossing order, once per upward crossing, and a
hand-over that skips every figure inside the intersection of the breaker's band and the
levels' band hears exactly the warnings one that puts every figure hears.
"""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vtime import run_virtual

from nautilus_riskwatch.alerts import FeedSilence
from nautilus_riskwatch.alerts.warnings import LimitFigure, silence_warnings
from nautilus_riskwatch.core import (
    DailyLossBreached,
    DrawdownBreached,
    TrailingDrawdownBreached,
)
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.limits import Quiet, breaker, daily_breaker, trailing_breaker

D = Decimal
CEILING = D(100)
WARN = (D("0.5"), D("0.8"))


def _every_100s(t: float) -> float:
    return (math.floor(t / 100) + 1) * 100.0


class Hand:
    """A guard's hand-over, reduced: puts a PnL to the breaker (as a loss for max_loss),
    tells the figure the band, sees the warnings; ``skip``: figures strictly inside the
    breaker's and the levels' bands are not put at all (the guard's quiet band)."""

    def __init__(self, kind: str, skip: bool) -> None:
        self.kind = kind
        self.skip = skip
        self.figure = LimitFigure(kind, CEILING, WARN)
        self.feed: Feed[Decimal] = Feed("f", lambda: asyncio.get_running_loop().time())
        self.breaker_band: Quiet | None = None
        self.crossings: list[tuple[Decimal, Decimal]] = []  # (level, figure)
        self.put = 0

    def told(self, band: Quiet | None) -> None:
        if band is not None and self.kind == "max_loss":  # losses -> PnL, as the guard does
            band = Quiet(
                None if band.high is None else -band.high, None if band.low is None else -band.low
            )
        self.breaker_band = band
        self.figure.told(band, CEILING)

    def start(self) -> asyncio.Task:
        read = self.feed.read_one
        if self.kind == "max_loss":
            coro = breaker(read, CEILING, quiet=self.told)
        elif self.kind == "trailing":
            coro = trailing_breaker(read, CEILING, quiet=self.told)
        else:
            loop = asyncio.get_running_loop()
            coro = daily_breaker(read, CEILING, _every_100s, loop.time, quiet=self.told)
        return asyncio.get_running_loop().create_task(coro)

    def quiet(self, pnl: Decimal) -> bool:
        bands = [self.breaker_band, self.figure.band()]
        if any(b is None for b in bands):
            return False
        return all(
            (b.low is None or b.low < pnl) and (b.high is None or pnl < b.high)
            for b in bands
            if b is not None
        )

    async def hand(self, pnl: Decimal) -> None:
        if self.skip and self.quiet(pnl):
            return
        self.put += 1
        self.feed.put(-pnl if self.kind == "max_loss" else pnl)
        await asyncio.sleep(0)
        for crossing in self.figure.see(pnl):
            self.crossings.append((crossing.level, crossing.figure))


async def _run(kind: str, pnls: list[Decimal], skip: bool) -> tuple[Hand, BaseException | None]:
    hand = Hand(kind, skip)
    task = hand.start()
    await asyncio.sleep(0)
    for pnl in pnls:
        if task.done():
            break
        await hand.hand(pnl)
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    trip = None
    if task.done():
        trip = task.exception()
    else:
        task.cancel()
    return hand, trip


def test_the_figure_is_the_one_each_breaker_trips_on():
    for kind, pnls, cls, field in (
        ("max_loss", ["-10", "-60", "-99.99", "-100.00"], DrawdownBreached, "loss"),
        ("trailing", ["50", "120.5", "70", "20.49", "20.5"], TrailingDrawdownBreached, "loss"),
        ("daily", ["-5", "30", "-40", "-70", "-105"], DailyLossBreached, "loss"),
    ):
        hand, trip = run_virtual(_run(kind, [D(x) for x in pnls], skip=False))
        assert isinstance(trip, cls), (kind, trip)
        last = D(pnls[-1]) if kind != "trailing" else D("20.49")
        assert hand.figure.figure(last) == getattr(trip, field), kind


def test_trailing_warnings_follow_the_high_water_mark_once_per_crossing():
    pnls = [D(x) for x in ["0", "40", "-10", "-15", "5", "-41", "-45", "100", "49", "20"]]
    hand, trip = run_virtual(_run("trailing", pnls, skip=False))
    # hw 40: drawdown 50 at -10 (0.5), 55 nothing; 35 at 5 re-arms 0.5 (<= 40); 81 at -41:
    # 0.5 and 0.8 at once, lowest first; 85 nothing; hw 100: 0 re-arms both; 51 at 49:
    # 0.5; 80 at 20: 0.8.
    assert trip is None
    assert hand.crossings == [
        (D("50.0"), D(50)),
        (D("50.0"), D(81)),
        (D("80.0"), D(81)),
        (D("50.0"), D(51)),
        (D("80.0"), D(80)),
    ]


def test_daily_warnings_count_from_the_days_baseline():
    hand, trip = run_virtual(_run("daily", [D(x) for x in ["10", "-45", "-70"]], skip=False))
    assert trip is None
    assert hand.crossings == [(D("50.0"), D(55)), (D("80.0"), D(80))]


def test_max_loss_warns_before_it_trips():
    hand, trip = run_virtual(_run("max_loss", [D(x) for x in ["-49.99", "-50", "-100"]], False))
    assert isinstance(trip, DrawdownBreached)
    # the jump from 50 to the ceiling crosses 0.8 too: the trip says it, not a warning
    assert hand.crossings == [(D("50.0"), D(50))]


def test_a_told_band_of_none_keeps_the_mark():
    figure = LimitFigure("trailing", CEILING, WARN)
    assert figure.figure(D(0)) is None and figure.band() is None
    figure.told(Quiet(D(-50), D(50)), CEILING)
    figure.told(None, CEILING)  # tripped, or a daily limit near its reset
    assert figure.figure(D(10)) == D(40)


def test_a_new_ceiling_moves_the_levels():
    figure = LimitFigure("daily", CEILING, WARN)
    figure.told(Quiet(D(-100), None), CEILING)  # baseline 0
    assert figure.see(D(-60)) and figure.levels.fired == 1
    figure.told(Quiet(D(-200), None), D(200))  # a percent limit rebased: baseline 0
    assert figure.see(D(-100)) == ()  # 0.5 of 200: fired already (the count stays)
    assert [c.level for c in figure.see(D(-160))] == [D("160.0")]


def test_no_levels_no_band_to_keep():
    figure = LimitFigure("max_loss", CEILING)
    assert figure.band() == Quiet(None, None) and figure.see(D(-99)) == ()
    with pytest.raises(ValueError, match="kind"):
        LimitFigure("weekly", CEILING)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["max_loss", "trailing", "daily"]),
    steps=st.lists(st.integers(-60, 60), min_size=1, max_size=60),
)
def test_skipping_the_quiet_band_hears_the_same_warnings(kind, steps):
    """The guard's quiet band (breaker's band and the levels' band intersected) loses no
    warning and no trip: a hand-over that skips puts fewer figures and hears the same."""
    pnls, pnl = [], D(0)
    for step in steps:
        pnl += D(step) / 4
        pnls.append(pnl)
    every, trip_every = run_virtual(_run(kind, pnls, skip=False))
    quiet, trip_quiet = run_virtual(_run(kind, pnls, skip=True))
    assert quiet.crossings == every.crossings
    assert type(trip_quiet) is type(trip_every)
    assert quiet.put <= every.put


def test_feed_silence_warnings_are_said_once_per_silence_at_their_time():
    said: list[tuple[float, Decimal]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        feed: Feed[object] = Feed("EUR/USD", loop.time)
        silence = FeedSilence(WARN, bound=10.0)
        task = loop.create_task(
            silence_warnings(feed, silence, lambda c: said.append((loop.time(), c.level)))
        )
        await asyncio.sleep(6)  # 5 s: the 0.5 level
        feed.put("q")  # at 6: the silence ends, every level re-arms
        await asyncio.sleep(9.5)  # 11 (6 + 5) and 14 (6 + 8)
        feed.put("q")  # at 15.5
        await asyncio.sleep(1)
        task.cancel()

    run_virtual(main())
    assert said == [(5.0, D("5.0")), (11.0, D("5.0")), (14.0, D("8.0"))]


def test_a_failing_warning_does_not_end_the_silence_task():
    async def main() -> bool:
        loop = asyncio.get_running_loop()
        feed: Feed[object] = Feed("f", loop.time)

        def say(_c: object) -> None:
            raise RuntimeError("no")

        task = loop.create_task(silence_warnings(feed, FeedSilence(WARN, 10.0), say, 0.0))
        await asyncio.sleep(30)
        done = task.done()
        task.cancel()
        return done

    assert run_virtual(main()) is False
