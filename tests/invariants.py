"""The kill's invariants, written once, as checks over the engine's own state (issue 26).

Every check reads NautilusTrader's cache (orders wherever they are held, positions, the
fills in their events) and the watches' configuration; the watch's record is read only to
be *compared* with the cache (invariant 4) and to know when each trip happened. A check
never asks the package's code what is guarded or protective: it derives that from the
config here, independently, so a wrong rule in the package cannot hide itself.

    inv = Invariants(engine, watch)      # attach before engine.run(): it notes re-arms,
    engine.run()                          # kills and strategies' own cancels as they happen
    inv.check()                           # raises InvariantViolated naming every offender

The invariants (each ``check_*`` returns a list of messages, empty when it holds):

1. ``check_flat_after_trip``: after a trip's cascade (stage ``done``) and until its re-arm,
   no order of the tripped scope is live (open, in flight, emulated, held by an execution
   algorithm or the OrderManager) except the kept protective ones, and no position of the
   scope is larger than its protective quantity (net of the watch's own closes in flight).
2. ``check_no_fill_after_trip``: no fill of the scope after the trip and before its re-arm,
   except the watches' closes, kept protective orders and what they spawn or hold as
   contingent children, orders live at the trip that filled before the cancel could reach
   the venue (at once without latency; at the venue's first step after it), and,
   under REDUCING, fills that only reduce the strategy's own position.
3. ``check_spared``: nothing unguarded and nothing protective is cancelled or closed by the
   watch: a cancel after a trip must hit an order the trip covers (or one its own strategy
   cancelled, or an OCO/OUO sibling of a fill); a close of the watch must be on a position it
   covers and never take it below its protective quantity.
4. ``check_record_agrees``: every id in a record is known to the cache and is what the record
   says (kept orders not cancelled, cancelled ones closed, closed positions down to their
   protective quantity, left-live ones named); a record that says ``complete`` holds no
   leftover; every order of the scope live before the trip appears in the record.
5. ``check_one_cascade``: one record per trip, published when done; a scope has one record
   per re-arm plus the current one; a re-arm never trips again on a cause already handled
   (the same trip object, or a kill made before the re-arm).

What is protective (independently of the package): an order of a hedge strategy or on a
hedge instrument, or carrying a hedge tag (a watch's own close never is); and, by the links
issue 20 decided, an OUO/OCO sibling on the same side of such an order, an OTO child on
the other side of such a parent, and what an execution algorithm spawns from one. An
order live at the trip and protective is *kept*, unless an order the trip cancels takes it
along through a contingent link (OUO/OCO/OTO): then it is cancelled with it. Kept with a
kept order are the orders an algorithm spawns from it (``exec_spawn_id``) and, leniently,
its other contingent children (``parent_order_id``). A kept reduce-only order the venue
retires because its position closed (another watch closed it) is not a cancel by the watch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import wraps
from typing import Any

from nautilus_trader.model.enums import ContingencyType, OrderSide, OrderStatus, PositionSide
from nautilus_trader.model.events import OrderCanceled, OrderFilled
from nautilus_trader.model.identifiers import ClientOrderId, PositionId

from nautilus_riskwatch import ManualKill, RiskOff
from nautilus_riskwatch.core import CascadePolicy

ZERO = Decimal(0)
NEVER = 2**63  # a re-arm that has not happened (yet): the trip's window is open
_CLOSED_LIKE = {  # terminal, but not a cancel: the order lived out its life
    OrderStatus.FILLED,
    OrderStatus.EXPIRED,
    OrderStatus.REJECTED,
    OrderStatus.DENIED,
}


#: Every checker attached in the running test: tests/backtest/conftest.py checks them all
#: when the test's body has passed, so every scenario checks the invariants at its end.
_ATTACHED: list[Invariants] = []


def attached() -> list[Invariants]:
    """The checkers attached since the last call (and forget them)."""
    found = list(_ATTACHED)
    _ATTACHED.clear()
    return found


class InvariantViolated(AssertionError):
    """One or more of the kill's invariants do not hold; the message lists each offender."""


