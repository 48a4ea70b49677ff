"""Which figures count toward the firm ceiling, judged from real heartbeats on a real Redis.

Each node's entry goes through the heartbeat script and back (``FirmLink.heartbeat``); the
judging (``Roll.judge``) runs on the time the test gives it, so expiry is exact and no wall
time is involved.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from decimal import Decimal

from keys import OPERATOR, WRONG, enrol, pair

from nautilus_riskwatch.firm.figures import Figure, Roll, exact_sum
from nautilus_riskwatch.firm.link import FirmLink
from nautilus_riskwatch.firm.signing import forget_message, sign

_SEQ = [0]


def run(coro_fn, url):
    async def main():
        link = FirmLink(url, "acme")
        try:
            return await coro_fn(link)
        finally:
            await link.close()

    return asyncio.run(main())


def figure(node, pnl, *, state="ACTIVE", ttl=5.0, currency="USD", key=None, signed=True):
    _SEQ[0] += 1
    fig = Figure(node, str(pnl), currency, state, _SEQ[0], round(ttl * 1000))
    if not signed:
        return fig
    key = key or pair(node)
    return dataclasses.replace(fig, sig=sign(key.private, fig.message("acme")))


def judge(roll, now, me, reading, *, ceiling="100", policy="trip"):
    return roll.judge(
        now, me, reading.members, reading.enrolled, reading.forgotten,
        policy=policy, ceiling=None if ceiling is None else Decimal(ceiling), currency="USD",
    )  # fmt: skip


def roll():
    return Roll("acme", OPERATOR.verifier)


def test_the_ceiling_trips_at_exactly_the_ceiling_summed_over_enrolled_nodes(redis_server):
    async def scenario(link):
        for node in "ABC":
            await enrol(link, node)
        judge_c = roll()
        verdicts = []
        for node, pnl in (("A", "-40.005"), ("B", "-30"), ("C", "-29.994")):
            reading = await link.heartbeat(figure(node, pnl))
        verdicts.append(judge(judge_c, 0.0, "C", reading))
        reading = await link.heartbeat(figure("C", "-29.995"))
        verdicts.append(judge(judge_c, 0.1, "C", reading))
        return verdicts

    not_yet, breached = run(scenario, redis_server.url)
    assert not_yet.trip is None and not_yet.total == Decimal("-99.999")
    assert not_yet.unproven == ()
    cause, reason, detail = breached.trip
    assert cause == "firm-loss" and breached.total == Decimal("-100.000")
    assert reason == "firm loss 100.000 USD reached the ceiling 100 USD"
    assert dict(item.split("=") for item in detail.split(",")) == {
        "A": "-40.005", "B": "-30", "C": "-29.995",
    }  # fmt: skip


def test_a_ghost_member_cannot_lower_the_firm_loss(redis_server):
    """A member entry no enrolled key signed (here: 'stopped', +1,000,000) counts only if it
    is a loss: a firm 778 USD down with a 100 USD ceiling trips."""

    async def scenario(link):
        await enrol(link, "A")
        await link.redis.sadd(link.keys.nodes, "GHOST")
        await link.redis.hset(
            link.keys.node_prefix + "GHOST",
            mapping={"pnl": "1000000", "currency": "USD", "state": "stopped", "seq": "1",
                     "ttl_ms": "2000", "sig": "00" * 64},
        )  # fmt: skip
        # and a forged figure under an enrolled name is no better: signed with another key
        await enrol(link, "B")
        await link.heartbeat(figure("B", "500000", key=WRONG))
        return judge(roll(), 0.0, "A", await link.heartbeat(figure("A", "-778")))

    verdict = run(scenario, redis_server.url)
    assert verdict.trip is not None and verdict.trip[0] == "firm-loss"
    assert verdict.total == Decimal(-778) and verdict.unproven == ("B", "GHOST")


def test_an_unproven_loss_still_counts(redis_server):
    async def scenario(link):
        await link.heartbeat(figure("X", "-60", signed=False))  # never enrolled
        return judge(roll(), 0.0, "A", await link.heartbeat(figure("A", "-40")))

    verdict = run(scenario, redis_server.url)
    assert verdict.trip is not None and verdict.total == Decimal(-100)


def test_a_member_whose_signed_seq_stops_is_lost_after_its_ttl_of_link_time(redis_server):
    async def scenario(link):
        for node in "AB":
            await enrol(link, node)
        judge_b = roll()
        out = []
        await link.heartbeat(figure("A", "-5", ttl=2.0))
        out.append(judge(judge_b, 0.0, "B", await link.heartbeat(figure("B", "-7"))))
        # A's entry stays; someone refreshes its server time stamp: not a new seq
        await link.redis.hset(link.keys.node_prefix + "A", "at_ms", "99999999999999")
        out.append(judge(judge_b, 1.9, "B", await link.heartbeat(figure("B", "-7"))))
        reading = await link.heartbeat(figure("B", "-8"))
        out.append(judge(judge_b, 2.1, "B", reading, policy="count_last"))
        out.append(judge(judge_b, 2.1, "B", reading))
        return out

    fresh, almost, counted_last, lost = run(scenario, redis_server.url)
    assert fresh.trip is None and almost.trip is None and almost.lost == ()
    assert counted_last.trip is None and counted_last.lost == ("A",)
    assert counted_last.total == Decimal(-13)  # its last figure, a loss, still counts
    assert lost.trip[0] == "heartbeat" and lost.trip[2] == "A"
    assert lost.trip[1].startswith("node A silent for 2.1s of link time")


def test_after_an_outage_every_member_gets_one_ttl(redis_server):
    async def scenario(link):
        for node in "AB":
            await enrol(link, node)
        judge_b = roll()
        await link.heartbeat(figure("A", "-5", ttl=2.0))
        judge(judge_b, 0.0, "B", await link.heartbeat(figure("B", "-7")))
        judge_b.grace(10.0)  # the link was down from 0.5 s to 10 s
        reading = await link.heartbeat(figure("B", "-7"))
        return judge(judge_b, 10.5, "B", reading), judge(judge_b, 12.1, "B", reading)

    after_outage, one_ttl_later = run(scenario, redis_server.url)
    assert after_outage.trip is None and after_outage.lost == ()
    assert one_ttl_later.trip[0] == "heartbeat"  # A stayed silent: now it counts


def test_a_stall_of_this_nodes_own_round_trip_is_not_link_time(redis_server):
    async def scenario(link):
        for node in "AB":
            await enrol(link, node)
        judge_b = roll()
        await link.heartbeat(figure("A", "-5", ttl=2.0))
        judge(judge_b, 0.0, "B", await link.heartbeat(figure("B", "-7")))
        reading = await link.heartbeat(figure("B", "-7"))
        judge_b.stalled(1.5, 3.0)  # B's round trip from 1.5 s to 3.0 s waited on Redis
        stalled = judge(judge_b, 3.0, "B", reading)  # 1.5 s of link time
        return stalled, judge(judge_b, 3.6, "B", reading)

    stalled, later = run(scenario, redis_server.url)
    assert stalled.trip is None and stalled.lost == ()
    assert later.trip[0] == "heartbeat"  # a dead member is still lost: 2.1 s of link time


def test_a_vanished_member_is_lost_unless_the_operator_forgot_it(redis_server):
    async def scenario(link):
        for node in "ABC":
            await enrol(link, node)
        judge_c = roll()
        await link.heartbeat(figure("A", "-30", state="stopped"))
        await link.heartbeat(figure("B", "-30", state="stopped"))
        judge(judge_c, 0.0, "C", await link.heartbeat(figure("C", "-30")))
        # a writer deletes A (its loss would vanish from the sum)
        await link.redis.srem(link.keys.nodes, "A")
        await link.redis.delete(link.keys.node_prefix + "A")
        await link.redis.hdel(link.keys.enrolled, "A")
        reading = await link.heartbeat(figure("C", "-30"))
        vanished = judge(judge_c, 0.1, "C", reading, ceiling="90")
        # the operator's signed forget takes B out; an unsigned one would not
        at_ms = int(time.time() * 1000)
        signed = sign(OPERATOR.private, forget_message("acme", "B", at_ms))
        await link.forget("B", f"{at_ms} {signed}")
        reading = await link.heartbeat(figure("C", "-30"))
        forgot = judge(judge_c, 0.2, "C", reading, ceiling="61")
        # a forget signed with another key takes nobody out
        forged = f"{at_ms} {sign(WRONG.private, forget_message('acme', 'A', at_ms))}"
        await link.redis.hset(link.keys.forgotten, "A", forged)
        reading = await link.heartbeat(figure("C", "-30"))
        return vanished, forgot, judge(judge_c, 0.3, "C", reading, ceiling="61")

    vanished, forgot, after_forged_forget = run(scenario, redis_server.url)
    assert vanished.trip[0] == "firm-loss" and vanished.total == Decimal(-90)  # A still counts
    assert forgot.trip is None and forgot.total == Decimal(-60)  # A (remembered) and C
    assert after_forged_forget.total == Decimal(-60)


def test_a_node_in_another_currency_trips_the_firm_loudly(redis_server):
    async def scenario(link):
        await link.heartbeat(figure("A", "-5", currency="EUR"))
        return judge(roll(), 0.0, "B", await link.heartbeat(figure("B", "-1")), ceiling="10")

    verdict = run(scenario, redis_server.url)
    assert verdict.trip == (
        "firm-figure", "node A reports EUR, the firm ceiling is in USD", "A",
    )  # fmt: skip


def test_a_stopped_node_counts_with_its_last_figure_and_never_expires(redis_server):
    async def scenario(link):
        for node in "AB":
            await enrol(link, node)
        await link.heartbeat(figure("A", "-60", state="stopped", ttl=0.05))
        judge_b = roll()
        judge(judge_b, 0.0, "B", await link.heartbeat(figure("B", "-39.99")))
        return judge(judge_b, 100.0, "B", await link.heartbeat(figure("B", "-39.99")))

    verdict = run(scenario, redis_server.url)
    assert verdict.lost == () and verdict.total == Decimal("-99.99") and verdict.trip is None


def test_the_sum_is_exact_where_doubles_are_not():
    figures = ["0.1", "0.2", "-0.3", "12345678901234567.89", "-12345678901234567.88"]
    assert exact_sum([Decimal(f) for f in figures]) == Decimal("0.01")
    assert sum(float(f) for f in figures) != 0.01
    wide = [Decimal("1e-60"), Decimal("1e60")]
    assert exact_sum(wide) == Decimal("1" + "0" * 60 + "." + "0" * 59 + "1")
