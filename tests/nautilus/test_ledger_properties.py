"""``PnlLedger`` against a brute-force recomputation, exactly.

The model below shares no code with the ledger: it keeps every figure as a ``Fraction``
(unbounded, so it can never round), remembers each position's summed signed quantity and
each instrument's latest bid and ask, and recomputes the whole mark-to-market from scratch
on every check. After every operation the ledger's ``pnl`` and ``loss`` must equal the
model's figure exactly (``Decimal`` equality, no tolerance).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus_riskwatch.core.ledger import PnlLedger

# Instrument id -> multiplier.
INSTRUMENTS: dict[str, Decimal] = {
    "EUR/USD.SIM": Decimal(1),
    "ES-FUT.SIM": Decimal(10),
    "BTC-MILLI.SIM": Decimal("0.001"),
    "USD/JPY-LOT.SIM": Decimal(100000),
}
INSTRUMENT_IDS = list(INSTRUMENTS)
POSITIONS = [
    ("P1", "strategy-A"),
    ("P2", "strategy-B"),
    ("P3", "strategy-A"),
    ("P4", "strategy-C"),
    ("P5", "strategy-B"),
    ("P6", "strategy-C"),
]


# --- the brute-force model ------------------------------------------------------------------


class Model:
    """What the ledger should say, recomputed naively with exact fractions."""

    def __init__(self) -> None:
        self.fill_cash = Fraction(0)  # sum of (-signed_qty * price * multiplier - commission)
        self.qty: dict[object, Fraction] = {}  # position -> summed signed quantities
        self.instrument_of: dict[object, str] = {}  # position -> its instrument
        self.quote: dict[str, tuple[Fraction, Fraction]] = {}  # instrument -> (bid, ask)

    def fill(self, position, instrument, signed_qty, price, multiplier, commission, mark):
        q, p, m = Fraction(signed_qty), Fraction(price), Fraction(multiplier)
        self.fill_cash += -q * p * m - Fraction(commission)
        self.qty[position] = self.qty.get(position, Fraction(0)) + q
        self.instrument_of[position] = instrument
        if instrument not in self.quote:  # only the instrument's first fill sets a quote
            if mark is None:
                self.quote[instrument] = (p, p)
            else:
                self.quote[instrument] = (Fraction(mark[0]), Fraction(mark[1]))

    def mark(self, instrument, bid, ask):
        self.quote[instrument] = (Fraction(bid), Fraction(ask))

    def pnl(self) -> Fraction:
        total = self.fill_cash
        for position, qty in self.qty.items():
            instrument = self.instrument_of[position]
            bid, ask = self.quote[instrument]
            if qty > 0:
                total += qty * bid * Fraction(INSTRUMENTS[instrument])
            elif qty < 0:
                total += qty * ask * Fraction(INSTRUMENTS[instrument])
        return total


# For the test's own Decimal arithmetic: wide and trapping, so it never rounds unnoticed (the
# default context would round beyond 28 digits).
_WIDE = Context(prec=2000, traps=[Inexact])


def to_decimal(value: Fraction) -> Decimal:
    """The exact ``Decimal`` of a fraction whose denominator divides a power of ten."""
    k = 0
    while (value.numerator * 10**k) % value.denominator:
        k += 1
        assert k < 1000, f"{value} has no finite decimal expansion"
    return scaled(value.numerator * 10**k // value.denominator, k)


def scaled(n: int, places: int) -> Decimal:
    """``n * 10**-places``, exactly."""
    return Decimal(n).scaleb(-places, _WIDE)


def assert_agrees(ledger: PnlLedger, model: Model) -> None:
    expected = model.pnl()
    expected_dec = to_decimal(expected)
    assert isinstance(ledger.pnl, Decimal)
    assert ledger.pnl == expected_dec, (ledger.pnl, expected_dec)
    assert Fraction(ledger.pnl) == expected
    expected_loss = to_decimal(-expected)
    assert ledger.loss == expected_loss, (ledger.loss, expected_loss)
    assert Fraction(ledger.loss) == -expected
    for position in POSITIONS:
        assert Fraction(ledger.position_qty(position)) == model.qty.get(position, 0)
    for instrument in INSTRUMENT_IDS:
        assert ledger.is_exposed(instrument) == (instrument in model.quote)


# --- strategies -----------------------------------------------------------------------------


def exact_decimals(min_int: int, max_int: int, max_places: int) -> st.SearchStrategy[Decimal]:
    """``n * 10**-k`` for integers ``n`` and ``k``: exact by construction."""
    return st.builds(
        scaled,
        st.integers(min_int, max_int),
        st.integers(0, max_places),
    )


prices = exact_decimals(1, 10**14, 8)
quantities = exact_decimals(1, 10**9, 4)  # unsigned; the sign is drawn separately
commissions = st.one_of(st.just(Decimal(0)), exact_decimals(-(10**8), 10**10, 8))


@st.composite
def quotes(draw) -> tuple[Decimal, Decimal]:
    """A (bid, ask) with bid <= ask, sometimes equal, sometimes wide."""
    a, b = draw(prices), draw(st.one_of(prices, st.none()))
    if b is None:
        return a, a
    return min(a, b), max(a, b)


@dataclass(frozen=True)
class FillOp:
    position: int  # index into POSITIONS
    mode: str  # "free": qty as drawn; "close": to flat; "flip": through flat to the other side
    qty: Decimal  # unsigned
    negative: bool
    price: Decimal
    commission: Decimal
    mark: tuple[Decimal, Decimal] | None


@dataclass(frozen=True)
class MarkOp:
    instrument: str
    bid: Decimal
    ask: Decimal


fill_ops = st.builds(
    FillOp,
    position=st.integers(0, len(POSITIONS) - 1),
    mode=st.sampled_from(["free", "free", "close", "flip"]),
    qty=quantities,
    negative=st.booleans(),
    price=prices,
    commission=commissions,
    mark=st.one_of(st.none(), quotes()),
)
mark_ops = st.builds(
    lambda instrument, quote: MarkOp(instrument, *quote),
    st.sampled_from(INSTRUMENT_IDS),
    quotes(),
)
# Which instrument each position trades (several positions may share one, so longs and
# shorts of the same instrument coexist).
position_maps = st.lists(
    st.sampled_from(INSTRUMENT_IDS), min_size=len(POSITIONS), max_size=len(POSITIONS)
)


def resolve_qty(op: FillOp, current: Decimal) -> Decimal:
    signed = _WIDE.minus(op.qty) if op.negative else op.qty
    if current == 0 or op.mode == "free":
        return signed
    if op.mode == "close":
        return _WIDE.minus(current)
    # flip: close, then open op.qty on the opposite side
    if current > 0:
        return _WIDE.subtract(_WIDE.minus(current), op.qty)
    return _WIDE.add(_WIDE.minus(current), op.qty)


def apply(ledger: PnlLedger, model: Model, op: FillOp | MarkOp, instrument_of: list[str]) -> None:
    if isinstance(op, MarkOp):
        if op.instrument not in model.quote:
            before = ledger.pnl
            with pytest.raises(KeyError):
                ledger.mark(op.instrument, op.bid, op.ask)
            assert ledger.pnl == before
            return
        ledger.mark(op.instrument, op.bid, op.ask)
        model.mark(op.instrument, op.bid, op.ask)
        return
    position = POSITIONS[op.position]
    instrument = instrument_of[op.position]
    multiplier = INSTRUMENTS[instrument]
    current = ledger.position_qty(position)
    assert Fraction(current) == model.qty.get(position, 0)
    qty = resolve_qty(op, current)
    ledger.fill(position, instrument, qty, op.price, multiplier, op.commission, mark=op.mark)
    model.fill(position, instrument, qty, op.price, multiplier, op.commission, op.mark)


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    instrument_of=position_maps,
    ops=st.lists(st.one_of(fill_ops, fill_ops, mark_ops), min_size=1, max_size=40),
)
def test_pnl_matches_brute_force_after_every_operation(instrument_of, ops):
    ledger, model = PnlLedger(), Model()
    assert_agrees(ledger, model)
    for op in ops:
        apply(ledger, model, op, instrument_of)
        assert_agrees(ledger, model)


def test_worked_example_long_at_bid_short_at_ask_and_fill_price_until_first_mark():
    """A hand-computed case, independent of the model too."""
    ledger = PnlLedger()
    a, b = ("P1", "strategy-A"), ("P2", "strategy-B")
    inst, mul = "ES-FUT.SIM", Decimal(10)
    ledger.fill(a, inst, Decimal(3), Decimal("100.5"), mul, Decimal("1.25"))
    # Valued at the fill price until marked: only the commission is lost.
    assert ledger.pnl == Decimal("-1.25")
    ledger.fill(b, inst, Decimal(-2), Decimal("101"), mul, Decimal("-0.5"))  # rebate
    # Cash: -3015 - 1.25 + 2020 + 0.5 = -995.75; the mark (100.5 both sides) is the first
    # fill's price: 3*100.5*10 - 2*100.5*10 = 1005. PnL = 9.25.
    assert ledger.pnl == Decimal("9.25")
    ledger.mark(inst, Decimal("100"), Decimal("102"))
    # MTM = 3*100*10 (long at the bid) - 2*102*10 (short at the ask) = 960: PnL = -35.75.
    assert ledger.pnl == Decimal("-35.75")
    assert ledger.loss == Decimal("35.75")
    # Flip A from +3 to -1 at 101: cash += 4*101*10 = 4040 -> 3044.25; MTM = -1*102*10 -
    # 2*102*10 = -3060. PnL = -15.75.
    ledger.fill(a, inst, Decimal(-4), Decimal("101"), mul, Decimal(0))
    assert ledger.position_qty(a) == Decimal(-1)
    assert ledger.pnl == Decimal("-15.75")


def test_ten_thousand_large_fills_and_marks_stay_exact():
    rng = random.Random(20240601)
    ledger, model = PnlLedger(), Model()
    instrument_of = [INSTRUMENT_IDS[i % len(INSTRUMENT_IDS)] for i in range(len(POSITIONS))]

    def price8() -> Decimal:  # 8 decimals, up to 100000
        return scaled(rng.randint(1, 10**13), 8)

    def quote() -> tuple[Decimal, Decimal]:
        bid = price8()
        return bid, _WIDE.add(bid, scaled(rng.randint(0, 10**6), 8))

    max_digits = 0
    for step in range(10_000):
        if step == 0 or rng.random() < 0.6:
            i = rng.randrange(len(POSITIONS))
            position, instrument = POSITIONS[i], instrument_of[i]
            places = rng.choice([0, 0, 1, 2])
            qty = scaled(rng.randint(1, 10**12 * 10**places), places)
            current = ledger.position_qty(position)
            roll = rng.random()
            if current != 0 and roll < 0.15:
                qty = _WIDE.minus(current)  # to flat
            elif current != 0 and roll < 0.35:
                flat = _WIDE.minus(current)  # then through flat to the other side:
                qty = _WIDE.subtract(flat, qty) if current > 0 else _WIDE.add(flat, qty)
            elif rng.random() < 0.5:
                qty = _WIDE.minus(qty)
            commission = scaled(rng.randint(-(10**8), 10**12), 8)
            mark = quote() if rng.random() < 0.5 else None
            price, multiplier = price8(), INSTRUMENTS[instrument]
            ledger.fill(position, instrument, qty, price, multiplier, commission, mark=mark)
            model.fill(position, instrument, qty, price, multiplier, commission, mark)
        else:
            instrument = rng.choice([i for i in INSTRUMENT_IDS if i in model.quote])
            bid, ask = quote()
            ledger.mark(instrument, bid, ask)
            model.mark(instrument, bid, ask)
        assert_agrees(ledger, model)
        significant = "".join(map(str, ledger.pnl.as_tuple().digits)).strip("0")
        max_digits = max(max_digits, len(significant))
    # The run really needed more than the default 28-digit context to stay exact.
    assert max_digits > 28, max_digits


# --- precision limit ------------------------------------------------------------------------


def _fill_product_81_digits(ledger: PnlLedger) -> None:
    # (10**40 + 1)**2 = 10**80 + 2*10**40 + 1: 81 significant digits.
    n = Decimal(10**40 + 1)
    ledger.fill(("P1", "strategy-A"), "EUR/USD.SIM", n, n, Decimal(1), Decimal(0))


def _cash_sum_81_digits(ledger: PnlLedger) -> None:
    # Buying 1 at 10**79 costs 10**79 exactly; with a 0.1 commission, marked at 0, the PnL
    # would be -(10**79 + 0.1): 81 significant digits.
    pos, inst = ("P1", "strategy-A"), "EUR/USD.SIM"
    ledger.fill(pos, inst, Decimal(1), Decimal(10**79), Decimal(1), Decimal("0.1"))
    ledger.mark(inst, Decimal(0), Decimal(0))


def _mark_revalue_81_digits(ledger: PnlLedger) -> None:
    # Long 10**40 + 1 (bought at 0) marked at a bid of 10**40 + 1: the PnL needs 81 digits.
    n = Decimal(10**40 + 1)
    ledger.fill(("P1", "strategy-A"), "EUR/USD.SIM", n, Decimal(0), Decimal(1), Decimal(0))
    ledger.mark("EUR/USD.SIM", n, n)


def _position_qty_81_digits(ledger: PnlLedger) -> None:
    # Quantity 10**79 then 1e-1 more: 10**79 + 0.1 needs 81 digits (the price 0 keeps the
    # cash at 0, so it is the position's own quantity that cannot be held).
    pos, inst = ("P1", "strategy-A"), "EUR/USD.SIM"
    ledger.fill(pos, inst, Decimal(10**79), Decimal(0), Decimal(1), Decimal(0))
    ledger.fill(pos, inst, Decimal("0.1"), Decimal(0), Decimal(1), Decimal(0))


@pytest.mark.parametrize(
    "build",
    [
        _cash_sum_81_digits,
        _mark_revalue_81_digits,
        _position_qty_81_digits,
    ],
    ids=["cash-sum", "mark-revalue", "position-qty"],
)
def test_more_than_80_significant_digits_raises_inexact(build):
    """The integer ledger holds any size exactly; a figure is refused when it is read as a
    ``Decimal`` (every put of a figure to a limit reads it), never rounded."""
    ledger = PnlLedger()
    build(ledger)
    with pytest.raises(Inexact):
        _ = ledger.pnl
        _ = ledger.position_qty(("P1", "strategy-A"))


def test_an_81_digit_product_inside_the_ledger_is_exact_and_cancels():
    """A fill's product of 81 digits (bought at n, valued at n) is held exactly as an
    integer, and the figure read, zero, is exact: nothing was rounded on the way."""
    ledger = PnlLedger()
    _fill_product_81_digits(ledger)
    assert ledger.pnl == 0
    assert ledger.position_qty(("P1", "strategy-A")) == Decimal(10**40 + 1)


def test_exactly_80_significant_digits_is_exact():
    # (10**40 - 1)**2 = 10**80 - 2*10**40 + 1: exactly 80 significant digits, no rounding.
    n = Decimal(10**40 - 1)
    ledger, model = PnlLedger(), Model()
    pos, inst = ("P1", "strategy-A"), "EUR/USD.SIM"
    ledger.fill(pos, inst, n, n, Decimal(1), Decimal(0), mark=(Decimal(0), Decimal(0)))
    model.fill(pos, inst, n, n, Decimal(1), Decimal(0), (Decimal(0), Decimal(0)))
    assert ledger.pnl == Decimal(-((10**40 - 1) ** 2))
    assert ledger.loss == Decimal((10**40 - 1) ** 2)
    assert_agrees(ledger, model)


# --- marks on instruments never filled ------------------------------------------------------


def test_mark_on_instrument_never_filled_raises_key_error():
    ledger = PnlLedger()
    assert not ledger.is_exposed("EUR/USD.SIM")
    with pytest.raises(KeyError):
        ledger.mark("EUR/USD.SIM", Decimal("1.1"), Decimal("1.2"))
    pos = ("P1", "strategy-A")
    ledger.fill(pos, "ES-FUT.SIM", Decimal(2), Decimal(100), Decimal(10), Decimal(1))
    before = ledger.pnl
    with pytest.raises(KeyError):
        ledger.mark("EUR/USD.SIM", Decimal("1.1"), Decimal("1.2"))
    assert not ledger.is_exposed("EUR/USD.SIM")
    assert ledger.pnl == before
    # Flat again, the instrument has had a fill and stays markable; flat marks change nothing.
    ledger.fill(pos, "ES-FUT.SIM", Decimal(-2), Decimal(100), Decimal(10), Decimal(0))
    ledger.mark("ES-FUT.SIM", Decimal(90), Decimal(95))
    assert ledger.pnl == Decimal(-1)
