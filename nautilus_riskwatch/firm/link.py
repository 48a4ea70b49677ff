"""``FirmLink``: the firm's keys in Redis, read and changed only through the scripts.

One small class per idea: ``FirmKeys`` names the keys, ``FirmLink`` (``redis.asyncio``)
runs the scripts and reads the state (trips and restores on a client of their own, which
``warm`` connects and loads the scripts on ahead of time, so that telling a trip is one
request on an open connection: no handshake or ``NOSCRIPT`` round trip before it),
``read_latch_now`` is the one synchronous read (a node's start check, bounded). Nothing
here retries: callers decide (the node's member retries with backoff and never lets Redis
hold up a local trip; the CLI fails loudly).
Passwords never reach a log or a record: every URL shown goes through ``redact``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from nautilus_riskwatch.core.redact import redact_url
from nautilus_riskwatch.firm import scripts
from nautilus_riskwatch.firm.figures import Figure, NodeEntry, as_dict
from nautilus_riskwatch.firm.latch import Latch
from nautilus_riskwatch.firm.transport import Transport, connect

_FIRM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
#: Events kept in the capped stream (``XADD MAXLEN ~``: trimmed in whole macro nodes).
EVENTS_KEPT = 10_000


def check_firm_name(firm: str) -> str:
    """A firm name is a Redis hash tag and a key part: letters, digits, ``_ . -``."""
    if not isinstance(firm, str) or not _FIRM_NAME.match(firm):
        raise ValueError(f"firm name {firm!r}: use 1-64 letters, digits, '_', '.' or '-'")
    return firm


#: Every URL this package shows goes through the one redaction rule (``core/redact.py``).
redact = redact_url


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
    def enrolled(self) -> str:
        """The operator's signed enrolments: node -> "key at_ms signature"."""
        return self.prefix + "enrolled"

    @property
    def forgotten(self) -> str:
        """The operator's signed forgets: node -> "at_ms signature"."""
        return self.prefix + "forgotten"

    @property
    def operator(self) -> str:
        """The operator's public key as the nodes hold it (registered by the first one)."""
        return self.prefix + "operator"

    @property
    def channel(self) -> str:
        """The pub/sub channel trips and re-arms are announced on."""
        return self.prefix + "latch"


@dataclass(frozen=True)
class Reading:
    """What one heartbeat brings back: everything a node judges the firm by."""

    latch: Latch
    members: dict[str, dict[str, str] | str]  # str: why the entry cannot be read
    enrolled: dict[str, str]
    forgotten: dict[str, str]


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
    operator: str = ""  # the registered operator public key ("" if none)
    enrolled: dict[str, str] | None = None
    forgotten: dict[str, str] | None = None


def _latch_from(flat: Mapping[str, str] | list[str]) -> Latch:
    raw = as_dict(flat) if isinstance(flat, list) else flat
    if isinstance(raw, str):
        return Latch.corrupt(f"the firm latch key is {raw}")
    return Latch.from_hash(raw)


