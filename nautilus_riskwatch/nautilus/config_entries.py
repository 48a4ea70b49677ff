"""The config's entries: a watched feed, a loss limit, the firm section (msgspec structs).

What an operator writes inside ``RiskWatchConfig`` (``feeds=[...]``, ``limits=[...]``,
``firm={...}``), each struct with its doc. Apart from ``config.py`` because the parse
(``settings.py``, ``runaway_settings.py``, ``firm_settings.py``) builds these structs
from an importable config's dicts, and ``RiskWatchConfig`` calls that parse as it is
built: with the entries here, the parse never imports the module that calls it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nautilus_trader.config import NautilusConfig

from nautilus_riskwatch.firm.settings import FirmSettings
from nautilus_riskwatch.nautilus.wording import ConfigMeta

__all__ = ["FirmConfig", "LossLimit", "WatchedFeed"]


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
