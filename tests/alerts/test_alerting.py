"""The adapter's door to alerts and metrics (``nautilus/alerting.py``), without an engine.

Dry (a backtest): each alert is an ``alert`` line of the event log, in the scope's
attribution, with what would have been sent, and nothing reaches a receiver. Live: the
alert reaches a real receiver on loopback and the line names the (redacted) target. A
firm kill is a ``firm_kill`` alert, not a second trip. The snapshot reads each limit's
figure exactly as the breaker's band gave it.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from decimal import Decimal

import pytest
from receivers import Receiver

from nautilus_riskwatch.alerts import Alert, AlertsConfigError, Delivery
from nautilus_riskwatch.alerts.levels import Crossing
from nautilus_riskwatch.alerts.warnings import LimitFigure
from nautilus_riskwatch.core.event_log import EventLog, attribute
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.limits import Quiet
from nautilus_riskwatch.core.record import RiskOff
from nautilus_riskwatch.core.trips import DrawdownBreached, FirmKill, StalenessError
from nautilus_riskwatch.metrics.settings import MetricsConfigError
from nautilus_riskwatch.nautilus.alerting import (
    FeedView,
    LimitView,
    ScopeView,
    WatchAlerts,
    WatchMetrics,
    alert_settings,
    snapshot_of,
    wire_guard,
)

D = Decimal
T0 = 1_577_898_000_000_000_000
FAST = Delivery(timeout=0.5, retries=1, backoff=0.01, backoff_max=0.02)


def _logged() -> tuple[list, object]:
    events: list = []
    log = EventLog(lambda: T0 + 5, [events.append])
    return events, attribute(log, "S1", "portfolio", None)


def test_dry_alerts_are_event_log_lines_of_what_would_have_been_sent():
    events, context = _logged()
    with Receiver("ok") as receiver:
        alerts = WatchAlerts([receiver.url()], FAST, "RiskWatch", "BT-001", lambda: T0 + 7, True)
        alerts.start(context)
        record = RiskOff(DrawdownBreached(D("1000.01"), D("1000"), "USD"), T0, scope="portfolio")
        alerts.warned(
            Crossing(D("0.8"), D("800.0"), D("800.00"), D("1000")), "max_loss", "portfolio", "USD"
        )
        alerts.tripped(record)
        alerts.close()
        assert receiver.requests == []  # nothing to the network in a backtest
    kinds = [(e.kind, e.fields["alert"]["kind"], e.fields["dry"]) for e in events]
    assert kinds == [("alert", "warning", True), ("alert", "trip", True)]
    trip = events[1].fields["alert"]
    assert trip["loss"] == "1000.01" and trip["node"] == "BT-001" and trip["at_ns"] == str(T0)
    assert events[0].fields["alert"]["at_ns"] == str(T0 + 7)  # a warning: the engine's now
    assert events[0].session_id == "S1" and events[0].scope == "portfolio"


def test_the_cascades_end_is_said_when_its_task_is_done_however_it_ended():
    events, context = _logged()
    alerts = WatchAlerts([], FAST, "W", "N", lambda: T0, True)
    alerts.start(context)

    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        cascade = loop.create_future()
        record = RiskOff(StalenessError("EUR/USD.SIM quote", 90.0), T0, scope="portfolio")
        alerts.tripped(record, cascade=cascade)
        said = [e.fields["alert"]["kind"] for e in events]
        record.left_live = ["O-1"]
        cascade.cancel()  # a stop mid-cascade: the end is still said
        await asyncio.sleep(0)
        return said

    assert asyncio.run(main()) == ["trip"]
    end = events[-1].fields["alert"]
    assert end["kind"] == "cascade_end" and end["complete"] == "false"
    assert end["still_live"] == "O-1"


def test_live_alerts_reach_the_receiver_and_the_trail_names_the_target():
    events, context = _logged()
    with Receiver("ok") as receiver:
        alerts = WatchAlerts([receiver.url("hook/TOKEN")], FAST, "W", "N", lambda: T0, False)
        alerts.start(context)
        record = RiskOff(StalenessError("EUR/USD.SIM quote", 90.0), T0, scope="portfolio")
        alerts.tripped(record)
        (got,) = receiver.wait_for(1)
        alerts.close()
    assert Alert.from_text(got["message"]).cause == "stale"
    (line,) = events
    assert line.fields["dry"] is False
    assert line.fields["targets"] == [f"json://127.0.0.1:{receiver.port}/***/***"]


def test_a_firm_kill_is_a_firm_kill_alert():
    events, context = _logged()
    alerts = WatchAlerts([], FAST, "W", "N", lambda: T0, True)
    alerts.start(context)
    alerts.tripped(RiskOff(FirmKill("NODE-B", 4, "desk limit", "drawdown"), T0))
    alerts.firm_rearmed(5, "firm operator alice", "all clear")
    sent = [e.fields["alert"] for e in events]
    assert [a["kind"] for a in sent] == ["firm_kill", "firm_rearm"]
    assert sent[0]["epoch"] == "4" and sent[0]["by"] == "NODE-B" and sent[0]["cause"] == "drawdown"
    assert sent[1]["epoch"] == "5"


def test_the_snapshot_reads_each_limit_as_its_breaker_judges_it():
    trailing = LimitFigure("trailing", D(100))
    trailing.told(Quiet(D("20.5"), D("120.5")), D(100))  # high-water mark 120.5
    fixed = LimitFigure("max_loss", D(1000))
    feed: Feed[object] = Feed("EUR/USD.SIM quote", lambda: 50.0)
    silent: Feed[object] = Feed("GBP/USD.SIM quote", lambda: 0.0)
    feed.put("q")
    earlier = RiskOff(StalenessError("x", 1.0), T0)
    snapshot = snapshot_of(
        "W",
        "N",
        [
            ScopeView(
                "portfolio",
                D("-3.25"),
                [
                    LimitView("trailing", "USD", trailing, False),
                    LimitView("max_loss", "USD", fixed, False),
                ],
                None,
                [earlier],
            )
        ],
        [FeedView(feed.name, feed, 90.0, 10.0), FeedView(silent.name, silent, 30.0, 10.0)],
        now=62.5,
        denied={"S-1": 2},
    )
    assert [(x.limit, x.loss, x.ceiling) for x in snapshot.limits] == [
        ("trailing", D("123.75"), D(100)),
        ("max_loss", D("3.25"), D(1000)),
    ]
    assert [(f.feed, f.age) for f in snapshot.feeds] == [
        ("EUR/USD.SIM quote", 12.5),
        ("GBP/USD.SIM quote", 52.5),
    ]
    assert snapshot.trips == {"stale": 1} and snapshot.stages == {"portfolio": "idle"}
    assert snapshot.denied == {"S-1": 2} and snapshot.scopes == {"portfolio": False}


@dataclass
class _Config:
    """The alert, warning and metrics fields of ``RiskWatchConfig``, with its defaults."""

    alerts: tuple = ()
    alerts_timeout: float = 5.0
    alerts_retries: int = 3
    alerts_queue: int = 256
    warn_at: tuple = ()
    warn_hysteresis: object = "0.1"
    feed_warn_at: tuple = ()
    metrics_port: object = None
    metrics_host: object = "127.0.0.1"
    alerts_in_backtest: object = False


def test_the_settings_are_checked_once_each_refusal_naming_its_field():
    settings = alert_settings(
        _Config(alerts=("json://127.0.0.1:9/hook/SECRET",), warn_at=("0.5", 0.8), metrics_port=0)
    )
    assert settings.warn_at == (D("0.5"), D("0.8")) and settings.warn_hysteresis == D("0.1")
    assert settings.alerting and settings.delivery.retries == 3
    assert "SECRET" not in repr(settings)
    assert not alert_settings(_Config(metrics_port=9100)).alerting
    refused = {
        "alerts[1]": {"alerts": ("json://127.0.0.1:9/x", "tgram://SECRET")},
        "alerts": {"alerts": "json://127.0.0.1:9/x"},
        "alerts_timeout": {"alerts_timeout": 0},
        "alerts_retries": {"alerts_retries": -1},
        "alerts_queue": {"alerts_queue": 0},
        "warn_at": {"warn_at": ("0.8", "0.5")},
        "feed_warn_at": {"feed_warn_at": "0.5"},
        "warn_hysteresis": {"warn_hysteresis": "1"},
        "metrics_port": {"metrics_port": 65536},
        "metrics_host": {"metrics_host": ""},
        "alerts_in_backtest": {"alerts_in_backtest": "yes"},
    }
    for field, values in refused.items():
        with pytest.raises((AlertsConfigError, MetricsConfigError)) as error:
            alert_settings(_Config(**values))
        assert error.value.field == field, (field, error.value)
        assert "SECRET" not in str(error.value)


def test_metrics_without_prometheus_client_are_refused_naming_metrics_port(monkeypatch):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # not installed
    assert alert_settings(_Config()).metrics_port is None  # no metrics: nothing needed
    with pytest.raises(MetricsConfigError, match=r"metrics_port=9100: .*\[metrics\]"):
        alert_settings(_Config(metrics_port=9100))


class _Switch:
    def __init__(self, cascade) -> None:
        self.cascade = cascade
        self.record = None

    def trip(self, cause):
        return self.cascade


class _Guard:
    """What ``wire_guard`` reads of a guard: its scope, context, switch and callbacks."""

    def __init__(self, context, cascade, told) -> None:
        self.scope = "strategy S-1"
        self.context = context
        self.switch = _Switch(cascade)
        self.on_trip = lambda record: told.append("firm")
        self.on_warning = None


def test_a_wired_guard_tells_the_firm_first_then_the_trip_then_the_cascades_end():
    events, context = _logged()
    alerts = WatchAlerts([], FAST, "W", "N", lambda: T0 + 9, True)
    alerts.start(context)
    told: list[str] = []

    async def main() -> None:
        cascade = asyncio.get_running_loop().create_future()
        guard = _Guard(context, cascade, told)
        wire_guard(alerts, guard)
        record = RiskOff(DrawdownBreached(D("50"), D("50"), "USD"), T0, scope=guard.scope)
        guard.on_trip(record)
        told.append(events[-1].fields["alert"]["kind"])
        guard.on_warning(
            type("Spec", (), {"kind": "trailing", "currency": "USD"})(),
            Crossing(D("0.5"), D("25.0"), D("26"), D("50")),
        )
        cascade.set_result(record)
        await asyncio.sleep(0)

    asyncio.run(main())
    assert told == ["firm", "trip"]
    said = [(e.fields["alert"]["kind"], e.fields["alert"]["scope"]) for e in events]
    assert said == [
        ("trip", "strategy S-1"),
        ("warning", "strategy S-1"),
        ("cascade_end", "strategy S-1"),
    ]


def test_metrics_are_served_and_a_taken_port_is_refused_naming_the_field():
    import socket
    import urllib.request

    settings = alert_settings(_Config(metrics_port=0))
    snapshot = lambda: snapshot_of("W", "N", [], [], 0.0, {"S-1": 3})  # noqa: E731
    metrics = WatchMetrics(settings, snapshot, "W", "N", None)
    metrics.start()
    try:
        with urllib.request.urlopen(metrics.url, timeout=5) as answer:
            text = answer.read().decode()
    finally:
        metrics.close()
    assert 'riskwatch_denied_total{node="N",strategy="S-1",watch="W"} 3.0' in text
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = WatchMetrics(alert_settings(_Config(metrics_port=port)), snapshot, "W", "N", None)
        with pytest.raises(MetricsConfigError, match=rf"metrics_port={port}"):
            busy.start()
