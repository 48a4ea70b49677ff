"""The metrics fields' checks, without ``prometheus_client``: a config is checked whether or
not the ``[metrics]`` extra is installed (it is needed only to serve)."""

from __future__ import annotations

from nautilus_riskwatch.errors import RiskWatchConfigError

__all__ = ["MetricsConfigError", "check_host", "check_port"]


class MetricsConfigError(RiskWatchConfigError):
    """A metrics setting the watch refuses, with the field and the value named: a config
    error like any other (``except RiskWatchConfigError`` catches it)."""


def check_port(port: object) -> int:
    """``metrics_port``: 1-65535, or 0 for any free port (tests)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise MetricsConfigError("metrics_port", port, "expected a port number 1-65535 (0: any)")
    return port


def check_host(host: object) -> str:
    """``metrics_host``: an address to bind."""
    if not isinstance(host, str) or not host.strip():
        raise MetricsConfigError("metrics_host", host, "expected an address to bind")
    return host
