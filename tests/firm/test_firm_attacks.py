"""What someone with write access to Redis can do to running and restarted nodes: only
halt them. Real node processes, a real ``redis-server``; verdicts from each node's engine.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from keys import OPERATOR, WRONG
from test_firm_nodes import HEDGE_ONLY, _book, _cli, _latch
from test_firm_outages import _until

from nautilus_riskwatch.firm.link import FirmLink


def _redis(url, *command):
    async def go():
        link = FirmLink(url, "acme")
        try:
            return await link.redis.execute_command(*command)
        finally:
            await link.close()

    return asyncio.run(go())


def _report(node):
    node.send("report")
    return node.wait("report")


def test_a_latch_set_back_by_hand_is_restored_and_a_restarted_node_stays_halted(
    redis_server, nodes
):
    b = nodes.start("B", redis_server.url)
    b.wait("running")
    assert _cli(redis_server.url, "kill", "--reason", "drill", "--who", "ops").returncode == 0
    b.wait("tripped")
    latch_key = "riskwatch:{acme}:latch"
    for tamper in (("HSET", latch_key, "state", "never"), ("HDEL", latch_key, "state")):
        _redis(redis_server.url, *tamper)
        # B still holds the trip and puts it back, as it was: origin, cause, reason
        restored = _until(
            lambda: (latch := _latch(redis_server.url)).tripped and latch, 20, "the restore"
        )
        assert (restored.epoch, restored.origin, restored.cause, restored.reason) == (
            1, "operator ops", "manual", "drill",
        )  # fmt: skip
    b.send("report")
    assert b.wait("report")["trading_state"] == "HALTED"
    b.stop()
    # with nobody running to restore it, the state is set to "never" again
    _redis(redis_server.url, "HSET", latch_key, "state", "never")
    b2 = nodes.start("B", redis_server.url, probe=True)
    running = b2.wait("running")
    report = b2.wait("tripped")
    assert running["probe_state_at_start"] == "HALTED"  # halted before any strategy
    assert report["trading_state"] == "HALTED" and report["fills"] == 0
    cause = report["record"]["cause"]
    assert cause["kind"] == "firm-kill" and cause["origin"] == "operator ops"
    assert "no signed re-arm" in cause["reason"] and "drill" in cause["reason"]
    # and the node put the trip back as it was, not as its own
    restored = _until(lambda: (latch := _latch(redis_server.url)).tripped and latch, 20, "restore")
    assert (restored.epoch, restored.origin, restored.reason) == (1, "operator ops", "drill")


def test_only_the_operators_rearm_of_the_epoch_in_force_re_arms_and_the_cli_says_who_refused(
    redis_server, nodes
):
    _redis(redis_server.url, "SET", "riskwatch:{acme}:operator", OPERATOR.public)
    b = nodes.start("B", redis_server.url)
    c = nodes.start("C", redis_server.url, firm={"operator_key": WRONG.public})
    b.wait("running"), c.wait("running")
    assert _cli(redis_server.url, "kill", "--reason", "drill").returncode == 0
    b.wait("tripped"), c.wait("tripped")
    unsigned = _cli(redis_server.url, "rearm", "--epoch", "1", "--reason", "no key")
    assert unsigned.returncode == 1 and "no operator key" in unsigned.stdout
    stale = _cli(redis_server.url, "rearm", "--epoch", "0", "--reason", "old", key=OPERATOR)
    assert stale.returncode == 1 and "stale epoch 0" in stale.stdout
    wrong = _cli(redis_server.url, "rearm", "--epoch", "1", "--reason", "guess", key=WRONG)
    assert wrong.returncode == 1 and "RE-ARMED" not in wrong.stdout
    assert "not the firm's operator key" in wrong.stdout
    assert _latch(redis_server.url).tripped  # nothing was written
    b.send("report")
    assert b.wait("report")["trading_state"] == "HALTED"
    # the operator's key: B (which holds it) re-arms, C (which holds another) refuses
    done = _cli(redis_server.url, "rearm", "--epoch", "1", "--reason", "ok", key=OPERATOR)
    assert done.returncode == 1, done.stdout
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("  ")}
    assert "ACCEPTED" in lines["B"]
    assert "REFUSED" in lines["C"] and "does not verify" in lines["C"]
    assert "NOT re-armed on: C" in done.stdout and "RE-ARMED" not in done.stdout
    rearmed = b.wait("rearmed")
    assert rearmed["trading_state"] == "ACTIVE" and rearmed["records"] == 1
    c.send("report")
    assert c.wait("report")["trading_state"] == "HALTED"


def test_a_corrupt_latch_halts_every_node_and_kill_still_works(redis_server, nodes):
    b, c = nodes.start("B", redis_server.url), nodes.start("C", redis_server.url)
    b.wait("running"), c.wait("running")
    _redis(redis_server.url, "DEL", "riskwatch:{acme}:latch")
    _redis(redis_server.url, "RPUSH", "riskwatch:{acme}:latch", "garbage")  # a list
    for node in (b, c):
        report = node.wait("tripped")
        cause = report["record"]["cause"]
        assert cause["kind"] == "firm-kill" and cause["origin_cause"] == "corrupt-latch"
        assert "not a hash" in cause["reason"]
        assert report["trading_state"] == "HALTED" and _book(report) == HEDGE_ONLY
    # a node replaced the corrupt key with a readable trip; the operator's kill works
    latch = _until(lambda: (latch := _latch(redis_server.url)).tripped and latch, 20, "a trip")
    assert latch.cause == "corrupt-latch" and latch.origin in ("B", "C")
    _redis(redis_server.url, "HSET", "riskwatch:{acme}:latch", "epoch", "x7")  # unreadable
    killed = _cli(redis_server.url, "kill", "--reason", "after the corruption", "--who", "ops")
    assert killed.returncode == 0, killed.stdout  # a node may have replaced it first
    latch = _latch(redis_server.url)
    assert latch.tripped and latch.epoch == 2


def test_a_ghost_member_cannot_keep_a_losing_firm_trading(redis_server, nodes):
    """A member entry no node heartbeats or signs (``stopped``, +1,000,000 USD) sits in
    Redis; node A alone loses more than the firm ceiling: the firm trips."""
    _redis(redis_server.url, "SADD", "riskwatch:{acme}:nodes", "GHOST")
    _redis(
        redis_server.url, "HSET", "riskwatch:{acme}:node:GHOST", "pnl", "1000000",
        "currency", "USD", "state", "stopped", "at_ms", "1", "ttl_ms", "2000",
    )  # fmt: skip
    options = {"speed": 1.0, "max_gap": None}  # a fixed loss of ~700 USD from the start
    a = nodes.start("A", redis_server.url, firm={"max_loss": "100 USD"}, **options)
    report = a.wait("tripped")
    loss = Decimal(report["loss"])
    assert loss >= 100
    cause = report["record"]["cause"]
    assert cause["kind"] == "firm-kill" and cause["origin_cause"] == "firm-loss"
    assert report["trading_state"] == "HALTED" and _book(report) == HEDGE_ONLY
    latch = _latch(redis_server.url)
    assert "GHOST=0" in latch.detail.split(",")  # it counted only as a loss: none


def test_a_latch_rolled_back_to_an_old_rearm_cannot_restart_a_node_that_remembers(
    redis_server, nodes, tmp_path
):
    """Someone with write access keeps the latch as it was after the operator's genuine
    re-arm of epoch 1, and writes it back once the firm has tripped again (epoch 2) and no
    node runs. That old re-arm verifies: node C, which never saw epoch 2, comes up trading
    (the control). Node B, which saw epoch 2 and keeps an ``epoch_file``, comes up halted
    before its strategies, and puts epoch 2 back as it was; C then trips on it."""
    url, latch_key = redis_server.url, "riskwatch:{acme}:latch"
    firm = {"epoch_file": str(tmp_path / "B.epoch")}
    b = nodes.start("B", url, firm=firm)
    b.wait("running")
    assert _cli(url, "kill", "--reason", "drill").returncode == 0
    b.wait("tripped")
    done = _cli(url, "rearm", "--epoch", "1", "--reason", "drill over", key=OPERATOR)
    assert done.returncode == 0, done.stdout
    b.wait("rearmed")
    saved = _redis(url, "HGETALL", latch_key)  # the genuine re-arm of epoch 1
    assert _cli(url, "kill", "--reason", "the real one", "--who", "ops").returncode == 0
    b.wait("tripped")
    b.stop()
    _redis(url, "DEL", latch_key)
    _redis(url, "HSET", latch_key, *[part for item in saved.items() for part in item])
    assert (_latch(url).state, _latch(url).epoch) == ("armed", 1)

    c = nodes.start("C", url, probe=True)  # the control: only Redis to go by
    control = c.wait("running")
    assert control["probe_state_at_start"] == "ACTIVE" and control["record"] is None
    assert control["probe_statuses"] == ["REJECTED"]  # past the RiskEngine, to the venue
    assert control["trading_state"] == "ACTIVE" and len(control["open_orders"]) >= 3

    b2 = nodes.start("B", url, firm=firm, probe=True)
    running = b2.wait("running")
    report = b2.wait("tripped")
    assert running["probe_state_at_start"] == "HALTED"  # halted before any strategy
    assert report["trading_state"] == "HALTED" and report["denied"] >= 1
    assert report["fills"] == 0 and report["probe_statuses"] == ["DENIED"]
    cause = report["record"]["cause"]
    assert cause["kind"] == "firm-kill" and cause["epoch"] == "2"
    assert cause["origin"] == "operator ops" and "the real one" in cause["reason"]
    # B put epoch 2 back as it was, and C, running on the old re-arm, trips on it
    restored = _until(lambda: (latch := _latch(url)).tripped and latch, 20, "the restore")
    assert (restored.epoch, restored.origin, restored.reason) == (2, "operator ops", "the real one")
    tripped = c.wait("tripped")
    assert tripped["trading_state"] == "HALTED"
    assert tripped["record"]["cause"]["epoch"] == "2"
