"""``FirmLink``: the firm's keys in Redis, read and changed only through the scripts.

One small class per idea: ``FirmKeys`` names the keys, ``FirmLink`` (``redis.asyncio``)
runs the scripts and reads the state, ``read_latch_now`` is the one synchronous read (a
node's start check, bounded). Nothing here retries: callers decide (the node's member
retries with backoff and never lets Redis hold up a local trip; the CLI fails loudly).
Passwords never reach a log or a record: every URL shown goes through ``redact``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from nautilus_riskwatch.firm import scripts
from nautilus_riskwatch.firm.latch import Latch, NodeEntry, sign_rearm

_FIRM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
#: Events kept in the capped stream (``XADD MAXLEN ~``: trimmed in whole macro nodes).
EVENTS_KEPT = 10_000


def check_firm_name(firm: str) -> str:
    """A firm name is a Redis hash tag and a key part: letters, digits, ``_ . -``."""
    if not isinstance(firm, str) or not _FIRM_NAME.match(firm):
        raise ValueError(f"firm name {firm!r}: use 1-64 letters, digits, '_', '.' or '-'")
    return firm


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (user names are kept)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@dataclass(frozen=True)
class FirmKeys:
    """The Redis keys of one firm (all in one cluster slot: ``{firm}`` is a hash tag)."""

    firm: str

    @property
    def prefix(self) -> str:
        return f"riskwatch:{{{self.firm}}}:"

    @property
    def latch(self) -> str:
        return self.prefix + "latch"

    @property
    def events(self) -> str:
        return self.prefix + "events"

    @property
    def nodes(self) -> str:
        return self.prefix + "nodes"

    @property
    def node_prefix(self) -> str:
        return self.prefix + "node:"

    @property
    def channel(self) -> str:
        """The pub/sub channel trips and re-arms are announced on."""
        return self.prefix + "latch"


@dataclass(frozen=True)
class Heartbeat:
    """What a heartbeat's ceiling check found."""

    tripped: bool  # this heartbeat set the latch
    epoch: int
    firm_pnl: Decimal | None  # None when no ceiling is checked (or the latch is set)
    stale: tuple[str, ...]


@dataclass(frozen=True)
class FirmEvent:
    """One entry of the firm's event stream."""

    id: str
    fields: dict[str, str]

    @property
    def at_ms(self) -> int:
        return int(self.id.split("-")[0])


@dataclass(frozen=True)
class FirmStatus:
    """A snapshot for people: the latch, every node, the latest events, the server's time."""

    firm: str
    latch: Latch
    nodes: tuple[NodeEntry, ...]
    events: tuple[FirmEvent, ...]
    now_ms: int


