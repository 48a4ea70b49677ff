"""``Settings``: the config, checked once and turned into what the watch runs on.

``RiskWatchConfig`` is what an operator writes: strings and numbers, as NautilusTrader's
configs are. ``Settings`` is what the code reads: engine ids, ``Decimal`` ceilings, and the
closed sets of words the config speaks as enums, so code dispatching on them names a member
(a typo there is an ``AttributeError`` at once, not a branch never taken).

Parsed once: ``RiskWatchConfig.__post_init__`` calls ``keep_settings`` as the struct is built
(by hand, from an importable config's dict, or by ``msgspec.structs.replace``), so a bad
config is refused before anything runs, and the parse is kept with the struct;
``settings_from`` hands that back to the actor. Start-time checks against the engine are
``checks.py``'s.

A new config field: the struct field and its doc in ``config.py``; its checked value as a
``Settings`` field here, read in ``_parse`` with a reader of ``parse.py`` (field name and raw
value in, the checked value out); an enum here if the code dispatches on its words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import TradingState
from nautilus_trader.model.identifiers import InstrumentId, StrategyId

from nautilus_riskwatch.core.record import PORTFOLIO, scope_of
from nautilus_riskwatch.errors import RiskWatchConfigError
from nautilus_riskwatch.firm.settings import FirmSettings
from nautilus_riskwatch.nautilus import parse
from nautilus_riskwatch.nautilus.alerting import AlertSettings, alert_settings
from nautilus_riskwatch.nautilus.config_entries import LossLimit, WatchedFeed
from nautilus_riskwatch.nautilus.firm_settings import firm_settings
from nautilus_riskwatch.nautilus.runaway_guards import RUNAWAY_FIELDS, ScopedRunaway
from nautilus_riskwatch.nautilus.runaway_settings import runaway_settings

if TYPE_CHECKING:
    from nautilus_riskwatch.nautilus.config import RiskWatchConfig

#: The farthest a limit close may be priced through the touch, in ticks.
MAX_THROUGH_TICKS = 1_000_000
#: Where ``keep_settings`` keeps the parse, in the struct's own ``__dict__``.
_KEPT = "_riskwatch_settings"


class LimitKind(StrEnum):
    """What a loss limit measures (``max_loss``, ``trailing`` and ``daily`` in the config)."""

    MAX_LOSS = "max_loss"  # the session's loss since the watch started
    TRAILING = "trailing"  # the drawdown from the PnL high-water mark
    DAILY = "daily"  # the loss since the last daily reset


class DataKind(StrEnum):
    """A kind of market data: what a watched feed is (``WatchedFeed.kind``) and what
    positions are marked with (``mark_with``); one idea, so one enum."""

    QUOTE = "quote"
    TRADE = "trade"
    BAR = "bar"


class TripState(StrEnum):
    """The trading state a trip sets (``trading_state_on_trip``)."""

    HALTED = "HALTED"
    REDUCING = "REDUCING"
    ACTIVE = "ACTIVE"  # left alone

    @property
    def trading_state(self) -> TradingState | None:
        """The RiskEngine's state to set (``None``: leave it alone)."""
        return None if self is TripState.ACTIVE else TradingState[self.value]


class CloseType(StrEnum):
    """The order types a close can be sent as (``close_escalation``)."""

    MARKET = "market"
    LIMIT_IOC = "limit_ioc"  # immediate-or-cancel, ``close_through_ticks`` through the touch


class MissingRate(StrEnum):
    """What a held currency without an exchange rate does (``on_missing_rate``)."""

    TRIP = "trip"  # fail closed: a loss that cannot be measured is not capped
    HOLD = "hold"  # count its last converted figure, zero if none, and warn


@dataclass(frozen=True)
class FeedSpec:
    """A checked feed: what to subscribe to and how long it may stay silent."""

    kind: DataKind
    instrument_id: InstrumentId
    bar_type: BarType | None
    stale_after: float

    @property
    def name(self) -> str:
        if self.bar_type is not None:
            return f"{self.bar_type} bars"
        return f"{self.instrument_id} {self.kind}s"


