"""The same backtest as the quick start, configured only through importable configs.

This is how the watch is used from ``BacktestNode``/``BacktestRunConfig`` (and from a
``TradingNode``): an ``ImportableActorConfig`` with plain strings and numbers. The recorded
quotes are written to a temporary Parquet catalog first, as a node reads data from one.

Run it: ``python examples/backtest_node.py``
"""

from __future__ import annotations

import tempfile

from nautilus_trader.backtest.node import BacktestNode
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

from nautilus_riskwatch.demo import eurusd_instrument, eurusd_quotes

WATCH = ImportableActorConfig(
    actor_path="nautilus_riskwatch:RiskWatch",
    config_path="nautilus_riskwatch:RiskWatchConfig",
    config={
        "feeds": [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}],
        "max_loss": "1000 USD",
        "hedge_tags": ["HEDGE"],
        "trading_state_on_trip": "HALTED",
    },
)


def main() -> None:
    with tempfile.TemporaryDirectory() as catalog_path:
        instrument = eurusd_instrument()
        catalog = ParquetDataCatalog(catalog_path)
        catalog.write_data([instrument])
        catalog.write_data(eurusd_quotes(instrument))
        run_config = BacktestRunConfig(
            venues=[
                BacktestVenueConfig(
                    name="SIM",
                    oms_type="HEDGING",
                    account_type="MARGIN",
                    base_currency="USD",
                    starting_balances=["10000000 USD"],
                )
            ],
            data=[
                BacktestDataConfig(
                    catalog_path=catalog_path, data_cls=QuoteTick, instrument_id=instrument.id
                )
            ],
            engine=BacktestEngineConfig(
                logging=LoggingConfig(log_level="ERROR"),
                actors=[WATCH],
                strategies=[
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
                ],
            ),
            dispose_on_completion=False,
        )
        node = BacktestNode(configs=[run_config])
        node.run()
        engine = node.get_engine(run_config.id)
        [watch] = engine.trader.actors()
        print(watch.record.report() if watch.record else "The watch did not trip.")
        node.dispose()


if __name__ == "__main__":
    main()
