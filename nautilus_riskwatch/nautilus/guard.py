"""``Guard``: one scope of the book under its own ledger, limits, supervisor and kill switch.

A scope is a part of the guarded book, by name: ``"portfolio"`` (the whole of it),
``"strategy X"`` or ``"instrument Y"``. The portfolio guard is tripped by the feeds'
watchdogs, outside causes and the portfolio-wide limits, and its cascade takes everything
down. A limit scoped to one strategy or one instrument gets a guard of its own, so that its
trip flattens and blocks only that part while the rest keeps trading (and keeps being
watched).

A guard hands its limits one figure per change. While everything it holds settles in the
ceiling currency (linear instruments), that is the ledger's exact ``Decimal``, as cheap as
ever. Once another currency (or an inverse instrument) is booked, it is the ledger's
per-currency figures valued in the ceiling currency (``core.convert``), rounded toward the
trip, carrying how it was made for the record.

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
(``books``). With a gross cap the gross figure is put with the others; a mark inside the
PnL's quiet band is still skipped while the gross, added up in the ledger's integer money
units instrument by instrument, stays below the gross breaker's band (``_remark_weighing``,
which stands in for ``remark`` on such a guard only: a guard without one pays nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
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
    NoExchangeRate,
    RiskOff,
    Trip,
    breaker,
    run_watch,
    trip_on,
)
from nautilus_riskwatch.core.convert import Converter, Rate, Valuation, bounded, share_of
from nautilus_riskwatch.core.denials import LOGGED_DENIALS, summary_fields, tally
from nautilus_riskwatch.core.event_log import EventLog, attribute, emit_in, sample
from nautilus_riskwatch.core.ledger import PnlLedger, to_raw
from nautilus_riskwatch.core.limits import Quiet, daily_breaker, daily_resets, trailing_breaker
from nautilus_riskwatch.core.supervisor import Child
from nautilus_riskwatch.looptime import LoopOrigin
from nautilus_riskwatch.nautilus.book import NautilusBook
from nautilus_riskwatch.nautilus.equity import Equity
from nautilus_riskwatch.nautilus.runaway_guards import GrossCap, RunawayFeeds
from nautilus_riskwatch.nautilus.settings import LimitKind, LimitSpec, MissingRate


@dataclass(frozen=True)
class Valuing:
    """How every guard of a watch values its figures: shared, set at start.

    ``currency`` is the ceiling currency, ``quantum`` its precision (what a converted figure
    is rounded to), ``rate(code)`` the current rate into it, ``equity()`` the accounts'
    equity (for percent limits), ``on_missing_rate`` ``"trip"`` or ``"hold"``, ``warn`` the
    actor's logger.
    """

    currency: str
    quantum: Decimal
    rate: Callable[[str], Rate | None]
    equity: Callable[[], Equity]
    on_missing_rate: MissingRate
    warn: Callable[[str], None]


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
        self._valuing = valuing
        self._converter = (
            None if valuing is None else Converter(valuing.currency, valuing.quantum, valuing.rate)
        )
        weighs = runaway is not None and runaway.weighs_gross
        #: The gross exposure's own converter (a converter remembers its figures by currency).
        self._gross_converter = (
            None
            if valuing is None or not weighs
            else Converter(valuing.currency, valuing.quantum, valuing.rate)
        )
        self.valuation: Valuation | None = None  # the last converted figure's story
        self._high = Decimal(0)  # the last PnL, rounded away from the trip
        self._no_rate: Feed[Trip] = Feed(f"exchange rates ({book.scope})", loop_time)
        self._unrated: set[str] = set()  # held currencies told about while they had no rate
        self._ceilings: dict[LimitSpec | GrossCap, Decimal | Exception] = {}
        self.bases: dict[str, str] = {}  # percent limit -> its base and amount (the record)
        self._bands: list[Quiet | None] = [None] * len(self._feeds)  # each limit's
        #: A mark that leaves the plain ledger's total strictly between these (money units)
        #: is not put; ``0, 0`` (the default) means every figure is put.
        self.quiet_low: int | float = 0
        self.quiet_high: int | float = 0
        #: A gross below this (money units) cannot trip: the gross breaker's band; ``0``:
        #: every gross matters. Its parts per instrument since the figures were last put.
        self._gross_quiet: int | float = 0
        self._gross_parts: dict[InstrumentId, int] = {}
        self._gross_sum: int | None = None
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

    @property
    def converting(self) -> bool:
        """True once the ledger holds figures that need converting (rates move them)."""
        converter = self._converter
        return converter is not None and not self.ledger.plain_in(converter.currency)

    @property
    def loss(self) -> Decimal:
        """The guard's loss now, in the ceiling currency (rounded up when converted)."""
        converter = self._converter
        if converter is None or self.ledger.plain_in(converter.currency):
            return self.ledger.loss
        return converter.value(self.ledger.pnl_by_currency()).low.copy_negate()

    def pnl_fields(self) -> dict[str, object]:
        """The guard's PnL for an event-log line: one figure in the ceiling currency where
        there is one (as the limits judge it, rounded toward the trip when converted), else
        each currency's own. Never raises for a book in several currencies: a log line must
        not stop a re-arm or a fill half-way."""
        converter = self._converter
        ledger = self.ledger
        if converter is not None and not ledger.plain_in(converter.currency):
            return {"pnl": converter.value(ledger.pnl_by_currency()).low}
        by_currency = ledger.pnl_by_currency()
        if ledger.plain_in(next(iter(by_currency), "")):
            return {"pnl": ledger.pnl}
        return {"pnl_by_currency": {code: str(pnl) for code, pnl in by_currency.items()}}

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
        self._gross_quiet = 0
        if not self._feeds and self._samples is None:  # no PnL limit: no PnL figure matters
            self.quiet_low, self.quiet_high = float("-inf"), float("inf")
        self._ceilings = {
            spec: self._percent_ceiling(spec) for spec, _ in self._feeds if spec.percent is not None
        }
        gross = None if self.runaway is None else self.runaway.spec.gross
        if gross is not None and gross.percent is not None:
            self._ceilings[gross] = self._percent_ceiling(gross)
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
            limit_bases=dict(self.bases),
            **(self.pnl_fields() if self._feeds else {"pnl": None}),
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
        if record is None:
            return
        number = tally(record.denied, str(fields["strategy_id"]), at_ns)
        if number > LOGGED_DENIALS:
            return
        more = {"further": "counted"} if number == LOGGED_DENIALS else {}
        self.note("denied", **fields, count=number, **more)

    def note_denials(self) -> None:
        """The trip's count of denials, one ``denials`` line per strategy: when the trip
        ends (a re-arm) or the watch stops, so the log holds the count, not every denial."""
        record = None if self.switch is None else self.switch.record
        if record is None:
            return
        for strategy, entry in record.denied.items():
            if entry["count"] > LOGGED_DENIALS:
                self.note("denials", **summary_fields(strategy, entry))

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
            total = self._gross_sum
            if part is not None and total is not None:
                parts = self._gross_parts
                total += part - parts.get(instrument_id, 0)
                if total < self._gross_quiet:
                    parts[instrument_id] = part
                    self._gross_sum = total
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
            runaway.gross(self.gross())
            self._gross_parts, self._gross_sum = self._gross_raw_parts()
        if self._warn_at:
            self._see(pnl)

    def _gross_raw_parts(self) -> tuple[dict[InstrumentId, int], int | None]:
        """Each held instrument's gross in money units, and their sum (``None``: not all in
        the ceiling currency's plain units, so no mark is skipped on the gross's account)."""
        ledger = self.ledger
        if self.converting:
            return {}, None
        parts: dict[InstrumentId, int] = {}
        for instrument in ledger.instruments:
            part = ledger.gross_raw(instrument)
            if part is None:
                return {}, None
            parts[instrument] = part
        return parts, sum(parts.values())

    def _told_gross(self, band: Quiet | None) -> None:
        """The gross breaker's band: a gross below its ``high`` (in money units) cannot trip."""
        self._gross_quiet = 0
        if band is None or band.high is None:
            return
        try:
            self._gross_quiet = to_raw(band.high, self.ledger.money_places)
        except ValueError:  # a cap finer than the ledger's units: every gross is put
            return

    def gross(self) -> Decimal:
        """The gross exposure now, in the ceiling currency: the ledger's exact figure while
        it is all in that currency, else valued at the rates, rounded up (toward the trip)."""
        figures = self.ledger.gross_by_currency()
        converter = self._gross_converter
        if converter is None:
            raise ValueError("a gross cap needs the ceiling currency and its rates")
        if not figures:
            return Decimal(0)
        figure = figures.get(converter.currency) if len(figures) == 1 else None
        if isinstance(figure, Decimal):
            return figure  # exact: one currency, linear instruments
        # a plain Decimal: the record's valuation stays the PnL's (``_at_latch``)
        return converter.value(figures).high

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
        ceiling = self._ceilings.get(spec, spec.ceiling)
        if isinstance(ceiling, Exception) or not ceiling > 0:
            return LimitFigure(spec.kind, spec.ceiling)
        return LimitFigure(spec.kind, ceiling, self._warn_at, self._warn_hysteresis)

    def _figures(self) -> tuple[Decimal, Decimal]:
        """The PnL and the loss now, as the limits judge them."""
        ledger = self.ledger
        converter = self._converter
        if converter is None or ledger.plain_in(converter.currency):
            pnl = ledger.pnl  # exact: the hot path of a single-currency book
            self._high = pnl
            return pnl, pnl.copy_negate()
        self.quiet_low = self.quiet_high = 0  # a converted figure is always put
        valuation = self.valuation = converter.value(ledger.pnl_by_currency())
        if valuation.missing or self._unrated:
            self._rates_missing(valuation)
        # the judged figure rounded toward the trip, the other bound kept beside it
        pnl = bounded(valuation.low, valuation.high, valuation)
        loss = bounded(valuation.low.copy_negate(), valuation.high.copy_negate(), valuation)
        self._high = valuation.high
        return pnl, loss

    def _pnl_now(self) -> Decimal:
        """The PnL a daily limit takes as its baseline when the day rolls."""
        return self._figures()[0]

    def _told(self, index: int, kind: LimitKind, band: Quiet | None) -> None:
        """A limit says its quiet band (a max_loss limit's is in losses: turned to PnL)."""
        if band is not None and kind is LimitKind.MAX_LOSS:
            low, high = band.low, band.high
            band = Quiet(
                None if high is None else high.copy_negate(),
                None if low is None else low.copy_negate(),
            )
        self._bands[index] = band
        spec = self._feeds[index][0]
        ceiling = self._ceilings.get(spec, spec.ceiling)
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
        if self._samples is not None or self.converting or len(bands) < len(every):
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

    def _rates_missing(self, valuation: Valuation) -> None:
        """A held currency has no rate: warn once, and trip if told to fail closed."""
        valuing = self._valuing
        assert valuing is not None
        self._unrated &= set(valuation.missing)  # a currency priced again may warn again
        for part in valuation.parts:
            if not part.held or part.currency in self._unrated:
                continue
            self._unrated.add(part.currency)
            held = f"{part.figure} {part.currency}"
            unrated = f"{self.scope}: holding {held} with no {part.currency}->{valuing.currency}"
            if valuing.on_missing_rate is MissingRate.TRIP:
                valuing.warn(f"{unrated} exchange rate: tripping (on_missing_rate='trip')")
                self._no_rate.put(NoExchangeRate(part.currency, valuing.currency, held))
            else:
                valuing.warn(
                    f"{unrated} exchange rate: counted as {part.low}..{part.high} "
                    f"{valuing.currency} (its last converted figure, zero if none; "
                    "on_missing_rate='hold') until a rate arrives"
                )

    def _percent_ceiling(self, spec: LimitSpec | GrossCap) -> Decimal | Exception:
        """``spec.percent`` % of the equity now, rounded down (toward the trip); the error
        if the equity cannot be measured (raised by the limit's child: a trip)."""
        valuing = self._valuing
        assert valuing is not None and spec.percent is not None
        try:
            equity = valuing.equity()
            ceiling = share_of(equity.value, spec.percent, valuing.quantum)
            if not ceiling > 0:
                raise ValueError(
                    f"{spec.percent}% of {equity.describe(valuing.quantum)} rounds to "
                    f"{ceiling} {valuing.currency}: no ceiling to hold"
                )
        except Exception as error:
            self.bases[spec.name] = f"{spec.percent}% of the equity: {error}"
            return error
        self.bases[spec.name] = (
            f"{spec.percent}% of the equity {equity.describe(valuing.quantum)}"
            f" = {ceiling} {valuing.currency}"
        )
        return ceiling

    def _ceiling(self, spec: LimitSpec | GrossCap) -> Decimal:
        """The limit's ceiling now: its amount, or its share of the equity at arming."""
        if spec.percent is None:
            if isinstance(spec, GrossCap):
                assert spec.amount is not None
                return spec.amount
            return spec.ceiling
        ceiling = self._ceilings[spec]
        if isinstance(ceiling, Exception):
            raise ceiling
        return ceiling

    def _rebase(self, spec: LimitSpec) -> Decimal:
        """A daily percent limit's new day: its share of the equity now."""
        self._ceilings[spec] = self._percent_ceiling(spec)
        return self._ceiling(spec)

    def _at_latch(self, record: RiskOff) -> None:
        """The facts of the trip's instant: the scope (what the trip's listeners, its
        alert first, say it tripped), how the loss was valued, the percent bases."""
        record.scope = self.scope
        valuation = getattr(record.cause, "valuation", None)
        if valuation is None and self.converting:
            valuation = self.valuation
        if isinstance(valuation, Valuation):
            record.pnl_by_currency = valuation.by_currency()
            record.rates = valuation.rates()
            record.unconverted = list(valuation.missing)
        record.limit_bases = dict(self.bases)

    def _children(self) -> list[Child]:
        children: list[Child] = [partial(trip_on, self._no_rate.read_one)]
        children.extend(
            partial(self._limit, i, spec, feed, self._high)
            for i, (spec, feed) in enumerate(self._feeds)
        )
        runaway = self.runaway
        if runaway is not None:
            gross = runaway.spec.gross
            cap = None if gross is None else partial(self._ceiling, gross)
            children.extend(runaway.children(cap, self._told_gross))
        return children

    async def _limit(
        self, index: int, spec: LimitSpec, feed: Feed[Decimal], start: Decimal
    ) -> None:
        """One limit's breaker; a percent ceiling that could not be set raises here, in the
        child, where the supervisor makes it a trip."""
        ceiling = self._ceiling(spec)
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
                rebase=None if spec.percent is None else partial(self._rebase, spec),
                origin=self._origin,
                quiet=quiet,
                current=self._pnl_now,
            )
