"""``LinkHealth``: whether the firm's Redis answers, since when it does not, and how long
to wait before the next try.

Apart from the member's tasks because it is one small state every task shares (the tell,
the heartbeat and the listener each report each answer and each failure here): the link
is logged down once per outage and up once when it returns, the outage is timed for
``on_link_lost="halt"``, and the retries back off together.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from nautilus_riskwatch.core.redact import redact_url


class LinkHealth:
    """The link's state as the member's tasks saw it last (``up``, ``down_since``)."""

    def __init__(self, url: str, heartbeat: float, log: Callable[[str, str], None]) -> None:
        self._url = url
        self._heartbeat = heartbeat
        self._log = log
        self.up = False
        self.down_since: float | None = None  # monotonic time of the first failure
        self._failures = 0

    def answered(self) -> bool:
        """Redis answered; True if the link just came back (or came up the first time)."""
        came_back = not self.up
        if came_back:
            self._log("info", f"firm link up ({redact_url(self._url)})")
        self.up = True
        self.down_since = None
        self._failures = 0
        return came_back

    def failed(self, error: BaseException | None = None) -> float:
        """Redis did not answer (``error``, or None if not reached yet): logged once per
        outage; returns for how long the link has been lost (seconds)."""
        now = time.monotonic()
        if self.up or self.down_since is None:
            self._log(
                "error",
                f"firm link down ({redact_url(self._url)}): {describe(error)}; local trips "
                f"work as before, retrying with backoff",
            )
            self.down_since = now
        self.up = False
        self._failures += 1
        return now - self.down_since

    def backoff(self) -> float:
        """Exponential backoff with jitter: 50 ms doubling per failure, capped at the
        heartbeat (and at 2 s), each wait drawn from half to all of that."""
        cap = min(2.0, max(self._heartbeat, 0.05))
        return float(min(cap, 0.05 * 2 ** min(self._failures, 10)) * random.uniform(0.5, 1.0))


def describe(error: BaseException | None) -> str:
    """An error for a log line: its type and message, with any URL password redacted."""
    if error is None:
        return "not reached yet"
    text = str(error)
    for word in text.split():
        if "://" in word:
            text = text.replace(word, redact_url(word.strip("(),'\"")))
    return f"{type(error).__name__}: {text}"
