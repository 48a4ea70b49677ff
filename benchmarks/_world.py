"""The backtests the benchmarks time: one world per scenario, built the same for every actor.

A scenario is a name (``SCENARIOS``); each builds a ``BacktestEngine`` on the recorded
EUR/USD day (repeated, shifted in time, as often as the quote count needs), the same
strategies holding the same open positions, and one actor: none, a no-op actor, the
hand-written Portfolio check, or the watch in some configuration. Differences between two
scenarios of one world are therefore the actor's alone.

Worlds:

- ``quote``: EUR/USD quotes; one strategy opens one short position on the first quote.
- ``trade``: trade ticks at the recorded bids (the same moments); the position opens on
  the first trade, and the watch marks it with trades.
- ``bar``: the day as 1-minute BID and ASK bars (``eurusd_bars``); the position opens on
  the first bar, and the watch marks it with bar closes.
- ``scale``: 10,000 instruments (copies of EUR/USD), the quotes dealt round-robin across
  them; 10 strategies each trade 10 instruments (100 open positions). ``--short`` makes it
  500 instruments.

Not API, not tested: a tool to measure with.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

SCALE_INSTRUMENTS = 10_000
SCALE_STRATEGIES = 10
SCALE_PER_STRATEGY = 10


@dataclass(frozen=True)
class Scenario:
    """What one worker builds: the world, the actor, and the watch's settings."""

    world: str  # quote, trade, bar, scale
    actor: str  # none, noop, handwritten, watch
    limits: tuple[dict[str, str], ...] = ()  # the watch's loss limits (besides max_loss)
    max_loss: str | None = "100000000 USD"
    feeds: str = "one"  # the watch's feeds: one (the traded instrument), all, none
    positions: int = 0  # scale world: instruments traded (0: all 100)
    extra: dict[str, Any] = field(default_factory=dict)  # more of the watch's config
    text: str = ""
    notes: dict[str, Any] = field(default_factory=dict)


BIG = "100000000 USD"  # never reached: the benchmarks measure the watch standing guard
SCOPED = (
    {"max_loss": BIG, "strategy_id": "BenchTrader-001"},
    {"trailing": BIG, "strategy_id": "BenchTrader-002"},
    {"daily": BIG, "instrument_id": "EUR/USD.SIM"},
)

#: Every runaway guard on, none reached: the order, reject and fill rates (counted at every
#: order event), the position cap (judged at every fill), the gross exposure (its figure put
#: at a fill; a quote inside the quiet bands costs an integer sum).
RUNAWAY_GUARDS = {
    "max_order_rate": "1000000/00:00:01",
    "max_reject_rate": "1000000/00:00:01",
    "max_fill_rate": "1000000/00:00:01",
    "max_position": {"EUR/USD.SIM": "1000000000000"},
    "max_gross_exposure": BIG,
}

