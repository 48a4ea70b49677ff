"""Real recorded market data from ``../shared/data`` (bars and trades), and a one-shot trader.

Tests that use it skip with a clear message when the folder is absent (the package's own
suite still runs for someone who clones the project alone; CI always has it). The README's
"Test data" section lists the files, their origin and which tests need them.
"""

from __future__ import annotations

import csv
import functools
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.model.data import Bar, BarType, TradeTick
from nautilus_trader.model.enums import AccountType, AggressorSide, OmsType, OrderSide
from nautilus_trader.model.identifiers import InstrumentId, TradeId, TraderId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy

#: ``../shared/data`` beside the project; ``RISKWATCH_SHARED_DATA`` points elsewhere (a git
#: worktree, whose ``..`` is not the project's).
DATA = Path(
    os.environ.get("RISKWATCH_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
BTC_BARS_CSV = DATA / "btc-perp-20211231-20220201_1m.csv"
BTC_TRADES_PARQUET = DATA / "binance_btcusdt-trades.parquet"
GBPUSD_BARS_CSV = {
    "BID": DATA / "fxcm_gbpusd-m1-bid-2012.csv",
    "ASK": DATA / "fxcm_gbpusd-m1-ask-2012.csv",
}
USDJPY_BARS_CSV = {
    "BID": DATA / "fxcm_usdjpy-m1-bid-2013.csv",
    "ASK": DATA / "fxcm_usdjpy-m1-ask-2013.csv",
}
#: USD/JPY (Feb 2013) moved onto the GBP/USD dates (Feb 2012): back 52 weeks (364 days), so
#: that a Friday stays a Friday and the weekend gaps of the two files line up.
USDJPY_SHIFT_NS = -364 * 86_400 * 1_000_000_000


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(
            f"real market data not found at {path}: NautilusTrader's recorded test data, "
            "which this test reads from ../shared/data beside the clone (the README's "
            "'Test data' section says which files and where to get them)"
        )
    return path


def btc_perp() -> Instrument:
    """BTCUSDT-PERP.BINANCE (linear, settles in USDT), at price precision 3: the recorded
    bars carry a few prices like ``46810.75`` and ``46806.125``, which must stay exact."""
    perp = TestInstrumentProvider.btcusdt_perp_binance()
    return type(perp).from_dict(
        {**type(perp).to_dict(perp), "price_precision": 3, "price_increment": "0.001"}
    )


def btc_spot() -> Instrument:
    """BTCUSDT.BINANCE (spot, price precision 2)."""
    return TestInstrumentProvider.btcusdt_binance()


@functools.cache
def btc_bars(bar_type: BarType, limit: int | None = None) -> tuple[Bar, ...]:
    """The recorded BTC perp 1-minute bars, prices parsed from text (exact); loaded once.

    The file's timestamp is taken as the bar's close time (``ts_event``).
    """
    bars = []
    with need(BTC_BARS_CSV).open() as lines:
        for row in csv.DictReader(lines):
            ts = _ns(row["timestamp"])
            bars.append(
                Bar(
                    bar_type,
                    _px(row["open"]),
                    _px(row["high"]),
                    _px(row["low"]),
                    _px(row["close"]),
                    _VOLUME,
                    ts,
                    ts,
                )
            )
            if limit is not None and len(bars) >= limit:
                break
    return tuple(bars)


@functools.cache
def gbpusd_bars(bar_type: BarType, limit: int) -> tuple[Bar, ...]:
    """The recorded FXCM GBP/USD 1-minute bars of the bar type's side (BID or ASK)."""
    bars = []
    side = bar_type.spec.price_type.name
    with need(GBPUSD_BARS_CSV[side]).open() as lines:
        for row in csv.DictReader(lines):
            ts = _ns(row["timestamp"])
            prices = (Price.from_str(row[k]) for k in ("open", "high", "low", "close"))
            bars.append(Bar(bar_type, *prices, _FX_VOLUME, ts, ts))
            if len(bars) >= limit:
                break
    return tuple(bars)


@functools.cache
def usdjpy_bars(bar_type: BarType, limit: int) -> tuple[Bar, ...]:
    """The recorded FXCM USD/JPY 1-minute bars of the bar type's side, shifted by
    ``USDJPY_SHIFT_NS`` onto the GBP/USD dates."""
    bars = []
    side = bar_type.spec.price_type.name
    with need(USDJPY_BARS_CSV[side]).open() as lines:
        for row in csv.DictReader(lines):
            ts = _ns(row["timestamp"]) + USDJPY_SHIFT_NS
            prices = (Price.from_str(row[k]) for k in ("open", "high", "low", "close"))
            bars.append(Bar(bar_type, *prices, _FX_VOLUME, ts, ts))
            if len(bars) >= limit:
                break
    return tuple(bars)


def raw_closes(path: Path, shift_ns: int = 0) -> dict[int, str]:
    """A bar file's closes as written (text), by timestamp: for brute forces that share
    nothing with the engine's parsing."""
    with need(path).open() as lines:
        return {_ns(row["timestamp"]) + shift_ns: row["close"] for row in csv.DictReader(lines)}


def fx_pair(symbol: str) -> Instrument:
    """A currency pair on SIM as NautilusTrader's test kit makes it (JPY pairs: 3 decimals)."""
    from nautilus_trader.model.identifiers import Venue

    return TestInstrumentProvider.default_fx_ccy(symbol, Venue("SIM"))


def btc_inverse(multiplier: int = 10) -> Instrument:
    """BTC/USD.BITMEX, NautilusTrader's inverse perpetual (contracts of ``multiplier`` USD,
    PnL in BTC), at price (and size) precision 3 so the recorded BTC bars fit exactly."""
    perp = TestInstrumentProvider.xbtusd_bitmex()
    return type(perp).from_dict(
        {
            **type(perp).to_dict(perp),
            "price_precision": 3,
            "price_increment": "0.001",
            "size_precision": 3,
            "size_increment": "0.001",
            "multiplier": str(multiplier),
        }
    )


def btc_trades(instrument: Instrument) -> list[TradeTick]:
    """The recorded Binance BTCUSDT trades (2,001 in 46 s), prices to the cent."""
    import pyarrow.parquet as pq

    table = pq.read_table(need(BTC_TRADES_PARQUET)).to_pydict()
    ticks = []
    for stamp, trade_id, price, qty, maker in zip(
        table["timestamp"],
        table["trade_id"],
        table["price"],
        table["quantity"],
        table["buyer_maker"],
        strict=True,
    ):
        ts = int(stamp.timestamp() * 1000) * 1_000_000
        ticks.append(
            TradeTick(
                instrument.id,
                Price.from_str(f"{price:.2f}"),
                Quantity.from_str(f"{qty:.6f}"),
                AggressorSide.SELLER if maker == "True" else AggressorSide.BUYER,
                TradeId(str(trade_id)),
                ts,
                ts,
            )
        )
    return ticks


_VOLUME = Quantity.from_str("1000000.000")
_FX_VOLUME = Quantity.from_int(10_000_000)  # the bars' volumes are not used; the book needs depth


def _px(text: str) -> Price:
    """A price written with up to 3 decimals, at precision 3, exactly (no float)."""
    whole, _, frac = text.partition(".")
    if len(frac) > 3:
        raise ValueError(f"{text} does not fit price precision 3")
    return Price.from_str(f"{whole}.{frac:0<3}")


def _ns(stamp: str) -> int:
    moment = datetime.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    micros = stamp[20:26] if stamp[19:20] == "." else "0"
    return int(moment.timestamp()) * 1_000_000_000 + int(micros) * 1_000


def binance_engine(instrument: Instrument, oms_type: str = "NETTING") -> BacktestEngine:
    """A backtest with one margin venue for ``instrument``, balance in its quote currency."""
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("BAR-001"), logging=LoggingConfig(log_level="ERROR")
        )
    )
    engine.add_venue(
        venue=instrument.id.venue,
        oms_type=OmsType[oms_type],
        account_type=AccountType.MARGIN,
        base_currency=None,
        starting_balances=[Money(10_000_000, instrument.quote_currency)],
    )
    engine.add_instrument(instrument)
    return engine


