"""``RiskWatch``: the NautilusTrader actor that stands watch beside the strategies.

It is deliberately thin. Engine callbacks only hand messages to the core's feeds (and fills
and marks to the ledger), then step the watch's loop time; everything that decides anything
lives in the pure core (``watchdog``, ``breaker``, ``run_watch``, ``KillSwitch``). Nothing
may escape a callback into the engine (a backtest would abort, a live node would exit): a
failure inside the watch is itself a trip.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import Any

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.component import TestClock
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import StrategyId
from nautilus_trader.model.objects import Currency

from nautilus_riskwatch.core import (
    CascadePolicy,
    Feed,
    ManualKill,
    RiskOff,
    Trip,
    WatchFailure,
    trip_on,
)
from nautilus_riskwatch.core.event_log import EventLog, JsonLinesFile
from nautilus_riskwatch.core.record import PORTFOLIO, scope_spelled
from nautilus_riskwatch.core.supervisor import Child
from nautilus_riskwatch.looptime import (
    LiveTime,
    LoopTime,
    SimulatedTime,
    ns_to_seconds,
    seconds_to_ns,
)
from nautilus_riskwatch.nautilus.book import NautilusBook
from nautilus_riskwatch.nautilus.checks import (
    ceiling_currency,
    check_against_engine,
    refuse_firm_in_backtest,
)
from nautilus_riskwatch.nautilus.closes import CloseIds
from nautilus_riskwatch.nautilus.commands import (
    KillCommand,
    RearmCommand,
    RearmRefused,
    command_endpoint,
    risk_off_topic,
)
from nautilus_riskwatch.nautilus.config import (
    LimitSpec,
    RiskWatchConfig,
    RiskWatchConfigError,
    Settings,
    settings_from,
)
from nautilus_riskwatch.nautilus.engine_hooks import (
    HookStatus,
    find_risk_engine,
    probe,
)
from nautilus_riskwatch.nautilus.equity import account_equity
from nautilus_riskwatch.nautilus.event_log import (
    ANSWERS,
    LoggerSink,
    new_session_id,
)
from nautilus_riskwatch.nautilus.fills import Fills
from nautilus_riskwatch.nautilus.firm import FirmBridge
from nautilus_riskwatch.nautilus.gate import OrderGate
from nautilus_riskwatch.nautilus.guard import Guard, Valuing
from nautilus_riskwatch.nautilus.rates import RateBook
from nautilus_riskwatch.nautilus.router import PriceRouter

ORDER_EVENTS = "events.order.*"
POSITION_EVENTS = "events.position.*"
#: Every bar the engine publishes (live: whatever some actor subscribed to), as the
#: Portfolio listens for its bar marks: a bar needs a bar type to subscribe to, and the
#: watch cannot guess which ones a strategy trades on.
BARS = "data.bars.*"


_Callback = Callable[["RiskWatch", Any], None]


def _fails_into_a_trip(where: str) -> Callable[[_Callback], _Callback]:
    """Wrap one of the watch's engine or bus callbacks so that nothing escapes it.

    An exception escaping an actor callback aborts a backtest and kills a live node; a
    failure inside the watch is instead logged and made a trip (``RiskWatch._fail``): a
    watch that cannot do its job takes the book down rather than leave it unguarded. The
    per-quote callbacks spell the same ``try``/``except`` out (one call less on the hot path).
    """

    def wrap(callback: _Callback) -> _Callback:
        @functools.wraps(callback)
        def guarded(watch: RiskWatch, message: Any) -> None:
            try:
                callback(watch, message)
            except Exception as error:
                watch._fail(error, where)

        return guarded

    return wrap


class RiskWatch(Actor):
    """
    A kill switch for a NautilusTrader trader: per-feed staleness watchdogs and an exact
    drawdown breaker; on the first trip, cancel, confirm, flatten all but the hedges, record.

    Parameters
    ----------
    config : RiskWatchConfig
        The configuration; checked here, and against the engine's instruments at start.
    risk_engine : RiskEngine, optional
        The engine's ``RiskEngine`` (``engine.kernel.risk_engine``), to set the trading
        state on a trip. If omitted it is found on the message bus at start.

    """

    def __init__(self, config: RiskWatchConfig, risk_engine: Any | None = None) -> None:
        super().__init__(config)
        self._settings: Settings = settings_from(config)
        self._given_risk_engine = risk_engine
        self._time: LoopTime | None = None
        self._portfolio: Guard | None = None  # the whole guarded book
        self._guards: list[Guard] = []  # the portfolio guard first, then scoped limits
        self._gate: OrderGate | None = None
        self._close_ids = CloseIds(self)  # its closes' client order ids, for every scope
        self._router = PriceRouter(self, self._fail)  # the hot path: every price heard
        self._fills = Fills(self, self._settings, self._router)  # order events to ledgers
        self._outside: Feed[Trip] | None = None
        self.records: list[RiskOff] = []  # earlier trips of the portfolio guard, when re-armed
        self._rates: RateBook | None = None  # exchange rates into the ceiling currency
        self._known_strategies: set[StrategyId] = set()  # registered when the watch started
        self._latecomers: set[StrategyId] = set()  # strategies added since, told about once
        self._pending: list[tuple[Trip, str]] = []  # kills before start: tripped at start
        self._on_bus = False  # subscribed to order, position and bar topics
        self._was_reset = False  # reset since the last start: the next start forgets the records
        self._risk_engine: Any | None = None
        self._session_id: str | None = None  # one per run; kept by a re-arm, new after reset
        self._event_log: EventLog | None = None
        self._event_file: JsonLinesFile | None = None
        self._log_sink: LoggerSink | None = None
        self._firm: FirmBridge | None = None  # the firm-wide switch, if configured
        self._hooks: HookStatus | None = None  # what the start-time probe found

    @property
    def session_id(self) -> str | None:
        """This run's session id, on every line of the event log (``None`` before start)."""
        return self._session_id

    # --- what operators and tests read ---------------------------------------------------
    @property
    def router(self) -> PriceRouter:
        """The hot path: every price the watch hears, from its bus topic to the guards."""
        return self._router

    @property
    def engine_hooks(self) -> HookStatus | None:
        """The engine internals the watch reaches, as probed at start (``None`` before):
        ``degraded`` if one is missing on this NautilusTrader version, named in one line
        of the log at start."""
        return self._hooks

    @property
    def settings(self) -> Settings:
        """The checked configuration the watch runs on (frozen): ids as engine types,
        ceilings as ``Decimal``, the close tag, the trading state a trip sets."""
        return self._settings

    @property
    def record(self) -> RiskOff | None:
        """The record of the portfolio guard's trip (``None`` while nothing has tripped)."""
        portfolio = self._portfolio
        return None if portfolio is None or portfolio.switch is None else portfolio.switch.record

    @property
    def scope_records(self) -> dict[str, RiskOff | None]:
        """The latest record of each scoped limit (``"strategy X"``, ``"instrument Y"``)."""
        return {
            guard.scope: guard.switch.record if guard.switch is not None else None
            for guard in self._guards[1:]
        }

    @property
    def loss(self) -> Decimal:
        """The guarded strategies' exact session loss now (negative while in profit)."""
        portfolio = self._portfolio
        return Decimal(0) if portfolio is None else portfolio.loss

    @property
    def denied(self) -> dict[str, int]:
        """Orders denied after a trip so far, per strategy id (by every watch on this engine)."""
        return dict(self._gate.denied) if self._gate is not None else {}

    def kill(self, reason: str, who: str = "") -> None:
        """Pull the switch by hand; the record names ``who`` and ``reason``.

        Before the watch runs (before ``engine.run()``, or while it is stopped) the kill is
        latched and trips the watch the moment it starts, before anything can trade.
        After ``dispose`` there is nothing left to trip: it is logged as an error.
        """
        self._trip_from_outside(ManualKill(reason, who), "kill")

    @_fails_into_a_trip("a command")
    def _on_command(self, command: object) -> None:
        """The watch's message-bus endpoint: ``KillCommand`` and ``RearmCommand``."""
        if isinstance(command, KillCommand):
            self.kill(command.reason, command.who)
        elif isinstance(command, RearmCommand):
            try:
                self.rearm(command.who, command.reason, command.scope)
            except RearmRefused as refused:
                self.log.error(f"Re-arm by {command.who or '?'} refused: {refused}")
                self.msgbus.publish(topic=risk_off_topic(self.id), msg=refused)
        else:
            self.log.error(f"Unknown command for the watch: {command!r}")

    # --- lifecycle ------------------------------------------------------------------------
    def on_start(self) -> None:
        """Check the config against the engine, take the loop's time, build the guards,
        listen to the engine, arm. A kill made before the start trips here."""
        hooks = self._hooks = probe(self.msgbus)
        if hooks.degraded:
            self.log.error(f"RiskWatch: {hooks.describe()}")
        engine = check_against_engine(self._settings, self.cache, self.msgbus)
        self._known_strategies = engine.strategies
        self._fills.settlements.update(engine.settlements)
        if self._was_reset:  # a reset run begins afresh
            self._was_reset = False
            self.records.clear()
            self._guards = []
        time = self._time = self._start_time()
        self._open_event_log(time.now_ns)
        self._risk_engine = self._find_risk_engine()
        self._gate = OrderGate.for_bus(self.msgbus, self.clock, self.cache, self.log)
        self._gate.attach(self)
        limits = self._build_guards(time, self._watch_feeds(time.loop.time))
        self._router.run(time, self._guards, self._rates)
        self._listen()
        for guard in self._guards:
            if _tripped(guard):  # carried over a stop: it holds until a re-arm
                self.log.warning(
                    f"Resumed with the {guard.scope} trip in force: "
                    f"{guard.book.scope} stays blocked until a re-arm"
                )
                assert guard.switch is not None
                time.call(guard.switch.hold)  # and held again, on this loop
            else:
                guard.arm(time.loop)
        time.step()
        self._trip_on_pending_kills(time)
        if self._firm is not None:
            self._firm.start()  # before any strategy starts: a tripped firm halts us here
        self._log_what_is_watched(limits)

    def _start_time(self) -> LoopTime:
        """The loop the watch runs on: a simulated one in a backtest, the node's live."""
        if not isinstance(self.clock, TestClock):
            return LiveTime(asyncio.get_running_loop(), self.clock.timestamp_ns)
        refuse_firm_in_backtest(self._settings)
        return SimulatedTime(
            self.clock,
            alert_name=f"riskwatch-deadline-{self.id}",
            latched=lambda: any(g.switch is not None and g.switch.running for g in self._guards),
        )

    def _watch_feeds(self, loop_time: Callable[[], float]) -> list[Child]:
        """Subscribe to each watched feed; return their watchdogs and the outside causes."""
        children = self._router.watch(self._settings.feeds, loop_time)
        self._outside = Feed("outside causes", loop_time)
        children.append(self._outside_cause)
        return children

    async def _outside_cause(self) -> None:
        """The child through which a cause from outside (a kill, a watch failure, the firm)
        collapses the portfolio guard's group. It reads the feed in place when it starts,
        not the one there was at start: a re-arm puts a fresh one (see ``rearm``)."""
        outside = self._outside
        assert outside is not None
        await trip_on(outside.read_one)

    def _build_guards(self, time: LoopTime, children: list[Child]) -> tuple[LimitSpec, ...]:
        """One guard for the whole book (the feeds' watchdogs and outside causes are its
        children), one per strategy or instrument a limit is scoped to; their ledgers
        seeded with the positions already open."""
        s = self._settings
        valuing = self._valuing() if s.limits else None
        limits = s.limits
        if valuing is not None:  # percent limits take the ceiling currency found at start
            limits = tuple(replace(x, currency=valuing.currency) for x in limits)
        by_scope: dict[str, list[LimitSpec]] = {PORTFOLIO: []}
        for limit in limits:
            by_scope.setdefault(limit.scope, []).append(limit)
        policy = CascadePolicy(s.confirm_timeout, s.confirm_attempts, s.close_attempts)
        before = {guard.scope: guard for guard in self._guards}  # stopped, then resumed
        self._guards = []
        for scope, group in by_scope.items():
            portfolio = scope == PORTFOLIO
            strategy_id = None if portfolio else group[0].strategy_id
            earlier = before.get(scope)
            carried = earlier if earlier is not None and _tripped(earlier) else None
            if carried is not None:  # its block, gate entry and state to restore go on
                book = carried.book
                book.now_ns = time.now_ns
            else:
                book = NautilusBook(
                    self,
                    s,
                    self._risk_engine,
                    time.now_ns,
                    strategy_id=strategy_id,
                    instrument_id=None if portfolio else group[0].instrument_id,
                    gate=self._gate,
                    close_ids=self._close_ids,
                )
            guard = Guard(
                book,
                group,
                policy,
                time.loop.time,
                time.origin,
                extra=children if portfolio else (),
                described=self._described() if portfolio else None,
                valuing=valuing,
                **self._logging(strategy_id),
            )
            book.unmarked = partial(self._router.unmarked_in, guard)
            if earlier is not None:
                guard.records = earlier.records  # the scope's earlier trips
            if carried is not None:
                guard.switch = carried.switch  # the trip and its record, until a re-arm
            self._guards.append(guard)
        self._portfolio = self._guards[0]
        if s.firm is not None:
            self._firm = FirmBridge(
                s.firm,
                node=str(self.trader_id),
                guard=self._portfolio,
                trip=self._trip_from_outside,
                rearm=self.rearm,
                log=self.log,
            )
        self._fills.run(self._guards, self._rates)
        if any(guard.counts_pnl for guard in self._guards):
            self._fills.seed()
        return limits

    def _described(self) -> dict[str, Any]:
        """What the portfolio guard's ``armed`` line says of the watch as a whole."""
        s = self._settings
        return {
            "feeds": [{"feed": f.name, "stale_after": f.stale_after} for f in s.feeds],
            "trading_state_on_trip": "ACTIVE" if s.trading_state is None else s.trading_state.name,
            "confirm_timeout": s.confirm_timeout,
            "confirm_attempts": s.confirm_attempts,
        }

    def _listen(self) -> None:
        """Order, position and bar events from the bus; commands at the watch's endpoint.

        The topics once for the actor's life, kept across stop/reset (the handlers do
        nothing while the watch is not running): nautilus_trader 1.221's message bus never
        delivers a topic already published to a wildcard subscribed after it, so a watch
        that re-subscribed after a reset would go deaf.
        """
        if not self._on_bus:
            self.msgbus.subscribe(topic=ORDER_EVENTS, handler=self._on_order_event)
            self.msgbus.subscribe(topic=POSITION_EVENTS, handler=self._on_position_event)
            self.msgbus.subscribe(topic=BARS, handler=self._router.on_bar)
            self._on_bus = True
        self.msgbus.register(endpoint=command_endpoint(self.id), handler=self._on_command)

    def _trip_on_pending_kills(self, time: LoopTime) -> None:
        """Kills made before the watch ran trip it now, before anything can trade."""
        pending, self._pending = self._pending, []
        for cause, where in pending:
            self.log.warning(f"Tripping at start on a {where} made before the watch ran")
            time.call(partial(self._trip_now, cause, where))

    def _log_what_is_watched(self, limits: tuple[LimitSpec, ...]) -> None:
        described = ", ".join(f"{x.kind} {x.describe()} ({x.scope})" for x in limits)
        feeds = len(self._settings.feeds)
        self.log.info(f"Watching {feeds} feed(s); loss limits: {described or 'none'}")

    def rearm(self, who: str = "", reason: str = "", scope: str = PORTFOLIO) -> str:
        """Re-arm after a trip, on the watch's loop thread; return what became of the state.

        ``scope`` is ``"portfolio"`` (the whole book) or a scoped limit's scope
        (``"strategy X"``, ``"instrument Y"``; ``"trader"``, the whole book's old name, is
        read as ``"portfolio"`` with a ``DeprecationWarning``). Refused (``RearmRefused``,
        with the reason) while it has not tripped, while its cascade is in flight, or before
        ``rearm_cooldown`` seconds (loop time) have passed since it finished. The trading
        state (or the scope's block) is undone only if the watch set it and nobody changed
        it since. The ledger goes on: the loss is the session's.
        """
        time = self._time
        if time is None:
            raise RearmRefused(
                f"the watch is not running (state {self.state.name}): a trip holds while "
                "it is stopped; resume it to re-arm (a reset undoes what a trip set)"
            )
        scope = scope_spelled(scope)
        target = next((x for x in self._guards if x.scope == scope), None)
        if target is None or target.switch is None:
            known = ", ".join(x.scope for x in self._guards)
            raise RearmRefused(f"no such scope {scope!r} (scopes: {known})")
        record = target.switch.record
        if record is None:
            raise RearmRefused("nothing has tripped")
        if target.switch.running:
            raise RearmRefused(f"the risk-off cascade is in flight (stage {record.stage})")
        finished = record.finished_at_ns or record.tripped_at_ns
        wait_ns = seconds_to_ns(self._settings.rearm_cooldown) - (time.now_ns() - finished)
        if wait_ns > 0:
            left = ns_to_seconds(wait_ns)
            raise RearmRefused(f"cooling down: {left:g}s left of the rearm_cooldown")
        target.switch.release()  # the hold ends here, with the block
        state = target.book.restore_trading_state()
        (self.records if target is self._portfolio else target.records).append(record)
        if target is self._portfolio:
            # Every cause in the outside feed was handed to the switch first (latched or
            # suppressed): one left unread (it came while the group was already collapsing
            # on another cause) has been handled, and must not trip the new watch.
            self._outside = Feed("outside causes", time.loop.time)
        target.arm(time.loop, who=who, reason=reason)
        time.step()
        by = f" by {who}" if who else ""
        self.log.warning(f"Re-armed {scope}{by}: {reason or 'no reason given'}; {state}")
        return state

    def on_stop(self) -> None:
        """The watch stops watching; a trip holds.

        Feeds, limits and the cascade's waits stop (a cascade in flight sends the rest of
        its commands at once, unconfirmed). A tripped scope stays as the trip left it: the
        trading state the trip set, the order gate's block and the record, until a re-arm
        after ``resume`` (or a ``reset``). Before any trip nothing is left behind.
        """
        self._shutdown(lift=False)

    def on_resume(self) -> None:
        """Stopped, then resumed (NautilusTrader's only way back from STOPPED): the watch
        watches again, as at start, over the same engine. A scope that had tripped is
        carried over as it was (its block, its gate entry, its record): it holds until a
        re-arm. The other scopes are armed afresh."""
        self.on_start()

    def on_reset(self) -> None:
        """Back to a watch that has never run, undoing what its trips set.

        A trip set the trading state (or blocked a scope), and a reset run (a parameter
        sweep) must start ACTIVE: each scope's state is put back as re-arm does it, only
        if nobody changed it since. The records stay readable until the next start, which
        begins afresh. A kill latched before start survives a reset (an operator's call).
        """
        self._shutdown(lift=True)
        engine = self._risk_engine
        if engine is not None and engine.is_running:
            # The watch alone was reset while the engine trades on: lifting the halt here
            # would let the strategies trade again unwatched. Re-arm (or reset the engine).
            self.log.warning("Reset while the engine runs: the trading state is left as is")
        for guard in self._guards if engine is None or not engine.is_running else ():
            if guard.switch is not None and guard.switch.record is not None:
                state = guard.book.restore_trading_state()
                self.log.info(f"Reset: trading state after the {guard.scope} trip: {state}")
        self._was_reset = True
        self._rates = None
        self._router.reset()
        self._close_event_log()
        self._session_id = None  # the next start is a new session

    def on_dispose(self) -> None:
        """The watch goes for good: nothing could re-arm it, so its order gate comes off.
        A trading state a trip set stays (the RiskEngine's, for the operator to change)."""
        self._shutdown(lift=True)
        if self._on_bus:
            self.msgbus.unsubscribe(topic=ORDER_EVENTS, handler=self._on_order_event)
            self.msgbus.unsubscribe(topic=POSITION_EVENTS, handler=self._on_position_event)
            self.msgbus.unsubscribe(topic=BARS, handler=self._router.on_bar)
            self._on_bus = False
        self._router.dispose()
        self._close_event_log()

    # --- engine callbacks: hand over, step, never raise ------------------------------------
    @_fails_into_a_trip("order event")
    def _on_order_event(self, event: object) -> None:
        """Every strategy's order events (``events.order.*``): fills, answers, and a nudge
        to every cascade waiting for a confirmation."""
        time = self._time
        if time is None:
            return
        time.sync()
        strategy_id = event.strategy_id  # type: ignore[attr-defined]
        if strategy_id not in self._known_strategies:
            self._latecomer(strategy_id)
        if isinstance(event, OrderFilled):
            self._fills.book(event)
        elif isinstance(event, ANSWERS):
            self._fills.note_answer(event)
        for guard in self._guards:
            guard.book.notify()
        time.settle()

    @_fails_into_a_trip("position event")
    def _on_position_event(self, _event: object) -> None:
        """Every position event (``events.position.*``): a nudge to waiting cascades."""
        time = self._time
        if time is None:
            return
        for guard in self._guards:
            guard.book.notify()
        time.step()

    # --- internals ------------------------------------------------------------------------
    def _open_event_log(self, now_ns: Any) -> None:
        """Start the session and its log: the node's logger, and the file if configured."""
        s = self._settings
        if self._session_id is None:
            self._session_id = new_session_id(now_ns())
        if s.event_log is not None and self._event_file is None:
            try:
                self._event_file = JsonLinesFile(s.event_log, fsync=s.event_log_fsync)
            except OSError as error:
                raise RiskWatchConfigError(
                    "event_log", s.event_log, f"cannot open it for appending: {error}"
                ) from None
        self._log_sink = LoggerSink(self.log)
        sinks: list[Any] = [self._log_sink]
        if self._event_file is not None:
            sinks.append(self._event_file)
        self._event_log = EventLog(now_ns, sinks, on_failure=self._event_log_failed)

    def _event_log_failed(self, error: BaseException) -> None:
        self.log.error(
            f"riskwatch: the event log could not be written ({type(error).__name__}: {error});"
            " the watch goes on, later failures are counted in the 'stopped' line"
        )

    def _logging(self, strategy_id: StrategyId | None = None) -> dict[str, Any]:
        """What a guard's event-log context needs: the log, the session, its strategies."""
        s = self._settings
        if strategy_id is not None:
            strategies: list[str] | None = [str(strategy_id)]
        else:
            strategies = None if s.strategies is None else [str(x) for x in s.strategies]
        return {
            "event_log": self._event_log,
            "session_id": self._session_id or "",
            "strategy_ids": strategies,
            "sample_every": s.event_log_pnl_every if s.event_log is not None else None,
        }

    def _close_event_log(self) -> None:
        file, self._event_file = self._event_file, None
        if file is not None:
            file.close()

    def _latecomer(self, strategy_id: StrategyId) -> None:
        """A strategy added to the trader after the watch started: say whether it is
        guarded (it is with ``strategies=None``, else only if listed), once."""
        if strategy_id in self._latecomers:
            return
        self._latecomers.add(strategy_id)
        guarded = self._settings.strategies is None or strategy_id in self._settings.strategies
        self.log.warning(
            f"{strategy_id} was added after the watch started: "
            + (
                "it is guarded (strategies=None guards every strategy)"
                if guarded
                else "it is NOT guarded (not in strategies; restart the watch to add it)"
            )
        )

    def _valuing(self) -> Valuing:
        """The ceiling currency (found at start if every limit is in percent), its rates
        from the engine's own prices, and the accounts' equity for percent limits."""
        s = self._settings
        code = ceiling_currency(s, self.cache)
        quantum = Decimal(1).scaleb(-Currency.from_str(code).precision)
        rates = self._rates = RateBook(self.cache, code, follow=self._router.follow_rate)
        return Valuing(
            currency=code,
            quantum=quantum,
            rate=rates.rate,
            equity=lambda: account_equity(self.cache, self.portfolio, code, rates.rate),
            on_missing_rate=s.on_missing_rate,
            warn=self.log.warning,
        )

    def _find_risk_engine(self) -> Any | None:
        """The RiskEngine given, else the one on the message bus (``None``: degraded)."""
        if self._given_risk_engine is not None:
            return self._given_risk_engine
        found = find_risk_engine(self.msgbus)
        if found is not None:
            return found
        if self._settings.trading_state is not None:
            self.log.warning(
                "No RiskEngine found: on a trip the trading state cannot be set (degraded)"
            )
        return None

    def _trip_from_outside(self, cause: Trip, where: str) -> None:
        """Trip on a cause from outside the children, from any thread; never raise."""
        time = self._time
        if time is None or self._portfolio is None:
            if isinstance(cause, ManualKill) and not self.is_disposed:
                self._pending.append((cause, where))
                self.log.warning(
                    f"riskwatch: {cause} before the watch runs (state {self.state.name}): "
                    "latched, it trips the watch the moment it starts"
                )
                return
            self.log.error(f"riskwatch: cannot trip from {where}, the watch is disposed: {cause}")
            return
        try:
            if time.on_loop():  # on the watch's loop: at once
                self._trip_now(cause, where)
            else:
                time.call(lambda: self._trip_now(cause, where))
        except Exception as error:  # e.g. the loop is closed
            self.log.error(f"riskwatch: could not trip from {where}: {error!r}")

    def _trip_now(self, cause: Trip, where: str) -> None:
        """On the watch's loop: hand the cause to the group, or to the latched cascade."""
        try:
            portfolio = self._portfolio
            if portfolio is None or portfolio.switch is None:
                return
            switch, watch = portfolio.switch, portfolio.task
            running = watch is not None and not watch.done() and switch.record is None
            switch.trip(cause)  # latched now (the first commands leave here), or suppressed
            if running:  # and the group collapses: its outside-causes child raises it
                self._outside.put(cause)  # type: ignore[union-attr]
        except Exception as error:
            self.log.error(f"riskwatch: could not trip from {where}: {error!r}")

    def _fail(self, error: Exception, where: str) -> None:
        """A failure inside the watch: log it and trip on it; never raise."""
        try:
            self.log.error(f"riskwatch failure in {where}: {type(error).__name__}: {error}")
            self._trip_from_outside(WatchFailure(error, where), where)
        except Exception:  # the logger itself failed; there is nothing left to tell
            pass

    def _shutdown(self, lift: bool) -> None:
        """Stop the watch's tasks and release the loop. ``lift``: the tripped scopes' blocks
        come off the order gate too (reset, dispose); else they hold (stop)."""
        try:
            self._release_gate(lift)
        except Exception as error:
            self.log.error(f"riskwatch: error while stopping: {type(error).__name__}: {error}")
        time = self._time
        if time is None:
            return
        try:
            if self._firm is not None:
                self._firm.stop()
                self._firm = None
            for guard in self._guards:
                switch, watch = guard.switch, guard.task
                if switch is not None and switch.running:
                    self.log.warning(
                        f"Stopped mid-cascade ({guard.scope}): sending the rest now, unconfirmed"
                    )
                    time.call(switch.hurry)
                if watch is not None and not watch.done():
                    time.call(watch.cancel)
                if switch is not None:  # the hold ends with the watch (``hold`` resumes it)
                    time.call(switch.release)
                sampler = guard.sampler
                if sampler is not None and not sampler.done():
                    time.call(sampler.cancel)
            self.msgbus.deregister(endpoint=command_endpoint(self.id), handler=self._on_command)
            time.close()
            for guard in self._guards:  # each trip's count of denials so far
                guard.note_denials()
            if self._portfolio is not None and self._event_log is not None:
                self._portfolio.note("stopped", write_failures=self._event_log.failures)
            if self._log_sink is not None:
                self._log_sink.flush()
        except Exception as error:
            self.log.error(f"riskwatch: error while stopping: {type(error).__name__}: {error}")
        finally:
            self._time = None
            self._router.stop()

    def _release_gate(self, lift: bool) -> None:
        """Take the books off the order gate, but for a tripped scope's unless ``lift``;
        leave the gate when nothing of ours blocks any more (the last one out restores
        the engine's endpoints)."""
        holding = False
        for guard in self._guards:
            if lift or not _tripped(guard):
                guard.book.release()
            else:
                holding = True
        gate = self._gate
        if gate is not None and not holding:
            gate.detach(self)


def _tripped(guard: Guard) -> bool:
    """True while the guard's scope holds a trip (until a re-arm)."""
    return guard.switch is not None and guard.switch.record is not None
