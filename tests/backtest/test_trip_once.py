"""A kill trips exactly once, whatever rests, and a re-arm never trips on it again.

In a backtest the venue answers the watch's commands in the same call: the close's
``OrderSubmitted`` (and its fill) reach the watch's order handler while the cascade's task
is still running on the watch's loop. Those answers must be queued for the running step,
never stepped nested inside it (asyncio then drops a task's wake-up: the supervisor never
collapses, and the next re-arm trips again on the kill it already handled).

Judged by the engine: after the re-arm the strategy trades again and keeps what it bought.
"""

from __future__ import annotations

import logging

import pytest
from nautilus_trader.model.enums import OrderSide, TradingState
from nautilus_trader.model.objects import Price, Quantity
from scripted import Scripted, build
from test_order_paths import kill, market

from nautilus_riskwatch import ManualKill, RiskWatchConfig

TRIP, REARM, AGAIN = 50, 200, 210


def rearm(s: Scripted, _tick) -> None:
    s.rearm_state = s.watch.rearm(who="test", reason="kill handled")


def resting_limit(s: Scripted, _tick) -> None:
    """A buy limit far under the market: it rests at the venue, never fills."""
    s.submit_order(
        s.order_factory.limit(
            s.instrument_id, OrderSide.BUY, Quantity.from_int(100_000), Price.from_str("1.10000")
        )
    )


RESTING = {
    "nothing": {},
    "a resting order": {2: resting_limit},
    "a kept hedge": {2: market("SELL", 50_000, tags=["HEDGE"])},
}


def _run(config: RiskWatchConfig | None, extra: dict, *, with_kill: bool = True):
    script = {1: market("BUY"), **extra, AGAIN: market("BUY", 200_000)}
    if with_kill:
        script |= {TRIP: kill, REARM: rearm}
    run = build(config, [script])
    for strategy in run.strategies:
        strategy.watch = run.watch
    run.engine.run()
    return run


def _bought_after(run, strategy, ns: int) -> list[str]:
    return [str(f.last_qty) for f in run.fills_after(ns, strategy) if f.order_side == OrderSide.BUY]


def test_control_the_order_after_the_rearm_trades_when_nobody_pulls_the_switch():
    run = _run(None, {}, with_kill=False)
    [s] = run.strategies
    assert _bought_after(run, s, 0) == ["100000", "200000"]
    assert run.open_positions(s) == ["LONG 100000", "LONG 200000"]


@pytest.mark.parametrize("rests", list(RESTING))
def test_a_kill_trips_once_whatever_rests_and_the_rearm_does_not_trip_again(rests, caplog, capfd):
    caplog.set_level(logging.ERROR, logger="asyncio")
    watch = RiskWatchConfig(max_loss="1000000 USD", hedge_tags=["HEDGE"])
    run = _run(watch, RESTING[rests])
    logged = "".join(capfd.readouterr())  # the engine's log of the run
    assert "could not trip" not in logged and "[ERROR]" not in logged
    [s] = run.strategies
    # one trip, on the kill, complete; and it was re-armed (the record moved to the history)
    [record] = run.watch.records
    assert isinstance(record.cause, ManualKill) and record.suppressed == []
    assert record.stage == "done" and record.complete, record.report()
    assert record.positions_closed == ["SIM-1-001"]
    assert s.rearm_state == "ACTIVE"
    # the engine: after the re-arm the strategy traded again and kept what it bought
    assert run.watch.record is None  # nothing tripped again
    assert run.engine.kernel.risk_engine.trading_state == TradingState.ACTIVE
    assert _bought_after(run, s, record.finished_at_ns) == ["200000"]
    longs = [p for p in run.open_positions(s) if p.startswith("LONG")]
    assert longs == ["LONG 200000"]
    # and asyncio never refused to run one of the watch's tasks
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
