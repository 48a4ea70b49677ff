"""The per-currency ledger and the conversion, against a brute force in ``Fraction``s.

The model shares no code with the ledger or the converter: per currency, every fill's cash
flow (linear ``-q*p*m``, inverse ``+q*m/p``), every commission in its own currency, and the
whole mark-to-market recomputed from scratch on every check. The ledger must agree exactly,
per currency; the converted figure must bracket the exact one, both bounds on the ceiling
currency's grid, within one quantum per converted currency, and lean toward the trip: the
PnL judged never above the truth (a loss never below it), a reference never below it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import floor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vtime import run_virtual

from nautilus_riskwatch.core.convert import Converter, Rate, bounded, share_of, upper
from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.ledger import PnlLedger
from nautilus_riskwatch.core.limits import (
    DailyLossBreached,
    TrailingDrawdownBreached,
    daily_breaker,
    trailing_breaker,
)

# instrument -> (multiplier, settlement currency, inverse)
INSTRUMENTS = {
    "GBP/USD": (Decimal(1), "USD", False),
    "USD/JPY": (Decimal(1), "JPY", False),
    "ES": (Decimal(50), "USD", False),
    "BTC/USD-INV": (Decimal(10), "BTC", True),
    "ETH/USD-INV": (Decimal(1), "ETH", True),
}
FEES = ["USD", "JPY", "BTC", "BNB"]
POSITIONS = ["P1", "P2", "P3", "P4", "P5"]


def scaled(n: int, places: int) -> Decimal:
    return Decimal(n).scaleb(-places)


prices = st.builds(scaled, st.integers(1, 10**9), st.integers(0, 5))
quantities = st.builds(scaled, st.integers(-(10**7), 10**7).filter(bool), st.integers(0, 3))
fees = st.builds(scaled, st.integers(-(10**4), 10**6), st.integers(0, 8))


class Model:
    def __init__(self) -> None:
        self.cash: dict[str, Fraction] = {}
        self.qty: dict[str, Fraction] = {}
        self.instrument_of: dict[str, str] = {}
        self.quote: dict[str, tuple[Fraction, Fraction]] = {}

    def fill(self, position, instrument, q, p, fee, fee_ccy) -> None:
        m, ccy, inverse = INSTRUMENTS[instrument]
        q, p, m = Fraction(q), Fraction(p), Fraction(m)
        flow = q * m / p if inverse else -q * p * m
        self.cash[ccy] = self.cash.get(ccy, Fraction(0)) + flow
        if fee:
            self.cash[fee_ccy] = self.cash.get(fee_ccy, Fraction(0)) - Fraction(fee)
        self.qty[position] = self.qty.get(position, Fraction(0)) + q
        self.instrument_of[position] = instrument
        self.quote.setdefault(instrument, (p, p))

    def pnl(self) -> dict[str, Fraction]:
        figures = dict(self.cash)
        for position, q in self.qty.items():
            instrument = self.instrument_of[position]
            m, ccy, inverse = INSTRUMENTS[instrument]
            bid, ask = self.quote[instrument]
            price = bid if q > 0 else ask
            if q:
                value = -q * Fraction(m) / price if inverse else q * price * Fraction(m)
                figures[ccy] = figures.get(ccy, Fraction(0)) + value
        return figures


@dataclass(frozen=True)
class Op:
    kind: str  # "fill" or "mark"
    position: str
    instrument: str
    qty: Decimal
    price: Decimal
    other: Decimal  # the fee, or the ask's distance above the bid
    fee_ccy: str


ops = st.builds(
    Op,
    st.sampled_from(["fill", "fill", "mark"]),
    st.sampled_from(POSITIONS),
    st.sampled_from(list(INSTRUMENTS)),
    quantities,
    prices,
    fees,
    st.sampled_from(FEES),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=30))
def test_each_currency_is_exact_after_every_operation(operations):
    ledger, model = PnlLedger(), Model()
    for op in operations:
        # a position keeps the instrument of its first fill
        instrument = model.instrument_of.get(op.position, op.instrument)
        if op.kind == "mark":
            if instrument not in model.quote:
                continue
            bid, ask = op.price, op.price + abs(op.other)
            ledger.mark(instrument, bid, ask)
            model.quote[instrument] = (Fraction(bid), Fraction(ask))
        else:
            m, ccy, inverse = INSTRUMENTS[instrument]
            ledger.fill(
                op.position,
                instrument,
                op.qty,
                op.price,
                m,
                op.other,
                currency=ccy,
                commission_currency=op.fee_ccy,
                inverse=inverse,
            )
            model.fill(op.position, instrument, op.qty, op.price, op.other, op.fee_ccy)
        got = ledger.pnl_by_currency()
        want = model.pnl()
        assert {k: Fraction(v) for k, v in got.items()} == {
            k: v for k, v in want.items() if k in got
        }
        assert all(not v for k, v in want.items() if k not in got)
        # a currency with no inverse part stays a Decimal (the linear hot path)
        for code, figure in got.items():
            if not any(inv and c == code for _, c, inv in INSTRUMENTS.values()):
                assert isinstance(figure, Decimal)
        single = set(got) <= {"USD"} and not any(
            INSTRUMENTS[i][2] for i in model.instrument_of.values()
        )
        assert ledger.plain_in("USD") == single
        if single:
            assert Fraction(ledger.pnl) == sum(want.values(), Fraction(0))


figures = st.one_of(
    st.builds(scaled, st.integers(-(10**12), 10**12), st.integers(0, 8)),
    st.builds(lambda n, d: Fraction(n, d), st.integers(-(10**12), 10**12), st.integers(1, 10**6)),
)
rates = st.builds(
    lambda n, places, invert: (
        (Fraction(1) / Fraction(scaled(n, places))) if invert else Fraction(scaled(n, places))
    ),
    st.integers(1, 10**7),
    st.integers(0, 6),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(
    book=st.dictionaries(st.sampled_from(["USD", "JPY", "EUR", "BTC"]), figures, max_size=4),
    rate_of=st.fixed_dictionaries({"JPY": rates, "EUR": rates, "BTC": rates}),
    places=st.integers(0, 8),
)
def test_conversion_brackets_the_exact_figure_and_leans_toward_the_trip(book, rate_of, places):
    quantum = Decimal(1).scaleb(-places)
    table = {code: Rate(code, "USD", value, 7, f"test {code}") for code, value in rate_of.items()}
    converter = Converter("USD", quantum, table.get)
    valuation = converter.value(book)
    exact = sum(
        (Fraction(v) * (rate_of[k] if k != "USD" else 1) for k, v in book.items()), Fraction(0)
    )
    low, high = Fraction(valuation.low), Fraction(valuation.high)
    assert low <= exact <= high  # the judged PnL never above the truth, a reference never below
    rounded = [k for k, v in book.items() if k != "USD" or not isinstance(v, Decimal)]
    assert high - low <= len(rounded) * Fraction(quantum)
    if not rounded:
        assert low == high == exact  # nothing inexact: nothing rounded
    for part in valuation.parts:
        if part.currency != "USD" or not isinstance(part.figure, Decimal):
            step = Fraction(quantum)
            assert Fraction(part.low) / step == floor(Fraction(part.low) / step)  # on the grid
            assert (
                Fraction(part.low)
                <= Fraction(part.figure) * (rate_of.get(part.currency, 1))
                <= Fraction(part.high)
            )
    # the same figures again: the same parts, not recomputed
    assert converter.value(book).parts == valuation.parts


def test_a_currency_with_no_rate_is_held_at_its_last_figure_and_named():
    rate = Rate("JPY", "USD", Fraction(1, 100), 1, "test")
    table: dict[str, Rate] = {"JPY": rate}
    converter = Converter("USD", Decimal("0.01"), table.get)
    first = converter.value({"USD": Decimal("-5"), "JPY": Decimal("-1000.5")})
    assert (first.low, first.high, first.missing) == (Decimal("-15.01"), Decimal("-15.00"), ())
    table.clear()  # the rate is gone
    held = converter.value({"USD": Decimal("-5"), "JPY": Decimal("-9999")})
    assert held.missing == ("JPY",) and (held.low, held.high) == (first.low, first.high)
    assert "NO RATE" in held.rates()[0]
    never = Converter("USD", Decimal("0.01"), {}.get).value({"EUR": Decimal("-3")})
    assert never.missing == ("EUR",) and never.low == never.high == 0


@settings(max_examples=200, deadline=None)
@given(
    base=st.builds(scaled, st.integers(1, 10**12), st.integers(0, 4)),
    percent=st.builds(scaled, st.integers(1, 10000), st.integers(0, 2)).filter(lambda p: p <= 100),
    places=st.integers(0, 8),
)
def test_a_share_is_rounded_down_to_the_quantum(base, percent, places):
    quantum = Decimal(1).scaleb(-places)
    share = share_of(base, percent, quantum)
    exact = Fraction(base) * Fraction(percent) / 100
    assert Fraction(share) <= exact < Fraction(share) + Fraction(quantum)


# --- the breakers take the bounds the right way round ------------------------------------


small_figures = st.builds(lambda n, d: Fraction(n, d), st.integers(-3000, 3000), st.integers(1, 7))


@settings(max_examples=300, deadline=None)
@given(
    path=st.lists(small_figures, min_size=1, max_size=25),
    places=st.integers(0, 2),
    steps=st.integers(1, 400),
)
def test_trailing_and_daily_take_the_bounds_toward_the_trip(path, places, steps):
    """Each exact PnL figure is handed on rounded down, with its rounded-up bound. The
    documented rule: the trailing mark is the best rounded-up figure, the daily baseline
    the rounded-up first figure, the figure judged the rounded-down one; so the breakers
    trip exactly where that rule says, and never later than the exact figures would."""
    quantum = Fraction(Decimal(1).scaleb(-places))
    ceiling = _grid(steps * quantum, places)

    def low(x: Fraction) -> Fraction:
        return floor(x / quantum) * quantum

    def high(x: Fraction) -> Fraction:
        return -floor(-x / quantum) * quantum

    def first(test) -> int | None:
        return next((i for i in range(len(path)) if test(i)), None)

    c = Fraction(ceiling)
    trailing_rule = first(lambda i: max([0, *map(high, path[: i + 1])]) - low(path[i]) >= c)
    trailing_exact = first(lambda i: max([0, *path[: i + 1]]) - path[i] >= c)
    daily_rule = first(lambda i: high(path[0]) - low(path[i]) >= c)
    daily_exact = first(lambda i: path[0] - path[i] >= c)

    async def run(make):
        feed: Feed[Decimal] = Feed("pnl", asyncio.get_running_loop().time)
        task = asyncio.create_task(make(feed))
        for i, x in enumerate(path):
            feed.put(bounded(_grid(low(x), places), _grid(high(x), places), None))
            for _ in range(3):
                await asyncio.sleep(0)
            if task.done():
                with pytest.raises((TrailingDrawdownBreached, DailyLossBreached)):
                    task.result()
                return i
        task.cancel()
        return None

    trailing_at = run_virtual(run(lambda f: trailing_breaker(f.read_one, ceiling)))
    assert trailing_at == trailing_rule
    if trailing_exact is not None:
        assert trailing_at is not None and trailing_at <= trailing_exact
    daily_at = run_virtual(
        run(lambda f: daily_breaker(f.read_one, ceiling, lambda t: t + 1e9, lambda: 0.0))
    )
    assert daily_at == daily_rule
    if daily_exact is not None:
        assert daily_at is not None and daily_at <= daily_exact


def test_upper_is_the_other_bound_or_the_figure_itself():
    assert upper(Decimal("1.5")) == Decimal("1.5")
    figure = bounded(Decimal("1.49"), Decimal("1.50"), None)
    assert figure == Decimal("1.49") and upper(figure) == Decimal("1.50")


def _grid(x: Fraction, places: int) -> Decimal:
    """A figure on the 10**-places grid, as an exact Decimal."""
    steps = x * 10**places
    assert steps.denominator == 1
    return Decimal(steps.numerator).scaleb(-places)
