"""Redis Sentinel for the firm tests: one primary, one replica, three sentinels, all from
the same ``redis-server`` binary as every other firm test, on 127.0.0.1.

The sentinels are tuned for a test (a primary is down after 1 s, a failover may be retried
after 5 s), nothing else is: the failover is Redis's own.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from nautilus_riskwatch.testing import LocalRedis, free_port, redis_server_binary

SERVICE = "riskwatch"


class SentinelProcess:
    def __init__(self, folder: Path, primary_port: int, quorum: int = 2) -> None:
        self.port = free_port()
        self.folder = folder
        self.conf = folder / f"sentinel-{self.port}.conf"
        self.conf.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            f"dir {folder}\n"
            f"logfile {folder / f'sentinel-{self.port}.log'}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} {quorum}\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        self.process = subprocess.Popen(
            [redis_server_binary(), str(self.conf), "--sentinel"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def client(self):
        import redis

        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=1.0, decode_responses=True
        )

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class SentinelGroup:
    """The primary, its replica and three sentinels that watch them."""

    def __init__(self, folder: Path) -> None:
        self.primary = LocalRedis(appendonly=True).start()
        self.replica = LocalRedis(
            appendonly=True, args=["--replicaof", "127.0.0.1", str(self.primary.port)]
        ).start()
        folder.mkdir(parents=True, exist_ok=True)
        self.sentinels = [SentinelProcess(folder, self.primary.port) for _ in range(3)]
        self.wait_until(lambda: self.primary_port() == self.primary.port and self._replicas_seen())

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{s.port}" for s in self.sentinels]

    def primary_port(self) -> int | None:
        """The primary's port as a majority of the sentinels says (None if no majority)."""
        seen: dict[int, int] = {}
        for sentinel in self.sentinels:
            try:
                with sentinel.client() as client:
                    address = client.sentinel_get_master_addr_by_name(SERVICE)
            except Exception:
                continue
            if address:
                seen[int(address[1])] = seen.get(int(address[1]), 0) + 1
        return next((port for port, votes in seen.items() if votes >= 2), None)

    def _replicas_seen(self) -> bool:
        """Every sentinel knows the replica and the two other sentinels."""
        try:
            for sentinel in self.sentinels:
                with sentinel.client() as client:
                    master = client.sentinel_master(SERVICE)
                    if int(master.get("num-slaves", 0)) < 1:
                        return False
                    if int(master.get("num-other-sentinels", 0)) < 2:
                        return False
            return True
        except Exception:
            return False

    @staticmethod
    def wait_until(check, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError("sentinel group: condition not reached in time")
            time.sleep(0.1)

    def close(self) -> None:
        for sentinel in self.sentinels:
            sentinel.close()
        self.replica.close()
        self.primary.close()
