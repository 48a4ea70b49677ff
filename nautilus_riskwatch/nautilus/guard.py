"""``Guard``: one scope of the book under its own ledger, limits, supervisor and kill switch.

A scope is a part of the guarded book, by name: ``"portfolio"`` (the whole of it),
``"strategy X"`` or ``"instrument Y"``. The portfolio guard is tripped by the feeds'
watchdogs, outside causes and the portfolio-wide limits, and its cascade takes everything
down. A limit scoped to one strategy or one instrument gets a guard of its own, so that its
trip flattens and blocks only that part while the rest keeps trading (and keeps being
watched).

A guard hands its limits one figure per change: its ledger valued in the ceiling currency
(``valued.ValuedLedger``: exact while everything settles in it, else converted, rounded
toward the trip), against ceilings set at each arming (``valuing.Ceilings``: an amount, or
a share of the equity).

Quiet: each limit says which figures cannot matter to it (``core.limits.Quiet``). While
the guard's figures are exact in the ceiling currency and nothing samples them, the guard
keeps the intersection of its limits' bands as two integers in the ledger's money units
(``quiet_low``, ``quiet_high``), and a mark that leaves the ledger's total strictly
between them is not put: no ``Decimal`` is made, no predicate runs. Everything else (a
fill, a converted figure, a figure outside the band) is put as before.

Warnings (``warn_at``): each limit's figure is read from its breaker's own bands
(``alerts.warnings.LimitFigure``), and its warning levels' band is intersected with the
breakers', so a figure that cannot cross a level costs nothing more per quote. A crossing
is told to ``on_warning``; none once the figure reaches the ceiling (the trip says it).
Runaway guards (``runaway_guards.RunawayFeeds``): their children join the guard's group,
so an order, reject or fill storm or a position or gross cap trips the same cascade as a
loss limit. A guard with a position or gross cap keeps a ledger even without a loss limit
(``books``). With a gross cap the gross figure (``gross.GrossWeight``) is put with the
others; a mark inside the PnL's quiet band is still skipped while the gross stays below the
gross breaker's band (``_remark_weighing``, which stands in for ``remark`` on such a guard
only: a guard without one pays nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from nautilus_trader.model.identifiers import InstrumentId, StrategyId
from nautilus_trader.model.objects import FIXED_PRECISION

from nautilus_riskwatch.alerts.levels import DEFAULT_HYSTERESIS, Crossing
from nautilus_riskwatch.alerts.warnings import LimitFigure
from nautilus_riskwatch.core import (
    CascadePolicy,
    Feed,
    KillSwitch,
    RiskOff,
    Trip,
    breaker,
    run_watch,
    trip_on,
)
from nautilus_riskwatch.core.convert import Valuation
from nautilus_riskwatch.core.denials import count_denial, write_counts
from nautilus_riskwatch.core.event_log import EventLog, attribute, emit_in, sample
from nautilus_riskwatch.core.ledger import PnlLedger, to_raw
from nautilus_riskwatch.core.limits import Quiet, daily_breaker, daily_resets, trailing_breaker
from nautilus_riskwatch.core.supervisor import Child
from nautilus_riskwatch.looptime import LoopOrigin
from nautilus_riskwatch.nautilus.book import NautilusBook
from nautilus_riskwatch.nautilus.gross import GrossWeight
from nautilus_riskwatch.nautilus.runaway_guards import RunawayFeeds
from nautilus_riskwatch.nautilus.settings import LimitKind, LimitSpec
from nautilus_riskwatch.nautilus.valued import ValuedLedger
from nautilus_riskwatch.nautilus.valuing import Ceilings, Valuing


class Guard:
    """A book, its exact ledger, its limits (each reading its own feed) and its watch.

    Parameters
    ----------
    book : NautilusBook
        The part of the book (the scope) this guard covers and takes down.
    limits : Sequence[LimitSpec]
        Its loss limits.
    policy : CascadePolicy
        Bounds of the cascade's waits.
    loop_time : Callable[[], float]
        The watch's loop time now.
    origin : LoopOrigin
        The loop's tie to the engine's nanoseconds (daily resets in a time zone, and the
        UTC time a daily trip names).
    extra : Sequence[Child]
        More children (the portfolio guard's watchdogs and outside causes).
    valuing : Valuing, optional
        The ceiling currency, its rates and the equity (needed once the guard has a limit).
    event_log : EventLog, optional
        Where the guard's events go; with ``session_id`` and ``strategy_ids`` it is set in
        the guard's ``context``, which every task of the guard runs in.
    session_id : str
        The watch's session.
    strategy_ids : Iterable[str], optional
        The strategies the guard covers (``None``: every strategy).
    sample_every : float, optional
        Seconds between PnL samples in the event log (``None``: no samples).
    described : Mapping[str, Any]
        More facts for the ``armed`` line (the feeds, the trading state on a trip, ...).
    warn_at : Sequence[Decimal]
        Fractions of each limit's ceiling at which ``on_warning`` is told (``()``: none).
    warn_hysteresis : Decimal
        The share of the ceiling a figure must fall back below a level to warn again.
    runaway : RunawayFeeds, optional
        Its runaway guards (order, reject and fill rates, position and gross caps).

    """

    def __init__(
        self,
        book: NautilusBook,
        limits: Sequence[LimitSpec],
        policy: CascadePolicy,
        loop_time: Callable[[], float],
        origin: LoopOrigin,
        extra: Sequence[Child] = (),
        valuing: Valuing | None = None,
        event_log: EventLog | None = None,
        session_id: str = "",
        strategy_ids: Iterable[str] | None = None,
        sample_every: float | None = None,
        described: Mapping[str, Any] | None = None,
        warn_at: Sequence[Decimal] = (),
        warn_hysteresis: Decimal = DEFAULT_HYSTERESIS,
        runaway: RunawayFeeds | None = None,
    ) -> None:
        self.book = book
        self.runaway = runaway if runaway else None
        self.ledger = PnlLedger(FIXED_PRECISION)  # the engine's raw values are its own
        self.records: list[RiskOff] = []
        self._policy = policy
        self._loop_time = loop_time
        self._origin = origin
        self._extra = list(extra)
        # one feed per limit (a feed has one reader): a loss for max_loss, PnL otherwise
        self._feeds: list[tuple[LimitSpec, Feed[Decimal]]] = [
            (spec, Feed(f"{spec.kind} ({spec.scope})", loop_time)) for spec in limits
        ]
        self.switch: KillSwitch | None = None
        self.on_trip: Callable[[RiskOff], None] | None = None  # told of each latched trip
        #: Told of each warning level a limit's figure crossed upward (``warn_at``).
        self.on_warning: Callable[[LimitSpec, Crossing], None] | None = None
        self._warn_at = tuple(warn_at)
        self._warn_hysteresis = warn_hysteresis
        #: Each limit's figure as its breaker judges it (the metrics read it), in the
        #: order of ``limits``; made afresh, with its warning levels, at each arm.
        self.figures: list[LimitFigure] = [
            LimitFigure(spec.kind, spec.ceiling) for spec, _ in self._feeds
        ]
        self.task: asyncio.Task[RiskOff | None] | None = None
        self.context = attribute(event_log, session_id, self.scope, strategy_ids)
        self._described = dict(described or {})
        self._sample_every = sample_every
        self._samples: Feed[Decimal] | None = None
        if sample_every is not None and self.books:  # a ledger's PnL, for the picture
            self._samples = Feed(f"PnL samples ({self.scope})", loop_time)
        self.sampler: asyncio.Task[None] | None = None
        weighs = runaway is not None and runaway.weighs_gross
        self._gross = GrossWeight(self.ledger, valuing if weighs else None)
        self._no_rate: Feed[Trip] = Feed(f"exchange rates ({book.scope})", loop_time)
        #: Its ledger as its limits judge it, in the ceiling currency (loss, PnL fields).
        self.valued = ValuedLedger(self.ledger, valuing, book.scope, self._no_rate)
        self._ceilings = Ceilings(valuing)
        self._bands: list[Quiet | None] = [None] * len(self._feeds)  # each limit's
        #: A mark that leaves the plain ledger's total strictly between these (money units)
        #: is not put; ``0, 0`` (the default) means every figure is put.
        self.quiet_low: int | float = 0
        self.quiet_high: int | float = 0
        if weighs:  # the hot path of a gross-capped guard; every other guard keeps ``remark``
            self.remark = self._remark_weighing  # type: ignore[method-assign]

    @property
    def scope(self) -> str:
        """The part of the book this guard covers, by name (``"portfolio"``, ...)."""
        return self.book.scope

    @property
    def counts_pnl(self) -> bool:
        """Whether the guard has loss limits (its PnL is what they judge)."""
        return bool(self._feeds)

    @property
    def limits(self) -> list[LimitSpec]:
        """The guard's loss limits, in the order of ``figures``."""
        return [spec for spec, _ in self._feeds]

    @property
    def limit_feeds(self) -> list[Feed[Decimal]]:
        """Each loss limit's feed, in the order of ``limits``: what its breaker was put."""
        return [feed for _, feed in self._feeds]

    @property
    def books(self) -> bool:
        """Whether the guard keeps a ledger: loss limits, a position or gross cap, or runaway
        guards with an event-log file (their trip picture draws the PnL from it)."""
        runaway = self.runaway
        if self._feeds:
            return True
        return runaway is not None and (runaway.books or self._sample_every is not None)

    def covers(self, strategy_id: StrategyId, instrument_id: InstrumentId) -> bool:
        return self.book.covers(strategy_id, instrument_id)

    def arm(self, loop: asyncio.AbstractEventLoop, who: str = "", reason: str = "") -> None:
        """Start the children under a fresh supervisor and kill switch, in the guard's context.

        The tasks run in copies of ``context``, so every task they create (the group's
        children, the cascade) carries the guard's session, scope and strategies. Percent
        limits take their ceilings from the equity now (a re-arm re-bases them).
        """
        rearm = self.switch is not None
        self.note_denials()  # the trip that ends here: its count
        self._bands = [None] * len(self._feeds)  # the new breakers say theirs
        self.quiet_low = self.quiet_high = 0
        self._gross.quiet = 0
        if not self._feeds and self._samples is None:  # no PnL limit: no PnL figure matters
            self.quiet_low, self.quiet_high = float("-inf"), float("inf")
        gross = None if self.runaway is None else self.runaway.spec.gross
        self._ceilings.arm([*self.limits, *([] if gross is None else [gross])])
        self.figures = [self._figure(spec) for spec, _ in self._feeds]
        self.put_figures()  # the figures in force now: each limit measures from here
        self.switch = KillSwitch(
            self.book,
            self._policy,
            context=self.context,
            on_trip=self.on_trip,
            on_latch=self._at_latch,
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
            limit_bases=dict(self._ceilings.bases),
            **(self.valued.pnl_fields() if self._feeds else {"pnl": None}),
            **self._described,
            **({} if self.runaway is None else self.runaway.spec.describe()),
        )
        self.task = loop.create_task(
            run_watch([*self._extra, *self._children()], self.switch),
            name=f"riskwatch {self.scope}",
            context=self.context.copy(),
        )
        if self._samples is not None and self.sampler is None:
            assert self._sample_every is not None
            self.sampler = loop.create_task(
                sample(self._samples, self._sample_every),
                name=f"riskwatch {self.scope} PnL samples",
                context=self.context.copy(),
            )

    def note(self, kind: str, /, **fields: object) -> None:
        """Write an event attributed to this guard, from outside its tasks."""
        emit_in(self.context, kind, **fields)

    def denied(self, fields: Mapping[str, Any], at_ns: int) -> None:
        """An order denied after this guard's trip: counted in its record, per strategy;
        the first ``LOGGED_DENIALS`` of each strategy also written as ``denied`` lines."""
        record = None if self.switch is None else self.switch.record
        if record is not None:
            count_denial(record.denied, fields, at_ns, self.note)

    def note_denials(self) -> None:
        """The trip's count of denials, one ``denials`` line per strategy: when the trip
        ends (a re-arm) or the watch stops, so the log holds the count, not every denial."""
        record = None if self.switch is None else self.switch.record
        if record is not None:
            write_counts(record.denied, self.note)

    def remark(self, instrument_id: InstrumentId, bid: int | None, ask: int | None) -> bool:
        """Revalue the instrument's exposure at new marks (raw prices), and put the figures
        unless the ledger's total stays strictly inside the quiet band; ``True`` if put.

        The hot path: a quote that moves no held side, or moves the total within the band,
        costs a few comparisons and makes no ``Decimal``."""
        ledger = self.ledger
        if not ledger.mark_raw(instrument_id, bid, ask):  # type: ignore[arg-type]
            return False
        purse = ledger.plain_purse
        if purse is not None and self.quiet_low < purse.total < self.quiet_high:
            return False
        self.put_figures()
        return True

    def _remark_weighing(
        self, instrument_id: InstrumentId, bid: int | None, ask: int | None
    ) -> bool:
        """``remark`` for a guard with a gross cap: a mark inside the PnL's quiet band is
        skipped only if the gross, summed in integer money units, stays below the gross
        breaker's band too (the instrument's part replaced in the sum kept since the
        figures were last put)."""
        ledger = self.ledger
        if not ledger.mark_raw(instrument_id, bid, ask):  # type: ignore[arg-type]
            return False
        purse = ledger.plain_purse
        if purse is not None and self.quiet_low < purse.total < self.quiet_high:
            part = ledger.gross_raw(instrument_id)
            weight = self._gross
            total = weight.sum
            if part is not None and total is not None:
                parts = weight.parts
                total += part - parts.get(instrument_id, 0)
                if total < weight.quiet:
                    parts[instrument_id] = part
                    weight.sum = total
                    return False
        self.put_figures()
        return True

    def put_figures(self) -> None:
        """Hand the guard's current loss and PnL to its limits' feeds."""
        pnl, loss = self._figures()
        for spec, feed in self._feeds:
            feed.put(loss if spec.kind is LimitKind.MAX_LOSS else pnl)
        if self._samples is not None:
            self._samples.put(pnl)
        runaway = self.runaway
        if runaway is not None and runaway.weighs_gross:
            runaway.gross(self._gross.figure())
            self._gross.recount(self.valued.converting)
        if self._warn_at:
            self._see(pnl)

    def _see(self, pnl: Decimal) -> None:
        """Each limit's warning levels at ``pnl``: crossings told, the quiet band moved
        with the levels. None is told when ``pnl`` trips one of the guard's limits: the
        trip says it, and nothing may go before the kill's first commands."""
        moved = False
        told: list[tuple[LimitSpec, Crossing]] = []
        for (spec, _), figure in zip(self._feeds, self.figures, strict=True):
            told.extend((spec, crossing) for crossing in figure.see(pnl))
            moved = moved or figure.moved
        if moved:
            self._requiet()
        on_warning = self.on_warning
        if not told or on_warning is None or any(f.reached(pnl) for f in self.figures):
            return
        for spec, crossing in told:
            on_warning(spec, crossing)

    def _figure(self, spec: LimitSpec) -> LimitFigure:
        """The limit's figure for this arming, with its warning levels if its ceiling is
        known (a percent limit whose equity could not be measured trips at once instead)."""
        ceiling = self._ceilings.known(spec)
        if isinstance(ceiling, Exception) or not ceiling > 0:
            return LimitFigure(spec.kind, spec.ceiling)
        return LimitFigure(spec.kind, ceiling, self._warn_at, self._warn_hysteresis)

    def _figures(self) -> tuple[Decimal, Decimal]:
        """The PnL and the loss now, as the limits judge them."""
        pnl, loss, exact = self.valued.figures()
        if not exact:
            self.quiet_low = self.quiet_high = 0  # a converted figure is always put
        return pnl, loss

    def _pnl_now(self) -> Decimal:
        """The PnL a daily limit takes as its baseline when the day rolls."""
        return self._figures()[0]

    def _told(self, index: int, kind: LimitKind, band: Quiet | None) -> None:
        """A limit says its quiet band (a max_loss limit's is in losses: turned to PnL)."""
        if band is not None and kind is LimitKind.MAX_LOSS:
            band = band.negated()
        self._bands[index] = band
        spec = self._feeds[index][0]
        ceiling = self._ceilings.known(spec)
        if not isinstance(ceiling, Exception):
            self.figures[index].told(band, ceiling)
        self._requiet()

    def _requiet(self) -> None:
        """The quiet band: the intersection of every limit's band and, with ``warn_at``,
        of its warning levels' band (in the ledger's money units)."""
        self.quiet_low = self.quiet_high = 0
        every = list(self._bands)
        if self._warn_at:
            every += [figure.band() for figure in self.figures]
        bands = [b for b in every if b is not None]
        if self._samples is not None or self.valued.converting or len(bands) < len(every):
            return  # samples want every figure; converted figures are always put
        lows = [b.low for b in bands if b.low is not None]
        highs = [b.high for b in bands if b.high is not None]
        places = self.ledger.money_places
        try:
            quiet_low = to_raw(max(lows), places) if lows else float("-inf")
            quiet_high = to_raw(min(highs), places) if highs else float("inf")
        except ValueError:  # a bound finer than the ledger's units: put every figure
            return
        self.quiet_low, self.quiet_high = quiet_low, quiet_high

    def _at_latch(self, record: RiskOff) -> None:
        """The facts of the trip's instant: the scope (what the trip's listeners, its
        alert first, say it tripped), how the loss was valued, the percent bases."""
        record.scope = self.scope
        valuation = getattr(record.cause, "valuation", None)
        if valuation is None and self.valued.converting:
            valuation = self.valued.valuation
        if isinstance(valuation, Valuation):
            record.pnl_by_currency = valuation.by_currency()
            record.rates = valuation.rates()
            record.unconverted = list(valuation.missing)
        record.limit_bases = dict(self._ceilings.bases)

    def _children(self) -> list[Child]:
        children: list[Child] = [partial(trip_on, self._no_rate.read_one)]
        children.extend(
            partial(self._limit, i, spec, feed, self.valued.high)
            for i, (spec, feed) in enumerate(self._feeds)
        )
        runaway = self.runaway
        if runaway is not None:
            gross = runaway.spec.gross
            cap = None if gross is None else partial(self._ceilings.of, gross)
            children.extend(runaway.children(cap, self._gross.told))
        return children

    async def _limit(
        self, index: int, spec: LimitSpec, feed: Feed[Decimal], start: Decimal
    ) -> None:
        """One limit's breaker; a percent ceiling that could not be set raises here, in the
        child, where the supervisor makes it a trip."""
        ceiling = self._ceilings.of(spec)
        quiet = partial(self._told, index, spec.kind)
        if spec.kind is LimitKind.MAX_LOSS:
            await breaker(feed.read_one, ceiling, spec.currency, quiet=quiet)
        elif spec.kind is LimitKind.TRAILING:
            await trailing_breaker(feed.read_one, ceiling, spec.currency, start=start, quiet=quiet)
        else:
            await daily_breaker(
                feed.read_one,
                ceiling,
                daily_resets(self._origin.ns, spec.daily_reset, spec.daily_tz),
                self._loop_time,
                spec.currency,
                rebase=None if spec.percent is None else partial(self._ceilings.rebase, spec),
                origin=self._origin,
                quiet=quiet,
                current=self._pnl_now,
            )