SCENARIOS: dict[str, Scenario] = {
    "engine": Scenario("quote", "none", text="engine + strategy, no actor"),
    "noop": Scenario("quote", "noop", text="no-op actor on the quotes"),
    "handwritten": Scenario(
        "quote", "handwritten", text="hand-written Portfolio PnL check, one position"
    ),
    "watch": Scenario("quote", "watch", text="the watch: 1 quote feed + breaker, 1 position"),
    "limits": Scenario(
        "quote",
        "watch",
        limits=({"trailing": BIG}, {"daily": BIG, "daily_reset": "17:00"}),
        text="the watch + trailing + daily limits",
    ),
    "alerts": Scenario(
        "quote",
        "watch",
        limits=({"trailing": BIG}, {"daily": BIG, "daily_reset": "17:00"}),
        extra={
            "alerts": ["json://127.0.0.1:9/riskwatch"],  # dry in a backtest: the event log
            "warn_at": [0.5, 0.8],
            "feed_warn_at": [0.5, 0.8],
            "metrics_port": 0,
        },
        text="the watch + trailing + daily limits, with alerts, warnings and metrics on",
    ),
    "runaway": Scenario(
        "quote",
        "watch",
        extra=RUNAWAY_GUARDS,
        text="the watch + every runaway guard (rates, position, gross), none reached",
    ),
    "stale": Scenario(
        "quote", "watch", max_loss=None, text="the watch: 1 feed, staleness only, no limit"
    ),
    "noop_trade": Scenario("trade", "noop", text="no-op actor on the trades"),
    "watch_trade": Scenario(
        "trade", "watch", text="the watch: 1 trade feed + breaker, marked by trades"
    ),
    "noop_bar": Scenario("bar", "noop", text="no-op actor on the bars"),
    "watch_bar": Scenario("bar", "watch", text="the watch: 1 bar feed + breaker, marked by bars"),
    "noop_scale": Scenario("scale", "noop", text="no-op actor on every instrument"),
    "watch_scale": Scenario(
        "scale",
        "watch",
        feeds="all",
        limits=SCOPED,
        text="the watch: a feed per instrument, 100 positions, max_loss + 3 scoped limits",
    ),
}
# how the cost grows (scale world): positions held, feeds watched, limits
for _p, _f, _l in [(1, "one", 1), (10, "one", 1), (100, "one", 1), (100, "all", 1),
                   (100, "one", 4), (100, "all", 4)]:  # fmt: skip
    SCENARIOS[f"grow_p{_p}_{_f}_l{_l}"] = Scenario(
        "scale",
        "watch",
        feeds=_f,
        positions=_p,
        limits=SCOPED if _l == 4 else (),
        text=f"{_p} positions, {'a feed per instrument' if _f == 'all' else '1 feed'}, "
        f"{_l} limit(s)",
    )
for _p in (1, 10):
    SCENARIOS[f"noop_scale_p{_p}"] = Scenario(
        "scale", "noop", positions=_p, text=f"no-op actor, {_p} positions"
    )

#: the no-op baseline of each scenario: same world, same positions
BASELINE = {
    "quote": "noop",
    "trade": "noop_trade",
    "bar": "noop_bar",
    "scale": "noop_scale",
}


def baseline(name: str) -> str | None:
    """The no-op run a scenario is measured against (``None`` for the baselines)."""
    s = SCENARIOS[name]
    if s.actor in ("none", "noop"):
        return None
    if s.world == "scale" and s.positions in (1, 10):
        return f"noop_scale_p{s.positions}"
    return BASELINE[s.world]


# --- the world --------------------------------------------------------------------------
def instruments(count: int) -> list[Any]:
    from nautilus_trader.model.instruments import CurrencyPair

    from nautilus_riskwatch.demo import eurusd_instrument

    first = eurusd_instrument()
    out = [first]
    template = CurrencyPair.to_dict(first)
    for i in range(1, count):
        d = dict(template)
        d["id"] = f"EUR/USD{i}.SIM"
        d["raw_symbol"] = f"EUR/USD{i}"
        out.append(CurrencyPair.from_dict(d))
    return out


