"""The firm switch across real TradingNode processes sharing a real redis-server.

Each node is its own process (``node_runner.py``): replayed EUR/USD quotes, the sandbox
venue, the demo trader (a short position and two resting orders) and hedger (a tagged long
and a tagged stop). What is asserted is read from each node's engine: the RiskEngine's
trading state, the cache's open orders and positions, the orders' statuses and fills.
Real time on a loaded machine: waits are generous, no wall time is asserted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

from nautilus_riskwatch.firm.link import FirmLink

HEDGE_ONLY = {
    "open_orders": [["DemoHedger-002", ["HEDGE"]]],
    "positions": [["DemoHedger-002", "LONG"]],
}


def _book(report):
    return {"open_orders": report["open_orders"], "positions": report["positions"]}


def _latch(url):
    async def read():
        link = FirmLink(url, "acme")
        try:
            return await link.latch()
        finally:
            await link.close()

    return asyncio.run(read())


def _until_heartbeat(url, node, timeout=30.0):
    """Wait for the node's first heartbeat: a node reports "running" once its book is on,
    which on a loaded machine can come before its firm task has written anything."""

    async def beat():
        link = FirmLink(url, "acme")
        try:
            return await link.redis.exists(link.keys.node_prefix + node)
        finally:
            await link.close()

    deadline = time.monotonic() + timeout
    while not asyncio.run(beat()):
        assert time.monotonic() < deadline, f"node {node} never heartbeated"
        time.sleep(0.05)


def _cli(url, *args, key=None):
    env = {k: v for k, v in os.environ.items() if k != "RISKWATCH_OPERATOR_KEY_FILE"}
    if key is not None:
        env["RISKWATCH_OPERATOR_KEY_FILE"] = key.file
    return subprocess.run(
        [sys.executable, "-m", "nautilus_riskwatch", "firm", "--url", url, "--firm", "acme",
         *args],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_a_trip_on_one_node_halts_and_flattens_the_others(redis_server, nodes):
    a, b, c = (nodes.start(name, redis_server.url) for name in "ABC")
    for node in (a, b, c):
        running = node.wait("running")
        assert running["trading_state"] == "ACTIVE" and len(running["open_orders"]) == 3
    a.send("kill desk A blew up")
    tripped = {node.name: node.wait("tripped") for node in (a, b, c)}
    assert tripped["A"]["record"]["cause"]["kind"] == "manual"
    for name in "BC":
        report = tripped[name]
        cause = report["record"]["cause"]
        assert cause["kind"] == "firm-kill" and cause["origin"] == "A" and cause["epoch"] == "1"
        assert cause["origin_cause"] == "manual" and "desk A blew up" in cause["reason"]
        assert report["trading_state"] == "HALTED"
        assert _book(report) == HEDGE_ONLY  # resting orders cancelled, the short closed
        assert report["record"]["complete"] and report["record"]["closed"] == ["SIM-1-001"]
    latch = _latch(redis_server.url)
    assert latch.tripped and latch.epoch == 1 and latch.origin == "A"
    # nothing new is traded afterwards: the books stay as they were
    for node in (b, c):
        node.send("report")
        later = node.wait("report")
        assert _book(later) == HEDGE_ONLY and later["trading_state"] == "HALTED"
        assert later["fills"] == tripped[node.name]["fills"]


def test_cli_kill_halts_all_and_a_restarted_node_comes_up_halted_without_one_order(
    redis_server, nodes
):
    b, c = nodes.start("B", redis_server.url), nodes.start("C", redis_server.url)
    b.wait("running"), c.wait("running")
    done = _cli(redis_server.url, "kill", "--reason", "risk desk: stop everything", "--who", "ops")
    assert done.returncode == 0, done.stdout + done.stderr
    for node in (b, c):
        report = node.wait("tripped")
        assert report["record"]["cause"]["origin"] == "operator ops"
        assert report["trading_state"] == "HALTED" and _book(report) == HEDGE_ONLY
    b.stop()
    # B comes back while the firm is tripped; a probe strategy submits in its on_start
    b2 = nodes.start("B", redis_server.url, probe=True)
    running = b2.wait("running")
    report = b2.wait("tripped")
    # the watch starts before the strategies, and halted the node before it returned
    assert running["probe_state_at_start"] == "HALTED"
    for seen in (running, report):
        assert seen["trading_state"] == "HALTED"
        assert seen["fills"] == 0 and seen["positions"] == [] and seen["open_orders"] == []
    assert report["statuses"] == ["DENIED"]  # every order of this life denied, none sent
    assert report["denied"] >= 2  # the probe's on_start order and the trader's first
    assert report["record"]["cause"]["kind"] == "firm-kill"
    assert report["record"]["cause"]["epoch"] == "1"


def test_the_nodes_losses_cross_the_firm_ceiling_and_all_trip(redis_server, nodes):
    # Quotes in real time from a recorded 10 s gap: every node holds the same position at
    # the same marks, so its loss is one fixed figure L while the test runs.
    options = {"speed": 1.0, "max_gap": None}
    firm = {"max_loss": "1800 USD", "heartbeat": 0.1}
    group = [nodes.start(name, redis_server.url, firm=firm, **options) for name in "ABC"]
    losses = [Decimal(node.wait("running")["loss"]) for node in group]
    assert len(set(losses)) == 1
    loss = losses[0]
    assert 2 * loss < Decimal(1800) <= 3 * loss  # two nodes stay below, three cross
    reports = [node.wait("tripped") for node in group]
    latch = _latch(redis_server.url)
    assert latch.cause == "firm-loss"
    figures = dict(item.split("=") for item in latch.detail.split(","))
    assert sorted(figures) == ["A", "B", "C"]
    total = sum(Decimal(v) for v in figures.values())
    assert total == -3 * loss  # exact: the server summed the decimal strings
    assert latch.reason == f"firm loss {-total} USD reached the ceiling 1800 USD"
    for report in reports:
        assert report["record"]["cause"]["kind"] == "firm-kill"
        assert report["record"]["cause"]["origin_cause"] == "firm-loss"
        assert report["trading_state"] == "HALTED" and _book(report) == HEDGE_ONLY


def test_a_node_whose_heartbeat_stops_trips_the_firm(redis_server, nodes):
    firm = {"heartbeat": 0.1, "heartbeat_ttl": 0.6, "on_heartbeat_lost": "trip"}
    a, b = (
        nodes.start("A", redis_server.url, firm=firm),
        nodes.start("B", redis_server.url, firm=firm),
    )
    a.wait("running"), b.wait("running")
    _until_heartbeat(redis_server.url, "A")  # A is a member before it hangs
    os.kill(a.process.pid, signal.SIGSTOP)  # A hangs: no heartbeat, no trip of its own
    try:
        report = b.wait("tripped")
    finally:
        os.kill(a.process.pid, signal.SIGCONT)
    cause = report["record"]["cause"]
    assert cause["origin_cause"] == "heartbeat" and cause["reason"].startswith("node A silent")
    assert report["trading_state"] == "HALTED" and _book(report) == HEDGE_ONLY
    # A, woken, finds the latch set and comes down too
    woken = a.wait("tripped")
    assert woken["record"]["cause"]["kind"] == "firm-kill"
    assert woken["trading_state"] == "HALTED" and _book(woken) == HEDGE_ONLY


def test_a_node_that_cannot_reach_redis_at_start_comes_up_halted(redis_server, nodes):
    redis_server.kill()  # on_unreachable_at_start="halt" (the default)
    b = nodes.start("B", redis_server.url, probe=True, firm={"timeout": 0.3}, enrol=False)
    running = b.wait("running")
    report = b.wait("tripped")
    assert running["probe_state_at_start"] == "HALTED"
    assert report["record"]["cause"]["kind"] == "firm-unreachable"
    assert report["trading_state"] == "HALTED" and report["statuses"] == ["DENIED"]
