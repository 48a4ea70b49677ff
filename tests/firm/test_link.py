"""The firm's keys on a real redis-server: the latch, the re-arm rules, the exact ceiling."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal, localcontext

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus_riskwatch.firm.latch import Latch, sign_rearm
from nautilus_riskwatch.firm.link import FirmLink, read_latch_now, redact

SECRET = b"operator-secret"


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


def test_rearm_names_the_epoch_it_clears_and_a_stale_one_is_refused(redis_server):
    async def scenario(link):
        refused_untripped = await link.rearm(1, "ops", "early", SECRET, 1)
        await link.trip("A", "manual", "one")
        first = await link.rearm(1, "ops", "fixed", SECRET, 1000)
        await link.trip("A", "manual", "two")
        stale = await link.rearm(1, "ops", "replayed", SECRET, 1000)
        latch_after_stale = await link.latch()
        good = await link.rearm(2, "ops", "fixed again", SECRET, 2000)
        return refused_untripped, first, stale, latch_after_stale, good, await link.latch()

    untripped, first, stale, after_stale, good, latch = run(scenario, redis_server.url)
    assert untripped == (False, "not tripped (state never tripped)")
    assert first == (True, "re-armed epoch 1")
    assert stale == (False, "stale epoch 1: the latch is at epoch 2")
    assert after_stale.tripped and after_stale.epoch == 2
    assert good[0] and latch.state == "armed" and latch.epoch == 2
    assert latch.rearm_verified("acme", SECRET)
    assert not latch.rearm_verified("acme", b"another secret")
    assert not latch.rearm_verified("acme", None)
    assert not latch.rearm_verified("other-firm", SECRET)


def test_write_access_alone_cannot_forge_a_rearm(redis_server):
    async def scenario(link):
        await link.trip("A", "manual", "one")
        # someone with write access flips the latch by hand, with a made-up signature
        await link.redis.hset(
            link.keys.latch, mapping={"state": "armed", "rearm_by": "x", "rearm_sig": "00" * 32}
        )
        forged = await link.latch()
        # or replays the signature of another epoch's genuine re-arm
        sig = sign_rearm(SECRET, "acme", 7, "ops", 1, "ok")
        await link.redis.hset(
            link.keys.latch,
            mapping={"rearm_by": "ops", "rearm_at_ms": "1", "rearm_reason": "ok", "rearm_sig": sig},
        )
        return forged, await link.latch()

    forged, replayed = run(scenario, redis_server.url)
    assert forged.state == "armed" and not forged.rearm_verified("acme", SECRET)
    assert replayed.epoch == 1 and not replayed.rearm_verified("acme", SECRET)


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


_decimal_text = st.decimals(
    min_value=Decimal("-1e15"), max_value=Decimal("1e15"), allow_nan=False, places=None
).map(lambda d: format(d, "f"))


@pytest.fixture
def sum_on_server(redis_server):
    """The server's exact sum, through one link on one loop for all examples."""
    loop = asyncio.new_event_loop()
    link = FirmLink(redis_server.url, "acme")
    yield lambda figures, ceiling: loop.run_until_complete(link.exact_sum(figures, ceiling))
    loop.run_until_complete(link.close())
    loop.close()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(figures=st.lists(_decimal_text, min_size=0, max_size=12), ceiling=_decimal_text)
def test_the_server_sum_is_exact_against_python_decimal(sum_on_server, figures, ceiling):
    ceiling_value = abs(Decimal(ceiling)) or Decimal("0.01")
    total, breached = sum_on_server(figures, format(ceiling_value, "f"))
    with localcontext() as exact:
        exact.prec = 200  # Python's default 28 digits would round; Redis's sum does not
        expected = sum((Decimal(f) for f in figures), Decimal(0))
        assert Decimal(total) == expected
        assert breached == (-expected >= ceiling_value)


def test_the_sum_is_exact_where_doubles_are_not(redis_server):
    figures = ["0.1", "0.2", "-0.3", "12345678901234567.89", "-12345678901234567.88"]
    total, _ = run(lambda link: link.exact_sum(figures), redis_server.url)
    assert total == "0.01"
    assert sum(float(f) for f in figures) != 0.01  # what Lua's doubles would say


