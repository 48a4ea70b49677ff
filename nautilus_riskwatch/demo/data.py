"""Loading the real EUR/USD quotes shipped with the package."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.instruments import CurrencyPair
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider

EURUSD_CSV = Path(__file__).parent / "data" / "eurusd-quotes-2020-01-01.csv"


def eurusd_instrument(venue: str = "SIM") -> CurrencyPair:
    """EUR/USD on a simulated venue (quote currency USD, price precision 5)."""
    return TestInstrumentProvider.default_fx_ccy("EUR/USD", Venue(venue))


def eurusd_quotes(
    instrument: CurrencyPair | None = None,
    keep: Callable[[int], bool] | None = None,
) -> list[QuoteTick]:
    """The recorded quotes as ``QuoteTick`` objects, prices parsed from text (exact).

    ``keep(ts_ns)`` filters them, e.g. to cut a gap in the feed.
    """
    instrument = instrument or eurusd_instrument()
    size = Quantity.from_int(1_000_000)
    ticks = []
    with EURUSD_CSV.open() as lines:
        for line in lines:
            stamp, bid, ask, _ = line.strip().split(",")
            ts = _ns(stamp)
            if keep is not None and not keep(ts):
                continue
            ticks.append(
                QuoteTick(
                    instrument_id=instrument.id,
                    bid_price=_price(bid, instrument.price_precision),
                    ask_price=_price(ask, instrument.price_precision),
                    bid_size=size,
                    ask_size=size,
                    ts_event=ts,
                    ts_init=ts,
                )
            )
    return ticks


def eurusd_bars(side: str, instrument: CurrencyPair | None = None) -> list[Bar]:
    """The recorded quotes as 1-minute ``BID`` or ``ASK`` bars (``side``), for bar backtests.

    Each bar holds the minute's quotes of that side (open, high, low, close) and closes at
    the minute's end; a minute without quotes has no bar, as a venue's feed would have it.
    """
    instrument = instrument or eurusd_instrument()
    bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-{side}-EXTERNAL")
    minute = 60_000_000_000
    volume = Quantity.from_int(10_000_000)
    bars: list[Bar] = []
    prices: list[Price] = []
    current = None
    for tick in [*eurusd_quotes(instrument), None]:
        start = None if tick is None else tick.ts_init - tick.ts_init % minute
        if prices and start != current:
            end = current + minute  # type: ignore[operator]
            high, low = max(prices), min(prices)
            bars.append(Bar(bar_type, prices[0], high, low, prices[-1], volume, end, end))
            prices = []
        if tick is not None:
            current = start
            prices.append(tick.bid_price if side == "BID" else tick.ask_price)
    return bars


def _price(text: str, precision: int) -> Price:
    """The file writes 6 decimals (``1.121200``); the instrument has 5. Drop only zeros."""
    value = Decimal(text)
    exact = value.quantize(Decimal(1).scaleb(-precision))
    if exact != value:
        raise ValueError(f"price {text} does not fit precision {precision} exactly")
    return Price.from_str(f"{exact:f}")


def _ns(stamp: str) -> int:
    """``YYYYMMDD HHMMSSmmm`` (UTC) as integer nanoseconds, without floats."""
    day, clock = stamp.split(" ")
    moment = datetime.strptime(f"{day} {clock[:6]}", "%Y%m%d %H%M%S").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + int(clock[6:9]) * 1_000_000
