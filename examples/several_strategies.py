"""Several strategies under one watch, with a protective hedge that must survive.

Two traders on EUR/USD (short 1,000,000 and short 400,000) and a hedger holding a
protective long with a protective stop, all tagged ``HEDGE``. The watch guards all three;
the loss ceiling is 1,500 USD on the whole book. When it trips, both traders' resting orders
are cancelled and their positions closed; the hedger's position and stop stay.

Run it: ``python examples/several_strategies.py``
"""

from __future__ import annotations

from nautilus_riskwatch import RiskWatchConfig
from nautilus_riskwatch.demo import DemoTrader, DemoTraderConfig, build_engine


def main() -> None:
    run = build_engine(
        RiskWatchConfig(
            feeds=[{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}],
            max_loss="1500 USD",
            hedge_tags=["HEDGE"],
        )
    )
    second = DemoTrader(
        DemoTraderConfig(
            instrument_id="EUR/USD.SIM",
            side="SELL",
            trade_size=400_000,
            order_id_tag="003",
            reorder_every=3_000,
        )
    )
    run.engine.add_strategy(second)
    run.engine.run()
    record = run.watch.record
    print(record.report() if record else "The watch did not trip.")
    print("After the run:")
    for position in run.engine.cache.positions_open():
        print(f"  open position  {position.id} {position.strategy_id} {position.side.name}")
    for order in run.engine.cache.orders_open():
        print(f"  resting order  {order.client_order_id} {order.strategy_id} tags={order.tags}")
    run.engine.dispose()


if __name__ == "__main__":
    main()
