"""Loading the real EUR/USD quotes shipped with the package."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from nautilus_trader.model.data import QuoteTick
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
