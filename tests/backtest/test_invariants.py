"""The invariant checks themselves (``tests/invariants.py``) must bite: a watch broken on
purpose (its cancels dropped, its gate opened, its idea of protective lost) and a record
tampered with after the run are each caught, by the right invariant, naming the offender.
The unbroken run of each scenario passes every check: the control."""

from __future__ import annotations

import pytest
from invariants import InvariantViolated, attached
from scripted import Scripted, build
from test_order_paths import LATER, TRIP, emulated_book, kill, market

from nautilus_riskwatch import RiskWatchConfig
from nautilus_riskwatch.core.cascade import KillSwitch
from nautilus_riskwatch.nautilus.book import NautilusBook

WATCH = RiskWatchConfig(max_loss="1000000 USD", hedge_tags=["HEDGE"])


def _run(scripts, **kwargs):
    run = build(WATCH, scripts, **kwargs)
    for strategy in run.strategies:
        strategy.watch = run.watch
    run.engine.run()
    attached()  # checked here, by hand: the conftest must not check them again
    return run


def _violations(run, prefix: str) -> list[str]:
    return [v for v in run.invariants.violations() if v.startswith(prefix)]


BOOK = {1: market("BUY"), 2: emulated_book, TRIP: kill}
HEDGED = [BOOK, {1: market("SELL", 300_000, ["HEDGE"])}]


def test_control_an_unbroken_watch_passes_every_check():
    run = _run(HEDGED)
    assert run.watch.record.complete
    assert run.invariants.violations() == []
    run.invariants.check()


def test_dropped_cancels_leave_live_orders_that_check_1_names(monkeypatch):
    monkeypatch.setattr(NautilusBook, "cancel", lambda self, ids: None)
    run = _run(HEDGED)
    flat = _violations(run, "[1 flat]")
    # every order the watch failed to cancel is named: the bracket's held children live on
    live = run.live_orders(run.strategies[0])
    assert live and all(any(o.split(":")[0] in v for v in flat) for o in live)
    assert any("OrderManager (contingent)" in v for v in flat)
    with pytest.raises(InvariantViolated, match=r"\[1 flat\].*is live"):
        run.invariants.check()
    # a record that said complete here would be caught lying
    record = run.watch.record
    assert not record.complete and not _violations(run, "[4 record]")
    record.left_live, record.orders_unconfirmed = [], []
    [lie] = [v for v in _violations(run, "[4 record]") if "says complete" in v]
    assert "leftover(s)" in lie


def test_an_open_gate_lets_orders_fill_after_the_trip_and_check_2_names_them(monkeypatch):
    monkeypatch.setattr(NautilusBook, "denies", lambda self, order, position_id=None: None)
    monkeypatch.setattr(NautilusBook, "halt", lambda self: "unchanged (sabotaged)")
    # and no hold after the cascade, which would flatten what the open gate let in
    monkeypatch.setattr(KillSwitch, "hold", lambda self: None)
    run = _run([{1: market("BUY"), TRIP: kill, LATER: market("BUY", 200_000)}])
    [fill] = _violations(run, "[2 no fill]")
    assert "filled 200000" in fill and "Scripted-001" in fill
    # and the position it opened is more than nothing protective: check 1 sees it too
    assert any("LONG 200000" in v for v in _violations(run, "[1 flat]"))


def test_a_watch_that_forgets_what_is_protective_is_caught_by_check_3(monkeypatch):
    monkeypatch.setattr(NautilusBook, "is_protective_order", lambda self, order: False)
    monkeypatch.setattr(NautilusBook, "protected_qty", lambda self, position: 0)

    def protect(s: Scripted, _tick) -> None:
        from test_order_paths import _px, _qty

        stop = s.order_factory.stop_market(
            s.instrument_id, s_side("BUY"), _qty(300_000), _px("1.13000"), tags=["HEDGE"]
        )
        s.submit_order(stop)

    run = _run([BOOK, {1: market("SELL", 300_000, ["HEDGE"]), 2: protect}])
    spared = _violations(run, "[3 spared]")
    assert any("was CANCELED" in v and "protective (kept)" in v for v in spared)
    assert any("below its protective 300000" in v for v in spared)
    # the record believed it: "kept" nothing, and the checks say what the cache holds
    assert run.watch.record.orders_kept == []


def s_side(name: str):
    from nautilus_trader.model.enums import OrderSide

    return OrderSide[name]


def test_a_record_that_disagrees_with_the_cache_is_caught_by_check_4():
    run = _run(HEDGED)
    record = run.watch.record
    cancelled = record.orders_cancelled[0]
    record.orders_kept.append(cancelled)  # "kept" an order the engine cancelled
    record.orders_cancelled.append("O-NOWHERE-1")
    dropped = record.orders_cancelled.pop(1)  # an order live at the trip, now unnamed
    closed = record.positions_closed[0]
    record.hedges_kept.append(closed)  # "kept" as a hedge the long it closed
    agrees = _violations(run, "[4 record]")
    assert any(f"orders_kept names {cancelled}, which is not protective" in v for v in agrees)
    assert any("O-NOWHERE-1, unknown to the cache" in v for v in agrees)
    assert any(f"order {dropped} " in v and "does not name it" in v for v in agrees)
    assert any(f"hedges_kept names {closed}, which holds no protective fill" in v for v in agrees)


def test_a_second_trip_without_a_rearm_or_on_a_handled_cause_is_caught_by_check_5():
    run = _run(HEDGED)
    record = run.watch.record
    run.watch.records.append(record.__class__(cause=record.cause, tripped_at_ns=1))
    once = _violations(run, "[5 one cascade]")
    assert any("2 trips but only 0 re-arm(s)" in v for v in once)
    assert any("tripped again on the cause of" in v for v in once)


def test_a_trip_that_was_never_published_is_caught_by_check_5():
    run = _run(HEDGED)
    run.invariants.views[0].published.clear()
    [unpublished] = _violations(run, "[5 one cascade]")
    assert "done but never published" in unpublished


def test_a_trip_on_a_kill_made_before_the_rearm_is_caught_by_check_5():
    from nautilus_riskwatch import ManualKill

    run = _run(HEDGED)
    view = run.invariants.views[0]
    first = run.watch.record
    # as if the watch had been re-armed after the first trip and then tripped again on the
    # same, already handled kill
    rearmed_at = first.finished_at_ns + 1
    view.rearms.append(("portfolio", rearmed_at, first))
    again = first.__class__(
        cause=ManualKill("test: pull the switch", "test"), tripped_at_ns=rearmed_at + 1
    )
    view.seen.append(again)
    view.published.append(again)
    run.watch.records.append(again)
    [handled] = [v for v in _violations(run, "[5 one cascade]") if "a handled cause" in v]
    assert f"made before the re-arm at {rearmed_at}" in handled
    # a fresh kill after the re-arm is a new cause: no violation
    view.kills.append((rearmed_at, "test: pull the switch", "test"))
    assert not [v for v in _violations(run, "[5 one cascade]") if "a handled cause" in v]