@dataclass(frozen=True)
class LimitSpec:
    """A checked loss limit: its kind, ceiling, scope and (daily) reset."""

    kind: LimitKind
    ceiling: Decimal  # the amount; for a percent limit, resolved when it arms (0 until then)
    currency: str  # "" for a percent limit until the ceiling currency is known (at start)
    strategy_id: StrategyId | None = None
    instrument_id: InstrumentId | None = None
    daily_reset: str = "17:00"
    daily_tz: str = "UTC"
    index: int = -1  # its place in ``limits`` (-1: the top-level ``max_loss``)
    percent: Decimal | None = None  # "2%": a share of the equity, the ceiling set at arming

    @property
    def name(self) -> str:
        return f"{self.kind} ({self.scope})"

    def describe(self) -> str:
        if self.percent is not None:
            return f"{self.percent}% of the equity ({self.currency or 'currency at start'})"
        return f"{self.ceiling} {self.currency}"

    @property
    def scope(self) -> str:
        return scope_of(self.strategy_id, self.instrument_id)


@dataclass(frozen=True)
class Settings:
    """The config, checked and turned into engine types, Decimals and enums."""

    feeds: tuple[FeedSpec, ...]
    ceiling: Decimal | None
    currency: str | None
    strategies: frozenset[StrategyId] | None
    hedge_tags: frozenset[str]
    hedge_strategies: frozenset[StrategyId]
    hedge_instruments: frozenset[InstrumentId]
    trading_state: TradingState | None
    confirm_timeout: float
    confirm_attempts: int
    close_tag: str
    rearm_cooldown: float
    limits: tuple[LimitSpec, ...] = ()  # every loss limit, the top-level max_loss first
    mark_with: tuple[DataKind, ...] = tuple(DataKind)
    mark_with_by_instrument: Mapping[InstrumentId, tuple[DataKind, ...]] = dataclass_field(
        default_factory=dict
    )
    on_missing_rate: MissingRate = MissingRate.TRIP
    event_log: str | None = None
    event_log_fsync: bool = False
    event_log_pnl_every: float = 10.0
    firm: FirmSettings | None = None  # node "" until the actor names it (its trader id)
    close_escalation: tuple[CloseType, ...] = tuple(CloseType)
    close_through_ticks: int = 10
    runaway: tuple[ScopedRunaway, ...] = ()  # the runaway guards, the top level's first
    alerting: AlertSettings = dataclass_field(default_factory=AlertSettings)  # alerting.py

    def marks_for(self, instrument_id: InstrumentId) -> tuple[DataKind, ...]:
        """The mark sources of one instrument, best first."""
        return self.mark_with_by_instrument.get(instrument_id, self.mark_with)

    @property
    def close_attempts(self) -> int:
        """Rounds of closes per position: ``confirm_attempts``, and at least one per
        order type of the escalation (each is tried before the watch gives up)."""
        return max(self.confirm_attempts, len(self.close_escalation))


def keep_settings(config: RiskWatchConfig) -> None:
    """Parse ``config`` (or raise ``RiskWatchConfigError``) and keep the settings with it:
    called by the struct as it is built, so it is parsed once."""
    config.__dict__[_KEPT] = _parse(config)


def settings_from(config: RiskWatchConfig) -> Settings:
    """The checked settings of ``config``: the ones kept when it was built, else (a
    subclass that did not call ``RiskWatchConfig.__post_init__``) parsed now."""
    kept = config.__dict__.get(_KEPT)
    return kept if isinstance(kept, Settings) else _parse(config)