# --- what the config makes guarded and protective (derived here, not asked of the package) ----
@dataclass
class WatchView:
    """One watch as the checks see it: its config and the trips it made."""

    watch: Any
    strategies: frozenset[str] | None
    hedge_tags: frozenset[str]
    hedge_strategies: frozenset[str]
    hedge_instruments: frozenset[str]
    close_tag: str
    rearms: list[tuple[str, int, RiskOff | None]] = field(default_factory=list)
    fills_at_rearm: dict[int, frozenset[tuple[str, str]]] = field(default_factory=dict)
    kills: list[tuple[int, str, str]] = field(default_factory=list)  # (ns, reason, who)
    published: list[RiskOff] = field(default_factory=list)
    seen: list[RiskOff] = field(default_factory=list)  # every record it ever showed
    scope_of: dict[int, str] = field(default_factory=dict)  # id(record) -> where it was held

    @classmethod
    def of(cls, watch: Any) -> WatchView:
        s = watch.settings
        return cls(
            watch=watch,
            strategies=None if s.strategies is None else frozenset(map(str, s.strategies)),
            hedge_tags=frozenset(s.hedge_tags),
            hedge_strategies=frozenset(map(str, s.hedge_strategies)),
            hedge_instruments=frozenset(map(str, s.hedge_instruments)),
            close_tag=s.close_tag,
        )

    @property
    def name(self) -> str:
        return str(self.watch.id)

    def guards(self, strategy_id: object) -> bool:
        return self.strategies is None or str(strategy_id) in self.strategies

    def is_close(self, order: Any) -> bool:
        return self.close_tag in (order.tags or ())

    def is_protective(self, order: Any) -> bool:
        if str(order.strategy_id) in self.hedge_strategies:
            return True
        if str(order.instrument_id) in self.hedge_instruments:
            return True
        if self.is_close(order):
            return False
        return any(tag in self.hedge_tags for tag in (order.tags or ()))

    def protective_in(self, cache: Any, order: Any) -> bool:
        """Protective by name, or by a link that can only close what a named one holds."""
        if self.is_protective(order):
            return True
        spawn = order.exec_spawn_id
        if spawn is not None and spawn != order.client_order_id:
            primary = cache.order(spawn)
            if primary is not None and self.is_protective(primary):
                return True
        if order.contingency_type in (ContingencyType.OUO, ContingencyType.OCO):
            for other_id in order.linked_order_ids or ():
                other = cache.order(other_id)
                if other is not None and _one_book(order, other) and other.side == order.side:
                    if self.is_protective(other):
                        return True
        if order.parent_order_id is not None:
            parent = cache.order(order.parent_order_id)
            if parent is not None and _one_book(order, parent) and parent.side != order.side:
                return self.is_protective(parent)
        return False

    def protective_position(self, position: Any) -> bool:
        return (
            str(position.strategy_id) in self.hedge_strategies
            or str(position.instrument_id) in self.hedge_instruments
        )


@dataclass
class Trip:
    """One trip of one scope of one watch, with the window in which it holds."""

    view: WatchView
    record: RiskOff
    rearmed_at: int = NEVER  # the engine time of its re-arm
    # the fills that existed at the re-arm: a fill in the re-arm's own instant is inside
    # the trip's window only if it came before the re-arm (None: not re-armed)
    fills_at_rearm: frozenset[tuple[str, str]] | None = None

    @property
    def name(self) -> str:
        return f"{self.view.name} {self.scope} trip at {self.record.tripped_at_ns}"

    @property
    def scope(self) -> str:
        """The scope the watch holds the record under (its ``scope`` field is written
        during the cascade: mid-cascade it still says the default)."""
        return self.view.scope_of.get(id(self.record), self.record.scope)

    def covers(self, strategy_id: object, instrument_id: object) -> bool:
        scope = self.scope
        if scope.startswith("strategy ") and str(strategy_id) != scope[len("strategy ") :]:
            return False
        if scope.startswith("instrument ") and str(instrument_id) != scope[len("instrument ") :]:
            return False
        return self.view.guards(strategy_id)

    def holds_at(self, ns: int) -> bool:
        return self.record.tripped_at_ns < ns <= self.rearmed_at

    def holds_for(self, fill: OrderFilled) -> bool:
        """The fill came after the trip and before its re-arm."""
        if not self.holds_at(int(fill.ts_event)):
            return False
        return self.fills_at_rearm is None or _fill_key(fill) in self.fills_at_rearm

    @property
    def done(self) -> bool:
        return str(self.record.stage) == "done"

    @property
    def reducing(self) -> bool:
        # a portfolio trip's state is "REDUCING"; a scoped one's "<scope> REDUCING (...)"
        return "REDUCING" in self.record.trading_state.split()


#: The hold acts once the engine has had its turn: ``CascadePolicy.settle`` of loop time
#: after the change that woke it. A position that changed within that of a step's end (the
#: last data point the step ran) is not yet the hold's to answer for.
HOLD_SETTLE_NS = round(CascadePolicy().settle * 1e9)


# --- engine facts, read from the cache -------------------------------------------------------
def _oid(order: Any) -> str:
    return order.client_order_id.value


def _fill_key(fill: OrderFilled) -> tuple[str, str]:
    return (fill.client_order_id.value, fill.trade_id.value)


def _fill_keys(cache: Any) -> frozenset[tuple[str, str]]:
    return frozenset(_fill_key(f) for order in cache.orders() for f in _fills(order))


def _fills(order: Any) -> list[OrderFilled]:
    return [e for e in order.events if isinstance(e, OrderFilled)]


def _created_ns(order: Any) -> int:
    return int(order.init_event.ts_init)


def _closed_ns(order: Any) -> int | None:
    """When the order reached a terminal state (``None``: still live)."""
    if not order.is_closed:
        return None
    return int(order.last_event.ts_event)


def live_at(order: Any, ns: int, *, surely: bool = False, cancelled_by_it: bool = True) -> bool:
    """Live at ``ns``: created before it and not closed before it. ``surely``: and not
    closed *at* it by a fill (or a rejection): an order that filled at the very instant may
    have filled first, as the fill whose loss is the trip does; one cancelled at that instant
    was cancelled by the trip (``cancelled_by_it``; not so sure when another trip shares the
    instant)."""
    closed = _closed_ns(order)
    if closed is not None and closed < ns:
        return False
    if surely and closed == ns:
        # cancelled at that instant: its status, not its last event (a second watch's
        # cancel of it, refused, comes after: OrderCancelRejected)
        if not (cancelled_by_it and order.status == OrderStatus.CANCELED):
            return False
    return _created_ns(order) < ns


def _signed(side: OrderSide, qty: Decimal) -> Decimal:
    return qty if side == OrderSide.BUY else -qty


def _position_signed(position: Any) -> Decimal:
    qty = position.quantity.as_decimal()
    return qty if position.side == PositionSide.LONG else -qty if qty else ZERO


