"""The alert sender against real HTTP receivers on 127.0.0.1, through Apprise's json://.

Judged from the receiver's side: what arrived, how often, in what order. The sender's
counts must then say what was lost.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from receivers import Receiver

from nautilus_riskwatch.alerts import (
    Alert,
    AlertKind,
    AlertsConfigError,
    AlertSender,
    Delivery,
    figures,
)

FAST = Delivery(timeout=0.3, retries=2, backoff=0.01, backoff_max=0.02)


def trip(n: int = 0) -> Alert:
    return Alert(
        kind=AlertKind.TRIP,
        watch="RiskWatch",
        node="TRADER-001",
        scope="portfolio",
        cause="drawdown",
        summary=f"loss 1002.15 USD reached the ceiling 1000 USD (#{n})",
        at_ns=1_577_898_000_000_000_000 + n,
        figures=figures(loss=Decimal("1002.15"), ceiling=Decimal("1000"), currency="USD"),
    )


def test_an_alert_reaches_a_real_receiver_with_every_field():
    with Receiver("ok") as receiver:
        sender = AlertSender([receiver.url()], FAST)
        sender.start()
        alert = trip()
        assert sender.put(alert)
        (got,) = receiver.wait_for(1)
        sender.close()
    assert got["title"] == "riskwatch TRIP: TRADER-001 portfolio"
    assert got["type"] == "failure"
    assert Alert.from_text(got["message"]) == alert
    assert (
        "loss: 1002.15" in got["message"]
        and "time: 2020-01-01T17:00:00.000000000Z" in got["message"]
    )
    assert receiver.paths == ["/alerts"]
    (stats,) = sender.stats()
    assert (stats.sent, stats.dropped, stats.attempts_failed) == (1, 0, 0)


def test_many_alerts_arrive_once_each_in_order():
    with Receiver("ok") as receiver:
        sender = AlertSender([receiver.url()], FAST)
        sender.start()
        alerts = [trip(n) for n in range(20)]
        assert all(sender.put(a) for a in alerts)
        sender.close(timeout=10)
        got = [Alert.from_text(r["message"]) for r in receiver.requests]
    assert got == alerts  # each once, in the order put
    assert sender.stats()[0].sent == 20 and sender.dropped == 0


def test_a_failing_receiver_is_retried_then_the_loss_is_counted():
    with Receiver("fail") as receiver:
        sender = AlertSender([receiver.url()], FAST)
        sender.start()
        sender.put(trip())
        sender.close(timeout=10)
        attempts = [Alert.from_text(r["message"]) for r in receiver.requests]
    assert attempts == [trip()] * 3  # the first send and two retries, nothing more
    (stats,) = sender.stats()
    assert (stats.sent, stats.attempts_failed, stats.dropped_failed) == (0, 3, 1)
    assert stats.dropped == 1


def test_a_hung_receiver_holds_only_its_own_queue():
    with Receiver("hang") as hung, Receiver("ok") as healthy:
        sender = AlertSender([hung.url(), healthy.url()], FAST)
        sender.start()
        alerts = [trip(n) for n in range(5)]
        for alert in alerts:
            sender.put(alert)
        got = healthy.wait_for(5)
        assert [Alert.from_text(r["message"]) for r in got] == alerts
        sender.close(timeout=10)
        hung_stats, healthy_stats = sender.stats()
    assert healthy_stats.sent == 5 and healthy_stats.dropped == 0
    # every alert was tried three times at the hung receiver, and each counts as lost
    assert len(hung.requests) == 15
    assert (hung_stats.sent, hung_stats.attempts_failed, hung_stats.dropped_failed) == (0, 15, 5)


def test_a_full_queue_drops_the_newest_and_counts_it():
    with Receiver("hang") as hung:
        sender = AlertSender([hung.url()], Delivery(timeout=0.2, retries=0, queue=2))
        accepted = [sender.put(trip(n)) for n in range(5)]  # not started: nothing drains
        assert accepted == [True, True, False, False, False]
        assert sender.stats()[0].dropped_full == 3 and sender.stats()[0].queued == 2
        sender.start()
        sender.close(timeout=10)
        got = [Alert.from_text(r["message"]) for r in hung.requests]
    assert got == [trip(0), trip(1)]
    (stats,) = sender.stats()
    assert (stats.dropped_full, stats.dropped_failed, stats.sent, stats.queued) == (3, 2, 0, 0)
    assert stats.dropped == 5


def test_close_gives_up_on_a_hung_receiver_and_counts_what_was_left():
    with Receiver("hang") as hung:
        sender = AlertSender([hung.url()], Delivery(timeout=5, retries=0, queue=10))
        sender.start()
        for n in range(4):
            sender.put(trip(n))
        hung.wait_for(1)  # the first is stuck in its send
        sender.close(timeout=0.2)
        stats = sender.stats()[0]
        assert stats.dropped_closed == 3 and stats.queued == 0
        assert not sender.put(trip(9))  # closed: refused and counted
        assert sender.stats()[0].dropped_closed == 4


def test_dry_sends_nothing_and_hands_each_alert_over_at_once():
    seen: list[Alert] = []
    with Receiver("ok") as receiver:
        sender = AlertSender.dry(seen.append, [receiver.url()])
        sender.start()
        for n in range(3):
            sender.put(trip(n))
            assert seen[-1] == trip(n)  # on the caller's thread, before put returned
        sender.close()
        assert receiver.requests == []
    assert seen == [trip(0), trip(1), trip(2)]


def test_a_bad_url_is_refused_at_build_naming_the_field_and_hiding_the_token():
    with pytest.raises(AlertsConfigError) as error:
        AlertSender(["json://127.0.0.1:9/a", "tgram://"])
    assert error.value.field == "alerts[1]"
    with pytest.raises(AlertsConfigError) as error:
        AlertSender(["nosuchservice://SECRETTOKEN/x"])
    assert error.value.field == "alerts[0]" and "nosuchservice" in str(error.value)
    assert "SECRETTOKEN" not in str(error.value)
    with pytest.raises(AlertsConfigError) as error:
        AlertSender.dry(print, ["not a url"])
    assert error.value.field == "alerts[0]"
    with pytest.raises(AlertsConfigError) as error:
        AlertSender("json://127.0.0.1/a")  # type: ignore[arg-type]
    assert error.value.field == "alerts"
    with pytest.raises(AlertsConfigError) as error:
        Delivery(timeout=0)
    assert error.value.field == "alerts_timeout"
    with pytest.raises(AlertsConfigError) as error:
        Delivery(queue=0)
    assert error.value.field == "alerts_queue"


def test_no_token_reaches_a_log_line_or_a_repr(caplog):
    caplog.set_level(logging.DEBUG)
    lines: list[str] = []
    with Receiver("fail") as receiver:
        url = receiver.url("hooks/SECRETTOKEN?key=SECRETKEY")
        sender = AlertSender([url], FAST, log=lambda level, text: lines.append(text))
        sender.start()
        sender.put(trip())
        receiver.wait_for(3)
        sender.close(timeout=10)
    # built and shown, never started: nothing may leave this machine
    telegram = AlertSender(["tgram://123456789:SECRETBOT/4242"])
    shown = [repr(sender), repr(telegram), *lines, *(r.getMessage() for r in caplog.records)]
    assert any("127.0.0.1" in line for line in shown)  # the useful part stays
    assert any("lost" in line for line in lines)
    for secret in ("SECRETTOKEN", "SECRETKEY", "SECRETBOT", "4242"):
        assert not any(secret in line for line in shown), secret
