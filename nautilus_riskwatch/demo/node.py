"""The demo backtest as configuration only: a Parquet catalog and a ``BacktestRunConfig``
whose actors and strategies are all ``Importable*Config`` of plain strings and numbers."""

from __future__ import annotations

from typing import Any

from nautilus_trader.config import (
    BacktestDataConfig,
    BacktestEngineConfig,
    BacktestRunConfig,
    BacktestVenueConfig,
    ImportableActorConfig,
    ImportableStrategyConfig,
    LoggingConfig,
)
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_riskwatch.demo.data import eurusd_instrument, eurusd_quotes


def write_catalog(path: str) -> None:
    """Write the EUR/USD instrument and the recorded quotes into a catalog at ``path``."""
    instrument = eurusd_instrument()
    catalog = ParquetDataCatalog(path)
    catalog.write_data([instrument])
    catalog.write_data(eurusd_quotes(instrument))


def backtest_run_config(
    catalog_path: str,
    watch: dict[str, Any] | None,
    *,
    strategies: list[ImportableStrategyConfig] | None = None,
    oms_type: str = "HEDGING",
    raise_exception: bool = True,
) -> BacktestRunConfig:
    """The demo as a run config: the watch configured by ``watch`` (``None``: no watch)
    beside ``strategies`` (default: the demo trader and hedger).

    ``raise_exception`` is on: without it ``BacktestNode.run()`` logs a run that failed (a
    config the watch refused at start among them) and goes on, returning no result for it.
    """
    actors = []
    if watch is not None:
        actors.append(
            ImportableActorConfig(
                actor_path="nautilus_riskwatch:RiskWatch",
                config_path="nautilus_riskwatch:RiskWatchConfig",
                config=watch,
            )
        )
    if strategies is None:
        strategies = [
            ImportableStrategyConfig(
                strategy_path="nautilus_riskwatch.demo:DemoTrader",
                config_path="nautilus_riskwatch.demo:DemoTraderConfig",
                config={"instrument_id": "EUR/USD.SIM", "order_id_tag": "001"},
            ),
            ImportableStrategyConfig(
                strategy_path="nautilus_riskwatch.demo:DemoHedger",
                config_path="nautilus_riskwatch.demo:DemoHedgerConfig",
                config={"instrument_id": "EUR/USD.SIM", "order_id_tag": "002"},
            ),
        ]
    return BacktestRunConfig(
        venues=[
            BacktestVenueConfig(
                name="SIM",
                oms_type=oms_type,
                account_type="MARGIN",
                base_currency="USD",
                starting_balances=["10000000 USD"],
            )
        ],
        data=[
            BacktestDataConfig(
                catalog_path=catalog_path,
                data_cls=QuoteTick,
                instrument_id=eurusd_instrument().id,
            )
        ],
        engine=BacktestEngineConfig(
            logging=LoggingConfig(log_level="ERROR"), actors=actors, strategies=strategies
        ),
        dispose_on_completion=False,
        raise_exception=raise_exception,
    )
