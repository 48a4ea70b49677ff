"""``RiskWatch``: the NautilusTrader actor that stands watch beside the strategies.

It is deliberately thin: the NautilusTrader lifecycle (start, stop, resume, reset,
dispose), the operator's kill and re-arm, and the trip's entry from outside. A run is a
``Session`` (loop time, event log, order gate, guards, valuing, firm bridge), built whole at
start; prices go router -> marks -> guard -> core (``PriceRouter``) and order events to the
guards' ledgers (``Fills``), never through the actor; everything that decides anything
lives in the pure core (``watchdog``, ``breaker``, ``run_watch``, ``KillSwitch``). Nothing
may escape a callback into the engine (a backtest would abort, a live node would exit): a
failure inside the watch is itself a trip.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from nautilus_trader.common.actor import Actor
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import StrategyId

from nautilus_riskwatch.core import ManualKill, RiskOff, Trip, WatchFailure
from nautilus_riskwatch.core.record import PORTFOLIO, scope_spelled
from nautilus_riskwatch.looptime import LoopTime
from nautilus_riskwatch.nautilus.closes import CloseIds
from nautilus_riskwatch.nautilus.commands import (
    KillCommand,
    RearmCommand,
    RearmRefused,
    command_endpoint,
    risk_off_topic,
)
from nautilus_riskwatch.nautilus.config import RiskWatchConfig
from nautilus_riskwatch.nautilus.engine_hooks import HookStatus
from nautilus_riskwatch.nautilus.event_log import ANSWERS
from nautilus_riskwatch.nautilus.fills import Fills
from nautilus_riskwatch.nautilus.router import PriceRouter
from nautilus_riskwatch.nautilus.session import Session
from nautilus_riskwatch.nautilus.settings import Settings, settings_from

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
        The configuration (checked when it was built), checked against the engine at start.
    risk_engine : RiskEngine, optional
        The engine's ``RiskEngine`` (``engine.kernel.risk_engine``), to set the trading
        state on a trip. If omitted it is found on the message bus at start.

    """

    def __init__(self, config: RiskWatchConfig, risk_engine: Any | None = None) -> None:
        super().__init__(config)
        self._settings: Settings = settings_from(config)
        self._given_risk_engine = risk_engine
        self._close_ids = CloseIds(self)  # its closes' client order ids, for every scope
        self._router = PriceRouter(self, self._fail)  # the hot path: every price heard
        self._fills = Fills(self, self._settings, self._router)  # order events to ledgers
        self._session: Session | None = None  # the run (the last one, once stopped)
        self._pending: list[tuple[Trip, str]] = []  # kills before start: tripped at start
        self._latecomers: set[StrategyId] = set()  # strategies added since, told about once
        self._on_bus = False  # subscribed to order, position and bar topics
        self._was_reset = False  # reset since the last start: the next start begins afresh

    @property
    def session_id(self) -> str | None:
        """This run's session id, on every line of the event log (``None`` before start)."""
        return None if self._session is None else self._session.id

    # --- what operators and tests read ---------------------------------------------------
    @property
    def session(self) -> Session | None:
        """The run: from start to stop, and readable after it (``None`` before start)."""
        return self._session

    @property
    def router(self) -> PriceRouter:
        """The hot path: every price the watch hears, from its bus topic to the guards."""
        return self._router

    @property
    def engine_hooks(self) -> HookStatus | None:
        """The engine internals the watch reaches, as probed at start (``None`` before):
        ``degraded`` if one is missing on this NautilusTrader version, named in one line
        of the log at start."""
        return None if self._session is None else self._session.hooks

    @property
    def settings(self) -> Settings:
        """The checked configuration the watch runs on (frozen): ids as engine types,
        ceilings as ``Decimal``, the close tag, the trading state a trip sets."""
        return self._settings

    @property
    def record(self) -> RiskOff | None:
        """The record of the portfolio guard's trip (``None`` while nothing has tripped)."""
        session = self._session
        switch = None if session is None else session.portfolio.switch
        return None if switch is None else switch.record

    @property
    def records(self) -> list[RiskOff]:
        """Earlier trips of the portfolio guard, re-armed since (oldest first)."""
        return [] if self._session is None else self._session.portfolio.records

    @property
    def scope_records(self) -> dict[str, RiskOff | None]:
        """The latest record of each scoped limit (``"strategy X"``, ``"instrument Y"``)."""
        guards = [] if self._session is None else self._session.guards[1:]
        return {
            guard.scope: guard.switch.record if guard.switch is not None else None
            for guard in guards
        }

    @property
    def loss(self) -> Decimal:
        """The guarded strategies' exact session loss now (negative while in profit)."""
        return Decimal(0) if self._session is None else self._session.portfolio.valued.loss

    @property
    def denied(self) -> dict[str, int]:
        """Orders denied after a trip so far, per strategy id (by every watch on this engine)."""
        return {} if self._session is None else dict(self._session.gate.denied)

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
        """Check the config against the engine, start the session (loop time, event log,
        order gate, guards), listen to the engine, arm. A kill made before the start trips
        here."""
        previous = None if self._was_reset else self._session  # a reset run begins afresh
        self._was_reset = False
        session = self._session = Session.start(
            self,
            self._settings,
            self._router,
            self._fills,
            previous=previous,
            risk_engine=self._given_risk_engine,
            close_ids=self._close_ids,
            trip=self._trip_from_outside,
            rearm=self.rearm,
        )
        self._listen()
        session.arm(self.log)
        self._trip_on_pending_kills(session.time)
        if session.firm is not None:
            session.firm.start()  # before any strategy starts: a tripped firm halts us here
        described = ", ".join(f"{x.kind} {x.describe()} ({x.scope})" for x in session.limits)
        feeds = len(self._settings.feeds)
        self.log.info(f"Watching {feeds} feed(s); loss limits: {described or 'none'}")

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
        session = self._session
        if session is None or not session.running:
            raise RearmRefused(
                f"the watch is not running (state {self.state.name}): a trip holds while "
                "it is stopped; resume it to re-arm (a reset undoes what a trip set)"
            )
        scope = scope_spelled(scope)
        state = session.rearm(scope, who, reason, self._settings.rearm_cooldown)
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
        session = self._session
        if session is None:
            return
        engine = session.risk_engine
        if engine is not None and engine.is_running:
            # The watch alone was reset while the engine trades on: lifting the halt here
            # would let the strategies trade again unwatched. Re-arm (or reset the engine).
            self.log.warning("Reset while the engine runs: the trading state is left as is")
        for guard in session.guards if engine is None or not engine.is_running else ():
            if guard.switch is not None and guard.switch.record is not None:
                state = guard.book.restore_trading_state()
                self.log.info(f"Reset: trading state after the {guard.scope} trip: {state}")
        self._was_reset = True  # the records stay readable until the next start
        self._router.reset()
        session.close_event_file()

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
        if self._session is not None:
            self._session.close_event_file()

    # --- engine callbacks: hand over, step, never raise ------------------------------------
    @_fails_into_a_trip("order event")
    def _on_order_event(self, event: Any) -> None:
        """Every strategy's order events (``events.order.*``): fills, answers, and a nudge
        to every cascade waiting for a confirmation."""
        session = self._session
        if session is None or not session.running:
            return
        time = session.time
        time.sync()
        strategy_id = event.strategy_id
        if strategy_id not in session.strategies:
            self._latecomer(strategy_id)
        if isinstance(event, OrderFilled):
            self._fills.book(event)
        elif isinstance(event, ANSWERS):
            self._fills.note_answer(event)
        if session.runaway:  # a rate guard counts: the event sorted for each covering guard
            session.runaway.event(event)
        for guard in session.guards:
            guard.book.notify()
        time.settle()

    @_fails_into_a_trip("position event")
    def _on_position_event(self, _event: object) -> None:
        """Every position event (``events.position.*``): a nudge to waiting cascades."""
        session = self._session
        if session is None or not session.running:
            return
        for guard in session.guards:
            guard.book.notify()
        session.time.step()

    # --- internals ------------------------------------------------------------------------
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

    def _trip_from_outside(self, cause: Trip, where: str) -> None:
        """Trip on a cause from outside the children, from any thread; never raise."""
        session = self._session
        if session is None or not session.running:
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
            if session.time.on_loop():  # on the watch's loop: at once
                self._trip_now(cause, where)
            else:
                session.time.call(lambda: self._trip_now(cause, where))
        except Exception as error:  # e.g. the loop is closed
            self.log.error(f"riskwatch: could not trip from {where}: {error!r}")

    def _trip_now(self, cause: Trip, where: str) -> None:
        """On the watch's loop: hand the cause to the group, or to the latched cascade."""
        try:
            session = self._session
            switch = None if session is None else session.portfolio.switch
            if session is None or switch is None:
                return
            watch = session.portfolio.task
            running = watch is not None and not watch.done() and switch.record is None
            switch.trip(cause)  # latched now (the first commands leave here), or suppressed
            if running:  # and the group collapses: its outside-causes child raises it
                session.outside.put(cause)
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
        """Stop the session (``lift``: the tripped scopes' blocks come off the order gate
        too, as at reset and dispose; else they hold) and the commands' endpoint."""
        session = self._session
        if session is None:
            return
        running = session.running
        try:
            session.stop(self, lift)
            if running:
                self.msgbus.deregister(endpoint=command_endpoint(self.id), handler=self._on_command)
        except Exception as error:
            self.log.error(f"riskwatch: error while stopping: {type(error).__name__}: {error}")
        finally:
            self._router.stop()
