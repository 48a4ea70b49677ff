"""The watch's alerts and metrics, from what its guards already keep: one door for both.

Why one module: the actor and the guards should each add a line or two (``alerts.tripped(
record)``, ``alerts.warned(...)``, ``snapshot()``), and what an alert or a metric says
should be decided here, next to each other, testable without an engine.

``WatchAlerts`` owns the ``AlertSender`` of a run. In a backtest it is dry: nothing goes to
the network, each alert is written to the event log as what would have been sent (an
``alert`` line, ``dry: true``), at its engine time, in order with the cascade's lines.
On a live node each alert is queued for every target (never waits) and written to the
event log too (``dry: false``), so the trail says what was sent when.

When the trip's alert is put matters: ``tripped`` is called by ``KillSwitch.trip``'s
``on_trip``, after HALTED and the first cancels have been sent. A sender's thread holds
the GIL while it builds a request; the kill must not wait behind it.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from nautilus_riskwatch.alerts import Alert, AlertKind, AlertSender, Crossing, Delivery
from nautilus_riskwatch.alerts.compose import (
    cascade_end_alert,
    feed_warning_alert,
    firm_alert,
    trip_alert,
    warning_alert,
)
from nautilus_riskwatch.alerts.levels import DEFAULT_HYSTERESIS, warn_fractions
from nautilus_riskwatch.alerts.targets import AlertsConfigError, build_targets
from nautilus_riskwatch.alerts.warnings import LimitFigure
from nautilus_riskwatch.core.event_log import emit_in
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.record import RiskOff
from nautilus_riskwatch.core.redact import redact_url
from nautilus_riskwatch.core.trips import FirmKill
from nautilus_riskwatch.metrics.settings import MetricsConfigError, check_host, check_port
from nautilus_riskwatch.metrics.snapshot import FeedState, FirmState, LimitState, Snapshot

__all__ = [
    "AlertSettings",
    "FeedView",
    "LimitView",
    "ScopeView",
    "WatchAlerts",
    "WatchMetrics",
    "alert_settings",
    "snapshot_of",
    "wire_guard",
]

#: ``log(level, message)``: the actor's logger.
Log = Callable[[str, str], None]


@dataclass(frozen=True)
class AlertSettings:
    """The checked alert, warning and metrics fields of ``RiskWatchConfig`` (see its docs)."""

    urls: tuple[str, ...] = ()
    delivery: Delivery = field(default_factory=Delivery)
    warn_at: tuple[Decimal, ...] = ()
    warn_hysteresis: Decimal = DEFAULT_HYSTERESIS
    feed_warn_at: tuple[Decimal, ...] = ()
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    in_backtest: bool = False  # send to the URLs in a backtest too (default: dry)

    @property
    def alerting(self) -> bool:
        """True if the watch says anything beyond its log: URLs, or warnings to write."""
        return bool(self.urls or self.warn_at or self.feed_warn_at)

    def __repr__(self) -> str:  # the URLs are secrets
        urls = [redact_url(u) for u in self.urls]
        return f"AlertSettings(urls={urls!r}, warn_at={self.warn_at}, ...)"


def alert_settings(config: Any) -> AlertSettings:
    """Check the alerts, warnings and metrics fields of a ``RiskWatchConfig``; refused with
    ``AlertsConfigError`` or ``MetricsConfigError`` naming the field (a URL redacted).

    Each alert URL is made into its Apprise service here, once, so a typo in a token stops
    the node when its config is built, not in the middle of a trip.
    """
    urls = config.alerts
    if isinstance(urls, str) or not isinstance(urls, list | tuple):
        shown = redact_url(urls) if isinstance(urls, str) else urls
        raise AlertsConfigError("alerts", shown, "expected a list of Apprise URLs")
    delivery = Delivery(
        timeout=_number("alerts_timeout", config.alerts_timeout),
        retries=config.alerts_retries,
        queue=config.alerts_queue,
    )
    if urls:
        build_targets(tuple(urls), delivery.timeout)
    return AlertSettings(
        urls=tuple(urls),
        delivery=delivery,
        warn_at=_fractions("warn_at", config.warn_at),
        warn_hysteresis=_hysteresis(config.warn_hysteresis),
        feed_warn_at=_fractions("feed_warn_at", config.feed_warn_at),
        metrics_port=None if config.metrics_port is None else _serving(config.metrics_port),
        metrics_host=check_host(config.metrics_host),
        in_backtest=_flag("alerts_in_backtest", config.alerts_in_backtest),
    )


def _serving(port: object) -> int:
    """``metrics_port`` checked, and prometheus_client there to serve it: refused when the
    config is built, not when the node starts."""
    checked = check_port(port)
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise MetricsConfigError("metrics_port", port, _NO_PROMETHEUS) from None
    return checked


_NO_PROMETHEUS = (
    "serving metrics needs prometheus_client: pip install 'nautilus-riskwatch[metrics]'"
)


def _flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise AlertsConfigError(field, value, "expected true or false")
    return value


def _number(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise AlertsConfigError(field, value, "expected a positive number of seconds")
    return float(value)


def _fractions(field: str, value: object) -> tuple[Decimal, ...]:
    if not isinstance(value, list | tuple):
        raise AlertsConfigError(field, value, "expected a list of fractions, e.g. [0.5, 0.8]")
    try:
        return warn_fractions(field, value)
    except ValueError as error:
        raise AlertsConfigError(field, value, str(error).split(": ", 1)[-1]) from None


def _hysteresis(value: object) -> Decimal:
    (fraction,) = _fractions("warn_hysteresis", [value])
    return fraction


class WatchAlerts:
    """One run's alerts: the sender (live) or the event log (dry), and what each says.

    ``watch`` and ``node`` name the watch and the node in every alert (the actor's id and
    the trader id); ``now_ns`` is the engine's clock (a warning's time); ``context`` is the
    portfolio guard's (where a feed's or the firm's alert line is written).
    """

    KEPT = 10_000

    def __init__(
        self,
        urls: Sequence[str],
        delivery: Delivery,
        watch: str,
        node: str,
        now_ns: Callable[[], int],
        dry: bool,
        log: Log | None = None,
    ) -> None:
        self.watch = watch
        self.node = node
        self._now_ns = now_ns
        self.dry = dry
        self._log: Log = log or (lambda level, message: None)
        self._context: contextvars.Context | None = None  # the portfolio guard's
        self._writing: contextvars.Context | None = None  # a dry alert's, while it is put
        #: Dry: the alerts that would have been sent, newest last (the last ``KEPT``).
        self.would_send: collections.deque[Alert] = collections.deque(maxlen=self.KEPT)
        if dry:
            self.sender = AlertSender.dry(self._would_send, urls, delivery, log)
        else:
            self.sender = AlertSender(urls, delivery, log)
        self._urls = len(urls)

    @property
    def sending(self) -> bool:
        """True if an alert goes anywhere (a dry run always writes it to the event log)."""
        return self.dry or self._urls > 0

    def start(self, context: contextvars.Context) -> None:
        self._context = context
        self.sender.start()

    def close(self, timeout: float = 2.0) -> None:
        self.sender.close(timeout)

    # --- what the watch tells ---------------------------------------------------------------
    def tripped(
        self,
        record: RiskOff,
        context: contextvars.Context | None = None,
        cascade: asyncio.Future[Any] | None = None,
    ) -> None:
        """A scope latched a trip (its first commands are out): the trip's alert, or a
        ``firm_kill`` for a kill the firm latch sent; and, when ``cascade`` (the cascade's
        task, ``KillSwitch.trip``'s) is done, however it ended, the cascade's end."""
        cause = record.cause
        if isinstance(cause, FirmKill):
            alert = firm_alert(
                AlertKind.FIRM_KILL,
                epoch=cause.epoch,
                by=cause.origin or "?",
                reason=cause.reason,
                watch=self.watch,
                node=self.node,
                at_ns=record.tripped_at_ns,
                cause=cause.cause,
            )
        else:
            alert = trip_alert(record, self.watch, self.node)
        self._put(alert, context)
        if cascade is not None:
            cascade.add_done_callback(lambda _: self._ended_safely(record, context))

    def _ended_safely(self, record: RiskOff, context: contextvars.Context | None) -> None:
        try:
            self.ended(record, context)
        except Exception as error:  # a callback of the loop: say it, never raise
            self._log("error", f"riskwatch: cascade-end alert failed: {error!r}")

    def ended(self, record: RiskOff, context: contextvars.Context | None = None) -> None:
        """A cascade finished: complete, or incomplete with what is still live."""
        self._put(cascade_end_alert(record, self.watch, self.node), context)

    def warned(
        self,
        crossing: Crossing,
        limit: str,
        scope: str,
        currency: str,
        context: contextvars.Context | None = None,
    ) -> None:
        """A limit's figure reached a ``warn_at`` level."""
        alert = warning_alert(
            crossing, limit, scope, currency, self.watch, self.node, self._now_ns()
        )
        self._put(alert, context)

    def feed_warned(self, crossing: Crossing, feed: str) -> None:
        """A feed's silence reached a ``feed_warn_at`` level."""
        self._put(feed_warning_alert(crossing, feed, self.watch, self.node, self._now_ns()))

    def firm_rearmed(self, epoch: int, by: str, reason: str) -> None:
        """The firm latch re-armed this node."""
        alert = firm_alert(
            AlertKind.FIRM_REARM, epoch, by, reason, self.watch, self.node, self._now_ns()
        )
        self._put(alert)

    def failed(self, what: str, error: BaseException) -> None:
        """An alert could not be made: said in the log, never raised into the watch."""
        self._log("error", f"riskwatch: the {what} alert failed: {type(error).__name__}: {error}")

    # --- delivery ---------------------------------------------------------------------------
    def _put(self, alert: Alert, context: contextvars.Context | None = None) -> None:
        if self.dry:
            self._writing = context
            self.sender.put(alert)  # -> _would_send, at once, on this thread
            self._writing = None
            return
        self.sender.put(alert)
        self._write(alert, context, dry=False)

    def _would_send(self, alert: Alert) -> None:
        self.would_send.append(alert)
        self._write(alert, self._writing, dry=True)

    def _write(self, alert: Alert, context: contextvars.Context | None, dry: bool) -> None:
        context = context or self._context
        if context is None:
            return
        fields: dict[str, object] = {"alert": alert.fields(), "summary": alert.summary}
        fields["dry"] = dry
        if not dry:
            fields["targets"] = list(self.sender.targets)
        emit_in(context, "alert", **fields)


# --- metrics: the snapshot of a watch at one instant ---------------------------------------
@dataclass(frozen=True)
class LimitView:
    """One limit of a scope, as the guard keeps it."""

    kind: str  # max_loss | trailing | daily
    currency: str
    figure: LimitFigure
    tripped: bool  # this limit's trip is the scope's trip in force


@dataclass(frozen=True)
class ScopeView:
    """One guard: its scope, its PnL now (``None``: no ledger), its limits, its records."""

    scope: str
    pnl: Decimal | None
    limits: Sequence[LimitView]
    record: RiskOff | None  # the trip in force (``None``: armed)
    earlier: Sequence[RiskOff]  # trips re-armed since the start


@dataclass(frozen=True)
class FeedView:
    """One watched feed: its ``Feed`` (the newest arrival), its bound, and the run's start
    (the age of a feed that never delivered)."""

    name: str
    feed: Feed[object]
    bound: float
    started: float


def snapshot_of(
    watch: str,
    node: str,
    scopes: Sequence[ScopeView],
    feeds: Sequence[FeedView],
    now: float,
    denied: Mapping[str, int],
    firm: FirmState | None = None,
    sender: AlertSender | None = None,
) -> Snapshot:
    """The watch at ``now`` (loop time), from the guards' own state, for one scrape."""
    limits: list[LimitState] = []
    trips: dict[str, int] = {}
    stages: dict[str, str] = {}
    tripped: dict[str, bool] = {}
    for view in scopes:
        record = view.record
        tripped[view.scope] = record is not None
        stages[view.scope] = "idle" if record is None else str(record.stage)
        for earlier in (*view.earlier, *((record,) if record is not None else ())):
            trips[earlier.cause.kind] = trips.get(earlier.cause.kind, 0) + 1
        if view.pnl is None:
            continue
        for limit in view.limits:
            figure = limit.figure.figure(view.pnl)
            if figure is None:  # the breaker has not said its mark yet: nothing lost
                figure = Decimal(0)
            limits.append(
                LimitState(
                    limit.kind,
                    view.scope,
                    limit.currency,
                    figure,
                    limit.figure.ceiling,
                    limit.tripped,
                )
            )
    feed_states = []
    for fv in feeds:
        last = fv.feed.arrived_at
        age = now - (fv.started if last is None else last)
        feed_states.append(FeedState(fv.name, max(0.0, age), fv.bound))
    return Snapshot(
        watch=watch,
        node=node,
        scopes=tripped,
        limits=limits,
        feeds=feed_states,
        trips=trips,
        denied=dict(denied),
        stages=stages,
        firm=firm,
        alerts=sender.stats() if sender is not None else (),
    )


# --- wiring: what a guard tells, and the metrics server of a run ---------------------------
def wire_guard(alerts: WatchAlerts, guard: Any) -> None:
    """The guard's trips and warnings to ``alerts``, after whatever it told already (the
    firm's ``on_trip`` first: the firm must hear of a trip before anyone's phone does)."""
    earlier: Callable[[RiskOff], None] | None = guard.on_trip

    def on_trip(record: RiskOff) -> None:
        try:
            if earlier is not None:
                earlier(record)
        finally:
            switch = guard.switch
            try:  # the same cause again: the cascade's task, nothing added
                cascade = None if switch is None else switch.trip(record.cause)
                alerts.tripped(record, guard.context, cascade)
            except Exception as error:  # an alert must never stop the cascade
                alerts.failed("trip", error)

    def on_warning(spec: Any, crossing: Crossing) -> None:
        try:
            alerts.warned(crossing, spec.kind, guard.scope, spec.currency, guard.context)
        except Exception as error:
            alerts.failed("warning", error)

    guard.on_trip = on_trip
    guard.on_warning = on_warning


class WatchMetrics:
    """The run's ``/metrics`` server: each scrape builds a ``Snapshot`` with ``build``, on
    ``loop``'s thread if given (a live node), else on the server's (a backtest)."""

    def __init__(
        self,
        settings: AlertSettings,
        build: Callable[[], Snapshot],
        watch: str,
        node: str,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        assert settings.metrics_port is not None
        try:
            from nautilus_riskwatch.metrics.server import MetricsServer, on_loop
        except ImportError:
            raise MetricsConfigError(
                "metrics_port", settings.metrics_port, _NO_PROMETHEUS
            ) from None
        self.server = MetricsServer(settings.metrics_port, settings.metrics_host)
        self.server.add(build if loop is None else on_loop(loop, build), watch, node)

    def start(self) -> None:
        """Serve; a port taken is ``MetricsConfigError`` naming ``metrics_port``."""
        self.server.start()

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.server.close()
