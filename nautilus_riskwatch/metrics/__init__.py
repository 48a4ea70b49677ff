"""Prometheus metrics of the watch, read at scrape time (the ``[metrics]`` extra).

Engine-free: ``Snapshot`` is what the watch says about itself, ``RiskwatchCollector`` turns
snapshots into metrics when Prometheus asks, ``MetricsServer`` serves ``/metrics``. Nothing
here costs anything per quote. ``snapshot`` does not import prometheus_client, so the
watch can fill one without it installed.
"""

from nautilus_riskwatch.metrics.snapshot import FeedState, FirmState, LimitState, Snapshot

__all__ = ["FeedState", "FirmState", "LimitState", "Snapshot"]
