"""The watch's own closes: the one rule that knows them, their client order ids, and those
a book sent, with the escalation of a refused one.

A close is the watch's own by its tag (``close_tag``): the tag rides on the order in the
cache, across a restart, and in every fill's order, so the gate lets it pass, the flatten
counts it as in flight, the event log marks its fills ``closing`` and the picture draws
them, all by ``is_watch_close``. The id is for people and for the engine's conventions:
NautilusTrader's own form, ``O-<date>-<time>-<trader tag>-<tag>-<count>``, made by its
``ClientOrderIdGenerator`` with the watch's name where a strategy's tag would be. So a
close reads as an ordinary NautilusTrader order in a log or a venue report, and as the
watch's at a glance, and never collides with a strategy's own ids (their tags differ).

``Closes`` is one book's account of them, apart from the book because a close's story is
long (the order type the escalation has reached, a marketable limit through the touch, what
is still in flight after a restart, why a venue refused it) while the book only asks "how
much is already closing" and "send the next". The book sends what ``Closes.new`` makes, so
every command leaves through one door (``NautilusBook._send``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from nautilus_trader.common.factories import OrderFactory
from nautilus_trader.common.generators import ClientOrderIdGenerator
from nautilus_trader.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId, PositionId, StrategyId
from nautilus_trader.model.objects import Price, Quantity

from nautilus_riskwatch.core.event_log import emit
from nautilus_riskwatch.nautilus.settings import CloseType

if TYPE_CHECKING:
    from nautilus_trader.common.actor import Actor
    from nautilus_trader.model.orders import Order
    from nautilus_trader.model.position import Position

    from nautilus_riskwatch.nautilus.settings import Settings

_ZERO = Decimal(0)
#: The close escalation's names of the order types (``close_escalation``).
_ESCALATION_NAMES = {OrderType.MARKET: CloseType.MARKET, OrderType.LIMIT: CloseType.LIMIT_IOC}


def is_watch_close(tags: Iterable[str] | None, close_tag: str) -> bool:
    """True for an order (by its tags) that is one of the watch's own closes."""
    return close_tag in (tags or ())


def close_id_tag(actor_id: object) -> str:
    """The watch's part of its closes' ids: its component id without separators (a
    NautilusTrader id tag is the text after the last hyphen)."""
    return re.sub(r"[^0-9A-Za-z]", "", str(actor_id)) or "RiskWatch"


class CloseIds:
    """Client order ids for one watch's closes, shared by all its books (scopes).

    Made on first use: the actor's trader id and clock exist once it is registered. An
    id already in the cache (a watch restarted within the same second) is skipped, as
    NautilusTrader's ``OrderFactory`` skips one.
    """

    def __init__(self, actor: Actor) -> None:
        self._actor = actor
        self._generator: ClientOrderIdGenerator | None = None

    def next(self) -> ClientOrderId:
        """The next id, in NautilusTrader's ``O-...`` form, unused in the cache."""
        actor = self._actor
        generator = self._generator
        if generator is None:
            generator = self._generator = ClientOrderIdGenerator(
                trader_id=actor.trader_id,
                strategy_id=StrategyId(f"RISKWATCH-{close_id_tag(actor.id)}"),
                clock=actor.clock,
            )
        cache = actor.cache
        client_order_id = generator.generate()
        while cache.order_exists(client_order_id):
            client_order_id = generator.generate()
        return client_order_id