def _parse(config: RiskWatchConfig) -> Settings:
    """Check ``config`` and return the settings, or raise ``RiskWatchConfigError``."""
    feeds = tuple(
        _feed(f"feeds[{i}]", raw) for i, raw in enumerate(parse.seq("feeds", config.feeds))
    )
    seen: dict[str, int] = {}
    for i, feed in enumerate(feeds):
        if feed.name in seen:
            raise RiskWatchConfigError(
                f"feeds[{i}]", feed.name, f"duplicate feed (same as feeds[{seen[feed.name]}])"
            )
        seen[feed.name] = i
    ceiling, currency, percent = parse.money("max_loss", config.max_loss)
    limits = tuple(
        spec for i, raw in enumerate(parse.seq("limits", config.limits)) for spec in _limits(i, raw)
    )
    runaway = runaway_settings(config)
    grosses = tuple(x.spec.gross.currency for x in runaway if x.spec.gross is not None)
    currency = _one_currency(config, currency, limits, grosses)
    if currency is not None:  # percent limits take the ceiling currency
        limits = tuple(
            replace(spec, currency=currency) if spec.percent is not None else spec
            for spec in limits
        )
        runaway = tuple(x.in_currency(currency) for x in runaway)
    if ceiling is not None or percent is not None:  # the first portfolio-wide limit
        top = LimitSpec(LimitKind.MAX_LOSS, ceiling or Decimal(0), currency or "", percent=percent)
        limits = (top, *limits)
    if not feeds and not limits and not runaway and config.firm is None:
        raise RiskWatchConfigError(
            "feeds/max_loss",
            None,
            "nothing to watch: give at least one feed, a loss limit or a runaway guard",
        )
    strategies = None
    if config.strategies is not None:
        strategies = frozenset(
            parse.strategy("strategies", s) for s in parse.seq("strategies", config.strategies)
        )
        if not strategies:
            raise RiskWatchConfigError(
                "strategies", config.strategies, "empty: use None to guard every strategy"
            )
    state = parse.choice("trading_state_on_trip", config.trading_state_on_trip, TripState)
    hedge_tags = frozenset(
        parse.text_of("hedge_tags", t) for t in parse.seq("hedge_tags", config.hedge_tags)
    )
    close_tag = parse.text_of("close_tag", config.close_tag)
    if close_tag in hedge_tags:
        raise RiskWatchConfigError(
            "close_tag",
            config.close_tag,
            "is also a hedge tag: the watch's closing orders would count as protective",
        )
    return Settings(
        feeds=feeds,
        ceiling=ceiling,
        currency=currency,
        strategies=strategies,
        hedge_tags=hedge_tags,
        hedge_strategies=frozenset(
            parse.strategy("hedge_strategies", s)
            for s in parse.seq("hedge_strategies", config.hedge_strategies)
        ),
        hedge_instruments=frozenset(
            parse.instrument("hedge_instruments", s)
            for s in parse.seq("hedge_instruments", config.hedge_instruments)
        ),
        trading_state=state.trading_state,
        confirm_timeout=parse.seconds("confirm_timeout", config.confirm_timeout),
        confirm_attempts=parse.count("confirm_attempts", config.confirm_attempts),
        close_tag=close_tag,
        rearm_cooldown=parse.cooldown("rearm_cooldown", config.rearm_cooldown),
        limits=limits,
        mark_with=_sources("mark_with", config.mark_with),
        mark_with_by_instrument=_sources_by_instrument(config.mark_with_by_instrument),
        event_log=None
        if config.event_log is None
        else parse.text_of("event_log", config.event_log),
        event_log_fsync=parse.flag("event_log_fsync", config.event_log_fsync),
        event_log_pnl_every=parse.seconds("event_log_pnl_every", config.event_log_pnl_every),
        firm=None
        if config.firm is None
        else firm_settings(config.firm, currency, any(x.scope == PORTFOLIO for x in limits)),
        on_missing_rate=parse.choice("on_missing_rate", config.on_missing_rate, MissingRate),
        close_escalation=_escalation(config.close_escalation),
        close_through_ticks=_through_ticks(config.close_through_ticks),
        runaway=runaway,
        alerting=alert_settings(config),
    )


def _one_currency(
    config: RiskWatchConfig,
    currency: str | None,
    limits: tuple[LimitSpec, ...],
    grosses: tuple[str, ...] = (),
) -> str | None:
    """The ceiling currency: every limit's and gross cap's (they must share one) or the
    named one; ``None`` when every one is in percent and none is named (found at start)."""
    currencies = {currency} | {spec.currency for spec in limits} | set(grosses)
    currencies.discard(None)
    currencies.discard("")  # percent limits: in whatever the ceiling currency is
    if len(currencies) > 1:
        raise RiskWatchConfigError(
            "limits",
            sorted(c for c in currencies if c),
            "all loss limits (and max_gross_exposure) must be in one currency",
        )
    named = None if config.currency is None else parse.currency("currency", config.currency)
    if named is not None and currencies and named not in currencies:
        raise RiskWatchConfigError(
            "currency",
            config.currency,
            f"differs from the loss limits' currency {sorted(c for c in currencies if c)[0]}",
        )
    return named or (currencies.pop() if currencies else None)


