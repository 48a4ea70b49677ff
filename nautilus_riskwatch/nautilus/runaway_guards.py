"""A scope's runaway guards: their settings, read from the config, and their feeds and
supervisor children, fed from the engine's order events.

Each guard is a child of the scope's one supervisor, reading its own ``Feed`` with a
judge in ``put`` (``core/rates.py``, ``core/exposure.py``): a child that raises collapses
the group and runs the one cascade, as a loss limit's does. The rates and the position
caps are fed only by order events (nothing per quote); the gross exposure rides on the
guard's figures (``Guard.put_figures``: at a fill, and at a mark of a held instrument).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, Protocol

from nautilus_trader.model.identifiers import InstrumentId, StrategyId

from nautilus_riskwatch.core.exposure import gross_breaker, position_breaker
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.limits import QuietSink
from nautilus_riskwatch.core.rates import BadRate, EventRate, parse_rate, rate_breaker
from nautilus_riskwatch.core.record import scope_of
from nautilus_riskwatch.core.supervisor import Child
from nautilus_riskwatch.core.trips import window_text
from nautilus_riskwatch.nautilus.runaway import FILLS, ORDERS, REJECTS, counted

__all__ = [
    "RATE_FIELDS",
    "RUNAWAY_FIELDS",
    "GrossCap",
    "RunawayFeeds",
    "RunawaySources",
    "RunawaySpec",
    "ScopedRunaway",
    "position_caps",
    "rates",
    "spec_from",
]

#: The config's rate fields, and what each counts.
RATE_FIELDS = {"max_order_rate": ORDERS, "max_reject_rate": REJECTS, "max_fill_rate": FILLS}
#: Every runaway guard's field, at the top level and in a scoped limit entry.
RUNAWAY_FIELDS = (*RATE_FIELDS, "max_position", "max_gross_exposure")


@dataclass(frozen=True)
class GrossCap:
    """``max_gross_exposure``, checked: an amount in ``currency`` (the ceiling currency), or
    ``percent`` of the accounts' equity when the guard arms (as a percent loss limit)."""

    amount: Decimal | None
    currency: str
    percent: Decimal | None = None

    @property
    def name(self) -> str:
        return "max_gross_exposure"

    def describe(self) -> str:
        if self.percent is not None:
            return f"{self.percent}% of the equity"
        return f"{self.amount} {self.currency}"


@dataclass(frozen=True)
class RunawaySpec:
    """One scope's runaway guards, checked: a rate per kind counted, caps per instrument,
    a cap on the gross exposure."""

    rates: Mapping[str, EventRate] = field(default_factory=dict)  # "orders" -> rate
    positions: Mapping[InstrumentId, Decimal] = field(default_factory=dict)
    gross: GrossCap | None = None

    def __bool__(self) -> bool:
        return bool(self.rates or self.positions or self.gross is not None)

    def describe(self) -> dict[str, object]:
        """For the ``armed`` line and the start's log line."""
        named = {f"max_{kind[:-1]}_rate": rate for kind, rate in self.rates.items()}
        described: dict[str, object] = {
            name: f"{rate.limit}/{window_text(rate.window_ns)}" for name, rate in named.items()
        }
        if self.positions:
            described["max_position"] = {str(i): str(cap) for i, cap in self.positions.items()}
        if self.gross is not None:
            described["max_gross_exposure"] = self.gross.describe()
        return described


@dataclass(frozen=True)
class ScopedRunaway:
    """A scope's runaway guards: the top level's (the portfolio) or a limit entry's (one
    strategy or one instrument; ``index`` its place in ``limits``)."""

    spec: RunawaySpec
    strategy_id: StrategyId | None = None
    instrument_id: InstrumentId | None = None
    index: int = -1

    @property
    def scope(self) -> str:
        return scope_of(self.strategy_id, self.instrument_id)

    def in_currency(self, currency: str) -> ScopedRunaway:
        """With a percent gross cap in the ceiling currency (found with the limits')."""
        gross = self.spec.gross
        if gross is None or gross.currency:
            return self
        return replace(self, spec=replace(self.spec, gross=replace(gross, currency=currency)))


