"""Quiet bands: what each breaker says cannot matter to it, and the daily timer roll.

A breaker tells its ``quiet`` sink, after each figure it judges, the band of figures that
can neither breach it nor change what it remembers; a hand-over may then skip putting
them. These tests hold the breakers to that promise on virtual time: the band each one
says, that it says none once it ended, that the daily breaker given ``current`` rolls the
day by a timer (so figures that were never put still make the right baseline), and that
a hand-over skipping every figure inside the band trips exactly as putting them all does.
"""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vtime import run_virtual

from nautilus_riskwatch.core.convert import bounded
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.limits import (
    DailyLossBreached,
    Quiet,
    TrailingDrawdownBreached,
    breaker,
    daily_breaker,
    trailing_breaker,
)
from nautilus_riskwatch.core.trips import DrawdownBreached

D = Decimal
CEILING = D(100)


def every_100s(t: float) -> float:
    """A reset every 100 loop seconds: the first multiple of 100 strictly after t."""
    return (math.floor(t / 100) + 1) * 100.0


class Told:
    """A quiet sink that keeps every band it is told, with the loop time it was told at."""

    def __init__(self) -> None:
        self.bands: list[Quiet | None] = []
        self.at: list[float] = []

    def __call__(self, band: Quiet | None) -> None:
        self.bands.append(band)
        self.at.append(asyncio.get_running_loop().time())

    @property
    def last(self) -> Quiet | None:
        assert self.bands, "no band was told"
        return self.bands[-1]


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def put(feed: Feed[Decimal], task: asyncio.Task, figure: str | Decimal) -> None:
    feed.put(D(figure))
    await settle()
    assert not task.done(), f"ended at {figure}"


async def ended(task: asyncio.Task, kind: type[BaseException]) -> BaseException:
    with pytest.raises(kind) as caught:
        await asyncio.wait_for(task, 1.0)
    return caught.value


def start(kind: str, feed: Feed[Decimal], told: Told, **more) -> asyncio.Task:
    loop = asyncio.get_running_loop()
    if kind == "max_loss":
        coro = breaker(feed.read_one, CEILING, quiet=told, **more)
    elif kind == "trailing":
        coro = trailing_breaker(feed.read_one, CEILING, quiet=told, **more)
    else:
        coro = daily_breaker(feed.read_one, CEILING, every_100s, loop.time, quiet=told, **more)
    return asyncio.create_task(coro)


# --- the band each breaker says ---------------------------------------------------------


def test_max_loss_says_every_loss_below_its_ceiling_is_quiet():
    async def main():
        loss: Feed[Decimal] = Feed("loss", asyncio.get_running_loop().time)
        told = Told()
        task = start("max_loss", loss, told)
        await settle()
        assert told.bands == []  # nothing judged yet: nothing said
        await put(loss, task, "10")
        assert told.last == Quiet(None, CEILING)  # in losses: below 100, unbounded below
        await put(loss, task, "-500")  # a profit: still quiet
        await put(loss, task, "99.99")
        assert told.last == Quiet(None, CEILING)
        assert None not in told.bands
        loss.put(D("100"))
        error = await ended(task, DrawdownBreached)
        return error, told

    error, told = run_virtual(main())
    assert error.loss == D(100)
    assert told.last is None  # a breaker that tripped has no quiet figures


def test_the_trailing_band_lies_below_the_high_water_mark_and_moves_up_with_it():
    async def main():
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        told = Told()
        task = start("trailing", pnl, told, start=D(30))
        await put(pnl, task, "0")
        seen = [told.last]  # the mark is the start, 30
        for figure in ("50", "20", "-49.99", "120", "120", "21"):
            await put(pnl, task, figure)
            seen.append(told.last)
        pnl.put(D("20"))  # 120 - 20: the ceiling
        error = await ended(task, TrailingDrawdownBreached)
        return seen, error, told

    seen, error, told = run_virtual(main())
    assert seen == [
        Quiet(D(-70), D(30)),
        Quiet(D(-50), D(50)),  # a new high moves both ends up
        Quiet(D(-50), D(50)),  # a drop does not move it
        Quiet(D(-50), D(50)),
        Quiet(D(20), D(120)),
        Quiet(D(20), D(120)),  # equal to the mark: no move
        Quiet(D(20), D(120)),
    ]
    assert (error.drawdown, error.high_water) == (D(100), D(120))
    assert told.last is None


def test_a_converted_figure_raises_the_trailing_band_to_its_upper_bound():
    async def main():
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        told = Told()
        task = start("trailing", pnl, told)
        pnl.put(bounded(D("49.99"), D("50.01"), None))  # the figure, and its other bound
        await settle()
        assert not task.done()
        task.cancel()
        return told.bands[0]

    assert run_virtual(main()) == Quiet(D("-49.99"), D("50.01"))


