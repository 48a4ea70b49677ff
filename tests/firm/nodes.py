"""Run TradingNodes as separate processes (``node_runner.py``) and talk to them."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from keys import OPERATOR, enrol, pair

from nautilus_riskwatch.firm.link import FirmLink

RUNNER = Path(__file__).with_name("node_runner.py")


def _enrol(url: str, name: str) -> None:
    async def go() -> None:
        link = FirmLink(url, "acme")
        try:
            await enrol(link, name)
        finally:
            await link.close()

    asyncio.run(go())


class NodeProcess:
    """One node: start it, send it commands, wait for its events."""

    def __init__(
        self, name: str, url: str, *, firm: dict | None = None, env=None, enrol=True, **options
    ):
        self.name = name
        firm_config = {
            "url": url,
            "name": "acme",
            "node": name,
            "heartbeat": 0.2,
            "operator_key": OPERATOR.public,
            "key_file": pair(name).file,
        }
        firm_config.update(firm or {})
        if enrol:  # the operator vouches for the node's key (riskwatch firm enrol)
            _enrol(url, name)
        options = {"trader_id": f"NODE-{name}", "firm": firm_config, **options}
        self.events: queue.Queue[dict] = queue.Queue()
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, str(RUNNER), json.dumps(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            start = line.find('{"event"')  # a log line may still lead (node_runner.emit)
            if start >= 0:
                self.events.put(json.loads(line[start:]))

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

    def wait_any(self, timeout: float = 30.0) -> dict:
        """The next event, whatever it is."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.events.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None and self.events.empty():
                    raise AssertionError(
                        f"node {self.name} exited ({self.process.returncode}):\n"
                        + "".join(self.lines[-40:])
                    ) from None
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"node {self.name}: no event in {timeout}s; output:\n"
                        + "".join(self.lines[-40:])
                    ) from None

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
