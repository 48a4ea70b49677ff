"""Configuration: what an operator writes, as frozen msgspec structs and their docs.

The config classes are frozen msgspec structs, as NautilusTrader's own are, so they load
from ``ImportableActorConfig`` dicts of plain strings and numbers. Everything is checked
when a ``RiskWatchConfig`` is built: a kill switch with a typo in it is worse than none,
because it is trusted. Every refusal is a ``RiskWatchConfigError`` naming the field and the
value. The checking, and the ``Settings`` the watch runs on, are ``settings.py``'s; the
entries inside the config (``WatchedFeed``, ``LossLimit``, ``FirmConfig``) are
``config_entries.py``'s, so that the checking reads them without importing this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from nautilus_trader.config import ActorConfig

from nautilus_riskwatch.errors import RiskWatchConfigError
from nautilus_riskwatch.nautilus.config_entries import FirmConfig, LossLimit, WatchedFeed
from nautilus_riskwatch.nautilus.settings import keep_settings
from nautilus_riskwatch.nautilus.wording import ConfigMeta, reworded

__all__ = ["FirmConfig", "LossLimit", "RiskWatchConfig", "RiskWatchConfigError", "WatchedFeed"]


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
