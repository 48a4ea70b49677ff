"""A TCP relay on 127.0.0.1 in front of a real server, on its own thread and event loop.

Two uses in the firm tests: a TLS front (``ssl`` given: it terminates TLS, and can require
a client certificate) and a delaying link (``delay``: every chunk, each way, is held back
that long, as a slow network would).
"""

from __future__ import annotations

import asyncio
import ssl
import threading


class Relay:
    def __init__(self, backend_port: int, *, context: ssl.SSLContext | None = None) -> None:
        self.backend_port = backend_port
        self.context = context
        self.delay = 0.0
        self.peers: list[str] = []  # client certificate subjects (common names) accepted
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="relay")
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()

    def start(self):
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("relay did not start")
        return self

    def close(self) -> None:
        async def shut() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.set_exception_handler(lambda loop, context: None)  # refused handshakes
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if self.context is not None:
                peer = writer.get_extra_info("peercert") or {}
                subject = dict(item[0] for item in peer.get("subject", ()))
                self.peers.append(subject.get("commonName", "?"))
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.backend_port)
            except OSError:
                writer.close()
                return
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except asyncio.CancelledError:
            writer.close()
        finally:
            self._tasks.discard(task)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                if self.delay:
                    await asyncio.sleep(self.delay)
                dst.write(data)
                await dst.drain()
        except OSError:
            pass
        finally:
            dst.close()
