"""``RiskwatchCollector``: a Prometheus collector over snapshot callables, read at scrape.

One collector serves every watch of a process (each adds its snapshot callable); each
sample carries the ``watch`` and ``node`` labels. A snapshot that cannot be built (the
watch is gone, its loop did not answer in time) is not a failed scrape: that watch reports
``riskwatch_up 0`` and nothing else, the others report as usual.

``METRICS`` is the list of names, kinds and labels: the dashboard, the docs and the test
that ties them together read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from nautilus_riskwatch.core.record import Stage
from nautilus_riskwatch.metrics.snapshot import Snapshot

__all__ = ["FIRM_STATES", "IDLE", "METRICS", "MetricSpec", "RiskwatchCollector"]

#: A scope whose cascade has not run (or was re-armed): the stage before ``latched``.
IDLE = "idle"
#: The firm latch's states (``firm.latch.Latch.state``).
FIRM_STATES = ("never", "tripped", "armed")


@dataclass(frozen=True)
class MetricSpec:
    name: str  # as scraped (a counter's ``_total`` included)
    kind: str  # gauge | counter
    labels: tuple[str, ...]  # besides watch and node
    help: str


METRICS = (
    MetricSpec("riskwatch_up", "gauge", (), "1 if the watch's snapshot was read at this scrape"),
    MetricSpec(
        "riskwatch_scope_tripped", "gauge", ("scope",), "1 while the scope is tripped (any cause)"
    ),
    MetricSpec(
        "riskwatch_tripped", "gauge", ("limit", "scope"), "1 while the limit has tripped its scope"
    ),
    MetricSpec(
        "riskwatch_loss",
        "gauge",
        ("limit", "scope", "currency"),
        "what the limit compares with its ceiling (loss, drawdown, day's loss), ceiling currency",
    ),
    MetricSpec(
        "riskwatch_ceiling", "gauge", ("limit", "scope", "currency"), "the limit's ceiling in force"
    ),
    MetricSpec(
        "riskwatch_headroom_ratio",
        "gauge",
        ("limit", "scope"),
        "(ceiling - loss) / ceiling: 1 at no loss, 0 at the trip",
    ),
    MetricSpec(
        "riskwatch_feed_age_seconds",
        "gauge",
        ("feed",),
        "seconds since the feed's last message (since the start if none came)",
    ),
    MetricSpec(
        "riskwatch_feed_bound_seconds", "gauge", ("feed",), "the feed's bound (stale_after)"
    ),
    MetricSpec("riskwatch_trips_total", "counter", ("cause",), "trips since the watch started"),
    MetricSpec(
        "riskwatch_denied_total", "counter", ("strategy",), "orders the watch's gate denied"
    ),
    MetricSpec(
        "riskwatch_cascade_stage",
        "gauge",
        ("scope", "stage"),
        "1 for the stage the scope's cascade is in (idle: none ran)",
    ),
    MetricSpec(
        "riskwatch_firm_latch",
        "gauge",
        ("state",),
        "1 for the firm latch state in force",
    ),
    MetricSpec("riskwatch_firm_epoch", "gauge", (), "the firm latch's epoch (its trip count)"),
    MetricSpec("riskwatch_alerts_sent_total", "counter", ("target",), "alerts delivered"),
    MetricSpec(
        "riskwatch_alerts_dropped_total",
        "counter",
        ("target", "reason"),
        "alerts lost: queue full, every attempt failed, or closed before sending",
    ),
)
_BASE = ("watch", "node")
_STAGES = (IDLE, *(stage.value for stage in Stage))


def _family(spec: MetricSpec) -> GaugeMetricFamily | CounterMetricFamily:
    labels = (*_BASE, *spec.labels)
    if spec.kind == "counter":
        return CounterMetricFamily(spec.name.removesuffix("_total"), spec.help, labels=labels)
    return GaugeMetricFamily(spec.name, spec.help, labels=labels)


class RiskwatchCollector(Collector):
    """Turns each source's ``Snapshot`` into metrics, at scrape time only."""

    def __init__(self, *sources: Callable[[], Snapshot]) -> None:
        self._sources: list[tuple[str, str, Callable[[], Snapshot]]] = []
        for source in sources:
            self.add(source)

    def add(self, source: Callable[[], Snapshot], watch: str = "", node: str = "") -> None:
        """Another watch's snapshot; ``watch`` and ``node`` label its ``riskwatch_up 0`` if
        its snapshot fails."""
        self._sources.append((watch, node, source))

    def describe(self) -> Iterator[Metric]:
        """The families without samples: registering never calls a snapshot."""
        for spec in METRICS:
            yield _family(spec)

    def collect(self) -> Iterator[Metric]:
        families = {spec.name: _family(spec) for spec in METRICS}
        for watch, node, source in list(self._sources):
            try:
                snapshot = source()
            except Exception:
                families["riskwatch_up"].add_metric([watch, node], 0)
                continue
            _fill(families, snapshot)
        yield from families.values()


def _fill(f: dict[str, GaugeMetricFamily | CounterMetricFamily], s: Snapshot) -> None:
    base = [s.watch, s.node]
    f["riskwatch_up"].add_metric(base, 1)
    for scope, tripped in s.scopes.items():
        f["riskwatch_scope_tripped"].add_metric([*base, scope], int(tripped))
    for limit in s.limits:
        named = [*base, limit.limit, limit.scope]
        f["riskwatch_tripped"].add_metric(named, int(limit.tripped))
        f["riskwatch_loss"].add_metric([*named, limit.currency], float(limit.loss))
        f["riskwatch_ceiling"].add_metric([*named, limit.currency], float(limit.ceiling))
        f["riskwatch_headroom_ratio"].add_metric(named, float(limit.headroom))
    for feed in s.feeds:
        f["riskwatch_feed_age_seconds"].add_metric([*base, feed.feed], feed.age)
        f["riskwatch_feed_bound_seconds"].add_metric([*base, feed.feed], feed.bound)
    for cause, count in s.trips.items():
        f["riskwatch_trips_total"].add_metric([*base, cause], count)
    for strategy, count in s.denied.items():
        f["riskwatch_denied_total"].add_metric([*base, strategy], count)
    for scope, stage in s.stages.items():
        for known in _STAGES:
            f["riskwatch_cascade_stage"].add_metric([*base, scope, known], int(known == stage))
    if s.firm is not None:
        for state in FIRM_STATES:
            f["riskwatch_firm_latch"].add_metric([*base, state], int(state == s.firm.state))
        f["riskwatch_firm_epoch"].add_metric(base, s.firm.epoch)
    for target in s.alerts:
        f["riskwatch_alerts_sent_total"].add_metric([*base, target.target], target.sent)
        for reason, count in (
            ("queue_full", target.dropped_full),
            ("failed", target.dropped_failed),
            ("closed", target.dropped_closed),
        ):
            f["riskwatch_alerts_dropped_total"].add_metric([*base, target.target, reason], count)