def rates(prefix: str, values: Mapping[str, object]) -> dict[str, EventRate]:
    """The rates given among ``values`` (field name -> raw value, ``None``: not given),
    each refused with its field named (``prefix`` before it, e.g. ``"limits[0]."``)."""
    found = {}
    for name, kind in RATE_FIELDS.items():
        raw = values.get(name)
        if raw is not None:
            found[kind] = parse_rate(raw, field=f"{prefix}{name}")
    return found


def position_caps(field_name: str, value: object) -> dict[InstrumentId, Decimal]:
    """``{"EUR/USD.SIM": 1000000, ...}``: the most absolute net quantity per instrument.

    A cap is a whole number or a decimal string (``"0.5"``), 0 or more; a float is refused
    (``0.1`` is not the number it looks like), and so is a key that is not an instrument id.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not value:
        raise BadRate(
            f"{field_name} must be a non-empty dict of instrument id to the most absolute "
            f"net quantity, got {type(value).__name__} {value!r}",
            field_name,
            value,
        )
    caps = {}
    for key, raw in value.items():
        where = f"{field_name}[{key!r}]"
        try:
            instrument = InstrumentId.from_str(str(key))
        except Exception:
            raise BadRate(
                f"{where}: not an instrument id ('SYMBOL.VENUE')", field_name, value
            ) from None
        try:
            caps[instrument] = _quantity(where, raw)
        except BadRate as error:
            raise BadRate(str(error), field_name, value) from None
    return caps


def _quantity(where: str, raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise BadRate(
            f"{where} must be a whole number or a decimal string, got {type(raw).__name__} {raw!r}"
        )
    try:
        cap = Decimal(raw.strip() if isinstance(raw, str) else raw)
    except InvalidOperation:
        raise BadRate(f"{where}: {raw!r} is not a number") from None
    if not cap.is_finite() or cap < 0:
        raise BadRate(f"{where}: a position cap must be a finite number, 0 or more, got {raw!r}")
    return cap


_UNREAD = object()  # the event's order, not read from the cache yet


class RunawayFeeds:
    """A guard's runaway feeds (one per guard: a feed has one reader) and its children."""

    def __init__(self, spec: RunawaySpec, loop_time: Callable[[], float], scope: str) -> None:
        self.spec = spec
        self._loop_time = loop_time
        self._scope = scope
        self._caps = {str(i): cap for i, cap in spec.positions.items()}
        self._counts: dict[str, Feed[int]] = {}
        self._nets: Feed[tuple[str, Decimal]] | None = None
        self._gross: Feed[Decimal] | None = None

    @property
    def counts(self) -> bool:
        """Whether any rate guard counts events (then every order event is sorted)."""
        return bool(self.spec.rates)

    def caps(self, instrument_id: InstrumentId) -> bool:
        """Whether the instrument's position is capped."""
        return instrument_id in self.spec.positions

    @property
    def books(self) -> bool:
        """Whether a guard must keep a ledger for these (a position or a gross cap)."""
        return bool(self.spec.positions) or self.spec.gross is not None

    @property
    def weighs_gross(self) -> bool:
        """Whether the gross exposure is capped (then the guard puts it with its figures)."""
        return self.spec.gross is not None

    def count(self, kinds: tuple[str, ...], ts_ns: int) -> None:
        """Events of ``kinds`` (from ``runaway.counted``) at engine time ``ts_ns``."""
        for kind in kinds:
            feed = self._counts.get(kind)
            if feed is not None:
                feed.put(ts_ns)

    def net(self, instrument_id: InstrumentId, net: Decimal) -> None:
        """The scope's net quantity on a capped instrument after a fill."""
        if self._nets is not None:
            self._nets.put((str(instrument_id), net))

    @property
    def gross_feed(self) -> Feed[Decimal] | None:
        """The gross breaker's feed of this arming (``None``: no gross cap, or not armed)."""
        return self._gross

    def gross(self, figure: Decimal) -> None:
        """The scope's gross exposure now, in the ceiling currency (rounded up if converted)."""
        if self._gross is not None:
            self._gross.put(figure)

    def children(
        self,
        gross_cap: Callable[[], Decimal] | None = None,
        gross_quiet: QuietSink | None = None,
    ) -> list[Child]:
        """The supervisor children, on fresh feeds at every arm: a re-arm counts from empty,
        and nothing put between a trip and its re-arm is judged again. ``gross_cap()`` gives
        the gross cap in force (a percent one's share of the equity at this arm; it raises,
        in the child, if that cannot be measured: a trip); ``gross_quiet`` is told the gross
        breaker's quiet band."""
        loop_time, scope = self._loop_time, self._scope
        self._counts = {kind: Feed(f"{kind} ({scope})", loop_time) for kind in self.spec.rates}
        children: list[Child] = [
            partial(rate_breaker, feed.read_one, self.spec.rates[kind], kind)
            for kind, feed in self._counts.items()
        ]
        self._nets = None
        if self._caps:
            self._nets = Feed(f"positions ({scope})", loop_time)
            children.append(partial(position_breaker, self._nets.read_one, self._caps))
        self._gross = None
        gross = self.spec.gross
        if gross is not None:
            if gross_cap is None:
                raise ValueError("a gross cap needs its amount in force (gross_cap)")
            feed = self._gross = Feed(f"gross exposure ({scope})", loop_time)
            children.append(
                partial(_gross_child, feed.read_one, gross_cap, gross.currency, gross_quiet)
            )
        return children


