"""NautilusTrader's own ``EMACross``, unchanged, in a ``BacktestNode`` of its own process.

The node's log goes to this process's stdout at WARNING, as a user's node would write it,
so a test can count its lines. The last line is one JSON object of facts read from the
engine's cache (and the watch's record, for comparing):

    python tests/backtest/ema_cross_node.py DIR watch|control

``DIR`` gets the catalog (the recorded EUR/USD quotes, 17:00 to 23:00 UTC) and, with the
watch, its event log ``DIR/events.jsonl``. ``EMACross`` does not listen for
``on_order_denied``: after the trip it submits again on every 1-minute bar.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec
from nautilus_trader.backtest.node import BacktestNode
from nautilus_trader.config import ImportableStrategyConfig, LoggingConfig
from nautilus_trader.model.enums import OrderStatus
from nautilus_trader.model.events import OrderDenied, OrderFilled

from nautilus_riskwatch.demo.node import backtest_run_config, write_catalog

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: the kill's invariants
from invariants import Invariants, InvariantViolated

STRATEGY = "EMACross-001"
EXAMPLE = "nautilus_trader.examples.strategies.ema_cross"


def run(folder: str, guarded: bool) -> dict:
    write_catalog(folder)
    watch = {
        "feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 90.0}],
        "max_loss": "1 USD",  # the first position's spread trips it, early in the evening
        "event_log": f"{folder}/events.jsonl",
    }
    config = backtest_run_config(
        folder,
        watch if guarded else None,
        oms_type="NETTING",
        strategies=[
            ImportableStrategyConfig(
                strategy_path=f"{EXAMPLE}:EMACross",
                config_path=f"{EXAMPLE}:EMACrossConfig",
                config={
                    "instrument_id": "EUR/USD.SIM",
                    "bar_type": "EUR/USD.SIM-1-MINUTE-BID-INTERNAL",
                    "trade_size": "100000",
                    "order_id_tag": "001",
                },
            )
        ],
    )
    engine_config = msgspec.structs.replace(
        config.engine, logging=LoggingConfig(log_level="WARNING", log_colors=False)
    )
    config = msgspec.structs.replace(config, engine=engine_config)
    node = BacktestNode(configs=[config])
    node.build()
    engine = node.get_engine(config.id)
    checks = Invariants(engine, *engine.trader.actors()) if guarded else None
    node.run()
    cache = engine.cache
    facts: dict = {
        "denied": [
            [e.ts_event, o.client_order_id.value, e.reason]
            for o in cache.orders()
            for e in o.events
            if isinstance(e, OrderDenied)
        ],
        "fills": [
            [e.ts_event, o.client_order_id.value, list(o.tags or ())]
            for o in cache.orders()
            for e in o.events
            if isinstance(e, OrderFilled)
        ],
        "orders": [
            [o.client_order_id.value, str(o.strategy_id), list(o.tags or ()), o.status.name]
            for o in cache.orders()
        ],
        "open_positions": len(cache.positions_open()),
        "live_orders": len([o for o in cache.orders() if not o.is_closed]),
        "denied_status": len([o for o in cache.orders() if o.status == OrderStatus.DENIED]),
    }
    if checks is not None:
        try:
            checks.check()
            facts["invariants"] = "held"
        except InvariantViolated as error:
            facts["invariants"] = str(error)
        [watch_actor] = engine.trader.actors()
        record = watch_actor.record
        facts["record"] = None if record is None else record.to_dict()
        facts["report"] = None if record is None else record.report()
    node.dispose()
    return facts


if __name__ == "__main__":
    facts = run(sys.argv[1], sys.argv[2] == "watch")
    sys.stdout.flush()
    sys.stdout.write("\n" + json.dumps(facts, default=str) + "\n")
