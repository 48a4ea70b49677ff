"""The position caps as a supervisor child, and the ledger's net and gross figures they judge."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from fractions import Fraction

import pytest
from vtime import run_virtual

from nautilus_riskwatch.core import ExposureBreached, Feed, position_breaker
from nautilus_riskwatch.core.ledger import PnlLedger, to_decimal

EURUSD, USDJPY = "EUR/USD.SIM", "USD/JPY.SIM"


def test_the_position_breaker_judges_fill_by_fill_and_holds_at_the_cap():
    async def main():
        nets: Feed[tuple[str, Decimal]] = Feed("nets", asyncio.get_running_loop().time)
        caps = {EURUSD: Decimal("500000")}
        breaker = asyncio.create_task(position_breaker(nets.read_one, caps))
        await asyncio.sleep(0)
        for net in ("100000", "-500000", "500000"):  # at the cap, either way: holds
            nets.put((EURUSD, Decimal(net)))
            await asyncio.sleep(0)
            assert not breaker.done(), net
        nets.put((USDJPY, Decimal("9000000")))  # an instrument with no cap
        await asyncio.sleep(0)
        assert not breaker.done()
        nets.put((EURUSD, Decimal("-500001")))  # one unit more: trips
        nets.put((EURUSD, Decimal("0")))  # flat again before the breaker ran: still tripped
        with pytest.raises(ExposureBreached) as caught:
            await asyncio.wait_for(breaker, 1.0)
        return caught.value

    trip = run_virtual(main())
    assert (trip.measure, trip.figure, trip.cap, trip.instrument) == (
        "position",
        Decimal("500001"),
        Decimal("500000"),
        EURUSD,
    )


@pytest.mark.parametrize(
    ("caps", "error", "match"),
    [
        ({EURUSD: 5}, TypeError, "position cap of EUR/USD.SIM must be a Decimal"),
        ({EURUSD: Decimal(-1)}, ValueError, "must be 0 or more"),
    ],
)
def test_the_position_breaker_refuses_a_bad_cap(caps, error, match):
    async def main():
        feed = Feed("nets", asyncio.get_running_loop().time)
        await asyncio.wait_for(position_breaker(feed.read_one, caps), 1.0)

    with pytest.raises(error, match=match):
        run_virtual(main())


def _fill(ledger, instrument, position, qty, price, currency="USD", multiplier="1", **kw):
    ledger.fill(
        position=position,
        instrument=instrument,
        signed_qty=Decimal(qty),
        price=Decimal(price),
        multiplier=Decimal(multiplier),
        commission=Decimal(0),
        currency=currency,
        **kw,
    )


def test_net_is_summed_over_positions_and_gross_is_valued_where_a_close_would_trade():
    ledger = PnlLedger()
    assert ledger.net_qty(EURUSD) == 0 and ledger.gross_by_currency() == {}
    _fill(ledger, EURUSD, "P-1", "300000", "1.12000")
    _fill(ledger, EURUSD, "P-2", "-100000", "1.12000")  # a hedging venue: two positions
    ledger.mark(EURUSD, Decimal("1.12100"), Decimal("1.12150"))
    assert ledger.net_qty(EURUSD) == Decimal("200000")
    assert ledger.gross_by_currency() == {"USD": Decimal("224200")}  # 200,000 at the bid
    # the same figure in the ledger's integer money units (the guard's quiet check)
    assert to_decimal(ledger.gross_raw(EURUSD), ledger.money_places) == Decimal("224200")
    _fill(ledger, EURUSD, "P-1", "-300000", "1.12100")
    assert ledger.net_qty(EURUSD) == Decimal("-100000")
    assert to_decimal(ledger.gross_raw(EURUSD), ledger.money_places) == Decimal("112150")
    assert ledger.gross_by_currency() == {"USD": Decimal("112150")}  # short: at the ask
    _fill(ledger, USDJPY, "P-3", "50000", "108.500", currency="JPY")
    assert ledger.gross_by_currency() == {"USD": Decimal("112150"), "JPY": Decimal("5425000")}
    _fill(ledger, EURUSD, "P-2", "100000", "1.12150")
    assert ledger.net_qty(EURUSD) == 0
    assert ledger.gross_by_currency() == {"JPY": Decimal("5425000")}  # flat is no exposure


def test_an_inverse_instrument_s_gross_is_its_contracts_over_the_price_in_its_base():
    ledger = PnlLedger()
    _fill(
        ledger, "XBTUSD.BITMEX", "P-1", "-3", "40000", currency="BTC", multiplier="10", inverse=True
    )
    ledger.mark("XBTUSD.BITMEX", Decimal("39990"), Decimal("40010"))
    assert ledger.net_qty("XBTUSD.BITMEX") == Decimal(-3)
    assert ledger.gross_by_currency() == {"BTC": Fraction(30, 40010)}
    assert ledger.gross_raw("XBTUSD.BITMEX") is None  # no integer figure: always put
    assert ledger.instruments == ("XBTUSD.BITMEX",)