def test_the_daily_band_is_none_before_a_baseline_then_the_trip_below_it():
    async def main():
        loop = asyncio.get_running_loop()
        pnl: Feed[Decimal] = Feed("pnl", loop.time)
        told = Told()
        task = start("daily", pnl, told)  # no current: the day rolls at the next figure
        await settle()
        before = list(told.bands)
        await asyncio.sleep(10)
        await put(pnl, task, "20")
        first = told.last
        await put(pnl, task, "70")  # a rise does not move a daily baseline
        await put(pnl, task, "-79.99")
        second = told.last
        await asyncio.sleep(100)  # past the reset at 100, with no figure
        await put(pnl, task, "0")  # the day rolls: the baseline is -79.99, in force then
        third = told.last
        pnl.put(D("-179.99"))
        error = await ended(task, DailyLossBreached)
        return before, first, second, third, error, told

    before, first, second, third, error, told = run_virtual(main())
    assert before in ([], [None])  # no baseline, no band
    assert first == second == Quiet(D(-80), None)
    assert third == Quiet(D("-179.99"), None)
    assert (error.loss, error.day_start) == (D(100), 100.0)
    assert told.last is None


@pytest.mark.parametrize("kind", ["max_loss", "trailing", "daily"])
def test_a_cancelled_breaker_says_nothing_is_quiet(kind):
    async def main():
        feed: Feed[Decimal] = Feed(kind, asyncio.get_running_loop().time)
        told = Told()
        task = start(kind, feed, told)
        await put(feed, task, "5")
        band = told.last
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return band, told.last

    band, last = run_virtual(main())
    assert isinstance(band, Quiet) and last is None


@pytest.mark.parametrize("kind", ["max_loss", "trailing", "daily"])
def test_a_tripped_breaker_says_nothing_is_quiet_from_the_figure_that_tripped_it(kind):
    """The None is said inside the put that breached (the hand-over must put everything from
    there on), not only when the breaker's task gets to run."""

    async def main():
        feed: Feed[Decimal] = Feed(kind, asyncio.get_running_loop().time)
        told = Told()
        task = start(kind, feed, told)
        await put(feed, task, "0")
        quiet = told.last
        feed.put(D(100) if kind == "max_loss" else D(-100))
        said_in_put = told.last  # the breaker's task has not run yet
        await ended(task, DrawdownBreached)
        return quiet, said_in_put, told.last

    quiet, said_in_put, last = run_virtual(main())
    assert isinstance(quiet, Quiet) and said_in_put is None and last is None


# --- the daily timer roll -----------------------------------------------------------------


class Current:
    """The figure in force: what the hand-over would put if something moved."""

    def __init__(self, figure: str) -> None:
        self.figure = D(figure)
        self.asked: list[float] = []

    def __call__(self) -> Decimal:
        self.asked.append(asyncio.get_running_loop().time())
        return self.figure


def test_the_timer_takes_the_figure_in_force_at_the_reset_though_it_was_never_put():
    """0 put; the book then drifts to -50 inside the band (never put); -140 after the reset
    is 90 below -50, the PnL when the day rolled: no trip. Rolled at the next figure
    instead, the baseline would be 0, the last figure put, and -140 would trip at 140."""

    async def main():
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        told = Told()
        current = Current("0")
        task = start("daily", pnl, told, current=current)
        await asyncio.sleep(1)
        await put(pnl, task, "0")
        await asyncio.sleep(49)
        current.figure = D(-50)  # inside the band (-100, None): the hand-over puts nothing
        await asyncio.sleep(100)  # past the reset at 100
        at_reset = (told.at[-1], told.last, list(current.asked))
        await put(pnl, task, "-140")
        await put(pnl, task, "-149.99")
        pnl.put(D("-150"))
        error = await ended(task, DailyLossBreached)
        return at_reset, error

    (told_at, band, asked), error = run_virtual(main())
    # rolled by the timer at the reset (asked 1 s before too, when the band was withdrawn)
    assert asked == [99.0, 100.0] and told_at == 100.0
    assert band == Quiet(D(-150), None)
    assert (error.loss, error.day_start) == (D(100), 100.0)


def test_the_timer_catches_a_loss_made_after_a_rise_that_was_never_put():
    """The book rose to 500 inside the band (never put) and stood there at the reset; 350
    after it is 150 down on the day. Rolled at the next figure, the baseline would be 0 and
    the loss of the day never seen."""

    async def main():
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        told = Told()
        current = Current("0")
        task = start("daily", pnl, told, current=current)
        await asyncio.sleep(1)
        await put(pnl, task, "0")
        current.figure = D(500)
        await asyncio.sleep(149)
        pnl.put(D(350))
        return await ended(task, DailyLossBreached)

    error = run_virtual(main())
    assert (error.loss, error.day_start) == (D(150), 100.0)