class OneShotConfig(StrategyConfig, frozen=True):
    """Open one position on the first bar (or trade) seen, then hold it."""

    instrument_id: str
    bar_type: str | None = None  # trade ticks if None
    side: str = "BUY"
    quantity: str = "1.000"
    skip: int = 0  # data points to let pass first (a two-sided book needs bid and ask bars)


class OneShot(Strategy):
    """Buys (or sells) once, on the first bar or trade, and holds: a position to guard."""

    def __init__(self, config: OneShotConfig) -> None:
        super().__init__(config)
        self.instrument_id = InstrumentId.from_str(config.instrument_id)
        self.done = False
        self.seen = 0
        self.denied = []

    def on_start(self) -> None:
        if self.config.bar_type is not None:
            self.subscribe_bars(BarType.from_str(self.config.bar_type))
        else:
            self.subscribe_trade_ticks(self.instrument_id)

    def _once(self) -> None:
        self.seen += 1
        if not self.done and self.seen > self.config.skip:
            self.done = True
            self.submit_order(
                self.order_factory.market(
                    self.instrument_id,
                    OrderSide[self.config.side],
                    Quantity.from_str(self.config.quantity),
                )
            )

    def on_bar(self, bar: Bar) -> None:
        self._once()

    def on_trade_tick(self, tick: TradeTick) -> None:
        self._once()

    def on_order_denied(self, event) -> None:
        self.denied.append(event)
