"""The hold: a tripped scope is held, not snapshotted, from the cascade's plan to a re-arm.

Why: whatever of the book becomes live after the plan (a re-placed take-profit, an order
admitted as reducing, a contingent child released, a fill after the cascade) would
otherwise trade on in a scope the watch has taken down. So the ``Hold`` remembers every
order asked to be cancelled, cancels what becomes live since (``sweep``), brings the
record's account up to the engine's own (``reread``), and after the cascade runs on until a
re-arm: each change is written into the record (``amendments``) and published again.

A sweep runs once the engine has had its turn (``sweep_later``), never inside the callback
that woke it: the engine may be half-way through handling a command.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable

from nautilus_riskwatch.core.book import Book
from nautilus_riskwatch.core.event_log import emit
from nautilus_riskwatch.core.outcomes import close_refusals, failed, publish
from nautilus_riskwatch.core.record import RiskOff, Stage


class Hold:
    """Every order asked to be cancelled (the plan, then whatever became live since), those
    asked after the plan, and positions flattened after the cascade; the hold's task.

    ``attempts`` bounds how often an order asked after the plan is asked again (a venue
    that does not know an order in flight refuses its cancel); ``settle`` is the loop time
    a sweep waits for the engine's turn. ``context`` is the scope's: the hold's task and
    its sweeps run in copies of it.
    """

    def __init__(
        self, book: Book, context: contextvars.Context, *, attempts: int, settle: float
    ) -> None:
        self._book = book
        self._context = context
        self._attempts = attempts
        self._settle = settle
        self._asked: set[str] = set()
        self._late: list[str] = []
        self._late_asks: dict[str, int] = {}
        self._late_positions: list[str] = []
        self._holding: asyncio.Task[None] | None = None
        self._sweeping: asyncio.TimerHandle | None = None
        self._kept_live: list[str] = []
        self._hedges_live: list[str] = []

    @property
    def holding(self) -> bool:
        """True while the hold's task runs (after the cascade, until a re-arm)."""
        return self._holding is not None and not self._holding.done()

    def asked(self, order_ids: list[str]) -> None:
        """The plan's cancels: asked, so no sweep asks them as new."""
        self._asked.update(order_ids)

    def start(self, record: RiskOff, quiet: Callable[[], Awaitable[None]]) -> None:
        """Hold from now on (on the running loop); ``quiet`` waits for the engine's turn."""
        self._holding = asyncio.get_running_loop().create_task(
            self._hold(record, quiet), name="riskwatch-hold", context=self._context.copy()
        )

    def release(self) -> None:
        """Stop holding, and any sweep still to come. Call it on the watch's loop."""
        sweeping, self._sweeping = self._sweeping, None
        if sweeping is not None:
            sweeping.cancel()
        holding, self._holding = self._holding, None
        if holding is not None and not holding.done():
            holding.cancel()

    def sweep_later(self, record: RiskOff) -> None:
        """Sweep once the engine has had its turn (``settle`` seconds of loop time on), not
        inside the callback that woke the cascade: the engine may be half-way through
        handling a command (denying an order list one order at a time, say), and an order
        it is about to close must not be cancelled under it."""
        if self._sweeping is not None:
            return
        loop = asyncio.get_running_loop()
        self._sweeping = loop.call_later(self._settle, self._context.run, self._swept, record)

    def _swept(self, record: RiskOff) -> None:
        self._sweeping = None
        try:
            self.sweep(record)
        except Exception as error:  # a broken sweep must not break the loop
            failed(record, Stage.CANCELLING, error)

    def sweep(self, record: RiskOff) -> list[str]:
        """Cancel every order of the book that became live since the plan (a re-placed
        take-profit, an order admitted as reducing, a contingent child released): the
        tripped scope is held, not snapshotted. Returns the orders asked now."""
        book = self._book
        to_cancel, _ = book.resting_orders()
        new = [o for o in to_cancel if o not in self._asked]
        # an order asked while in flight may be refused by a venue that does not know it
        # yet: asked again, as the cascade would, up to ``attempts`` times
        again = [
            o for o in book.cancel_refused(self._late) if self._late_asks.get(o, 0) < self._attempts
        ]
        if new:
            self._asked.update(new)
            self._late.extend(new)
            record.held_by.update(book.places(new))
            emit("plan", stage="hold", ids=new)
        if again:
            emit("retry", stage="hold", ids=again)
        asked = [*new, *again]
        for order in asked:
            self._late_asks[order] = self._late_asks.get(order, 0) + 1
        if asked:
            book.cancel(asked)
        return new

    def reread(self, record: RiskOff) -> None:
        """Bring the record's account of the engine up to the engine's own: the tally of
        the orders asked after the plan (and of those unconfirmed until now), what is
        still live, what is kept, what was closed since."""
        book = self._book
        late_done = [o for o in self._late if o not in book.open_orders_among(self._late)]
        unconfirmed = record.orders_unconfirmed
        now_done = [o for o in unconfirmed if o not in book.open_orders_among(unconfirmed)]
        finished = late_done + now_done
        filled = set(book.filled_among(finished))
        for order in finished:
            target = record.orders_filled if order in filled else record.orders_cancelled
            if order not in target:
                target.append(order)
        record.orders_unconfirmed = [o for o in unconfirmed if o not in now_done]
        self._late = [o for o in self._late if o not in late_done]
        flatten, kept = book.open_positions()
        for position in [*record.positions_unflattened, *self._late_positions]:
            if position not in flatten and position not in record.positions_closed:
                record.positions_closed.append(position)
        record.positions_unflattened = [p for p in record.positions_unflattened if p in flatten]
        self._late_positions = [p for p in self._late_positions if p in flatten]
        record.left_live = book.live_after()
        # kept stays kept in the record once named (the order may fire and fill, the hedge
        # close itself): what is kept *now* is what the hold compares (_facts)
        self._kept_live = book.resting_orders()[1]
        self._hedges_live = kept
        record.orders_kept.extend(o for o in self._kept_live if o not in record.orders_kept)
        record.hedges_kept.extend(p for p in kept if p not in record.hedges_kept)
        close_refusals(record, book.close_failures())

    async def _hold(self, record: RiskOff, quiet: Callable[[], Awaitable[None]]) -> None:
        """After the cascade, until a re-arm: whatever of the book becomes live again is
        cancelled, whatever position grows past what is kept is flattened, and each change
        to the record is written into it (``amendments``) and published again.

        The first step goes at once, not at the next change: what changed during the
        cascade's last wait (a kept algorithm's slice filling into a position it has just
        closed, say) woke the cascade, not the hold, and the next change may be long in
        coming (in a backtest, the next data point)."""
        while True:
            await quiet()  # act once the engine has had its turn (see sweep_later)
            try:
                self._step(record)
            except Exception as error:  # a broken step must not end the hold
                failed(record, Stage.DONE, error)
            await self._book.changed()

    def _step(self, record: RiskOff) -> None:
        book = self._book
        before = self._facts(record)
        changes = [f"cancelled {o} ({record.held_by.get(o, 'venue')})" for o in self.sweep(record)]
        flatten, _ = book.open_positions()
        for position in book.flatten(flatten):
            changes.append(f"flattening {position}")
            if position not in self._late_positions:
                self._late_positions.append(position)
        self.reread(record)
        after = self._facts(record)
        changes.extend(
            f"{name}: {before[name]} -> {after[name]}"
            for name in after
            if after[name] != before[name]
        )
        if not changes:
            return
        at_ns = book.now_ns()
        record.amendments.append({"at_ns": at_ns, "changes": changes})
        emit("amended", at_ns=at_ns, changes=changes, complete=record.complete)
        publish(record, at_ns, book.publish)

    def _facts(self, record: RiskOff) -> dict[str, object]:
        """What the hold compares before and after a step (copies: the record changes)."""
        return {
            "left_live": list(record.left_live),
            "kept live": list(self._kept_live),
            "hedges kept open": list(self._hedges_live),
            "positions_unflattened": list(record.positions_unflattened),
            "orders_unconfirmed": list(record.orders_unconfirmed),
            "close_rejections": len(record.close_rejections),
        }
