"""Configuration: what an operator writes, as frozen msgspec structs and their docs.

The config classes are frozen msgspec structs, as NautilusTrader's own are, so they load
from ``ImportableActorConfig`` dicts of plain strings and numbers. Everything is checked
when a ``RiskWatchConfig`` is built: a kill switch with a typo in it is worse than none,
because it is trusted. Every refusal is a ``RiskWatchConfigError`` naming the field and the
value. The checking, and the ``Settings`` the watch runs on, are ``settings.py``'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from nautilus_trader.config import ActorConfig, NautilusConfig

from nautilus_riskwatch.errors import RiskWatchConfigError
from nautilus_riskwatch.firm.settings import FirmSettings
from nautilus_riskwatch.nautilus.wording import ConfigMeta, reworded

__all__ = ["FirmConfig", "LossLimit", "RiskWatchConfig", "RiskWatchConfigError", "WatchedFeed"]


class WatchedFeed(NautilusConfig, frozen=True, forbid_unknown_fields=True, metaclass=ConfigMeta):
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


class LossLimit(NautilusConfig, frozen=True, forbid_unknown_fields=True, metaclass=ConfigMeta):
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
    max_order_rate : str, optional
        Trip when more than N orders of the scope were submitted within a window, as
        ``"N/HH:MM:SS"`` (NautilusTrader's ``max_order_submit_rate`` form; seconds may carry
        up to nine decimals): on any path, denied ones included, the watch's closes not.
    max_reject_rate : str, optional
        Trip when more than N orders of the scope were refused within a window
        (``"N/HH:MM:SS"``): denied, rejected, a modify or a cancel rejected.
    max_fill_rate : str, optional
        Trip when more than N fills of the scope came within a window
        (``"N/HH:MM:SS"``): the execution throttle. The watch's own closes do not count.
    max_position : Mapping[str, int | str], optional
        The most absolute net quantity the scope may hold per instrument, e.g.
        ``{"EUR/USD.SIM": 500000}`` (a whole number or a decimal string): trips at the
        fill that takes it over (equal to the cap does not trip).
    max_gross_exposure : str, optional
        The most gross exposure of the scope (the sum over instruments of |net| x mark x
        multiplier, a long at the bid, a short at the ask) in the ceiling currency, e.g.
        ``"600000 USD"``, or a share of the account equity when the guard arms, e.g.
        ``"300%"`` (up to ``"999%"``: a gross exposure may be a multiple of the equity).
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
    max_order_rate: str | None = None
    max_reject_rate: str | None = None
    max_fill_rate: str | None = None
    max_position: Mapping[str, int | str] | None = None
    max_gross_exposure: str | None = None
    strategy_id: str | None = None
    instrument_id: str | None = None


class FirmConfig(NautilusConfig, frozen=True, forbid_unknown_fields=True, metaclass=ConfigMeta):
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
    epoch_file : str, optional
        A file where this node keeps the highest firm epoch it has seen, that trip and the
        operator's re-arm of it (written by the node). A node started while no other runs
        then refuses a latch that someone with Redis write access set back to an older,
        genuinely re-armed epoch: it halts and puts the newer trip back. Without it, such
        a node has only Redis to go by.
    password_env : str, optional
        An environment variable holding the Redis password, to keep it out of the URL and
        so out of any config NautilusTrader logs.
    tls_ca_file : str, optional
        With a ``rediss://`` URL: the PEM file of the CA the server's certificate must chain
        to (default: the system's CAs). The host name is always checked.
    tls_cert_file, tls_key_file : str, optional
        With a ``rediss://`` URL: this node's client certificate and key (PEM), for a server
        that requires one (``tls-auth-clients yes``). Both or neither.
    sentinels : Sequence[str], optional
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
    epoch_file: str | None = None
    password_env: str | None = None
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    sentinels: Sequence[str] | None = None
    sentinel_service: str | None = None
    sentinel_password_env: str | None = None


class RiskWatchConfig(
    ActorConfig, frozen=True, dict=True, forbid_unknown_fields=True, metaclass=ConfigMeta
):
    """
    Configuration for ``RiskWatch``.

    Parameters
    ----------
    feeds : Sequence[WatchedFeed]
        The feeds whose silence trips the watch (a dict per feed from an importable config).
    max_loss : str, optional
        The loss ceiling as a money string, e.g. ``"5000 USD"``: realized plus unrealized
        PnL of the guarded strategies since the watch started, commissions included. It is
        compared exactly, as a ``Decimal``; the trip is at ``loss >= ceiling``. Or
        ``"2%"``: that share of the account equity (every account, in the ceiling currency)
        when the watch arms.
    strategies : Sequence[str], optional
        Strategy ids the watch guards (their orders are cancelled, positions flattened, PnL
        counted). ``None`` (default) guards every strategy.
    hedge_tags : Sequence[str], default ()
        Order tags marking protective orders; a position opened by such an order is a
        protective hedge. Both survive a trip.
    hedge_strategies : Sequence[str], default ()
        Strategy ids whose orders and positions are protective.
    hedge_instruments : Sequence[str], default ()
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
    close_escalation : Sequence[str], default ("market", "limit_ioc")
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
    limits : Sequence[LossLimit], default ()
        More loss limits: trailing drawdown, daily loss, and limits scoped to one strategy
        or one instrument (a dict per limit from an importable config).
    mark_with : Sequence[str], default ("quote", "trade", "bar")
        The market data positions are marked with, best first: each side of an
        instrument takes its price from the best of these that has priced it (quotes:
        longs at the bid, shorts at the ask; trades: the last price; bars: the close, by
        the bar's price type). A kind left out is never used nor subscribed to.
    mark_with_by_instrument : Mapping[str, Sequence[str]], optional
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
    max_order_rate : str, optional
        Trip when more than N orders of the guarded strategies were submitted within a
        window, as ``"N/HH:MM:SS"`` (NautilusTrader's ``max_order_submit_rate`` form;
        seconds may carry up to nine decimals): on any path, denied ones included, the
        watch's closes not. In a scoped ``limits`` entry, over that scope alone.
    max_reject_rate : str, optional
        Trip when more than N of their orders were refused within a window
        (``"N/HH:MM:SS"``): denied, rejected, a modify or a cancel rejected.
    max_fill_rate : str, optional
        Trip when more than N of their fills came within a window (``"N/HH:MM:SS"``): the
        execution throttle. The watch's own closes do not count.
    max_position : Mapping[str, int | str], optional
        The most absolute net quantity they may hold per instrument, e.g.
        ``{"EUR/USD.SIM": 500000}`` (a whole number or a decimal string): trips at the
        fill that takes it over (equal to the cap does not trip).
    max_gross_exposure : str, optional
        The most gross exposure (the sum over instruments of |net| x mark x multiplier, a
        long at the bid, a short at the ask) in the ceiling currency, e.g. ``"600000 USD"``,
        or a share of the account equity when the guard arms, e.g. ``"300%"`` (up to
        ``"999%"``: a gross exposure may be a multiple of the equity).
    alerts : Sequence[str], default ()
        Apprise URLs, one per destination (``tgram://...``, ``slack://...``, ``json://...``):
        the trip, the cascade's end, warnings and firm events are sent to each, off the
        watch's path. Each is checked here (a bad one is refused naming ``alerts[i]``, its
        secrets redacted). Needs the ``[alerts]`` extra. See docs/alerts.md.
    alerts_timeout : float, default 5.0
        Seconds to connect, and to wait for each read, of one send.
    alerts_retries : int, default 3
        Further attempts after a failed send (backing off 1 s, 2 s, 4 s ... at most 30 s).
    alerts_queue : int, default 256
        Alerts waiting per destination; past it the newest is dropped and counted.
    alerts_in_backtest : bool, default False
        Send to the URLs in a backtest too; by default a backtest sends nothing and writes
        each alert to the event log as what would have been sent.
    warn_at : Sequence[float | str], default ()
        Warn when a limit's figure reaches these fractions of its ceiling, e.g.
        ``[0.5, 0.8]`` (each above 0 and below 1, increasing).
    warn_hysteresis : float | str, default 0.1
        A level warns again only after the figure fell this share of the ceiling below it.
    feed_warn_at : Sequence[float | str], default ()
        Warn when a feed has been silent for these fractions of its ``stale_after``.
    metrics_port : int, optional
        Serve Prometheus metrics on this port (off by default; 0: any free port); a port
        already taken is refused at start naming ``metrics_port``. Needs the ``[metrics]``
        extra.
    metrics_host : str, default "127.0.0.1"
        The address the metrics are served on (``"0.0.0.0"``: every interface).

    """

    feeds: Sequence[WatchedFeed] = ()
    max_loss: str | None = None
    strategies: Sequence[str] | None = None
    hedge_tags: Sequence[str] = ()
    hedge_strategies: Sequence[str] = ()
    hedge_instruments: Sequence[str] = ()
    trading_state_on_trip: str = "HALTED"
    confirm_timeout: float = 5.0
    confirm_attempts: int = 3
    close_tag: str = "RISKWATCH"
    close_escalation: Sequence[str] = ("market", "limit_ioc")
    close_through_ticks: int = 10
    rearm_cooldown: float = 0.0
    limits: Sequence[LossLimit] = ()
    mark_with: Sequence[str] = ("quote", "trade", "bar")
    mark_with_by_instrument: Mapping[str, Sequence[str]] | None = None
    event_log: str | None = None
    event_log_fsync: bool = False
    event_log_pnl_every: float = 10.0
    firm: FirmConfig | None = None
    currency: str | None = None
    on_missing_rate: str = "trip"
    max_order_rate: str | None = None
    max_reject_rate: str | None = None
    max_fill_rate: str | None = None
    max_position: Mapping[str, int | str] | None = None
    max_gross_exposure: str | None = None
    alerts: Sequence[str] = ()
    alerts_timeout: float = 5.0
    alerts_retries: int = 3
    alerts_queue: int = 256
    alerts_in_backtest: bool = False
    warn_at: Sequence[float | str] = ()
    warn_hysteresis: float | str = 0.1
    feed_warn_at: Sequence[float | str] = ()
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        """Parse the config once, here, as it is built (by hand, from an importable
        config's dict, or by ``msgspec.structs.replace``): a bad config is refused now, not
        at the first trip, and the parse is kept with the struct for the actor
        (``settings.settings_from``). ``dict=True`` gives the frozen struct the private
        ``__dict__`` it keeps it in; the fields, their equality and their JSON are as
        without it."""
        from nautilus_riskwatch.nautilus.settings import keep_settings  # it needs these structs

        keep_settings(self)

    @classmethod
    def parse(cls, raw: bytes | str) -> Any:
        """Decode a config from JSON, as NautilusTrader's ``ImportableActorConfig`` does;
        what msgspec refuses (an unknown key, a value of the wrong type) is refused in the
        package's words: ``RiskWatchConfigError`` with the field, the value, the nearest
        key or an example."""
        try:
            return super().parse(raw)
        except msgspec.DecodeError as error:  # a ValidationError, or not JSON at all
            raise reworded(error, raw, cls) from None