def _wrong_type(error: Exception) -> bool:
    return "WRONGTYPE" in str(error)


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
    transport : Transport, optional
        TLS files and Sentinel addresses (``firm.transport``).

    """

    def __init__(
        self,
        url: str,
        firm: str,
        *,
        timeout: float = 2.0,
        password: str | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.keys = FirmKeys(check_firm_name(firm))
        self.url = url
        self.timeout = timeout
        self.transport = transport or Transport()
        self.redis = connect(url, timeout, password, self.transport)
        #: trips and restores only: never behind a heartbeat or a read (see ``warm``)
        self.tell = connect(url, timeout, password, self.transport)
        self._trip = self.tell.register_script(scripts.TRIP)
        self._restore = self.tell.register_script(scripts.RESTORE)
        self._rearm = self.redis.register_script(scripts.REARM)
        self._heartbeat = self.redis.register_script(scripts.HEARTBEAT)

    @property
    def firm(self) -> str:
        return self.keys.firm

    def __repr__(self) -> str:
        return f"FirmLink({self.transport.describe(self.url)!r}, firm={self.firm!r})"

    async def close(self) -> None:
        for client in (self.tell, self.redis):
            close = getattr(client, "aclose", None) or client.close
            await close()

    async def warm(self) -> None:
        """Open the tell connection and load the trip and restore scripts on it now.

        A trip told on a cold client would first wait for a connection's handshake
        (``CLIENT SETINFO``, ``SELECT``, ``AUTH``: one reply each) and, on a server that
        has not seen the script (a restarted Redis), for ``NOSCRIPT`` and ``SCRIPT LOAD``:
        several round trips before the request that sets the latch goes out. Both loads
        go in one round trip."""
        async with self.tell.pipeline(transaction=False) as pipe:
            for script in (scripts.TRIP, scripts.RESTORE):
                pipe.script_load(script)
            await pipe.execute()

    async def latch(self) -> Latch:
        """The latch; a key of the wrong type reads as a corrupt latch (never an error)."""
        from redis.exceptions import ResponseError

        try:
            return Latch.from_hash(await self.redis.hgetall(self.keys.latch))
        except ResponseError as error:
            if not _wrong_type(error):
                raise
            kind = str(await self.redis.type(self.keys.latch))
            return Latch.corrupt(f"the firm latch key is a {kind}, not a hash")

    async def trip(
        self, origin: str, cause: str, reason: str, detail: str = "", *, floor: int = 0
    ) -> tuple[bool, int]:
        """Set the latch (first trip wins); return (this call set it, the epoch in force).

        A corrupt latch is replaced by this trip, at an epoch above ``floor``."""
        k = self.keys
        done, epoch = await self._trip(
            keys=[k.latch, k.events],
            args=[k.channel, EVENTS_KEPT, origin, cause, reason, detail, floor],
        )
        return bool(done), int(epoch)

    async def restore(self, latch: Latch, by: str, observed_sig: str) -> bool:
        """Put back a latch this node can prove (see ``scripts.RESTORE``)."""
        k = self.keys
        fields: list[str | int] = []
        for name, value in vars(latch).items():
            if value not in ("", 0) or name in ("state", "epoch"):
                fields += [name, value]
        done = await self._restore(
            keys=[k.latch, k.events],
            args=[k.channel, EVENTS_KEPT, by, latch.epoch, observed_sig, *fields],
        )
        return bool(done)

    async def rearm(
        self, epoch: int, by: str, reason: str, at_ms: int, signature: str
    ) -> tuple[bool, str]:
        """Re-arm the trip of ``epoch`` with the operator's signature; return (done, what
        the server said)."""
        k = self.keys
        done, said = await self._rearm(
            keys=[k.latch, k.events],
            args=[k.channel, EVENTS_KEPT, epoch, by, reason, at_ms, signature],
        )
        return bool(done), str(said)

    async def heartbeat(self, figure: Figure, operator_key: str = "") -> Reading:
        """Write this node's signed entry, register the operator key it holds (if none
        is), and read the latch and every member in the same step."""
        k = self.keys
        fields = [part for item in figure.fields().items() for part in item]
        latch, enrolled, forgotten, members = await self._heartbeat(
            keys=[k.latch, k.nodes, k.enrolled, k.forgotten, k.operator],
            args=[k.node_prefix, figure.node, operator_key, *fields],
        )
        table: dict[str, dict[str, str] | str] = {}
        if members[:1] == ["__wrongtype__"]:
            table["*"] = f"the member set is {as_dict(members)}"
        else:
            for i in range(0, len(members) - 1, 2):
                table[str(members[i])] = as_dict(members[i + 1])
        enrolled_raw, forgotten_raw = as_dict(enrolled), as_dict(forgotten)
        if isinstance(enrolled_raw, str):
            enrolled_raw = {}  # unreadable: nobody is proven (counts toward tripping)
        if isinstance(forgotten_raw, str):
            forgotten_raw = {}  # unreadable: nobody is forgotten (counts toward tripping)
        return Reading(_latch_from(latch), table, enrolled_raw, forgotten_raw)

    async def operator_key(self) -> str:
        """The operator public key the nodes registered ("" if none yet)."""
        from redis.exceptions import ResponseError

        try:
            return str(await self.redis.get(self.keys.operator) or "")
        except ResponseError:
            return ""

    async def register_operator(self, key: str) -> bool:
        """Register the operator public key if none is (True if this call did)."""
        return bool(await self.redis.set(self.keys.operator, key, nx=True))

    async def highest_epoch(self) -> int:
        """The highest epoch in the latch or the recent events: a trip goes above it."""
        from redis.exceptions import ResponseError

        latch = await self.latch()
        highest = latch.epoch
        try:
            events = await self.redis.xrevrange(self.keys.events, count=1000) or []
        except ResponseError:  # the stream was written over: the latch's epoch it is
            events = []
        for _, fields in events:
            epoch = str((fields or {}).get("epoch", ""))
            if epoch.isdigit():
                highest = max(highest, int(epoch))
        return highest

    async def status(self, events: int = 10) -> FirmStatus:
        """Read everything the CLI shows (a pipeline: one round trip, not one instant)."""
        k = self.keys
        from redis.exceptions import ResponseError

        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.time()
            pipe.smembers(k.nodes)
            pipe.xrevrange(k.events, count=events)
            pipe.get(k.operator)
            pipe.hgetall(k.enrolled)
            pipe.hgetall(k.forgotten)
            now, names, raw_events, operator, enrolled, forgotten = await pipe.execute()
        now_ms = int(now[0]) * 1000 + int(now[1]) // 1000
        names = sorted(names)
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(k.node_prefix + name)
            raws = await pipe.execute(raise_on_error=False) if names else []
        from nautilus_riskwatch.firm.figures import Enrolment
        from nautilus_riskwatch.firm.signing import FirmKeyError, parse_public, verify

        try:
            operator_public = parse_public(operator) if operator else None
        except FirmKeyError:
            operator_public = None
        nodes = []
        for name, raw in zip(names, raws, strict=True):
            figure = Figure.from_hash(name, {} if isinstance(raw, ResponseError) else raw)
            enrolment = Enrolment.parse(name, enrolled.get(name, ""))
            proven = (
                enrolment is not None
                and enrolment.verified(self.firm, operator_public)
                and verify(enrolment.public(), figure.message(self.firm), figure.sig)
            )
            nodes.append(NodeEntry.from_figure(figure, now_ms, proven))
        return FirmStatus(
            firm=self.firm,
            latch=await self.latch(),
            nodes=tuple(nodes),
            events=tuple(FirmEvent(str(i), dict(f)) for i, f in raw_events),
            now_ms=now_ms,
            operator=str(operator or ""),
            enrolled=dict(enrolled),
            forgotten=dict(forgotten),
        )

    async def enrol(self, node: str, text: str) -> None:
        """Store the operator's signed enrolment of ``node`` (``Enrolment.text``)."""
        await self.redis.hset(self.keys.enrolled, node, text)

    async def forget(self, node: str, text: str) -> bool:
        """Store the operator's signed forget of ``node`` and drop its entry."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(k.forgotten, node, text)
            pipe.srem(k.nodes, node)
            pipe.delete(k.node_prefix + node)
            _, removed, _ = await pipe.execute()
        return bool(removed)


def read_latch_now(
    url: str,
    firm: str,
    timeout: float,
    password: str | None = None,
    transport: Transport | None = None,
) -> Latch:
    """Read the latch synchronously, bounded by ``timeout`` (a node's start check only).

    A latch key of the wrong type reads as a corrupt latch (which halts), not an error."""
    from redis.exceptions import ResponseError

    client = connect(url, timeout, password, transport, sync=True)
    try:
        return Latch.from_hash(client.hgetall(FirmKeys(check_firm_name(firm)).latch))
    except ResponseError as error:
        if not _wrong_type(error):
            raise
        kind = str(client.type(FirmKeys(firm).latch))
        return Latch.corrupt(f"the firm latch key is a {kind}, not a hash")
    finally:
        client.close()
