"""The risk-off cascade, and the latch that lets it run once.

Why a shielded task: the cascade is started by the cancellation of the watch (its group
collapsing) and must survive further cancellations, say the actor stopping while cancels
are in flight. So it runs as its own task, held by the ``KillSwitch``, and whoever awaits
it does so through ``asyncio.shield``: cancelling the waiter never cancels the cascade.

Why its first steps run at the trip itself: setting HALTED, planning the cancels and
sending the first of them wait for nothing, so ``trip`` does them in the very callback that
tripped (the latch), and the task takes over at the first wait (the confirmations). A task
would start one turn of the loop later, and on a busy live loop a turn can be long: the
first command then leaves in tens of microseconds, not after whatever else is queued.

Every wait is bounded in loop time and retried; what stays unconfirmed goes into
the record instead of blocking the next stage, because a flat book matters more than a
tidy sequence. Each stage runs even if the one before it failed.

The engine is reached through ``Book`` (``core/book.py``); from the plan on the tripped
scope is held (``core/hold.py``: what becomes live is cancelled, until a re-arm); what a
stage tells the record and the event log is said once (``core/outcomes.py``).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from nautilus_riskwatch.core.book import Book
from nautilus_riskwatch.core.event_log import SESSION_ID, emit, emit_in
from nautilus_riskwatch.core.hold import Hold
from nautilus_riskwatch.core.outcomes import close_refusals, failed, outcome, publish
from nautilus_riskwatch.core.record import RiskOff, Stage
from nautilus_riskwatch.core.trips import Trip

__all__ = ["Book", "CascadePolicy", "KillSwitch"]


@dataclass(frozen=True)
class CascadePolicy:
    """How long to wait for each confirmation, and how often to ask.

    Parameters
    ----------
    confirm_timeout : float
        Seconds of loop time to wait for the cancels (or the closes) of one
        attempt to be confirmed.
    attempts : int
        How many times to send cancels (and closes) before recording what is left.
    close_attempts : int, optional
        How many rounds of closes (default: ``attempts``): a book that escalates a refused
        close to another order type needs one round per type at least.
    settle : float
        Seconds of loop time with no order or position event before the engine is read
        back (VERIFYING): the consequences of the cascade's own commands (a contingent
        order the venue cancels with the one the cascade cancelled) land first.
    """

    confirm_timeout: float = 5.0
    attempts: int = 3
    close_attempts: int | None = None
    settle: float = 0.001

    def __post_init__(self) -> None:
        if not self.confirm_timeout > 0:
            raise ValueError(f"confirm_timeout must be > 0 seconds, got {self.confirm_timeout!r}")
        if not (isinstance(self.attempts, int) and self.attempts >= 1):
            raise ValueError(f"attempts must be an integer >= 1, got {self.attempts!r}")
        rounds = self.close_attempts
        if rounds is not None and not (isinstance(rounds, int) and rounds >= 1):
            raise ValueError(f"close_attempts must be an integer >= 1, got {rounds!r}")
        if not 0 <= self.settle < self.confirm_timeout:
            raise ValueError(f"settle must be >= 0 and below confirm_timeout, got {self.settle!r}")

    @property
    def close_rounds(self) -> int:
        return self.attempts if self.close_attempts is None else self.close_attempts


class KillSwitch:
    """Latches the first trip and runs one risk-off cascade for it.

    Later trips never start a second cascade: they are added to the record as suppressed.
    ``context`` is the scope's (``event_log.attribute``): the cascade runs in a copy of it
    and its events are attributed to it, whoever pulls the switch (default: the current
    context when the switch is made).

    ``on_latch(record)``, if given, fills in the facts of the trip's instant (how the loss
    was valued, say) before anything of the cascade runs.
    """

    def __init__(
        self,
        book: Book,
        policy: CascadePolicy | None = None,
        context: contextvars.Context | None = None,
        on_trip: Callable[[RiskOff], None] | None = None,
        on_latch: Callable[[RiskOff], None] | None = None,
    ) -> None:
        self._book = book
        self._on_latch = on_latch
        self._policy = policy or CascadePolicy()
        self._context = context if context is not None else contextvars.copy_context()
        self._on_trip = on_trip  # told of the latched trip at once (e.g. the firm switch)
        self._task: asyncio.Task[RiskOff] | None = None
        self._record: RiskOff | None = None
        self._hurried = False
        self._hold_soon: asyncio.Handle | None = None  # the hold the cascade's end asked for
        self._deadline: asyncio.Timeout | None = None  # the confirmation wait's, to hurry it
        self._hold = Hold(
            book, self._context, attempts=self._policy.attempts, settle=self._policy.settle
        )

    @property
    def record(self) -> RiskOff | None:
        """The record of the latched trip (``None`` while nothing has tripped)."""
        return self._record

    @property
    def running(self) -> bool:
        """True while a cascade is in flight."""
        return self._task is not None and not self._task.done()

    @property
    def holding(self) -> bool:
        """True while the tripped scope is held (after its cascade, until a re-arm)."""
        return self._hold.holding

    def hold(self) -> None:
        """Hold the tripped scope from now on (again, after the watch stopped and resumed).

        Must be called with the watch's loop running. Nothing to hold before a trip, or
        while its cascade runs (the cascade holds it then).
        """
        record = self._record
        if record is None or self.running or self.holding:
            return
        self._hold.start(record, self._quiet)

    def release(self) -> None:
        """Stop holding (a re-arm, or the watch stopping; ``hold`` starts it again): the
        scope is no longer watched by this switch. Call it on the watch's loop."""
        soon, self._hold_soon = self._hold_soon, None
        if soon is not None:  # released before the hold the cascade's end asked for began
            soon.cancel()
        self._hold.release()

    def trip(self, cause: Trip) -> asyncio.Task[RiskOff]:
        """Latch ``cause`` (or record it as suppressed) and return the cascade's task.

        Must be called with the watch's loop running in this thread. The cause already
        latched, tripped again (by whoever latched it early, then by the supervisor), is
        the same trip: nothing is added.
        """
        if self._task is not None:
            assert self._record is not None
            if cause is self._record.cause:
                return self._task
            self._record.suppressed.append(cause)
            self._emit("suppressed", cause=cause.describe())
            return self._task
        self._record = RiskOff(
            cause=cause,
            tripped_at_ns=self._book.now_ns(),
            session_id=self._context.get(SESSION_ID, ""),
        )
        if self._on_latch is not None:
            try:
                self._on_latch(self._record)
            except Exception as error:  # a record short of detail still takes the book down
                self._record.errors.append(f"latching: {type(error).__name__}: {error}")
        self._emit("trip", at_ns=self._record.tripped_at_ns, cause=cause.describe())
        context = self._context.copy()
        opening = context.run(self._open, self._record)  # at once: HALTED, the first cancels
        self._task = asyncio.get_running_loop().create_task(
            self._cascade(self._record, opening), name="riskwatch-cascade", context=context
        )
        if self._on_trip is not None:
            try:
                self._on_trip(self._record)
            except Exception as error:  # a listener must never stop the cascade
                self._record.errors.append(f"on_trip: {type(error).__name__}: {error}")
        return self._task

    def _emit(self, kind: str, /, **fields: object) -> None:
        """``emit`` in the switch's context: ``trip`` and ``hurry`` come from anywhere."""
        emit_in(self._context, kind, **fields)

    async def risk_off(self, cause: Trip, suppressed: Sequence[Trip] = ()) -> RiskOff:
        """Trip, and wait for the cascade through a shield: cancel this, not the cascade."""
        task = self.trip(cause)
        for other in suppressed:
            self.trip(other)
        return await asyncio.shield(task)

    def hurry(self) -> None:
        """Stop waiting for confirmations: the engine is going away.

        The remaining stages still send their commands (cancels, closes), at once and
        unconfirmed, and the record says so. Must be called with the watch's loop running.
        """
        if self._hurried:
            return
        self._hurried = True
        if self._record is not None and self.running:
            self._record.hurried = True
            self._emit("hurried", stage=self._record.stage)
        if self._deadline is not None:
            self._deadline.reschedule(asyncio.get_running_loop().time())

    def _open(self, record: RiskOff) -> list[str] | None:
        """The steps that wait for nothing, run by ``trip`` itself: HALTING whole, then
        CANCELLING's plan and first sends. Returns the cancels sent (``None``: the plan
        failed, recorded, and CANCELLING is over)."""
        book = self._book
        record.enter(Stage.HALTING)
        emit("stage", stage=Stage.HALTING)
        try:
            record.trading_state = book.halt()
            outcome(Stage.HALTING, record, "trading_state")
        except Exception as error:  # a broken step must not stop the next one
            failed(record, Stage.HALTING, error)
        record.enter(Stage.CANCELLING)
        emit("stage", stage=Stage.CANCELLING)
        try:
            to_cancel, kept = book.resting_orders()
            self._hold.asked(to_cancel)
            record.orders_kept = kept
            record.held_by = book.places([*to_cancel, *kept])
            emit("plan", stage=Stage.CANCELLING, ids=to_cancel, kept=kept, held_by=record.held_by)
            if to_cancel:
                book.cancel(to_cancel)
        except Exception as error:
            failed(record, Stage.CANCELLING, error)
            return None
        return to_cancel

    async def _cascade(self, record: RiskOff, opening: list[str] | None) -> RiskOff:
        book = self._book
        try:
            if opening is not None:
                try:
                    await self._cancel(record, opening)
                except Exception as error:
                    failed(record, Stage.CANCELLING, error)
            for stage, step in (
                (Stage.FLATTENING, self._flatten),
                (Stage.VERIFYING, self._verify),
            ):
                record.enter(stage)
                emit("stage", stage=stage)
                try:
                    await step(record)
                except Exception as error:  # a broken step must not stop the next one
                    failed(record, stage, error)
            record.enter(Stage.DONE)
            emit("stage", stage=Stage.DONE)
        finally:
            record.finished_at_ns = book.now_ns()
            publish(record, record.finished_at_ns, book.publish)
        if not self._hurried:  # hurried: the engine is going away, there is nothing to hold
            # next turn; a release (a re-arm) before it comes cancels it
            self._hold_soon = asyncio.get_running_loop().call_soon(self.hold)
        return record

    async def _cancel(self, record: RiskOff, to_cancel: list[str]) -> None:
        """CANCELLING after its first sends (``_open``): confirm, retry, tally."""
        book = self._book
        pending = list(to_cancel)
        for attempt in range(1, self._policy.attempts + 1):
            if not pending:
                break
            if attempt > 1:
                emit("retry", stage=Stage.CANCELLING, attempt=attempt, ids=pending)
                book.cancel(pending)
            pending = await self._settle(partial(book.open_orders_among, pending), pending)
        record.orders_unconfirmed = pending
        closed = [o for o in to_cancel if o not in pending]
        record.orders_filled = book.filled_among(closed)
        record.orders_cancelled = [o for o in closed if o not in record.orders_filled]
        outcome(
            Stage.CANCELLING,
            record,
            "orders_cancelled",
            "orders_filled",
            "orders_unconfirmed",
            "orders_kept",
        )

    async def _flatten(self, record: RiskOff) -> None:
        book = self._book
        asked: list[str] = []
        remaining: list[str] = []
        for attempt in range(1, self._policy.close_rounds + 1):
            remaining, kept = book.open_positions()
            record.hedges_kept = kept
            if not remaining:
                break
            if attempt == 1:
                emit("plan", stage=Stage.FLATTENING, ids=remaining, kept=kept)
            else:
                emit("retry", stage=Stage.FLATTENING, attempt=attempt, ids=remaining, kept=kept)
            asked.extend(p for p in remaining if p not in asked)
            book.flatten(remaining)
            # a refused close leaves nothing to wait for: the next round goes at once
            remaining = await self._settle(
                lambda: book.open_positions()[0],
                remaining,
                idle=lambda: not book.closing(book.open_positions()[0]),
            )
        record.positions_unflattened = remaining
        record.positions_closed = [p for p in asked if p not in remaining]
        close_refusals(record, book.close_failures())
        outcome(
            Stage.FLATTENING,
            record,
            "positions_closed",
            "positions_unflattened",
            "hedges_kept",
            "close_rejections",
            "unflattened_why",
        )

    async def _verify(self, record: RiskOff) -> None:
        # The cascade's own tally says what it asked for; the engine says what is left,
        # and what is kept is what the engine still holds, not what was there at the trip.
        # Read once the engine has had its turn: a venue cancels an OUO partner after
        # answering the cancel of the order it is linked to, not in the same instant.
        await self._quiet()
        self._hold.sweep(record)
        self._hold.reread(record)
        outcome(
            Stage.VERIFYING,
            record,
            "left_live",
            "orders_kept",
            "hedges_kept",
            "orders_cancelled",
            "orders_filled",
            "orders_unconfirmed",
        )

    async def _quiet(self) -> None:
        """Wait until no order or position event has come for ``settle`` seconds (loop
        time), bounded by ``confirm_timeout``; at once when hurried."""
        settle = self._policy.settle
        if self._hurried or settle <= 0:
            return
        try:
            async with asyncio.timeout(self._policy.confirm_timeout) as deadline:
                self._deadline = deadline
                while not self._hurried:
                    try:
                        async with asyncio.timeout(settle):
                            await self._book.changed()
                    except TimeoutError:
                        if deadline.expired():
                            raise
                        return
        except TimeoutError:
            pass
        finally:
            self._deadline = None

    async def _settle(
        self,
        still_open: Callable[[], list[str]],
        asked: Sequence[str] = (),
        idle: Callable[[], bool] | None = None,
    ) -> list[str]:
        """Wait, bounded, until ``still_open()`` is empty; return what is still open.

        Each of ``asked`` seen leaving ``still_open()`` is logged as confirmed, as it goes.
        ``idle()`` true ends the wait early: nothing asked is still working (refused).
        Whatever of the book becomes live meanwhile is cancelled (``Hold.sweep_later``).
        """
        pending = still_open()
        self._confirmed(asked, pending)
        if not pending or self._hurried or (idle is not None and idle()):
            return pending
        try:
            async with asyncio.timeout(self._policy.confirm_timeout) as deadline:
                self._deadline = deadline
                while pending:
                    await self._book.changed()
                    assert self._record is not None  # set by the trip, before any wait
                    self._hold.sweep_later(self._record)
                    before, pending = pending, still_open()
                    self._confirmed(before, pending)
                    if idle is not None and idle():
                        break
        except TimeoutError:
            before, pending = pending, still_open()
            self._confirmed(before, pending)
            if pending:
                emit(
                    "timeout", stage=self._stage(), ids=pending, after=self._policy.confirm_timeout
                )
        finally:
            self._deadline = None
        return pending

    def _confirmed(self, before: Sequence[str], pending: Sequence[str]) -> None:
        """Log those of ``before`` no longer pending (an order: and whether it filled)."""
        done = [x for x in before if x not in pending]
        if not done:
            return
        stage = self._stage()
        if stage is Stage.CANCELLING:
            emit("confirmed", stage=stage, ids=done, filled=self._book.filled_among(done))
        else:
            emit("confirmed", stage=stage, ids=done)

    def _stage(self) -> str:
        return self._record.stage if self._record is not None else ""
