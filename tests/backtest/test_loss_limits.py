"""Trailing drawdown, daily loss and scoped limits in real backtests, checked exactly
against a brute-force equity curve from the engine's own fills and the recorded quotes."""

from __future__ import annotations

from decimal import Decimal

from invariants import checked
from nautilus_trader.model.enums import TradingState
from nautilus_trader.model.instruments import CurrencyPair
from pnl import fills_of, loss_at

from nautilus_riskwatch import RearmCommand, RiskWatchConfig, command_endpoint
from nautilus_riskwatch.core.trips import DailyLossBreached, TrailingDrawdownBreached
from nautilus_riskwatch.demo import (
    DemoTrader,
    DemoTraderConfig,
    build_engine,
    eurusd_instrument,
    eurusd_quotes,
)
from nautilus_riskwatch.demo.engine import HEDGER_ID, TRADER_ID

build_engine = checked(build_engine)  # each run checks the invariants (conftest.py)

FEED = {"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}
H17_20 = 1_577_899_200 * 1_000_000_000  # 2020-01-01 17:20 UTC


def _equity(run):
    fills = fills_of(run.engine.cache)
    return [(q, -loss_at(fills, q)) for q in run.quotes]


def test_trailing_drawdown_trips_exactly_at_the_ceiling_below_the_high_water_mark():
    run = build_engine(
        RiskWatchConfig(feeds=[FEED], limits=[{"trailing": "1000 USD"}]),
        trader_side="BUY",
        hedger=False,
    )
    run.engine.run()
    record = run.watch.record
    assert isinstance(record.cause, TrailingDrawdownBreached)
    high_water, expected = Decimal(0), None
    for quote, equity in _equity(run):
        high_water = max(high_water, equity)
        if high_water - equity >= Decimal(1000):
            expected = (quote.ts_init, high_water - equity, high_water)
            break
    assert expected is not None and record.tripped_at_ns == expected[0]
    assert (record.cause.drawdown, record.cause.high_water) == expected[1:]
    assert record.cause.high_water > 0  # the long made money first: a real high-water mark
    assert record.complete


def test_a_daily_limit_forgets_yesterday_at_the_reset():
    # Short 1,000,000 from 17:00. Until 17:20 the loss reaches 742.42 at most; the day rolls
    # at 17:20, and from there the loss since the roll reaches 900 later on.
    limit = {"daily": "900 USD", "daily_reset": "17:20", "daily_tz": "UTC"}
    run = build_engine(RiskWatchConfig(feeds=[FEED], limits=[limit]), hedger=False)
    run.engine.run()
    record = run.watch.record
    curve = _equity(run)
    reset = H17_20
    before = [e for q, e in curve if q.ts_init < reset]
    assert -min(before) < 900  # the first day (from the watch's start, PnL 0) never got there
    baseline = before[-1]  # the PnL as it stood when the day rolled
    quote, loss = next(
        (q, baseline - e) for q, e in curve if q.ts_init >= reset and baseline - e >= 900
    )
    assert isinstance(record.cause, DailyLossBreached)
    assert record.tripped_at_ns == quote.ts_init and record.cause.loss == loss
    # the operator is told when the day began in UTC, not in the watch's loop seconds
    assert record.cause.day_start_ns == reset
    assert "since the day began at 2020-01-01T17:20:00.000000000Z" in str(record.cause)
    # Without a roll in the data the same limit counts the whole session, and trips sooner.
    run2 = build_engine(
        RiskWatchConfig(feeds=[FEED], limits=[{**limit, "daily_reset": "23:30"}]), hedger=False
    )
    run2.engine.run()
    quote2, loss2 = next((q, -e) for q, e in curve if -e >= 900)
    assert run2.watch.record.tripped_at_ns == quote2.ts_init < record.tripped_at_ns
    assert run2.watch.record.cause.loss == loss2


def test_a_strategy_scoped_limit_flattens_and_blocks_only_that_strategy():
    run = build_engine(
        RiskWatchConfig(
            feeds=[FEED],
            hedge_tags=["HEDGE"],
            limits=[{"max_loss": "1000 USD", "strategy_id": TRADER_ID}],
        )
    )
    other = DemoTrader(
        DemoTraderConfig(
            instrument_id="EUR/USD.SIM",
            side="SELL",
            trade_size=200_000,
            order_id_tag="003",
            reorder_every=1_000,
        )
    )
    run.engine.add_strategy(other)
    run.engine.run()
    record = run.watch.scope_records[f"strategy {TRADER_ID}"]
    assert run.watch.record is None  # the trader-wide watch did not trip
    assert record.scope == f"strategy {TRADER_ID}"
    assert record.complete and record.trading_state == f"{TRADER_ID} blocked (others trade on)"
    assert run.engine.kernel.risk_engine.trading_state == TradingState.ACTIVE
    cache = run.engine.cache
    open_positions = sorted(str(p.strategy_id) for p in cache.positions_open())
    assert open_positions == [HEDGER_ID, "DemoTrader-003"]
    # the scoped strategy is blocked: its re-orders after the trip were denied by the gate
    assert run.trader.denied and all("blocked after a trip" in d.reason for d in run.trader.denied)
    # the other strategy traded on: its orders after the trip were accepted and rest
    later = [o for o in cache.orders_open() if str(o.strategy_id) == "DemoTrader-003"]
    assert any(o.ts_init > record.tripped_at_ns for o in later)
    assert other.denied == []
    # the scoped loss is that strategy's alone: a brute force over its fills
    fills = [f for f in fills_of(cache) if str(f.strategy_id) == TRADER_ID]
    quote = next(q for q in run.quotes if q.ts_init == record.tripped_at_ns)
    assert record.cause.loss == loss_at(fills, quote)


def test_an_instrument_scoped_limit_leaves_other_instruments_trading():
    gbpusd = CurrencyPair.from_dict(
        {**CurrencyPair.to_dict(eurusd_instrument()), "id": "GBP/USD.SIM", "raw_symbol": "GBP/USD"}
    )
    # GBP/USD prices here are the recorded EUR/USD quotes relabelled: a second book to spare
    quotes = sorted(eurusd_quotes() + eurusd_quotes(gbpusd), key=lambda q: q.ts_init)
    run = build_engine(
        RiskWatchConfig(
            feeds=[FEED],
            hedge_tags=["HEDGE"],
            limits=[{"max_loss": "1000 USD", "instrument_id": "EUR/USD.SIM"}],
        ),
        quotes=quotes,
    )
    run.engine.add_instrument(gbpusd)
    gbp_trader = DemoTrader(DemoTraderConfig(instrument_id="GBP/USD.SIM", order_id_tag="004"))
    run.engine.add_strategy(gbp_trader)
    run.engine.run()
    record = run.watch.scope_records["instrument EUR/USD.SIM"]
    assert record is not None and record.complete
    positions = sorted(
        (str(p.instrument_id), str(p.strategy_id)) for p in run.engine.cache.positions_open()
    )
    assert positions == [("EUR/USD.SIM", HEDGER_ID), ("GBP/USD.SIM", "DemoTrader-004")]
    assert gbp_trader.denied == [] and run.trader.denied


def test_a_scoped_limit_can_be_rearmed_on_its_own_by_a_bus_command():
    from nautilus_trader.common.actor import Actor

    class Rearmer(Actor):
        def on_start(self):
            self.subscribe_quote_ticks(eurusd_instrument().id)
            self.result = None

        def on_quote_tick(self, tick):
            rec = run.watch.scope_records.get(f"strategy {TRADER_ID}")
            if self.result is None and rec is not None and rec.stage == "done":
                self.result = "sent"
                self.msgbus.send(
                    endpoint=command_endpoint(run.watch.id),
                    msg=RearmCommand("fixed", who="ops", scope=f"strategy {TRADER_ID}"),
                )

    run = build_engine(
        RiskWatchConfig(feeds=[FEED], limits=[{"max_loss": "1000 USD", "strategy_id": TRADER_ID}])
    )
    rearmer = Rearmer()
    run.engine.add_actor(rearmer)
    run.engine.run()
    assert rearmer.result == "sent"
    # re-armed with the loss still over the limit: it trips again at once, and is blocked again
    records = run.watch.session.guards[1].records
    assert len(records) == 1 and run.watch.scope_records[f"strategy {TRADER_ID}"] is not records[0]