def test_the_timer_rolls_every_day_without_a_figure_taking_each_day_s_figure_in_force():
    async def main():
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        told = Told()
        current = Current("0")
        task = start("daily", pnl, told, current=current)
        await asyncio.sleep(1)
        await put(pnl, task, "0")
        current.figure = D(-50)
        await asyncio.sleep(100)  # rolls at 100: baseline -50
        current.figure = D(-80)
        await asyncio.sleep(100)  # rolls at 200: baseline -80
        bands = list(zip(told.at, told.bands, strict=True))
        await put(pnl, task, "-179.99")  # 99.99 below -80 (129.99 below -50)
        pnl.put(D(-180))
        error = await ended(task, DailyLossBreached)
        return bands, current.asked, error

    bands, asked, error = run_virtual(main())
    # asked at each reset, and NEAR_RESET (1 s) before it, when the band is withdrawn
    assert asked == [99.0, 100.0, 199.0, 200.0]
    assert bands[-4:] == [
        (99.0, None),
        (100.0, Quiet(D(-150), None)),
        (199.0, None),
        (200.0, Quiet(D(-180), None)),
    ]
    assert (error.loss, error.day_start) == (D(100), 200.0)


def test_before_any_figure_the_timer_gives_the_daily_breaker_its_baseline():
    async def main():
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        told = Told()
        task = start("daily", pnl, told, current=Current("40"))
        await asyncio.sleep(150)
        band = told.last
        pnl.put(D(-60))  # 100 below the figure in force at the reset, never put
        return band, await ended(task, DailyLossBreached)

    band, error = run_virtual(main())
    assert band == Quiet(D(-60), None)
    assert (error.loss, error.day_start) == (D(100), 100.0)


def test_the_timer_asks_rebase_at_the_reset_and_the_band_takes_the_new_ceiling():
    async def main():
        loop = asyncio.get_running_loop()
        pnl: Feed[Decimal] = Feed("pnl", loop.time)
        told = Told()
        asked: list[float] = []

        def rebase() -> Decimal:
            asked.append(loop.time())
            return D(30)

        task = start("daily", pnl, told, current=Current("-10"), rebase=rebase)
        await asyncio.sleep(1)
        await put(pnl, task, "0")
        await asyncio.sleep(149)
        band = told.last
        await put(pnl, task, "-39.99")  # 29.99 below -10, under the new ceiling
        pnl.put(D(-40))
        return asked, band, await ended(task, DailyLossBreached)

    asked, band, error = run_virtual(main())
    assert asked == [100.0]
    assert band == Quiet(D(-40), None)
    assert (error.loss, error.ceiling, error.day_start) == (D(30), D(30), 100.0)


def _raises() -> Decimal:
    raise ValueError("the equity cannot be measured")


@pytest.mark.parametrize(
    ("more", "kind", "match"),
    [
        ({"current": Current("0"), "rebase": _raises}, ValueError, "cannot be measured"),
        ({"current": _raises}, ValueError, "cannot be measured"),
        ({"current": lambda: 1.5}, TypeError, "a PnL figure must be a Decimal, got float"),
        ({"current": lambda: D("NaN")}, ValueError, "a PnL figure must be finite"),
    ],
)
def test_a_timer_roll_that_fails_is_raised_by_the_breaker_at_the_next_figure(more, kind, match):
    async def main():
        pnl: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        told = Told()
        task = start("daily", pnl, told, **more)
        await asyncio.sleep(1)
        await put(pnl, task, "0")
        quiet = told.last
        await asyncio.sleep(149)  # the timer fails at 100: nothing is quiet any more
        waiting, band = not task.done(), told.last
        pnl.put(D(50))  # a figure that could not trip: it wakes the breaker, and must not raise
        error = await ended(task, kind)
        return quiet, waiting, band, error

    quiet, waiting, band, error = run_virtual(main())
    assert quiet == Quiet(D(-100), None)
    assert waiting and band is None
    assert match in str(error)


# --- the promise: skipping quiet figures changes nothing ------------------------------------


_WAIT = st.integers(0, 120)  # seconds to the next figure (figures fall at k + 0.25)
#: Near a multiple of 10: on the ends of the bands (the ceiling is 100), or just by them.
_NEAR_TENS = st.builds(
    lambda tens, little: D(10 * tens) + little,
    st.integers(-15, 15),
    st.sampled_from([D(0), D("0.01"), D("-0.01"), D("0.5"), D("-0.5")]),
)
_CENTS = st.integers(-4000, 4000).map(lambda cents: D(cents).scaleb(-2))