def protective_qty(
    view: WatchView, cache: Any, position: Any, upto: OrderFilled | None = None
) -> Decimal:
    """How much of ``position`` is a protective hedge (up to, not including, fill ``upto``).

    The signed sum of its protective fills, kept only as far as it points the way the
    position does and no further than its size: protection follows quantity.
    """
    if view.protective_position(position):
        return _size_before(position, upto)
    signed = net = ZERO
    for event in position.events:
        if not isinstance(event, OrderFilled):
            continue
        if upto is not None and _same_fill(event, upto):
            break
        qty = _signed(event.order_side, event.last_qty.as_decimal())
        net += qty
        order = cache.order(event.client_order_id)
        if order is not None and view.protective_in(cache, order):
            signed += qty
    if net == 0:
        return ZERO
    if net < 0:
        signed, net = -signed, -net
    return min(max(signed, ZERO), net)


def _ever_protective(view: WatchView, cache: Any, position: Any) -> bool:
    """Whether any fill of ``position`` came from a protective order."""
    if view.protective_position(position):
        return True
    for event in position.events:
        if isinstance(event, OrderFilled):
            order = cache.order(event.client_order_id)
            if order is not None and view.protective_in(cache, order):
                return True
    return False


def _size_before(position: Any, upto: OrderFilled | None) -> Decimal:
    if upto is None:
        return position.quantity.as_decimal()
    return abs(_net_before(position, upto) or ZERO)


def _same_fill(a: OrderFilled, b: OrderFilled) -> bool:
    return a.trade_id == b.trade_id and a.client_order_id == b.client_order_id


def _net_before(position: Any, fill: OrderFilled) -> Decimal | None:
    """The position's signed quantity just before ``fill`` (``None``: the fill is not in it)."""
    net = ZERO
    for event in position.events:
        if isinstance(event, OrderFilled):
            if _same_fill(event, fill):
                return net
            net += _signed(event.order_side, event.last_qty.as_decimal())
    return None


def _reduces(cache: Any, fill: OrderFilled) -> bool:
    """The fill only reduced its own position (no opening, no growing, no flip)."""
    if fill.position_id is None:
        return False
    position = cache.position(fill.position_id)
    if position is None:
        return False
    before = _net_before(position, fill)
    if before is None or before == 0:
        return False
    after = before + _signed(fill.order_side, fill.last_qty.as_decimal())
    return abs(after) < abs(before) and (after == 0 or (after > 0) == (before > 0))


def _kept(
    trip: Trip, cache: Any, orders: list[Any], views: list[WatchView]
) -> tuple[set[str], set[str]]:
    """The orders kept at the trip: (protective ones live at it and what an algorithm spawns
    from them; their contingent children, kept leniently). Protective by the tripped
    watch's configuration or by that of any other watch in ``views`` that guards the
    order's strategy: no watch cancels what another keeps, whichever trips first."""
    ns = trip.record.tripped_at_ns
    at_trip = [
        o
        for o in orders
        if trip.covers(o.strategy_id, o.instrument_id)
        and (live_at(o, ns) or (_created_ns(o) == ns and _oid(o) in trip.record.orders_kept))
    ]
    others = [v for v in views if v is not trip.view]
    kept = {
        _oid(o)
        for o in at_trip
        if trip.view.protective_in(cache, o)
        or any(v.guards(o.strategy_id) and v.protective_in(cache, o) for v in others)
    }
    # a cancelled order takes its linked orders along: they are not kept. Only an order the
    # trip could cancel takes any: not one that filled in the trip's own instant (the fill
    # whose loss is the trip), whose OTO children the engine has just released
    taking = [o for o in at_trip if _oid(o) not in kept and live_at(o, ns, surely=True)]
    while taking:
        o = taking.pop()
        if o.contingency_type in _TAKES_LINKED:
            for other_id in o.linked_order_ids or ():
                if other_id.value in kept:
                    kept.discard(other_id.value)
                    taking.append(cache.order(other_id))
    lenient: set[str] = set()
    grown = True
    while grown:
        grown = False
        for o in orders:
            oid = _oid(o)
            if oid in kept or oid in lenient:
                continue
            spawn = o.exec_spawn_id
            if spawn is not None and spawn.value in kept and spawn.value != oid:
                kept.add(oid)
                grown = True
            elif o.parent_order_id is not None and o.parent_order_id.value in kept | lenient:
                lenient.add(oid)
                grown = True
    return kept, lenient


_TAKES_LINKED = (ContingencyType.OUO, ContingencyType.OCO, ContingencyType.OTO)


def _one_book(order: Any, other: Any) -> bool:
    return order.strategy_id == other.strategy_id and order.instrument_id == other.instrument_id


def _retired_with_position(cache: Any, order: Any) -> bool:
    """A reduce-only order the venue cancelled because the position it reduces closed, or
    went through flat at the instant of the cancel (a NETTING position flips and stays
    open under the same id)."""
    if not order.is_reduce_only:
        return False
    position_id = cache.position_id(order.client_order_id) or order.position_id
    position = cache.position(position_id) if position_id is not None else None
    if position is None:
        return False
    if position.is_closed:
        return True
    cancels = [e for e in order.events if isinstance(e, OrderCanceled)]
    # went through flat: NautilusTrader keeps the old position as a snapshot and opens the
    # flipped one under the same id at that instant
    return bool(cancels) and int(position.ts_opened) == int(cancels[-1].ts_event)


