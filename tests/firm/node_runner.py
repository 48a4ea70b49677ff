"""One TradingNode in its own process, for the firm tests: replayed quotes, the sandbox
venue, the demo trader and hedger, and the watch with a ``firm`` section.

Talks JSON lines: it prints ``{"event": ...}`` (``running``, ``tripped`` when the watch's
cascade is done, ``rearmed``, ``report``) and reads commands on stdin: ``kill <reason>``,
``report``, ``stop``. Every figure it reports is read from the engine (cache, RiskEngine),
not from the watch's own record, except the record itself.

    python tests/firm/node_runner.py '<json options>'
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time

import msgspec
from nautilus_trader.config import StrategyConfig
from nautilus_trader.execution.messages import CancelAllOrders, CancelOrder
from nautilus_trader.model.enums import OrderSide, OrderStatus
from nautilus_trader.model.identifiers import InstrumentId, TraderId
from nautilus_trader.model.objects import Quantity
from nautilus_trader.trading.strategy import Strategy

from nautilus_riskwatch.demo.live import node_config, run_node
from nautilus_riskwatch.demo.replay import ReplayDataClientConfig


class StartProbe(Strategy):
    """Submits a market order in ``on_start``: denied if (and only if) the node is halted
    before strategies start."""

    state_at_start: str | None = None  # the RiskEngine's trading state at on_start

    def on_start(self) -> None:
        from nautilus_trader.risk.engine import RiskEngine

        for subscription in self.msgbus.subscriptions():
            owner = getattr(subscription.handler, "__self__", None)
            if isinstance(owner, RiskEngine):
                StartProbe.state_at_start = owner.trading_state.name
        instrument = InstrumentId.from_str("EUR/USD.SIM")
        self.submit_order(
            self.order_factory.market(instrument, OrderSide.BUY, Quantity.from_int(1_000))
        )


def emit(event: str, **fields: object) -> None:
    """One protocol line, on a line of its own: the node's logger writes to the same pipe
    from its own thread, and a log line it has not ended yet must not swallow ours."""
    sys.stdout.write("\n" + json.dumps({"event": event, **fields}, default=str) + "\n")
    sys.stdout.flush()


def report(node, watch, first_cancel_ns) -> dict:
    cache = node.cache
    orders = cache.orders()
    record = watch.record
    return {
        "trading_state": node.kernel.risk_engine.trading_state.name,
        "open_orders": sorted(
            [str(o.strategy_id), list(o.tags or [])] for o in cache.orders_open()
        ),
        "positions": sorted([str(p.strategy_id), p.side.name] for p in cache.positions_open()),
        "orders": len(orders),
        "statuses": sorted({o.status.name for o in orders}),
        "denied": sum(o.status == OrderStatus.DENIED for o in orders),
        "fills": sum(len(o.events) and o.filled_qty.as_decimal() > 0 for o in orders),
        # fills of orders made after this trip, other than the watch's closes and the
        # protective ones: trading after a trip (the fault schedule's first invariant)
        "fills_after_trip": 0
        if record is None
        else sum(
            o.filled_qty.as_decimal() > 0
            and o.ts_init >= record.tripped_at_ns
            and not {"HEDGE", "RISKWATCH"} & set(o.tags or [])
            for o in orders
        ),
        "record": None
        if record is None
        else {
            "cause": record.cause.describe(),
            "stage": record.stage,
            "complete": record.complete,
            "tripped_at_ns": record.tripped_at_ns,
            "closed": record.positions_closed,
            "cancelled": record.orders_cancelled,
        },
        "records": len(watch.records),
        "loss": str(watch.loss),
        "first_cancel_ns": first_cancel_ns[0],
        "probe_state_at_start": StartProbe.state_at_start,
        # the probe's market order: DENIED by a halted RiskEngine; past it, the sandbox
        # venue (no price yet at on_start) rejects it
        "probe_statuses": sorted(
            o.status.name for o in orders if str(o.strategy_id).startswith("StartProbe")
        ),
    }


def main() -> None:
    options = json.loads(sys.argv[1])
    watch_config = {
        "feeds": [
            {"instrument_id": "EUR/USD.SIM", "stale_after": options.get("stale_after", 60.0)}
        ],
        "max_loss": options.get("max_loss", "1000000 USD"),
        "hedge_tags": ["HEDGE"],
        "firm": options["firm"],
    }
    config = node_config(
        watch_config,
        replay=ReplayDataClientConfig(
            speed=options.get("speed", 60.0),
            max_gap=options.get("max_gap", 0.05),
            start_index=options.get("start", 0),
        ),
        log_level=options.get("log_level", "ERROR"),
        reorder_every=options.get("reorder_every", 200),
    )
    config = msgspec.structs.replace(config, trader_id=TraderId(options["trader_id"]))
    if options.get("probe"):
        from nautilus_trader.config import ImportableStrategyConfig

        probe = ImportableStrategyConfig(
            strategy_path="__main__:StartProbe",
            config_path="nautilus_trader.config:StrategyConfig",
            config={"order_id_tag": "009"},
        )
        config = msgspec.structs.replace(config, strategies=[*config.strategies, probe])
    assert StrategyConfig  # (the probe's config class)

    commands: asyncio.Queue[str] = asyncio.Queue()

    async def session(node) -> None:
        loop = asyncio.get_running_loop()

        def read_stdin() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(commands.put_nowait, line.strip())
            loop.call_soon_threadsafe(commands.put_nowait, "stop")

        threading.Thread(target=read_stdin, daemon=True).start()
        msgbus, exec_engine = node.kernel.msgbus, node.kernel.exec_engine
        first_cancel_ns = [None]
        cancels_ns: list[int] = []  # every cancel command sent, wall clock (benchmarks)
        msgbus.deregister("ExecEngine.execute", exec_engine.execute)

        def spy(command) -> None:
            if isinstance(command, CancelOrder | CancelAllOrders):
                cancels_ns.append(time.time_ns())
                if first_cancel_ns[0] is None:
                    first_cancel_ns[0] = cancels_ns[-1]
            exec_engine.execute(command)

        msgbus.register("ExecEngine.execute", spy)
        watch = node.trader.actors()[0]
        while not node.is_running():
            await asyncio.sleep(0.01)
        # ready once the demo book is on (a position and resting orders), or tripped
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline
            and watch.record is None
            and not (node.cache.positions_open() and node.cache.orders_open())
        ):
            await asyncio.sleep(0.01)
        emit("running", **report(node, watch, first_cancel_ns))
        told_trip = told_rearm = False
        while True:
            try:
                command = await asyncio.wait_for(commands.get(), 0.01)
            except TimeoutError:
                command = ""
            record = watch.record
            if record is not None and record.stage == "done" and not told_trip:
                await asyncio.sleep(0.2)  # let the last events land in the cache
                told_trip, told_rearm = True, False
                emit("tripped", cancels_ns=cancels_ns, **report(node, watch, first_cancel_ns))
            if record is None and told_trip and not told_rearm:
                told_rearm, told_trip = True, False
                emit("rearmed", **report(node, watch, first_cancel_ns))
            if command.startswith("kill"):
                watch.kill(command[5:] or "test", who="runner")
            elif command == "report":
                emit("report", **report(node, watch, first_cancel_ns))
            elif command == "stop":
                emit("stopped", **report(node, watch, first_cancel_ns))
                return

    run_node(config, session)


if __name__ == "__main__":
    main()
