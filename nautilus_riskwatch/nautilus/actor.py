"""``RiskWatch``: the NautilusTrader actor that stands watch beside the strategies.

It is deliberately thin. Engine callbacks only hand messages to the core's feeds (and fills
and marks to the ledger), then step the watch's clock; everything that decides anything
lives in the pure core (``watchdog``, ``breaker``, ``run_watch``, ``KillSwitch``). Nothing
may escape a callback into the engine (a backtest would abort, a live node would exit): a
failure inside the watch is itself a trip.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.component import TestClock
from nautilus_trader.model.data import Bar, QuoteTick, TradeTick
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price
from nautilus_trader.risk.engine import RiskEngine

from nautilus_riskwatch.clock import LiveTime, SimulatedTime
from nautilus_riskwatch.core import (
    CascadePolicy,
    Feed,
    ManualKill,
    RiskOff,
    Trip,
    WatchFailure,
    trip_on,
    watchdog,
)
from nautilus_riskwatch.core.supervisor import Child
from nautilus_riskwatch.nautilus.book import NautilusBook, risk_off_topic
from nautilus_riskwatch.nautilus.commands import (
    KillCommand,
    RearmCommand,
    RearmRefused,
    command_endpoint,
)
from nautilus_riskwatch.nautilus.config import (
    LimitSpec,
    RiskWatchConfig,
    RiskWatchConfigError,
    Settings,
    settings_from,
)
from nautilus_riskwatch.nautilus.firm import FirmBridge
from nautilus_riskwatch.nautilus.gate import OrderGate
from nautilus_riskwatch.nautilus.scope import Scope

ORDER_EVENTS = "events.order.*"
POSITION_EVENTS = "events.position.*"


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
        self._time: SimulatedTime | LiveTime | None = None
        self._trader: Scope | None = None  # the whole guarded book
        self._scopes: list[Scope] = []  # the trader scope first, then scoped limits
        self._marking: dict[InstrumentId, list[Scope]] = {}  # scopes exposed to an instrument
        self._gate: OrderGate | None = None
        self._quote_feeds: dict[InstrumentId, Feed[object]] = {}
        self._trade_feeds: dict[InstrumentId, Feed[object]] = {}
        self._bar_feeds: dict[object, Feed[object]] = {}
        self._outside: Feed[Trip] | None = None
        self.records: list[RiskOff] = []  # earlier trips of the trader scope, when re-armed
        self._multipliers: dict[InstrumentId, Decimal] = {}
        self._prices: dict[int, Decimal] = {}
        self._marked: set[InstrumentId] = set()
        self._firm: FirmBridge | None = None  # the firm-wide switch, if configured

    # --- what operators and tests read ---------------------------------------------------
    @property
    def record(self) -> RiskOff | None:
        """The record of the trader-wide trip (``None`` while nothing has tripped)."""
        trader = self._trader
        return None if trader is None or trader.switch is None else trader.switch.record

    @property
    def scope_records(self) -> dict[str, RiskOff | None]:
        """The latest record of each scoped limit (``"strategy X"``, ``"instrument Y"``)."""
        return {
            scope.name: scope.switch.record if scope.switch is not None else None
            for scope in self._scopes[1:]
        }

    @property
    def loss(self) -> Decimal:
        """The guarded strategies' exact session loss now (negative while in profit)."""
        trader = self._trader
        return Decimal(0) if trader is None else trader.ledger.loss

    def kill(self, reason: str, who: str = "") -> None:
        """Pull the switch by hand; the record names ``who`` and ``reason``."""
        self._trip_from_outside(ManualKill(reason, who), "kill")

    def _on_command(self, command: object) -> None:
        """The watch's message-bus endpoint: ``KillCommand`` and ``RearmCommand``."""
        try:
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
        except Exception as error:
            self._fail(error, "a command")

    # --- lifecycle ------------------------------------------------------------------------
    def on_start(self) -> None:
        self._check_against_engine()
        s = self._settings
        if s.firm is not None and isinstance(self.clock, TestClock):
            raise RiskWatchConfigError(
                "firm",
                s.firm.firm,
                "the firm switch is for live nodes: a backtest must not touch a shared "
                "Redis (remove `firm` from the backtest's config)",
            )
        if isinstance(self.clock, TestClock):
            self._time = SimulatedTime(
                self.clock,
                alert_name=f"riskwatch-deadline-{self.id}",
                latched=lambda: any(
                    scope.switch is not None and scope.switch.running for scope in self._scopes
                ),
            )
        else:
            self._time = LiveTime(asyncio.get_running_loop(), self.clock.timestamp_ns)
        time = self._time
        clock = time.loop.time
        risk_engine = self._given_risk_engine or self._find_risk_engine()
        if risk_engine is None and s.trading_state is not None:
            self.log.warning(
                "No RiskEngine found: on a trip the trading state cannot be set (degraded)"
            )
        policy = CascadePolicy(s.confirm_timeout, s.confirm_attempts)
        origin_ns = time.now_ns() - round(clock() * 1_000_000_000)
        self._marked = set()
        children: list[Child] = []
        for spec in s.feeds:
            feed: Feed[object] = Feed(spec.name, clock)
            if spec.kind == "quote":
                self._quote_feeds[spec.instrument_id] = feed
                self._marked.add(spec.instrument_id)
                self.subscribe_quote_ticks(spec.instrument_id)
            elif spec.kind == "trade":
                self._trade_feeds[spec.instrument_id] = feed
                self.subscribe_trade_ticks(spec.instrument_id)
            else:
                self._bar_feeds[spec.bar_type] = feed
                self.subscribe_bars(spec.bar_type)
            children.append(lambda f=feed, b=spec.stale_after: watchdog(f, b))
        self._outside = outside = Feed("outside causes", clock)
        children.append(lambda: trip_on(outside.read_one))
        portfolio = [limit for limit in s.limits if limit.scope == "portfolio"]
        self._trader = Scope(
            NautilusBook(self, s, risk_engine, time.now_ns),
            portfolio,
            policy,
            clock,
            origin_ns,
            extra=children,
        )
        self._scopes = [self._trader]
        if s.firm is not None:
            self._firm = FirmBridge(self, s.firm)
        scoped: dict[str, list[LimitSpec]] = {}
        for limit in s.limits:
            if limit.scope != "portfolio":
                scoped.setdefault(limit.scope, []).append(limit)
        if scoped:
            if risk_engine is None:
                raise RiskWatchConfigError(
                    "limits", sorted(scoped), "scoped limits need the RiskEngine (none found)"
                )
            self._gate = OrderGate(self, risk_engine)
            self._gate.install()
        for limits in scoped.values():
            book = NautilusBook(
                self,
                s,
                risk_engine,
                time.now_ns,
                strategy_id=limits[0].strategy_id,
                instrument_id=limits[0].instrument_id,
                gate=self._gate,
            )
            self._scopes.append(Scope(book, limits, policy, clock, origin_ns))
        self._marking = {}
        if any(scope.counts_pnl for scope in self._scopes):
            self._seed_ledgers()
        self.msgbus.subscribe(topic=ORDER_EVENTS, handler=self._on_order_event)
        self.msgbus.subscribe(topic=POSITION_EVENTS, handler=self._on_position_event)
        self.msgbus.register(endpoint=command_endpoint(self.id), handler=self._on_command)
        for scope in self._scopes:
            scope.arm(time.loop)
        time.step()
        if self._firm is not None:
            self._firm.start()  # before any strategy starts: a tripped firm halts us here
        limits = ", ".join(f"{x.kind} {x.ceiling} {x.currency} ({x.scope})" for x in s.limits)
        self.log.info(f"Watching {len(s.feeds)} feed(s); loss limits: {limits or 'none'}")

    def rearm(self, who: str = "", reason: str = "", scope: str = "trader") -> str:
        """Re-arm after a trip, on the watch's loop thread; return what became of the state.

        ``scope`` is ``"trader"`` (the whole book) or a scoped limit's name
        (``"strategy X"``, ``"instrument Y"``). Refused (``RearmRefused``, with the reason)
        while it has not tripped, while its cascade is in flight, or before
        ``rearm_cooldown`` seconds (watch clock) have passed since it finished. The trading
        state (or the scope's block) is undone only if the watch set it and nobody changed
        it since. The ledger goes on: the loss is the session's.
        """
        time = self._time
        target = next((x for x in self._scopes if x.name == scope), None)
        if time is None or target is None or target.switch is None:
            known = ", ".join(x.name for x in self._scopes) or "none, it is not running"
            raise RearmRefused(f"no such scope {scope!r} (scopes: {known})")
        record = target.switch.record
        if record is None:
            raise RearmRefused("nothing has tripped")
        if target.switch.running:
            raise RearmRefused(f"the risk-off cascade is in flight (stage {record.stage})")
        finished = record.finished_at_ns or record.tripped_at_ns
        wait_ns = round(self._settings.rearm_cooldown * 1e9) - (time.now_ns() - finished)
        if wait_ns > 0:
            raise RearmRefused(f"cooling down: {wait_ns / 1e9:g}s left of the rearm_cooldown")
        state = target.book.restore_trading_state()
        (self.records if target is self._trader else target.records).append(record)
        target.arm(time.loop)
        time.step()
        by = f" by {who}" if who else ""
        self.log.warning(f"Re-armed {scope}{by}: {reason or 'no reason given'}; {state}")
        return state

    def on_stop(self) -> None:
        self._shutdown()

    def on_reset(self) -> None:
        self._shutdown()
        self._quote_feeds.clear()
        self._trade_feeds.clear()
        self._bar_feeds.clear()

    def on_dispose(self) -> None:
        self._shutdown()

    # --- engine callbacks: hand over, step, never raise ------------------------------------
    def on_quote_tick(self, tick: QuoteTick) -> None:
        try:
            time = self._time
            time.sync()  # type: ignore[union-attr]
            instrument_id = tick.instrument_id
            feed = self._quote_feeds.get(instrument_id)
            if feed is not None:
                feed.put(tick)
            scopes = self._marking.get(instrument_id)
            if scopes:
                bid, ask = self._decimal(tick.bid_price), self._decimal(tick.ask_price)
                for scope in scopes:
                    if scope.ledger.mark(instrument_id, bid, ask):
                        scope.publish()
            time.settle()  # type: ignore[union-attr]
        except Exception as error:
            self._fail(error, "on_quote_tick")

    def _decimal(self, price: Price) -> Decimal:
        """``price.as_decimal()``, remembered: quotes repeat a few prices over and over,
        and a price's raw value and precision name its Decimal exactly (bounded cache)."""
        cache = self._prices
        key = price.raw * 32 + price.precision
        value = cache.get(key)
        if value is None:
            if len(cache) >= 65_536:
                cache.clear()
            value = cache[key] = price.as_decimal()
        return value

    def on_trade_tick(self, tick: TradeTick) -> None:
        self._deliver(self._trade_feeds.get(tick.instrument_id), tick, "on_trade_tick")

    def on_bar(self, bar: Bar) -> None:
        self._deliver(self._bar_feeds.get(bar.bar_type), bar, "on_bar")

    def _deliver(self, feed: Feed[object] | None, message: object, where: str) -> None:
        try:
            if feed is not None:
                self._time.sync()  # type: ignore[union-attr]
                feed.put(message)
                self._time.settle()  # type: ignore[union-attr]
        except Exception as error:
            self._fail(error, where)

    def _on_order_event(self, event: object) -> None:
        try:
            time = self._time
            if time is None:
                return
            time.sync()
            if isinstance(event, OrderFilled):
                self._book_fill(event)
            for scope in self._scopes:
                scope.book.notify()
            time.settle()
        except Exception as error:
            self._fail(error, "order event")

    def _on_position_event(self, _event: object) -> None:
        try:
            if self._time is not None:
                for scope in self._scopes:
                    scope.book.notify()
                self._time.step()
        except Exception as error:
            self._fail(error, "position event")

    # --- internals ------------------------------------------------------------------------
    def _book_fill(self, fill: OrderFilled) -> None:
        """Book a fill in every scope that counts it, and hand on their new figures."""
        instrument_id = fill.instrument_id
        scopes = [
            scope
            for scope in self._scopes
            if scope.counts_pnl and scope.covers(fill.strategy_id, instrument_id)
        ]
        if not scopes:
            return
        multiplier = self._multipliers.get(instrument_id)
        if multiplier is None:
            multiplier = self._multipliers[instrument_id] = self._check_instrument(
                instrument_id, "a fill"
            )
        if fill.commission.currency.code != self._settings.currency:
            raise ValueError(
                f"commission of {fill.client_order_id} is in {fill.commission.currency.code}, "
                f"the loss limits are in {self._settings.currency}: no exact conversion"
            )
        if instrument_id not in self._marked:
            self._marked.add(instrument_id)
            self.subscribe_quote_ticks(instrument_id)
        quote = self.cache.quote_tick(instrument_id)
        mark = None
        if quote is not None:
            mark = (quote.bid_price.as_decimal(), quote.ask_price.as_decimal())
        qty = fill.last_qty.as_decimal()
        marking = self._marking.setdefault(instrument_id, [])
        for scope in scopes:
            scope.ledger.fill(
                position=fill.position_id or (instrument_id, fill.strategy_id),
                instrument=instrument_id,
                signed_qty=qty if fill.order_side == OrderSide.BUY else qty.copy_negate(),
                price=fill.last_px.as_decimal(),
                multiplier=multiplier,
                commission=fill.commission.as_decimal(),
                mark=mark,
            )
            if scope not in marking:
                marking.append(scope)
            scope.publish()

    def _seed_ledgers(self) -> None:
        """Book the fills of positions already open (a live node restarted mid-session).

        Replaying their fills keeps the ledgers exact: a position's average price is a float.
        """
        for position in self.cache.positions_open():
            for event in position.events:
                self._book_fill(event)

    def _check_instrument(self, instrument_id: InstrumentId, what: str) -> Decimal:
        """Return the multiplier, or raise if its PnL cannot be compared with the ceiling."""
        instrument = self.cache.instrument(instrument_id)
        if instrument is None:
            raise ValueError(f"{what} on {instrument_id}: the engine does not know it")
        if instrument.is_inverse:
            raise ValueError(f"{instrument_id} is inverse: its PnL is not in the quote currency")
        settles = instrument.quote_currency.code
        if self._settings.currency is not None and settles != self._settings.currency:
            raise ValueError(
                f"{instrument_id} settles in {settles}, the max_loss ceiling is in "
                f"{self._settings.currency}: no exact conversion"
            )
        return instrument.multiplier.as_decimal()

    def _check_against_engine(self) -> None:
        s = self._settings
        for i, spec in enumerate(s.feeds):
            field = f"feeds[{i}].{'bar_type' if spec.bar_type is not None else 'instrument_id'}"
            value = str(spec.bar_type or spec.instrument_id)
            if self.cache.instrument(spec.instrument_id) is None:
                raise RiskWatchConfigError(field, value, "the engine has no such instrument")
            if s.currency is not None:
                try:
                    self._multipliers[spec.instrument_id] = self._check_instrument(
                        spec.instrument_id, "a feed"
                    )
                except ValueError as error:
                    raise RiskWatchConfigError(
                        "max_loss", f"{s.ceiling} {s.currency}", str(error)
                    ) from None
        for i, instrument_id in enumerate(sorted(s.hedge_instruments, key=str)):
            if self.cache.instrument(instrument_id) is None:
                raise RiskWatchConfigError(
                    f"hedge_instruments[{i}]",
                    str(instrument_id),
                    "the engine has no such instrument",
                )

    def _find_risk_engine(self) -> RiskEngine | None:
        for subscription in self.msgbus.subscriptions():
            owner = getattr(subscription.handler, "__self__", None)
            if isinstance(owner, RiskEngine):
                return owner
        return None

    def _trip_from_outside(self, cause: Trip, where: str) -> None:
        """Trip on a cause from outside the children, from any thread; never raise."""
        time = self._time
        if time is None or self._trader is None:
            self.log.error(
                f"riskwatch: cannot trip from {where}, the watch is not running "
                f"(state {self.state.name}): {cause}"
            )
            return
        try:
            time.call(lambda: self._trip_now(cause, where))
        except Exception as error:  # e.g. the loop is closed
            self.log.error(f"riskwatch: could not trip from {where}: {error!r}")

    def _trip_now(self, cause: Trip, where: str) -> None:
        """On the watch's loop: hand the cause to the group, or to the latched cascade."""
        try:
            trader = self._trader
            if trader is None or trader.switch is None:
                return
            switch, watch = trader.switch, trader.task
            if watch is not None and not watch.done() and switch.record is None:
                self._outside.put(cause)  # type: ignore[union-attr]
            else:
                switch.trip(cause)  # latched already: recorded as suppressed
        except Exception as error:
            self.log.error(f"riskwatch: could not trip from {where}: {error!r}")

    def _fail(self, error: Exception, where: str) -> None:
        """A failure inside the watch: log it and trip on it; never raise."""
        try:
            self.log.error(f"riskwatch failure in {where}: {type(error).__name__}: {error}")
            self._trip_from_outside(WatchFailure(error, where), where)
        except Exception:  # the logger itself failed; there is nothing left to tell
            pass

    def _shutdown(self) -> None:
        time = self._time
        if time is None:
            return
        try:
            if self._firm is not None:
                self._firm.stop()
                self._firm = None
            for scope in self._scopes:
                switch, watch = scope.switch, scope.task
                if switch is not None and switch.running:
                    self.log.warning(
                        f"Stopped mid-cascade ({scope.name}): sending the rest now, unconfirmed"
                    )
                    time.call(switch.hurry)
                if watch is not None and not watch.done():
                    time.call(watch.cancel)
            if self._gate is not None:
                self._gate.uninstall()
            self.msgbus.unsubscribe(topic=ORDER_EVENTS, handler=self._on_order_event)
            self.msgbus.unsubscribe(topic=POSITION_EVENTS, handler=self._on_position_event)
            self.msgbus.deregister(endpoint=command_endpoint(self.id), handler=self._on_command)
            if isinstance(time, SimulatedTime):
                time.close()
        except Exception as error:
            self.log.error(f"riskwatch: error while stopping: {type(error).__name__}: {error}")
        finally:
            self._time = None