def _walk(steps: list[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    path, pnl = [], D(0)
    for wait, move in steps:
        pnl += move
        path.append((wait, pnl))
    return path


#: (seconds to wait, the PnL then): figures on a grid by the ceilings, or a random walk.
paths = st.one_of(
    st.lists(st.tuples(_WAIT, _NEAR_TENS), min_size=1, max_size=40),
    st.lists(st.tuples(_WAIT, st.one_of(_NEAR_TENS, _CENTS)), min_size=1, max_size=60).map(_walk),
)


def _inside(band: Quiet | None, figure: Decimal) -> bool:
    return (
        band is not None
        and (band.low is None or band.low < figure)
        and (band.high is None or figure < band.high)
    )


async def _both(kind: str, path: list[tuple[int, Decimal]]):
    """One breaker put every figure (days rolled at the next figure), one put only those
    outside its last band (days rolled by the timer, from the figure in force); the index
    of the figure each ended at, and what it raised."""
    loop = asyncio.get_running_loop()
    every: Feed[Decimal] = Feed("every", loop.time)
    skipping: Feed[Decimal] = Feed("skipping", loop.time)
    told = Told()
    pnl = D(0)
    more = {"current": lambda: pnl} if kind == "daily" else {}
    reference = start(kind, every, Told())
    quiet = start(kind, skipping, told, **more)
    await asyncio.sleep(0.25)
    ends: dict[str, int] = {}
    skipped = 0
    for i, (wait, then) in enumerate([(0, D(0)), *path]):
        await asyncio.sleep(wait)  # a reset may pass: current() is the PnL in force so far
        pnl = then
        figure = -pnl if kind == "max_loss" else pnl
        every.put(figure)
        if _inside(told.bands[-1] if told.bands else None, figure):
            skipped += 1
        else:
            skipping.put(figure)
        await settle()
        for name, task in (("every", reference), ("skipping", quiet)):
            if task.done() and name not in ends:
                ends[name] = i
        if reference.done() or quiet.done():
            break
    results = []
    for task in (reference, quiet):
        if not task.done():
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            results.append(None)
        except DrawdownBreached as error:
            results.append((type(error), str(error), error.loss))
    return ends, results, skipped


@pytest.mark.parametrize("kind", ["max_loss", "trailing", "daily"])
@settings(max_examples=300, deadline=None)
@given(path=paths)
def test_a_hand_over_that_skips_quiet_figures_trips_exactly_as_one_that_puts_them_all(kind, path):
    ends, (every, skipping), _ = run_virtual(_both(kind, path))
    assert ends.get("every") == ends.get("skipping")
    assert every == skipping


@pytest.mark.parametrize("kind", ["max_loss", "trailing", "daily"])
def test_the_bands_do_skip_figures(kind):
    """The equivalence above is not empty: on a book swinging inside every band (up 50,
    then 40 to 49.99 and back for 14 days of resets), only the new high is put."""
    path = _walk([(7, D(50))] + [(7, D(-10)), (7, D("9.99"))] * 100)
    ends, results, skipped = run_virtual(_both(kind, path))
    assert ends == {} and results == [None, None]
    # the daily limit also puts what comes within NEAR_RESET of each reset (1 s of 7)
    assert skipped >= (200 if kind != "daily" else 185)


def test_a_figure_that_beats_the_reset_timer_is_judged_against_the_figure_in_force():
    """A busy live loop: a figure arrives at the reset before the breaker's timer has run.

    0 is put, a rise to 500 is skipped (inside the band), then 350 arrives at the reset
    instant, handled before the timer. Putting every figure, the day's baseline is 500 and
    350 is a loss of 150: a trip. The band is withdrawn NEAR_RESET before the reset, with
    the figure in force (500) taken as the last, so the skipping hand-over trips too.
    """

    async def main():
        loop = asyncio.get_running_loop()
        pnl: Feed[Decimal] = Feed("pnl", loop.time)
        told = Told()
        current = Current("0")

        def hand_over(figure: Decimal) -> None:
            current.figure = figure
            band = told.bands[-1] if told.bands else None
            if band is not None and band.low < figure:  # the daily band has no top
                return  # quiet: skipped
            pnl.put(figure)

        real_call_at = loop.call_at

        def late_reset(when, callback, *args, **kwargs):  # a busy loop: the reset runs late
            if getattr(callback, "__name__", "") == "at_reset":
                when += 0.5
            return real_call_at(when, callback, *args, **kwargs)

        loop.call_at = late_reset  # type: ignore[method-assign]
        loop.call_at(100.0, hand_over, D(350))  # at the reset, before the breaker's timer
        task = start("daily", pnl, told, current=current)
        await settle()
        hand_over(D(0))
        await asyncio.sleep(1)
        hand_over(D(500))  # skipped: inside (-100, inf)
        assert pnl.received == 1
        await asyncio.sleep(150)
        return await ended(task, DailyLossBreached)

    error = run_virtual(main())
    assert (error.loss, error.day_start) == (D(150), 100.0)
