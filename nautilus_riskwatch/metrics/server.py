"""``MetricsServer``: Prometheus's ``/metrics`` on a port of the node, off the watch's path.

prometheus_client's own HTTP server runs in its own thread; each scrape calls the
collector, which builds the snapshots then (``collector.py``). A private registry, so two
watches, or a test, never collide with the process's default one.

Bound to ``127.0.0.1`` unless told otherwise (``metrics_host``): the figures are a desk's
PnL, so exposing them to the network is a decision, not a default. A port already taken
is refused at start with an error naming ``metrics_port``; port 0 takes any free port
(``server.port`` says which), for tests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server

from nautilus_riskwatch.metrics.collector import RiskwatchCollector
from nautilus_riskwatch.metrics.settings import MetricsConfigError, check_host, check_port
from nautilus_riskwatch.metrics.snapshot import Snapshot

__all__ = ["MetricsConfigError", "MetricsServer", "on_loop"]


class MetricsServer:
    """Serves the collector's metrics over HTTP until ``close``."""

    def __init__(
        self, port: int, host: str = "127.0.0.1", collector: RiskwatchCollector | None = None
    ) -> None:
        self.requested = check_port(port)
        self.host = check_host(host)
        self.collector = collector or RiskwatchCollector()
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(self.collector)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def add(self, source: Callable[[], Snapshot], watch: str = "", node: str = "") -> None:
        self.collector.add(source, watch, node)

    def start(self) -> None:
        if self._server is not None:
            return
        try:
            self._server, self._thread = start_http_server(
                self.requested, addr=self.host, registry=self.registry
            )
        except OSError as error:
            raise MetricsConfigError(
                "metrics_port",
                self.requested,
                f"cannot serve metrics on {self.host}:{self.requested} ({error.strerror or error}):"
                " the port is taken or the address is not this machine's; pick another",
            ) from None

    @property
    def port(self) -> int:
        """The port served (the one given, or the free one port 0 found)."""
        if self._server is None:
            return self.requested
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
        self._server = self._thread = None


def on_loop(
    loop: asyncio.AbstractEventLoop, build: Callable[[], Snapshot], timeout: float = 1.0
) -> Callable[[], Snapshot]:
    """``build`` run on ``loop``'s thread, for a scrape that comes on the server's thread.

    The watch's state lives on the node's loop; reading it there gives one consistent
    instant. A loop that does not answer within ``timeout`` seconds (a cascade is running,
    or the loop is gone) makes this scrape's snapshot fail, which the collector reports as
    ``riskwatch_up 0``: a scrape never waits on the watch for long, and never the reverse.
    """

    def read() -> Snapshot:
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:  # already on the loop's thread (a test, a direct call)
            return build()
        future: concurrent.futures.Future[Snapshot] = concurrent.futures.Future()

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(build())
                except BaseException as error:
                    future.set_exception(error)

        loop.call_soon_threadsafe(run)
        try:
            return future.result(timeout)
        finally:
            future.cancel()

    return read
