"""``PriceRouter``: the hot path, every price the watch hears, off the actor.

A quote goes router -> marks -> guard -> core: the instrument's route (subscribed to the
quote topic itself, see ``routes``) brings the loop's time up to the engine's, tells the
feed it arrived (a watchdog's deadline moves), moves the marks (only the held sides' raw
prices), and each exposed guard ``remark``s its ledger, putting its figures only if they
left its quiet band. Trades and bars take the same path; a pair some exchange rate is made
of moves the rate first, so no figure is ever put with one moved and the other not.

The router also owns what the path needs set up: the routes and their bus subscriptions
(kept for the actor's life: a reset clears the routes, not the subscriptions), the bar
feeds, the instruments nothing prices yet, and the remembered ``Decimal`` of each price.
Between ``run`` and ``stop`` it hands prices on; outside, every handler does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from nautilus_trader.model.data import Bar, BarType, QuoteTick, TradeTick
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price

from nautilus_riskwatch.core import Feed, watchdog
from nautilus_riskwatch.core.supervisor import Child
from nautilus_riskwatch.looptime import LoopTime
from nautilus_riskwatch.nautilus.engine_hooks import subscribed_topic
from nautilus_riskwatch.nautilus.marks import Marks
from nautilus_riskwatch.nautilus.rates import RateBook
from nautilus_riskwatch.nautilus.routes import BarRoute, BarRoutes, Route
from nautilus_riskwatch.nautilus.settings import DataKind

if TYPE_CHECKING:
    from nautilus_trader.common.actor import Actor

    from nautilus_riskwatch.nautilus.guard import Guard
    from nautilus_riskwatch.nautilus.settings import FeedSpec


class Decimals:
    """``price.as_decimal()``, remembered: quotes repeat a few prices over and over, and a
    price's raw value and precision name its ``Decimal`` exactly (bounded)."""

    SIZE = 65_536

    def __init__(self) -> None:
        self._cache: dict[int, Decimal] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def of(self, price: Price) -> Decimal:
        cache = self._cache
        key = price.raw * 32 + price.precision
        value = cache.get(key)
        if value is None:
            if len(cache) >= self.SIZE:
                cache.clear()
            value = cache[key] = price.as_decimal()
        return value


