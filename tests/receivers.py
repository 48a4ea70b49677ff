"""Real HTTP receivers on 127.0.0.1 for the alert tests and the put benchmark.

``Receiver("ok")`` answers 200 to every POST and keeps what it got; ``"fail"`` answers
500; ``"hang"`` reads the request and never answers (until ``close``). Each keeps every
request it read, in order, so a test counts attempts and duplicates from the receiver's
side, not from the sender's own counts.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, mode: str = "ok") -> None:
        assert mode in ("ok", "fail", "hang")
        self.mode = mode
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._arrived = threading.Condition()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size)
                with receiver._arrived:
                    receiver.requests.append(json.loads(body))
                    receiver.paths.append(self.path)
                    receiver._arrived.notify_all()
                if receiver.mode == "hang":
                    receiver._release.wait()
                    return
                self.send_response(200 if receiver.mode == "ok" else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "alerts") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The requests once ``count`` have arrived (or all there are after ``timeout``)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
