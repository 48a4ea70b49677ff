"""Run TradingNodes as separate processes (``node_runner.py``) and talk to them."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

RUNNER = Path(__file__).with_name("node_runner.py")


class NodeProcess:
    """One node: start it, send it commands, wait for its events."""

    def __init__(self, name: str, url: str, *, firm: dict | None = None, env=None, **options):
        self.name = name
        firm_config = {"url": url, "name": "acme", "node": name, "heartbeat": 0.2}
        firm_config.update(firm or {})
        options = {"trader_id": f"NODE-{name}", "firm": firm_config, **options}
        self.events: queue.Queue[dict] = queue.Queue()
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, str(RUNNER), json.dumps(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "RISKWATCH_FIRM_SECRET": "s3cret", **(env or {})},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith("{"):
                self.events.put(json.loads(line))

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def wait(self, event: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"node {self.name}: no {event!r} in {timeout}s; output:\n"
                    + "".join(self.lines[-40:])
                )
            try:
                got = self.events.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.process.poll() is not None and self.events.empty():
                    raise AssertionError(
                        f"node {self.name} exited ({self.process.returncode}) before "
                        f"{event!r}:\n" + "".join(self.lines[-40:])
                    ) from None
                continue
            if got["event"] == event:
                return got

    def stop(self) -> dict:
        self.send("stop")
        got = self.wait("stopped")
        self.process.wait(timeout=20)
        return got

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Nodes:
    """A set of node processes that are all killed at the end, whatever happened."""

    def __init__(self) -> None:
        self.all: list[NodeProcess] = []

    def start(self, name: str, url: str, **options) -> NodeProcess:
        node = NodeProcess(name, url, **options)
        self.all.append(node)
        return node

    def close(self) -> None:
        for node in self.all:
            node.close()
