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
import time
from dataclasses import dataclass
from typing import Any

from nautilus_riskwatch.firm.figures import Figure, Roll, own_figure
from nautilus_riskwatch.firm.health import LinkHealth, describe
from nautilus_riskwatch.firm.latch import CORRUPT, Latch
from nautilus_riskwatch.firm.link import FirmLink, Reading, redact
from nautilus_riskwatch.firm.memory import EpochFileError, EpochMemory, Remembered
from nautilus_riskwatch.firm.settings import FirmSettings, MemberHooks


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
        self.verdict = ""  # this node's word on the last re-arm (in its heartbeat)
        self.roll = Roll(settings.firm, settings.operator)
        self._pending: list[_Trip | _Restore] = []  # what the latch must be told
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self.health = LinkHealth(settings.url, settings.heartbeat, hooks.log)
        self._seq = 0
        self._unproven: tuple[str, ...] = ()
        self._stopping = False
        self._tell_cold = True  # the tell connection must be (re)opened and its scripts loaded
        self.seen_trip: Latch | None = None  # the trip of ``seen_epoch``, as read or made
        self.memory = EpochMemory(settings.epoch_file) if settings.epoch_file else None
        if self.memory is not None:  # raises EpochFileError: the node must not guess
            remembered = self.memory.load().current()
            self.seen_epoch, self.seen_trip = remembered.epoch, remembered.trip
            rearm = remembered.rearm
            if rearm is not None and rearm.rearm_verified(settings.firm, settings.operator):
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
        try:
            self.memory.save(Remembered(self.seen_epoch, self.seen_trip, self.accepted).current())
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
                        await asyncio.wait_for(self._wake.wait(), self.health.backoff())
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
                await asyncio.sleep(self.health.backoff())
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
                delay = self.health.backoff()
            await asyncio.sleep(delay)

    def _figure(self, state: str | None = None) -> Figure:
        pnl, now_state = self.hooks.figures()
        self._seq = max(self._seq + 1, time.time_ns() // 1_000_000)
        return own_figure(self.settings, pnl, state or now_state, self._seq, self.verdict)

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
                await asyncio.sleep(self.health.backoff())
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
            self.hooks.log("warning", f"firm: last heartbeat not written ({describe(error)})")
        finally:
            with contextlib.suppress(Exception):
                await link.close()

    # --- link health -----------------------------------------------------------------------
    @property
    def link_up(self) -> bool:
        """Did Redis answer the last request of any of the member's tasks?"""
        return self.health.up

    def _went_up(self) -> None:
        if self.health.answered():
            # expiry counts only link time: every member gets one ttl from now
            self.roll.grace(time.monotonic())
            # the tell connection may be a dead one from before: open it and load again
            self._tell_cold = True
            self._wake.set()

    def _went_down(self, error: BaseException | None = None) -> None:
        s = self.settings
        lost_for = self.health.failed(error)
        if (
            s.on_link_lost == "halt"
            and lost_for >= s.link_lost_after
            and not self.hooks.tripped()
            and not self._stopping
        ):
            self.hooks.trip_unreachable(
                f"no answer from {redact(s.url)} for {lost_for:.1f}s (on_link_lost=halt)"
            )
