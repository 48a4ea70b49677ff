"""Each read of NautilusTrader's internals, against the installed version's real engine.

CI runs this file on both legs (3.11 / nautilus_trader 1.221, 3.12 / the newest 1.x): an
upgrade that moves an internal fails here by name, before any scenario does.
"""

from __future__ import annotations

import asyncio

from nautilus_trader.examples.algorithms.twap import TWAPExecAlgorithm
from nautilus_trader.model.identifiers import InstrumentId

from nautilus_riskwatch import RiskWatchConfig
from nautilus_riskwatch.demo import build_engine, eurusd_instrument, eurusd_quotes
from nautilus_riskwatch.looptime import LiveTime
from nautilus_riskwatch.nautilus import engine_hooks
from nautilus_riskwatch.nautilus.engine_hooks import (
    HOOKS,
    HookStatus,
    endpoint_table,
    find_risk_engine,
    is_exec_algorithm,
    owner_of,
    probe,
    registered_strategies,
    subscribed_topic,
)

WATCH = {
    "feeds": [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}],
    "max_loss": "1000 USD",
    "hedge_tags": ["HEDGE"],
}
EURUSD = InstrumentId.from_str("EUR/USD.SIM")


QUOTES = eurusd_quotes(eurusd_instrument())[:300]


def _run(watch: bool = True):
    return build_engine(RiskWatchConfig(**WATCH) if watch else None, quotes=QUOTES)


def test_the_endpoint_table_is_the_bus_s_own_and_names_the_engine_s_handlers():
    run = _run(watch=False)
    msgbus = run.engine.kernel.msgbus
    table = endpoint_table(msgbus)
    assert table is not None
    assert owner_of(table["RiskEngine.execute"]) is run.engine.kernel.risk_engine
    assert owner_of(table["ExecEngine.execute"]) is run.engine.kernel.exec_engine
    # the table itself, not a copy: what is registered later shows in it
    msgbus.register(endpoint="Probe.execute", handler=print)
    assert table["Probe.execute"] is print


def test_the_risk_engine_is_found_behind_a_bus_handler():
    run = _run(watch=False)
    assert find_risk_engine(run.engine.kernel.msgbus) is run.engine.kernel.risk_engine
    assert owner_of(lambda message: None) is None  # a plain function has no owner


def test_the_registered_strategies_are_the_trader_s():
    run = _run(watch=False)
    assert registered_strategies(run.engine.kernel.msgbus) == {run.trader.id, run.hedger.id}


def test_an_execution_algorithm_s_endpoint_is_told_from_the_engine_s():
    run = _run(watch=False)
    run.engine.add_exec_algorithm(TWAPExecAlgorithm())
    table = endpoint_table(run.engine.kernel.msgbus)
    assert table is not None
    assert is_exec_algorithm(table["TWAP.execute"])
    assert not is_exec_algorithm(table["RiskEngine.execute"])
    assert not is_exec_algorithm(table["ExecEngine.execute"])


def test_the_quote_topic_a_subscription_made_is_read_back_from_the_bus():
    run = _run()
    run.engine.run()
    msgbus = run.engine.kernel.msgbus
    handler = run.trader.handle_quote_tick  # the trader subscribed to EUR/USD quotes
    topic = subscribed_topic(msgbus, handler, "quotes", EURUSD)
    assert topic.startswith("data.quotes.SIM.") and msgbus.is_subscribed(topic, handler)


def test_the_probe_finds_every_hook_on_this_version_and_the_watch_exposes_it():
    run = _run()
    assert run.watch is not None and run.watch.engine_hooks is None  # not probed yet
    assert probe(run.engine.kernel.msgbus) == HookStatus()
    run.engine.run()
    assert run.watch.engine_hooks == HookStatus() and not run.watch.engine_hooks.degraded


def test_the_probe_names_every_missing_hook_in_one_line():
    status = probe(object())  # a bus with none of the internals
    assert status.degraded and set(status.missing) == set(HOOKS)
    line = status.describe()
    assert "\n" not in line and "degraded" in line
    assert all(name in line for name in HOOKS)


def test_a_watch_on_a_version_without_the_endpoint_table_starts_degraded(monkeypatch):
    monkeypatch.setattr(engine_hooks, "endpoint_table", lambda msgbus: None)
    run = _run()
    run.engine.run()
    assert run.watch is not None and run.watch.engine_hooks is not None
    assert run.watch.engine_hooks.missing == ("endpoint table",)


def test_the_loop_time_tells_its_own_loop_from_another_thread_s():
    loop = asyncio.new_event_loop()
    try:
        time = LiveTime(loop)
        assert not time.on_loop()  # no loop runs here
        seen: list[bool] = []
        loop.call_soon(lambda: seen.append(time.on_loop()))
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert seen == [True]
    finally:
        loop.close()
