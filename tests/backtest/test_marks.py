"""Marks from bars and trades: bar-only and trade-only backtests trip exactly and end flat.

Real data (``../shared/data``): BTC perp 1-minute bars, a month falling from ~46,000 to
~38,500, and 2,001 Binance BTCUSDT trades. Each trip is checked against a brute force over
the raw data and the engine's own fills (``tests/pnl.py``), never against the watch.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from market import (
    OneShot,
    OneShotConfig,
    binance_engine,
    btc_bars,
    btc_perp,
    btc_spot,
    btc_trades,
)
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import TradingState
from pnl import fills_of, loss_marked

from nautilus_riskwatch import RiskWatch, RiskWatchConfig
from nautilus_riskwatch.core import DrawdownBreached, StalenessError
from nautilus_riskwatch.core.trips import DailyLossBreached, TrailingDrawdownBreached

BARS = 7_200  # five days of minutes: every limit below trips inside them


def _bar_run(config: RiskWatchConfig, side: str = "BUY"):
    perp = btc_perp()
    bar_type = BarType.from_str(f"{perp.id}-1-MINUTE-LAST-EXTERNAL")
    bars = btc_bars(bar_type, BARS)
    engine = binance_engine(perp)
    engine.add_data(list(bars))
    watch = RiskWatch(config)
    engine.add_actor(watch)
    trader = OneShot(OneShotConfig(instrument_id=str(perp.id), bar_type=str(bar_type), side=side))
    engine.add_strategy(trader)
    engine.run()
    return engine, watch, bars


def _curve(engine, bars):
    """(bar, PnL after it) for every bar: the engine's fills, marked at the bar's close."""
    fills = fills_of(engine.cache)
    return [
        (bar, -loss_marked(fills, bar.ts_init, bar.close.as_decimal(), bar.close.as_decimal()))
        for bar in bars
    ]


def _ended_flat(engine, tripped_at_ns: int) -> None:
    cache = engine.cache
    assert cache.positions_open() == [] and cache.orders_open() == []
    assert engine.kernel.risk_engine.trading_state == TradingState.HALTED
    # nothing but the watch's own close filled after the trip
    late = [
        f
        for o in cache.orders()
        for f in o.events
        if type(f).__name__ == "OrderFilled" and f.ts_event >= tripped_at_ns
    ]
    assert late and all("RISKWATCH" in (cache.order(f.client_order_id).tags or []) for f in late)


def test_a_bar_only_backtest_trips_on_the_first_bar_whose_exact_loss_reaches_max_loss():
    engine, watch, bars = _bar_run(RiskWatchConfig(max_loss="2000 USDT"))
    record = watch.record
    assert record is not None and isinstance(record.cause, DrawdownBreached)
    bar, pnl = next((b, p) for b, p in _curve(engine, bars) if -p >= 2000)
    assert record.tripped_at_ns == bar.ts_init and record.cause.loss == -pnl
    assert record.complete and record.unmarked == []
    _ended_flat(engine, record.tripped_at_ns)


def test_a_bar_only_backtest_trips_the_trailing_limit_exactly():
    engine, watch, bars = _bar_run(RiskWatchConfig(limits=[{"trailing": "1500 USDT"}]))
    record = watch.record
    assert isinstance(record.cause, TrailingDrawdownBreached)
    high_water, expected = Decimal(0), None
    for bar, pnl in _curve(engine, bars):
        high_water = max(high_water, pnl)
        if high_water - pnl >= 1500:
            expected = (bar.ts_init, high_water - pnl, high_water)
            break
    assert expected is not None and expected[2] > 0  # it made money first: a real mark
    assert (record.tripped_at_ns, record.cause.drawdown, record.cause.high_water) == expected
    _ended_flat(engine, record.tripped_at_ns)


def test_a_bar_only_backtest_trips_the_daily_limit_exactly_after_a_day_rolls():
    limit = {"daily": "1000 USDT", "daily_reset": "00:00", "daily_tz": "UTC"}
    engine, watch, bars = _bar_run(RiskWatchConfig(limits=[limit]))
    record = watch.record
    assert isinstance(record.cause, DailyLossBreached)
    baseline, day, expected = Decimal(0), None, None
    curve = _curve(engine, bars)
    for i, (bar, pnl) in enumerate(curve):
        today = datetime.fromtimestamp(bar.ts_init // 1_000_000_000, UTC).date()
        if day is not None and today != day:
            baseline = curve[i - 1][1]  # the PnL as it stood when the day rolled
        day = today
        if baseline - pnl >= 1000:
            expected = (bar.ts_init, baseline - pnl)
            break
    assert expected is not None and baseline > 0  # not the session's loss: the day's
    assert (record.tripped_at_ns, record.cause.loss) == expected
    _ended_flat(engine, record.tripped_at_ns)


def test_a_trade_only_backtest_trips_on_the_first_trade_whose_exact_loss_reaches_max_loss():
    spot = btc_spot()
    trades = btc_trades(spot)
    engine = binance_engine(spot)
    engine.add_data(trades)
    watch = RiskWatch(RiskWatchConfig(max_loss="1000 USDT"))
    engine.add_actor(watch)
    engine.add_strategy(
        OneShot(OneShotConfig(instrument_id=str(spot.id), side="SELL", quantity="10.000000"))
    )
    engine.run()
    record = watch.record
    assert record is not None and isinstance(record.cause, DrawdownBreached)
    fills = fills_of(engine.cache)
    trade, loss = next(
        (t, loss)
        for t in trades
        if (loss := loss_marked(fills, t.ts_init, t.price.as_decimal(), t.price.as_decimal()))
        >= 1000
    )
    assert record.tripped_at_ns == trade.ts_init and record.cause.loss == loss
    assert record.complete
    _ended_flat(engine, record.tripped_at_ns)


def test_a_position_nothing_can_mark_is_warned_and_named_in_the_record():
    # Marked with quotes only, on a bar-only backtest: nothing prices the position. A
    # quote feed that never speaks trips the watch a minute in; the record says why the
    # loss could not be judged.
    perp = btc_perp()
    config = RiskWatchConfig(
        feeds=[{"instrument_id": str(perp.id), "kind": "quote", "stale_after": 60.0}],
        max_loss="2000 USDT",
        mark_with_by_instrument={str(perp.id): ["quote"]},
    )
    engine, watch, _ = _bar_run(config)
    record = watch.record
    assert isinstance(record.cause, StalenessError)
    assert record.unmarked == [str(perp.id)]
    assert "unmarked" in record.report()
    assert engine.cache.positions_open() == []


def _fx_short(price_types: tuple[str, ...], ceiling: str = "500 USD"):
    from market import gbpusd_bars

    from nautilus_riskwatch.demo import eurusd_instrument

    gbpusd = type(eurusd_instrument()).from_dict(
        {
            **type(eurusd_instrument()).to_dict(eurusd_instrument()),
            "id": "GBP/USD.SIM",
            "raw_symbol": "GBP/USD",
        }
    )
    engine = binance_engine(gbpusd, oms_type="HEDGING")
    series = {}
    for side in price_types:
        bar_type = BarType.from_str(f"GBP/USD.SIM-1-MINUTE-{side}-EXTERNAL")
        series[side] = gbpusd_bars(bar_type, 3_000)
        engine.add_data(list(series[side]))
    watch = RiskWatch(RiskWatchConfig(max_loss=ceiling))
    engine.add_actor(watch)
    trader_bars = f"GBP/USD.SIM-1-MINUTE-{price_types[0]}-EXTERNAL"
    engine.add_strategy(
        OneShot(
            OneShotConfig(
                instrument_id="GBP/USD.SIM",
                bar_type=trader_bars,
                side="SELL",
                quantity="1000000",
                skip=1,
            )
        )
    )
    engine.run()
    return engine, watch, series


def test_bid_and_ask_bars_mark_a_short_at_the_ask_close():
    engine, watch, series = _fx_short(("BID", "ASK"))
    record = watch.record
    fills = fills_of(engine.cache)
    # a short is valued at the ask: only ASK bars move its loss
    bar, loss = next(
        (b, loss)
        for b in series["ASK"]
        if (loss := loss_marked(fills, b.ts_init, Decimal(0), b.close.as_decimal())) >= 500
    )
    assert record.tripped_at_ns == bar.ts_init and record.cause.loss == loss
    _ended_flat(engine, record.tripped_at_ns)
