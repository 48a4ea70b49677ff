"""``FirmBridge``: the watch's side of the firm switch, between the actor and the member.

Why it is its own module: the actor stays thin (three small hooks), and all of the firm's
NautilusTrader-facing rules live here, in one place:

- **Start before strategies.** ``Trader.start`` starts actors before strategies, and a
  live node calls it on its loop thread. So at the end of the watch's ``on_start`` the latch
  is read synchronously (bounded by ``timeout``: the only blocking Redis call, and only at
  start), and if the firm is tripped the RiskEngine is set HALTED *right there*, before the
  first strategy's ``on_start`` can submit anything; the cascade (cancel, flatten what the
  node holds) follows on the loop.
- **A firm kill halts at once.** ``FirmKill`` sets HALTED synchronously when it arrives,
  then hands the cause to the supervisor like any outside cause, so the full cascade runs.
- **Tell the firm.** Every trip of the portfolio guard, any cause except the firm's own, is
  handed to the member, which puts it on the latch from its own task (never from an engine
  callback, never waited for).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from nautilus_riskwatch.core import FirmKill, FirmUnreachable, RiskOff, Trip
from nautilus_riskwatch.firm.health import describe
from nautilus_riskwatch.firm.latch import Latch
from nautilus_riskwatch.firm.link import read_latch_now, redact
from nautilus_riskwatch.firm.member import FirmMember
from nautilus_riskwatch.firm.settings import FirmSettings, MemberHooks
from nautilus_riskwatch.nautilus.commands import RearmRefused
from nautilus_riskwatch.nautilus.guard import Guard

FIRM_CAUSES = (FirmKill.kind, FirmUnreachable.kind)


class FirmBridge:
    """Joins one watch to the firm: start check, local trips out, firm trips in.

    Parameters
    ----------
    settings : FirmSettings
        The checked ``firm`` section.
    node : str
        This node's name in the firm unless the settings name one (the trader id).
    guard : Guard
        The watch's portfolio guard: the firm hears of its trips and reads its PnL.
    trip : Callable[[Trip, str], None]
        Trips the watch from outside its tasks, from any thread (``RiskWatch``'s).
    rearm : Callable[..., str]
        Re-arms the portfolio guard (``RiskWatch.rearm``); raises ``RearmRefused``.
    log : Any
        The actor's logger.
    rearmed : Callable[[Latch], None], optional
        Told after the firm latch re-armed this node (the operator's alert).

    """

    def __init__(
        self,
        settings: FirmSettings,
        node: str,
        guard: Guard,
        trip: Callable[[Trip, str], None],
        rearm: Callable[..., str],
        log: Any,
        rearmed: Callable[[Latch], None] | None = None,
    ) -> None:
        self._guard = guard
        self._rearmed = rearmed
        self._trip = trip
        self._rearm_watch = rearm
        self._logger = log
        self._queued = False  # a firm trip handed to the loop, not latched yet
        from nautilus_riskwatch.firm.signing import load_private, parse_public

        password = os.environ.get(settings.password_env) if settings.password_env else None
        self.settings = dataclasses.replace(
            settings,
            node=settings.node or node,
            operator=parse_public(settings.operator_key) if settings.operator_key else None,
            # a key file that cannot be read stops the node's start, naming the file
            signer=load_private(settings.key_file) if settings.key_file else None,
            password=password,
        )
        self.member = FirmMember(
            self.settings,
            MemberHooks(
                trip_firm=self._trip_firm,
                trip_unreachable=lambda reason: self._halt_and_trip(FirmUnreachable(reason)),
                rearm=self._rearm,
                tripped=self._tripped,
                figures=self._figures,
                log=self._log,
            ),
        )
        guard.on_trip = self._on_local_trip

    def start(self) -> None:
        """The start check (synchronous, bounded), then the member's tasks."""
        s = self.settings
        if s.operator is None:
            self._log(
                "warning",
                "firm: no operator_key: a firm re-arm cannot be verified here; after a firm "
                "trip this node stays halted",
            )
        if s.signer is None:
            self._log(
                "warning",
                "firm: no key_file: this node's figure is not signed, so the firm counts it "
                "only as a loss, never as a gain",
            )
        latch: Latch | None = None
        try:
            latch = read_latch_now(s.url, s.firm, s.timeout, s.password, s.transport)
        except Exception as error:
            self._log("error", f"firm: start check failed ({redact(s.url)}): {describe(error)}")
            if s.on_unreachable_at_start == "halt":
                self._halt_and_trip(
                    FirmUnreachable(
                        f"no answer from {redact(s.url)} within {s.timeout:g}s at start "
                        "(on_unreachable_at_start=halt)"
                    )
                )
        behind = None if latch is None else self.member.behind(latch)
        if latch is not None and latch.halts(s.firm, s.operator):
            # tripped, or re-armed without a re-arm this node can verify: halted before
            # any strategy starts
            self.member.held_epoch = latch.epoch
            self._trip_firm(latch)
        elif latch is not None and behind is not None:
            # below the epoch this node remembers (its epoch_file): rolled back or lost
            self._log(
                "error",
                f"firm latch at epoch {latch.epoch} ({latch.state}) is below epoch "
                f"{behind.epoch}, which this node saw (epoch_file): halted; it puts that "
                "trip back",
            )
            self.member.held_epoch, self.member.held_trip = behind.epoch, behind
            self._trip_firm(behind)
        self.member.start(latch)
        state = "unreachable" if latch is None else f"{latch.state}, epoch {latch.epoch}"
        self._log(
            "info",
            f"firm {s.firm!r} joined as {s.node!r} ({redact(s.url)}; latch {state}; "
            f"ceiling {s.max_loss or '-'} {s.currency if s.max_loss else ''})",
        )

    def stop(self) -> None:
        self.member.stop()

    # --- hooks ---------------------------------------------------------------------------
    def _on_local_trip(self, record: RiskOff) -> None:
        """The portfolio guard latched a trip (called inside ``KillSwitch.trip``)."""
        self._queued = False
        cause = record.cause
        if cause.kind not in FIRM_CAUSES:
            self.member.local_trip(cause.kind, str(cause))

    def _trip_firm(self, latch: Latch) -> None:
        self._halt_and_trip(FirmKill(latch.origin, latch.epoch, latch.why_halted(), latch.cause))

    def _halt_and_trip(self, cause: Trip) -> None:
        """HALTED now (synchronously), then the full cascade on the loop."""
        if self._tripped():
            return
        self._queued = True
        try:
            self._guard.book.halt()
        except Exception as error:
            self._log("error", f"firm: could not halt at once: {describe(error)}")
        self._trip(cause, "firm")

    def _rearm(self, latch: Latch) -> bool:
        try:
            self._rearm_watch(
                who=f"firm operator {latch.rearm_by or '?'}",
                reason=f"firm re-arm of epoch {latch.epoch}: {latch.rearm_reason}",
            )
        except RearmRefused as refused:
            self._log("warning", f"firm re-arm of epoch {latch.epoch} waits: {refused}")
            return False
        if self._rearmed is not None:
            try:
                self._rearmed(latch)
            except Exception as error:  # an alert must not undo a re-arm
                self._log("error", f"firm: re-arm alert failed: {describe(error)}")
        return True

    def _tripped(self) -> bool:
        switch = self._guard.switch
        return self._queued or (switch is not None and switch.record is not None)

    def _figures(self) -> tuple[Decimal | None, str]:
        """The portfolio guard's exact PnL (``None`` if it keeps no ledger) and its state."""
        guard = self._guard
        record = None if guard.switch is None else guard.switch.record
        state = "ACTIVE" if record is None else f"TRIPPED {record.cause.kind} ({record.stage})"
        if record is None and self._queued:
            state = "TRIPPING"
        return (-guard.valued.loss if guard.counts_pnl else None), state

    def _log(self, level: str, message: str) -> None:
        getattr(self._logger, level)(message)
