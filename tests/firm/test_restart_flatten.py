"""A flatten repeated by a watch with no memory (a restarted node) never doubles a close.

The book remembers its closing orders in memory; after a restart that memory is gone, but
the engine's cache still holds the earlier close, in flight, linked to its position and
tagged as the watch's. A real backtest with a slow venue (every order takes a minute to
reach it) keeps the first close in flight; a second book, fresh as after a restart, is then
asked to flatten the same position and must see that close and send nothing.
"""

from __future__ import annotations

from nautilus_trader.common.actor import Actor
from nautilus_trader.execution.messages import SubmitOrder
from nautilus_trader.model.identifiers import PositionId

from nautilus_riskwatch import RiskWatchConfig
from nautilus_riskwatch.demo import build_engine, eurusd_instrument
from nautilus_riskwatch.nautilus.book import NautilusBook


class RestartedBook(Actor):
    """On the first quote while the watch's close is in flight, flatten with a new book."""

    def __init__(self, watch, risk_engine) -> None:
        super().__init__()
        self.watch, self.risk_engine = watch, risk_engine
        self.asked: list[str] | None = None
        self.sent: list[SubmitOrder] = []

    def on_start(self) -> None:
        self.subscribe_quote_ticks(eurusd_instrument().id)

    def on_quote_tick(self, tick) -> None:
        record = self.watch.record
        if self.asked is not None or record is None or record.stage != "flattening":
            return
        fresh = NautilusBook(
            self.watch, self.watch.settings, self.risk_engine, self.clock.timestamp_ns
        )
        fresh._send = self.sent.append  # what it would send
        self.asked, _ = fresh.open_positions()
        fresh.flatten(self.asked)


def test_a_fresh_book_sees_the_close_in_flight_and_sends_none():
    run = build_engine(
        RiskWatchConfig(
            feeds=[{"instrument_id": "EUR/USD.SIM", "stale_after": 900.0}],
            max_loss="1000 USD",
            hedge_tags=["HEDGE"],
            confirm_timeout=600.0,
        ),
        latency_ms=60_000,
    )
    probe = RestartedBook(run.watch, run.engine.kernel.risk_engine)
    run.engine.add_actor(probe)
    run.engine.run()
    assert probe.asked == ["SIM-1-001"]  # the trader's short, its close in flight
    closes = [
        o
        for o in run.engine.cache.orders_for_position(PositionId("SIM-1-001"))
        if "RISKWATCH" in (o.tags or [])
    ]
    assert len(closes) == 1 and closes[0].is_closed  # the one close, filled at last
    assert probe.sent == []  # the fresh book sent no second close
    assert run.watch.record.complete
    assert [str(p.strategy_id) for p in run.engine.cache.positions_open()] == ["DemoHedger-002"]
