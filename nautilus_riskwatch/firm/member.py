"""``FirmMember``: one node's part in the firm switch, on the node's own event loop.

It does three things, none of which may ever hold up the node:

- **tell**: a local trip (any cause but the firm's own) is queued and set on the firm
  latch as soon as Redis answers; while it does not, the queue waits and is retried with
  backoff, so a trip during an outage reaches the others when Redis returns;
- **listen**: a pub/sub subscription wakes it the instant the latch changes, and every
  heartbeat reads the latch again, so a node that missed a message (or was disconnected)
  catches up from the latch itself, not from the stream;
- **beat**: every ``heartbeat`` seconds it writes its exact PnL and state and, with a firm
  ceiling, has the server sum every node's figure in the same script.

What it decides, from each reading of the latch (``observe``):

- tripped, and this node is not: trip it (``FirmKill``: origin, epoch, reason);
- re-armed at the epoch this node holds, with a signature the operator secret confirms:
  re-arm it; a signature that does not verify is refused (and said so in the heartbeat);
- gone or rolled back below the epoch this node holds (Redis lost it): set it again at that
  epoch, so a Redis restart without persistence does not silently re-enable the firm.

Redis I/O happens only in this module's tasks; the actor's callbacks only call
``local_trip``, which appends to a list and sets an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from nautilus_riskwatch.firm.latch import Latch
from nautilus_riskwatch.firm.link import FirmLink, redact

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
    secret_env: str = "RISKWATCH_FIRM_SECRET"
    secret_file: str | None = None
    password_env: str | None = None
    secret: bytes | None = field(default=None, repr=False)  # loaded at start, never logged
    password: str | None = field(default=None, repr=False)  # from password_env at start

    def __repr__(self) -> str:  # the URL may carry a password, the secret is secret
        return (
            f"FirmSettings(url={redact(self.url)!r}, firm={self.firm!r}, node={self.node!r}, "
            f"max_loss={self.max_loss} {self.currency}, secret={'set' if self.secret else 'none'})"
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


class FirmMember:
    """One node in the firm: tells its trips, obeys the latch, beats its heart."""

    def __init__(self, settings: FirmSettings, hooks: MemberHooks) -> None:
        self.settings = settings
        self.hooks = hooks
        self.link: FirmLink | None = None
        self.held_epoch: int | None = None  # the firm trip this node holds
        self.seen_epoch = 0
        self.latch: Latch | None = None  # the last reading
        self.link_up = False
        self.down_since: float | None = None
        self.refused: str = ""  # why the last re-arm was refused (shown in the heartbeat)
        self._pending: list[tuple[str, str, str]] = []  # local trips not yet on the latch
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._failures = 0
        self._stopping = False

    # --- from the actor (loop thread, never blocks) ----------------------------------
    def start(self, latch_at_start: Latch | None) -> None:
        """Start the tasks; ``latch_at_start`` is what the start check read (if anything)."""
        s = self.settings
        self.link = FirmLink(s.url, s.firm, timeout=s.timeout, password=s.password)
        if latch_at_start is not None:
            self.link_up = True
            self.observe(latch_at_start)
        else:
            self._went_down()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._beat(), name=f"riskwatch firm beat {s.node}"),
            loop.create_task(self._listen(), name=f"riskwatch firm listen {s.node}"),
        ]

    def local_trip(self, cause: str, reason: str) -> None:
        """The node tripped on its own: put it on the firm latch (as soon as possible)."""
        self._pending.append((cause, reason, ""))
        self._wake.set()

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
    def observe(self, latch: Latch) -> None:
        """Act on one reading of the latch (see the module docstring)."""
        self.latch = latch
        hooks = self.hooks
        if self.held_epoch is not None and latch.epoch < self.held_epoch:
            hooks.log(
                "error",
                f"firm latch at epoch {latch.epoch} ({latch.state}), below the trip this node "
                f"holds (epoch {self.held_epoch}): Redis lost it; setting it again",
            )
            if ("reassert", "", "") not in self._pending:
                self._pending.append(("reassert", "", ""))
                self._wake.set()
            return
        self.seen_epoch = max(self.seen_epoch, latch.epoch)
        tripped = hooks.tripped()
        if latch.tripped:
            if not tripped:
                self.held_epoch = latch.epoch
                self.refused = ""
                hooks.trip_firm(latch)
            elif not self._pending:
                # a trip this node already holds, or one it came up with while Redis was
                # away: a re-arm of the epoch in force is the one that re-arms it
                self.held_epoch = max(self.held_epoch or 0, latch.epoch)
        elif latch.state == "armed" and tripped and self.held_epoch == latch.epoch:
            if latch.rearm_verified(self.settings.firm, self.settings.secret):
                if hooks.rearm(latch):
                    hooks.log(
                        "warning",
                        f"firm re-armed (epoch {latch.epoch}) by {latch.rearm_by or '?'}: "
                        f"{latch.rearm_reason or 'no reason given'}",
                    )
                    self.held_epoch = None
                    self.refused = ""
            else:
                why = (
                    "no operator secret on this node to verify it"
                    if self.settings.secret is None
                    else "the signature does not verify"
                )
                if self.refused != why:
                    hooks.log("error", f"firm re-arm of epoch {latch.epoch} refused: {why}")
                self.refused = why

    # --- tasks ---------------------------------------------------------------------------
    async def _beat(self) -> None:
        s = self.settings
        while True:
            try:
                assert self.link is not None
                await self._flush(self.link)
                pnl, state = self.hooks.figures()
                if self.refused:
                    state = f"{state} (re-arm refused: {self.refused})"
                assert self.link is not None
                await self.link.heartbeat(
                    s.node,
                    pnl,
                    s.currency,
                    state,
                    s.heartbeat_ttl,
                    policy=s.on_heartbeat_lost,
                    ceiling=s.max_loss,
                    info=_info(),
                )
                self.observe(await self.link.latch())
                self._went_up()
                delay = s.heartbeat
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._went_down(error)
                delay = self._backoff()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _flush(self, link: FirmLink) -> None:
        """Put the queued local trips on the latch (raises if Redis does not answer)."""
        node = self.settings.node
        while self._pending:
            cause, reason, detail = self._pending[0]
            if cause == "reassert":
                held = self.held_epoch
                if held is not None:
                    await link.trip(
                        node, "reassert", f"node {node} holds the trip of epoch {held}",
                        reassert=held,
                    )  # fmt: skip
            else:
                done, epoch = await link.trip(node, cause, reason, detail)
                self.held_epoch = epoch
                self.seen_epoch = max(self.seen_epoch, epoch)
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
                self.observe(await self.link.latch())
                self._went_up()
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
                pnl, _ = self.hooks.figures()
                await link.heartbeat(
                    s.node, pnl, s.currency, "stopped", s.heartbeat_ttl, info=_info()
                )
        except Exception as error:
            self.hooks.log("warning", f"firm: last heartbeat not written ({_what(error)})")
        finally:
            with contextlib.suppress(Exception):
                await link.close()

    # --- link health -----------------------------------------------------------------------
    def _went_up(self) -> None:
        if not self.link_up:
            self.hooks.log("info", f"firm link up ({redact(self.settings.url)})")
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
        """Exponential backoff with jitter, from 50 ms to the heartbeat (at most 2 s)."""
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
