"""The alert URLs, checked at build: each one an Apprise service that can be sent to.

Why at build: a typo in a Telegram token must stop the node before it trades, not be
found in the middle of a trip when the alert cannot go out. Apprise answers ``None`` for a
URL it cannot use; that becomes an ``AlertsConfigError`` naming the field (``alerts[i]``)
with the URL redacted (``redact_url``), since the URL is the secret.

Apprise (the ``[alerts]`` extra) is imported here only: ``dry`` alerts (a backtest's) and the
warning logic need nothing installed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nautilus_riskwatch.core.redact import redact_url
from nautilus_riskwatch.errors import RiskWatchConfigError

__all__ = ["AlertsConfigError", "Target", "build_targets", "redacting_filter"]


class AlertsConfigError(RiskWatchConfigError):
    """An alerts setting the watch refuses, with the field and the (redacted) value named:
    a config error like any other (``except RiskWatchConfigError`` catches it)."""


@dataclass(frozen=True, eq=False)
class Target:
    """One Apprise service: where an alert goes (``name`` is the redacted URL)."""

    index: int
    name: str
    service: Any  # apprise.plugins.NotifyBase (untyped)

    @property
    def field(self) -> str:
        return f"alerts[{self.index}]"

    def __repr__(self) -> str:
        return f"Target({self.field}, {self.name!r})"


def build_targets(urls: Sequence[str], timeout: float) -> tuple[Target, ...]:
    """One ``Target`` per URL, each sending with ``timeout`` seconds to connect and to read.

    Apprise's own retries are turned off (``retry=0``): the sender retries, with backoff,
    and counts what it drops.
    """
    if isinstance(urls, str):
        raise AlertsConfigError("alerts", redact_url(urls), "expected a list of Apprise URLs")
    try:
        import apprise
        from apprise.manager_plugins import NotificationManager
    except ImportError:
        raise AlertsConfigError(
            "alerts",
            [redact_url(u) if isinstance(u, str) else u for u in urls],
            "sending alerts needs Apprise: pip install 'nautilus-riskwatch[alerts]'",
        ) from None
    redacting_filter()
    manager: Any = NotificationManager  # untyped
    known = manager()
    targets = []
    for index, url in enumerate(urls):
        field = f"alerts[{index}]"
        if not isinstance(url, str) or "://" not in url:
            shown = redact_url(url) if isinstance(url, str) else url
            raise AlertsConfigError(field, shown, "expected an Apprise URL such as tgram://...")
        name = redact_url(url)
        scheme = url.split("://", 1)[0].lower()
        if scheme not in known:
            raise AlertsConfigError(
                field, name, f"Apprise knows no service {scheme!r}:// (see Apprise's wiki)"
            )
        service = apprise.Apprise.instantiate(url)
        if service is None:
            raise AlertsConfigError(
                field,
                name,
                f"Apprise cannot send to this {scheme}:// URL (a token, host or target "
                "missing or malformed; see Apprise's wiki for the service's URL form)",
            )
        service.socket_connect_timeout = timeout
        service.socket_read_timeout = timeout
        service.retry = 0
        targets.append(Target(index, name, service))
    return tuple(targets)


class _Redact(logging.Filter):
    """Shows every URL in a log record as ``redact_url`` does.

    On Apprise's logger every record; on urllib3's (which logs each request's path, where a
    webhook keeps its token) the records of the alert senders' threads.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("urllib3") and not (record.threadName or "").startswith(THREADS):
            return True
        args = _args(record)
        if "://" in str(record.msg) or any(_url_like(a) for a in args):
            record.msg = _shown(record.getMessage())
            record.args = None
        return True


def _shown(text: str) -> str:
    from nautilus_riskwatch.core.event_log import redact

    words = (_path(w) if w.startswith("/") else w for w in text.split(" "))
    return redact(" ".join(words))


def _path(word: str) -> str:
    """A bare request path (``/hooks/TOKEN``), shown as ``redact_url`` shows a path."""
    return redact_url(f"json://h{word}").removeprefix("json://h")


def _url_like(arg: object) -> bool:
    return isinstance(arg, str) and ("://" in arg or arg.startswith("/"))


def _args(record: logging.LogRecord) -> tuple[object, ...]:
    args = record.args
    if args is None:
        return ()
    return tuple(args.values()) if isinstance(args, dict) else tuple(args)


#: The alert senders' thread names start with this (their urllib3 lines are redacted).
THREADS = "riskwatch-alerts"
_FILTER = _Redact()


def redacting_filter() -> logging.Filter:
    """Put the redaction on Apprise's and urllib3's loggers (once): their debug lines name
    URLs and request paths."""
    for name in ("apprise", "urllib3.connectionpool"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    return _FILTER