def test_the_ceiling_trips_at_exactly_the_ceiling_summed_over_the_nodes(redis_server):
    async def scenario(link):
        ceiling = Decimal("100.00")
        beats = []
        for node, pnl in (("A", "-40.005"), ("B", "-30"), ("C", "-29.994")):
            beats.append(
                await link.heartbeat(node, Decimal(pnl), "USD", "running", 5.0, ceiling=ceiling)
            )
        not_yet = await link.latch()
        beats.append(
            await link.heartbeat("C", Decimal("-29.995"), "USD", "running", 5.0, ceiling=ceiling)
        )
        return beats, not_yet, await link.latch()

    beats, not_yet, latch = run(scenario, redis_server.url)
    assert [b.firm_pnl for b in beats[:3]] == [
        Decimal("-40.005"),
        Decimal("-70.005"),
        Decimal("-99.999"),
    ]
    assert not any(b.tripped for b in beats[:3]) and not not_yet.tripped
    assert beats[3].tripped and beats[3].firm_pnl == Decimal("-100.000")
    assert latch.cause == "firm-loss" and latch.origin == "C"
    assert latch.reason == "firm loss 100.000 USD reached the ceiling 100.00 USD"
    figures = dict(item.split("=") for item in latch.detail.split(","))
    assert sum(Decimal(v) for v in figures.values()) == Decimal("-100.000")


@pytest.mark.parametrize("policy", ["trip", "count_last"])
def test_a_node_whose_heartbeat_expires_is_handled_by_the_policy(redis_server, policy):
    async def scenario(link):
        ceiling = Decimal(1000)
        await link.heartbeat(
            "A", Decimal(-5), "USD", "running", 0.2, policy=policy, ceiling=ceiling
        )
        await link.heartbeat(
            "B", Decimal(-7), "USD", "running", 5.0, policy=policy, ceiling=ceiling
        )
        await asyncio.sleep(0.4)  # A goes silent past its ttl
        beat = await link.heartbeat(
            "B", Decimal(-8), "USD", "running", 5.0, policy=policy, ceiling=ceiling
        )
        return beat, await link.latch(), await link.status()

    beat, latch, status = run(scenario, redis_server.url)
    assert beat.stale == ("A",)
    nodes = {n.name: n for n in status.nodes}
    assert not nodes["A"].fresh and nodes["B"].fresh
    if policy == "trip":
        assert beat.tripped and latch.cause == "heartbeat" and latch.detail == "A"
        assert latch.reason.startswith("node A silent for ")
    else:
        assert not beat.tripped and beat.firm_pnl == Decimal(-13) and latch.state == "never"


def test_a_node_in_another_currency_trips_the_firm_loudly(redis_server):
    async def scenario(link):
        await link.heartbeat("A", Decimal(-5), "EUR", "running", 5.0)
        beat = await link.heartbeat("B", Decimal(-1), "USD", "running", 5.0, ceiling=Decimal(10))
        return beat, await link.latch()

    beat, latch = run(scenario, redis_server.url)
    assert beat.tripped and latch.cause == "firm-figure"
    assert latch.reason == "node A reports EUR, the firm ceiling is in USD"


def test_a_stopped_node_counts_with_its_last_figure_and_never_expires(redis_server):
    async def scenario(link):
        await link.heartbeat("A", Decimal("-60"), "USD", "stopped", 0.05)
        await asyncio.sleep(0.15)
        return await link.heartbeat(
            "B", Decimal("-39.99"), "USD", "running", 5, ceiling=Decimal(100)
        )

    beat = run(scenario, redis_server.url)
    assert beat.stale == () and beat.firm_pnl == Decimal("-99.99") and not beat.tripped


def test_passwords_never_appear_in_what_is_shown(redis_server):
    assert redact("redis://u:hunter2@h:6379/0") == "redis://u:***@h:6379/0"
    assert redact("rediss://:hunter2@h/0") == "rediss://:***@h/0"
    assert redact("redis://h:6379") == "redis://h:6379"
    link = FirmLink("redis://ops:hunter2@127.0.0.1:1/0", "acme")
    assert "hunter2" not in repr(link)
    asyncio.run(link.close())


def test_latch_from_an_empty_hash_is_never_tripped():
    assert Latch.from_hash({}) == Latch("never")
