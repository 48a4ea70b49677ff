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
from nautilus_trader.risk.engine import RiskEngine

from nautilus_riskwatch.clock import LiveTime, SimulatedTime
from nautilus_riskwatch.core import (
    CascadePolicy,
    Feed,
    KillSwitch,
    ManualKill,
    RiskOff,
    Trip,
    WatchFailure,
    breaker,
    run_watch,
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
    RiskWatchConfig,
    RiskWatchConfigError,
    Settings,
    settings_from,
)
from nautilus_riskwatch.nautilus.ledger import PnlLedger

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
        self._switch: KillSwitch | None = None
        self._book: NautilusBook | None = None
        self._watch: asyncio.Task[RiskOff | None] | None = None
        self._quote_feeds: dict[InstrumentId, Feed[object]] = {}
        self._trade_feeds: dict[InstrumentId, Feed[object]] = {}
        self._bar_feeds: dict[object, Feed[object]] = {}
        self._outside: Feed[Trip] | None = None
        self._children: list[Child] = []
        self.records: list[RiskOff] = []  # earlier trips, when re-armed
        self._losses: Feed[Decimal] | None = None
        self._ledger = PnlLedger()
        self._multipliers: dict[InstrumentId, Decimal] = {}
        self._marked: set[InstrumentId] = set()

    # --- what operators and tests read ---------------------------------------------------
    @property
    def record(self) -> RiskOff | None:
        """The record of the trip (``None`` while nothing has tripped)."""
        return None if self._switch is None else self._switch.record

    @property
    def loss(self) -> Decimal:
        """The guarded strategies' exact session loss now (negative while in profit)."""
        return self._ledger.loss

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
                    self.rearm(command.who, command.reason)
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
        if isinstance(self.clock, TestClock):
            self._time = SimulatedTime(
                self.clock,
                alert_name=f"riskwatch-deadline-{self.id}",
                latched=lambda: self.record is not None,
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
        self._book = NautilusBook(self, s, risk_engine, time.now_ns)
        self._ledger = PnlLedger()
        self._marked = set()
        if s.ceiling is not None:
            self._seed_ledger()
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
        if s.ceiling is not None:
            self._losses = Feed("loss", clock)
            losses, ceiling, currency = self._losses, s.ceiling, s.currency or ""
            children.append(lambda: breaker(losses.read_one, ceiling, currency))
        self._outside = Feed("outside causes", clock)
        children.append(lambda: trip_on(self._outside.read_one))  # type: ignore[union-attr]
        self._children = children
        self.msgbus.subscribe(topic=ORDER_EVENTS, handler=self._on_order_event)
        self.msgbus.subscribe(topic=POSITION_EVENTS, handler=self._on_position_event)
        self.msgbus.register(endpoint=command_endpoint(self.id), handler=self._on_command)
        self._arm()
        time.step()
        self.log.info(
            f"Watching {len(s.feeds)} feed(s)"
            + (f", loss ceiling {s.ceiling} {s.currency}" if s.ceiling is not None else "")
        )

    def _arm(self) -> None:
        """Start the children under a fresh supervisor and kill switch."""
        s = self._settings
        assert self._time is not None and self._book is not None
        self._switch = KillSwitch(self._book, CascadePolicy(s.confirm_timeout, s.confirm_attempts))
        self._watch = self._time.loop.create_task(
            run_watch(self._children, self._switch), name="riskwatch"
        )

    def rearm(self, who: str = "", reason: str = "") -> str:
        """Re-arm after a trip, on the watch's loop thread; return what became of the state.

        Refused (``RearmRefused``, with the reason) while nothing has tripped, while the
        cascade is in flight, or before ``rearm_cooldown`` seconds (watch clock) have passed
        since it finished. The trading state is restored only if the watch set it and
        nobody changed it since. The ledger goes on: the loss is the session's.
        """
        switch, time, book = self._switch, self._time, self._book
        if switch is None or time is None or book is None:
            raise RearmRefused(f"the watch is not running (state {self.state.name})")
        record = switch.record
        if record is None:
            raise RearmRefused("nothing has tripped")
        if switch.running:
            raise RearmRefused(f"the risk-off cascade is in flight (stage {record.stage})")
        finished = record.finished_at_ns or record.tripped_at_ns
        wait_ns = round(self._settings.rearm_cooldown * 1e9) - (time.now_ns() - finished)
        if wait_ns > 0:
            raise RearmRefused(f"cooling down: {wait_ns / 1e9:g}s left of the rearm_cooldown")
        state = book.restore_trading_state()
        self.records.append(record)
        self._arm()
        time.step()
        by = f" by {who}" if who else ""
        self.log.warning(f"Re-armed{by}: {reason or 'no reason given'}; trading state {state}")
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
            feed = self._quote_feeds.get(tick.instrument_id)
            if feed is not None:
                feed.put(tick)
            if self._losses is not None and self._ledger.is_exposed(tick.instrument_id):
                self._ledger.mark(
                    tick.instrument_id, tick.bid_price.as_decimal(), tick.ask_price.as_decimal()
                )
                self._losses.put(self._ledger.loss)
            time.step()  # type: ignore[union-attr]
        except Exception as error:
            self._fail(error, "on_quote_tick")

    def on_trade_tick(self, tick: TradeTick) -> None:
        self._deliver(self._trade_feeds.get(tick.instrument_id), tick, "on_trade_tick")

    def on_bar(self, bar: Bar) -> None:
        self._deliver(self._bar_feeds.get(bar.bar_type), bar, "on_bar")

    def _deliver(self, feed: Feed[object] | None, message: object, where: str) -> None:
        try:
            if feed is not None:
                self._time.sync()  # type: ignore[union-attr]
                feed.put(message)
                self._time.step()  # type: ignore[union-attr]
        except Exception as error:
            self._fail(error, where)

    def _on_order_event(self, event: object) -> None:
        try:
            time, book = self._time, self._book
            if time is None or book is None:
                return
            time.sync()
            if (
                self._losses is not None
                and isinstance(event, OrderFilled)
                and book.guards(event.strategy_id)
            ):
                self._book_fill(event)
                self._losses.put(self._ledger.loss)
            book.notify()
            time.step()
        except Exception as error:
            self._fail(error, "order event")

    def _on_position_event(self, _event: object) -> None:
        try:
            if self._book is not None and self._time is not None:
                self._book.notify()
                self._time.step()
        except Exception as error:
            self._fail(error, "position event")

    # --- internals ------------------------------------------------------------------------
    def _book_fill(self, fill: OrderFilled) -> None:
        instrument_id = fill.instrument_id
        multiplier = self._multipliers.get(instrument_id)
        if multiplier is None:
            multiplier = self._multipliers[instrument_id] = self._check_instrument(
                instrument_id, "a fill"
            )
        if fill.commission.currency.code != self._settings.currency:
            raise ValueError(
                f"commission of {fill.client_order_id} is in {fill.commission.currency.code}, "
                f"the max_loss ceiling is in {self._settings.currency}: no exact conversion"
            )
        mark = None
        if not self._ledger.is_exposed(instrument_id):
            quote = self.cache.quote_tick(instrument_id)
            if quote is not None:
                mark = (quote.bid_price.as_decimal(), quote.ask_price.as_decimal())
        if instrument_id not in self._marked:
            self._marked.add(instrument_id)
            self.subscribe_quote_ticks(instrument_id)
        qty = fill.last_qty.as_decimal()
        self._ledger.fill(
            position=fill.position_id or (instrument_id, fill.strategy_id),
            instrument=instrument_id,
            signed_qty=qty if fill.order_side == OrderSide.BUY else qty.copy_negate(),
            price=fill.last_px.as_decimal(),
            multiplier=multiplier,
            commission=fill.commission.as_decimal(),
            mark=mark,
        )

    def _seed_ledger(self) -> None:
        """Book the fills of positions already open (a live node restarted mid-session).

        Replaying their fills keeps the ledger exact: a position's average price is a float.
        """
        for position in self.cache.positions_open():
            if self._book is not None and self._book.guards(position.strategy_id):
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
            if s.ceiling is not None:
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
        if time is None or self._switch is None:
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
            switch, watch = self._switch, self._watch
            if switch is None:
                return
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
        time, switch, watch = self._time, self._switch, self._watch
        if time is None:
            return
        try:
            if switch is not None and switch.running:
                self.log.warning("Stopped mid-cascade: sending the rest now, unconfirmed")
                time.call(switch.hurry)
            if watch is not None and not watch.done():
                time.call(watch.cancel)
            self.msgbus.unsubscribe(topic=ORDER_EVENTS, handler=self._on_order_event)
            self.msgbus.unsubscribe(topic=POSITION_EVENTS, handler=self._on_position_event)
            self.msgbus.deregister(endpoint=command_endpoint(self.id), handler=self._on_command)
            if isinstance(time, SimulatedTime):
                time.close()
        except Exception as error:
            self.log.error(f"riskwatch: error while stopping: {type(error).__name__}: {error}")
        finally:
            self._time = None
