"""The alerts built from the watch's own records and crossings: what they say, and that a
run of figures gives its warnings, then its trip, at a real receiver in order, once each."""

from __future__ import annotations

from decimal import Decimal

from receivers import Receiver

from nautilus_riskwatch.alerts import Alert, AlertKind, AlertSender, Delivery, FeedSilence, Levels
from nautilus_riskwatch.alerts.compose import (
    cascade_end_alert,
    feed_warning_alert,
    firm_alert,
    trip_alert,
    warning_alert,
)
from nautilus_riskwatch.core import DrawdownBreached, RiskOff, Stage, StalenessError
from nautilus_riskwatch.core.trips import FirmKill

D = Decimal
T0 = 1_577_898_000_000_000_000


def test_a_trip_alert_carries_the_trips_own_words_and_facts():
    record = RiskOff(DrawdownBreached(D("1002.15"), D("1000"), "USD"), T0, scope="portfolio")
    alert = trip_alert(record, "RiskWatch", "TRADER-001")
    assert (alert.kind, alert.cause, alert.scope, alert.at_ns) == (
        AlertKind.TRIP,
        "drawdown",
        "portfolio",
        T0,
    )
    assert alert.summary == "loss 1002.15 USD reached the ceiling 1000 USD"
    assert alert.figures["loss"] == "1002.15" and alert.figures["ceiling"] == "1000"
    stale = trip_alert(RiskOff(StalenessError("EUR/USD.SIM quote", 90.0), T0), "W", "N")
    assert stale.cause == "stale" and stale.figures["source"] == "EUR/USD.SIM quote"
    firm = trip_alert(RiskOff(FirmKill("NODE-A", 3, "desk\nsaw it", "manual"), T0), "W", "N")
    assert firm.figures["epoch"] == "3" and "\n" not in firm.to_text().split("\n\n")[0]
    assert Alert.from_text(firm.to_text()) == firm


def test_a_cascade_end_says_complete_or_what_is_still_live_as_a_failure():
    done = RiskOff(
        DrawdownBreached(D("1002.15"), D("1000"), "USD"),
        T0,
        stage=Stage.DONE,
        orders_cancelled=["O-1", "O-2"],
        positions_closed=["P-1"],
        hedges_kept=["P-H"],
        finished_at_ns=T0 + 5,
    )
    end = cascade_end_alert(done, "RiskWatch", "TRADER-001")
    assert end.notify_type == "success" and end.at_ns == T0 + 5
    assert (
        end.summary
        == "cascade complete: 2 order(s) cancelled, 1 position(s) closed, 1 hedge(s) kept"
    )
    assert end.figures["complete"] == "true"
    done.left_live.append("O-3")
    done.errors.append("cancel of O-3\nrefused")
    late = cascade_end_alert(done, "RiskWatch", "TRADER-001")
    assert late.notify_type == "failure" and late.figures["still_live"] == "O-3"
    assert late.summary.startswith("cascade INCOMPLETE at done: still live O-3")
    assert late.figures["errors"] == "cancel of O-3 refused"


def test_firm_alerts():
    kill = firm_alert(AlertKind.FIRM_KILL, 4, "NODE-A", "venue outage", "W", "N", T0, "manual")
    assert kill.summary == "firm kill (epoch 4) from NODE-A: venue outage"
    assert kill.notify_type == "failure" and kill.cause == "manual" and kill.scope == "firm"
    rearm = firm_alert(AlertKind.FIRM_REARM, 4, "risk-officer", "", "W", "N", T0)
    assert rearm.summary == "firm re-armed by risk-officer" and rearm.notify_type == "info"


def test_warnings_then_the_trip_reach_a_receiver_in_the_order_the_figures_crossed():
    ceiling = D("1000")
    levels = Levels([D("0.5"), D("0.8")], ceiling)
    silence = FeedSilence([D("0.5")], bound=90.0)
    losses = ["100", "520.5", "480", "399.99", "510", "790", "805", "1002.15"]
    with Receiver("ok") as receiver:
        sender = AlertSender([receiver.url()], Delivery(timeout=2, retries=1, backoff=0.01))
        sender.start()
        sent = []
        for n, loss in enumerate(losses):
            figure = D(loss)
            for crossing in levels.see(figure):
                sent.append(
                    warning_alert(crossing, "drawdown", "portfolio", "USD", "W", "N", T0 + n)
                )
            if n == 3:  # the feed has been silent for 45 s of its 90
                (quiet,) = silence.check(now=55.0, last=10.0)
                sent.append(feed_warning_alert(quiet, "EUR/USD.SIM quote", "W", "N", T0 + n))
            if figure >= ceiling:
                trip = DrawdownBreached(figure, ceiling, "USD")
                sent.append(trip_alert(RiskOff(trip, T0 + n), "W", "N"))
        for alert in sent:
            sender.put(alert)
        sender.close(timeout=10)
    got = [Alert.from_text(r["message"]) for r in receiver.requests]
    assert got == sent
    assert [(a.kind.value, a.figures.get("level", a.figures.get("loss"))) for a in got] == [
        ("warning", "500.0"),  # at 520.5
        ("feed_warning", None),
        ("warning", "500.0"),  # again: it fell to 399.99 (<= 400) and rose to 510
        ("warning", "800.0"),
        ("trip", "1002.15"),
    ]
    assert got[0].summary == "drawdown 520.5 USD reached 50% of the ceiling 1000 USD"
    assert got[1].summary == "feed 'EUR/USD.SIM quote' silent for 45s: 50% of its bound 90s"
