"""A randomized, seeded fault schedule for the firm switch (issue 26).

Real node processes (``node_runner.py``) and a real ``redis-server``; the nodes reach it
through a delaying proxy on loopback. A seeded random schedule of steps:

- Redis killed and restarted, with its data (append-only file) or without (wiped);
- Redis paused (SIGSTOP) and resumed (SIGCONT);
- the link slowed (every chunk each way held back 50-400 ms) while a node trips;
- a node crashed (SIGKILL) and started again under the same name;
- an operator kill; a local trip on one node; a signed operator re-arm of the epoch in
  force.

After every step, once Redis answers again, the invariants, judged from each node's engine
(the runner's reports: the RiskEngine's trading state, the cache's orders and fills):

1. **no trading after a trip**: no fill of an order made after the node's trip, other than
   the watch's closes and the protective (``HEDGE``) orders;
2. **every trip reaches every live node** within ``BOUND`` seconds of the link's return:
   while the latch is tripped, every node is HALTED with its cascade done (only a signed
   re-arm of that epoch lets a node trade again);
3. **no halt without a true cause**: every trip a node holds names a cause that happened:
   a local trip made on that node, an operator kill, a trip made on the node it names as
   origin, a node that was really down (crashed) for a lost heartbeat.

Run it longer than CI does (prints the seed of any failure)::

    .venv/bin/python tests/firm/fault_schedule.py --seeds 1-20 --steps 12
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from keys import OPERATOR
from nodes import NodeProcess
from relay import Relay

from nautilus_riskwatch.firm.cli import main as cli_main
from nautilus_riskwatch.firm.link import FirmLink
from nautilus_riskwatch.testing import LocalRedis

#: Seconds for a trip to reach every live node once Redis answers again: the link's
#: reconnect backoff (at most 2 s), a heartbeat, and the node's cascade (cancel, confirm,
#: flatten on the sandbox venue), with room for a loaded 2-core machine.
BOUND = 30.0
HEARTBEAT = 0.2
STEPS = (
    ("redis_restart", 2),
    ("redis_restart_wiped", 1),
    ("redis_pause", 2),
    ("slow_link_trip", 2),
    ("node_crash", 1),
    ("operator_kill", 2),
    ("local_trip", 2),
    ("rearm", 3),
)


@dataclass
class Node:
    name: str
    process: NodeProcess
    local_trips: int = 0  # local trips made on this node in this life
    last: dict = field(default_factory=dict)  # the last report
    history: list[dict] = field(default_factory=list)

    def ask(self, timeout: float = 30.0) -> dict:
        """A fresh report from the engine; every event on the way is kept."""
        self.process.send("report")
        deadline = time.monotonic() + timeout
        while True:
            got = self.process.wait_any(max(0.1, deadline - time.monotonic()))
            self.history.append(got)
            if got["event"] == "report":
                self.last = got
                return got


@dataclass
class Schedule:
    seed: int
    steps: int
    names: tuple[str, ...] = ("A", "B")
    ttl: float = 4 * HEARTBEAT  # the nodes' heartbeat_ttl (the firm section's default)
    longest: float = 3.0  # the longest Redis outage or pause, in seconds
    log: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)  # link back -> all nodes agree (s)

    def __post_init__(self) -> None:
        self.plan = random.Random(self.seed)  # the steps (one stream: the same seed, the
        self.random = random.Random(f"{self.seed}:")  # same steps) and their details
        self.server = LocalRedis(appendonly=True).start()
        self.proxy = Relay(self.server.port).start()
        self.url = f"redis://127.0.0.1:{self.proxy.port}/0"  # the nodes' way in
        self.nodes: dict[str, Node] = {}
        self.origins: set[str] = set()  # who has really tripped the firm (a node, operator)
        self.crashed: set[str] = set()  # nodes that were really down at some point
        self.tripped = False  # the firm is tripped and no signed re-arm has come since

    # --- the parts -------------------------------------------------------------------------
    def start_node(self, name: str) -> Node:
        firm = {"heartbeat": HEARTBEAT, "heartbeat_ttl": self.ttl}
        process = NodeProcess(name, self.url, firm=firm)
        node = Node(name, process)
        running = process.wait("running", timeout=90)
        node.history.append(running)
        node.last = running
        self.nodes[name] = node
        return node

    def close(self) -> None:
        for node in self.nodes.values():
            node.process.close()
        self.proxy.close()
        self.server.close()

    def latch(self):
        async def read():
            link = FirmLink(self.server.url, "acme", timeout=2.0)
            try:
                return await link.latch()
            finally:
                await link.close()

        return asyncio.run(read())

    def say(self, text: str) -> None:
        self.log.append(f"[seed {self.seed}] {text}")

    # --- the steps -------------------------------------------------------------------------
    def redis_restart(self, wiped: bool = False) -> None:
        down = self.random.uniform(0.3, self.longest)
        self.say(f"redis killed for {down:.1f}s ({'data wiped' if wiped else 'with its data'})")
        self.server.kill()
        if wiped:
            for item in self.server.dir.iterdir():
                if item.name.startswith("appendonly") or item.suffix == ".rdb":
                    shutil.rmtree(item) if item.is_dir() else item.unlink()
        time.sleep(down)
        self.server.start()

    def redis_pause(self) -> None:
        pause = self.random.uniform(0.3, self.longest)
        self.say(f"redis paused for {pause:.1f}s")
        with self.server.paused():
            time.sleep(pause)

    def slow_link_trip(self) -> None:
        self.proxy.delay = self.random.uniform(0.05, 0.4)
        self.say(f"link slowed by {self.proxy.delay * 1000:.0f} ms per chunk")
        self.local_trip()
        self.settle()
        self.proxy.delay = 0.0

    def node_crash(self) -> None:
        name = self.random.choice(self.names)
        self.say(f"node {name} crashed (SIGKILL) and started again")
        self.nodes[name].process.close()
        self.crashed.add(name)
        time.sleep(self.random.uniform(0.0, 2.0))
        self.start_node(name)

    def operator_kill(self) -> None:
        self.say("operator kill")
        self.origins.add("operator ops")
        self.tripped = True
        code, out = self.cli("kill", "--reason", "fault schedule", "--who", "ops")
        if code != 0:
            self.violations.append(f"operator kill failed: {out}")

    def local_trip(self) -> None:
        name = self.random.choice(self.names)
        self.say(f"local trip on node {name}")
        node = self.nodes[name]
        node.local_trips += 1
        self.origins.add(name)
        self.tripped = True
        node.process.send(f"kill fault schedule trip on {name}")

    def rearm(self) -> None:
        latch = self.latch()
        if not latch.tripped:
            self.say(f"re-arm skipped (latch {latch.state})")
            return
        self.say(f"signed re-arm of epoch {latch.epoch}")
        code, out = self.cli(
            "rearm", "--epoch", str(latch.epoch), "--reason", "schedule",
            "--key-file", OPERATOR.file,
        )  # fmt: skip
        if code != 0:
            self.violations.append(f"signed re-arm of epoch {latch.epoch} refused: {out}")
        else:
            self.tripped = False

    def cli(self, *args: str) -> tuple[int, str]:
        out = io.StringIO()
        code = cli_main(["--url", self.server.url, "--firm", "acme", *args], out=out)
        return code, out.getvalue()

    # --- the invariants ------------------------------------------------------------------
    def settle(self) -> None:
        """Wait (at most ``BOUND`` s) for the latch and every node to hold the firm's trip,
        if it has one; then check every node."""
        back = time.monotonic()
        while True:
            latch = self.latch()
            self.tripped = self.tripped or latch.tripped
            reports = {name: node.ask() for name, node in self.nodes.items()}
            lagging = [
                name
                for name, report in reports.items()
                if self.tripped
                and not (
                    report["trading_state"] == "HALTED"
                    and report["record"] is not None
                    and report["record"]["stage"] == "done"
                )
            ]
            if self.tripped and not latch.tripped:
                lagging.append(f"the latch ({latch.state}, epoch {latch.epoch})")
            if not lagging:
                self.delays.append(time.monotonic() - back)
                break
            if time.monotonic() - back > BOUND:
                self.violations.append(
                    f"the firm's trip (latch epoch {latch.epoch}, origin {latch.origin or '-'}) "
                    f"not held by {lagging} {BOUND:g}s after the link returned"
                )
                break
            time.sleep(0.2)
        for name, report in reports.items():
            self.check_node(name, report)

    def check_node(self, name: str, report: dict) -> None:
        if report.get("fills_after_trip"):
            self.violations.append(
                f"node {name} traded after its trip: {report['fills_after_trip']} fill(s) of "
                f"orders made after it ({report['record']})"
            )
        record = report["record"]
        if record is None:
            return
        cause = record["cause"]
        kind = cause.get("kind")
        node = self.nodes[name]
        if kind == "manual":
            ok = node.local_trips > 0
        elif kind == "firm-kill":
            origin_cause = cause.get("origin_cause")
            origin = cause.get("origin")
            if origin_cause == "heartbeat":
                silent = cause.get("reason", "").split(" silent")[0].removeprefix("node ")
                ok = silent in self.crashed
            elif origin_cause == "reassert":
                ok = bool(self.origins)  # a real trip set again after Redis lost it
            else:
                ok = origin in self.origins
        else:
            ok = False
        if not ok:
            self.violations.append(f"node {name} halted without a true cause: {cause}")

    # --- the run -----------------------------------------------------------------------
    def run(self) -> list[str]:
        try:
            for name in self.names:
                self.start_node(name)
            self.settle()
            kinds = [kind for kind, _ in STEPS]
            weights = [weight for _, weight in STEPS]
            for _ in range(self.steps):
                kind = self.plan.choices(kinds, weights)[0]
                if kind == "redis_restart_wiped":
                    self.redis_restart(wiped=True)
                else:
                    getattr(self, kind)()
                self.settle()
                if self.violations:
                    break
        finally:
            self.close()
        return self.violations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1-5", help="e.g. 7 or 1-20")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--verbose", action="store_true", help="print every step")
    parser.add_argument("--ttl", type=float, default=4 * HEARTBEAT, help="heartbeat_ttl (s)")
    parser.add_argument("--longest", type=float, default=3.0, help="longest outage (s)")
    args = parser.parse_args(argv)
    first, _, last = args.seeds.partition("-")
    failed = []
    for seed in range(int(first), int(last or first) + 1):
        schedule = Schedule(seed, args.steps, ttl=args.ttl, longest=args.longest)
        started = time.monotonic()
        violations = schedule.run()
        took = time.monotonic() - started
        worst = max(schedule.delays, default=0.0)
        print(f"seed {seed}: {len(schedule.log)} steps in {took:.0f}s, slowest agreement "
              f"{worst:.1f}s: {'FAILED' if violations else 'ok'}", flush=True)  # fmt: skip
        if violations or args.verbose:
            for line in schedule.log + violations:
                print("   ", line)
        if violations:
            failed.append(seed)
    if failed:
        print(f"FAILED seeds: {' '.join(map(str, failed))} (rerun one with --seeds N)")
        return 1
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
