"""The firm's keys on a real redis-server: the latch, the re-arm rules, the exact ceiling."""

from __future__ import annotations

import asyncio
import time

import pytest
from keys import OPERATOR, WRONG, rearm_signature

from nautilus_riskwatch.firm.latch import Latch
from nautilus_riskwatch.firm.link import FirmLink, read_latch_now, redact


def run(coro_fn, url, firm="acme"):
    async def main():
        link = FirmLink(url, firm)
        try:
            return await coro_fn(link)
        finally:
            await link.close()

    return asyncio.run(main())


def test_first_trip_wins_with_an_epoch_origin_cause_reason_and_time(redis_server):
    async def scenario(link):
        before = await link.latch()
        first = await link.trip("A", "stale", "EUR/USD quotes silent 5s")
        second = await link.trip("B", "drawdown", "loss 1000 USD")
        latch = await link.latch()
        time_ms = await link.redis.time()
        events = await link.redis.xrange(link.keys.events)
        return before, first, second, latch, time_ms, events

    before, first, second, latch, now, events = run(scenario, redis_server.url)
    assert before.state == "never" and before.epoch == 0
    assert first == (True, 1) and second == (False, 1)
    assert latch.tripped and latch.epoch == 1
    assert (latch.origin, latch.cause, latch.reason) == ("A", "stale", "EUR/USD quotes silent 5s")
    now_ms = int(now[0]) * 1000 + int(now[1]) // 1000
    assert 0 <= now_ms - latch.at_ms < 5_000
    assert [(f["event"], f["origin"]) for _, f in events] == [("trip", "A"), ("suppressed", "B")]


def test_a_trip_is_announced_on_the_channel(redis_server):
    async def scenario(link):
        pubsub = link.redis.pubsub()
        await pubsub.subscribe(link.keys.channel)
        await pubsub.get_message(timeout=1.0)  # the subscribe confirmation
        await link.trip("A", "manual", "test")
        message = None
        deadline = time.monotonic() + 5
        while message is None and time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        await pubsub.aclose() if hasattr(pubsub, "aclose") else await pubsub.close()
        return message

    message = run(scenario, redis_server.url)
    assert message is not None and message["data"] == "trip 1"


async def _rearm(link, epoch, reason, at_ms, by="ops", key=OPERATOR):
    signature = rearm_signature(link.firm, epoch, by, at_ms, reason, key)
    return await link.rearm(epoch, by, reason, at_ms, signature)


def test_rearm_names_the_epoch_it_clears_and_a_stale_one_is_refused(redis_server):
    async def scenario(link):
        refused_untripped = await _rearm(link, 1, "early", 1)
        await link.trip("A", "manual", "one")
        first = await _rearm(link, 1, "fixed", 1000)
        await link.trip("A", "manual", "two")
        stale = await _rearm(link, 1, "replayed", 1000)
        latch_after_stale = await link.latch()
        good = await _rearm(link, 2, "fixed again", 2000)
        return refused_untripped, first, stale, latch_after_stale, good, await link.latch()

    untripped, first, stale, after_stale, good, latch = run(scenario, redis_server.url)
    assert untripped == (False, "not tripped (the firm never tripped)")
    assert first == (True, "re-armed epoch 1")
    assert stale == (False, "stale epoch 1: the latch is at epoch 2")
    assert after_stale.tripped and after_stale.epoch == 2
    assert good[0] and latch.state == "armed" and latch.epoch == 2
    assert latch.rearm_verified("acme", OPERATOR.verifier)
    assert not latch.halts("acme", OPERATOR.verifier)
    assert not latch.rearm_verified("acme", WRONG.verifier)
    assert not latch.rearm_verified("acme", None) and latch.halts("acme", None)
    assert not latch.rearm_verified("other-firm", OPERATOR.verifier)


