"""``Scope``: one part of the book under its own limits, supervisor and kill switch.

The whole guarded book is the trader scope: the feeds' watchdogs, outside causes and the
portfolio-wide limits trip it, and its cascade takes everything down. A limit scoped to one
strategy or one instrument gets a scope of its own, so that its trip flattens and blocks
only that part while the rest keeps trading (and keeps being watched).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from decimal import Decimal

from nautilus_trader.model.identifiers import InstrumentId, StrategyId

from nautilus_riskwatch.core import CascadePolicy, Feed, KillSwitch, RiskOff, breaker, run_watch
from nautilus_riskwatch.core.ledger import PnlLedger
from nautilus_riskwatch.core.limits import daily_breaker, daily_resets, trailing_breaker
from nautilus_riskwatch.core.supervisor import Child
from nautilus_riskwatch.nautilus.book import NautilusBook
from nautilus_riskwatch.nautilus.config import LimitSpec


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

    """

    def __init__(
        self,
        book: NautilusBook,
        limits: Sequence[LimitSpec],
        policy: CascadePolicy,
        clock: Callable[[], float],
        origin_ns: int,
        extra: Sequence[Child] = (),
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
        self.task: asyncio.Task[RiskOff | None] | None = None

    @property
    def name(self) -> str:
        return self.book.scope_name

    @property
    def counts_pnl(self) -> bool:
        return bool(self._feeds)

    def covers(self, strategy_id: StrategyId, instrument_id: InstrumentId) -> bool:
        return self.book.covers(strategy_id, instrument_id)

    def arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the children under a fresh supervisor and kill switch."""
        self.publish()  # the figures in force now: each limit measures from here
        self.switch = KillSwitch(self.book, self._policy)
        self.task = loop.create_task(
            run_watch([*self._extra, *self._children()], self.switch),
            name=f"riskwatch {self.name}",
        )

    def publish(self) -> None:
        """Hand the scope's current loss and PnL to its limits' feeds."""
        pnl = self.ledger.pnl
        loss = pnl.copy_negate()
        for spec, feed in self._feeds:
            feed.put(loss if spec.kind == "max_loss" else pnl)

    def _children(self) -> list[Child]:
        children: list[Child] = []
        start = self.ledger.pnl
        for spec, feed in self._feeds:
            if spec.kind == "max_loss":
                children.append(lambda f=feed, s=spec: breaker(f.read_one, s.ceiling, s.currency))
            elif spec.kind == "trailing":
                children.append(
                    lambda f=feed, s=spec: trailing_breaker(
                        f.read_one, s.ceiling, s.currency, start=start
                    )
                )
            else:
                resets = daily_resets(self._origin_ns, spec.daily_reset, spec.daily_tz)
                children.append(
                    lambda f=feed, s=spec, r=resets: daily_breaker(
                        f.read_one, s.ceiling, r, self._clock, s.currency
                    )
                )
        return children
