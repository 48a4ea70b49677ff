"""The guards of a session, one per scope, built at start (``build_guards``).

Apart from the session because which guards a watch has is one rule of its own, read from
the settings alone: one guard for the whole book (the feeds' watchdogs and outside causes
are its children), and one per strategy or instrument a loss limit or a runaway guard is
scoped to. A scope tripped in the previous session keeps its book and kill switch (a trip
holds until a re-arm), and every scope keeps its earlier records. The guards share how
they value their figures (``valuing.Valuing``: the ceiling currency, found at start if
every limit is in percent, its rates from the engine's own prices, the accounts' equity).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from nautilus_trader.model.identifiers import InstrumentId, StrategyId
from nautilus_trader.model.objects import Currency

from nautilus_riskwatch.core import CascadePolicy
from nautilus_riskwatch.core.event_log import EventLog
from nautilus_riskwatch.core.record import PORTFOLIO
from nautilus_riskwatch.core.supervisor import Child
from nautilus_riskwatch.looptime import LoopTime
from nautilus_riskwatch.nautilus.book import NautilusBook
from nautilus_riskwatch.nautilus.checks import ceiling_currency
from nautilus_riskwatch.nautilus.closes import CloseIds
from nautilus_riskwatch.nautilus.equity import account_equity
from nautilus_riskwatch.nautilus.gate import OrderGate
from nautilus_riskwatch.nautilus.guard import Guard
from nautilus_riskwatch.nautilus.rates import RateBook
from nautilus_riskwatch.nautilus.runaway_guards import RunawayFeeds, RunawaySpec
from nautilus_riskwatch.nautilus.settings import LimitSpec, Settings
from nautilus_riskwatch.nautilus.valuing import Valuing

if TYPE_CHECKING:
    from nautilus_trader.common.actor import Actor

    from nautilus_riskwatch.nautilus.router import PriceRouter


def tripped(guard: Guard) -> bool:
    """True while the guard's scope holds a trip (until a re-arm)."""
    return guard.switch is not None and guard.switch.record is not None


def build_guards(
    guards: list[Guard],
    actor: Actor,
    s: Settings,
    router: PriceRouter,
    children: list[Child],
    previous: Sequence[Guard],
    close_ids: CloseIds,
    *,
    time: LoopTime,
    gate: OrderGate,
    risk_engine: Any | None,
    event_log: EventLog,
    session_id: str,
) -> tuple[tuple[LimitSpec, ...], RateBook | None]:
    """Append the session's guards to ``guards``, the portfolio's first (see the module
    docstring); return the limits as armed (percent ones in the ceiling currency) and the
    rate book (``None``: no limit or gross cap needs one)."""
    grosses = any(x.spec.gross is not None for x in s.runaway)
    rates = None
    valuing = None
    if s.limits or grosses:
        rates, valuing = _valuing(actor, s, router)
    limits, runaway = s.limits, s.runaway
    if valuing is not None:  # percent limits take the ceiling currency found at start
        limits = tuple(replace(x, currency=valuing.currency) for x in limits)
        runaway = tuple(x.in_currency(valuing.currency) for x in runaway)
    by_scope: dict[str, list[LimitSpec]] = {PORTFOLIO: []}
    scopes: dict[str, tuple[StrategyId | None, InstrumentId | None]] = {PORTFOLIO: (None, None)}
    for limit in limits:
        by_scope.setdefault(limit.scope, []).append(limit)
        scopes.setdefault(limit.scope, (limit.strategy_id, limit.instrument_id))
    guarded = {x.scope: x.spec for x in runaway}
    for x in runaway:  # a scope with runaway guards only gets a guard of its own too
        by_scope.setdefault(x.scope, [])
        scopes.setdefault(x.scope, (x.strategy_id, x.instrument_id))
    policy = CascadePolicy(s.confirm_timeout, s.confirm_attempts, s.close_attempts)
    before = {g.scope: g for g in previous}
    for scope, group in by_scope.items():
        portfolio = scope == PORTFOLIO
        strategy_id, instrument_id = scopes[scope]
        earlier = before.get(scope)
        carried = earlier if earlier is not None and tripped(earlier) else None
        if carried is not None:  # its block, gate entry and state to restore go on
            book = carried.book
            book.now_ns = time.now_ns
        else:
            book = NautilusBook(
                actor,
                s,
                risk_engine,
                time.now_ns,
                strategy_id=strategy_id,
                instrument_id=instrument_id,
                gate=gate,
                close_ids=close_ids,
            )
        guard = Guard(
            book,
            group,
            policy,
            time.loop.time,
            time.origin,
            extra=children if portfolio else (),
            described=_described(s) if portfolio else None,
            valuing=valuing,
            runaway=_runaway_feeds(guarded.get(scope), time.loop.time, scope),
            warn_at=s.alerting.warn_at,
            warn_hysteresis=s.alerting.warn_hysteresis,
            **_logging(s, strategy_id, event_log, session_id),
        )
        book.unmarked = partial(router.unmarked_in, guard)
        if earlier is not None:
            guard.records = earlier.records  # the scope's earlier trips
        if carried is not None:
            guard.switch = carried.switch  # the trip and its record, until a re-arm
        guards.append(guard)
    return limits, rates


def _valuing(actor: Actor, s: Settings, router: PriceRouter) -> tuple[RateBook, Valuing]:
    """The ceiling currency (found at start if every limit is in percent), its rates
    from the engine's own prices, and the accounts' equity for percent limits."""
    code = ceiling_currency(s, actor.cache)
    quantum = Decimal(1).scaleb(-Currency.from_str(code).precision)
    rates = RateBook(actor.cache, code, follow=router.follow_rate)
    return rates, Valuing(
        currency=code,
        quantum=quantum,
        rate=rates.rate,
        equity=lambda: account_equity(actor.cache, actor.portfolio, code, rates.rate),
        on_missing_rate=s.on_missing_rate,
        warn=actor.log.warning,
    )


def _logging(
    s: Settings, strategy_id: StrategyId | None, event_log: EventLog, session_id: str
) -> dict[str, Any]:
    """What a guard's event-log context needs: the log, the session, its strategies."""
    if strategy_id is not None:
        strategies: list[str] | None = [str(strategy_id)]
    else:
        strategies = None if s.strategies is None else [str(x) for x in s.strategies]
    return {
        "event_log": event_log,
        "session_id": session_id,
        "strategy_ids": strategies,
        "sample_every": s.event_log_pnl_every if s.event_log is not None else None,
    }


def _runaway_feeds(
    spec: RunawaySpec | None, loop_time: Callable[[], float], scope: str
) -> RunawayFeeds | None:
    """A scope's runaway feeds, if it has runaway guards."""
    return None if not spec else RunawayFeeds(spec, loop_time, scope)


def _described(s: Settings) -> dict[str, Any]:
    """What the portfolio guard's ``armed`` line says of the watch as a whole."""
    return {
        "feeds": [{"feed": f.name, "stale_after": f.stale_after} for f in s.feeds],
        "trading_state_on_trip": "ACTIVE" if s.trading_state is None else s.trading_state.name,
        "confirm_timeout": s.confirm_timeout,
        "confirm_attempts": s.confirm_attempts,
    }