class Closes:
    """One book's closes: those it sent, per position; how much of a position they still
    take off; each refused one escalated to the next order type; why each was refused.

    ``close_escalation`` names the order types in turn: a refused close (no liquidity
    within a limit's price, a venue that refuses market orders) is followed by the next
    type, the last one repeated, ``close_attempts`` refusals in a row at most.
    """

    def __init__(self, actor: Actor, settings: Settings, ids: CloseIds) -> None:
        self._actor = actor  # its trader id, clock and cache (there once it is registered)
        self._settings = settings
        self._ids = ids
        self._factories: dict[StrategyId, OrderFactory] = {}
        # Held by us: on a live node the ExecEngine queues commands, so an order just sent
        # is not in the cache yet, and must still count as in flight.
        self._sent: dict[PositionId, list[Order]] = {}

    def sent(self) -> list[Order]:
        """Every close this book sent (as sent: read the cache for what became of it)."""
        return [order for orders in self._sent.values() for order in orders]

    def working_qty(self, position: Position, others: Iterable[Order] = ()) -> Decimal:
        """What the closes still in flight for ``position`` will take off: the watch's, and
        ``others`` (another watch's closes of it: two watches that trip together must not
        both close the whole position).

        Ours in memory, and (after a restart, when that memory is gone) those the cache
        links to the position and that carry our close tag: a flatten repeated across
        restarts must never double a close. Each order counted once.
        """
        orders = {order.client_order_id: order for order in self.working(position)}
        for order in others:
            orders.setdefault(order.client_order_id, order)
        close_tag = self._settings.close_tag
        for order in self._actor.cache.orders_for_position(position.id):
            if is_watch_close(order.tags, close_tag):
                orders.setdefault(order.client_order_id, order)
        total = _ZERO
        for order in orders.values():
            if not order.is_closed:
                total += order.leaves_qty.as_decimal()
        return total

    def working(self, position: Position) -> list[Order]:
        """The closes of ``position`` this book sent that are still open (as last seen)."""
        return [o for o in map(self._current, self._sent.get(position.id, ())) if not o.is_closed]

    def refused_in_a_row(self, position_id: PositionId) -> int:
        """The refusals of our closes of a position since the last one that filled."""
        refused = 0
        for close in self._sent.get(position_id, ()):
            if self._refusal(close) is not None:
                refused += 1
            elif self._current(close).filled_qty.as_decimal() > 0:
                refused = 0
        return refused

    def failures(self) -> dict[str, list[str]]:
        """Every close of ours the venue (or a gate) refused, per position, with its reason."""
        failures: dict[str, list[str]] = {}
        for position_id, closes in self._sent.items():
            lines = [line for close in closes if (line := self._refusal(close)) is not None]
            if lines:
                failures[position_id.value] = lines
        return failures

    def new(self, position: Position, quantity: Decimal, step: int = 0) -> Order:
        """A reduce-only close, remembered, of the order type the escalation has reached:
        ``step`` refusals of this position's closes in a row move it one type on each (the
        last type is repeated). The caller sends it."""
        actor, s = self._actor, self._settings
        factory = self._factories.get(position.strategy_id)
        if factory is None:
            factory = self._factories[position.strategy_id] = OrderFactory(
                trader_id=actor.trader_id,
                strategy_id=position.strategy_id,
                clock=actor.clock,
                cache=actor.cache,
                use_uuid_client_order_ids=True,
            )
        escalation = s.close_escalation
        kind = escalation[min(step, len(escalation) - 1)]
        side = position.closing_order_side()
        qty = Quantity.from_str(
            f"{quantity.quantize(Decimal(1).scaleb(-position.size_precision)):f}"
        )
        market = kind is CloseType.MARKET
        price = None if market else self._through_the_touch(position.instrument_id, side)
        if not market and price is None:
            emit("no price", position=position.id.value, kind=kind, instead=CloseType.MARKET)
        if price is None:
            order: Order = factory.market(
                instrument_id=position.instrument_id,
                order_side=side,
                quantity=qty,
                reduce_only=True,
                tags=[s.close_tag],
                client_order_id=self._ids.next(),
            )
        else:
            order = factory.limit(
                instrument_id=position.instrument_id,
                order_side=side,
                quantity=qty,
                price=price,
                time_in_force=TimeInForce.IOC,
                reduce_only=True,
                tags=[s.close_tag],
                client_order_id=self._ids.next(),
            )
        self._sent.setdefault(position.id, []).append(order)
        return order

    def _through_the_touch(self, instrument_id: InstrumentId, side: OrderSide) -> Price | None:
        """A marketable limit price: ``close_through_ticks`` ticks through the touch (a
        SELL below the bid, a BUY above the ask), never below one tick. ``None``: the
        instrument or its touch is unknown."""
        cache = self._actor.cache
        instrument = cache.instrument(instrument_id)
        if instrument is None:
            return None
        quote = cache.quote_tick(instrument_id)
        if quote is not None:
            touch = quote.bid_price if side == OrderSide.SELL else quote.ask_price
        else:
            trade = cache.trade_tick(instrument_id)
            if trade is None:
                return None
            touch = trade.price
        tick = instrument.price_increment.as_decimal()
        through = tick * self._settings.close_through_ticks
        if side == OrderSide.SELL:
            price = max(touch.as_decimal() - through, tick)
        else:
            price = touch.as_decimal() + through
        return Price.from_str(f"{price:.{instrument.price_precision}f}")

    def _current(self, order: Order) -> Order:
        found = self._actor.cache.order(order.client_order_id)
        return order if found is None else found

    def _refusal(self, order: Order) -> str | None:
        """Why a close of ours ended without filling anything (``None``: it did not)."""
        order = self._current(order)
        status = order.status
        if status == OrderStatus.REJECTED or status == OrderStatus.DENIED:
            reason = getattr(order.last_event, "reason", "") or "no reason given"
            word = "rejected" if status == OrderStatus.REJECTED else "denied"
        elif status in (OrderStatus.CANCELED, OrderStatus.EXPIRED) and order.filled_qty == 0:
            reason = "nothing filled before it ended (no liquidity within its price)"
            word = status.name.lower()
        else:
            return None
        kind = _ESCALATION_NAMES.get(order.order_type, order.order_type.name)
        return (
            f"{kind} {order.side.name} {order.quantity} ({order.client_order_id}) {word}: {reason}"
        )
