"""The alert record: exact figures, readable text, and read back field for field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nautilus_riskwatch.alerts import Alert, AlertKind, figures


def test_text_reads_back_to_the_same_alert_for_every_kind():
    for kind in AlertKind:
        alert = Alert(
            kind=kind,
            watch="RiskWatch",
            node="TRADER-001",
            scope="strategy DemoTrader-001",
            cause="trailing-drawdown",
            summary="drawdown 80.000000001 USD: 80% of the trailing ceiling",
            at_ns=1_577_898_000_123_456_789,
            figures=figures(loss=Decimal("80.000000001"), level=Decimal("8E+1"), orders=3),
        )
        text = alert.to_text()
        assert Alert.from_text(text) == alert
        assert "level: 80" in text and "loss: 80.000000001" in text  # exact, no exponent
        assert "time: 2020-01-01T17:00:00.123456789Z" in text


def test_urgency_follows_the_kind_and_an_incomplete_end_is_a_failure():
    base = dict(watch="w", node="n", scope="portfolio", cause="drawdown", summary="s", at_ns=0)
    assert Alert(kind=AlertKind.TRIP, **base).notify_type == "failure"
    assert Alert(kind=AlertKind.WARNING, **base).notify_type == "warning"
    assert Alert(kind=AlertKind.CASCADE_END, **base).notify_type == "success"
    assert Alert(kind=AlertKind.CASCADE_END, urgent=True, **base).notify_type == "failure"
    assert Alert(kind="firm_rearm", **base).kind is AlertKind.FIRM_REARM  # type: ignore[arg-type]


def test_a_float_figure_is_refused():
    with pytest.raises(TypeError, match="float"):
        figures(loss=1002.15)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="figures"):
        Alert(AlertKind.TRIP, "w", "n", "p", "c", "s", 0, {"loss": 1.5})  # type: ignore[dict-item]


def test_the_text_cannot_be_made_ambiguous():
    base = dict(watch="w", node="n", scope="p", cause="c", at_ns=0)
    with pytest.raises(ValueError, match="figure name"):
        Alert(AlertKind.TRIP, summary="s", figures=figures(scope="x"), **base)
    with pytest.raises(ValueError, match="one line"):
        Alert(AlertKind.TRIP, summary="two\nlines", **base)
    with pytest.raises(ValueError, match="one line"):
        Alert(AlertKind.TRIP, summary="s", figures=figures(reason="a\nb"), **base)
