"""The firm section's checks, the backtest refusal, and the member's rules on a real Redis."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from nautilus_riskwatch import RiskWatchConfig, RiskWatchConfigError
from nautilus_riskwatch.demo import build_engine
from nautilus_riskwatch.firm.link import FirmLink
from nautilus_riskwatch.firm.member import FirmMember
from nautilus_riskwatch.firm.settings import FirmSettings, MemberHooks
from nautilus_riskwatch.nautilus.settings import settings_from
from nautilus_riskwatch.testing import LocalRedis

FEED = [{"instrument_id": "EUR/USD.SIM", "stale_after": 90.0}]


def test_the_firm_section_is_off_by_default_and_checked_when_given():
    assert settings_from(RiskWatchConfig(feeds=FEED)).firm is None
    firm = settings_from(
        RiskWatchConfig(
            feeds=FEED,
            max_loss="500 USD",
            firm={"url": "rediss://ops:pw@h:6380/0", "name": "acme", "max_loss": "2000 USD"},
        )
    ).firm
    assert firm.max_loss == Decimal(2000) and firm.currency == "USD" and firm.heartbeat_ttl == 2.0
    assert firm.on_heartbeat_lost == "trip" and firm.on_unreachable_at_start == "halt"
    assert "pw" not in repr(firm) and "ops:***@" in repr(firm)


@pytest.mark.parametrize(
    ("firm", "field"),
    [
        ({"url": "http://h", "name": "acme"}, "firm.url"),
        ({"url": "redis://h", "name": "a{b}"}, "firm.name"),
        ({"url": "redis://h", "name": "acme", "max_loss": "10 EUR"}, "firm.max_loss"),
        ({"url": "redis://h", "name": "a", "on_heartbeat_lost": "x"}, "firm.on_heartbeat_lost"),
        ({"url": "redis://h", "name": "a", "heartbeat": 1, "heartbeat_ttl": 1}, "firm.heartbeat_ttl"),  # noqa: E501
        ({"url": "redis://h", "name": "acme", "colour": "red"}, "firm.colour"),
        ({"url": "redis://h", "name": "acme", "operator_key": "s3cret"}, "firm.operator_key"),
        ({"url": "redis://h", "name": "acme", "secret_env": "X"}, "firm.secret_env"),
        ({"url": "redis://h", "name": "acme", "epoch_file": "  "}, "firm.epoch_file"),
    ],
)  # fmt: skip
def test_a_bad_firm_section_is_refused_naming_the_field(firm, field):
    with pytest.raises(RiskWatchConfigError) as refused:
        RiskWatchConfig(feeds=FEED, max_loss="500 USD", firm=firm)
    assert refused.value.field == field


def test_a_firm_ceiling_needs_the_nodes_own_loss_limit():
    with pytest.raises(RiskWatchConfigError, match="portfolio-wide loss limit"):
        RiskWatchConfig(feeds=FEED, firm={"url": "redis://h", "name": "a", "max_loss": "1 USD"})


def test_a_backtest_with_a_firm_section_is_refused_before_any_network_call():
    run = build_engine(
        RiskWatchConfig(feeds=FEED, firm={"url": "redis://127.0.0.1:1/0", "name": "acme"})
    )
    with pytest.raises(RiskWatchConfigError, match="the firm switch is for live nodes"):
        run.engine.run()


class FakeNode:
    """Hooks that record what the member asked of the node."""

    def __init__(self) -> None:
        self.firm_trips: list[int] = []
        self.unreachable: list[str] = []
        self.is_tripped = False
        self.hooks = MemberHooks(
            trip_firm=self._trip,
            trip_unreachable=self._unreachable,
            rearm=lambda latch: True,
            tripped=lambda: self.is_tripped,
            figures=lambda: (Decimal("-1.5"), "ACTIVE"),
            log=lambda level, message: None,
        )

    def _unreachable(self, reason: str) -> None:
        self.unreachable.append(reason)
        self.is_tripped = True

    def _trip(self, latch) -> None:
        self.firm_trips.append(latch.epoch)
        self.is_tripped = True


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not reached"
        await asyncio.sleep(0.01)


def test_a_latch_redis_lost_is_set_again_by_a_node_that_holds_the_trip():
    with LocalRedis(appendonly=False) as server:  # no persistence: a restart loses it all

        async def before():
            link = FirmLink(server.url, "acme")
            await link.trip("A", "stale", "quotes silent")
            await link.redis.hset(link.keys.latch, "epoch", 3)  # say the firm is at epoch 3
            node = FakeNode()
            member = FirmMember(FirmSettings(server.url, "acme", "B", heartbeat=0.05), node.hooks)
            member.start(None)
            await _until(lambda: node.firm_trips == [3])
            server.kill()
            server.start()  # empty now
            await link.close()  # its connection died with the server
            link = FirmLink(server.url, "acme")
            deadline = time.monotonic() + 10
            latch = await link.latch()
            while not latch.tripped and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
                latch = await link.latch()
            member.stop()
            await asyncio.sleep(0.1)
            await link.close()
            return latch, node

        latch, node = asyncio.run(before())
    # put back as the trip it was: its own origin, cause and reason
    assert latch.tripped and latch.epoch == 3 and latch.origin == "A"
    assert (latch.cause, latch.reason) == ("stale", "quotes silent")
    assert node.firm_trips == [3]  # and the node itself was not tripped twice


@pytest.mark.parametrize("policy", ["halt", "trade_on"])
def test_a_lost_link_halts_the_node_only_if_the_policy_says_so(redis_server, policy):
    async def scenario():
        node = FakeNode()
        settings = FirmSettings(
            redis_server.url, "acme", "B", heartbeat=0.05, timeout=0.2,
            on_link_lost=policy, link_lost_after=0.3,
        )  # fmt: skip
        member = FirmMember(settings, node.hooks)
        member.start(None)
        await _until(lambda: member.link_up)
        redis_server.kill()
        await asyncio.sleep(1.5)
        member.stop()
        return node, member.link_up

    node, up = asyncio.run(scenario())
    assert not up and node.firm_trips == []
    if policy == "halt":
        assert len(node.unreachable) == 1 and "on_link_lost=halt" in node.unreachable[0]
    else:
        assert node.unreachable == []


def test_redis_paused_for_less_than_the_command_timeout_makes_no_member_lost(redis_server):
    """Redis paused longer than the ttl but shorter than ``timeout``: no command fails, so
    it is no outage (no grace). Node B's heartbeat waits in Redis's queue and is answered
    first on resume, before live node A's next heartbeat: the wait is not link time."""

    from nautilus_riskwatch.firm.figures import Figure

    async def scenario():
        node = FakeNode()
        settings = FirmSettings(
            redis_server.url, "acme", "B", heartbeat=0.05, heartbeat_ttl=0.3, timeout=3.0
        )
        member = FirmMember(settings, node.hooks)
        link = FirmLink(redis_server.url, "acme")
        seq = [0]

        async def beat_a():  # node A's heartbeat: one round trip, then the next
            seq[0] += 1
            await link.heartbeat(Figure("A", "-1", "", "ACTIVE", seq[0], 300))

        member.start(None)
        await beat_a()
        await _until(lambda: "A" in member.roll.seen and member.link_up)
        for _ in range(5):  # A beats; B has seen its last beat when Redis stops
            await beat_a()
            await asyncio.sleep(0.05)
        await _until(lambda: member.roll.seen["A"].seq == seq[0])
        with redis_server.paused():
            await asyncio.sleep(1.0)  # B's heartbeat waits in Redis's queue
        for _ in range(10):  # A beats again from the moment Redis answers
            await beat_a()
            await asyncio.sleep(0.05)
        up = member.link_up
        member.stop()
        latch = await link.latch()
        await asyncio.sleep(0.1)
        await link.close()
        return node, up, latch

    node, up, latch = asyncio.run(scenario())
    assert up  # the pause was never an outage
    assert not latch.tripped, f"{latch.origin}: {latch.reason}"
    assert node.firm_trips == []