def _linked_filled(cache: Any, order: Any) -> bool:
    """An OCO/OUO sibling or the parent filled: the venue's own contingent cancel."""
    linked = list(order.linked_order_ids or ())
    for other_id in linked:
        other = cache.order(other_id)
        if other is not None and other.filled_qty.as_decimal() > 0:
            return True
    return False


# --- the checker ----------------------------------------------------------------------------
class Invariants:
    """The kill's invariants over one engine and the watches on it.

    Attach before ``engine.run()``: it notes, as they happen, each watch's re-arms (the end
    of a trip's window), kills (a re-arm must not trip again on an old one), published
    records (one cascade per trip) and the strategies' own cancels (not the watch's doing).

    Parameters
    ----------
    engine : BacktestEngine
    watches : RiskWatch
    latency_ns : int
        The venue's latency: an order live at the trip may fill up to this long after it,
        before the cancel reaches the venue (a race no watch can win).

    """

    def __init__(self, engine: Any, *watches: Any, latency_ns: int = 0) -> None:
        self.engine = engine
        self.latency_ns = latency_ns
        self.views = [WatchView.of(w) for w in watches if w is not None]
        self.strategy_cancels: set[str] = set()
        self.watching_bus = True  # published records are seen (attached before the run)
        self._wrapped: set[int] = set()
        _ATTACHED.append(self)
        for view in self.views:
            self._hook_watch(view)
        self._hook_strategies()
        self.engine.kernel.msgbus.subscribe(topic="events.riskwatch.*", handler=self._published)
        self._run_id: object = None  # the engine run the notes belong to
        self.disposed = False  # checked, then the engine disposed (its cache may be gone)

    def add_watch(self, watch: Any) -> None:
        """Another watch on the same engine (before the run)."""
        view = WatchView.of(watch)
        self.views.append(view)
        self._hook_watch(view)

    def forget(self) -> None:
        """After ``engine.reset()``: the earlier run's trips are gone with its cache."""
        for view in self.views:
            view.rearms.clear()
            view.fills_at_rearm.clear()
            view.kills.clear()
            view.published.clear()
            view.seen.clear()
            view.scope_of.clear()
        self.strategy_cancels.clear()
        self._hook_strategies()

    # -- hooks: instance attributes over the public methods, so commands reach them too ----
    def _now(self) -> int:
        self._same_run()
        return int(self.engine.kernel.clock.timestamp_ns())

    def _same_run(self) -> None:
        """A new engine run (after ``engine.reset()``) starts with a new cache: forget the
        notes of the earlier one."""
        run = self.engine.run_id
        run_id = None if run is None else str(run)
        if run_id != self._run_id:
            if self._run_id is not None:
                self.forget()
            self._run_id = run_id

    def _hook_watch(self, view: WatchView) -> None:
        watch = view.watch
        rearm, kill = watch.rearm, watch.kill

        @wraps(rearm)
        def noted_rearm(who: str = "", reason: str = "", scope: str = "portfolio") -> str:
            before = _records_now(watch)
            try:
                return rearm(who, reason, scope)
            finally:  # a re-arm that raised half-way may still have re-armed
                for name, record in before.items():
                    if record is not None and _records_now(watch).get(name) is not record:
                        view.rearms.append((name, self._now(), record))
                        view.fills_at_rearm[id(record)] = _fill_keys(self.engine.cache)

        @wraps(kill)
        def noted_kill(reason: str, who: str = "") -> None:
            view.kills.append((self._now(), reason, who))
            kill(reason, who)

        watch.rearm, watch.kill = noted_rearm, noted_kill

    def _hook_strategies(self) -> None:
        for strategy in self.engine.trader.strategies():
            if id(strategy) in self._wrapped:
                continue
            self._wrapped.add(id(strategy))
            for name in ("cancel_order", "cancel_orders", "cancel_all_orders"):
                setattr(strategy, name, self._noting(strategy, getattr(strategy, name)))

    def _noting(self, strategy: Any, method: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(method)
        def noted(*args: Any, **kwargs: Any) -> Any:
            for order in strategy.cache.orders(strategy_id=strategy.id):
                if not order.is_closed and _named_by(order, args, kwargs, method.__name__):
                    self.strategy_cancels.add(_oid(order))
            if method.__name__ == "cancel_all_orders":
                # NautilusTrader answers a strategy's cancel-all with every order on the
                # instrument, whoever's: the OrderEmulator (emulated orders) and the simulated
                # exchange (at the venue) both ignore the command's strategy (1.221 and
                # 1.231). The strategy's doing, not the watch's.
                for order in strategy.cache.orders():
                    if not order.is_closed and _named_by(order, args, kwargs, method.__name__):
                        self.strategy_cancels.add(_oid(order))
            return method(*args, **kwargs)

        return noted

    def _published(self, message: object) -> None:
        self._same_run()
        if isinstance(message, RiskOff):
            for view in self.views:
                if _knows(view.watch, message):
                    view.published.append(message)
                    break

    # -- the trips ---------------------------------------------------------------------------
    def trips(self) -> list[Trip]:
        """Every trip of every watch, current and re-armed, each with its window."""
        found: list[Trip] = []
        for view in self.views:
            rearmed = {id(record): ns for _, ns, record in view.rearms if record is not None}
            seen: set[int] = set()
            for record in _all_records(view):
                if id(record) in seen:
                    continue
                seen.add(id(record))
                if not any(record is r for r in view.seen):
                    view.seen.append(record)
                found.append(
                    Trip(
                        view,
                        record,
                        rearmed.get(id(record), NEVER),
                        view.fills_at_rearm.get(id(record)),
                    )
                )
        return found

    # -- the checks ------------------------------------------------------------------------
    def violations(self) -> list[str]:
        if self.disposed:
            return []  # checked at the dispose, while the cache still held the run
        self._same_run()
        if self.engine.run_started is None:
            return []  # before the first run, or reset since: the cache holds no run
        return [
            *self.check_flat_after_trip(),
            *self.check_no_fill_after_trip(),
            *self.check_spared(),
            *self.check_record_agrees(),
            *self.check_one_cascade(),
        ]

    def check(self) -> None:
        found = self.violations()
        if found:
            raise InvariantViolated(
                f"{len(found)} invariant violation(s):\n  " + "\n  ".join(found)
            )

    def check_flat_after_trip(self) -> list[str]:
        """1. After a cascade and until its re-arm, the scope holds only what is kept."""
        cache = self.engine.cache
        now = self._now()
        orders = list(cache.orders())
        found = []
        for trip in self.trips():
            if not trip.done or trip.rearmed_at != NEVER or now < trip.record.tripped_at_ns:
                continue
            kept, lenient = _kept(trip, cache, orders, self.views)
            reducing_left = self._reducing_room(trip, cache) if trip.reducing else {}
            for order in orders:
                if order.is_closed or not trip.covers(order.strategy_id, order.instrument_id):
                    continue
                oid = _oid(order)
                if oid in kept or oid in lenient or _is_any_close(self.views, order):
                    continue
                key = (str(order.strategy_id), str(order.instrument_id))
                if trip.reducing and key in reducing_left:
                    room = reducing_left[key]
                    leaves = _signed(order.side, order.leaves_qty.as_decimal())
                    if room != 0 and (leaves > 0) == (room > 0) and abs(leaves) <= abs(room):
                        reducing_left[key] = room - leaves
                        continue
                if trip.record.hurried and oid in _named_left(trip.record):
                    continue  # the run ended mid-cascade, and the record says so
                found.append(
                    f"[1 flat] {trip.name}: order {oid} of {order.strategy_id} is live "
                    f"({order.status.name}, {_held(order)}, {order.side.name} "
                    f"{order.leaves_qty} {order.order_type.name} tags={order.tags}) and not kept"
                )
            for position in cache.positions_open():
                if not trip.covers(position.strategy_id, position.instrument_id):
                    continue
                size = position.quantity.as_decimal()
                protected = protective_qty(trip.view, cache, position)
                closing = _closing_qty(self.views, cache, position)
                if trip.record.hurried and position.id.value in _named_left(trip.record):
                    continue
                if int(position.ts_last) + HOLD_SETTLE_NS > now:
                    continue  # changed in the step's last instant: the hold acts a settle later
                if size - closing > protected:
                    found.append(
                        f"[1 flat] {trip.name}: position {position.id} of "
                        f"{position.strategy_id} is {position.side.name} {position.quantity}, "
                        f"more than its protective {protected} (closes in flight: {closing})"
                    )
        return found

    def _reducing_room(self, trip: Trip, cache: Any) -> dict[tuple[str, str], Decimal]:
        """Under REDUCING: how much each strategy may still have working to reduce its own
        position, net of the watches' closes in flight (signed the way the orders go)."""
        room: dict[tuple[str, str], Decimal] = {}
        for position in cache.positions_open():
            if trip.covers(position.strategy_id, position.instrument_id):
                key = (str(position.strategy_id), str(position.instrument_id))
                net = _position_signed(position)
                closing = _closing_qty(self.views, cache, position)
                net = net - closing if net > 0 else net + closing
                room[key] = room.get(key, ZERO) - net
        return room

    def check_no_fill_after_trip(self) -> list[str]:
        """2. No fill of the scope inside a trip's window but what the trip allows."""
        cache = self.engine.cache
        orders = list(cache.orders())
        found = []
        for trip in self.trips():
            kept, lenient = _kept(trip, cache, orders, self.views)
            ns = trip.record.tripped_at_ns
            reach = self._venue_reach(ns)
            for order in orders:
                if not trip.covers(order.strategy_id, order.instrument_id):
                    continue
                oid = _oid(order)
                if oid in kept or oid in lenient or _is_any_close(self.views, order):
                    continue
                for fill in _fills(order):
                    ts = int(fill.ts_event)
                    if not trip.holds_for(fill):
                        continue
                    if ts <= reach and (live_at(order, ns) or _oid(order) in _named(trip.record)):
                        continue  # live at the trip: it raced the cancel to the venue
                    if trip.reducing and _reduces(cache, fill):
                        continue
                    found.append(
                        f"[2 no fill] {trip.name}: order {oid} of {order.strategy_id} "
                        f"({order.side.name} {order.order_type.name} tags={order.tags}, "
                        f"created {_created_ns(order)}) filled {fill.last_qty} at {ts}"
                    )
        return found

    def _cancelled_by_others(self, cache: Any, order: Any) -> bool:
        """Its own strategy cancelled it, or the venue did: an OCO/OUO sibling filled, or it
        was reduce-only and its position closed."""
        return (
            _oid(order) in self.strategy_cancels
            or _linked_filled(cache, order)
            or _retired_with_position(cache, order)
        )

    def _venue_reach(self, ns: int) -> int:
        """When a cancel sent at ``ns`` has surely reached the venue: at once without
        latency; else at the first data point the venue processes after the latency (the
        simulated venue works through its queue of commands as data arrives)."""
        if self.latency_ns <= 0:
            return ns
        after = ns + self.latency_ns
        cache = self.engine.cache
        later = [
            int(t.ts_init)
            for instrument in cache.instruments()
            for t in (*cache.quote_ticks(instrument.id), *cache.trade_ticks(instrument.id))
            if t.ts_init >= after
        ]
        return min(later, default=after)

    def check_spared(self) -> list[str]:
        """3. Nothing unguarded or protective is cancelled or closed by the watch."""
        cache = self.engine.cache
        orders = list(cache.orders())
        trips = self.trips()
        if not trips:
            return []
        first = min(t.record.tripped_at_ns for t in trips)
        kept_by = {id(t): _kept(t, cache, orders, self.views) for t in trips}
        found = []
        for order in orders:
            if order.status != OrderStatus.CANCELED:
                continue
            oid = _oid(order)
            cancelled = [e for e in order.events if isinstance(e, OrderCanceled)]
            ts = int(cancelled[-1].ts_event) if cancelled else _closed_ns(order) or 0
            if ts < first or self._cancelled_by_others(cache, order):
                continue  # (a close that retired a reduce-only order is judged below)
            if _is_any_close(self.views, order):
                continue
            fair = [
                t
                for t in trips
                if t.covers(order.strategy_id, order.instrument_id)
                and t.record.tripped_at_ns <= ts
                and oid not in kept_by[id(t)][0]
            ]
            if fair:
                continue
            lenient = any(oid in kept_by[id(t)][1] for t in trips)
            if lenient:
                continue
            why = (
                "protective (kept)"
                if any(oid in kept_by[id(t)][0] for t in trips)
                else "not guarded by any trip in force"
            )
            found.append(
                f"[3 spared] order {oid} of {order.strategy_id} ({order.side.name} "
                f"{order.order_type.name} tags={order.tags}) was CANCELED at {ts} though {why}"
            )
        for order in orders:
            views = [v for v in self.views if v.is_close(order)]
            for fill in _fills(order) if views else []:
                found += self._close_fill_spares(views, trips, cache, order, fill)
        return found

    def _close_fill_spares(
        self,
        views: list[WatchView],
        trips: list[Trip],
        cache: Any,
        order: Any,
        fill: OrderFilled,
    ) -> list[str]:
        """A close (of whichever watch carries its tag) must fill on a position a trip of
        that watch covers, and never take it below its protective quantity."""
        # never before the close was made: nautilus_trader 1.221 sets its clock back to a
        # late alert's own time while firing it, and a fill the venue makes then carries it
        ts = max(int(fill.ts_event), int(order.ts_init))
        oid = _oid(order)
        covering = [
            t
            for t in trips
            if any(t.view is v for v in views)
            and t.covers(order.strategy_id, order.instrument_id)
            and t.record.tripped_at_ns <= ts
        ]
        if not covering:
            names = ", ".join(v.name for v in views)
            return [
                f"[3 spared] close {oid} (tag of {names}) filled {fill.last_qty} of "
                f"{order.strategy_id} on {order.instrument_id} at {ts}: no trip covers that"
            ]
        view = covering[-1].view
        position = cache.position(fill.position_id) if fill.position_id is not None else None
        if position is None:
            return []
        before = _net_before(position, fill)
        if before is None:
            return []
        protected = protective_qty(view, cache, position, upto=fill)
        after = before + _signed(fill.order_side, fill.last_qty.as_decimal())
        flipped = before != 0 and after != 0 and (after > 0) != (before > 0)
        if flipped or abs(after) < protected:
            return [
                f"[3 spared] close {oid} of {view.name} took position {position.id} of "
                f"{position.strategy_id} from {before} to {after} at {ts}: below its "
                f"protective {protected}" + (" (flipped it)" if flipped else "")
            ]
        return []

    def check_record_agrees(self) -> list[str]:
        """4. Each record says what the cache holds (kept, cancelled, closed, left live)."""
        cache = self.engine.cache
        orders = list(cache.orders())
        found = []
        trips = self.trips()
        for trip in trips:
            record = trip.record
            name = trip.name
            listed: set[str] = set()
            for what, ids in (
                ("orders_kept", record.orders_kept),
                ("orders_cancelled", record.orders_cancelled),
                ("orders_filled", record.orders_filled),
                ("orders_unconfirmed", record.orders_unconfirmed),
            ):
                for oid in ids:
                    listed.add(oid)
                    order = cache.order(ClientOrderId(oid))
                    if order is None:
                        found.append(f"[4 record] {name}: {what} names {oid}, unknown to the cache")
                        continue
                    found += _order_agrees(
                        trip, cache, what, order, self.views, self._cancelled_by_others
                    )
            for what, ids in (
                ("positions_closed", record.positions_closed),
                ("hedges_kept", record.hedges_kept),
            ):
                for pid in ids:
                    position = cache.position(PositionId(pid))
                    if position is None:
                        found.append(f"[4 record] {name}: {what} names {pid}, unknown to the cache")
                    elif what == "hedges_kept" and not _ever_protective(trip.view, cache, position):
                        found.append(
                            f"[4 record] {name}: hedges_kept names {pid}, which holds no "
                            "protective fill"
                        )
                    elif what == "positions_closed" and trip.done and trip.rearmed_at == NEVER:
                        left = position.quantity.as_decimal() if position.is_open else ZERO
                        protected = protective_qty(trip.view, cache, position) if left else ZERO
                        if left > protected and pid not in record.positions_unflattened:
                            found.append(
                                f"[4 record] {name}: positions_closed names {pid}, still "
                                f"{position.side.name} {left} (protective {protected})"
                            )
            if trip.done:
                ns = record.tripped_at_ns
                # a cancel in the trip's instant is its own, unless another trip shares it;
                # a cascade running at the same time (another watch's, another scope's) may
                # have closed an order first: then that one names it
                alone = sum(1 for t in trips if t.record.tripped_at_ns == ns) == 1
                named_alongside = listed.union(
                    *(_named(t.record) for t in trips if t is not trip and _overlap(t, trip))
                )
                for order in orders:
                    by_it = alone and not self._cancelled_by_others(cache, order)
                    if trip.covers(order.strategy_id, order.instrument_id) and live_at(
                        order, ns, surely=True, cancelled_by_it=by_it
                    ):
                        oid = _oid(order)
                        if oid not in named_alongside and not _is_any_close(self.views, order):
                            found.append(
                                f"[4 record] {name}: order {oid} of {order.strategy_id} "
                                f"was live at the trip ({order.order_type.name} "
                                f"tags={order.tags}) and the record does not name it"
                            )
            if record.complete and trip.rearmed_at == NEVER:
                leftovers = [m for m in self.check_flat_after_trip() if trip.name in m]
                if leftovers:
                    found.append(
                        f"[4 record] {name}: says complete, but the cache holds "
                        f"{len(leftovers)} leftover(s) (see [1 flat])"
                    )
        return found

    def check_one_cascade(self) -> list[str]:
        """5. One cascade per trip; a re-arm never trips again on a handled cause."""
        found = []
        for view in self.views:
            trips = [t for t in self.trips() if t.view is view]
            by_scope: dict[str, list[Trip]] = {}
            for trip in trips:
                by_scope.setdefault(trip.scope, []).append(trip)
            for scope, scoped in by_scope.items():
                rearms = [r for r in view.rearms if r[0] == scope]
                if len(scoped) > len(rearms) + 1:
                    found.append(
                        f"[5 one cascade] {view.name} {scope}: {len(scoped)} trips but only "
                        f"{len(rearms)} re-arm(s)"
                    )
                causes: dict[int, Trip] = {}
                for trip in sorted(scoped, key=lambda t: t.record.tripped_at_ns):
                    earlier = causes.get(id(trip.record.cause))
                    if earlier is not None:
                        found.append(
                            f"[5 one cascade] {trip.name}: tripped again on the cause of "
                            f"{earlier.name} ({trip.record.cause!r}), already handled"
                        )
                    causes[id(trip.record.cause)] = trip
                found += _kills_fresh(view, sorted(scoped, key=lambda t: t.record.tripped_at_ns))
            current = [*view.watch.records, *_records_now(view.watch).values()]
            rearmed = [record for _, _, record in view.rearms]
            for trip in trips:
                record = trip.record
                if not any(record is r for r in current) and not any(record is r for r in rearmed):
                    found.append(
                        f"[5 one cascade] {trip.name}: its record vanished from the watch "
                        "(not current, not among the earlier trips) without a re-arm"
                    )
            published: dict[int, int] = {}
            for record in view.published:
                published[id(record)] = published.get(id(record), 0) + 1
            for trip in trips:
                if self.watching_bus and trip.done and id(trip.record) not in published:
                    found.append(f"[5 one cascade] {trip.name}: done but never published")
        return found


def _kills_fresh(view: WatchView, trips: list[Trip]) -> list[str]:
    """A trip caused by a kill must follow a kill made since the re-arm that ended the
    scope's trip before it (a kill made earlier was handled by that trip)."""
    found = []
    previous: Trip | None = None
    for trip in trips:
        cause = trip.record.cause
        if previous is not None and isinstance(cause, ManualKill):
            rearmed = previous.rearmed_at
            fresh = [
                k
                for k in view.kills
                if (k[1], k[2]) == (cause.reason, cause.who) and k[0] >= rearmed
            ]
            if rearmed != NEVER and not fresh:
                found.append(
                    f"[5 one cascade] {trip.name}: tripped by kill {cause.reason!r} of "
                    f"{cause.who!r}, made before the re-arm at {rearmed}: a handled cause"
                )
        previous = trip
    return found


def _order_agrees(
    trip: Trip,
    cache: Any,
    what: str,
    order: Any,
    views: list[WatchView],
    cancelled_by_others: Callable[[Any, Any], bool],
) -> list[str]:
    """What a record says of an order, against the cache. Kept may be what another
    watch on the engine keeps (no watch cancels what another keeps); a kept order its own
    strategy (or the venue) cancelled later is still what the watch kept."""
    oid = _oid(order)
    name = trip.name
    status = order.status
    if what == "orders_kept":
        if not any(view.protective_in(cache, order) for view in views):
            return [f"[4 record] {name}: orders_kept names {oid}, which is not protective"]
        if status == OrderStatus.CANCELED and not cancelled_by_others(cache, order):
            return [f"[4 record] {name}: orders_kept names {oid}, which the engine CANCELED"]
    elif what in ("orders_cancelled", "orders_filled") and trip.done:
        if not order.is_closed:
            return [
                f"[4 record] {name}: {what} names {oid}, still live ({status.name}, {_held(order)})"
            ]
        if what == "orders_filled" and status != OrderStatus.FILLED and not order.filled_qty:
            return [f"[4 record] {name}: orders_filled names {oid}, which is {status.name}"]
        if what == "orders_cancelled" and status == OrderStatus.FILLED:
            return [f"[4 record] {name}: orders_cancelled names {oid}, which FILLED"]
    return []


def _overlap(a: Trip, b: Trip) -> bool:
    """The two cascades ran (at least partly) at the same time."""
    a_end = a.record.finished_at_ns or NEVER
    b_end = b.record.finished_at_ns or NEVER
    return a.record.tripped_at_ns <= b_end and b.record.tripped_at_ns <= a_end


def _named(record: RiskOff) -> set[str]:
    """The orders a record names as live at its trip (by the watch's own reading)."""
    return {
        *record.orders_cancelled,
        *record.orders_filled,
        *record.orders_unconfirmed,
        *record.orders_kept,
    }


def _named_left(record: RiskOff) -> set[str]:
    """What a record names as left behind (unconfirmed, unflattened, left live)."""
    named = {*record.orders_unconfirmed, *record.positions_unflattened}
    for entry in record.left_live:  # "order ID (where)", "position ID (SIDE qty)"
        words = str(entry).split(" ")
        named.add(words[1] if len(words) > 1 else words[0])
    return named


def _is_any_close(views: list[WatchView], order: Any) -> bool:
    return any(view.is_close(order) for view in views)


def _closing_qty(views: list[WatchView], cache: Any, position: Any) -> Decimal:
    """What the watches' live closes of ``position`` will take off it."""
    total = ZERO
    for order in cache.orders(strategy_id=position.strategy_id):
        if order.is_closed or not _is_any_close(views, order):
            continue
        if order.position_id is not None and order.position_id != position.id:
            continue
        if order.instrument_id != position.instrument_id:
            continue
        total += order.leaves_qty.as_decimal()
    return total


def _held(order: Any) -> str:
    status = order.status
    if status == OrderStatus.EMULATED:
        return "emulator"
    if order.exec_algorithm_id is not None and order.is_active_local:
        return f"exec algorithm {order.exec_algorithm_id}"
    if status == OrderStatus.INITIALIZED:
        return "OrderManager (contingent)" if order.parent_order_id is not None else "local"
    if order.is_inflight:
        return "in flight"
    return "venue"


def _named_by(order: Any, args: tuple[Any, ...], kwargs: dict[str, Any], method: str) -> bool:
    """Whether a strategy's cancel call names ``order``."""
    if method == "cancel_all_orders":
        instrument = args[0] if args else kwargs.get("instrument_id")
        side = args[1] if len(args) > 1 else kwargs.get("order_side")
        return order.instrument_id == instrument and (
            side in (None, OrderSide.NO_ORDER_SIDE) or order.side == side
        )
    targets = args[0] if args else kwargs.get("order", kwargs.get("orders"))
    if method == "cancel_orders":
        return any(t.client_order_id == order.client_order_id for t in targets)
    return targets is not None and targets.client_order_id == order.client_order_id


def _records_now(watch: Any) -> dict[str, RiskOff | None]:
    return {"portfolio": watch.record, **watch.scope_records}


def _all_records(view: WatchView) -> Iterator[RiskOff]:
    watch = view.watch
    for name, record in _records_now(watch).items():
        if record is not None:
            view.scope_of.setdefault(id(record), name)
            yield record
    for record in watch.records:
        view.scope_of.setdefault(id(record), "portfolio")
        yield record
    for name, _, record in view.rearms:
        if record is not None:
            view.scope_of.setdefault(id(record), name)
            yield record
    yield from view.seen
    yield from view.published


def _knows(watch: Any, record: RiskOff) -> bool:
    return any(record is r for r in _records_now(watch).values()) or any(
        record is r for r in watch.records
    )


def dispose(engine: Any) -> None:
    """Check every attached checker of ``engine``, then dispose it.

    nautilus_trader 1.231 clears the cache on dispose, so the checks must run while the cache
    still holds the run; a test that disposes in its body calls this instead of
    ``engine.dispose()``.
    """
    for inv in _ATTACHED:
        if inv.engine is engine and not inv.disposed:
            inv.check()
            inv.disposed = True
    engine.dispose()


def check(engine: Any, *watches: Any, latency_ns: int = 0) -> None:
    """Check the invariants of a run that nobody attached an ``Invariants`` to before it ran.

    Without the hooks, re-arms and the strategies' own cancels are unknown: fit for runs
    with no re-arm and no cancel by a strategy after the trip.
    """
    inv = Invariants.__new__(Invariants)
    inv.engine, inv.latency_ns = engine, latency_ns
    inv.views = [WatchView.of(w) for w in watches if w is not None]
    inv.strategy_cancels = set()
    inv._wrapped = set()
    inv.watching_bus = False
    inv.check()


def checked(build: Callable[..., Any]) -> Callable[..., Any]:
    """``build`` (the demo's ``build_engine``), its run checked by an ``Invariants``."""

    @wraps(build)
    def checked_build(*args: Any, **kwargs: Any) -> Any:
        run = build(*args, **kwargs)
        run.invariants = Invariants(run.engine, run.watch, latency_ns=_latency_ns(kwargs))
        return run

    return checked_build


def _latency_ns(kwargs: dict[str, Any]) -> int:
    model = kwargs.get("latency_model")
    if model is not None:
        return int(model.base_latency_nanos) + int(
            max(
                model.insert_latency_nanos,
                model.update_latency_nanos,
                model.cancel_latency_nanos,
            )
        )
    return int(kwargs.get("latency_ms", 0)) * 1_000_000
