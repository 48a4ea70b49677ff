"""The adapter's door to alerts and metrics (``nautilus/alerting.py``), without an engine.

Dry (a backtest): each alert is an ``alert`` line of the event log, in the scope's
attribution, with what would have been sent, and nothing reaches a receiver. Live: the
alert reaches a real receiver on loopback and the line names the (redacted) target. A
firm kill is a ``firm_kill`` alert, not a second trip. The snapshot reads each limit's
figure exactly as the breaker's band gave it.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from receivers import Receiver

from nautilus_riskwatch.alerts import Alert, Delivery
from nautilus_riskwatch.alerts.levels import Crossing
from nautilus_riskwatch.alerts.warnings import LimitFigure
from nautilus_riskwatch.core.event_log import EventLog, attribute
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.limits import Quiet
from nautilus_riskwatch.core.record import RiskOff
from nautilus_riskwatch.core.trips import DrawdownBreached, FirmKill, StalenessError
from nautilus_riskwatch.nautilus.alerting import (
    FeedView,
    LimitView,
    ScopeView,
    WatchAlerts,
    snapshot_of,
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
