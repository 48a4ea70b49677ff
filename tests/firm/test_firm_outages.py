"""The firm switch through a stalled link and a Redis outage, on real node processes.

What is judged is each node's engine (trading state, open orders, positions) and the
latch on the real ``redis-server``; no wall time is asserted.
"""

from __future__ import annotations

import asyncio
import time

from proxy import StallingProxy
from test_firm_nodes import HEDGE_ONLY, _book, _latch

from nautilus_riskwatch.firm.link import FirmLink


def _until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"not reached in {timeout}s: {what}"
        time.sleep(0.05)


def test_a_trip_made_while_the_heartbeat_is_in_flight_is_told_at_once(redis_server, nodes):
    """A's heartbeat reply is held by the proxy (its firm task is awaiting Redis), then
    every reply to A is: a trip on A must still reach the latch, and B. So it went out as
    one request on an open connection, not after the heartbeat returns, nor after any
    reply (a connection's handshake, a ``NOSCRIPT`` and ``SCRIPT LOAD``) that a cold
    connection would have waited for."""
    proxy = StallingProxy(redis_server.port)
    try:
        # a long command timeout and ttl: the held heartbeat neither fails nor makes A
        # count as lost while the test runs
        firm = {"heartbeat": 0.3, "heartbeat_ttl": 60.0, "timeout": 60.0}
        a = nodes.start("A", proxy.url, firm=firm)
        b = nodes.start("B", redis_server.url)
        a.wait("running"), b.wait("running")
        assert proxy.warmed.wait(30), "A's tell connection never loaded its scripts"
        proxy.stall_heartbeats = True
        assert proxy.stalled.wait(30), "A's heartbeat was never held"
        proxy.hold_replies = True  # from now on A hears nothing back from Redis
        a.send("kill while the heartbeat is in flight")
        latch = _until(
            lambda: (latch := _latch(redis_server.url)).tripped and latch, 20, "A's trip"
        )
        assert proxy.hold_replies  # A's heartbeat reply, and every other, is still held
        report = b.wait("tripped")
    finally:
        proxy.close()
    assert latch.origin == "A" and latch.cause == "manual"
    cause = report["record"]["cause"]
    assert cause["origin"] == "A" and "while the heartbeat is in flight" in cause["reason"]
    assert report["trading_state"] == "HALTED" and _book(report) == HEDGE_ONLY


def _seqs(url):
    async def read():
        link = FirmLink(url, "acme")
        try:
            return {n.name: n.age_s for n in (await link.status()).nodes}
        finally:
            await link.close()

    return asyncio.run(read())


def _outage_with_a_late_back(redis_server, a_proxy, b, during=None, seconds=10.0):
    """A Redis outage in which B holds A's last heartbeat and B's link comes back first.

    A's link is cut just before Redis goes (B reads A's last heartbeat meanwhile) and is
    mended only once B has beaten again after the outage: B then judges A, whose signed
    heartbeat is ``seconds`` old, before A can write a new one. Counted as silence, the
    outage would make A lost on B's first heartbeat back; as link time, A has one ttl.
    """
    a_proxy.cut()
    time.sleep(0.6)  # three of B's heartbeats: B has read A's last one
    redis_server.kill()
    if during is not None:
        during()
    time.sleep(seconds)
    redis_server.start()
    _until(lambda: _seqs(redis_server.url).get("B", 99) < 0.5, 30, "B beats again")
    a_proxy.mend()


def test_a_ten_second_redis_outage_with_no_trip_halts_no_node(redis_server, nodes):
    """Default policies (``trade_on``, ``on_heartbeat_lost="trip"``): every member's
    heartbeat is far past its ttl when Redis returns, but that is the outage, not a lost
    node: each gets one ttl of link time, beats, and nobody trips. The ttl is 2 s (ten
    heartbeats) so that A, held back after B's return, comes back well within it."""
    firm = {"heartbeat_ttl": 2.0}
    proxy = StallingProxy(redis_server.port)
    try:
        a = nodes.start("A", proxy.url, firm=firm)
        b = nodes.start("B", redis_server.url, firm=firm)
        a.wait("running"), b.wait("running")
        _outage_with_a_late_back(redis_server, proxy, b)
        # both beat again, and then some: two ttls of link time after A's return
        _until(lambda: all(age < 0.5 for age in _seqs(redis_server.url).values()), 30, "beats")
        time.sleep(4.0)
        for node in (a, b):
            node.send("report")
            report = node.wait("report")
            assert report["trading_state"] == "ACTIVE" and report["record"] is None
            assert len(report["open_orders"]) >= 3  # the trader still rests its orders
    finally:
        proxy.close()
    assert _latch(redis_server.url).state == "never"


def test_a_trip_during_a_long_outage_keeps_its_origin_and_reason(redis_server, nodes):
    """A trips while Redis is down; B, back first, must learn of A's trip with A's own
    origin and reason, not trip the firm itself for A's silence."""
    firm = {"heartbeat_ttl": 2.0}
    proxy = StallingProxy(redis_server.port)
    try:
        a = nodes.start("A", proxy.url, firm=firm)
        b = nodes.start("B", redis_server.url, firm=firm)
        a.wait("running"), b.wait("running")

        def trip_a() -> None:
            a.send("kill trip while Redis is down")
            local = a.wait("tripped")  # the local cascade does not wait on Redis
            assert local["trading_state"] == "HALTED" and _book(local) == HEDGE_ONLY

        _outage_with_a_late_back(redis_server, proxy, b, during=trip_a, seconds=3.0)
        report = b.wait("tripped")
    finally:
        proxy.close()
    cause = report["record"]["cause"]
    assert cause["kind"] == "firm-kill" and cause["origin"] == "A", cause
    assert cause["origin_cause"] == "manual" and "trip while Redis is down" in cause["reason"]
    assert report["trading_state"] == "HALTED" and _book(report) == HEDGE_ONLY
    latch = _latch(redis_server.url)
    assert (latch.origin, latch.cause, latch.epoch) == ("A", "manual", 1)
