"""``Scope``: one part of the book under its own limits, supervisor and kill switch.

The whole guarded book is the trader scope: the feeds' watchdogs, outside causes and the
portfolio-wide limits trip it, and its cascade takes everything down. A limit scoped to one
strategy or one instrument gets a scope of its own, so that its trip flattens and blocks
only that part while the rest keeps trading (and keeps being watched).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from nautilus_trader.model.identifiers import InstrumentId, StrategyId

from nautilus_riskwatch.core import CascadePolicy, Feed, KillSwitch, RiskOff, breaker, run_watch
from nautilus_riskwatch.core.event_log import EventLog, attribute, emit_in, sample
from nautilus_riskwatch.core.limits import daily_breaker, daily_resets, trailing_breaker
from nautilus_riskwatch.core.supervisor import Child
from nautilus_riskwatch.nautilus.book import NautilusBook
from nautilus_riskwatch.nautilus.config import LimitSpec
from nautilus_riskwatch.nautilus.ledger import PnlLedger


class Scope:
    """A book, its exact ledger, its limits (each reading its own feed) and its watch.

    Parameters
    ----------
    book : NautilusBook
        The part of the book this scope covers and takes down.
    limits : Sequence[LimitSpec]
        Its loss limits.
    policy : CascadePolicy
        Bounds of the cascade's waits.
    clock : Callable[[], float]
        The watch's loop time.
    origin_ns : int
        Engine nanoseconds at loop time zero (for daily resets in a time zone).
    extra : Sequence[Child]
        More children (the trader scope's watchdogs and outside causes).
    event_log : EventLog, optional
        Where the scope's events go; with ``session_id`` and ``strategy_ids`` it is set in
        the scope's ``context``, which every task of the scope runs in.
    session_id : str
        The watch's session.
    strategy_ids : Iterable[str], optional
        The strategies the scope guards (``None``: every strategy).
    sample_every : float, optional
        Seconds between PnL samples in the event log (``None``: no samples).
    described : Mapping[str, Any]
        More facts for the ``armed`` line (the feeds, the trading state on a trip, ...).

    """

    def __init__(
        self,
        book: NautilusBook,
        limits: Sequence[LimitSpec],
        policy: CascadePolicy,
        clock: Callable[[], float],
        origin_ns: int,
        extra: Sequence[Child] = (),
        event_log: EventLog | None = None,
        session_id: str = "",
        strategy_ids: Iterable[str] | None = None,
        sample_every: float | None = None,
        described: Mapping[str, Any] | None = None,
    ) -> None:
        self.book = book
        self.ledger = PnlLedger()
        self.records: list[RiskOff] = []
        self._policy = policy
        self._clock = clock
        self._origin_ns = origin_ns
        self._extra = list(extra)
        # one feed per limit (a feed has one reader): a loss for max_loss, PnL otherwise
        self._feeds: list[tuple[LimitSpec, Feed[Decimal]]] = [
            (spec, Feed(f"{spec.kind} ({spec.scope})", clock)) for spec in limits
        ]
        self.switch: KillSwitch | None = None
        self.on_trip: Callable[[RiskOff], None] | None = None  # told of each latched trip
        self.task: asyncio.Task[RiskOff | None] | None = None
        self.context = attribute(event_log, session_id, self.name, strategy_ids)
        self._described = dict(described or {})
        self._sample_every = sample_every
        self._samples: Feed[Decimal] | None = None
        if sample_every is not None and self._feeds:
            self._samples = Feed(f"PnL samples ({self.name})", clock)
        self.sampler: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.book.scope_name

    @property
    def counts_pnl(self) -> bool:
        return bool(self._feeds)

    def covers(self, strategy_id: StrategyId, instrument_id: InstrumentId) -> bool:
        return self.book.covers(strategy_id, instrument_id)

    def arm(self, loop: asyncio.AbstractEventLoop, who: str = "", reason: str = "") -> None:
        """Start the children under a fresh supervisor and kill switch, in the scope's context.

        The tasks run in copies of ``context``, so every task they create (the group's
        children, the cascade) carries the scope's session, name and strategies.
        """
        rearm = self.switch is not None
        self.publish()  # the figures in force now: each limit measures from here
        self.switch = KillSwitch(
            self.book, self._policy, context=self.context, on_trip=self.on_trip
        )
        self.note(
            "armed",
            rearm=rearm,
            who=who,
            reason=reason,
            limits=[
                {"kind": s.kind, "ceiling": s.ceiling, "currency": s.currency}
                for s, _ in self._feeds
            ],
            pnl=self.ledger.pnl if self._feeds else None,
            **self._described,
        )
        self.task = loop.create_task(
            run_watch([*self._extra, *self._children()], self.switch),
            name=f"riskwatch {self.name}",
            context=self.context.copy(),
        )
        if self._samples is not None and self.sampler is None:
            assert self._sample_every is not None
            self.sampler = loop.create_task(
                sample(self._samples, self._sample_every),
                name=f"riskwatch {self.name} PnL samples",
                context=self.context.copy(),
            )

    def note(self, kind: str, /, **fields: object) -> None:
        """Write an event attributed to this scope, from outside its tasks."""
        emit_in(self.context, kind, **fields)

    def publish(self) -> None:
        """Hand the scope's current loss and PnL to its limits' feeds."""
        pnl = self.ledger.pnl
        loss = pnl.copy_negate()
        for spec, feed in self._feeds:
            feed.put(loss if spec.kind == "max_loss" else pnl)
        if self._samples is not None:
            self._samples.put(pnl)

    def _children(self) -> list[Child]:
        children: list[Child] = []
        start = self.ledger.pnl
        for spec, feed in self._feeds:
            if spec.kind == "max_loss":
                children.append(partial(breaker, feed.read_one, spec.ceiling, spec.currency))
            elif spec.kind == "trailing":
                children.append(
                    partial(
                        trailing_breaker, feed.read_one, spec.ceiling, spec.currency, start=start
                    )
                )
            else:
                resets = daily_resets(self._origin_ns, spec.daily_reset, spec.daily_tz)
                children.append(
                    partial(
                        daily_breaker,
                        feed.read_one,
                        spec.ceiling,
                        resets,
                        self._clock,
                        spec.currency,
                    )
                )
        return children