def quotes(n: int, instruments: list[Any]) -> list[Any]:
    """``n`` real EUR/USD quotes, the day repeated (shifted in time), dealt round-robin."""
    from nautilus_trader.model.data import QuoteTick

    from nautilus_riskwatch.demo import eurusd_quotes

    base = eurusd_quotes(instruments[0])
    span = base[-1].ts_init - base[0].ts_init + 1_000_000_000
    ids = itertools.cycle([i.id for i in instruments])
    out = []
    for k in range(n):
        q = base[k % len(base)]
        shift = (k // len(base)) * span
        out.append(
            QuoteTick(
                instrument_id=next(ids),
                bid_price=q.bid_price,
                ask_price=q.ask_price,
                bid_size=q.bid_size,
                ask_size=q.ask_size,
                ts_event=q.ts_event + shift,
                ts_init=q.ts_init + shift,
            )
        )
    return out


def trades(n: int, instrument: Any) -> list[Any]:
    """``n`` trade ticks at the recorded bids, at the recorded moments (the day repeated)."""
    from nautilus_trader.model.data import TradeTick
    from nautilus_trader.model.enums import AggressorSide
    from nautilus_trader.model.identifiers import TradeId

    from nautilus_riskwatch.demo import eurusd_quotes

    base = eurusd_quotes(instrument)
    span = base[-1].ts_init - base[0].ts_init + 1_000_000_000
    out = []
    for k in range(n):
        q = base[k % len(base)]
        shift = (k // len(base)) * span
        out.append(
            TradeTick(
                instrument.id,
                q.bid_price,
                q.bid_size,
                AggressorSide.SELLER,
                TradeId(str(k + 1)),
                q.ts_event + shift,
                q.ts_init + shift,
            )
        )
    return out


def bars(n: int, instrument: Any) -> list[Any]:
    """``n`` 1-minute bars: the day's BID and ASK bars, in time order, repeated."""
    from nautilus_trader.model.data import Bar

    from nautilus_riskwatch.demo import eurusd_bars

    base = sorted(
        [*eurusd_bars("BID", instrument), *eurusd_bars("ASK", instrument)],
        key=lambda b: b.ts_init,
    )
    span = base[-1].ts_init - base[0].ts_init + 60_000_000_000
    out = []
    for k in range(n):
        b = base[k % len(base)]
        shift = (k // len(base)) * span
        out.append(
            Bar(
                b.bar_type,
                b.open,
                b.high,
                b.low,
                b.close,
                b.volume,
                b.ts_event + shift,
                b.ts_init + shift,
            )
        )
    return out


def bench_trader_class() -> type:
    """A strategy that opens one short position per traded instrument on its first price."""
    from nautilus_trader.config import StrategyConfig
    from nautilus_trader.model.data import BarType
    from nautilus_trader.model.enums import OrderSide
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.objects import Quantity
    from nautilus_trader.trading.strategy import Strategy

    class BenchTraderConfig(StrategyConfig, frozen=True):
        watch: tuple[str, ...] = ()  # instruments subscribed to
        trade: tuple[str, ...] = ()  # instruments a position is opened on
        kind: str = "quote"
        bar_types: tuple[str, ...] = ()

    class BenchTrader(Strategy):
        def __init__(self, config: BenchTraderConfig) -> None:
            super().__init__(config)
            self.to_open = {InstrumentId.from_str(i) for i in config.trade}

        def on_start(self) -> None:
            for text in self.config.watch:
                instrument_id = InstrumentId.from_str(text)
                if self.config.kind == "quote":
                    self.subscribe_quote_ticks(instrument_id)
                elif self.config.kind == "trade":
                    self.subscribe_trade_ticks(instrument_id)
            for text in self.config.bar_types:
                self.subscribe_bars(BarType.from_str(text))

        def _open(self, instrument_id: Any) -> None:
            if instrument_id in self.to_open:
                self.to_open.discard(instrument_id)
                self.submit_order(
                    self.order_factory.market(
                        instrument_id, OrderSide.SELL, Quantity.from_int(1_000_000)
                    )
                )

        def on_quote_tick(self, tick: Any) -> None:
            if self.to_open:
                self._open(tick.instrument_id)

        def on_trade_tick(self, tick: Any) -> None:
            if self.to_open:
                self._open(tick.instrument_id)

        def on_bar(self, bar: Any) -> None:
            # the venue has a market once it has seen a BID and an ASK bar
            if self.to_open and bar.bar_type.spec.price_type.name == "ASK":
                self._open(bar.bar_type.instrument_id)

    BenchTrader.Config = BenchTraderConfig  # type: ignore[attr-defined]
    return BenchTrader


def actor_classes(ids: list[Any], kind: str, bar_types: list[Any]) -> dict[str, type]:
    from nautilus_trader.common.actor import Actor

    first = ids[0]

    class NoOp(Actor):
        def on_start(self) -> None:
            for instrument_id in ids:
                if kind == "quote":
                    self.subscribe_quote_ticks(instrument_id)
                elif kind == "trade":
                    self.subscribe_trade_ticks(instrument_id)
            for bar_type in bar_types:
                self.subscribe_bars(bar_type)

        def on_quote_tick(self, tick: Any) -> None:
            pass

        def on_trade_tick(self, tick: Any) -> None:
            pass

        def on_bar(self, bar: Any) -> None:
            pass

    class HandWritten(Actor):
        def on_start(self) -> None:
            self.subscribe_quote_ticks(first)
            self.ceiling = Decimal("100000000")

        def on_quote_tick(self, tick: Any) -> None:
            unrealized = self.portfolio.unrealized_pnl(first)
            realized = self.portfolio.realized_pnl(first)
            loss = Decimal(0)
            if unrealized is not None:
                loss -= unrealized.as_decimal()
            if realized is not None:
                loss -= realized.as_decimal()
            if loss >= self.ceiling:
                raise RuntimeError("tripped")

    return {"noop": NoOp, "handwritten": HandWritten}


def build(name: str, n: int, short: bool = False) -> Any:
    """The engine of scenario ``name`` over ``n`` data points, ready to run."""
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Money

    from nautilus_riskwatch import RiskWatch, RiskWatchConfig

    s = SCENARIOS[name]
    count = (500 if short else SCALE_INSTRUMENTS) if s.world == "scale" else 1
    insts = instruments(count)
    ids = [i.id for i in insts]
    bar_types: list[Any] = []
    if s.world == "trade":
        data = trades(n, insts[0])
    elif s.world == "bar":
        data = bars(n, insts[0])
        bar_types = sorted({b.bar_type for b in data[:4]}, key=str)
    else:
        data = quotes(n, insts)
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR")))
    engine.add_venue(
        venue=Venue("SIM"),
        oms_type=OmsType.HEDGING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(10_000_000_000, USD)],
    )
    for instrument in insts:
        engine.add_instrument(instrument)
    engine.add_data(data)
    trader = bench_trader_class()
    kind = "bar" if s.world == "bar" else ("trade" if s.world == "trade" else "quote")
    if s.world == "scale":
        traded = s.positions or SCALE_STRATEGIES * SCALE_PER_STRATEGY
        for k in range(SCALE_STRATEGIES):
            mine = [str(i) for i in ids[k * SCALE_PER_STRATEGY : (k + 1) * SCALE_PER_STRATEGY]]
            trade = [x for j, x in enumerate(mine) if k * SCALE_PER_STRATEGY + j < traded]
            engine.add_strategy(
                trader(
                    trader.Config(  # type: ignore[attr-defined]
                        order_id_tag=f"{k + 1:03d}",
                        watch=tuple(mine),
                        trade=tuple(trade),
                    )
                )
            )
    else:
        engine.add_strategy(
            trader(
                trader.Config(  # type: ignore[attr-defined]
                    order_id_tag="001",
                    watch=(str(ids[0]),) if kind != "bar" else (),
                    trade=(str(ids[0]),),
                    kind=kind,
                    bar_types=tuple(str(b) for b in bar_types),
                )
            )
        )
    if s.actor in ("noop", "handwritten"):
        engine.add_actor(actor_classes(ids, kind, bar_types)[s.actor]())
    elif s.actor == "watch":
        engine.add_actor(RiskWatch(RiskWatchConfig(**watch_config(s, ids, bar_types))))
    return engine


def watch_config(s: Scenario, ids: list[Any], bar_types: list[Any]) -> dict[str, Any]:
    stale = 10_000_000.0  # never reached
    if s.world == "bar":
        feeds = [{"bar_type": str(bar_types[0]), "kind": "bar", "stale_after": stale}]
    elif s.feeds == "all":
        feeds = [{"instrument_id": str(i), "stale_after": stale} for i in ids]
    elif s.feeds == "one":
        kind = "trade" if s.world == "trade" else "quote"
        feeds = [{"instrument_id": str(ids[0]), "kind": kind, "stale_after": stale}]
    else:
        feeds = []
    config: dict[str, Any] = {"feeds": feeds, "limits": list(s.limits)}
    if s.max_loss is not None:
        config["max_loss"] = s.max_loss
    config.update(s.extra)
    if s.world == "trade":
        config["mark_with"] = ["trade"]
    if s.world == "bar":
        config["mark_with"] = ["bar"]
    return config
