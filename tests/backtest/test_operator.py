"""Operator controls in real backtests: kill by command, re-arm, refusals, the latch."""

from __future__ import annotations

from decimal import Decimal

import pytest
from invariants import checked
from nautilus_trader.common.actor import Actor
from nautilus_trader.model.enums import TradingState

from nautilus_riskwatch import (
    DrawdownBreached,
    KillCommand,
    ManualKill,
    RearmCommand,
    RearmRefused,
    RiskWatchConfig,
    command_endpoint,
)
from nautilus_riskwatch.demo import build_engine, eurusd_instrument
from nautilus_riskwatch.demo.engine import HEDGER_ID

build_engine = checked(build_engine)  # each run checks the invariants (conftest.py)

SECOND = 1_000_000_000
WATCH = {
    "feeds": [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}],
    "hedge_tags": ["HEDGE"],
}


class Operator(Actor):
    """Runs a script of ``{quote number: action}`` against the watch, via the bus."""

    def __init__(self, watch, script) -> None:
        super().__init__()
        self.watch, self.script, self.n, self.seen = watch, script, 0, []

    def on_start(self) -> None:
        self.subscribe_quote_ticks(eurusd_instrument().id)
        self.msgbus.subscribe(topic="events.riskwatch.*", handler=self.seen.append)

    def on_quote_tick(self, tick) -> None:
        self.n += 1
        action = self.script.get(self.n)
        if action is not None:
            action(self)

    def send(self, command) -> None:
        self.msgbus.send(endpoint=command_endpoint(self.watch.id), msg=command)


def _run(config, script, **kwargs):
    run = build_engine(RiskWatchConfig(**config), **kwargs)
    operator = Operator(run.watch, script)
    operator.risk_engine = run.engine.kernel.risk_engine
    run.engine.add_actor(operator)
    run.engine.run()
    return run, operator


def test_kill_by_command_on_the_bus_is_attributed_and_flattens():
    run, operator = _run(WATCH, {100: lambda op: op.send(KillCommand("venue outage", who="ops-1"))})
    record = run.watch.record
    assert isinstance(record.cause, ManualKill)
    assert (record.cause.who, record.cause.reason) == ("ops-1", "venue outage")
    assert record.complete and operator.seen == [record]
    assert [str(p.strategy_id) for p in run.engine.cache.positions_open()] == [HEDGER_ID]


def test_rearm_restarts_the_watch_and_restores_the_state_it_set():
    states = []
    script = {
        100: lambda op: op.send(KillCommand("first", who="ops")),
        200: lambda op: (
            op.send(RearmCommand("all clear", who="risk-officer")),
            states.append(op.risk_engine.trading_state),
        ),
        3_000: lambda op: op.send(KillCommand("second", who="ops")),
    }
    run, operator = _run(WATCH, script)
    first, second = run.watch.records[0], run.watch.record
    assert [first.cause.reason, second.cause.reason] == ["first", "second"]
    assert states == [TradingState.ACTIVE]  # restored by the re-arm
    # between the two trips the trader traded again (its re-orders were accepted) ...
    accepted_between = [
        o
        for o in run.engine.cache.orders()
        if str(o.strategy_id) == "DemoTrader-001"
        and first.finished_at_ns < o.ts_init < second.tripped_at_ns
    ]
    assert accepted_between and not any(
        o.is_closed and o.status_string() == "DENIED" for o in accepted_between
    )
    # ... and the second cascade took it down again
    assert second.complete and len(second.orders_cancelled) == len(accepted_between)
    assert operator.seen == [first, second]


