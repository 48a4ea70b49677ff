"""Prometheus metrics over real HTTP on 127.0.0.1: read at scrape time, figures exact."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from nautilus_riskwatch.alerts import TargetStats
from nautilus_riskwatch.core.record import Stage
from nautilus_riskwatch.metrics import FeedState, FirmState, LimitState, Snapshot
from nautilus_riskwatch.metrics.collector import FIRM_STATES, IDLE, METRICS, RiskwatchCollector
from nautilus_riskwatch.metrics.server import MetricsConfigError, MetricsServer, on_loop

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"
D = Decimal


def full_snapshot(loss: str = "705.15") -> Snapshot:
    """Every field filled, so every metric has samples."""
    return Snapshot(
        watch="RiskWatch",
        node="TRADER-001",
        scopes={"portfolio": False, "strategy DemoTrader-001": True},
        limits=(
            LimitState("max_loss", "portfolio", "USD", D(loss), D("1000"), False),
            LimitState("trailing", "strategy DemoTrader-001", "USD", D("300.07"), D("250"), True),
        ),
        feeds=(FeedState("EUR/USD.SIM quote", 12.5, 90.0),),
        trips={"trailing-drawdown": 1},
        denied={"DemoTrader-001": 3},
        stages={"portfolio": IDLE, "strategy DemoTrader-001": Stage.DONE.value},
        firm=FirmState("armed", 4),
        alerts=(TargetStats("json://127.0.0.1:8080/***", 5, 1, 2, 1, 0, 0),),
    )


def scrape(server: MetricsServer) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(server.url, timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def labels(**kw: str) -> frozenset:
    return frozenset({"watch": "RiskWatch", "node": "TRADER-001", **kw}.items())


@pytest.fixture
def server():
    server = MetricsServer(0)
    yield server
    server.close()


def test_a_real_scrape_shows_the_snapshot_figures_exactly(server):
    server.add(full_snapshot)
    server.start()
    got = scrape(server)
    portfolio = labels(limit="max_loss", scope="portfolio")
    assert D(repr(got["riskwatch_loss", portfolio | {("currency", "USD")}])) == D("705.15")
    assert D(repr(got["riskwatch_ceiling", portfolio | {("currency", "USD")}])) == D("1000")
    assert got["riskwatch_headroom_ratio", portfolio] == float((D(1000) - D("705.15")) / 1000)
    assert got["riskwatch_tripped", portfolio] == 0
    trailing = labels(limit="trailing", scope="strategy DemoTrader-001")
    assert got["riskwatch_tripped", trailing] == 1
    assert got["riskwatch_headroom_ratio", trailing] == float(D("-50.07") / D("250"))
    assert got["riskwatch_scope_tripped", labels(scope="strategy DemoTrader-001")] == 1
    feed = labels(feed="EUR/USD.SIM quote")
    assert got["riskwatch_feed_age_seconds", feed] == 12.5
    assert got["riskwatch_feed_bound_seconds", feed] == 90.0
    assert got["riskwatch_trips_total", labels(cause="trailing-drawdown")] == 1
    assert got["riskwatch_denied_total", labels(strategy="DemoTrader-001")] == 3
    done = labels(scope="strategy DemoTrader-001", stage="done")
    assert got["riskwatch_cascade_stage", done] == 1
    assert got["riskwatch_cascade_stage", labels(scope="portfolio", stage=IDLE)] == 1
    stages = [k for k in got if k[0] == "riskwatch_cascade_stage" and got[k] == 1]
    assert len(stages) == 2  # one stage per scope
    assert got["riskwatch_firm_latch", labels(state="armed")] == 1
    assert sum(got["riskwatch_firm_latch", labels(state=s)] for s in FIRM_STATES) == 1
    assert got["riskwatch_firm_epoch", labels()] == 4
    target = labels(target="json://127.0.0.1:8080/***")
    assert got["riskwatch_alerts_sent_total", target] == 5
    assert got["riskwatch_alerts_dropped_total", target | {("reason", "queue_full")}] == 2
    assert got["riskwatch_up", labels()] == 1


def test_figures_are_read_at_each_scrape_and_nowhere_else(server):
    reads = []
    loss = ["100.01"]

    def source() -> Snapshot:
        reads.append(1)
        return full_snapshot(loss[0])

    server.add(source)
    server.start()
    assert reads == []  # registering and starting read nothing
    key = ("riskwatch_loss", labels(limit="max_loss", scope="portfolio", currency="USD"))
    assert D(repr(scrape(server)[key])) == D("100.01")
    loss[0] = "999.99"
    assert D(repr(scrape(server)[key])) == D("999.99")
    assert len(reads) == 2


def test_a_snapshot_that_fails_is_up_0_and_the_others_still_report(server):
    def broken() -> Snapshot:
        raise RuntimeError("the watch is gone")

    server.add(broken, watch="Gone", node="TRADER-002")
    server.add(full_snapshot)
    server.start()
    got = scrape(server)
    assert got["riskwatch_up", frozenset({"watch": "Gone", "node": "TRADER-002"}.items())] == 0
    assert got["riskwatch_up", labels()] == 1


def test_a_taken_port_is_refused_naming_metrics_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MetricsServer(port)
        with pytest.raises(MetricsConfigError) as error:
            server.start()
    assert error.value.field == "metrics_port" and str(port) in str(error.value)
    for bad in (-1, 70000, "9100", True):
        with pytest.raises(MetricsConfigError, match="metrics_port"):
            MetricsServer(bad)  # type: ignore[arg-type]


def test_on_loop_builds_the_snapshot_on_the_loops_thread_or_reports_down():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    built_on = []

    def build() -> Snapshot:
        built_on.append(threading.get_ident())
        return full_snapshot()

    try:
        assert on_loop(loop, build)() == full_snapshot()
        assert built_on == [thread.ident]
        # a loop that does not answer in time: this scrape reports the watch down
        release = threading.Event()
        loop.call_soon_threadsafe(release.wait, 10)
        collector = RiskwatchCollector()
        collector.add(on_loop(loop, build, timeout=0.05), "RiskWatch", "TRADER-001")
        (up,) = [m for m in collector.collect() if m.name == "riskwatch_up"]
        assert [s.value for s in up.samples] == [0]
        release.set()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_the_dashboard_uses_only_metrics_the_collector_serves(server):
    server.add(full_snapshot)
    server.start()
    served = {name for name, _ in scrape(server)}
    assert served == {spec.name for spec in METRICS}  # every declared metric has samples
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"]]
    used = {name for expr in exprs for name in re.findall(r"\briskwatch_[a-z_]+", expr)}
    assert used and used <= served, used - served
    # the board shows each of the metrics
    for name in (
        "riskwatch_tripped",
        "riskwatch_loss",
        "riskwatch_ceiling",
        "riskwatch_headroom_ratio",
        "riskwatch_feed_age_seconds",
        "riskwatch_feed_bound_seconds",
        "riskwatch_trips_total",
        "riskwatch_denied_total",
        "riskwatch_cascade_stage",
        "riskwatch_firm_latch",
        "riskwatch_firm_epoch",
    ):
        assert name in used, name
