"""``SessionAlerts``: one session's alerts, warnings and metrics, from its start to its stop.

Why apart from ``Session``: the session builds the watch's run; what the operator hears
of it (alerts, warnings before a limit, the feeds' silences, the ``/metrics`` server) is
one more thing with a start and a stop, and the session should only say where it goes in:

- ``silence_children(router.watched)``: the feeds' silence warnings, as children of the
  portfolio guard (asleep until a level is due; they stop with the guard's group at a trip
  and start again at a re-arm, as the watchdogs do);
- ``start(session)``, once the guards and the firm bridge exist and before they arm: each
  guard's trips and warnings wired (after the firm's ``on_trip``: the firm hears first),
  the senders' threads started, the metrics served (a taken port refused naming
  ``metrics_port``);
- ``close()`` at the stop: the metrics server closed, the senders given a few seconds to
  drain.

Nothing here is on a trip's critical path: the trip's alert is put from ``on_trip``, after
HALTED and the first cancels have gone (``KillSwitch.trip``), and ``put`` never waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from nautilus_riskwatch.alerts.levels import Crossing, FeedSilence
from nautilus_riskwatch.alerts.warnings import silence_warnings
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.supervisor import Child
from nautilus_riskwatch.looptime import LoopTime, SimulatedTime
from nautilus_riskwatch.metrics.snapshot import FirmState, Snapshot
from nautilus_riskwatch.nautilus.alerting import (
    AlertSettings,
    FeedView,
    LimitView,
    ScopeView,
    WatchAlerts,
    WatchMetrics,
    snapshot_of,
    wire_guard,
)

__all__ = ["LIMIT_CAUSES", "SessionAlerts"]

#: The trip each limit kind latches (``Trip.kind``): its metric says ``tripped`` then.
LIMIT_CAUSES = {"max_loss": "drawdown", "trailing": "trailing-drawdown", "daily": "daily-loss"}


class SessionAlerts:
    """What the operator hears of one session (see the module).

    ``settings`` are the checked fields (``alert_settings``); ``watch`` and ``node`` name
    the watch and the node (the actor's id, the trader id); ``dry``: each alert is written
    to the event log as what would have been sent, nothing goes to the network (a backtest,
    unless told otherwise); ``log`` is the actor's logger.
    """

    def __init__(
        self,
        settings: AlertSettings,
        *,
        watch: str,
        node: str,
        time: LoopTime,
        dry: bool,
        log: Any,
    ) -> None:
        self.settings = settings
        self.watch = watch
        self.node = node
        self._time = time
        self._logger = log
        self.alerts: WatchAlerts | None = None
        if settings.alerting:
            self.alerts = WatchAlerts(
                settings.urls, settings.delivery, watch, node, time.now_ns, dry, log=self._log
            )
        self.metrics: WatchMetrics | None = None
        self.feeds: list[FeedView] = []
        self._session: Any = None

    # --- at start ---------------------------------------------------------------------------
    def silence_children(self, watched: Sequence[tuple[Any, Feed[object]]]) -> list[Child]:
        """The watched feeds (``PriceRouter.watched``: each ``FeedSpec`` and its ``Feed``),
        kept for the metrics; with ``feed_warn_at``, one silence-warning child per feed."""
        started = self._time.loop.time()
        self.feeds = [
            FeedView(spec.name, feed, spec.stale_after, started) for spec, feed in watched
        ]
        if self.alerts is None or not self.settings.feed_warn_at:
            return []
        return [self._silence_child(view) for view in self.feeds]

    def _silence_child(self, view: FeedView) -> Child:
        alerts = self.alerts
        assert alerts is not None
        fractions = self.settings.feed_warn_at

        async def child() -> None:  # fresh levels at each start of the group
            def say(crossing: Crossing) -> None:
                try:
                    alerts.feed_warned(crossing, view.name)
                except Exception as error:
                    alerts.failed("feed warning", error)

            await silence_warnings(view.feed, FeedSilence(fractions, view.bound), say)

        return child

    def start(self, session: Any) -> None:
        """Wire the session's guards (before they arm), start the senders, serve the
        metrics; a port taken is ``MetricsConfigError`` naming ``metrics_port`` (and
        nothing of this is left running)."""
        self._session = session
        alerts = self.alerts
        if alerts is not None:
            for guard in session.guards:
                wire_guard(alerts, guard)
            alerts.start(session.portfolio.context)
        if self.settings.metrics_port is None:
            return
        time = self._time
        loop = None if isinstance(time, SimulatedTime) else time.loop
        try:
            self.metrics = WatchMetrics(self.settings, self.snapshot, self.watch, self.node, loop)
            self.metrics.start()
        except BaseException:
            self.close()
            raise
        self._log("info", f"riskwatch: metrics served at {self.metrics.url}")

    def firm_rearmed(self, latch: Any) -> None:
        """The firm latch re-armed this node (``FirmBridge``'s ``rearmed``)."""
        if self.alerts is not None:
            self.alerts.firm_rearmed(latch.epoch, latch.rearm_by or "?", latch.rearm_reason)

    # --- at a scrape ------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The session now, from its guards' own state (on the watch's loop, live)."""
        session = self._session
        assert session is not None
        scopes = [_scope_view(guard) for guard in session.guards]
        firm = None
        bridge = session.firm
        latch = None if bridge is None else bridge.member.latch
        if latch is not None:
            firm = FirmState(latch.state, latch.epoch)
        return snapshot_of(
            self.watch,
            self.node,
            scopes,
            self.feeds,
            self._time.loop.time(),
            session.gate.denied,
            firm,
            None if self.alerts is None or self.alerts.dry else self.alerts.sender,
        )

    # --- at the stop ------------------------------------------------------------------------
    def close(self, timeout: float = 2.0) -> None:
        """The metrics server closed; the senders given ``timeout`` seconds to drain (what
        is left is counted as lost, ``closed``)."""
        metrics, self.metrics = self.metrics, None
        if metrics is not None:
            metrics.close()
        if self.alerts is not None:
            self.alerts.close(timeout)

    def _log(self, level: str, message: str) -> None:
        getattr(self._logger, level)(message)


def _scope_view(guard: Any) -> ScopeView:
    """One guard as the metrics read it: its PnL, each limit's figure, its records."""
    switch = guard.switch
    record = None if switch is None else switch.record
    cause = None if record is None else record.cause.kind
    limits = [
        LimitView(spec.kind, spec.currency, figure, cause == LIMIT_CAUSES[spec.kind])
        for spec, figure in zip(guard.limits, guard.figures, strict=True)
        if figure.ceiling > 0  # a percent limit's ceiling not set: it trips at once
    ]
    pnl: Decimal | None = guard.valued.loss.copy_negate() if guard.counts_pnl else None
    return ScopeView(guard.scope, pnl, limits, record, list(guard.records))
