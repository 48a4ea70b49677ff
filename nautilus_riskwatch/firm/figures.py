"""Which members' figures count toward the firm ceiling, and who is lost.

A figure lowers the firm's loss only if it is *proven*: written by a node the operator
enrolled (its public key, signed with the operator's key) and signed with that node's key.
Anything else counts toward tripping, never away from it:

- an unproven figure (a ghost entry, a forged or unsigned figure, a node not enrolled)
  counts only if it is a loss: ``min(figure, 0)``;
- a member whose signed ``seq`` stops advancing for its ttl is *lost*: ``"trip"`` trips
  the firm, ``"count_last"`` counts its last proven figure, again only if it is a loss;
- a proven member whose entry vanishes (or stops verifying) is lost the same way: a
  member leaves only through the operator's signed ``forget``;
- a figure that is not a decimal, in another currency, or an entry that cannot be read
  trips the firm.

Freshness is judged by ``seq`` on this node's own monotonic clock, counting only time the
link was up and answering (``Roll.grace`` after an outage gives every member one ttl;
``Roll.stalled`` leaves out the time this node waited for its own round trip), never by a
time stamp in Redis, which a writer could refresh. Pure: no Redis, no clock of its own.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from nautilus_riskwatch.firm.settings import FirmSettings

from nautilus_riskwatch.firm.signing import (
    FirmKeyError,
    enrol_message,
    figure_message,
    forget_message,
    parse_public,
    sign,
    verify,
)

#: What the scripts return for a key someone wrote as another Redis type.
WRONGTYPE = "__wrongtype__"
#: Exact addition of any figures a node can write (at most 120 characters each).
_EXACT = Context(prec=10_000, traps=[Inexact, InvalidOperation])


def as_dict(flat: Sequence[Any]) -> dict[str, str] | str:
    """A flat HGETALL as a dict, or why it cannot be read (a wrong Redis type)."""
    items = list(flat)
    if items[:1] == [WRONGTYPE]:
        return f"a {items[1] if len(items) > 1 else '?'}, not a hash"
    return {str(items[i]): str(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def exact_sum(figures: Sequence[Decimal]) -> Decimal:
    """The exact sum (never rounded: ``Inexact`` is trapped)."""
    total = Decimal(0)
    for figure in figures:
        total = _EXACT.add(total, figure)
    return total


@dataclass(frozen=True)
class Figure:
    """One member's heartbeat entry, as stored (text fields, as signed)."""

    node: str
    pnl: str = ""  # "" when the node keeps no ledger
    currency: str = ""
    state: str = "?"
    seq: int = -1
    ttl_ms: int = 0
    rearm: str = ""  # the node's verdict on the last re-arm it saw
    sig: str = ""
    at_ms: int = 0  # the server's clock at the write (for people, not for judging)
    info: str = ""

    @classmethod
    def from_hash(cls, node: str, raw: Mapping[str, str]) -> Figure:
        def number(key: str, default: int) -> int:
            try:
                return int(raw.get(key, ""))
            except ValueError:
                return default

        return cls(
            node=node,
            pnl=raw.get("pnl", ""),
            currency=raw.get("currency", ""),
            state=raw.get("state", "?"),
            seq=number("seq", -1),
            ttl_ms=number("ttl_ms", 0),
            rearm=raw.get("rearm", ""),
            sig=raw.get("sig", ""),
            at_ms=number("at_ms", 0),
            info=raw.get("info", ""),
        )

    def message(self, firm: str) -> bytes:
        return figure_message(
            firm, self.node, self.seq, self.pnl, self.currency, self.state, self.rearm,
            self.ttl_ms,
        )  # fmt: skip

    def fields(self) -> dict[str, str]:
        """What the node writes (the server adds ``at_ms``)."""
        return {
            "pnl": self.pnl, "currency": self.currency, "state": self.state,
            "seq": str(self.seq), "ttl_ms": str(self.ttl_ms), "rearm": self.rearm,
            "sig": self.sig, "info": self.info,
        }  # fmt: skip

    @property
    def value(self) -> Decimal | None:
        """The figure as a Decimal; None for no figure; raises ValueError if not a decimal."""
        if self.pnl == "":
            return None
        try:
            value = Decimal(self.pnl)
        except InvalidOperation:
            raise ValueError(self.pnl) from None
        if not value.is_finite() or len(self.pnl) > 120:
            raise ValueError(self.pnl)
        return value


