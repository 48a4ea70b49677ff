"""Build and run an offline live ``TradingNode``: replayed quotes, the sandbox venue,
the demo trader and hedger, and the watch, all from importable configs as an operator
would write them."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from nautilus_trader.adapters.sandbox.config import SandboxExecutionClientConfig
from nautilus_trader.adapters.sandbox.factory import SandboxLiveExecClientFactory
from nautilus_trader.config import (
    ImportableActorConfig,
    ImportableStrategyConfig,
    LiveExecEngineConfig,
    LoggingConfig,
    TradingNodeConfig,
)
from nautilus_trader.live.node import TradingNode

from nautilus_riskwatch.demo.replay import ReplayDataClientConfig, ReplayDataClientFactory


def node_config(
    watch: dict[str, Any],
    *,
    replay: ReplayDataClientConfig | None = None,
    oms_type: str = "HEDGING",
    hedger: bool = True,
    reorder_every: int = 200,
    log_level: str = "ERROR",
) -> TradingNodeConfig:
    """A ``TradingNodeConfig`` with the watch added as one ``ImportableActorConfig``."""
    strategies = [
        ImportableStrategyConfig(
            strategy_path="nautilus_riskwatch.demo:DemoTrader",
            config_path="nautilus_riskwatch.demo:DemoTraderConfig",
            config={
                "instrument_id": "EUR/USD.SIM",
                "order_id_tag": "001",
                "reorder_every": reorder_every,
            },
        )
    ]
    if hedger:
        strategies.append(
            ImportableStrategyConfig(
                strategy_path="nautilus_riskwatch.demo:DemoHedger",
                config_path="nautilus_riskwatch.demo:DemoHedgerConfig",
                config={"instrument_id": "EUR/USD.SIM", "order_id_tag": "002"},
            )
        )
    return TradingNodeConfig(
        trader_id="LIVE-001",
        logging=LoggingConfig(log_level=log_level),
        exec_engine=LiveExecEngineConfig(reconciliation=False, inflight_check_interval_ms=0),
        data_clients={"REPLAY": replay or ReplayDataClientConfig()},
        exec_clients={
            "SIM": SandboxExecutionClientConfig(
                venue="SIM",
                starting_balances=["10000000 USD"],
                base_currency="USD",
                oms_type=oms_type,
                account_type="MARGIN",
                bar_execution=False,
                trade_execution=False,
            )
        },
        actors=[
            ImportableActorConfig(
                actor_path="nautilus_riskwatch:RiskWatch",
                config_path="nautilus_riskwatch:RiskWatchConfig",
                config=watch,
            )
        ],
        strategies=strategies,
        timeout_connection=5.0,
        timeout_reconciliation=1.0,
        timeout_portfolio=1.0,
        timeout_disconnection=1.0,
        timeout_post_stop=0.5,
        timeout_shutdown=1.0,
    )


def run_node(
    config: TradingNodeConfig,
    session: Callable[[TradingNode], Awaitable[None]],
) -> TradingNode:
    """Build the node, run it while ``session(node)`` runs, stop it, and dispose of it.

    Must be called from the main thread (the node installs signal handlers). Returns the
    disposed node, whose cache and trader can still be read.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    node = TradingNode(config=config, loop=loop)
    node.add_data_client_factory("REPLAY", ReplayDataClientFactory)
    node.add_exec_client_factory("SIM", SandboxLiveExecClientFactory)
    node.build()

    async def main() -> None:
        running = asyncio.ensure_future(node.run_async())
        try:
            await session(node)
        finally:
            if node.is_running():
                await node.stop_async()
            try:
                await asyncio.wait_for(running, 5.0)
            except (asyncio.CancelledError, TimeoutError):
                pass

    try:
        loop.run_until_complete(main())
    finally:
        node.kernel.cancel_all_tasks()
        node.dispose()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        asyncio.set_event_loop(None)
    return node
