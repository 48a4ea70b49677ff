"""``Marks``: each side takes its price from the best source that has priced it.

The order is NautilusTrader's Portfolio's (quote, then trade, then bar close), and the
engine tests in ``tests/backtest/test_marks.py`` check it end to end on real data; here
the ranking rules one by one, including those no backtest venue can produce (a venue
cannot fill on bid bars alone).
"""

from __future__ import annotations

from decimal import Decimal as D

from nautilus_trader.model.enums import PriceType

from nautilus_riskwatch.nautilus.marks import Marks


def test_a_quote_outranks_trades_and_bars_from_the_moment_it_arrives():
    marks = Marks(("quote", "trade", "bar"))
    assert not marks.priced
    assert marks.bar(PriceType.LAST, D("10"), 1) and (marks.bid, marks.ask) == (D(10), D(10))
    assert marks.trade(D("11"), 2) and (marks.bid, marks.ask) == (D(11), D(11))
    assert not marks.bar(PriceType.LAST, D("12"), 3)  # bars no longer move a traded price
    assert marks.quote(D("12.9"), D("13.1"), 4) and (marks.bid, marks.ask) == (D("12.9"), D("13.1"))
    assert not marks.trade(D("20"), 5) and marks.source == "quote"


def test_bid_bars_price_longs_ask_bars_shorts_and_a_lone_side_prices_both():
    marks = Marks(("quote", "trade", "bar"))
    marks.bar(PriceType.BID, D("1.1"), 1)
    assert (marks.bid, marks.ask) == (D("1.1"), D("1.1"))  # the Portfolio's fallback
    marks.bar(PriceType.ASK, D("1.3"), 1)
    assert (marks.bid, marks.ask) == (D("1.1"), D("1.3"))
    marks.bar(PriceType.BID, D("1.0"), 2)  # a bid bar no longer moves the ask side
    assert (marks.bid, marks.ask) == (D("1.0"), D("1.3"))
    marks.bar(PriceType.MID, D("5"), 3)  # a mid is worse than either side's own bars
    assert (marks.bid, marks.ask) == (D("1.0"), D("1.3"))


def test_an_older_price_of_the_same_rank_does_not_overwrite_a_newer_one():
    marks = Marks(("bar",))
    marks.bar(PriceType.LAST, D("7"), 10)
    assert not marks.bar(PriceType.LAST, D("6"), 9)  # e.g. a 5-minute bar closed earlier
    assert marks.bid == D("7")


def test_kinds_left_out_of_mark_with_are_never_used_and_the_order_is_the_users():
    marks = Marks(("trade",))
    assert not marks.quote(D(1), D(2), 1) and not marks.bar(PriceType.LAST, D(3), 1)
    assert not marks.priced
    marks = Marks(("bar", "quote"))
    marks.quote(D(1), D(2), 1)
    marks.bar(PriceType.LAST, D(3), 2)
    assert (marks.bid, marks.ask) == (D(3), D(3)) and marks.source == "LAST bar"
