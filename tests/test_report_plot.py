"""The trip picture: an exact equity curve, and a readable PNG of the quick-start trip."""

from __future__ import annotations

import sys
from decimal import Decimal

import pytest

pytest.importorskip("matplotlib")

from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import LiquiditySide, OrderSide, OrderType
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    PositionId,
    StrategyId,
    TradeId,
    TraderId,
    VenueOrderId,
)
from nautilus_trader.model.objects import Money, Price, Quantity
from pnl import fills_of, loss_at

from nautilus_riskwatch import DrawdownBreached, RiskWatchConfig
from nautilus_riskwatch.demo import build_engine
from nautilus_riskwatch.report import equity_curve, plot_trip, write_trip_report
from nautilus_riskwatch.report.plot import MATPLOTLIB_MISSING

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QUICK_START = RiskWatchConfig(
    feeds=({"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0},),
    max_loss="1000 USD",
    hedge_tags=("HEDGE",),
)


@pytest.fixture(scope="module")
def demo():
    run = build_engine(QUICK_START)
    run.engine.run()
    yield run
    run.engine.dispose()


def test_the_quick_start_trip_picture_is_a_png(demo, tmp_path):
    path = write_trip_report(demo.engine.cache, demo.watch, demo.quotes, tmp_path / "trip.png")
    assert path == tmp_path / "trip.png"
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 20_000
    # 12 x 7 in at 120 dpi: the IHDR chunk holds width and height
    assert int.from_bytes(data[16:20], "big") == 1440
    assert int.from_bytes(data[20:24], "big") == 840


def test_the_curve_at_the_trip_quote_is_exactly_the_loss_that_tripped(demo):
    record = demo.watch.record
    assert isinstance(record.cause, DrawdownBreached)
    times, equity = equity_curve(demo.engine.cache.orders(), demo.quotes, exclude_tag="RISKWATCH")
    assert len(times) == len(equity) == len(demo.quotes)
    at_trip = [e for t, e in zip(times, equity, strict=True) if t == record.tripped_at_ns]
    assert at_trip == [-record.cause.loss]
    # and with the watch's own close in: the same loss, less the close's commission
    times, full = equity_curve(demo.engine.cache.orders(), demo.quotes)
    close = next(o for o in demo.engine.cache.orders() if "RISKWATCH" in (o.tags or []))
    i = times.index(record.tripped_at_ns)
    assert full[i] == -record.cause.loss - close.commissions()[0].as_decimal()


def test_the_curve_agrees_with_the_brute_force_loss_everywhere(demo):
    fills = fills_of(demo.engine.cache)
    _, equity = equity_curve(demo.engine.cache.orders(), demo.quotes, exclude_tag="RISKWATCH")
    for i in range(0, len(demo.quotes), 97):
        assert equity[i] == -loss_at(fills, demo.quotes[i]), i


def test_the_curve_marks_each_instrument_at_its_own_quote_with_its_multiplier():
    a, b = InstrumentId.from_str("AAA.SIM"), InstrumentId.from_str("BBB.SIM")
    fills = [
        _fill(a, OrderSide.BUY, "100", "1.00", "1.00", 10, "P-1"),
        _fill(b, OrderSide.SELL, "2", "50.0", "0.50", 20, "P-2"),
    ]
    quotes = [
        _quote(a, "0.99", "1.01", 5),
        _quote(a, "1.02", "1.04", 10),  # the buy is in: -101 cash + 100 x 1.02 at the bid
        _quote(b, "49.0", "51.0", 15),
        _quote(a, "1.03", "1.05", 20),  # the sell is in: 2 x 10 short at B's ask 51
        _quote(b, "48.0", "49.0", 25),
    ]
    times, equity = equity_curve(fills, quotes, multipliers={"BBB.SIM": 10})
    assert times == [5, 10, 15, 20, 25]
    assert equity == [
        Decimal(0),
        Decimal("1.00"),
        Decimal("1.00"),
        Decimal("-18.50"),
        Decimal("21.50"),
    ]
    # an InstrumentId key does the same
    assert equity_curve(fills, quotes, multipliers={b: 10})[1] == equity


def test_exclude_tag_needs_orders_not_bare_fills():
    fill = _fill(InstrumentId.from_str("AAA.SIM"), OrderSide.BUY, "1", "1.00", "0", 1, "P-1")
    with pytest.raises(TypeError, match="exclude_tag needs orders"):
        equity_curve([fill], [], exclude_tag="RISKWATCH")


def test_a_session_without_a_trip_still_draws(tmp_path):
    times = [1_577_898_000_000_000_000 + i * 60_000_000_000 for i in range(120)]
    equity = [Decimal(i % 17) - Decimal(i) for i in range(120)]
    path = plot_trip(None, times, equity, None, tmp_path / "sub" / "quiet.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_without_matplotlib_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install matplotlib") as info:
        plot_trip(None, [1], [Decimal(0)], None, tmp_path / "x.png")
    assert str(info.value) == MATPLOTLIB_MISSING


def _fill(instrument, side, qty, px, commission, ts, position):
    return OrderFilled(
        trader_id=TraderId("TESTER-001"),
        strategy_id=StrategyId("S-001"),
        instrument_id=instrument,
        client_order_id=ClientOrderId(f"O-{ts}"),
        venue_order_id=VenueOrderId(f"V-{ts}"),
        account_id=AccountId("SIM-001"),
        trade_id=TradeId(f"T-{ts}"),
        position_id=PositionId(position),
        order_side=side,
        order_type=OrderType.MARKET,
        last_qty=Quantity.from_str(qty),
        last_px=Price.from_str(px),
        currency=USD,
        commission=Money(commission, USD),
        liquidity_side=LiquiditySide.TAKER,
        event_id=UUID4(),
        ts_event=ts,
        ts_init=ts,
    )


def _quote(instrument, bid, ask, ts):
    return QuoteTick(
        instrument_id=instrument,
        bid_price=Price.from_str(bid),
        ask_price=Price.from_str(ask),
        bid_size=Quantity.from_int(1_000_000),
        ask_size=Quantity.from_int(1_000_000),
        ts_event=ts,
        ts_init=ts,
    )