def own_figure(
    settings: FirmSettings, pnl: Decimal | None, state: str, seq: int, verdict: str
) -> Figure:
    """What this node writes in a heartbeat: its exact PnL (or none), state, ``seq``, its
    word on the last re-arm (``verdict``) and host:pid, signed with its key if it has one."""
    figure = Figure(
        node=settings.node,
        pnl="" if pnl is None else format(pnl, "f"),
        currency=settings.currency if pnl is not None else "",
        state=state,
        seq=seq,
        ttl_ms=round(settings.heartbeat_ttl * 1000),
        rearm=verdict,
        info=f"{socket.gethostname()}:{os.getpid()}",
    )
    if settings.signer is None:
        return figure
    return dataclasses.replace(figure, sig=sign(settings.signer, figure.message(settings.firm)))


@dataclass(frozen=True)
class Enrolment:
    """The operator's signed word that ``key`` signs the figures of ``node``."""

    node: str
    key: str
    at_ms: int
    sig: str

    @classmethod
    def parse(cls, node: str, text: str) -> Enrolment | None:
        parts = text.split()
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        return cls(node, parts[0], int(parts[1]), parts[2])

    def text(self) -> str:
        return f"{self.key} {self.at_ms} {self.sig}"

    def verified(self, firm: str, operator: Ed25519PublicKey | None) -> bool:
        return verify(operator, enrol_message(firm, self.node, self.key, self.at_ms), self.sig)

    def public(self) -> Ed25519PublicKey | None:
        try:
            return parse_public(self.key)
        except FirmKeyError:
            return None


def forget_at(firm: str, node: str, text: str, operator: Ed25519PublicKey | None) -> int | None:
    """The time of the operator's verified forget of ``node`` (``"at_ms sig"``), or None."""
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit():
        return None
    at_ms = int(parts[0])
    return at_ms if verify(operator, forget_message(firm, node, at_ms), parts[1]) else None


@dataclass
class Seen:
    """What this node remembers of one member."""

    seq: int
    since: float  # this node's monotonic clock when ``seq`` last advanced (or grace began)
    ttl: float
    last: Decimal | None  # the last figure that counted (proven: as is; else min(x, 0))
    stopped: bool
    proven: bool


@dataclass(frozen=True)
class Verdict:
    """One judgement of the firm's members."""

    trip: tuple[str, str, str] | None  # (cause, reason, detail) if the firm must trip
    total: Decimal | None  # the firm PnL that counted (None: no ceiling, or tripping)
    lost: tuple[str, ...]
    unproven: tuple[str, ...]


