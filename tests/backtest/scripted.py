"""A strategy that does what a test tells it, on the quote it is told: every order path.

The steps are plain callables keyed by the quote's ordinal (1 is the first quote), so a
test reads as a script: "on quote 1 open a position and rest an emulated stop; on quote
50 pull the switch; on quote 60 try to open again".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from invariants import Invariants
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.backtest.models import LatencyModel
from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.events import OrderDenied, OrderFilled
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.trading.strategy import Strategy

from nautilus_riskwatch import RiskWatch, RiskWatchConfig
from nautilus_riskwatch.demo import eurusd_instrument, eurusd_quotes
from nautilus_riskwatch.demo.engine import sim_engine

EURUSD = "EUR/USD.SIM"
Step = Callable[["Scripted", QuoteTick], None]


class ScriptedConfig(StrategyConfig, frozen=True):
    instrument_id: str = EURUSD


class Scripted(Strategy):
    """Runs ``steps[n](self, tick)`` on its n-th quote; keeps what the engine told it."""

    def __init__(self, config: ScriptedConfig, steps: dict[int, Step] | None = None) -> None:
        super().__init__(config)
        self.instrument_id = InstrumentId.from_str(config.instrument_id)
        self.steps = dict(steps or {})
        self.quotes = 0
        self.denied: list[OrderDenied] = []

    def on_start(self) -> None:
        self.subscribe_quote_ticks(self.instrument_id)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        self.quotes += 1
        step = self.steps.get(self.quotes)
        if step is not None:
            step(self, tick)

    def on_reset(self) -> None:  # a re-run plays the same script again
        self.quotes = 0
        self.denied = []

    def on_order_denied(self, event: OrderDenied) -> None:
        self.denied.append(event)


@dataclass
class Run:
    engine: BacktestEngine
    watch: RiskWatch | None
    strategies: list[Scripted] = field(default_factory=list)
    invariants: Invariants | None = None

    @property
    def cache(self):
        return self.engine.cache

    def fills_after(self, ns: int, strategy: Scripted) -> list[OrderFilled]:
        """Fills of the strategy's orders after ``ns``, the watch's own closes left out."""
        fills = []
        for order in self.cache.orders(strategy_id=strategy.id):
            if "RISKWATCH" in (order.tags or []):
                continue
            fills += [e for e in order.events if isinstance(e, OrderFilled) and e.ts_event > ns]
        return fills

    def live_orders(self, strategy: Scripted) -> list[str]:
        """Every live order of the strategy by the engine's account, wherever it is held."""
        return sorted(
            f"{o.client_order_id}:{o.status.name}"
            for o in self.cache.orders(strategy_id=strategy.id)
            if not o.is_closed
        )

    def open_positions(self, strategy: Scripted) -> list[str]:
        return sorted(
            f"{p.side.name} {p.quantity}"
            for p in self.cache.positions_open(strategy_id=strategy.id)
        )


def build(
    watch: RiskWatchConfig | None,
    scripts: list[dict[int, Step]],
    *,
    oms_type: str = "HEDGING",
    latency_ms: int = 0,
    algorithms: tuple[object, ...] = (),
    quotes: int | None = 3_000,
) -> Run:
    """A backtest on the recorded EUR/USD quotes with one ``Scripted`` per script.

    Strategies are ``Scripted-001``, ``Scripted-002`` ... in script order; only the first ``quotes``
    quotes are replayed (enough for every script, and quick).
    """
    data = eurusd_quotes(eurusd_instrument())
    engine = sim_engine(
        "TEST-001",
        data[:quotes] if quotes else data,
        oms_type=oms_type,
        latency_model=LatencyModel(latency_ms * 1_000_000) if latency_ms else None,
    )
    for algorithm in algorithms:
        engine.add_exec_algorithm(algorithm)
    run = Run(engine, None)
    if watch is not None:
        run.watch = RiskWatch(watch)
        engine.add_actor(run.watch)
    for i, steps in enumerate(scripts, start=1):
        strategy = Scripted(ScriptedConfig(order_id_tag=f"{i:03d}"), steps)
        engine.add_strategy(strategy)
        run.strategies.append(strategy)
    # every run checks the kill's invariants when its test has passed (tests/backtest/conftest.py)
    run.invariants = Invariants(engine, run.watch, latency_ns=latency_ms * 1_000_000)
    return run