async def _gross_child(
    read_gross: Callable[..., Any],
    cap: Callable[[], Decimal],
    currency: str,
    quiet: QuietSink | None = None,
) -> None:
    """The gross breaker, its cap taken when the child starts (in the child: a percent cap
    that cannot be measured is a trip, as a percent loss limit's)."""
    await gross_breaker(read_gross, cap(), currency, quiet)


def spec_from(prefix: str, entry: object, gross: GrossCap | None = None) -> RunawaySpec:
    """A scope's runaway guards from a config entry (the top level or a scoped limit),
    whose fields ``max_order_rate``, ``max_reject_rate``, ``max_fill_rate`` and
    ``max_position`` are read; each refusal names its field after ``prefix``. ``gross`` is
    its ``max_gross_exposure``, read as the loss limits' money is (by the settings)."""
    return RunawaySpec(
        rates=rates(prefix, {name: getattr(entry, name, None) for name in RATE_FIELDS}),
        positions=position_caps(f"{prefix}max_position", getattr(entry, "max_position", None)),
        gross=gross,
    )


class Counting(Protocol):
    """What ``RunawaySources`` needs of a guard."""

    runaway: RunawayFeeds | None

    def covers(self, strategy_id: Any, instrument_id: Any) -> bool: ...

    @property
    def book(self) -> Any: ...


class RunawaySources:
    """The engine's order events to the guards' runaway feeds: sorted once per guard that
    covers the event and counts (``runaway.counted``), at the event's ``ts_event``.

    ``refused_by_watch(reason)`` says whether a refusal is the watch's own
    (``runaway.watch_refusal``, with the gate's block reasons and trading state).
    """

    def __init__(
        self,
        cache: Any,
        guards: Sequence[Counting],
        refused_by_watch: Callable[[str], bool],
    ) -> None:
        self._cache = cache
        self._counting = [g for g in guards if g.runaway is not None and g.runaway.counts]
        self._refused = refused_by_watch

    def __bool__(self) -> bool:
        return bool(self._counting)

    def event(self, event: Any) -> None:
        """One order event from ``events.order.*``."""
        strategy_id, instrument_id = event.strategy_id, event.instrument_id
        order: Any = _UNREAD
        for guard in self._counting:
            if not guard.covers(strategy_id, instrument_id):
                continue
            if order is _UNREAD:
                order = self._cache.order(event.client_order_id)
            kinds = counted(event, order, guard.book.closes, self._refused)
            if kinds:
                guard.runaway.count(kinds, event.ts_event)  # type: ignore[union-attr]
