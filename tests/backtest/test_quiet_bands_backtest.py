"""Quiet bands on a real backtest: marks inside every limit's band are not put, and that
changes nothing a limit decides.

The recorded EUR/USD quotes (2020-01-01, 17:00 to 23:00 UTC) with the demo trader's one
position. Each run is compared with the same run where the guard is never told a band
(``Guard._told`` a no-op leaves ``quiet_low == quiet_high == 0``: every figure is put).
"""

from __future__ import annotations

import json
from decimal import Decimal
from itertools import pairwise

import pytest
from invariants import checked
from nautilus_trader.common.actor import Actor
from nautilus_trader.model.enums import OrderSide
from pnl import fills_of, loss_at

from nautilus_riskwatch import RiskWatchConfig
from nautilus_riskwatch.core.ledger import to_raw
from nautilus_riskwatch.core.trips import (
    DailyLossBreached,
    DrawdownBreached,
    TrailingDrawdownBreached,
)
from nautilus_riskwatch.demo import build_engine, eurusd_instrument
from nautilus_riskwatch.nautilus import guard as guard_module
from nautilus_riskwatch.nautilus.guard import Guard

build_engine = checked(build_engine)  # each run checks the invariants (conftest.py)

FEED = {"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}
FAR = "1000000 USD"  # never reached on this day: a band that holds every mark


def _never_told(self, index, kind, band):
    """``Guard._told`` that ignores the band: the guard puts every figure, as before."""


def _run(config: RiskWatchConfig, *, quiet: bool = True, monkeypatch=None, **build):
    if not quiet:
        assert monkeypatch is not None
        with monkeypatch.context() as patch:
            patch.setattr(Guard, "_told", _never_told)
            return _run(config, **build)
    run = build_engine(config, **build)
    run.engine.run()
    return run


def _limit_feed(run):
    """The portfolio guard's one limit feed."""
    (feed,) = run.watch.session.guards[0].limit_feeds
    return feed


def _moved(run) -> int:
    """Quotes after the position opened that moved the price it is marked at (a short at
    the ask, a long at the bid)."""
    fills = fills_of(run.engine.cache)
    assert len(fills) == 1  # one position, opened on the first quote
    short = fills[0].order_side == OrderSide.SELL
    since = [q for q in run.quotes if q.ts_init >= fills[0].ts_event]
    side = [q.ask_price if short else q.bid_price for q in since]
    return sum(1 for a, b in pairwise(side) if a != b)


def test_with_a_far_ceiling_the_marks_are_not_put_and_the_loss_stays_exact(monkeypatch):
    config = RiskWatchConfig(feeds=[FEED], max_loss=FAR)
    quiet = _run(config, hedger=False)
    loud = _run(config, quiet=False, monkeypatch=monkeypatch, hedger=False)
    moved = _moved(quiet)
    assert moved > 5_000  # a real day of marks
    assert _limit_feed(loud).received >= moved  # without bands, every moving mark is put
    assert _limit_feed(quiet).received < 0.05 * moved  # with them: the arming and the fill
    # the ledger was marked all the same: the loss is exact, by brute force over the fills
    fills = fills_of(quiet.engine.cache)
    exact = loss_at(fills, quiet.quotes[-1])
    assert quiet.watch.loss == loud.watch.loss == exact
    assert quiet.watch.record is None and loud.watch.record is None


TRIPS = {
    # ceiling: a short reaches a loss of 1212.42 at 19:39:41.458
    "max_loss": (
        {"max_loss": "1200 USD"},
        {"trader_side": "SELL"},
        DrawdownBreached,
        1_577_909_981_458_000_000,
    ),
    # a long makes 707.57, then gives back 1010.00 of it by 22:42:20.048
    "trailing": (
        {"limits": [{"trailing": "1000 USD"}]},
        {"trader_side": "BUY"},
        TrailingDrawdownBreached,
        1_577_918_540_048_000_000,
    ),
    # the day rolls at 17:20 (inside the data); 900.00 lost since then by 19:39:41.661
    "daily": (
        {"limits": [{"daily": "900 USD", "daily_reset": "17:20", "daily_tz": "UTC"}]},
        {"trader_side": "SELL"},
        DailyLossBreached,
        1_577_909_981_661_000_000,
    ),
}


@pytest.mark.parametrize("kind", list(TRIPS))
def test_each_limit_trips_at_the_same_mark_with_bands_as_without(kind, monkeypatch):
    limit, build, cause, at_ns = TRIPS[kind]
    config = RiskWatchConfig(feeds=[FEED], **limit)
    quiet = _run(config, hedger=False, **build)
    loud = _run(config, quiet=False, monkeypatch=monkeypatch, hedger=False, **build)
    a, b = quiet.watch.record, loud.watch.record
    assert a is not None and b is not None
    assert type(a.cause) is type(b.cause) is cause
    assert a.tripped_at_ns == b.tripped_at_ns == at_ns
    assert str(a.cause) == str(b.cause) and a.cause.loss == b.cause.loss
    assert a.complete and b.complete
    # the bands were engaged: most marks before the trip were never put
    assert _limit_feed(quiet).received * 10 < _limit_feed(loud).received


def test_the_daily_case_is_one_the_timer_roll_decides(monkeypatch):
    """Rolled only at the next figure put, the quiet daily limit would take the PnL at the
    fill (the last figure put before 17:20) as the day's baseline, and miss the trip above:
    the equivalence there holds because the day rolls by the timer, from the figure in
    force."""
    limit, build, _, _ = TRIPS["daily"]
    real = guard_module.daily_breaker

    def without_current(*args, current=None, **kwargs):
        return real(*args, **kwargs)

    monkeypatch.setattr(guard_module, "daily_breaker", without_current)
    run = _run(RiskWatchConfig(feeds=[FEED], **limit), hedger=False, **build)
    assert run.watch.record is None


class Peek(Actor):
    """Reads the portfolio guard's quiet bounds on every quote, as the run goes."""

    def __init__(self, watch) -> None:
        super().__init__()
        self.watch = watch
        self.bounds: list[tuple[float, float]] = []

    def on_start(self) -> None:
        self.subscribe_quote_ticks(eurusd_instrument().id)

    def on_quote_tick(self, tick) -> None:
        guards = self.watch.session.guards
        if guards:
            self.bounds.append((guards[0].quiet_low, guards[0].quiet_high))


def _peeked(config: RiskWatchConfig):
    run = build_engine(config, hedger=False)
    peek = Peek(run.watch)
    run.engine.add_actor(peek)
    run.engine.run()
    return run, peek.bounds


def test_with_pnl_samples_on_the_guard_never_goes_quiet(tmp_path):
    log = tmp_path / "events.jsonl"
    config = RiskWatchConfig(feeds=[FEED], max_loss=FAR, event_log=str(log))
    assert config.event_log_pnl_every == 10.0  # samples are on with an event log
    run, bounds = _peeked(config)
    assert len(bounds) > 9_000
    assert set(bounds) == {(0, 0)}  # every figure is put, for the sampler
    assert _limit_feed(run).received >= _moved(run)
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert events.count("pnl") > 100  # the sampler did write the curve
    # the same run without the event log does go quiet: the peek would have seen it
    control, peeked = _peeked(RiskWatchConfig(feeds=[FEED], max_loss=FAR))
    quiet = [b for b in peeked if b != (0, 0)]
    assert len(quiet) > 9_000
    places = control.watch.session.guards[0].ledger.money_places
    assert set(quiet) == {(to_raw(Decimal("-1000000"), places), float("inf"))}
