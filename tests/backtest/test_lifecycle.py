"""The watch's lifecycle in every order NautilusTrader allows: start, stop, reset, re-run,
dispose; and a kill before the engine runs. Judged by the engine's state."""

from __future__ import annotations

import invariants
import pytest
from invariants import checked
from nautilus_trader.model.enums import TradingState
from pnl import fills_of, first_breach

from nautilus_riskwatch import DrawdownBreached, ManualKill, RearmRefused, RiskWatchConfig
from nautilus_riskwatch.demo import build_engine
from nautilus_riskwatch.demo.engine import HEDGER_ID

build_engine = checked(build_engine)  # each run checks the invariants (conftest.py)

WATCH = {
    "feeds": [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}],
    "max_loss": "1000 USD",
    "hedge_tags": ["HEDGE"],
}


def _expected_trip(run):
    quote, loss = first_breach(
        fills_of(run.engine.cache), run.quotes, run.watch.record.cause.ceiling
    )
    return quote.ts_init, loss


def test_a_reset_run_starts_active_and_trips_again_on_its_own():
    run = build_engine(RiskWatchConfig(**WATCH))
    risk = run.engine.kernel.risk_engine
    run.engine.run()
    first = run.watch.record
    assert isinstance(first.cause, DrawdownBreached)
    assert risk.trading_state == TradingState.HALTED
    expected = _expected_trip(run)
    assert (first.tripped_at_ns, first.cause.loss) == expected

    run.engine.reset()
    assert risk.trading_state == TradingState.ACTIVE  # the watch undid what it set
    assert run.watch.record is first  # still readable until the next run starts
    run.engine.run()
    second = run.watch.record
    assert second is not None and second is not first
    # the second run traded (its first order was not denied) and tripped on its own data
    assert run.trader.denied == [] or all(
        d.ts_init > second.tripped_at_ns for d in run.trader.denied
    )
    assert (second.tripped_at_ns, second.cause.loss) == _expected_trip(run)
    assert second.complete
    assert [str(p.strategy_id) for p in run.engine.cache.positions_open()] == [HEDGER_ID]
    assert risk.trading_state == TradingState.HALTED


def test_a_reset_leaves_a_trading_state_someone_else_set_since_the_trip():
    run = build_engine(RiskWatchConfig(**WATCH))
    risk = run.engine.kernel.risk_engine
    run.engine.run()
    assert run.watch.record is not None
    risk.set_trading_state(TradingState.REDUCING)  # a human decided after the trip
    run.engine.reset()
    assert risk.trading_state == TradingState.REDUCING


@pytest.mark.parametrize("order", ["stop-resume", "reset-dispose", "dispose", "stop-reset-start"])
def test_every_lifecycle_order_is_clean(order):
    run = build_engine(RiskWatchConfig(**WATCH))
    watch = run.watch
    run.engine.run()  # start ... stop (the run's end stops the trader)
    if order == "stop-resume":
        tripped = watch.record
        with pytest.raises(RearmRefused, match="resume it to re-arm"):
            watch.rearm(who="ops")
        watch.resume()
        assert watch.is_running
        assert watch.record is tripped  # the trip holds over stop/resume ...
        assert watch.rearm(who="ops") == "ACTIVE"  # ... until a re-arm
        assert watch.record is None and watch.records == [tripped]
        watch.stop()
    elif order == "reset-dispose":
        run.engine.reset()
        invariants.dispose(run.engine)
    elif order == "dispose":
        invariants.dispose(run.engine)
    else:
        run.engine.reset()
        run.engine.run()
        assert watch.record is not None
    with pytest.raises(RearmRefused, match="the watch is not running"):
        watch.rearm(who="ops")


def test_rearm_after_dispose_is_refused_sensibly():
    run = build_engine(RiskWatchConfig(**WATCH))
    run.engine.run()
    invariants.dispose(run.engine)
    with pytest.raises(RearmRefused) as refused:
        run.watch.rearm(who="ops")
    assert "not running (state DISPOSED)" in str(refused.value)
    assert "no such scope" not in str(refused.value)


def test_a_kill_before_the_engine_runs_is_latched_and_trips_at_start():
    run = build_engine(RiskWatchConfig(**WATCH))
    run.watch.kill("desk closed for the day", who="ops")
    run.engine.run()
    record = run.watch.record
    assert isinstance(record.cause, ManualKill) and record.cause.who == "ops"
    start_ns = run.quotes[0].ts_init
    assert record.tripped_at_ns <= start_ns  # before the first quote: nothing traded
    cache = run.engine.cache
    assert cache.positions_open() == [] and cache.orders_open() == []
    assert [f for f in fills_of(cache)] == []
    assert run.trader.denied  # the trader's orders met the HALTED state
    assert run.engine.kernel.risk_engine.trading_state == TradingState.HALTED
