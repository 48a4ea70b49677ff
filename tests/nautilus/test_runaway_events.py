"""What the runaway guards count, event by event: real NautilusTrader events, every kind."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.events import (
    OrderAccepted,
    OrderCancelRejected,
    OrderDenied,
    OrderEmulated,
    OrderModifyRejected,
    OrderRejected,
    OrderReleased,
    OrderSubmitted,
)
from nautilus_trader.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    StrategyId,
    TraderId,
    VenueOrderId,
)
from nautilus_trader.model.objects import Price
from nautilus_trader.test_kit.stubs.events import TestEventStubs
from nautilus_trader.test_kit.stubs.execution import TestExecStubs

from nautilus_riskwatch.demo import eurusd_instrument
from nautilus_riskwatch.nautilus.runaway import counted, first_submission, watch_refusal

IDS = {
    "trader_id": TraderId("TEST-001"),
    "strategy_id": StrategyId("S-001"),
    "instrument_id": InstrumentId.from_str("EUR/USD.SIM"),
    "client_order_id": ClientOrderId("O-1"),
}
ACCOUNT = AccountId("SIM-001")
T = 1_577_898_000_065_000_000
NEVER_ASKED = pytest.fail  # a state test that must not be asked


def _denied(reason="quantity 20000000 invalid", ts=T):
    return OrderDenied(**IDS, reason=reason, event_id=UUID4(), ts_init=ts)


def _submitted(ts=T):
    return OrderSubmitted(**IDS, account_id=ACCOUNT, event_id=UUID4(), ts_event=ts, ts_init=ts)


def _rejected(reason="POST_ONLY would take", ts=T):
    return OrderRejected(
        **IDS, account_id=ACCOUNT, reason=reason, event_id=UUID4(), ts_event=ts, ts_init=ts
    )


def _emulated(ts=T):
    return OrderEmulated(**IDS, event_id=UUID4(), ts_init=ts)


def _released(ts=T):
    return OrderReleased(**IDS, released_price=Price.from_str("1.12"), event_id=UUID4(), ts_init=ts)


def _modify_rejected(reason="TradingState is HALTED"):
    return OrderModifyRejected(
        **IDS,
        venue_order_id=VenueOrderId("V-1"),
        account_id=ACCOUNT,
        reason=reason,
        event_id=UUID4(),
        ts_event=T,
        ts_init=T,
    )


def _cancel_rejected(reason="order already closed"):
    return OrderCancelRejected(
        **IDS,
        venue_order_id=VenueOrderId("V-1"),
        account_id=ACCOUNT,
        reason=reason,
        event_id=UUID4(),
        ts_event=T,
        ts_init=T,
    )


def _order(*events, tags=None):
    """The cache's order, its events applied (an ``OrderInitialized`` stands first)."""
    return SimpleNamespace(events=[SimpleNamespace(id=UUID4()), *events], tags=tags)


def _ours(order):
    return "RISKWATCH" in (order.tags or ())


BLOCK = "RiskWatch: strategy S-001 blocked after a trip of its limit"


def _count(event, order, state=lambda: False):
    return counted(event, order, _ours, lambda reason: watch_refusal(reason, {BLOCK}, state))


def test_a_direct_submission_is_one_order():
    event = _submitted()
    assert _count(event, _order(event)) == ("orders",)


def test_an_order_denied_at_once_is_an_order_and_a_reject():
    event = _denied()
    assert _count(event, _order(event)) == ("orders", "rejects")


def test_a_venue_rejection_after_a_submission_is_a_reject_and_no_second_order():
    submitted, rejected = _submitted(), _rejected()
    order = _order(submitted, rejected)
    assert _count(submitted, order) == ("orders",)
    assert _count(rejected, order) == ("rejects",)


def test_an_emulated_order_counts_once_at_its_emulation_not_again_at_its_release():
    emulated, released, submitted = _emulated(), _released(), _submitted()
    order = _order(emulated, released, submitted)
    assert _count(emulated, order) == ("orders",)
    assert _count(released, order) == ()
    assert _count(submitted, order) == ()


def test_a_released_order_denied_later_is_a_reject_only():
    emulated, released, denied = _emulated(), _released(), _denied()
    order = _order(emulated, released, denied)
    assert _count(denied, order) == ("rejects",)


@pytest.mark.parametrize("make", [_modify_rejected, _cancel_rejected])
def test_a_modify_or_cancel_rejected_is_a_reject(make):
    submitted = _submitted()
    accepted = OrderAccepted(
        **IDS,
        venue_order_id=VenueOrderId("V-1"),
        account_id=ACCOUNT,
        event_id=UUID4(),
        ts_event=T,
        ts_init=T,
    )
    event = make("venue says no")
    assert _count(event, _order(submitted, accepted, event)) == ("rejects",)


def test_an_order_the_cache_does_not_know_counts_as_submitted_now():
    assert _count(_denied(), None) == ("orders", "rejects")
    assert first_submission(None, _submitted())


def test_a_fill_is_a_fill_and_a_close_s_fill_is_nothing():
    order = TestExecStubs.limit_order()
    fill = TestEventStubs.order_filled(order, eurusd_instrument(), account_id=ACCOUNT)
    assert _count(fill, _order(_submitted(), fill)) == ("fills",)
    assert _count(fill, _order(_submitted(), fill, tags=["RISKWATCH"])) == ()


def test_the_watch_s_own_closes_count_as_nothing():
    for event in (_submitted(), _denied(), _rejected()):
        assert _count(event, _order(event, tags=["RISKWATCH"])) == ()


def test_the_watch_s_own_denials_count_as_nothing():
    event = _denied(BLOCK)
    assert _count(event, _order(event)) == ()
    assert watch_refusal(BLOCK, {BLOCK}, NEVER_ASKED)
    # a strategy's own denial that merely mentions the watch is the strategy's
    other = _denied("RiskWatch: not a block reason of any tripped book")
    assert _count(other, _order(other)) == ("orders", "rejects")


@pytest.mark.parametrize(
    "reason",
    [
        "TradingState.HALTED",
        "TradingState is HALTED",
        "BUY when TradingState.REDUCING and LONG EUR/USD.SIM",
    ],
)
def test_a_trading_state_refusal_is_the_watch_s_only_while_the_state_is_a_watch_s(reason):
    denied = _denied(reason)
    assert _count(denied, _order(denied), state=lambda: True) == ()
    assert _count(denied, _order(denied), state=lambda: False) == ("orders", "rejects")
    modify = _modify_rejected(reason)
    assert _count(modify, _order(_submitted(), modify), state=lambda: True) == ()
    assert _count(modify, _order(_submitted(), modify), state=lambda: False) == ("rejects",)


def test_the_state_is_asked_only_for_a_trading_state_refusal():
    event = _rejected("POST_ONLY would take")
    assert _count(event, _order(_submitted(), event), state=NEVER_ASKED) == ("rejects",)
