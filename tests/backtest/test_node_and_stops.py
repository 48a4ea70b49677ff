"""Configuration-only runs, stopping mid-cascade, and failures inside the watch."""

from __future__ import annotations

from decimal import Decimal

import pytest
from invariants import checked
from nautilus_trader.backtest.node import BacktestNode
from nautilus_trader.common.actor import Actor

from nautilus_riskwatch import RiskWatchConfig, WatchFailure
from nautilus_riskwatch.core.ledger import PnlLedger
from nautilus_riskwatch.demo import build_engine, eurusd_instrument, eurusd_quotes
from nautilus_riskwatch.demo.engine import HEDGER_ID
from nautilus_riskwatch.demo.node import backtest_run_config, write_catalog

build_engine = checked(build_engine)  # each run checks the invariants (conftest.py)

WATCH = {
    "feeds": [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}],
    "max_loss": "1000 USD",
    "hedge_tags": ["HEDGE"],
    "confirm_timeout": 5.0,
}


def _open_book(engine):
    cache = engine.cache
    orders = sorted((str(o.strategy_id), o.tags) for o in cache.orders_open())
    positions = sorted((str(p.strategy_id), p.side.name) for p in cache.positions_open())
    return orders, positions


def test_a_backtest_node_configured_only_through_importable_configs(tmp_path):
    write_catalog(str(tmp_path))
    run_config = backtest_run_config(str(tmp_path), WATCH)
    assert [type(a).__name__ for a in run_config.engine.actors] == ["ImportableActorConfig"]
    node = BacktestNode(configs=[run_config])
    node.run()
    engine = node.get_engine(run_config.id)
    [watch] = engine.trader.actors()

    direct = build_engine(RiskWatchConfig(**WATCH))
    direct.engine.run()
    assert watch.record is not None
    assert watch.record.tripped_at_ns == direct.watch.record.tripped_at_ns
    assert watch.record.cause.loss == direct.watch.record.cause.loss
    assert watch.record.complete
    assert _open_book(engine) == ([(HEDGER_ID, ["HEDGE"])], [(HEDGER_ID, "LONG")])
    node.dispose()


class _StopTheWatchMidCascade(Actor):
    """Stops the watch at the first quote that finds its cascade in flight."""

    def __init__(self, watch) -> None:
        super().__init__()
        self.watch = watch
        self.stopped_at_stage: str | None = None

    def on_start(self) -> None:
        self.subscribe_quote_ticks(eurusd_instrument().id)

    def on_quote_tick(self, tick) -> None:
        record = self.watch.record
        if self.stopped_at_stage is None and record is not None and record.stage != "done":
            self.stopped_at_stage = record.stage
            self.watch.stop()


def test_the_watch_stopped_mid_cascade_still_leaves_the_book_flat():
    # One second of venue latency keeps the cancels in flight across several quotes.
    run = build_engine(RiskWatchConfig(**WATCH), latency_ms=1_000)
    stopper = _StopTheWatchMidCascade(run.watch)
    run.engine.add_actor(stopper)
    run.engine.run()
    record = run.watch.record
    assert stopper.stopped_at_stage in ("cancelling", "flattening")
    assert record.hurried
    assert record.stage == "done"
    # the engine ran on, the venue answered what the hurried cascade sent: flat but the hedge
    assert _open_book(run.engine) == ([(HEDGER_ID, ["HEDGE"])], [(HEDGER_ID, "LONG")])


def test_the_run_ending_mid_cascade_sends_the_rest_and_says_so():
    # Cut the data a moment after the trip, with a slow venue: the cascade is in flight
    # when the engine ends the run and stops the watch.
    full = build_engine(RiskWatchConfig(**WATCH), latency_ms=1_000)
    full.engine.run()
    trip = full.watch.record.tripped_at_ns
    instrument = eurusd_instrument()
    quotes = eurusd_quotes(instrument, keep=lambda ts: ts <= trip)
    run = build_engine(RiskWatchConfig(**WATCH), quotes=quotes, latency_ms=1_000)
    run.engine.run()
    record = run.watch.record
    assert record.tripped_at_ns == trip
    assert record.hurried and record.stage == "done"
    assert not record.complete
    # The slow venue never answered before the run ended: the record says exactly what is
    # left, and that is what the engine's cache shows.
    cache = run.engine.cache
    trader_orders = sorted(
        o.client_order_id.value for o in cache.orders_open() if str(o.strategy_id) != HEDGER_ID
    )
    trader_positions = [
        p.id.value for p in cache.positions_open() if str(p.strategy_id) != HEDGER_ID
    ]
    assert trader_orders and trader_positions
    assert sorted(record.orders_unconfirmed) == trader_orders
    assert record.positions_unflattened == trader_positions


def test_an_error_inside_the_watch_trips_it_and_does_not_abort_the_run(monkeypatch):
    calls = 0
    real_mark = PnlLedger.mark_raw  # the mark every quote makes

    def failing_mark(self, instrument, bid, ask):
        nonlocal calls
        calls += 1
        if calls == 500:
            raise ArithmeticError("ledger broke")
        return real_mark(self, instrument, bid, ask)

    monkeypatch.setattr(PnlLedger, "mark_raw", failing_mark)
    run = build_engine(RiskWatchConfig(**WATCH))
    run.engine.run()  # must not raise
    record = run.watch.record
    assert isinstance(record.cause, WatchFailure)
    assert record.cause.where == "on_quote_tick"
    assert "ArithmeticError: ledger broke" in str(record.cause)
    assert record.complete
    assert _open_book(run.engine) == ([(HEDGER_ID, ["HEDGE"])], [(HEDGER_ID, "LONG")])


def test_the_watch_reports_the_exact_loss_while_running():
    run = build_engine(RiskWatchConfig(**{**WATCH, "max_loss": "1000000 USD"}))
    run.engine.run()
    assert run.watch.record is None
    assert isinstance(run.watch.loss, Decimal)
    # the trader's short is still open at the end: loss is marked, not zero
    assert run.watch.loss != 0


@pytest.mark.parametrize("oms", ["HEDGING", "NETTING"])
def test_a_manual_kill_trips_like_any_other_cause(oms):
    class _Killer(Actor):
        def on_start(self) -> None:
            self.subscribe_quote_ticks(eurusd_instrument().id)
            self.n = 0

        def on_quote_tick(self, tick) -> None:
            self.n += 1
            if self.n == 3_000:
                run.watch.kill("desk saw a fat finger", who="ops-desk")

    config = RiskWatchConfig(**{**WATCH, "max_loss": "1000000 USD"})
    run = build_engine(config, oms_type=oms, hedger=(oms == "HEDGING"))
    run.engine.add_actor(_Killer())
    run.engine.run()
    record = run.watch.record
    assert record.cause.describe() == {
        "kind": "manual",
        "message": "manual kill by ops-desk: desk saw a fat finger",
        "reason": "desk saw a fat finger",
        "who": "ops-desk",
    }
    assert record.complete


def test_engine_run_called_from_inside_a_running_event_loop():
    """A notebook cell or an ``async def main``: the watch steps its own loop and gives
    the thread's running loop back afterwards."""
    import asyncio

    async def main():
        outer = asyncio.get_running_loop()
        run = build_engine(RiskWatchConfig(**WATCH))
        run.engine.run()
        assert asyncio.get_running_loop() is outer
        await asyncio.sleep(0)  # the outer loop still works
        return run

    run = asyncio.run(main())
    assert run.watch.record.complete
    assert _open_book(run.engine) == ([(HEDGER_ID, ["HEDGE"])], [(HEDGER_ID, "LONG")])
