"""A TCP proxy on loopback between one node and Redis that can stall the node's round trip.

``StallingProxy(redis_port)`` listens on a free port and forwards both ways. With
``stall_heartbeats`` set, a connection that sends the heartbeat script has its replies held
back (bytes kept, not dropped) until ``release()``: the node's heartbeat is in flight for
as long as the test wants, with no clock involved; with ``hold_replies`` set, every reply
on every connection is held so (requests still go through). ``warmed`` is set once the
connection that sent two ``SCRIPT LOAD`` requests at once (``FirmLink.warm``: the node's
tell connection) has had both answers. ``delay`` adds a fixed wait to every
chunk in both directions (a slow link); ``reply_delay`` only to what Redis sends back
(replies late, requests on time: the benchmark's "A's replies 50 ms late"). ``cut()``
ends every connection and refuses new ones until ``mend()``: this node's link is down
while Redis and the other nodes' links are up.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading

from nautilus_riskwatch.firm import scripts
from nautilus_riskwatch.testing import free_port

HEARTBEAT_SHA = hashlib.sha1(scripts.HEARTBEAT.encode()).hexdigest().encode()


class StallingProxy:
    def __init__(self, target_port: int, *, delay: float = 0.0, reply_delay: float = 0.0) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.delay = delay
        self.reply_delay = reply_delay
        self.stall_heartbeats = False
        self.stalled = threading.Event()  # a heartbeat's reply is being held
        self.hold_replies = False  # every reply held until release()
        self.warmed = threading.Event()  # a connection's two SCRIPT LOADs were answered
        self.refusing = False  # cut: no connection gets through
        self._writers: set[asyncio.StreamWriter] = set()
        self._release: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def release(self) -> None:
        self.stall_heartbeats = self.hold_replies = False
        self._loop.call_soon_threadsafe(lambda: self._release and self._release.set())

    def cut(self) -> None:
        """End every connection now and refuse new ones (this node's link goes down)."""
        self.refusing = True

        def end_all() -> None:
            for writer in list(self._writers):
                writer.close()

        self._loop.call_soon_threadsafe(end_all)

    def mend(self) -> None:
        """Let connections through again."""
        self.refusing = False

    def close(self) -> None:
        """Stop serving, end every connection, and close the loop (nothing left behind)."""
        self.release()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        self._release = asyncio.Event()
        server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(server.wait_closed())
            loop.close()

    async def _serve(self, client_r, client_w) -> None:
        if self.refusing:
            client_w.close()
            return
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        held = [False]
        warming, answered = [False], [0]  # the tell connection's warm-up; its sha replies
        self._writers.update((client_w, server_w))

        async def up() -> None:  # node -> Redis
            while chunk := await client_r.read(65536):
                if self.stall_heartbeats and HEARTBEAT_SHA in chunk:
                    held[0] = True
                if chunk.count(b"SCRIPT") >= 2:
                    warming[0] = True
                if self.delay:
                    await asyncio.sleep(self.delay)
                server_w.write(chunk)
                await server_w.drain()

        async def down() -> None:  # Redis -> node
            while chunk := await server_r.read(65536):
                if held[0] or self.hold_replies:
                    self.stalled.set()
                    assert self._release is not None
                    await self._release.wait()
                    held[0] = False
                if self.delay or self.reply_delay:
                    await asyncio.sleep(self.delay + self.reply_delay)
                client_w.write(chunk)
                await client_w.drain()
                if warming[0]:
                    answered[0] += chunk.count(b"$40\r\n")  # a SCRIPT LOAD's reply: the sha
                    if answered[0] >= 2:
                        self.warmed.set()

        try:
            await asyncio.gather(up(), down())
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # (cancelled: the proxy is closing; end quietly)
        finally:
            for writer in (client_w, server_w):
                self._writers.discard(writer)
                writer.close()
