"""The hot path's remembered Decimals are exactly ``as_decimal()``, precision included."""

from __future__ import annotations

from nautilus_trader.model.objects import Price

from nautilus_riskwatch.nautilus.router import Decimals


def test_remembered_prices_are_exactly_as_decimal_even_with_equal_raw_values():
    decimals = Decimals()
    five, six = Price.from_str("1.12120"), Price.from_str("1.121200")
    assert five.raw == six.raw  # the same value ...
    for price in (five, six, five, six):
        value = decimals.of(price)
        assert value == price.as_decimal()
        assert str(value) == str(price.as_decimal())  # ... and the same Decimal, exponent too


def test_the_cache_is_bounded():
    decimals = Decimals()
    for i in range(70_000):
        decimals.of(Price.from_int(i))
    assert 0 < len(decimals) <= Decimals.SIZE
