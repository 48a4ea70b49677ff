"""The watch in real BacktestEngine runs on real EUR/USD quotes: trips land exactly."""

from __future__ import annotations

from decimal import Decimal

import nautilus_trader
import pytest
from invariants import checked
from nautilus_trader.model.enums import TradingState
from pnl import fills_of, first_breach

from nautilus_riskwatch import DrawdownBreached, RiskWatchConfig, StalenessError
from nautilus_riskwatch.demo import build_engine, eurusd_instrument, eurusd_quotes
from nautilus_riskwatch.demo.engine import HEDGER_ID, TRADER_ID

build_engine = checked(build_engine)  # each run checks the invariants (conftest.py)

SECOND = 1_000_000_000
EURUSD = "EUR/USD.SIM"
# 2020-01-01 18:00 and 19:00 UTC, in ns
H18 = 1_577_901_600 * SECOND
H19 = 1_577_905_200 * SECOND
# The longest real gap in the data: 85.693 s, ending at 17:17:29.219 UTC.
GAP_END = 1_577_899_049_219_000_000
GAP = 85_693_000_000
NT_VERSION = tuple(int(p) for p in nautilus_trader.__version__.split(".")[:2])


def _feed(stale_after: float) -> dict[str, object]:
    return {"instrument_id": EURUSD, "kind": "quote", "stale_after": stale_after}


def _open_book(run):
    cache = run.engine.cache
    orders = sorted((str(o.strategy_id), o.tags) for o in cache.orders_open())
    positions = sorted((str(p.strategy_id), p.side.name) for p in cache.positions_open())
    return orders, positions


def test_quotes_that_stop_trip_at_exactly_last_quote_plus_bound():
    instrument = eurusd_instrument()
    quotes = eurusd_quotes(instrument, keep=lambda ts: not (H18 <= ts < H19))
    last_before = max(q.ts_event for q in quotes if q.ts_event < H18)
    run = build_engine(RiskWatchConfig(feeds=[_feed(90.0)], hedge_tags=["HEDGE"]), quotes=quotes)
    run.engine.run()

    record = run.watch.record
    assert isinstance(record.cause, StalenessError)
    assert record.cause.source == "EUR/USD.SIM quotes"
    assert record.tripped_at_ns == last_before + 90 * SECOND
    assert record.stage == "done" and record.complete
    # the book is flat but for the hedge: its position and its protective stop survive
    assert _open_book(run) == ([(HEDGER_ID, ["HEDGE"])], [(HEDGER_ID, "LONG")])


def test_a_real_quiet_spell_one_nanosecond_inside_the_bound_does_not_trip():
    run = build_engine(RiskWatchConfig(feeds=[_feed((GAP + 1) / SECOND)]))
    run.engine.run()
    assert run.watch.record is None
    assert len(run.trader.denied) == 0


def test_a_real_quiet_spell_exactly_as_long_as_the_bound_trips_at_its_end():
    run = build_engine(RiskWatchConfig(feeds=[_feed(GAP / SECOND)]))
    run.engine.run()
    record = run.watch.record
    assert isinstance(record.cause, StalenessError)
    # the quote that ends the gap arrives exactly at the deadline, which is late
    assert record.tripped_at_ns == GAP_END


@pytest.mark.skipif(
    NT_VERSION < (1, 222),
    reason="nautilus_trader 1.221 fires no time alerts past the last data point",
)
def test_a_feed_that_ends_for_good_trips_when_the_run_goes_on_to_its_end():
    instrument = eurusd_instrument()
    quotes = eurusd_quotes(instrument, keep=lambda ts: ts < H18)
    run = build_engine(RiskWatchConfig(feeds=[_feed(90.0)]), quotes=quotes)
    run.engine.run(end=_datetime(H19))
    assert run.watch.record.tripped_at_ns == quotes[-1].ts_event + 90 * SECOND


def test_drawdown_trips_on_the_first_quote_where_the_exact_loss_reaches_the_ceiling():
    ceiling = Decimal("1000")
    run = build_engine(
        RiskWatchConfig(feeds=[_feed(90.0)], max_loss="1000 USD", hedge_tags=["HEDGE"])
    )
    run.engine.run()
    record = run.watch.record
    assert isinstance(record.cause, DrawdownBreached)

    # Recompute by brute force, independently of the ledger: every fill of both
    # strategies up to each quote, longs marked at the bid and shorts at the ask.
    quote, loss = first_breach(fills_of(run.engine.cache), run.quotes, ceiling)
    first_breach_at = (quote.ts_init, loss)
    assert record.tripped_at_ns == first_breach_at[0]
    assert record.cause.loss == first_breach_at[1]
    assert record.cause.loss >= ceiling > record.cause.loss - Decimal("50")  # one tick, not later
    assert record.cause.ceiling == ceiling and record.cause.currency == "USD"


def test_after_the_cascade_only_the_hedge_remains_and_new_orders_are_denied():
    run = build_engine(
        RiskWatchConfig(feeds=[_feed(90.0)], max_loss="1000 USD", hedge_tags=["HEDGE"])
    )
    run.engine.run()
    record = run.watch.record
    assert record.stage == "done" and record.complete
    assert record.trading_state == "HALTED"
    assert run.engine.kernel.risk_engine.trading_state == TradingState.HALTED
    assert _open_book(run) == ([(HEDGER_ID, ["HEDGE"])], [(HEDGER_ID, "LONG")])
    assert len(record.orders_cancelled) == 6 and record.orders_unconfirmed == []
    assert len(record.orders_kept) == 1 and len(record.hedges_kept) == 1
    closed = [run.engine.cache.position(p) for p in _position_ids(record.positions_closed)]
    assert [str(p.strategy_id) for p in closed] == [TRADER_ID]
    # the trader tried again after the trip (it re-orders every 2,000 quotes): denied
    assert run.trader.denied
    assert all("HALTED" in d.reason for d in run.trader.denied)
    assert all(d.ts_event > record.tripped_at_ns for d in run.trader.denied)
    # the closing order carries the watch's tag and was reduce-only
    closes = [o for o in run.engine.cache.orders() if "RISKWATCH" in (o.tags or [])]
    assert len(closes) == 1 and closes[0].is_reduce_only and closes[0].is_closed


def test_netting_accounts_are_flattened_too():
    # No hedge on the same instrument: a netting venue nets it with the guarded position
    # (and the simulated exchange judges reduce-only against the first open position).
    run = build_engine(
        RiskWatchConfig(feeds=[_feed(90.0)], max_loss="1000 USD"), oms_type="NETTING", hedger=False
    )
    run.engine.run()
    assert run.watch.record.complete
    assert run.watch.record.positions_closed == [f"{EURUSD}-{TRADER_ID}"]
    assert _open_book(run) == ([], [])


def test_the_record_is_published_on_the_message_bus():
    run = build_engine(RiskWatchConfig(feeds=[_feed(90.0)], max_loss="1000 USD"))
    seen = []
    run.engine.kernel.msgbus.subscribe(topic="events.riskwatch.*", handler=seen.append)
    run.engine.run()
    assert seen == [run.watch.record]


def _position_ids(ids):
    from nautilus_trader.model.identifiers import PositionId

    return [PositionId(i) for i in ids]


def _datetime(ns):
    import pandas as pd

    return pd.Timestamp(ns, unit="ns", tz="UTC")
