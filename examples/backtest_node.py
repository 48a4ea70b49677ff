"""The same backtest as the quick start, configured only through importable configs.

This is how the watch is used from ``BacktestNode``/``BacktestRunConfig`` (and from a
``TradingNode``): an ``ImportableActorConfig`` with plain strings and numbers, built in
``nautilus_riskwatch.demo.node``. The recorded quotes are written to a temporary Parquet
catalog first, as a node reads data from one. The run config has
``raise_exception=True``: without it a config the watch refuses would be logged and the
run skipped, and ``node.run()`` would return without a result for it.

Run it: ``python examples/backtest_node.py``
"""

from __future__ import annotations

import tempfile

from nautilus_trader.backtest.node import BacktestNode

from nautilus_riskwatch.demo.node import backtest_run_config, write_catalog

WATCH = {
    "feeds": [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}],
    "max_loss": "1000 USD",
    "hedge_tags": ["HEDGE"],
    "trading_state_on_trip": "HALTED",
}


def main() -> None:
    with tempfile.TemporaryDirectory() as catalog_path:
        write_catalog(catalog_path)
        run_config = backtest_run_config(catalog_path, WATCH)
        node = BacktestNode(configs=[run_config])
        node.run()
        engine = node.get_engine(run_config.id)
        [watch] = engine.trader.actors()
        print(watch.record.report() if watch.record else "The watch did not trip.")
        node.dispose()


if __name__ == "__main__":
    main()