class Roll:
    """The members this node has seen, and how it judges them (see the module docstring)."""

    def __init__(self, firm: str, operator: Ed25519PublicKey | None) -> None:
        self.firm = firm
        self.operator = operator
        self.seen: dict[str, Seen] = {}

    def grace(self, now: float) -> None:
        """The link is back after an outage: every member gets one ttl from now."""
        for seen in self.seen.values():
            seen.since = now

    def stalled(self, seconds: float, now: float) -> None:
        """This node waited ``seconds`` for its own answer from Redis: not link time.

        Whatever held this node's round trip (Redis paused, a slow link) held every member's
        heartbeat too, and a stall shorter than the command timeout is no outage (no
        ``grace``): counted, it would make a live member look silent for the stall.
        """
        for seen in self.seen.values():
            seen.since = min(seen.since + seconds, now)

    def judge(
        self,
        now: float,
        me: str,
        members: Mapping[str, Mapping[str, str] | str],
        enrolled: Mapping[str, str],
        forgotten: Mapping[str, str],
        *,
        policy: str,
        ceiling: Decimal | None,
        currency: str,
    ) -> Verdict:
        firm, operator = self.firm, self.operator
        names = set(members) | {name for name, seen in self.seen.items() if seen.proven}
        counted: list[tuple[str, Decimal]] = []
        lost: list[str] = []
        unproven: list[str] = []
        for name in sorted(names):
            enrolment = Enrolment.parse(name, enrolled.get(name, ""))
            if enrolment is not None and not enrolment.verified(firm, operator):
                enrolment = None
            left = forget_at(firm, name, forgotten.get(name, ""), operator)
            if left is not None and (enrolment is None or enrolment.at_ms <= left):
                self.seen.pop(name, None)  # the operator took it out of the firm
                continue
            raw = members.get(name)
            if isinstance(raw, str):
                return self._trip("firm-figure", f"node {name}'s entry is unreadable ({raw})")
            figure = None if raw is None else Figure.from_hash(name, raw)
            if figure is not None and figure.currency and ceiling is not None:
                if figure.pnl and figure.currency != currency:
                    return self._trip(
                        "firm-figure",
                        f"node {name} reports {figure.currency}, the firm ceiling is in {currency}",
                        name,
                    )
            try:
                value = None if figure is None else figure.value
            except ValueError as bad:
                return self._trip("firm-figure", f"node {name}'s figure is not a decimal: {bad}")
            proven = figure is not None and (
                name == me
                or (
                    enrolment is not None
                    and verify(enrolment.public(), figure.message(firm), figure.sig)
                )
            )
            seen = self.seen.get(name)
            if figure is not None and (proven or seen is None or not seen.proven):
                counts = value if proven or value is None else min(value, Decimal(0))
                ttl = figure.ttl_ms / 1000
                if seen is None or figure.seq > seen.seq or (proven and not seen.proven):
                    self.seen[name] = Seen(
                        figure.seq, now, ttl, counts, figure.state == "stopped", proven
                    )
                else:
                    seen.last, seen.ttl, seen.stopped = counts, ttl, figure.state == "stopped"
                seen = self.seen[name]
            if seen is None:
                continue
            if not seen.proven:
                unproven.append(name)
            if name != me and not seen.stopped and now - seen.since > seen.ttl:
                lost.append(name)
                if policy == "trip":
                    return self._trip(
                        "heartbeat",
                        f"node {name} silent for {now - seen.since:.1f}s of link time (no new "
                        f"{'signed ' if seen.proven else ''}heartbeat; ttl {seen.ttl:g}s)",
                        name,
                    )
                if seen.last is not None:
                    counted.append((name, min(seen.last, Decimal(0))))
                continue
            if seen.last is not None:
                counted.append((name, seen.last))
        if ceiling is None:
            return Verdict(None, None, tuple(lost), tuple(unproven))
        total = exact_sum([value for _, value in counted])
        if -total >= ceiling:
            return Verdict(
                (
                    "firm-loss",
                    f"firm loss {-total} {currency} reached the ceiling {ceiling} {currency}",
                    ",".join(f"{name}={value}" for name, value in counted),
                ),
                total,
                tuple(lost),
                tuple(unproven),
            )
        return Verdict(None, total, tuple(lost), tuple(unproven))

    @staticmethod
    def _trip(cause: str, reason: str, detail: str = "") -> Verdict:
        return Verdict((cause, reason, detail), None, (), ())


@dataclass(frozen=True)
class NodeEntry:
    """One node's heartbeat as the CLI shows it."""

    name: str
    pnl: Decimal | None
    currency: str
    state: str
    age_s: float | None  # seconds since the last heartbeat, on the server's clock
    ttl_s: float
    info: str
    rearm: str = ""
    proven: bool = False  # enrolled by the operator's key and signed by the node's

    @property
    def fresh(self) -> bool:
        return self.state == "stopped" or (self.age_s is not None and self.age_s <= self.ttl_s)

    @classmethod
    def from_figure(cls, figure: Figure, now_ms: int, proven: bool) -> NodeEntry:
        try:
            pnl = figure.value
        except ValueError:
            pnl = None
        return cls(
            name=figure.node,
            pnl=pnl,
            currency=figure.currency,
            state=figure.state,
            age_s=None if not figure.at_ms else (now_ms - figure.at_ms) / 1000,
            ttl_s=figure.ttl_ms / 1000,
            info=figure.info,
            rearm=figure.rearm,
            proven=proven,
        )
