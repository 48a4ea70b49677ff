"""The hot path's remembered Decimals are exactly ``as_decimal()``, precision included."""

from __future__ import annotations

from nautilus_trader.model.objects import Price

from nautilus_riskwatch import RiskWatch, RiskWatchConfig


def test_remembered_prices_are_exactly_as_decimal_even_with_equal_raw_values():
    watch = RiskWatch(RiskWatchConfig(max_loss="1 USD"))
    five, six = Price.from_str("1.12120"), Price.from_str("1.121200")
    assert five.raw == six.raw  # the same value ...
    for price in (five, six, five, six):
        value = watch._decimal(price)
        assert value == price.as_decimal()
        assert str(value) == str(price.as_decimal())  # ... and the same Decimal, exponent too


def test_the_cache_is_bounded():
    watch = RiskWatch(RiskWatchConfig(max_loss="1 USD"))
    for i in range(70_000):
        watch._decimal(Price.from_int(i))
    assert len(watch._prices) <= 65_536
