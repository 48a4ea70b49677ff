"""``FirmMember``: one node's part in the firm switch, on the node's own event loop.

It does three things, none of which may ever hold up the node:

- **tell**: a local trip (any cause but the firm's own) is queued and set on the firm
  latch by its own task the moment it is queued, on a connection of its own that is kept
  open with the scripts loaded (``FirmLink.warm``: at start and whenever the link comes
  back), so the trip is one request, never behind a heartbeat in flight or a handshake;
  while Redis does not answer it is retried with backoff, so a trip during an outage
  reaches the others when Redis returns, with its own origin and reason;
- **listen**: a pub/sub subscription wakes it the instant the latch changes, and every
  heartbeat reads the latch again, so a node that missed a message catches up from the
  latch itself;
- **beat**: every ``heartbeat`` seconds it writes its signed figure and state and reads
  every member's (one script, one round trip), then judges them (``figures.Roll``): a lost
  member or the firm ceiling trips the latch.

What it decides from each reading of the latch (``observe``):

- a latch that has tripped halts this node unless it carries the operator's re-arm of its
  current epoch, verified with the operator's public key (``Latch.halts``): a state set to
  ``never``, a field deleted, garbage or a key of the wrong type all halt;
- the verified re-arm of the epoch this node holds re-arms it;
- a latch that went backwards (a lower epoch, or at the epoch this node holds a state that
  is not that trip) is put back as this node can prove it: the trip it holds (with that
  trip's own origin and reason), or the signed re-arm it accepted.

Redis I/O happens only in this module's tasks; the actor's callbacks only call
``local_trip``, which appends to a list and sets an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from nautilus_riskwatch.firm.figures import Figure, Roll
from nautilus_riskwatch.firm.latch import CORRUPT, Latch
from nautilus_riskwatch.firm.link import FirmLink, Reading, redact
from nautilus_riskwatch.firm.memory import EpochFileError, EpochMemory, Remembered
from nautilus_riskwatch.firm.signing import sign
from nautilus_riskwatch.firm.transport import Transport

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

HEARTBEAT_POLICIES = ("trip", "count_last")
LINK_LOST_POLICIES = ("trade_on", "halt")
START_POLICIES = ("halt", "trade_on")


@dataclass(frozen=True)
class FirmSettings:
    """Checked firm settings (see ``FirmConfig`` for what each means)."""

    url: str
    firm: str
    node: str
    heartbeat: float = 0.5
    heartbeat_ttl: float = 2.0
    max_loss: Decimal | None = None
    currency: str = ""
    on_heartbeat_lost: str = "trip"
    on_link_lost: str = "trade_on"
    link_lost_after: float = 5.0
    on_unreachable_at_start: str = "halt"
    timeout: float = 1.0
    operator_key: str = ""  # the operator's Ed25519 public key (hex): verifies re-arms
    key_file: str | None = None  # this node's Ed25519 private key: signs its figures
    password_env: str | None = None
    epoch_file: str | None = None  # where this node remembers the highest epoch it saw
    transport: Transport = field(default_factory=Transport)  # TLS files, Sentinel addresses
    operator: Ed25519PublicKey | None = field(default=None, repr=False)  # parsed at start
    signer: Ed25519PrivateKey | None = field(default=None, repr=False)  # loaded at start
    password: str | None = field(default=None, repr=False)  # from password_env at start

    def __repr__(self) -> str:  # the URL may carry a password; keys are never shown
        return (
            f"FirmSettings(url={redact(self.url)!r}, firm={self.firm!r}, node={self.node!r}, "
            f"max_loss={self.max_loss} {self.currency}, "
            f"operator_key={self.operator_key[:16] + '...' if self.operator_key else 'none'}, "
            f"key_file={self.key_file!r})"
        )


@dataclass
class MemberHooks:
    """How the member acts on its node (all called on the node's loop thread)."""

    trip_firm: Callable[[Latch], None]  # trip locally with FirmKill
    trip_unreachable: Callable[[str], None]  # trip locally with FirmUnreachable
    rearm: Callable[[Latch], bool]  # re-arm locally; False if the watch refused
    tripped: Callable[[], bool]  # is the node's portfolio guard tripped?
    figures: Callable[[], tuple[Decimal | None, str]]  # (exact PnL or None, state)
    log: Callable[[str, str], None]  # (level, message)


@dataclass(frozen=True)
class _Trip:
    cause: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class _Restore:
    latch: Latch
    observed_sig: str


class FirmMember:
    """One node in the firm: tells its trips, obeys the latch, beats its heart."""

    def __init__(self, settings: FirmSettings, hooks: MemberHooks) -> None:
        self.settings = settings
        self.hooks = hooks
        self.link: FirmLink | None = None
        self.held_epoch: int | None = None  # the firm trip this node holds
        self.seen_epoch = 0  # the highest epoch this node has read
        self.held_trip: Latch | None = None  # that trip as read (its origin and reason)
        self.accepted: Latch | None = None  # the verified re-arm this node accepted
        self.latch: Latch | None = None  # the last reading
        self.link_up = False
        self.down_since: float | None = None
        self.verdict = ""  # this node's word on the last re-arm (in its heartbeat)
        self.roll = Roll(settings.firm, settings.operator)
        self._pending: list[_Trip | _Restore] = []  # what the latch must be told
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._failures = 0
        self._seq = 0
        self._unproven: tuple[str, ...] = ()
        self._stopping = False
        self._tell_cold = True  # the tell connection must be (re)opened and its scripts loaded
        self.seen_trip: Latch | None = None  # the trip of ``seen_epoch``, as read or made
        self.memory = EpochMemory(settings.epoch_file) if settings.epoch_file else None
        if self.memory is not None:  # raises EpochFileError: the node must not guess
            remembered = self.memory.load()
            self.seen_epoch = remembered.epoch
            if remembered.trip is not None and remembered.trip.epoch == remembered.epoch:
                self.seen_trip = remembered.trip
            rearm = remembered.rearm
            if rearm is not None and rearm.epoch == remembered.epoch:
                if rearm.rearm_verified(settings.firm, settings.operator):
                    self.accepted = rearm

    # --- from the actor (loop thread, never blocks) ----------------------------------
    def start(self, latch_at_start: Latch | None) -> None:
        """Start the tasks; ``latch_at_start`` is what the start check read (if anything)."""
        s = self.settings
        self.link = FirmLink(
            s.url, s.firm, timeout=s.timeout, password=s.password, transport=s.transport
        )
        if latch_at_start is not None:
            self._went_up()
            self.observe(latch_at_start)
        else:
            self._went_down()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._tell(), name=f"riskwatch firm tell {s.node}"),
            loop.create_task(self._beat(), name=f"riskwatch firm beat {s.node}"),
            loop.create_task(self._listen(), name=f"riskwatch firm listen {s.node}"),
        ]

    def local_trip(self, cause: str, reason: str) -> None:
        """The node tripped on its own: put it on the firm latch (as soon as possible)."""
        self._queue(_Trip(cause, reason))

    def stop(self) -> None:
        """Cancel the tasks; a last heartbeat says 'stopped' (best effort, bounded)."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        link, self.link = self.link, None
        if link is not None:
            try:
                asyncio.get_running_loop().create_task(self._farewell(link))
            except RuntimeError:  # no running loop (disposed): nothing more can be said
                pass

    # --- deciding ------------------------------------------------------------------------
    def behind(self, latch: Latch) -> Latch | None:
        """The trip to halt on at start if ``latch`` is below the epoch this node remembers
        (its ``epoch_file``) and it accepted no re-arm of that epoch; else None."""
        if latch.state == CORRUPT or latch.epoch >= self.seen_epoch:
            return None
        if self.accepted is not None and self.accepted.epoch >= self.seen_epoch:
            return None
        return self._seen_trip()

    def _seen_trip(self) -> Latch:
        """The trip of the highest epoch seen, as read; or, if its fields were never read,
        one that says this node saw that epoch."""
        if self.seen_trip is not None and self.seen_trip.epoch == self.seen_epoch:
            return self.seen_trip
        node = self.settings.node
        return Latch(
            "tripped", self.seen_epoch, origin=node, cause="reassert",
            reason=f"node {node} saw the firm at epoch {self.seen_epoch}",
        )  # fmt: skip

    def observe(self, latch: Latch) -> None:
        """Act on one reading of the latch (see the module docstring); remember what was
        seen (``epoch_file``)."""
        try:
            self._observe(latch)
        finally:
            self._remember()

    def _remember(self) -> None:
        if self.memory is None:
            return
        epoch, accepted, trip = self.seen_epoch, self.accepted, self.seen_trip
        try:
            self.memory.save(
                Remembered(
                    epoch,
                    trip if trip is not None and trip.epoch == epoch else None,
                    accepted if accepted is not None and accepted.epoch == epoch else None,
                )
            )
        except EpochFileError as error:
            self.hooks.log("error", f"firm: {error}")

    def _observe(self, latch: Latch) -> None:
        self.latch = latch
        s, hooks = self.settings, self.hooks
        if latch.state not in ("tripped", CORRUPT) and latch.epoch < self.seen_epoch:
            self._went_backwards(latch, f"epoch {latch.epoch} ({latch.state})")
            return
        self.seen_epoch = max(self.seen_epoch, latch.epoch)
        if latch.state == "tripped" and latch.epoch == self.seen_epoch:
            self.seen_trip = latch
        tripped = hooks.tripped()
        if latch.halts(s.firm, s.operator):
            if latch.state == CORRUPT and not any(isinstance(p, _Trip) for p in self._pending):
                hooks.log("error", f"firm latch corrupt: {latch.reason}; replacing it by a trip")
                self._queue(_Trip("corrupt-latch", latch.reason))
            if not tripped:
                self.held_epoch = latch.epoch
                self.verdict = ""
                hooks.trip_firm(latch)
            elif not any(isinstance(p, _Trip) for p in self._pending):
                # a trip this node already holds, or one it came up with while Redis was
                # away: a re-arm of the epoch in force is the one that re-arms it
                self.held_epoch = max(self.held_epoch or 0, latch.epoch)
            if latch.state == "tripped" and latch.epoch == self.held_epoch:
                self.held_trip = latch
            elif latch.state == "never" and latch.epoch == self.held_epoch:
                self._went_backwards(latch, f"state {latch.state!r} at epoch {latch.epoch}")
            elif latch.state == "armed" and latch.epoch == self.held_epoch:
                why = (
                    "no operator key on this node to verify it"
                    if s.operator is None
                    else "the signature does not verify with the operator key"
                )
                if self.verdict != f"{latch.epoch} refused: {why}":
                    hooks.log("error", f"firm re-arm of epoch {latch.epoch} refused: {why}")
                self.verdict = f"{latch.epoch} refused: {why}"
            return
        if latch.state != "armed":
            return  # never tripped
        if tripped and self.held_epoch == latch.epoch:
            if hooks.rearm(latch):
                hooks.log(
                    "warning",
                    f"firm re-armed (epoch {latch.epoch}) by {latch.rearm_by or '?'}: "
                    f"{latch.rearm_reason or 'no reason given'}",
                )
                self.held_epoch = None
                self.held_trip = None
                self.accepted = latch
                self.verdict = f"{latch.epoch} accepted"
            else:
                self.verdict = f"{latch.epoch} waiting: this node's watch refused it for now"
        elif not tripped:
            self.accepted = latch

    def _went_backwards(self, latch: Latch, what: str) -> None:
        """Put back what this node can prove: the trip it holds, or the re-arm it took."""
        node = self.settings.node
        if self.held_epoch is not None:
            proof = self.held_trip
            if (proof is None or proof.epoch != self.held_epoch) and (
                latch.epoch == self.held_epoch and latch.origin
            ):
                # the state was set back but the trip's own fields are still there
                proof = Latch(
                    "tripped", latch.epoch, latch.origin, latch.cause, latch.reason,
                    latch.detail, latch.at_ms,
                )  # fmt: skip
            if proof is None or proof.epoch != self.held_epoch:
                proof = Latch(
                    "tripped", self.held_epoch, origin=node, cause="reassert",
                    reason=f"node {node} holds the trip of epoch {self.held_epoch}",
                )  # fmt: skip
        elif self.accepted is not None and self.accepted.epoch >= latch.epoch:
            proof = self.accepted
        elif self.seen_epoch > latch.epoch:
            # an epoch this node remembers (its epoch file) and holds no verdict on: halt
            proof = self._seen_trip()
            if not self.hooks.tripped():
                self.held_epoch, self.held_trip = proof.epoch, proof
                self.hooks.trip_firm(proof)
        else:
            return
        restore = _Restore(proof, latch.rearm_sig)
        if restore not in self._pending:
            self.hooks.log(
                "error",
                f"firm latch went backwards ({what}; this node holds epoch {proof.epoch}, "
                f"{proof.state}): Redis lost it or someone wrote it; putting it back",
            )
            self._queue(restore)

    def _judge(self, reading: Reading) -> None:
        """Lost members and the ceiling, from one heartbeat's reading of every member."""
        s = self.settings
        verdict = self.roll.judge(
            time.monotonic(),
            s.node,
            reading.members,
            reading.enrolled,
            reading.forgotten,
            policy=s.on_heartbeat_lost,
            ceiling=s.max_loss,
            currency=s.currency,
        )
        if verdict.unproven != self._unproven:
            self._unproven = verdict.unproven
            if verdict.unproven:
                self.hooks.log(
                    "warning",
                    f"firm members not proven (not enrolled, or figure not signed by the "
                    f"enrolled key): {', '.join(verdict.unproven)}; their figures count only "
                    "as losses",
                )
        if verdict.trip is None or reading.latch.halts(s.firm, s.operator):
            return
        if not any(isinstance(p, _Trip) for p in self._pending):
            self._queue(_Trip(*verdict.trip))

    def _queue(self, action: _Trip | _Restore) -> None:
        self._pending.append(action)
        self._wake.set()

    # --- tasks ---------------------------------------------------------------------------
    async def _tell(self) -> None:
        """Put what is queued on the latch, the moment it is queued; between trips, keep the
        tell connection warm (open, scripts loaded), so a trip is one request."""
        while True:
            if self._tell_cold and not self._pending:
                try:
                    assert self.link is not None
                    await self.link.warm()
                    self._went_up()
                    self._tell_cold = False
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    self._went_down(error)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._backoff())
                    continue
            await self._wake.wait()
            self._wake.clear()  # before the round trip: a trip queued during it wakes us
            try:
                assert self.link is not None
                await self._flush(self.link)
                self._went_up()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._tell_cold = True
                self._went_down(error)
                await asyncio.sleep(self._backoff())
                self._wake.set()

    async def _beat(self) -> None:
        s = self.settings
        while True:
            try:
                assert self.link is not None
                sent = time.monotonic()
                reading = await self.link.heartbeat(self._figure(), s.operator_key)
                self._went_up()
                now = time.monotonic()
                self.roll.stalled(now - sent, now)  # a paused Redis held the others too
                self.observe(reading.latch)
                self._judge(reading)
                delay = s.heartbeat
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._went_down(error)
                delay = self._backoff()
            await asyncio.sleep(delay)

    def _figure(self, state: str | None = None) -> Figure:
        s = self.settings
        pnl, now_state = self.hooks.figures()
        self._seq = max(self._seq + 1, time.time_ns() // 1_000_000)
        figure = Figure(
            node=s.node,
            pnl="" if pnl is None else format(pnl, "f"),
            currency=s.currency if pnl is not None else "",
            state=state or now_state,
            seq=self._seq,
            ttl_ms=round(s.heartbeat_ttl * 1000),
            rearm=self.verdict,
            info=_info(),
        )
        if s.signer is None:
            return figure
        return dataclasses.replace(figure, sig=sign(s.signer, figure.message(s.firm)))

    async def _flush(self, link: FirmLink) -> None:
        """Put the queued actions on the latch (raises if Redis does not answer)."""
        node = self.settings.node
        while self._pending:
            action = self._pending[0]
            if isinstance(action, _Restore):
                if await link.restore(action.latch, node, action.observed_sig):
                    self.hooks.log("warning", f"firm latch put back at epoch {action.latch.epoch}")
            else:
                done, epoch = await link.trip(
                    node, action.cause, action.reason, action.detail, floor=self.seen_epoch
                )
                self.held_epoch = epoch
                self.seen_epoch = max(self.seen_epoch, epoch)
                if done:
                    self.held_trip = Latch(
                        "tripped", epoch, node, action.cause, action.reason, action.detail
                    )
                    self.seen_trip = self.held_trip
                self._remember()
                self.hooks.log(
                    "warning",
                    f"firm latch set by this node (epoch {epoch})"
                    if done
                    else f"firm latch was already set (epoch {epoch}): this trip is recorded "
                    "as suppressed",
                )
            self._pending.pop(0)

    async def _listen(self) -> None:
        assert self.link is not None
        channel = self.link.keys.channel
        while True:
            pubsub = self.link.redis.pubsub()
            try:
                await pubsub.subscribe(channel)
                # subscribed: now read the latch, so nothing between the two is missed
                latch = await self.link.latch()
                self._went_up()
                self.observe(latch)
                while True:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=self.settings.heartbeat
                    )
                    if message is not None:
                        self.observe(await self.link.latch())
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._went_down(error)
                await asyncio.sleep(self._backoff())
            finally:
                with contextlib.suppress(Exception):
                    close = getattr(pubsub, "aclose", None) or pubsub.close
                    await close()

    async def _farewell(self, link: FirmLink) -> None:
        s = self.settings
        try:
            async with asyncio.timeout(s.timeout):
                await self._flush(link)
                await link.heartbeat(self._figure("stopped"), s.operator_key)
        except Exception as error:
            self.hooks.log("warning", f"firm: last heartbeat not written ({_what(error)})")
        finally:
            with contextlib.suppress(Exception):
                await link.close()

    # --- link health -----------------------------------------------------------------------
    def _went_up(self) -> None:
        if not self.link_up:
            self.hooks.log("info", f"firm link up ({redact(self.settings.url)})")
            # expiry counts only link time: every member gets one ttl from now
            self.roll.grace(time.monotonic())
            # the tell connection may be a dead one from before: open it and load again
            self._tell_cold = True
            self._wake.set()
        self.link_up = True
        self.down_since = None
        self._failures = 0

    def _went_down(self, error: BaseException | None = None) -> None:
        s = self.settings
        now = time.monotonic()
        if self.link_up or self.down_since is None:
            self.hooks.log(
                "error",
                f"firm link down ({redact(s.url)}): {_what(error)}; local trips work as "
                f"before, retrying with backoff",
            )
            self.down_since = now
        self.link_up = False
        self._failures += 1
        lost_for = now - self.down_since
        if (
            s.on_link_lost == "halt"
            and lost_for >= s.link_lost_after
            and not self.hooks.tripped()
            and not self._stopping
        ):
            self.hooks.trip_unreachable(
                f"no answer from {redact(s.url)} for {lost_for:.1f}s (on_link_lost=halt)"
            )

    def _backoff(self) -> float:
        """Exponential backoff with jitter: 50 ms doubling per failure, capped at the
        heartbeat (and at 2 s), each wait drawn from half to all of that."""
        cap = min(2.0, max(self.settings.heartbeat, 0.05))
        return float(min(cap, 0.05 * 2 ** min(self._failures, 10)) * random.uniform(0.5, 1.0))


def _what(error: BaseException | None) -> str:
    """An error for a log line: its type and message, with any URL password redacted."""
    if error is None:
        return "not reached yet"
    text = str(error)
    for word in text.split():
        if "://" in word:
            text = text.replace(word, redact(word.strip("(),'\"")))
    return f"{type(error).__name__}: {text}"


def _info() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"
