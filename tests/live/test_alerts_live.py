"""Alerts and Prometheus metrics of a real TradingNode, over real HTTP on 127.0.0.1.

The node replays the recorded quotes into the demo trader, which loses; the watch has
``max_loss`` 1000 USD, ``warn_at=[0.5, 0.8]``, an alert URL to a real receiver and
``metrics_port=0`` (any free port). The test scrapes ``/metrics`` over HTTP, as Prometheus
would, from another thread while the node runs: each guard's headroom and each feed's age
are there before the trip and move; after it the limit says tripped, the trip is counted by
its cause, and the loss metric is the watch's exact figure. The receiver gets the warnings
in the order the figures crossed, then the trip and the cascade's end, nothing twice.

Real time on a loaded machine: order and outcome are asserted, never a wall time.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.request
from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families
from receivers import Receiver
from waiting import until

from nautilus_riskwatch import DrawdownBreached, FirmKill, ManualKill, read_event_log
from nautilus_riskwatch.alerts import Alert
from nautilus_riskwatch.demo.engine import HEDGER_ID
from nautilus_riskwatch.demo.live import node_config, run_node
from nautilus_riskwatch.demo.replay import ReplayDataClientConfig
from nautilus_riskwatch.firm.signing import generate, write_private
from nautilus_riskwatch.testing import LocalRedis

FEED = "EUR/USD.SIM quotes"
PORTFOLIO = {"limit": "max_loss", "scope": "portfolio"}
HEDGER = str(HEDGER_ID)


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Each sample by name and labels (without ``watch`` and ``node``)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = {k: v for k, v in s.labels.items() if k not in ("watch", "node")}
            out[(s.name, frozenset(labels.items()))] = s.value
    return out


def _value(samples, name: str, **labels) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()


def test_a_live_node_serves_its_guards_and_feeds_and_its_trip_reaches_the_receiver():
    seen: dict = {"scrapes": []}

    async def session(node):
        watch = node.trader.actors()[0]
        await until(lambda: watch.session is not None and watch.session.alerts.metrics, 20)
        url = watch.session.alerts.metrics.url
        seen["url"] = url
        while watch.record is None or watch.record.stage != "done":
            text = await asyncio.to_thread(_scrape, url)  # off the node's loop, as Prometheus
            seen["scrapes"].append((watch.record is not None, text))
            await asyncio.sleep(0.02)
            assert len(seen["scrapes"]) < 5_000, "no trip"
        await asyncio.sleep(0.2)
        seen["after"] = await asyncio.to_thread(_scrape, url)
        seen["loss"] = watch.loss
        seen["record"] = watch.record
        seen["watch"] = watch

    with Receiver("ok") as receiver:
        config = node_config(
            {
                "feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 30.0}],
                "max_loss": "1000 USD",
                "warn_at": [0.5, 0.8],
                "alerts": [receiver.url("hook/TOKEN")],
                "alerts_timeout": 5.0,
                "metrics_port": 0,
            },
            replay=ReplayDataClientConfig(speed=3_000.0, max_gap=0.05),
            hedger=False,
        )
        run_node(config, session)
        got = receiver.wait_for(4)
    record = seen["record"]
    assert isinstance(record.cause, DrawdownBreached) and record.complete

    # before the trip: each guard's headroom and each feed's age, moving
    before = [_samples(text) for tripped, text in seen["scrapes"] if not tripped]
    assert len(before) >= 3
    headroom = [_value(s, "riskwatch_headroom_ratio", **PORTFOLIO) for s in before]
    ages = [_value(s, "riskwatch_feed_age_seconds", feed=FEED) for s in before]
    assert None not in headroom and None not in ages
    assert len(set(headroom)) > 1 and max(headroom) <= 1.0 and min(headroom) > 0.0
    assert all(0.0 <= age < 30.0 for age in ages)
    assert {_value(s, "riskwatch_feed_bound_seconds", feed=FEED) for s in before} == {30.0}
    assert {_value(s, "riskwatch_tripped", **PORTFOLIO) for s in before} == {0.0}

    # after: tripped, counted by cause, the loss the watch's exact figure
    after = _samples(seen["after"])
    assert _value(after, "riskwatch_tripped", **PORTFOLIO) == 1.0
    assert _value(after, "riskwatch_scope_tripped", scope="portfolio") == 1.0
    assert _value(after, "riskwatch_trips_total", cause="drawdown") == 1.0
    loss_line = next(
        line
        for line in seen["after"].splitlines()
        if line.startswith("riskwatch_loss{") and 'limit="max_loss"' in line
    )
    assert Decimal(loss_line.rsplit(" ", 1)[1]) == seen["loss"]  # exact, as the watch has it
    assert _value(after, "riskwatch_ceiling", currency="USD", **PORTFOLIO) == 1000.0
    headroom_after = (Decimal(1000) - seen["loss"]) / Decimal(1000)  # flat now: what it lost
    assert _value(after, "riskwatch_headroom_ratio", **PORTFOLIO) == float(headroom_after)

    # the receiver: the warnings in the order the figures crossed, the trip, its end, once each
    alerts = [Alert.from_text(r["message"]) for r in got]
    kinds = [a.kind.value for a in alerts]
    assert kinds[-2:] == ["trip", "cascade_end"] and set(kinds[:-2]) == {"warning"}
    warnings = [(Decimal(a.fields()["level"]), Decimal(a.fields()["figure"])) for a in alerts[:-2]]
    assert warnings and warnings[0][0] == Decimal(500)
    assert all(level <= figure < Decimal(1000) for level, figure in warnings)
    assert {level for level, _ in warnings} <= {Decimal(500), Decimal(800)}
    assert [a.at_ns for a in alerts] == sorted(a.at_ns for a in alerts)
    assert alerts[-2].at_ns == record.tripped_at_ns
    assert Decimal(alerts[-2].fields()["loss"]) == record.cause.loss
    assert len({r["message"] for r in got}) == len(got)
    target = f"json://127.0.0.1:{receiver.port}/***/***"
    assert _value(after, "riskwatch_alerts_sent_total", target=target) is not None
    assert "TOKEN" not in seen["after"]  # the URL's secret path never in a metric
    (stats,) = seen["watch"].session.alerts.alerts.sender.stats()  # closed at the stop
    assert (stats.sent, stats.dropped) == (len(got), 0)


def _kill_run(mode: str | None, tmp_path) -> dict:
    """A node whose watch is killed by hand once the trader's orders rest; its alerts go to
    a receiver in ``mode`` (``None``: no alerts at all, the control)."""
    seen: dict = {}

    async def session(node):
        watch = node.trader.actors()[0]
        await until(lambda: len(node.cache.orders_open()) >= 2 and watch.session is not None, 20)
        if mode is not None:  # the receiver is already busy (or hung) when the trip comes
            watch.session.alerts.alerts.sender.put(_probe_alert())
            await asyncio.to_thread(receiver.wait_for, 1)
        watch.kill("desk says stop", who="ops")
        await until(lambda: watch.record is not None and watch.record.stage == "done", 30)
        await asyncio.sleep(0.2)
        seen["record"] = watch.record
        seen["open"] = sorted(str(o.strategy_id) for o in node.cache.orders_open())
        seen["positions"] = sorted(str(p.strategy_id) for p in node.cache.positions_open())
        seen["watch"] = watch

    options = {
        "feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 30.0}],
        "event_log": str(tmp_path / f"{mode}.jsonl"),
        "hedge_tags": ["HEDGE"],
    }
    receiver = Receiver(mode or "ok")
    try:
        if mode is not None:
            options.update(alerts=[receiver.url()], alerts_timeout=0.5, alerts_retries=1)
        config = node_config(options, replay=ReplayDataClientConfig(speed=60.0, max_gap=0.05))
        run_node(config, session)
    finally:
        receiver.close()
    events = read_event_log(tmp_path / f"{mode}.jsonl").events
    trip = next(e for e in events if e.kind == "trip")
    first = next(e for e in events if e.kind == "command")
    seen["kill_to_first_command_ns"] = first.ts_ns - trip.ts_ns
    seen["commands"] = sorted(
        (e.fields["command"], e.fields.get("strategy_id")) for e in events if e.kind == "command"
    )
    return seen


def _probe_alert() -> Alert:
    from nautilus_riskwatch.alerts import AlertKind

    return Alert(AlertKind.WARNING, "W", "N", "portfolio", "max_loss", "probe", 0)


@pytest.mark.parametrize("mode", ["hang", "fail"])
def test_a_receiver_that_hangs_or_fails_changes_nothing_of_a_live_cascade(mode, tmp_path):
    control = _kill_run(None, tmp_path)
    run = _kill_run(mode, tmp_path)
    for seen in (control, run):
        record = seen["record"]
        assert isinstance(record.cause, ManualKill) and record.complete
        assert seen["open"] == [HEDGER] and seen["positions"] == [HEDGER]  # the hedges kept
    assert run["commands"] == control["commands"]
    (stats,) = run["watch"].session.alerts.alerts.sender.stats()
    assert stats.sent == 0 and stats.dropped + stats.queued >= 1
    print(
        f"\nkill -> first command: {control['kill_to_first_command_ns'] / 1e3:.0f} us without "
        f"alerts, {run['kill_to_first_command_ns'] / 1e3:.0f} us with a receiver that {mode}s"
    )


def _firm_cli(url: str, *args: str, key_file: str | None = None):
    env = {k: v for k, v in os.environ.items() if k != "RISKWATCH_OPERATOR_KEY_FILE"}
    if key_file is not None:
        env["RISKWATCH_OPERATOR_KEY_FILE"] = key_file
    return subprocess.run(
        [sys.executable, "-m", "nautilus_riskwatch", "firm", "--url", url, "--firm", "acme",
         *args],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_a_firm_kill_and_the_firm_rearm_are_heard_at_the_receiver(tmp_path):
    private, public = generate()  # the operator's pair, as `riskwatch firm keygen` makes it
    key_file = str(tmp_path / "operator.key")
    write_private(key_file, private)
    seen: dict = {}

    async def session(node):
        watch = node.trader.actors()[0]
        await until(lambda: len(node.cache.orders_open()) >= 2 and watch.session is not None, 20)
        kill = ("kill", "--reason", "risk desk: stop everything", "--who", "ops")
        done = await asyncio.to_thread(_firm_cli, redis.url, *kill)
        assert done.returncode == 0, done.stdout + done.stderr
        await until(lambda: watch.record is not None and watch.record.stage == "done", 30)
        seen["record"] = watch.record
        url = watch.session.alerts.metrics.url
        await until(lambda: watch.session.firm.member.latch.state == "tripped", 10)
        seen["metrics"] = _samples(await asyncio.to_thread(_scrape, url))
        rearm = ("rearm", "--epoch", "1", "--reason", "all clear", "--who", "risk", "--wait", "20")
        done = await asyncio.to_thread(_firm_cli, redis.url, *rearm, key_file=key_file)
        assert done.returncode == 0, done.stdout + done.stderr
        await until(lambda: watch.record is None, 30)  # re-armed here by the firm
        seen["records"] = list(watch.records)

    with LocalRedis() as redis, Receiver("ok") as receiver:
        config = node_config(
            {
                "feeds": [{"instrument_id": "EUR/USD.SIM", "stale_after": 30.0}],
                "hedge_tags": ["HEDGE"],
                "firm": {"url": redis.url, "name": "acme", "heartbeat": 0.2,
                         "operator_key": public},
                "alerts": [receiver.url()],
                "metrics_port": 0,
            },
            replay=ReplayDataClientConfig(speed=60.0, max_gap=0.05),
        )  # fmt: skip
        run_node(config, session)
        got = receiver.wait_for(3)
    record = seen["record"]
    assert isinstance(record.cause, FirmKill) and record.complete
    assert seen["records"] == [record]
    alerts = [Alert.from_text(r["message"]) for r in got]
    assert [a.kind.value for a in alerts] == ["firm_kill", "cascade_end", "firm_rearm"]
    kill = alerts[0].fields()
    assert kill["epoch"] == "1" and kill["by"] == "operator ops"
    assert "risk desk: stop everything" in alerts[0].summary
    assert alerts[0].at_ns == record.tripped_at_ns
    rearm = alerts[2].fields()
    assert rearm["epoch"] == "1" and rearm["by"] == "risk" and "all clear" in alerts[2].summary
    # the board said it too, before the re-arm: the latch tripped at epoch 1, the cascade done
    metrics = seen["metrics"]
    assert _value(metrics, "riskwatch_firm_latch", state="tripped") == 1.0
    assert _value(metrics, "riskwatch_firm_latch", state="armed") == 0.0
    assert _value(metrics, "riskwatch_firm_epoch") == 1.0
    assert _value(metrics, "riskwatch_cascade_stage", scope="portfolio", stage="done") == 1.0
    assert _value(metrics, "riskwatch_trips_total", cause="firm-kill") == 1.0