class PriceRouter:
    """Every price the watch hears, from its bus topic to the guards' ledgers."""

    def __init__(self, actor: Actor, fail: Callable[[Exception, str], None]) -> None:
        self._actor = actor
        self._fail = fail  # an error on the path is a WatchFailure trip (the actor's)
        self._time: LoopTime | None = None  # set while the watch runs
        self._rates: RateBook | None = None
        self._guards: Sequence[Guard] = ()
        self._routes: dict[InstrumentId, Route] = {}  # each instrument's feeds, marks, guards
        self._routed: dict[tuple[DataKind, InstrumentId], tuple[str, Callable[[Any], None]]] = {}
        self._subscribed: set[tuple[DataKind, InstrumentId]] = set()
        self._bar_feeds: dict[object, Feed[object]] = {}
        self._bar_routes = BarRoutes(self._new_bar_route)
        self.unmarked: set[InstrumentId] = set()  # held, but no price from any source yet
        #: Each watched feed of the run and its ``Feed`` (the newest arrival): the metrics'
        #: feed ages and the silence warnings read them.
        self.watched: list[tuple[FeedSpec, Feed[object]]] = []
        self.decimals = Decimals()

    @property
    def routed(self) -> dict[tuple[DataKind, InstrumentId], tuple[str, Callable[[Any], None]]]:
        """Each (kind, instrument) subscribed to: its bus topic and the route's handler."""
        return dict(self._routed)

    # --- the run ------------------------------------------------------------------------------
    def watch(self, feeds: Sequence[FeedSpec], loop_time: Callable[[], float]) -> list[Child]:
        """Subscribe to each watched feed, afresh; return their watchdogs."""
        self._subscribed, self.unmarked = set(), set()
        for route in self._routes.values():
            route.clear()
        self._bar_routes.clear()  # the bar feeds are set anew below
        children: list[Child] = []
        self.watched = []
        for spec in feeds:
            feed: Feed[object] = Feed(spec.name, loop_time)
            self.watched.append((spec, feed))
            if spec.kind is DataKind.QUOTE:
                self.route(spec.instrument_id).quote_feed = feed
                self.subscribe(DataKind.QUOTE, spec.instrument_id)
            elif spec.kind is DataKind.TRADE:
                self.route(spec.instrument_id).trade_feed = feed
                self.subscribe(DataKind.TRADE, spec.instrument_id)
            else:
                self._bar_feeds[spec.bar_type] = feed
                self._actor.subscribe_bars(spec.bar_type)
            children.append(partial(watchdog, feed, spec.stale_after))
        return children

    def run(self, time: LoopTime, guards: Sequence[Guard], rates: RateBook | None) -> None:
        """Hand prices on from now, on ``time``'s loop, to ``guards`` (portfolio first),
        with ``rates`` into the ceiling currency (``None``: nothing converts)."""
        self._time, self._guards, self._rates = time, guards, rates

    def stop(self) -> None:
        """Prices are no longer handed on (until the next ``run``)."""
        self._time = None

    def reset(self) -> None:
        """Forget the run's routes, rates and bar feeds; the subscriptions stay."""
        self._rates = None
        for route in self._routes.values():
            route.clear()
        self._bar_feeds.clear()
        self._bar_routes.clear()

    def dispose(self) -> None:
        """Take every route off the bus, for good."""
        msgbus = self._actor.msgbus
        for topic, handler in self._routed.values():
            msgbus.unsubscribe(topic=topic, handler=handler)
        self._routed.clear()

    # --- routes and subscriptions -----------------------------------------------------------
    def route(self, instrument_id: InstrumentId) -> Route:
        """The instrument's route (made on first use)."""
        route = self._routes.get(instrument_id)
        if route is None:
            route = self._routes[instrument_id] = Route(instrument_id)
        return route

    def subscribe(self, kind: DataKind, instrument_id: InstrumentId) -> None:
        """Ask for the data the NautilusTrader way, and route its topic to the watch (once
        for the actor's life, as every bus subscription of the watch)."""
        if (kind, instrument_id) in self._subscribed:
            return
        self._subscribed.add((kind, instrument_id))
        actor, msgbus = self._actor, self._actor.msgbus
        own: Callable[[Any], None]
        handle: Callable[[Route, Any], None]
        if kind is DataKind.QUOTE:
            actor.subscribe_quote_ticks(instrument_id)
            own, handle, topic_kind = actor.handle_quote_tick, self._quote, "quotes"
        else:
            actor.subscribe_trade_ticks(instrument_id)
            own, handle, topic_kind = actor.handle_trade_tick, self._trade, "trades"
        if (kind, instrument_id) not in self._routed:
            topic = subscribed_topic(msgbus, own, topic_kind, instrument_id)
            handler = partial(handle, self.route(instrument_id))
            msgbus.subscribe(topic=topic, handler=handler)
            self._routed[(kind, instrument_id)] = (topic, handler)
        topic = self._routed[(kind, instrument_id)][0]
        if msgbus.is_subscribed(topic, own):  # the route takes it: no second dispatch
            msgbus.unsubscribe(topic=topic, handler=own)

    def follow_rate(self, instrument_id: InstrumentId) -> None:
        """A pair some exchange rate is made of: its quotes go to the rates first."""
        self.route(instrument_id).rated = True
        self.subscribe(DataKind.QUOTE, instrument_id)

    def unmarked_in(self, guard: Guard) -> list[str]:
        """Instruments the guard holds that nothing has priced yet (for its record)."""
        return sorted(str(i) for i in self.unmarked if guard.ledger.is_exposed(i))

    # --- the hot path: hand over, step, never raise ----------------------------------------
    def _quote(self, route: Route, tick: QuoteTick) -> None:
        """A quote of an instrument the watch routes (straight from its bus topic)."""
        try:
            time = self._time
            if time is None:
                return
            time.sync()
            feed = route.quote_feed
            if feed is not None:
                feed.arrive(tick, time.now)
            if route.rated:  # a pair some exchange rate is made of
                self._rate_quote(route, tick)
            elif route.guards:
                marks = route.marks  # set with the guards, by the first fill
                assert marks is not None
                if marks.quote_tick(tick):  # the common path, ``_remark`` inlined
                    instrument_id, bid, ask = route.instrument_id, marks.bid, marks.ask
                    for guard in route.guards:
                        guard.remark(instrument_id, bid, ask)
                    if self.unmarked and instrument_id in self.unmarked:
                        self._now_marked(instrument_id, marks)
            time.settle()
        except Exception as error:
            self._fail(error, "on_quote_tick")

    def _trade(self, route: Route, tick: TradeTick) -> None:
        """A trade of an instrument the watch routes (straight from its bus topic)."""
        try:
            time = self._time
            feed = route.trade_feed
            guards = route.guards
            if time is None or (feed is None and not guards):
                return
            time.sync()
            if feed is not None:
                feed.arrive(tick, time.now)
            if guards:
                marks = route.marks
                assert marks is not None
                if marks.trade(tick.price.raw, tick.ts_init):
                    self._remark(route.instrument_id, marks, guards)
            time.settle()
        except Exception as error:
            self._fail(error, "on_trade_tick")

    def on_bar(self, bar: Bar) -> None:
        """Every bar the engine publishes (``data.bars.*``): a feed's, and marks."""
        try:
            time = self._time
            if time is None:
                return
            bar_route = self._bar_routes.of(bar.bar_type)
            feed, route = bar_route.feed, bar_route.route
            guards, rated = route.guards, route.rated
            if feed is None and not guards and not rated:
                return
            time.sync()
            if feed is not None:
                feed.arrive(bar, time.now)
            price_type = bar_route.price_type
            rates = self._rates
            moved = (
                rated
                and rates is not None
                and rates.bar(
                    route.instrument_id, price_type, self.decimals.of(bar.close), bar.ts_init
                )
            )
            marks = route.marks
            if guards and marks is not None and marks.bar(price_type, bar.close.raw, bar.ts_init):
                self._remark(route.instrument_id, marks, guards, rate_moved=moved)
            elif moved:
                self._reconvert([])
            time.settle()
        except Exception as error:
            self._fail(error, "a bar")

    def _remark(
        self,
        instrument_id: InstrumentId,
        marks: Marks,
        guards: list[Guard],
        rate_moved: bool = False,
    ) -> None:
        """Revalue an instrument's exposure in every guard that holds it at its marks (raw
        prices); if an exchange rate moved too, every guard whose figures are converted
        puts them (once)."""
        bid, ask = marks.bid, marks.ask
        if rate_moved:
            self._reconvert([guard for guard in guards if guard.remark(instrument_id, bid, ask)])
        else:
            for guard in guards:
                guard.remark(instrument_id, bid, ask)
        if self.unmarked and instrument_id in self.unmarked:
            self._now_marked(instrument_id, marks)

    def _now_marked(self, instrument_id: InstrumentId, marks: Marks) -> None:
        self.unmarked.discard(instrument_id)
        self._actor.log.info(f"{instrument_id} is marked from now on ({marks.source} prices)")

    def _rate_quote(self, route: Route, tick: QuoteTick) -> None:
        """A quote of a pair an exchange rate is made of: the rate first, then the marks,
        so that no figure is ever put with one moved and the other not."""
        instrument_id = route.instrument_id
        decimal = self.decimals.of
        bid, ask = decimal(tick.bid_price), decimal(tick.ask_price)
        rates = self._rates
        moved = rates is not None and rates.quote(instrument_id, bid, ask, tick.ts_init)
        guards, marks = route.guards, route.marks
        raw_bid, raw_ask = tick.bid_price.raw, tick.ask_price.raw
        if guards and marks is not None and marks.quote(raw_bid, raw_ask, tick.ts_init):
            self._remark(instrument_id, marks, guards, rate_moved=moved)
        elif moved:
            self._reconvert([])

    def _reconvert(self, done: list[Guard]) -> None:
        """An exchange rate moved: every guard holding converted figures puts them anew."""
        for guard in self._guards:
            if guard.valued.converting and guard not in done:
                guard.put_figures()

    def _new_bar_route(self, bar_type: BarType) -> BarRoute:
        """The first bar of a type since the feeds were set: its feed, its instrument's
        route (made now, so that a later fill finds the same one) and its price type."""
        return BarRoute(
            self._bar_feeds.get(bar_type),
            self.route(bar_type.instrument_id),
            bar_type.spec.price_type,
        )
