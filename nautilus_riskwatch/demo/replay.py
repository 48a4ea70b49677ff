"""An offline live market data client: replays the recorded quotes on a real TradingNode.

For demos and tests of the watch on a live node without a network. Quotes are paced in
accelerated real time (``speed`` simulated seconds per real second) and stamped with the
node's clock when delivered. ``stop_after`` (or ``kill_feed()``) makes the feed go silent
while the node keeps running: a dead feed, as a venue's socket can be open and quiet.

Register with ``node.add_data_client_factory("REPLAY", ReplayDataClientFactory)`` and
``TradingNodeConfig(data_clients={"REPLAY": ReplayDataClientConfig(...)})``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.common.providers import InstrumentProvider
from nautilus_trader.config import LiveDataClientConfig
from nautilus_trader.live.data_client import LiveMarketDataClient
from nautilus_trader.live.factories import LiveDataClientFactory
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.identifiers import ClientId, Venue

from nautilus_riskwatch.demo.data import eurusd_instrument, eurusd_quotes


class ReplayDataClientConfig(LiveDataClientConfig, frozen=True):
    """
    Configuration for ``ReplayDataClient``.

    Parameters
    ----------
    venue : str, default "SIM"
        The venue of the replayed EUR/USD instrument.
    speed : float, default 600.0
        Simulated seconds per real second (600: one recorded minute in 0.1 s).
    start_index : int, default 0
        Skip this many recorded quotes.
    stop_after : int, optional
        Deliver this many quotes, then go silent (the node keeps running).
    max_gap : float, optional
        Cap, in real seconds, on one wait between two quotes.

    """

    venue: str = "SIM"
    speed: float = 600.0
    start_index: int = 0
    stop_after: int | None = None
    max_gap: float | None = None


class ReplayDataClient(LiveMarketDataClient):
    """Replays recorded EUR/USD quotes; the last one built is ``ReplayDataClient.last``."""

    last: ClassVar[ReplayDataClient | None] = None

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
        config: ReplayDataClientConfig,
        name: str = "REPLAY",
    ) -> None:
        self.instrument = eurusd_instrument(config.venue)
        provider = InstrumentProvider()
        provider.add(self.instrument)
        super().__init__(
            loop=loop,
            client_id=ClientId(name),
            venue=Venue(config.venue),
            msgbus=msgbus,
            cache=cache,
            clock=clock,
            instrument_provider=provider,
            config=config,
        )
        self._replay_config = config
        # In the cache before any client connects: an execution client connecting in the
        # same instant (the sandbox) loads its venue's instruments from the cache.
        if cache.instrument(self.instrument.id) is None:
            cache.add_instrument(self.instrument)
        self._quotes = eurusd_quotes(self.instrument)[config.start_index :]
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.sent: list[QuoteTick] = []  # as delivered, with the node's timestamps
        self.dead = False
        self.last_delivered_ns: int | None = None
        ReplayDataClient.last = self

    def kill_feed(self) -> None:
        """Go silent from now on (call on the node's loop thread)."""
        self.dead = True

    async def _connect(self) -> None:
        self._handle_data(self.instrument)

    async def _disconnect(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _subscribe_quote_ticks(self, command: Any) -> None:
        instrument_id = getattr(command, "instrument_id", command)
        if instrument_id != self.instrument.id:
            self._log.error(f"Replay has no quotes for {instrument_id}")
            return
        if self._task is None:
            self._task = self.create_task(self._replay(), log_msg=f"replay {instrument_id}")

    async def _unsubscribe_quote_ticks(self, command: Any) -> None:
        await self._disconnect()

    async def _subscribe_instrument(self, command: Any) -> None:
        pass

    async def _subscribe_instruments(self, command: Any) -> None:
        pass

    async def _unsubscribe_instrument(self, command: Any) -> None:
        pass

    async def _unsubscribe_instruments(self, command: Any) -> None:
        pass

    async def _request_instrument(self, request: Any) -> None:
        pass

    async def _replay(self) -> None:
        config = self._replay_config
        quotes = self._quotes
        if not quotes:
            return
        start_sim, start_real, skipped = quotes[0].ts_event, time.monotonic(), 0.0
        previous = start_sim
        for tick in quotes:
            gap = (tick.ts_event - previous) / 1e9 / config.speed
            if config.max_gap is not None and gap > config.max_gap:
                skipped += gap - config.max_gap
            previous = tick.ts_event
            due = start_real + (tick.ts_event - start_sim) / 1e9 / config.speed - skipped
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if config.stop_after is not None and self.delivered >= config.stop_after:
                self.dead = True
            if self.dead:
                self._log.warning(f"Replay went silent after {self.delivered} quotes")
                return
            now = self._clock.timestamp_ns()
            quote = QuoteTick(
                instrument_id=tick.instrument_id,
                bid_price=tick.bid_price,
                ask_price=tick.ask_price,
                bid_size=tick.bid_size,
                ask_size=tick.ask_size,
                ts_event=now,
                ts_init=now,
            )
            self._handle_data(quote)
            self.sent.append(quote)
            self.delivered += 1
            self.last_delivered_ns = now


class ReplayDataClientFactory(LiveDataClientFactory):
    """Builds ``ReplayDataClient`` for a ``TradingNode``."""

    @staticmethod
    def create(  # type: ignore[override]
        loop: asyncio.AbstractEventLoop,
        name: str,
        config: ReplayDataClientConfig,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
    ) -> ReplayDataClient:
        return ReplayDataClient(loop, msgbus, cache, clock, config, name=name)