def test_rearm_is_refused_with_a_reason():
    refusals: list[str] = []

    def rearm(op):
        try:
            op.watch.rearm(who="ops")
        except RearmRefused as refused:
            refusals.append(str(refused))

    def kill_then_rearm_in_flight(op):
        op.send(KillCommand("go", who="ops"))
        assert op.watch.record is not None and op.watch.record.stage != "done"
        rearm(op)  # the cascade is in flight: the venue answers after 1 s

    script = {
        50: rearm,  # nothing has tripped
        100: kill_then_rearm_in_flight,
        3_000: rearm,  # cooling down: a day
    }
    config = {**WATCH, "rearm_cooldown": 86_400.0}
    run, _ = _run(config, script, latency_ms=1_000)
    assert refusals[0] == "nothing has tripped"
    assert refusals[1].startswith("the risk-off cascade is in flight (stage ")
    assert (
        refusals[2].startswith("cooling down: ") and "s left of the rearm_cooldown" in refusals[2]
    )
    assert run.watch.records == []  # never re-armed
    # a refused re-arm by command is published on the bus, with its reason
    _, operator2 = _run(WATCH, {50: lambda op: op.send(RearmCommand("why not", who="intern"))})
    assert [str(e) for e in operator2.seen] == ["nothing has tripped"]


def test_rearm_leaves_a_state_someone_else_set():
    def halt_by_hand(op):
        op.risk_engine.set_trading_state(TradingState.REDUCING)

    states = []
    script = {
        100: lambda op: op.send(KillCommand("go", who="ops")),
        150: halt_by_hand,
        200: lambda op: states.append(op.watch.rearm(who="ops")),
    }
    run, _ = _run(WATCH, script)
    assert states == ["unchanged: someone set REDUCING since the trip"]
    assert run.engine.kernel.risk_engine.trading_state == TradingState.REDUCING


def test_a_loss_that_recovers_a_tick_later_does_not_undo_the_trip():
    """Mark-to-market flapping: the trip latches."""
    run = build_engine(RiskWatchConfig(**WATCH, max_loss="1000 USD"))
    run.engine.run()
    record = run.watch.record
    assert isinstance(record.cause, DrawdownBreached)
    # the quote after the trip marks the (now closed) short lower: the loss "recovered"
    trip_index = next(i for i, q in enumerate(run.quotes) if q.ts_init == record.tripped_at_ns)
    after = run.quotes[trip_index + 1]
    assert after.ask_price.as_decimal() < run.quotes[trip_index].ask_price.as_decimal()
    assert (
        record.stage == "done"
        and run.engine.kernel.risk_engine.trading_state == TradingState.HALTED
    )
    assert run.watch.records == []  # one trip; nothing re-armed itself


@pytest.mark.parametrize("cooldown", [-1.0, float("inf"), "soon"])
def test_bad_cooldowns_are_refused(cooldown):
    from nautilus_riskwatch import RiskWatchConfigError

    with pytest.raises(RiskWatchConfigError, match="rearm_cooldown"):
        RiskWatchConfig(**WATCH, rearm_cooldown=cooldown)


def test_the_loss_is_the_sessions_across_a_rearm():
    script = {
        100: lambda op: op.send(KillCommand("go", who="ops")),
        200: lambda op: op.watch.rearm(who="ops"),
    }
    run, _ = _run({**WATCH, "max_loss": "100000 USD"}, script)
    assert isinstance(run.watch.loss, Decimal) and run.watch.loss > 0


def test_the_whole_books_old_name_trader_still_rearms_with_a_deprecation_warning():
    """Before 0.2 the whole book was the scope "trader" in re-arms and commands; it is
    "portfolio" everywhere now, and an operator's old spelling still works (and says so)."""
    with pytest.warns(DeprecationWarning, match='"trader" is now called "portfolio"'):
        command = RearmCommand("all clear", who="ops", scope="trader")
    assert command.scope == "portfolio"
    spelled: list[str] = []

    def rearm_the_old_way(op):
        with pytest.warns(DeprecationWarning, match='"trader" is now called "portfolio"'):
            spelled.append(op.watch.rearm(who="ops", scope="trader"))

    script = {
        100: lambda op: op.send(KillCommand("first", who="ops")),
        200: rearm_the_old_way,
        3_000: lambda op: op.send(KillCommand("second", who="ops")),
    }
    run, _ = _run(WATCH, script)
    assert spelled == ["ACTIVE"]
    first, second = run.watch.records[0], run.watch.record
    assert [first.cause.reason, second.cause.reason] == ["first", "second"]
    assert first.scope == second.scope == "portfolio"
