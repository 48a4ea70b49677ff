"""A config the watch refuses, in a ``BacktestNode``: the user must learn of it.

``BacktestNode.run()`` catches what a run raises, logs it and goes on to the next run
config, unless ``BacktestRunConfig(raise_exception=True)``; both are NautilusTrader's own
behaviour (1.221 and 1.231). So the docs say: set ``raise_exception=True``, or check that
``run()`` returned a result for every run config.
"""

from __future__ import annotations

import pytest
from nautilus_trader.backtest.node import BacktestNode

from nautilus_riskwatch import RiskWatchConfigError
from nautilus_riskwatch.demo.node import backtest_run_config, write_catalog

GOOD = {"feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 90.0}], "max_loss": "1000 USD"}
UNKNOWN_INSTRUMENT = {**GOOD, "feeds": [{"instrument_id": "GBP/USD.SIM", "stale_after": 90.0}]}
BAD_VALUE = {**GOOD, "feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 0}]}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("catalog"))
    write_catalog(path)
    return path


def _run(catalog, watch, *, raise_exception):
    config = backtest_run_config(catalog, watch, raise_exception=raise_exception)
    node = BacktestNode(configs=[config])
    try:
        return node.run(), node, config
    finally:
        node.dispose()


def test_with_raise_exception_the_refusal_at_start_stops_the_run(catalog):
    with pytest.raises(RiskWatchConfigError, match=r"feeds\[0\]\.instrument_id='GBP/USD\.SIM'"):
        _run(catalog, UNKNOWN_INSTRUMENT, raise_exception=True)


def test_with_raise_exception_a_bad_value_stops_the_run(catalog):
    # refused when the node builds the importable config, in the package's words
    with pytest.raises(RiskWatchConfigError, match=r"feeds\[0\]\.stale_after=0") as info:
        _run(catalog, BAD_VALUE, raise_exception=True)
    assert "must be a positive" in str(info.value)


def test_without_it_the_node_returns_no_result_for_the_refused_run(catalog):
    results, _, _ = _run(catalog, UNKNOWN_INSTRUMENT, raise_exception=False)
    assert results == []  # the check the docs give: one result per run config
    # control: the same run with a config the watch accepts returns its result
    results, _, config = _run(catalog, GOOD, raise_exception=False)
    assert [r.run_config_id for r in results] == [config.id]
