"""A live TradingNode guarded by the watch: offline, on replayed real EUR/USD quotes.

The node is configured as an operator would: one ``ImportableActorConfig`` for the watch
in ``TradingNodeConfig.actors``. Market data comes from a replay client (recorded quotes in
accelerated real time) and orders go to NautilusTrader's sandbox venue. After 300 quotes
the feed goes silent, as a venue's socket can stay open and deliver nothing; 0.5 s later
the watch trips, cancels, flattens all but the hedge, and the node keeps running, halted.

Run it: ``python examples/live_node.py`` (about 5 seconds).
"""

from __future__ import annotations

import asyncio

from nautilus_trader.live.node import TradingNode

from nautilus_riskwatch import next_record
from nautilus_riskwatch.demo.live import node_config, run_node
from nautilus_riskwatch.demo.replay import ReplayDataClient, ReplayDataClientConfig

WATCH = {
    "feeds": [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 0.5}],
    "max_loss": "5000 USD",
    "hedge_tags": ["HEDGE"],
    "trading_state_on_trip": "HALTED",
    "confirm_timeout": 2.0,
    # what positions are marked with: the replay client has quotes only (the default,
    # quote then trade then bar, would subscribe to trades it cannot give)
    "mark_with": ["quote"],
}


async def session(node: TradingNode) -> None:
    watch = node.trader.actors()[0]
    # The watch publishes its record on the message bus when the cascade ends: wait for it
    # there, as any other component of the node would (no polling).
    try:
        await asyncio.wait_for(next_record(node.kernel.msgbus, watch.id), timeout=30)
    except TimeoutError:
        pass
    await asyncio.sleep(0.5)  # the node runs on, halted
    feed = ReplayDataClient.last
    print("=" * 78)
    if watch.record is None:
        print("The watch did not trip.")
        return
    print(watch.record.report())
    if feed is not None and feed.last_delivered_ns is not None:
        silent = (watch.record.tripped_at_ns - feed.last_delivered_ns) / 1e6
        print(f"  last quote -> trip: {silent:.1f} ms (bound 500 ms)")
    print("-" * 78)
    print(
        f"node running: {node.is_running()}, "
        f"trading state: {node.kernel.risk_engine.trading_state.name}"
    )
    for order in node.cache.orders_open():
        print(f"  resting order  {order.client_order_id} {order.strategy_id} tags={order.tags}")
    for position in node.cache.positions_open():
        print(
            f"  open position  {position.id} {position.strategy_id} "
            f"{position.side.name} {position.quantity}"
        )
    print("=" * 78)


def main() -> None:
    config = node_config(
        WATCH, replay=ReplayDataClientConfig(speed=600.0, stop_after=300, max_gap=0.1)
    )
    run_node(config, session)


if __name__ == "__main__":
    main()
