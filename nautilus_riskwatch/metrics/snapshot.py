"""``Snapshot``: what the watch says about itself when Prometheus asks, and nothing more.

Why a snapshot read at scrape time: the watch must not pay for metrics per quote. Nothing
is counted or set as figures move; when a scrape comes (every 15 s, say), one callable
builds a ``Snapshot`` from the state the watch keeps anyway (its guards' figures and
ceilings, its feeds' last arrivals, its records) and the collector turns it into metrics.
The watch fills it (wired with the adapter); this module only says its shape.

Figures are exact ``Decimal``s here, as everywhere in the watch; Prometheus keeps float64
samples, so a figure of up to 15 significant digits is shown exactly and a longer one to
the nearest float (the exact figure is in the record and the event log).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from nautilus_riskwatch.alerts.sender import TargetStats

__all__ = ["FeedState", "FirmState", "LimitState", "Snapshot"]


@dataclass(frozen=True, slots=True)
class LimitState:
    """One limit of one scope.

    ``limit`` names it (``max_loss``, ``trailing``, ``daily``); ``loss`` is what it compares
    with its ceiling (the loss, the drawdown from the high-water mark, the day's loss), in
    ``currency``, the ceiling's.
    """

    limit: str
    scope: str
    currency: str
    loss: Decimal
    ceiling: Decimal
    tripped: bool = False

    @property
    def headroom(self) -> Decimal:
        """The share of the ceiling still unused: 1 at no loss, 0 at the trip, below 0 past
        it, above 1 in profit (to 28 significant digits: a ratio, not money)."""
        return (self.ceiling - self.loss) / self.ceiling


@dataclass(frozen=True, slots=True)
class FeedState:
    """One watched feed: seconds since its last message (since the start if none came) and
    its bound (``stale_after``)."""

    feed: str
    age: float
    bound: float


@dataclass(frozen=True, slots=True)
class FirmState:
    """The firm latch as this node last read it: ``never``, ``tripped`` or ``armed``."""

    state: str
    epoch: int


@dataclass(frozen=True)
class Snapshot:
    """The watch at one instant, for people (see the module).

    ``scopes`` maps each scope to whether it is tripped (for any cause); ``stages`` each
    scope to its cascade's stage (``core.record.Stage``'s word, or ``idle``); ``trips`` the
    trips since the watch started by cause (the trip's kind: ``drawdown``, ``stale``, ...);
    ``denied`` the orders the watch's gate denied by strategy; ``alerts`` what the alert
    sender delivered and lost, per target.
    """

    watch: str
    node: str
    scopes: Mapping[str, bool] = field(default_factory=dict)
    limits: Sequence[LimitState] = ()
    feeds: Sequence[FeedState] = ()
    trips: Mapping[str, int] = field(default_factory=dict)
    denied: Mapping[str, int] = field(default_factory=dict)
    stages: Mapping[str, str] = field(default_factory=dict)
    firm: FirmState | None = None
    alerts: Sequence[TargetStats] = ()  # AlertSender.stats(): each target's counts
