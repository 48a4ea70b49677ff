"""Routes: each instrument's quotes and trades, straight from its message-bus topic.

Why: through ``on_quote_tick`` every quote pays for the actor's dispatch and then for
finding out where it goes: the tick's instrument id built, hashed and looked up in a feed
table, a marks table, a rates table. A route is that lookup done once: one object per
instrument, holding its feeds, its marks and the guards exposed to it, and one handler per
kind subscribed to the instrument's own topic, which receives the tick with everything it
needs already in hand.

The data still has to be asked for the NautilusTrader way (``subscribe_quote_ticks``: a
live data client subscribes upstream); the topic is the one that subscription made, read
back from the bus (its spelling differs between NautilusTrader versions), never assumed.
The route then takes the actor's place on that topic: the actor's own handler is taken off
it (the watch does not override ``on_quote_tick``, so it had nothing to do), and each
message is dispatched once, as NautilusTrader's ``Portfolio`` takes its prices straight
from the bus.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nautilus_trader.model.enums import PriceType
from nautilus_trader.model.identifiers import InstrumentId

from nautilus_riskwatch.core import Feed
from nautilus_riskwatch.nautilus.marks import Marks

if TYPE_CHECKING:
    from nautilus_riskwatch.nautilus.guard import Guard


class Route:
    """Where one instrument's prices go: its feeds, its marks, its exposed guards, and
    whether an exchange rate is made of it. Cleared (not dropped) by a reset: its bus
    subscriptions are kept for the actor's life."""

    __slots__ = ("guards", "instrument_id", "marks", "quote_feed", "rated", "trade_feed")

    def __init__(self, instrument_id: InstrumentId) -> None:
        self.instrument_id = instrument_id
        self.quote_feed: Feed[object] | None = None
        self.trade_feed: Feed[object] | None = None
        self.marks: Marks | None = None  # set by the first guarded fill
        self.guards: list[Guard] = []  # the guards exposed to the instrument
        self.rated = False  # a pair some exchange rate is made of

    def clear(self) -> None:
        self.quote_feed = self.trade_feed = self.marks = None
        self.guards = []
        self.rated = False


class BarRoute:
    """Where one bar type's bars go: its feed (if watched), its instrument's route, and
    the price type its close marks."""

    __slots__ = ("feed", "price_type", "route")

    def __init__(self, feed: Feed[object] | None, route: Route, price_type: PriceType) -> None:
        self.feed = feed
        self.route = route
        self.price_type = price_type


class BarRoutes:
    """Bar types to their routes, found without hashing a ``BarType``.

    Every bar reaches the watch through the one wildcard topic (the bar types a strategy
    trades on are not known in advance), and a bar's ``bar_type`` is a new object each
    time whose hash formats the whole type as a string. A book sees few bar types, so the
    first ones are found by comparing values (``==`` compares the engine's structs); past
    ``FEW`` the rest are hashed.
    """

    FEW = 8

    def __init__(self, make: Callable[[Any], BarRoute]) -> None:
        self._make = make
        self._few: list[tuple[Any, BarRoute]] = []
        self._many: dict[Any, BarRoute] = {}

    def of(self, bar_type: Any) -> BarRoute:
        for known, route in self._few:
            if known == bar_type:
                return route
        found = self._many.get(bar_type)
        if found is not None:
            return found
        route = self._many[bar_type] = self._make(bar_type)
        if len(self._few) < self.FEW:
            self._few.append((bar_type, route))
        return route

    def clear(self) -> None:
        """The feeds changed (a start, a reset): every bar type is looked up afresh."""
        self._few.clear()
        self._many.clear()
