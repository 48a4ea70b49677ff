"""``AlertSender``: alerts off the watch's path, to every target, counted when lost.

Why so careful: an alert is the least important thing the watch does at a trip. The kill
must never wait for Slack. So ``put`` only appends to a bounded queue per target (O(1), no
I/O, no lock to wait for, never blocks) and returns; each target has
its own thread that sends, so a receiver that hangs holds up only its own queue, never the
watch and never another target. A send is bounded (``timeout`` to connect and to each
read), a failed one is retried ``retries`` times with exponential backoff, and what is lost
is counted, by reason: the queue was full (``dropped_full``), every attempt failed
(``dropped_failed``), or the sender closed before it could send (``dropped_closed``).

Dry (``AlertSender.dry``): nothing goes to the network. Each alert is handed at once, on the
caller's thread, to a callback: a backtest writes it to the event log there, in order, at
its engine time, as what would have been sent.

Logging happens on the senders' threads only (never inside ``put``): a drop counted in
``put`` is logged by the target's thread when it next wakes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nautilus_riskwatch.alerts.message import Alert
from nautilus_riskwatch.alerts.targets import THREADS, AlertsConfigError, Target, build_targets

__all__ = ["AlertSender", "Delivery", "TargetStats"]

#: ``log(level, message)``: where the sender's own lines go (the node's logger, wired later).
Log = Callable[[str, str], None]

_LOGGER = logging.getLogger("nautilus_riskwatch.alerts")


def _log(level: str, message: str) -> None:
    _LOGGER.log(logging.getLevelName(level.upper()), message)


@dataclass(frozen=True)
class Delivery:
    """How alerts are delivered (config names in brackets).

    timeout : seconds to connect and to wait for each read of one send (``alerts_timeout``)
    retries : further attempts after a failed send (``alerts_retries``)
    backoff : seconds before the first retry, doubled for each next (capped at
        ``backoff_max``)
    queue : alerts waiting per target; past it the newest is dropped and counted
        (``alerts_queue``)
    """

    timeout: float = 5.0
    retries: int = 3
    backoff: float = 1.0
    backoff_max: float = 30.0
    queue: int = 256

    def __post_init__(self) -> None:
        for name, field in (("timeout", "alerts_timeout"), ("backoff", "backoff")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise AlertsConfigError(field, value, "expected a positive number of seconds")
        if not self.backoff_max >= self.backoff:
            raise AlertsConfigError("backoff_max", self.backoff_max, "must be >= backoff")
        for name, field, least in (("retries", "alerts_retries", 0), ("queue", "alerts_queue", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise AlertsConfigError(field, value, f"expected a whole number >= {least}")

    def wait(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1 = the first retry)."""
        return float(min(self.backoff_max, self.backoff * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class TargetStats:
    """What became of the alerts put for one target, so far."""

    target: str  # the redacted URL
    sent: int
    attempts_failed: int
    dropped_full: int
    dropped_failed: int
    dropped_closed: int
    queued: int

    @property
    def dropped(self) -> int:
        return self.dropped_full + self.dropped_failed + self.dropped_closed


_STOP = object()


class _Lane:
    """One target's queue, thread and counts.

    The queue is a ``queue.SimpleQueue`` (C, lock-free for the caller in practice, far
    cheaper than ``queue.Queue``'s condition variables); its bound is kept by two counts,
    each with one writer: ``puts`` by the caller, ``taken`` by this lane's thread. Their
    difference may lag behind the truth by the one alert the thread is taking, so the bound
    is never exceeded, at worst reached one alert early.
    """

    def __init__(self, target: Target, delivery: Delivery, log: Log) -> None:
        self.target = target
        self.delivery = delivery
        self.size = delivery.queue
        self.log = log
        self.queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        # each count has one writer: the caller's thread (put, close) or this lane's thread
        self.puts = self.dropped_full = self.refused_closed = 0  # the caller's
        self.taken = self.sent = self.attempts_failed = 0  # this lane's thread's
        self.dropped_failed = self.dropped_closed = 0
        self._full_logged = 0
        self.abandon = threading.Event()  # close's deadline passed: stop retrying
        self.thread = threading.Thread(
            target=self._run, name=f"{THREADS}-{target.index}", daemon=True
        )

    def put(self, alert: Alert) -> bool:
        if self.puts - self.taken >= self.size:
            self.dropped_full += 1
            return False
        self.puts += 1
        self.queue.put(alert)
        return True

    def drain(self) -> int:
        """Take every alert still queued (counted as closed), then queue the stop."""
        left = 0
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            left += item is not _STOP
        self.refused_closed += left
        self.puts -= left  # they left the queue, as if taken
        self.queue.put(_STOP)
        return left

    def stats(self) -> TargetStats:
        return TargetStats(
            self.target.name,
            self.sent,
            self.attempts_failed,
            self.dropped_full,
            self.dropped_failed,
            self.dropped_closed + self.refused_closed,
            max(0, self.puts - self.taken),
        )

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is _STOP:
                return
            self.taken += 1
            assert isinstance(item, Alert)
            self._say_dropped()
            if self.abandon.is_set():
                self.dropped_closed += 1
                continue
            self._deliver(item)

    def _deliver(self, alert: Alert) -> None:
        target = self.target
        for attempt in range(self.delivery.retries + 1):
            if attempt and self.abandon.wait(self.delivery.wait(attempt)):
                self.dropped_closed += 1
                return
            if self._send(alert):
                self.sent += 1
                return
            self.attempts_failed += 1
        self.dropped_failed += 1
        self.log(
            "error",
            f"alert {alert.kind.value} ({alert.scope}) to {target.field} {target.name} lost: "
            f"{self.delivery.retries + 1} attempts failed ({self.dropped_failed} lost so far)",
        )

    def _send(self, alert: Alert) -> bool:
        try:
            return bool(
                self.target.service.notify(
                    body=alert.to_text(), title=alert.title, notify_type=alert.notify_type
                )
            )
        except Exception as error:  # a plugin that raises is a failed attempt
            from nautilus_riskwatch.core.event_log import redact

            self.log(
                "warning", f"{self.target.field}: {redact(f'{type(error).__name__}: {error}')}"
            )
            return False

    def _say_dropped(self) -> None:
        full = self.dropped_full
        if full != self._full_logged:
            self.log(
                "error",
                f"{full - self._full_logged} alert(s) for {self.target.field} "
                f"{self.target.name} dropped: its queue ({self.delivery.queue}) was full",
            )
            self._full_logged = full


class AlertSender:
    """Sends each alert put to every target, off the caller's thread.

    Build it with the URLs (checked at once: ``AlertsConfigError`` names ``alerts[i]``),
    ``start()`` it when the watch starts, ``put`` alerts from the watch's thread, ``close``
    it when the watch stops. Before ``start``, alerts queue up (and count when full).
    """

    def __init__(
        self,
        urls: Sequence[str],
        delivery: Delivery | None = None,
        log: Log | None = None,
    ) -> None:
        self.delivery = delivery or Delivery()
        self.log = log or _log
        self._dry: Callable[[Alert], None] | None = None
        targets = build_targets(urls, self.delivery.timeout) if urls else ()
        self._lanes = tuple(_Lane(t, self.delivery, self.log) for t in targets)
        self._started = self._closed = False

    @classmethod
    def dry(
        cls,
        callback: Callable[[Alert], None],
        urls: Sequence[str] = (),
        delivery: Delivery | None = None,
        log: Log | None = None,
    ) -> AlertSender:
        """A sender that sends nothing: ``put`` hands each alert to ``callback`` at once.

        The URLs are still checked (a backtest catches a bad one before it goes live), and
        Apprise is needed only if there are any.
        """
        sender = cls((), delivery, log)
        if urls:
            build_targets(urls, sender.delivery.timeout)
        sender._dry = callback
        return sender

    @property
    def targets(self) -> tuple[str, ...]:
        """The targets, redacted."""
        return tuple(lane.target.name for lane in self._lanes)

    def __repr__(self) -> str:
        mode = "dry" if self._dry is not None else f"{len(self._lanes)} target(s)"
        return f"AlertSender({mode}, {list(self.targets)!r})"

    def start(self) -> None:
        if self._started or self._closed:
            return
        self._started = True
        for lane in self._lanes:
            lane.thread.start()

    def put(self, alert: Alert) -> bool:
        """Queue ``alert`` for every target; False if any queue was full (counted) or the
        sender is closed. Never blocks, never raises for a target's sake."""
        if self._dry is not None:
            self._dry(alert)
            return True
        if self._closed:
            for lane in self._lanes:
                lane.refused_closed += 1
            return False
        ok = True
        for lane in self._lanes:
            ok = lane.put(alert) and ok
        return ok

    def stats(self) -> tuple[TargetStats, ...]:
        return tuple(lane.stats() for lane in self._lanes)

    @property
    def dropped(self) -> int:
        """Alerts lost so far, for all targets and all reasons."""
        return sum(s.dropped for s in self.stats())

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued for up to ``timeout`` seconds, then stop; what is left is
        counted as ``dropped_closed``. A thread still stuck in a send is left behind (a
        daemon): it stops retrying, and what it holds counts when it returns."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        for lane in self._lanes:
            if not self._started:
                lane.abandon.set()  # never started: nothing was meant to go out yet
                lane.thread.start()
            lane.queue.put(_STOP)
        self._started = True
        for lane in self._lanes:
            lane.thread.join(max(0.0, deadline - time.monotonic()))
            if lane.thread.is_alive():
                lane.abandon.set()
                left = lane.drain()
                if left:
                    self.log(
                        "warning",
                        f"{left} alert(s) for {lane.target.field} {lane.target.name} "
                        "not sent before the close",
                    )
