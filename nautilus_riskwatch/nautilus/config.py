"""Configuration: what an operator writes, and the checked settings the actor runs on.

The config classes are frozen msgspec structs, as NautilusTrader's own are, so they load
from ``ImportableActorConfig`` dicts of plain strings and numbers. Everything is checked
before the watch can start: a kill switch with a typo in it is worse than none, because it
is trusted. Every refusal is a ``RiskWatchConfigError`` naming the field and the value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from decimal import Decimal, InvalidOperation
from typing import TypeVar

import msgspec
from nautilus_trader.config import ActorConfig, NautilusConfig
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import TradingState
from nautilus_trader.model.identifiers import InstrumentId, StrategyId
from nautilus_trader.model.objects import Currency

from nautilus_riskwatch.core.record import PORTFOLIO, scope_of
from nautilus_riskwatch.errors import RiskWatchError
from nautilus_riskwatch.firm.link import check_firm_name
from nautilus_riskwatch.firm.member import (
    HEARTBEAT_POLICIES,
    LINK_LOST_POLICIES,
    START_POLICIES,
    FirmSettings,
)
from nautilus_riskwatch.firm.signing import FirmKeyError, check_key_text
from nautilus_riskwatch.firm.transport import Transport, TransportError, check_transport
from nautilus_riskwatch.nautilus.marks import MARK_SOURCES

FEED_KINDS = ("quote", "trade", "bar")
#: The longest bound, cooldown or timeout, in seconds (~31.7 years). The engine's clock holds
#: nanoseconds since 1970 in 64 bits (up to ~9.2e18 ns, the year 2262): now (~1.8e9 s) plus
#: this stays well inside it, while ~1.7e10 s gives an ``OverflowError`` inside the engine.
MAX_SECONDS = 1e9
_HH_MM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
#: A money amount as people write it: digits, an optional point and decimals. No exponent
#: (``1e-400``), no ``_`` or ``,`` separators, no sign; bounded so the ledger stays exact.
_MAX_DIGITS, _MAX_DECIMALS = 30, 16
_AMOUNT = re.compile(r"[0-9]{1,30}(\.[0-9]{1,16})?")
#: A share of the account equity: ``"2%"``, ``"0.5%"`` (more than 0, at most 100).
_PERCENT = re.compile(r"([0-9]{1,3}(\.[0-9]{1,16})?)\s*%")
_S = TypeVar("_S", bound=NautilusConfig)
TRIP_STATES = ("HALTED", "REDUCING", "ACTIVE")
#: The order types a close can be sent as (``close_escalation``).
MARKET, LIMIT_IOC = "market", "limit_ioc"
CLOSE_TYPES = (MARKET, LIMIT_IOC)
#: The farthest a limit close may be priced through the touch, in ticks.
MAX_THROUGH_TICKS = 1_000_000
MISSING_RATE_CHOICES = ("trip", "hold")


class RiskWatchConfigError(RiskWatchError, ValueError):
    """A config value the watch refuses, with the field and the value named."""

    def __init__(self, field: str, value: object, why: str) -> None:
        super().__init__(f"riskwatch config: {field}={value!r}: {why}")
        self.field = field
        self.value = value


class WatchedFeed(NautilusConfig, frozen=True, forbid_unknown_fields=True):
    """
    One market data stream the watch requires to keep talking.

    Parameters
    ----------
    stale_after : float
        Seconds of silence, on the engine's clock, after which the feed counts as dead and
        the watch trips. Pick it from the feed's own rhythm: a quiet market is not a dead
        feed, so give a quiet instrument a longer bound.
    instrument_id : str, optional
        The instrument, for ``kind="quote"`` or ``"trade"`` (e.g. ``"EUR/USD.SIM"``).
    kind : str, default "quote"
        ``"quote"``, ``"trade"`` or ``"bar"``.
    bar_type : str, optional
        The bar type, for ``kind="bar"`` (e.g. ``"EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"``).

    """

    stale_after: float
    instrument_id: str | None = None
    kind: str = "quote"
    bar_type: str | None = None


class LossLimit(NautilusConfig, frozen=True, forbid_unknown_fields=True):
    """
    One loss limit of the watch, over the whole book or one part of it.

    Parameters
    ----------
    max_loss : str, optional
        Session loss ceiling, e.g. ``"5000 USD"``: realized plus unrealized since start.
        Or a share of the account equity when the limit arms, e.g. ``"2%"``.
    trailing : str, optional
        Trailing drawdown ceiling from the PnL high-water mark, e.g. ``"2000 USD"`` or
        ``"1.5%"`` (of the equity when it arms).
    daily : str, optional
        Daily loss ceiling, e.g. ``"3000 USD"``: the loss since the last daily reset. In
        percent (``"1%"``), of the equity when it arms, re-based at each daily reset.
    daily_reset : str, default "17:00"
        The time of day (``HH:MM``) the daily loss starts again from zero.
    daily_tz : str, default "UTC"
        The IANA time zone of ``daily_reset`` (e.g. ``"America/New_York"``).
    strategy_id : str, optional
        Scope: only this strategy's PnL counts; a trip flattens and blocks only it.
    instrument_id : str, optional
        Scope: only this instrument's PnL counts; a trip flattens and blocks only it.
        Without ``strategy_id`` or ``instrument_id`` the limit is portfolio-wide and a
        trip takes the whole guarded book down.

    """

    max_loss: str | None = None
    trailing: str | None = None
    daily: str | None = None
    daily_reset: str = "17:00"
    daily_tz: str = "UTC"
    strategy_id: str | None = None
    instrument_id: str | None = None


class FirmConfig(NautilusConfig, frozen=True, forbid_unknown_fields=True):
    """
    The firm-wide kill switch: one latch in Redis shared by every node (live only).

    Parameters
    ----------
    url : str
        The Redis (>= 6.2) the nodes share: ``redis://[user:password@]host:port/db``, or
        ``rediss://`` for TLS. The password is never logged.
    name : str
        The firm's name: every key is ``riskwatch:{name}:...``.
    node : str, optional
        This node's name in the firm (default: the trader id).
    heartbeat : float, default 0.5
        Seconds between this node's heartbeats (its PnL and state; the ceiling check; a
        fresh read of the latch, which is how a missed message is caught up).
    heartbeat_ttl : float, optional
        Seconds of silence after which a node counts as lost (default 4 heartbeats).
    max_loss : str, optional
        The firm-wide loss ceiling, e.g. ``"20000 USD"``: the sum of every node's exact PnL
        (realized + unrealized since its start). Needs this node's own portfolio-wide loss
        limit in the same currency: the node reports the figure its ledger keeps for it.
    on_heartbeat_lost : str, default "trip"
        A node whose heartbeat expired: ``"trip"`` the firm (fail closed: its book is
        unwatched) or ``"count_last"`` (count its last figure).
    on_link_lost : str, default "trade_on"
        Redis gone mid-session: ``"trade_on"`` (local trips work as before; the trip is
        told when Redis returns) or ``"halt"`` after ``link_lost_after`` seconds.
    link_lost_after : float, default 5.0
        Seconds without Redis before ``on_link_lost="halt"`` trips this node.
    on_unreachable_at_start : str, default "halt"
        Redis does not answer the start check: ``"halt"`` (come up tripped: a node that
        cannot know whether the firm is tripped must not trade) or ``"trade_on"``.
    timeout : float, default 1.0
        Seconds for one Redis connect or command (also the bound of the start check).
    operator_key : str, optional
        The operator's Ed25519 public key (64 hex digits, from ``riskwatch firm keygen``):
        the only key that can re-arm the firm. Without it a firm re-arm cannot be verified,
        and this node stays halted after a firm trip until restarted.
    key_file : str, optional
        This node's own Ed25519 private key (a file from ``riskwatch firm keygen``). It
        signs the node's figures; once the operator ``enrol``s its public key, its figure
        counts toward the firm ceiling in full. Without it (or unenrolled) the node's
        figure counts only as a loss, never as a gain.
    password_env : str, optional
        An environment variable holding the Redis password, to keep it out of the URL and
        so out of any config NautilusTrader logs.
    tls_ca_file : str, optional
        With a ``rediss://`` URL: the PEM file of the CA the server's certificate must chain
        to (default: the system's CAs). The host name is always checked.
    tls_cert_file, tls_key_file : str, optional
        With a ``rediss://`` URL: this node's client certificate and key (PEM), for a server
        that requires one (``tls-auth-clients yes``). Both or neither.
    sentinels : tuple[str, ...], optional
        Redis Sentinel addresses (``"host:port"`` each): the node asks them where the
        primary is, and asks again after a failover. The URL then gives only the scheme
        (``rediss://``: TLS to the primary and the sentinels), user, password and database.
    sentinel_service : str, optional
        The name the sentinels monitor (``sentinel monitor <name> ...``); needs ``sentinels``.
    sentinel_password_env : str, optional
        An environment variable holding the sentinels' own password, if they have one.

    """

    # The defaults are the firm package's own (``FirmSettings``): one place for each.
    url: str
    name: str
    node: str | None = None
    heartbeat: float = FirmSettings.heartbeat
    heartbeat_ttl: float | None = None  # 4 heartbeats
    max_loss: str | None = None
    on_heartbeat_lost: str = FirmSettings.on_heartbeat_lost
    on_link_lost: str = FirmSettings.on_link_lost
    link_lost_after: float = FirmSettings.link_lost_after
    on_unreachable_at_start: str = FirmSettings.on_unreachable_at_start
    timeout: float = FirmSettings.timeout
    operator_key: str | None = None
    key_file: str | None = None
    password_env: str | None = None
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    sentinels: tuple[str, ...] | None = None
    sentinel_service: str | None = None
    sentinel_password_env: str | None = None


class RiskWatchConfig(ActorConfig, frozen=True, forbid_unknown_fields=True):
    """
    Configuration for ``RiskWatch``.

    Parameters
    ----------
    feeds : tuple[WatchedFeed, ...]
        The feeds whose silence trips the watch (a dict per feed from an importable config).
    max_loss : str, optional
        The loss ceiling as a money string, e.g. ``"5000 USD"``: realized plus unrealized
        PnL of the guarded strategies since the watch started, commissions included. It is
        compared exactly, as a ``Decimal``; the trip is at ``loss >= ceiling``. Or
        ``"2%"``: that share of the account equity (every account, in the ceiling currency)
        when the watch arms.
    strategies : tuple[str, ...], optional
        Strategy ids the watch guards (their orders are cancelled, positions flattened, PnL
        counted). ``None`` (default) guards every strategy.
    hedge_tags : tuple[str, ...], default ()
        Order tags marking protective orders; a position opened by such an order is a
        protective hedge. Both survive a trip.
    hedge_strategies : tuple[str, ...], default ()
        Strategy ids whose orders and positions are protective.
    hedge_instruments : tuple[str, ...], default ()
        Instrument ids whose orders and positions are protective.
    trading_state_on_trip : str, default "HALTED"
        ``"HALTED"`` (nobody adds risk; the watch's own closes bypass the gate),
        ``"REDUCING"``, or ``"ACTIVE"`` to leave the trading state alone.
    confirm_timeout : float, default 5.0
        Seconds, on the engine's clock, to wait for the cancels (then the closes) of one
        attempt to be confirmed before asking again.
    confirm_attempts : int, default 3
        How often cancels and closes are sent before the rest is recorded as unconfirmed.
    close_tag : str, default "RISKWATCH"
        Tag on every closing order the watch sends, so they are easy to tell apart.
    close_escalation : tuple[str, ...], default ("market", "limit_ioc")
        The order types a close is sent as, in order: each time the venue refuses a close
        of a position (rejected, denied, or ended with nothing filled) the next one is
        sent, the last one repeated. ``"market"``; ``"limit_ioc"``: an immediate-or-cancel
        limit ``close_through_ticks`` through the touch (a venue that refuses market
        orders in some market states often takes a marketable limit).
    close_through_ticks : int, default 10
        How far through the touch a ``"limit_ioc"`` close is priced, in the instrument's
        price ticks (a SELL that far below the bid, a BUY above the ask); 0 is at the touch.
    rearm_cooldown : float, default 0.0
        Seconds (engine clock) after a cascade finishes before a re-arm is accepted.
    limits : tuple[LossLimit, ...], default ()
        More loss limits: trailing drawdown, daily loss, and limits scoped to one strategy
        or one instrument (a dict per limit from an importable config).
    mark_with : tuple[str, ...], default ("quote", "trade", "bar")
        The market data positions are marked with, best first: each side of an
        instrument takes its price from the best of these that has priced it (quotes:
        longs at the bid, shorts at the ask; trades: the last price; bars: the close, by
        the bar's price type). A kind left out is never used nor subscribed to.
    mark_with_by_instrument : dict[str, tuple[str, ...]], optional
        ``mark_with`` for single instruments, e.g. ``{"BTCUSDT-PERP.BINANCE": ["bar"]}``.
    event_log : str, optional
        Path of an append-only JSON-lines file that gets every runtime event (armed, trip,
        stages, commands, confirmations, timeouts, retries, denials, the record) as it
        happens. The events always go to the actor's log; this also keeps them on disk,
        line by line, so a crash mid-cascade leaves every step up to the crash.
    event_log_fsync : bool, default False
        Also ``fsync`` each line: it then survives a power cut or a kernel crash, not only
        a process crash, at the cost of a disk round trip per line inside the cascade.
    event_log_pnl_every : float, default 10.0
        Seconds (engine clock) between PnL samples in the ``event_log`` file, for drawing
        the trip picture from the file alone; fills and the trip are written as well.
    firm : FirmConfig, optional
        Join a firm-wide kill switch in Redis (live nodes only; off by default).
    currency : str, optional
        The ceiling currency. Needed only when every limit is in percent and the accounts do
        not share one base currency; if limits name money, it must be theirs.
    on_missing_rate : str, default "trip"
        A currency is held and there is no exchange rate to the ceiling currency yet:
        ``"trip"`` (fail closed: a loss that cannot be measured is not capped) or
        ``"hold"`` (count its last converted figure, zero if none, and warn).

    """

    feeds: tuple[WatchedFeed, ...] = ()
    max_loss: str | None = None
    strategies: tuple[str, ...] | None = None
    hedge_tags: tuple[str, ...] = ()
    hedge_strategies: tuple[str, ...] = ()
    hedge_instruments: tuple[str, ...] = ()
    trading_state_on_trip: str = "HALTED"
    confirm_timeout: float = 5.0
    confirm_attempts: int = 3
    close_tag: str = "RISKWATCH"
    close_escalation: tuple[str, ...] = CLOSE_TYPES
    close_through_ticks: int = 10
    rearm_cooldown: float = 0.0
    limits: tuple[LossLimit, ...] = ()
    mark_with: tuple[str, ...] = MARK_SOURCES
    mark_with_by_instrument: dict[str, tuple[str, ...]] | None = None
    event_log: str | None = None
    event_log_fsync: bool = False
    event_log_pnl_every: float = 10.0
    firm: FirmConfig | None = None
    currency: str | None = None
    on_missing_rate: str = "trip"

    def __post_init__(self) -> None:
        settings_from(self)  # refuse a bad config when it is built, not at the first trip


@dataclass(frozen=True)
class FeedSpec:
    """A checked feed: what to subscribe to and how long it may stay silent."""

    kind: str
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

    kind: str  # "max_loss", "trailing" or "daily"
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
    """The config, checked and turned into engine types and Decimals."""

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
    mark_with: tuple[str, ...] = MARK_SOURCES
    mark_with_by_instrument: Mapping[InstrumentId, tuple[str, ...]] = dataclass_field(
        default_factory=dict
    )
    on_missing_rate: str = "trip"

    def marks_for(self, instrument_id: InstrumentId) -> tuple[str, ...]:
        """The mark sources of one instrument, best first."""
        return self.mark_with_by_instrument.get(instrument_id, self.mark_with)

    event_log: str | None = None
    event_log_fsync: bool = False
    event_log_pnl_every: float = 10.0
    firm: FirmSettings | None = None  # node "" until the actor names it (its trader id)
    close_escalation: tuple[str, ...] = CLOSE_TYPES
    close_through_ticks: int = 10

    @property
    def close_attempts(self) -> int:
        """Rounds of closes per position: ``confirm_attempts``, and at least one per
        order type of the escalation (each is tried before the watch gives up)."""
        return max(self.confirm_attempts, len(self.close_escalation))


def settings_from(config: RiskWatchConfig) -> Settings:
    """Check ``config`` and return the settings, or raise ``RiskWatchConfigError``."""
    feeds = tuple(_feed(f"feeds[{i}]", raw) for i, raw in enumerate(_seq("feeds", config.feeds)))
    seen: dict[str, int] = {}
    for i, feed in enumerate(feeds):
        if feed.name in seen:
            raise RiskWatchConfigError(
                f"feeds[{i}]", feed.name, f"duplicate feed (same as feeds[{seen[feed.name]}])"
            )
        seen[feed.name] = i
    ceiling, currency, percent = _money("max_loss", config.max_loss)
    limits = tuple(
        spec for i, raw in enumerate(_seq("limits", config.limits)) for spec in _limits(i, raw)
    )
    currencies = {currency} | {spec.currency for spec in limits}
    currencies.discard(None)
    currencies.discard("")  # percent limits: in whatever the ceiling currency is
    if len(currencies) > 1:
        raise RiskWatchConfigError(
            "limits", sorted(c for c in currencies if c), "all loss limits must be in one currency"
        )
    named = None if config.currency is None else _currency("currency", config.currency)
    if named is not None and currencies and named not in currencies:
        raise RiskWatchConfigError(
            "currency",
            config.currency,
            f"differs from the loss limits' currency {sorted(c for c in currencies if c)[0]}",
        )
    currency = named or (currencies.pop() if currencies else None)
    if currency is not None:  # percent limits take the ceiling currency
        limits = tuple(
            replace(spec, currency=currency) if spec.percent is not None else spec
            for spec in limits
        )
    if ceiling is not None or percent is not None:  # the first portfolio-wide limit
        limits = (
            LimitSpec("max_loss", ceiling or Decimal(0), currency or "", percent=percent),
            *limits,
        )
    if not feeds and not limits and config.firm is None:
        raise RiskWatchConfigError(
            "feeds/max_loss", None, "nothing to watch: give at least one feed or a loss limit"
        )
    strategies = None
    if config.strategies is not None:
        strategies = frozenset(
            _strategy("strategies", s) for s in _seq("strategies", config.strategies)
        )
        if not strategies:
            raise RiskWatchConfigError(
                "strategies", config.strategies, "empty: use None to guard every strategy"
            )
    state = _choice("trading_state_on_trip", config.trading_state_on_trip, TRIP_STATES)
    hedge_tags = frozenset(_text("hedge_tags", t) for t in _seq("hedge_tags", config.hedge_tags))
    close_tag = _text("close_tag", config.close_tag)
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
            _strategy("hedge_strategies", s)
            for s in _seq("hedge_strategies", config.hedge_strategies)
        ),
        hedge_instruments=frozenset(
            _instrument("hedge_instruments", s)
            for s in _seq("hedge_instruments", config.hedge_instruments)
        ),
        trading_state=None if state == "ACTIVE" else TradingState[state],
        confirm_timeout=_seconds("confirm_timeout", config.confirm_timeout),
        confirm_attempts=_count("confirm_attempts", config.confirm_attempts),
        close_tag=close_tag,
        rearm_cooldown=_cooldown("rearm_cooldown", config.rearm_cooldown),
        limits=limits,
        mark_with=_sources("mark_with", config.mark_with),
        mark_with_by_instrument=_sources_by_instrument(config.mark_with_by_instrument),
        event_log=None if config.event_log is None else _text("event_log", config.event_log),
        event_log_fsync=_flag("event_log_fsync", config.event_log_fsync),
        event_log_pnl_every=_seconds("event_log_pnl_every", config.event_log_pnl_every),
        firm=None if config.firm is None else _firm(config.firm, currency, limits),
        on_missing_rate=_choice("on_missing_rate", config.on_missing_rate, MISSING_RATE_CHOICES),
        close_escalation=_escalation(config.close_escalation),
        close_through_ticks=_through_ticks(config.close_through_ticks),
    )


def _escalation(value: object) -> tuple[str, ...]:
    """The close's order types, in order: at least one, each a known type."""
    types = tuple(_seq("close_escalation", value))
    if not types:
        raise RiskWatchConfigError(
            "close_escalation", value, f"empty: give at least one of {', '.join(CLOSE_TYPES)}"
        )
    for i, kind in enumerate(types):
        if kind not in CLOSE_TYPES:
            raise RiskWatchConfigError(
                f"close_escalation[{i}]",
                kind,
                f"unknown order type (one of {', '.join(CLOSE_TYPES)})",
            )
    return types  # type: ignore[return-value]


def _through_ticks(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RiskWatchConfigError("close_through_ticks", value, "must be a whole number of ticks")
    if not 0 <= value <= MAX_THROUGH_TICKS:
        raise RiskWatchConfigError(
            "close_through_ticks", value, f"must be between 0 and {MAX_THROUGH_TICKS} ticks"
        )
    return value


def _firm(raw: object, currency: str | None, limits: tuple[LimitSpec, ...]) -> FirmSettings:
    """Check the firm section; the node's private key is read at start, never kept here."""
    raw = _struct("firm", raw, FirmConfig)
    url = _text("firm.url", raw.url)
    transport = _transport(url, raw)
    try:
        name = check_firm_name(_text("firm.name", raw.name))
    except ValueError as error:
        raise RiskWatchConfigError("firm.name", raw.name, str(error)) from None
    heartbeat = _seconds("firm.heartbeat", raw.heartbeat)
    ttl = 4 * heartbeat if raw.heartbeat_ttl is None else _seconds("firm.ttl", raw.heartbeat_ttl)
    if ttl <= heartbeat:
        raise RiskWatchConfigError("firm.heartbeat_ttl", ttl, "must be longer than a heartbeat")
    ceiling, firm_currency, firm_percent = _money("firm.max_loss", raw.max_loss)
    if firm_percent is not None:
        raise RiskWatchConfigError(
            "firm.max_loss",
            raw.max_loss,
            "the firm ceiling is an amount (e.g. '50000 USD'): nodes' equities are not summed",
        )
    if ceiling is not None:
        if not any(limit.scope == PORTFOLIO for limit in limits):
            raise RiskWatchConfigError(
                "firm.max_loss",
                raw.max_loss,
                "needs this node's own portfolio-wide loss limit (max_loss) in the same "
                "currency: the node reports the exact PnL its ledger keeps",
            )
        if firm_currency != currency:
            raise RiskWatchConfigError(
                "firm.max_loss", raw.max_loss, f"the node's loss limits are in {currency}"
            )
    if raw.node is not None:
        _text("firm.node", raw.node)
    operator_key = ""
    if raw.operator_key is not None:
        operator_key = _text("firm.operator_key", raw.operator_key).strip()
        try:
            operator_key = check_key_text(operator_key)
        except FirmKeyError as error:
            raise RiskWatchConfigError("firm.operator_key", raw.operator_key, str(error)) from None
    if raw.key_file is not None:
        _text("firm.key_file", raw.key_file)
    return FirmSettings(
        url=url,
        firm=name,
        node=raw.node or "",
        heartbeat=heartbeat,
        heartbeat_ttl=ttl,
        max_loss=ceiling,
        currency=firm_currency or currency or "",
        on_heartbeat_lost=_choice(
            "firm.on_heartbeat_lost", raw.on_heartbeat_lost, HEARTBEAT_POLICIES
        ),
        on_link_lost=_choice("firm.on_link_lost", raw.on_link_lost, LINK_LOST_POLICIES),
        link_lost_after=_seconds("firm.link_lost_after", raw.link_lost_after),
        on_unreachable_at_start=_choice(
            "firm.on_unreachable_at_start", raw.on_unreachable_at_start, START_POLICIES
        ),
        timeout=_seconds("firm.timeout", raw.timeout),
        operator_key=operator_key,
        key_file=raw.key_file,
        password_env=None
        if raw.password_env is None
        else _text("firm.password_env", raw.password_env),
        transport=transport,
    )


def _transport(url: str, raw: FirmConfig) -> Transport:
    """The firm's TLS and Sentinel settings, checked (files must exist now)."""
    try:
        return check_transport(
            url,
            tls_ca_file=raw.tls_ca_file,
            tls_cert_file=raw.tls_cert_file,
            tls_key_file=raw.tls_key_file,
            sentinels=None if raw.sentinels is None else list(raw.sentinels),
            sentinel_service=raw.sentinel_service,
            sentinel_password_env=raw.sentinel_password_env,
        )
    except TransportError as error:
        raise RiskWatchConfigError(f"firm.{error.field}", error.value, error.why) from None


def _sources(field: str, value: object) -> tuple[str, ...]:
    kinds = tuple(
        _choice(f"{field}[{i}]", kind, MARK_SOURCES) for i, kind in enumerate(_seq(field, value))
    )
    if not kinds:
        raise RiskWatchConfigError(field, value, f"empty: name one or more of {MARK_SOURCES}")
    if len(set(kinds)) != len(kinds):
        raise RiskWatchConfigError(field, value, "a source named twice")
    return kinds


def _sources_by_instrument(value: object) -> dict[InstrumentId, tuple[str, ...]]:
    field = "mark_with_by_instrument"
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RiskWatchConfigError(field, value, "expected a dict of instrument id to sources")
    return {
        _instrument(f"{field}", key): _sources(f"{field}[{key!r}]", kinds)
        for key, kinds in value.items()
    }


def _struct(field: str, raw: object, cls: type[_S]) -> _S:
    """A nested config from a dict (as a direct, unvalidated construction leaves it)."""
    if isinstance(raw, dict):
        known = cls.__struct_fields__
        for key in raw:
            if key not in known:
                raise RiskWatchConfigError(
                    f"{field}.{key}", raw[key], f"unknown field; expected {', '.join(known)}"
                )
        required = [f.name for f in msgspec.structs.fields(cls) if f.required and f.name not in raw]
        if required:
            raise RiskWatchConfigError(f"{field}.{required[0]}", None, "a required field")
        raw = cls(**raw)
    if not isinstance(raw, cls):
        raise RiskWatchConfigError(field, raw, f"expected a {cls.__name__} or a dict")
    return raw


def _feed(field: str, raw: object) -> FeedSpec:
    raw = _struct(field, raw, WatchedFeed)
    kind = _choice(f"{field}.kind", raw.kind, FEED_KINDS)
    bound = _seconds(f"{field}.stale_after", raw.stale_after)
    if kind == "bar":
        if raw.bar_type is None:
            raise RiskWatchConfigError(f"{field}.bar_type", None, "a bar feed needs a bar_type")
        try:
            bar_type = BarType.from_str(_text(f"{field}.bar_type", raw.bar_type))
        except ValueError as error:
            raise RiskWatchConfigError(f"{field}.bar_type", raw.bar_type, str(error)) from None
        if raw.instrument_id is not None:
            named = _instrument(f"{field}.instrument_id", raw.instrument_id)
            if named != bar_type.instrument_id:
                raise RiskWatchConfigError(
                    f"{field}.instrument_id",
                    raw.instrument_id,
                    f"differs from the bar type's instrument {bar_type.instrument_id}",
                )
        return FeedSpec(kind, bar_type.instrument_id, bar_type, bound)
    if raw.bar_type is not None:
        raise RiskWatchConfigError(
            f"{field}.bar_type", raw.bar_type, f"only for kind='bar', not {kind!r}"
        )
    if raw.instrument_id is None:
        raise RiskWatchConfigError(
            f"{field}.instrument_id", None, f"a {kind} feed needs an instrument_id"
        )
    return FeedSpec(kind, _instrument(f"{field}.instrument_id", raw.instrument_id), None, bound)


def _limits(index: int, raw: object) -> list[LimitSpec]:
    field = f"limits[{index}]"
    raw = _struct(field, raw, LossLimit)
    strategy = (
        None if raw.strategy_id is None else _strategy(f"{field}.strategy_id", raw.strategy_id)
    )
    instrument = (
        None
        if raw.instrument_id is None
        else _instrument(f"{field}.instrument_id", raw.instrument_id)
    )
    if strategy is not None and instrument is not None:
        raise RiskWatchConfigError(
            f"{field}.instrument_id",
            raw.instrument_id,
            "a limit has one scope: a strategy or an instrument",
        )
    daily_reset = _time_of_day(f"{field}.daily_reset", raw.daily_reset)
    daily_tz = _zone(f"{field}.daily_tz", raw.daily_tz)
    specs = []
    for kind in ("max_loss", "trailing", "daily"):
        amount, currency, percent = _money(f"{field}.{kind}", getattr(raw, kind))
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
    if not specs:
        raise RiskWatchConfigError(field, raw, "a limit needs max_loss, trailing or daily")
    return specs


def _time_of_day(field: str, value: object) -> str:
    """``HH:MM`` exactly (two digits each, 00:00 to 23:59), surrounding blanks dropped; the
    stripped text is what is stored, so the engine never meets what was refused here."""
    text = _text(field, value)
    if _HH_MM.fullmatch(text) is None:
        raise RiskWatchConfigError(field, value, "expected a time of day as 'HH:MM'")
    return text


def _zone(field: str, value: object) -> str:
    from zoneinfo import ZoneInfo

    text = _text(field, value)
    try:
        ZoneInfo(text)
    except Exception:
        raise RiskWatchConfigError(field, value, "unknown time zone (IANA name expected)") from None
    return text


def _money(field: str, value: object) -> tuple[Decimal | None, str | None, Decimal | None]:
    """``"5000 USD"`` -> (amount, currency, None); ``"2%"`` -> (None, None, percent)."""
    if value is None:
        return None, None, None
    text = _text(field, value)
    if text.endswith("%"):
        share = _PERCENT.fullmatch(text)
        percent = Decimal(share[1]) if share is not None else None
        if percent is None or not 0 < percent <= 100:
            raise RiskWatchConfigError(
                field,
                value,
                "a share of the equity is written as a number more than 0 and at most 100 "
                "followed by '%', e.g. '2%' or '0.5%'",
            )
        return None, None, percent
    parts = text.split()
    if len(parts) != 2:
        raise RiskWatchConfigError(
            field, value, "expected '<amount> <currency>' (e.g. '5000 USD') or a share '2%'"
        )
    if _AMOUNT.fullmatch(parts[0]) is None:
        raise RiskWatchConfigError(
            field,
            value,
            f"{parts[0]!r} is not a number written as plain digits (e.g. '5000' or "
            f"'1234.56'; at most {_MAX_DIGITS} digits before the point, {_MAX_DECIMALS} after)",
        )
    try:
        amount = Decimal(parts[0])
    except InvalidOperation:
        raise RiskWatchConfigError(field, value, f"{parts[0]!r} is not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise RiskWatchConfigError(field, value, "the ceiling must be a positive, finite amount")
    return amount, _currency(field, parts[1], value), None


def _currency(field: str, code: object, value: object = None) -> str:
    """A currency code NautilusTrader knows (strictly: no made-up codes)."""
    try:
        currency = Currency.from_str(_text(field, code), strict=True)
    except RiskWatchConfigError:
        raise
    except Exception:
        currency = None
    if currency is None:
        raise RiskWatchConfigError(
            field, code if value is None else value, f"unknown currency {code!r}"
        )
    return currency.code


def _seconds(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RiskWatchConfigError(field, value, "expected a number of seconds")
    if not math.isfinite(value) or value <= 0:
        raise RiskWatchConfigError(field, value, "must be a positive, finite number of seconds")
    return _bounded(field, value)


def _cooldown(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RiskWatchConfigError(field, value, "expected a number of seconds")
    if not math.isfinite(value) or value < 0:
        raise RiskWatchConfigError(field, value, "must be a finite number of seconds >= 0")
    return _bounded(field, value)


def _bounded(field: str, value: float) -> float:
    if value > MAX_SECONDS:
        raise RiskWatchConfigError(
            field,
            value,
            f"more than {MAX_SECONDS:.0e} s: the engine clock counts nanoseconds since 1970 "
            "in 64 bits, and a deadline that far out would overflow it",
        )
    return float(value)


def _count(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RiskWatchConfigError(field, value, "expected a whole number >= 1")
    return value


def _flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise RiskWatchConfigError(field, value, "expected true or false")
    return value


def _text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RiskWatchConfigError(field, value, "expected a non-empty string")
    return value.strip()


def _seq(field: str, value: object) -> tuple[object, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise RiskWatchConfigError(field, value, "expected a list")
    return tuple(value)


def _choice(field: str, value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise RiskWatchConfigError(field, value, f"expected one of {', '.join(allowed)}")
    return str(value)


def _instrument(field: str, value: object) -> InstrumentId:
    text = _text(field, value)
    try:
        return InstrumentId.from_str(text)
    except ValueError as error:
        raise RiskWatchConfigError(field, value, f"not an instrument id ({error})") from None


def _strategy(field: str, value: object) -> StrategyId:
    text = _text(field, value)
    try:
        return StrategyId(text)
    except ValueError as error:
        raise RiskWatchConfigError(field, value, f"not a strategy id ({error})") from None
