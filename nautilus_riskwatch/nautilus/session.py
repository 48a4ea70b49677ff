"""``Session``: one run of the watch, from its start to its stop, built whole at start.

Why one object: what a running watch needs (its loop time, its event log, the order gate,
the guards, how they value their figures, the firm bridge) exists together or not at all.
Built piece by piece on the actor, each piece was ``Optional`` until ``on_start`` and every
reader had to ask; built whole by ``Session.start`` it has no such field, and the actor
holds ``Session | None`` and nothing else of a run.

A stop ends the session (``stop``) but keeps it readable: its records, losses and denials
are still the watch's answers. The next start builds a new session from it: a tripped
scope's guard is carried over as it was (its block, its switch and record: a trip holds
until a re-arm), and so are the session's id and event-log file (one session in the event
log, stop and resume included). After a reset the next start begins afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from nautilus_trader.common.component import TestClock
from nautilus_trader.model.identifiers import StrategyId

from nautilus_riskwatch.core import Feed, Trip, trip_on
from nautilus_riskwatch.core.event_log import EventLog, JsonLinesFile
from nautilus_riskwatch.errors import RiskWatchConfigError
from nautilus_riskwatch.looptime import (
    LiveTime,
    LoopTime,
    SimulatedTime,
    ns_to_seconds,
    seconds_to_ns,
)
from nautilus_riskwatch.nautilus.checks import (
    check_against_engine,
    refuse_firm_in_backtest,
)
from nautilus_riskwatch.nautilus.closes import CloseIds
from nautilus_riskwatch.nautilus.commands import RearmRefused
from nautilus_riskwatch.nautilus.engine_hooks import HookStatus, find_risk_engine, probe
from nautilus_riskwatch.nautilus.event_log import LoggerSink, new_session_id
from nautilus_riskwatch.nautilus.firm import FirmBridge
from nautilus_riskwatch.nautilus.gate import OrderGate
from nautilus_riskwatch.nautilus.guard import Guard
from nautilus_riskwatch.nautilus.rates import RateBook
from nautilus_riskwatch.nautilus.runaway_guards import RunawaySources
from nautilus_riskwatch.nautilus.scopes import build_guards, tripped
from nautilus_riskwatch.nautilus.session_alerts import SessionAlerts
from nautilus_riskwatch.nautilus.settings import LimitSpec, Settings

if TYPE_CHECKING:
    from nautilus_trader.common.actor import Actor

    from nautilus_riskwatch.nautilus.fills import Fills
    from nautilus_riskwatch.nautilus.router import PriceRouter


class Session:
    """One run of the watch: everything it runs on, from ``start`` to ``stop``.

    ``guards`` are the portfolio guard first, then one per scoped limit; ``outside`` is the
    feed through which a cause from outside (a kill, a watch failure, the firm) collapses
    the portfolio guard's group (a re-arm puts a fresh one). ``rates`` and ``firm`` are
    ``None`` only when nothing needs them (no limit; no ``firm`` section); ``risk_engine``
    when none was given or found (degraded: no trading state on a trip).
    """

    def __init__(
        self,
        *,
        id: str,
        hooks: HookStatus,
        time: LoopTime,
        event_log: EventLog,
        log_sink: LoggerSink,
        event_file: JsonLinesFile | None,
        gate: OrderGate,
        risk_engine: Any | None,
        strategies: set[StrategyId],
        guards: list[Guard],
        alerts: SessionAlerts,
    ) -> None:
        self.id = id
        self.alerts = alerts  # what the operator hears of the run: alerts, warnings, metrics
        self.hooks = hooks
        self.time = time
        self.event_log = event_log
        self.log_sink = log_sink
        self.event_file = event_file
        self.gate = gate
        self.risk_engine = risk_engine
        self.strategies = strategies  # registered with the trader when the session started
        self.rates: RateBook | None = None
        self.outside: Feed[Trip] = Feed("outside causes", time.loop.time)
        self.guards = guards  # filled by ``start``, whole, before anyone reads it
        self.firm: FirmBridge | None = None
        self.limits: tuple[LimitSpec, ...] = ()  # as armed (percent ones in the currency)
        #: The order events to the guards' runaway feeds (empty: no rate guard counts).
        self.runaway = RunawaySources(None, (), gate.refused)
        self.running = True

    @property
    def portfolio(self) -> Guard:
        """The guard of the whole book: the feeds' watchdogs and outside causes trip it."""
        return self.guards[0]

    # --- the start ------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        actor: Actor,
        settings: Settings,
        router: PriceRouter,
        fills: Fills,
        *,
        previous: Session | None,
        risk_engine: Any | None,
        close_ids: CloseIds,
        trip: Callable[[Trip, str], None],
        rearm: Callable[..., str],
    ) -> Session:
        """Take the loop's time, open the event log, stand the order gate in front of the
        venues, build the guards (a tripped scope of ``previous`` carried over) with their
        feeds and the firm bridge, and hand the router and the fills their guards. Refused
        (``RiskWatchConfigError``) if the config does not fit the engine."""
        s = settings
        hooks = probe(actor.msgbus)
        if hooks.degraded:
            actor.log.error(f"RiskWatch: {hooks.describe()}")
        engine = check_against_engine(s, actor.cache, actor.msgbus)
        fills.settlements.update(engine.settlements)
        guards: list[Guard] = []
        time = _start_time(actor, s, guards)
        gate: OrderGate | None = None
        opened: JsonLinesFile | None = None
        heard: SessionAlerts | None = None
        try:
            session_id = previous.id if previous is not None else new_session_id(time.now_ns())
            event_file = previous.event_file if previous is not None else None
            if s.event_log is not None and event_file is None:
                try:
                    event_file = opened = JsonLinesFile(s.event_log, fsync=s.event_log_fsync)
                except OSError as error:
                    raise RiskWatchConfigError(
                        "event_log", s.event_log, f"cannot open it for appending: {error}"
                    ) from None
            log_sink = LoggerSink(actor.log)
            sinks: list[Any] = [log_sink] if event_file is None else [log_sink, event_file]
            failed = partial(_event_log_failed, actor.log)
            event_log = EventLog(time.now_ns, sinks, on_failure=failed)
            if risk_engine is None:  # found before the gate stands in front of its endpoints
                risk_engine = _find_risk_engine(actor, s)
            gate = OrderGate.for_bus(actor.msgbus, actor.clock, actor.cache, actor.log)
            gate.attach(actor)
            heard = SessionAlerts(
                s.alerting,
                watch=str(actor.id),
                node=str(actor.trader_id),
                time=time,
                dry=isinstance(time, SimulatedTime) and not s.alerting.in_backtest,
                log=actor.log,
            )
            session = cls(
                id=session_id,
                hooks=hooks,
                time=time,
                event_log=event_log,
                log_sink=log_sink,
                event_file=event_file,
                gate=gate,
                risk_engine=risk_engine,
                strategies=engine.strategies,
                guards=guards,
                alerts=heard,
            )
            children = router.watch(s.feeds, time.loop.time)
            children.append(session._outside_cause)
            children.extend(heard.silence_children(router.watched))
            session.limits, session.rates = build_guards(
                guards,
                actor,
                s,
                router,
                children,
                () if previous is None else previous.guards,
                close_ids,
                time=time,
                gate=gate,
                risk_engine=risk_engine,
                event_log=event_log,
                session_id=session_id,
            )
            session.runaway = RunawaySources(actor.cache, session.guards, gate.refused)
            if s.firm is not None:
                session.firm = FirmBridge(
                    s.firm,
                    node=str(actor.trader_id),
                    guard=session.portfolio,
                    trip=trip,
                    rearm=rearm,
                    log=actor.log,
                    rearmed=heard.firm_rearmed,
                )
            heard.start(session)  # the guards wired before they arm; the metrics served
            fills.run(session.guards, session.rates)
            if any(guard.books for guard in session.guards):
                fills.seed()
            router.run(time, session.guards, session.rates)
            return session
        except BaseException:  # a refused start leaves nothing of itself running
            if heard is not None:
                heard.close(0.0)
            time.close()
            holding = previous is not None and any(tripped(g) for g in previous.guards)
            if gate is not None and not holding:  # a trip carried over still blocks
                gate.detach(actor)
            if opened is not None:
                opened.close()
            raise

    def arm(self, log: Any) -> None:
        """Arm every guard; a tripped one carried over a stop holds again instead."""
        time = self.time
        for guard in self.guards:
            if tripped(guard):  # carried over a stop: it holds until a re-arm
                log.warning(
                    f"Resumed with the {guard.scope} trip in force: "
                    f"{guard.book.scope} stays blocked until a re-arm"
                )
                assert guard.switch is not None
                time.call(guard.switch.hold)  # and held again, on this loop
            else:
                guard.arm(time.loop)
        time.step()

    async def _outside_cause(self) -> None:
        """The child through which a cause from outside collapses the portfolio guard's
        group. It reads the feed in place when it starts, not the one there was at start:
        a re-arm puts a fresh one (see ``rearm``)."""
        await trip_on(self.outside.read_one)

    # --- while it runs ----------------------------------------------------------------------
    def rearm(self, scope: str, who: str, reason: str, cooldown: float) -> str:
        """Re-arm ``scope`` (see ``RiskWatch.rearm``); return what became of the state."""
        time = self.time
        target = next((x for x in self.guards if x.scope == scope), None)
        if target is None or target.switch is None:
            known = ", ".join(x.scope for x in self.guards)
            raise RearmRefused(f"no such scope {scope!r} (scopes: {known})")
        record = target.switch.record
        if record is None:
            raise RearmRefused("nothing has tripped")
        if target.switch.running:
            raise RearmRefused(f"the risk-off cascade is in flight (stage {record.stage})")
        finished = record.finished_at_ns or record.tripped_at_ns
        wait_ns = seconds_to_ns(cooldown) - (time.now_ns() - finished)
        if wait_ns > 0:
            left = ns_to_seconds(wait_ns)
            raise RearmRefused(f"cooling down: {left:g}s left of the rearm_cooldown")
        target.switch.release()  # the hold ends here, with the block
        state = target.book.restore_trading_state()
        target.records.append(record)
        if target is self.portfolio:
            # Every cause in the outside feed was handed to the switch first (latched or
            # suppressed): one left unread (it came while the group was already collapsing
            # on another cause) has been handled, and must not trip the new watch.
            self.outside = Feed("outside causes", time.loop.time)
        target.arm(time.loop, who=who, reason=reason)
        time.step()
        return state

    # --- the stop ---------------------------------------------------------------------------
    def stop(self, actor: Actor, lift: bool) -> None:
        """Stop the session's tasks and release the loop. ``lift``: the tripped scopes'
        blocks come off the order gate too (reset, dispose); else they hold (stop)."""
        log = actor.log
        try:
            self._release_gate(actor, lift)
        except Exception as error:
            log.error(f"riskwatch: error while stopping: {type(error).__name__}: {error}")
        if not self.running:
            return
        self.running = False
        time = self.time
        try:
            if self.firm is not None:
                self.firm.stop()
                self.firm = None
            for guard in self.guards:
                switch, watch = guard.switch, guard.task
                if switch is not None and switch.running:
                    log.warning(
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
            time.close()
            self.alerts.close()  # the metrics off; the senders given a moment to drain
            for guard in self.guards:  # each trip's count of denials so far
                guard.note_denials()
            self.portfolio.note("stopped", write_failures=self.event_log.failures)
            self.log_sink.flush()
        except Exception as error:
            log.error(f"riskwatch: error while stopping: {type(error).__name__}: {error}")

    def _release_gate(self, actor: Actor, lift: bool) -> None:
        """Take the books off the order gate, but for a tripped scope's unless ``lift``;
        leave the gate when nothing of ours blocks any more (the last one out restores
        the engine's endpoints)."""
        holding = False
        for guard in self.guards:
            if lift or not tripped(guard):
                guard.book.release()
            else:
                holding = True
        if not holding:
            self.gate.detach(actor)

    def close_event_file(self) -> None:
        """The session's file is closed for good (reset, dispose)."""
        file, self.event_file = self.event_file, None
        if file is not None:
            file.close()


def _start_time(actor: Actor, s: Settings, guards: list[Guard]) -> LoopTime:
    """The loop the watch runs on: a simulated one in a backtest (which waits while a
    cascade of ``guards`` is in flight), the node's live."""
    if not isinstance(actor.clock, TestClock):
        return LiveTime(asyncio.get_running_loop(), actor.clock.timestamp_ns)
    refuse_firm_in_backtest(s)
    return SimulatedTime(
        actor.clock,
        alert_name=f"riskwatch-deadline-{actor.id}",
        latched=lambda: any(g.switch is not None and g.switch.running for g in guards),
    )


def _find_risk_engine(actor: Actor, s: Settings) -> Any | None:
    """The RiskEngine on the message bus (``None``: degraded)."""
    found = find_risk_engine(actor.msgbus)
    if found is None and s.trading_state is not None:
        actor.log.warning(
            "No RiskEngine found: on a trip the trading state cannot be set (degraded)"
        )
    return found


def _event_log_failed(log: Any, error: BaseException) -> None:
    log.error(
        f"riskwatch: the event log could not be written ({type(error).__name__}: {error});"
        " the watch goes on, later failures are counted in the 'stopped' line"
    )
