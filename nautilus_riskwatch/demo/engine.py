"""One function that builds the demo backtest: venue, data, trader, hedger and the watch."""

from __future__ import annotations

from dataclasses import dataclass

from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.backtest.models import LatencyModel
from nautilus_trader.config import LoggingConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import TraderId, Venue
from nautilus_trader.model.instruments import CurrencyPair
from nautilus_trader.model.objects import Money

from nautilus_riskwatch.demo.data import eurusd_instrument, eurusd_quotes
from nautilus_riskwatch.demo.strategies import (
    DemoHedger,
    DemoHedgerConfig,
    DemoTrader,
    DemoTraderConfig,
)
from nautilus_riskwatch.nautilus.actor import RiskWatch
from nautilus_riskwatch.nautilus.config import RiskWatchConfig

TRADER_ID = "DemoTrader-001"
HEDGER_ID = "DemoHedger-002"


@dataclass
class DemoRun:
    """What ``build_engine`` made, ready for ``engine.run()``."""

    engine: BacktestEngine
    watch: RiskWatch | None
    trader: DemoTrader
    hedger: DemoHedger | None
    instrument: CurrencyPair
    quotes: list[QuoteTick]


def sim_engine(
    trader_id: str,
    quotes: list[QuoteTick],
    *,
    oms_type: str = "HEDGING",
    latency_model: LatencyModel | None = None,
    log_level: str = "ERROR",
) -> BacktestEngine:
    """An engine with the SIM venue (margin, 10M USD), EUR/USD and ``quotes``: no actors."""
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId(trader_id),
            logging=LoggingConfig(log_level=log_level),
        )
    )
    engine.add_venue(
        venue=Venue("SIM"),
        oms_type=OmsType[oms_type],
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(10_000_000, USD)],
        latency_model=latency_model,
    )
    engine.add_instrument(eurusd_instrument())
    engine.add_data(quotes)
    return engine


def build_engine(
    watch_config: RiskWatchConfig | None,
    *,
    quotes: list[QuoteTick] | None = None,
    oms_type: str = "HEDGING",
    latency_ms: int = 0,
    latency_model: LatencyModel | None = None,
    hedger: bool = True,
    trader_side: str = "SELL",
    trade_size: int = 1_000_000,
    log_level: str = "ERROR",
) -> DemoRun:
    """Build a backtest on the real EUR/USD quotes with a trader, a hedger and the watch."""
    instrument = eurusd_instrument()
    quotes = quotes if quotes is not None else eurusd_quotes(instrument)
    engine = sim_engine(
        "DEMO-001",
        quotes,
        oms_type=oms_type,
        latency_model=latency_model
        or (LatencyModel(latency_ms * 1_000_000) if latency_ms else None),
        log_level=log_level,
    )
    watch = None
    if watch_config is not None:
        watch = RiskWatch(watch_config)
        engine.add_actor(watch)
    trader = DemoTrader(
        DemoTraderConfig(
            instrument_id=str(instrument.id),
            side=trader_side,
            trade_size=trade_size,
            order_id_tag="001",
        )
    )
    engine.add_strategy(trader)
    hedge = None
    if hedger:
        hedge = DemoHedger(DemoHedgerConfig(instrument_id=str(instrument.id), order_id_tag="002"))
        engine.add_strategy(hedge)
    return DemoRun(engine, watch, trader, hedge, instrument, quotes)