def _feed(field: str, raw: object) -> FeedSpec:
    feed = parse.struct(field, raw, WatchedFeed)
    kind = parse.choice(f"{field}.kind", feed.kind, DataKind)
    bound = parse.seconds(f"{field}.stale_after", feed.stale_after)
    if kind is DataKind.BAR:
        if feed.bar_type is None:
            raise RiskWatchConfigError(f"{field}.bar_type", None, "a bar feed needs a bar_type")
        try:
            bar_type = BarType.from_str(parse.text_of(f"{field}.bar_type", feed.bar_type))
        except ValueError as error:
            raise RiskWatchConfigError(f"{field}.bar_type", feed.bar_type, str(error)) from None
        if feed.instrument_id is not None:
            named = parse.instrument(f"{field}.instrument_id", feed.instrument_id)
            if named != bar_type.instrument_id:
                raise RiskWatchConfigError(
                    f"{field}.instrument_id",
                    feed.instrument_id,
                    f"differs from the bar type's instrument {bar_type.instrument_id}",
                )
        return FeedSpec(kind, bar_type.instrument_id, bar_type, bound)
    if feed.bar_type is not None:
        raise RiskWatchConfigError(
            f"{field}.bar_type", feed.bar_type, f"only for kind='bar', not {kind.value!r}"
        )
    if feed.instrument_id is None:
        raise RiskWatchConfigError(
            f"{field}.instrument_id", None, f"a {kind} feed needs an instrument_id"
        )
    instrument_id = parse.instrument(f"{field}.instrument_id", feed.instrument_id)
    return FeedSpec(kind, instrument_id, None, bound)


def _limits(index: int, raw: object) -> list[LimitSpec]:
    """One ``LossLimit`` entry: a spec per kind it sets, all with its scope and reset."""
    field = f"limits[{index}]"
    limit = parse.struct(field, raw, LossLimit)
    strategy, instrument = parse.scope(field, limit.strategy_id, limit.instrument_id)
    daily_reset = parse.time_of_day(f"{field}.daily_reset", limit.daily_reset)
    daily_tz = parse.zone(f"{field}.daily_tz", limit.daily_tz)
    specs = []
    for kind in LimitKind:
        amount, currency, percent = parse.money(f"{field}.{kind}", getattr(limit, kind.value))
        if amount is not None or percent is not None:
            specs.append(
                LimitSpec(
                    kind,
                    amount or Decimal(0),
                    currency or "",
                    strategy,
                    instrument,
                    daily_reset,
                    daily_tz,
                    index,
                    percent,
                )
            )
    if not specs and not any(getattr(limit, name) is not None for name in RUNAWAY_FIELDS):
        raise RiskWatchConfigError(
            field, limit, f"a limit needs max_loss, trailing, daily or one of {RUNAWAY_FIELDS}"
        )
    return specs


def _escalation(value: object) -> tuple[CloseType, ...]:
    """The close's order types, in order: at least one, each a known type."""
    named = parse.seq("close_escalation", value)
    if not named:
        raise RiskWatchConfigError(
            "close_escalation", value, f"empty: give at least one of {', '.join(CloseType)}"
        )
    known = {kind.value: kind for kind in CloseType}
    types = []
    for i, kind in enumerate(named):
        if not isinstance(kind, str) or kind not in known:
            raise RiskWatchConfigError(
                f"close_escalation[{i}]",
                kind,
                f"unknown order type (one of {', '.join(CloseType)})",
            )
        types.append(known[kind])
    return tuple(types)


def _through_ticks(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RiskWatchConfigError("close_through_ticks", value, "must be a whole number of ticks")
    if not 0 <= value <= MAX_THROUGH_TICKS:
        raise RiskWatchConfigError(
            "close_through_ticks", value, f"must be between 0 and {MAX_THROUGH_TICKS} ticks"
        )
    return value


def _sources(field: str, value: object) -> tuple[DataKind, ...]:
    kinds = tuple(
        parse.choice(f"{field}[{i}]", kind, DataKind)
        for i, kind in enumerate(parse.seq(field, value))
    )
    if not kinds:
        raise RiskWatchConfigError(
            field, value, f"empty: name one or more of {', '.join(DataKind)}"
        )
    if len(set(kinds)) != len(kinds):
        raise RiskWatchConfigError(field, value, "a source named twice")
    return kinds


def _sources_by_instrument(value: object) -> dict[InstrumentId, tuple[DataKind, ...]]:
    field = "mark_with_by_instrument"
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RiskWatchConfigError(field, value, "expected a dict of instrument id to sources")
    return {
        parse.instrument(f"{field}", key): _sources(f"{field}[{key!r}]", kinds)
        for key, kinds in value.items()
    }