def client_options(timeout: float, password: str | None = None) -> dict[str, Any]:
    """redis-py options: bounded socket waits and no silent retries (we retry ourselves)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    extra = {} if password is None else {"password": password}
    return {
        **extra,
        "decode_responses": True,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }


class FirmLink:
    """The firm's keys through ``redis.asyncio``.

    Parameters
    ----------
    url : str
        ``redis://[user:password@]host:port/db`` or ``rediss://`` (TLS).
    firm : str
        The firm name (the keys' hash tag).
    timeout : float, default 2.0
        Seconds for one connect or one command.

    """

    def __init__(
        self, url: str, firm: str, *, timeout: float = 2.0, password: str | None = None
    ) -> None:
        from redis.asyncio import Redis

        self.keys = FirmKeys(check_firm_name(firm))
        self.url = url
        self.timeout = timeout
        self.redis = Redis.from_url(url, **client_options(timeout, password))
        self._trip = self.redis.register_script(scripts.TRIP)
        self._rearm = self.redis.register_script(scripts.REARM)
        self._heartbeat = self.redis.register_script(scripts.HEARTBEAT)
        self._sum = self.redis.register_script(scripts.SUM)

    @property
    def firm(self) -> str:
        return self.keys.firm

    def __repr__(self) -> str:
        return f"FirmLink({redact(self.url)!r}, firm={self.firm!r})"

    async def close(self) -> None:
        close = getattr(self.redis, "aclose", None) or self.redis.close
        await close()

    async def latch(self) -> Latch:
        return Latch.from_hash(await self.redis.hgetall(self.keys.latch))

    async def trip(
        self, origin: str, cause: str, reason: str, detail: str = "", *, reassert: int = 0
    ) -> tuple[bool, int]:
        """Set the latch (first trip wins); return (this call set it, the epoch in force)."""
        k = self.keys
        done, epoch = await self._trip(
            keys=[k.latch, k.events],
            args=[k.channel, EVENTS_KEPT, origin, cause, reason, detail, reassert],
        )
        return bool(done), int(epoch)

    async def rearm(
        self, epoch: int, by: str, reason: str, secret: bytes, at_ms: int
    ) -> tuple[bool, str]:
        """Re-arm the trip of ``epoch``, signed; return (done, what the server said)."""
        k = self.keys
        signature = sign_rearm(secret, self.firm, epoch, by, at_ms, reason)
        done, said = await self._rearm(
            keys=[k.latch, k.events],
            args=[k.channel, EVENTS_KEPT, epoch, by, reason, at_ms, signature],
        )
        return bool(done), str(said)

    async def heartbeat(
        self,
        node: str,
        pnl: Decimal | None,
        currency: str,
        state: str,
        ttl: float,
        *,
        policy: str = "trip",
        ceiling: Decimal | None = None,
        info: str = "",
    ) -> Heartbeat:
        """Write this node's figure (``None``: it keeps none), and check the firm (lost
        nodes, the ceiling if any) in the same step."""
        k = self.keys
        tripped, epoch, total, stale = await self._heartbeat(
            keys=[k.latch, k.events, k.nodes],
            args=[
                k.channel,
                EVENTS_KEPT,
                k.node_prefix,
                node,
                "" if pnl is None else format(pnl, "f"),
                currency,
                state,
                round(ttl * 1000),
                policy,
                "" if ceiling is None else format(ceiling, "f"),
                currency,
                info,
            ],
        )
        return Heartbeat(
            tripped=bool(tripped),
            epoch=int(epoch),
            firm_pnl=Decimal(total) if total else None,
            stale=tuple(s for s in str(stale).split(",") if s),
        )

    async def exact_sum(
        self, figures: Sequence[str], ceiling: str | None = None
    ) -> tuple[str, bool]:
        """The server's exact sum of decimal strings, and ``-sum >= ceiling`` (for tests)."""
        total, breached = await self._sum(keys=[], args=[ceiling or "", *figures])
        if total == "":
            raise ValueError(f"not a decimal: {breached!r}")
        return str(total), bool(breached)

    async def status(self, events: int = 10) -> FirmStatus:
        """Read everything the CLI shows (a pipeline: one round trip, not one instant)."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.time()
            pipe.hgetall(k.latch)
            pipe.smembers(k.nodes)
            pipe.xrevrange(k.events, count=events)
            now, raw_latch, names, raw_events = await pipe.execute()
        now_ms = int(now[0]) * 1000 + int(now[1]) // 1000
        names = sorted(names)
        async with self.redis.pipeline(transaction=True) as pipe:
            for name in names:
                pipe.hgetall(k.node_prefix + name)
            raws = await pipe.execute() if names else []
        return FirmStatus(
            firm=self.firm,
            latch=Latch.from_hash(raw_latch),
            nodes=tuple(
                NodeEntry.from_hash(n, raw, now_ms) for n, raw in zip(names, raws, strict=True)
            ),
            events=tuple(FirmEvent(str(i), dict(f)) for i, f in raw_events),
            now_ms=now_ms,
        )

    async def forget(self, node: str) -> bool:
        """Remove a node that is gone for good from the ceiling's sum."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(k.nodes, node)
            pipe.delete(k.node_prefix + node)
            removed, _ = await pipe.execute()
        return bool(removed)


def read_latch_now(url: str, firm: str, timeout: float, password: str | None = None) -> Latch:
    """Read the latch synchronously, bounded by ``timeout`` (a node's start check only)."""
    from redis import Redis

    client = Redis.from_url(url, **client_options(timeout, password))
    try:
        return Latch.from_hash(client.hgetall(FirmKeys(check_firm_name(firm)).latch))
    finally:
        client.close()