def test_write_access_alone_cannot_forge_a_rearm(redis_server):
    async def scenario(link):
        await link.trip("A", "manual", "one")
        # someone with write access flips the latch by hand, with a made-up signature
        await link.redis.hset(
            link.keys.latch, mapping={"state": "armed", "rearm_by": "x", "rearm_sig": "00" * 64}
        )
        forged = await link.latch()
        # or replays the signature of another epoch's genuine re-arm
        sig = rearm_signature("acme", 7, "ops", 1, "ok")
        await link.redis.hset(
            link.keys.latch,
            mapping={"rearm_by": "ops", "rearm_at_ms": "1", "rearm_reason": "ok", "rearm_sig": sig},
        )
        replayed = await link.latch()
        # or sets the state back to "never", or deletes it, keeping the epoch
        await link.redis.hset(link.keys.latch, "state", "never")
        never = await link.latch()
        await link.redis.hdel(link.keys.latch, "state")
        deleted = await link.latch()
        return forged, replayed, never, deleted

    forged, replayed, never, deleted = run(scenario, redis_server.url)
    assert forged.state == "armed" and not forged.rearm_verified("acme", OPERATOR.verifier)
    assert replayed.epoch == 1 and not replayed.rearm_verified("acme", OPERATOR.verifier)
    for latch in (forged, replayed, never, deleted):
        assert latch.epoch == 1 and latch.halts("acme", OPERATOR.verifier)
    assert never.state == deleted.state == "never"


@pytest.mark.parametrize(
    "corrupt",
    [("SET", "x"), ("RPUSH", "x"), ("HSET", "epoch", "x7"), ("HSET", "state", "weird")],
)
def test_a_corrupt_latch_reads_as_halting_and_a_trip_replaces_it(redis_server, corrupt):
    async def scenario(link):
        await link.trip("A", "manual", "one")
        await link.trip("A", "manual", "two-suppressed")
        await link.redis.hset(link.keys.latch, "epoch", 5)  # the firm is at epoch 5
        if corrupt[0] != "HSET":
            await link.redis.delete(link.keys.latch)
        await link.redis.execute_command(corrupt[0], link.keys.latch, *corrupt[1:])
        read = await link.latch()
        sync = read_latch_now(link.url, "acme", 1.0)
        tripped = await link.trip("operator ops", "manual", "kill", floor=5)
        return read, sync, tripped, await link.latch()

    read, sync, tripped, after = run(scenario, redis_server.url)
    assert read.state == sync.state == "corrupt" and read.halts("acme", OPERATOR.verifier)
    assert read.cause == "corrupt-latch" and read.reason
    assert tripped == (True, 6)  # above every epoch the caller has seen
    assert after.tripped and after.epoch == 6 and after.reason == "kill"


def test_the_latch_survives_a_redis_kill_and_restart_with_persistence(redis_server):
    async def trip(link):
        return await link.trip("A", "stale", "quotes silent")

    async def after(link):
        # the restarted server has no scripts loaded: redis-py reloads them (NOSCRIPT)
        return await link.latch(), await link.trip("B", "manual", "again")

    assert run(trip, redis_server.url) == (True, 1)
    redis_server.kill()
    assert not redis_server.running
    redis_server.start()
    latch, again = run(after, redis_server.url)
    assert latch.tripped and latch.epoch == 1 and latch.origin == "A"
    assert again == (False, 1)
    assert read_latch_now(redis_server.url, "acme", 1.0) == latch


def test_the_start_check_is_bounded_when_redis_is_down(redis_server):
    url = redis_server.url
    redis_server.kill()
    started = time.monotonic()
    with pytest.raises(Exception) as error:
        read_latch_now(url, "acme", 0.5)
    assert time.monotonic() - started < 5  # bounded by the timeout, not hanging
    assert "Connection" in type(error.value).__name__ or isinstance(error.value, OSError)


def test_passwords_never_appear_in_what_is_shown(redis_server):
    assert redact("redis://u:hunter2@h:6379/0") == "redis://u:***@h:6379/0"
    assert redact("rediss://:hunter2@h/0") == "rediss://:***@h/0"
    assert redact("redis://h:6379") == "redis://h:6379"
    link = FirmLink("redis://ops:hunter2@127.0.0.1:1/0", "acme")
    assert "hunter2" not in repr(link)
    asyncio.run(link.close())


def test_latch_from_an_empty_hash_is_never_tripped():
    assert Latch.from_hash({}) == Latch("never")


def test_the_clients_raise_no_warning(redis_server):
    """redis-py 8 warned on every node start and CLI call when handed a synchronous
    ``Retry`` for its asyncio client."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(lambda link: link.latch(), redis_server.url)
        read_latch_now(redis_server.url, "acme", 1.0)
        # and the clients made through sentinels (built, not connected: none listens)
        from nautilus_riskwatch.firm.transport import check_transport, connect

        url = "redis://sentinel/0"
        through = check_transport(url, sentinels=["127.0.0.1:1"], sentinel_service="acme")
        asyncio.run(FirmLink(url, "acme", transport=through).close())
        connect(url, 1.0, None, through, sync=True).close()
