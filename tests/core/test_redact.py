"""``redact_url``: the one way a URL is shown, whatever service it names."""

from __future__ import annotations

from nautilus_riskwatch.core.event_log import redact
from nautilus_riskwatch.core.redact import redact_url
from nautilus_riskwatch.firm.link import redact as firm_redact


def test_redis_urls_keep_host_port_and_db_and_hide_the_password():
    assert firm_redact is redact_url  # one function
    assert redact_url("redis://u:hunter2@h:6379/0") == "redis://u:***@h:6379/0"
    assert redact_url("rediss://:hunter2@h/0") == "rediss://:***@h/0"
    assert redact_url("redis://h:6379") == "redis://h:6379"
    assert redact_url("redis://h/0?password=hunter2") == "redis://h/0?password=***"
    assert redact_url("redis://[::1]:6380/1") == "redis://[::1]:6380/1"


def test_alert_urls_hide_tokens_in_the_host_the_path_the_query_and_the_fragment():
    cases = {
        "tgram://123456789:AAHsecret/4242": "tgram://***",
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general": "slack://***/***/***/#***",
        "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js": "discord://***/***",
        "json://127.0.0.1:8080/hooks/s3cr3t?key=abc": "json://127.0.0.1:8080/***/***?key=***",
        "mailtos://ops:pw@example.com": "mailtos://ops:***@example.com",
        "pagerduty://integrationkey@apikey": "pagerduty://***",
    }
    for url, shown in cases.items():
        assert redact_url(url) == shown, url


def test_urls_in_free_text_are_shown_the_same_way():
    text = "send to tgram://123456789:AAHsecret/4242 failed (json://h:1/hooks/tok)."
    assert redact(text) == "send to tgram://*** failed (json://h:1/***/***)."
    assert redact("order O-1 cancelled by ops-desk") == "order O-1 cancelled by ops-desk"
