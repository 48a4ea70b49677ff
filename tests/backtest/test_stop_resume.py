"""A trip survives the watch's lifecycle: stopping and resuming the watch (a Controller may
do it) keeps the block, the order gate and the record; only a re-arm lifts them.

Judged by the engine's cache: after the resume, orders of the tripped scope never trade,
by any path (an emulated stop goes past the RiskEngine's HALTED; a strategy-scoped block
is the gate's alone). Each scenario has a control run in which the same orders trade.
"""

from __future__ import annotations

from nautilus_trader.model.enums import OrderSide, TradingState, TriggerType
from nautilus_trader.model.objects import Price, Quantity
from scripted import Scripted, build
from test_order_paths import kill, market

from nautilus_riskwatch import DrawdownBreached, ManualKill, RearmRefused, RiskWatchConfig

TRIP, STOP, RESUME, AFTER, REARM, AGAIN = 50, 100, 110, 150, 2_500, 2_600
SCOPE = "strategy Scripted-001"


def stop(s: Scripted, tick) -> None:
    s.stopped_at = tick.ts_init
    s.watch.stop()


def resume(s: Scripted, _tick) -> None:
    s.watch.resume()
    s.resumed = s.watch.is_running


def rearm(s: Scripted, tick) -> None:
    s.rearmed_at = tick.ts_init
    try:
        s.rearm_state = s.watch.rearm(who="test", reason="after the resume")
    except RearmRefused as refused:
        s.rearm_state = f"refused: {refused}"


def emulated_stop(s: Scripted, _tick) -> None:
    """A buy stop the emulator holds; the ask reaches it later in the recorded quotes."""
    s.submit_order(
        s.order_factory.stop_market(
            s.instrument_id,
            OrderSide.BUY,
            Quantity.from_int(100_000),
            Price.from_str("1.12200"),
            emulation_trigger=TriggerType.BID_ASK,
        )
    )


def _run(config: RiskWatchConfig | None, script: dict):
    run = build(config, [script])
    for strategy in run.strategies:
        strategy.watch = run.watch
    run.engine.run()
    return run


def _bought_after(run, strategy, ns: int) -> list[str]:
    return [str(f.last_qty) for f in run.fills_after(ns, strategy) if f.order_side == OrderSide.BUY]


# --- a portfolio trip: HALTED stays, and the gate must stay with it -------------------------
PORTFOLIO_SCRIPT = {
    1: market("BUY"),
    TRIP: kill,
    STOP: stop,
    RESUME: resume,
    AFTER: emulated_stop,
    REARM: rearm,
    AGAIN: market("BUY", 200_000),
}


def test_control_the_emulated_stop_and_the_later_order_trade_without_the_watch():
    script = {1: market("BUY"), AFTER: emulated_stop, AGAIN: market("BUY", 200_000)}
    run = _run(None, script)
    [s] = run.strategies
    assert _bought_after(run, s, 0) == ["100000", "100000", "200000"]


def test_stop_and_resume_after_a_portfolio_trip_keeps_the_block_the_gate_and_the_record():
    run = _run(RiskWatchConfig(max_loss="1000000 USD"), PORTFOLIO_SCRIPT)
    [s] = run.strategies
    assert s.resumed
    # the engine: nothing bought between the trip and the re-arm; the emulated stop was
    # denied at the gate, though the RiskEngine's HALTED never sees an emulated order
    opened_at = next(f.ts_event for f in run.fills_after(0, s) if f.order_side == OrderSide.BUY)
    assert _bought_after(run, s, opened_at) == ["200000"]  # only the one after the re-arm
    assert [f.ts_event >= s.rearmed_at for f in run.fills_after(opened_at, s)] == [True]
    [denied] = s.denied
    assert "after a trip" in denied.reason
    # the record survived the resume, and the re-arm lifted the trip (it is history now)
    assert s.rearm_state == "ACTIVE"
    [record] = run.watch.records
    assert isinstance(record.cause, ManualKill) and record.complete
    assert run.watch.record is None
    assert run.engine.kernel.risk_engine.trading_state == TradingState.ACTIVE
    assert run.live_orders(s) == []


def test_while_stopped_and_after_the_resume_the_record_reads_the_same():
    script = {1: market("BUY"), TRIP: kill, STOP: stop, RESUME: resume}
    seen = {}

    def look(key):
        def step(s, _tick):
            seen[key] = (s.watch.record, list(s.watch.records), s.watch.scope_records)

        return step

    run = _run(
        RiskWatchConfig(max_loss="1000000 USD"),
        {**script, 105: look("stopped"), 120: look("resumed")},
    )
    record = run.watch.record
    assert isinstance(record.cause, ManualKill)
    assert seen["stopped"] == (record, [], {})
    assert seen["resumed"] == (record, [], {})
    assert run.engine.kernel.risk_engine.trading_state == TradingState.HALTED


# --- a strategy-scoped limit: its block is the gate's alone ---------------------------------
SCOPED = RiskWatchConfig(limits=[{"max_loss": "5 USD", "strategy_id": "Scripted-001"}])
SCOPED_SCRIPT = {1: market("BUY", 1_000_000), STOP: stop, RESUME: resume, AFTER: market("BUY")}


def test_control_the_scoped_strategys_market_order_trades_without_the_watch():
    run = _run(None, SCOPED_SCRIPT | {STOP: lambda *_: None, RESUME: lambda *_: None})
    [s] = run.strategies
    assert _bought_after(run, s, 0) == ["1000000", "100000"]


def test_stop_and_resume_after_a_scoped_trip_keeps_the_strategy_blocked():
    run = _run(SCOPED, SCOPED_SCRIPT)
    [s] = run.strategies
    assert s.resumed
    # the engine: the market order after the resume never traded, the strategy is flat
    assert run.fills_after(s.stopped_at, s) == []
    assert run.open_positions(s) == [] and run.live_orders(s) == []
    [denied] = s.denied
    assert denied.reason.endswith("Scripted-001 blocked after a trip of its limit")
    # the RiskEngine was never halted: the block is the gate's, and it held
    assert run.engine.kernel.risk_engine.trading_state == TradingState.ACTIVE
    # and the record is the trip before the stop, still there
    record = run.watch.scope_records[SCOPE]
    assert record is not None and isinstance(record.cause, DrawdownBreached)
    assert record.tripped_at_ns < s.stopped_at and record.complete
