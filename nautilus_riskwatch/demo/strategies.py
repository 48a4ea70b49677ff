"""Two demo strategies: a trader with a position and resting orders, and a hedger.

They are as plain as NautilusTrader's own examples, and exist so that a trip has something
real to cancel, flatten and spare.
"""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.events import OrderDenied
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.trading.strategy import Strategy


class DemoTraderConfig(StrategyConfig, frozen=True):
    """
    Configuration for ``DemoTrader``.

    Parameters
    ----------
    instrument_id : str
        The instrument to trade.
    side : str, default "SELL"
        The side of the position opened on the first quote.
    trade_size : int, default 1_000_000
        The position size.
    order_distance : str, default "0.01"
        How far from the market the resting limit orders sit (they should never fill).
    reorder_every : int, default 2_000
        Every this many quotes, place another resting order (so that there is new
        business to deny after a trip).

    """

    instrument_id: str
    side: str = "SELL"
    trade_size: int = 1_000_000
    order_distance: str = "0.01"
    reorder_every: int = 2_000


class DemoTrader(Strategy):
    """Opens one position, keeps resting limit orders on both sides, and adds more."""

    def __init__(self, config: DemoTraderConfig) -> None:
        super().__init__(config)
        self.instrument_id = InstrumentId.from_str(config.instrument_id)
        self.quotes = 0
        self.denied: list[OrderDenied] = []

    def on_start(self) -> None:
        self.subscribe_quote_ticks(self.instrument_id)

    def on_reset(self) -> None:
        self.quotes = 0  # a reset run trades again from its first quote
        self.denied = []

    def on_quote_tick(self, tick: QuoteTick) -> None:
        self.quotes += 1
        if self.quotes == 1:
            side = OrderSide[self.config.side]
            self.submit_order(
                self.order_factory.market(
                    self.instrument_id, side, Quantity.from_int(self.config.trade_size)
                )
            )
        if self.quotes == 1 or self.quotes % self.config.reorder_every == 0:
            self._rest(tick)

    def on_order_denied(self, event: OrderDenied) -> None:
        self.denied.append(event)

    def _rest(self, tick: QuoteTick) -> None:
        distance = Decimal(self.config.order_distance)
        for side, price in (
            (OrderSide.BUY, tick.bid_price.as_decimal() - distance),
            (OrderSide.SELL, tick.ask_price.as_decimal() + distance),
        ):
            self.submit_order(
                self.order_factory.limit(
                    self.instrument_id,
                    side,
                    Quantity.from_int(100_000),
                    Price.from_str(f"{price:.5f}"),
                    time_in_force=TimeInForce.GTC,
                )
            )


class DemoHedgerConfig(StrategyConfig, frozen=True):
    """
    Configuration for ``DemoHedger``.

    Parameters
    ----------
    instrument_id : str
        The instrument to hedge in.
    side : str, default "BUY"
        The side of the hedge.
    hedge_size : int, default 300_000
        The hedge position size.
    stop_distance : str, default "0.005"
        Distance of the protective stop from the market.
    tag : str, default "HEDGE"
        The tag on the hedge's orders, which marks them protective for the watch.

    """

    instrument_id: str
    side: str = "BUY"
    hedge_size: int = 300_000
    stop_distance: str = "0.005"
    tag: str = "HEDGE"


class DemoHedger(Strategy):
    """Holds a protective hedge position and a resting protective stop, both tagged."""

    def __init__(self, config: DemoHedgerConfig) -> None:
        super().__init__(config)
        self.instrument_id = InstrumentId.from_str(config.instrument_id)
        self.placed = False

    def on_start(self) -> None:
        self.subscribe_quote_ticks(self.instrument_id)

    def on_reset(self) -> None:
        self.placed = False

    def on_quote_tick(self, tick: QuoteTick) -> None:
        if self.placed:
            return
        self.placed = True
        side = OrderSide[self.config.side]
        tags = [self.config.tag]
        qty = Quantity.from_int(self.config.hedge_size)
        self.submit_order(self.order_factory.market(self.instrument_id, side, qty, tags=tags))
        distance = Decimal(self.config.stop_distance)
        if side == OrderSide.BUY:
            stop_side, trigger = OrderSide.SELL, tick.bid_price.as_decimal() - distance
        else:
            stop_side, trigger = OrderSide.BUY, tick.ask_price.as_decimal() + distance
        self.submit_order(
            self.order_factory.stop_market(
                self.instrument_id,
                stop_side,
                qty,
                Price.from_str(f"{trigger:.5f}"),
                time_in_force=TimeInForce.GTC,
                tags=tags,
            )
        )
