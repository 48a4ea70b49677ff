"""Two strategies that run away, in the spirit of Knight Capital's 1 August 2012, for the
runaway guards' replay on the recorded EUR/USD quotes.

- ``FillBegetsOrder``: its fill handler sends the next order, the same way, every time (a
  router that never learns its parent order is done). Each fill builds the position.
- ``Resubmitter``: it resubmits every order refused to it, after a short back-off, turn by
  turn one the RiskEngine denies (over the instrument's maximum quantity) and one the
  venue rejects (a post-only limit that would take).

Both stop after ``most`` orders, only so that a control run (no watch) ends: a real runaway
does not stop. ``replay`` builds the engine: the same run with and without a watch, so the
control run's event times are the guarded run's until the trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from invariants import Invariants
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.backtest.models import LatencyModel
from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.events import OrderDenied, OrderFilled, OrderRejected
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.trading.strategy import Strategy

from nautilus_riskwatch import RiskWatch, RiskWatchConfig
from nautilus_riskwatch.demo import eurusd_instrument, eurusd_quotes
from nautilus_riskwatch.demo.engine import sim_engine

EURUSD = "EUR/USD.SIM"


class FillBegetsOrderConfig(StrategyConfig, frozen=True):
    instrument_id: str = EURUSD
    side: str = "BUY"
    quantity: int = 10_000
    most: int = 400  # orders, so that a control run ends


class FillBegetsOrder(Strategy):
    """Buys on its first quote, then sends one more order from every fill's handler."""

    def __init__(self, config: FillBegetsOrderConfig) -> None:
        super().__init__(config)
        self.instrument_id = InstrumentId.from_str(config.instrument_id)
        self.sent = 0

    def on_start(self) -> None:
        self.subscribe_quote_ticks(self.instrument_id)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        if self.sent == 0:
            self._send()

    def on_order_filled(self, event: OrderFilled) -> None:
        if event.strategy_id == self.id and self.sent < self.config.most:
            self._send()

    def on_reset(self) -> None:
        self.sent = 0

    def _send(self) -> None:
        self.sent += 1
        self.submit_order(
            self.order_factory.market(
                self.instrument_id,
                OrderSide[self.config.side],
                Quantity.from_int(self.config.quantity),
            )
        )


class ResubmitterConfig(StrategyConfig, frozen=True):
    instrument_id: str = EURUSD
    backoff_ns: int = 250_000_000  # a quarter of a second between a refusal and the retry
    most: int = 400  # orders, so that a control run ends


class Resubmitter(Strategy):
    """Submits an order that will be refused and resubmits on every refusal, alternating a
    denial by the RiskEngine and a rejection by the venue."""

    def __init__(self, config: ResubmitterConfig) -> None:
        super().__init__(config)
        self.instrument_id = InstrumentId.from_str(config.instrument_id)
        self.sent = 0
        self.last: QuoteTick | None = None

    def on_start(self) -> None:
        self.subscribe_quote_ticks(self.instrument_id)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        self.last = tick
        if self.sent == 0:
            self._send()

    def on_order_denied(self, event: OrderDenied) -> None:
        self._again()

    def on_order_rejected(self, event: OrderRejected) -> None:
        self._again()

    def on_reset(self) -> None:
        self.sent = 0
        self.last = None

    def _again(self) -> None:
        if self.sent >= self.config.most:
            return
        at = self.clock.timestamp_ns() + self.config.backoff_ns
        self.clock.set_time_alert_ns(f"resubmit-{self.sent}", at, lambda _: self._send())

    def _send(self) -> None:
        self.sent += 1
        if self.sent % 2:  # over the instrument's maximum quantity: the RiskEngine denies it
            order = self.order_factory.market(
                self.instrument_id, OrderSide.BUY, Quantity.from_int(20_000_000)
            )
        else:  # a post-only buy at the ask would take: the venue rejects it
            assert self.last is not None
            order = self.order_factory.limit(
                self.instrument_id,
                OrderSide.BUY,
                Quantity.from_int(10_000),
                Price(self.last.ask_price.as_double(), self.last.ask_price.precision),
                time_in_force=TimeInForce.GTC,
                post_only=True,
            )
        self.submit_order(order)


@dataclass
class Replay:
    engine: BacktestEngine
    watch: RiskWatch | None
    strategy: Strategy
    invariants: Invariants | None = None
    quotes: list[QuoteTick] = field(default_factory=list)

    @property
    def cache(self):
        return self.engine.cache


def replay(
    watch: RiskWatchConfig | None,
    strategy: Strategy,
    *,
    quotes: int | None = 3_000,
    latency_ms: int = 0,
) -> Replay:
    """The recorded EUR/USD quotes (the first ``quotes``), ``strategy``, and ``watch`` if
    given (none: the control run). The run is checked by the kill's invariants."""
    data = eurusd_quotes(eurusd_instrument())
    data = data[:quotes] if quotes else data
    engine = sim_engine(
        "TEST-001",
        data,
        latency_model=LatencyModel(latency_ms * 1_000_000) if latency_ms else None,
    )
    run = Replay(engine, None, strategy, quotes=data)
    if watch is not None:
        run.watch = RiskWatch(watch)
        engine.add_actor(run.watch)
    engine.add_strategy(strategy)
    run.invariants = Invariants(engine, run.watch, latency_ns=latency_ms * 1_000_000)
    return run
