"""Several settlement currencies, an inverse perpetual and percent limits, on real data.

Each trip is checked against a brute force that shares nothing with the watch: it reads the
raw bar files as text, turns every price into a ``Fraction``, replays the engine's own fills
(``tests/pnl.py``) and values the book after every bar in the order the engine delivered
the bars (recorded by a bystander actor), rounding as documented (docs/design.md): each
currency other than the ceiling's is converted at the exact mid of its pair and rounded to
the ceiling currency's precision toward the trip (a PnL down), the ceiling currency's own
decimal figure exactly, an inverse instrument's rational figure rounded the same way.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from math import ceil, floor

from market import (
    BTC_BARS_CSV,
    GBPUSD_BARS_CSV,
    USDJPY_BARS_CSV,
    USDJPY_SHIFT_NS,
    OneShot,
    OneShotConfig,
    btc_bars,
    btc_inverse,
    fx_pair,
    gbpusd_bars,
    raw_closes,
    usdjpy_bars,
)
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import LoggingConfig
from nautilus_trader.model.currencies import BTC, JPY, USD
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, TradingState
from nautilus_trader.model.identifiers import TraderId, Venue
from nautilus_trader.model.objects import Money
from pnl import fills_of

from nautilus_riskwatch import RiskWatch, RiskWatchConfig
from nautilus_riskwatch.core import DrawdownBreached, TrailingDrawdownBreached, read_event_log

GBP_BARS, JPY_BARS = 6_000, 2_600  # 2012-02-01 to 02-06 (GBP/USD), 02-03 to 02-06 (USD/JPY)
BTC_BAR_COUNT = 7_200  # five days of minutes
START_USD = 1_000_000


class BarOrder(Actor):
    """A bystander: the order the engine delivers bars in (bar type, ts), as the watch sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, int]] = []

    def on_start(self) -> None:
        self.msgbus.subscribe(topic="data.bars.*", handler=self._bar)

    def _bar(self, bar: Bar) -> None:
        self.seen.append((str(bar.bar_type), bar.ts_init))


def _engine(venue: str, balances: list[Money], base=None) -> BacktestEngine:
    engine = BacktestEngine(
        BacktestEngineConfig(trader_id=TraderId("FX-001"), logging=LoggingConfig(log_level="ERROR"))
    )
    engine.add_venue(
        venue=Venue(venue),
        oms_type=OmsType.HEDGING,
        account_type=AccountType.MARGIN,
        base_currency=base,
        starting_balances=balances,
    )
    return engine


def _run(engine: BacktestEngine, config: RiskWatchConfig, traders: list[OneShotConfig]):
    order = BarOrder()
    engine.add_actor(order)
    watch = RiskWatch(config)
    engine.add_actor(watch)
    for trader in traders:
        engine.add_strategy(OneShot(trader))
    engine.run()
    return watch, order


# --- a USD book trading GBP/USD (PnL in USD) and USD/JPY (PnL in JPY) ------------------------


def _fx_book(config: RiskWatchConfig):
    engine = _engine("SIM", [Money(START_USD, USD)], base=USD)
    for pair in ("GBP/USD", "USD/JPY"):
        engine.add_instrument(fx_pair(pair))
    for side in ("BID", "ASK"):
        engine.add_data(
            list(gbpusd_bars(BarType.from_str(f"GBP/USD.SIM-1-MINUTE-{side}-EXTERNAL"), GBP_BARS))
        )
        engine.add_data(
            list(usdjpy_bars(BarType.from_str(f"USD/JPY.SIM-1-MINUTE-{side}-EXTERNAL"), JPY_BARS))
        )
    traders = [
        OneShotConfig(
            instrument_id=f"{pair}.SIM",
            bar_type=f"{pair}.SIM-1-MINUTE-BID-EXTERNAL",
            side=side,
            quantity="1000000",
            skip=1,
            order_id_tag=tag,
        )
        for pair, side, tag in (("GBP/USD", "BUY", "001"), ("USD/JPY", "SELL", "002"))
    ]
    watch, order = _run(engine, config, traders)
    return engine, watch, order


def _fx_curve(engine, order: BarOrder):
    """(ts, USD PnL rounded down to the cent) after every bar, brute force in Fractions."""
    closes = {
        "GBP/USD.SIM": {side: raw_closes(path) for side, path in GBPUSD_BARS_CSV.items()},
        "USD/JPY.SIM": {
            side: raw_closes(path, USDJPY_SHIFT_NS) for side, path in USDJPY_BARS_CSV.items()
        },
    }
    settles = {"GBP/USD.SIM": "USD", "USD/JPY.SIM": "JPY"}
    fills = fills_of(engine.cache)
    cash = {"USD": Fraction(0), "JPY": Fraction(0)}
    qty: dict[str, Fraction] = {}
    last: dict[tuple[str, str], Fraction] = {}
    booked = 0
    for bar_type, ts in order.seen:
        instrument, side = bar_type.split("-1-MINUTE-")[0], bar_type.split("-")[-2]
        last[(instrument, side)] = Fraction(closes[instrument][side][ts])
        while booked < len(fills) and fills[booked].ts_event <= ts:
            fill = fills[booked]
            signed = Fraction(fill.last_qty.as_decimal()) * (
                1 if fill.order_side == OrderSide.BUY else -1
            )
            cash[settles[str(fill.instrument_id)]] -= signed * Fraction(fill.last_px.as_decimal())
            cash[fill.commission.currency.code] -= Fraction(fill.commission.as_decimal())
            qty[str(fill.instrument_id)] = qty.get(str(fill.instrument_id), 0) + signed
            booked += 1
        if not qty:
            continue
        figures = dict(cash)
        for held, q in qty.items():
            own, other = ("BID", "ASK") if q > 0 else ("ASK", "BID")
            price = last.get((held, own), last.get((held, other)))
            figures[settles[held]] += q * price
        bid, ask = last.get(("USD/JPY.SIM", "BID")), last.get(("USD/JPY.SIM", "ASK"))
        usd = figures["USD"]
        if figures["JPY"]:
            rate = 1 / ((bid + ask) / 2)  # JPY -> USD: the inverted mid of USD/JPY
            usd += Fraction(floor(figures["JPY"] * rate * 100), 100)
        yield ts, usd


def _first_fx_breach(engine, order, ceiling: Decimal):
    for ts, pnl in _fx_curve(engine, order):
        if -pnl >= ceiling:
            return ts, Decimal(-pnl.numerator) / Decimal(pnl.denominator)
    return None


def _ended_flat(engine, record) -> None:
    cache = engine.cache
    assert cache.positions_open() == [] and cache.orders_open() == []
    assert engine.kernel.risk_engine.trading_state == TradingState.HALTED
    late = [
        f
        for o in cache.orders()
        for f in o.events
        if type(f).__name__ == "OrderFilled" and f.ts_event >= record.tripped_at_ns
    ]
    assert late and all("RISKWATCH" in (cache.order(f.client_order_id).tags or []) for f in late)
    assert record.complete


def test_a_usd_book_trading_usd_jpy_trips_where_the_jpy_loss_converted_reaches_the_ceiling():
    engine, watch, order = _fx_book(RiskWatchConfig(max_loss="9000 USD"))
    record = watch.record
    assert isinstance(record.cause, DrawdownBreached)
    expected = _first_fx_breach(engine, order, Decimal(9000))
    assert expected is not None
    assert (record.tripped_at_ns, record.cause.loss) == expected
    # the record says how: both currencies, the rate, its pair and its time
    assert set(record.pnl_by_currency) == {"USD", "JPY"}
    (rate,) = record.rates
    assert "JPY->USD" in rate and "1/mid USD/JPY.SIM" in rate
    # the rate's prices are the raw USD/JPY closes of the minute it names, before the trip
    found = re.search(r"bid ([0-9.]+) ask ([0-9.]+), BID/ASK bars\) at ([0-9]+) ns", rate)
    bid, ask, at = found[1], found[2], int(found[3])
    assert at <= record.tripped_at_ns
    assert bid == raw_closes(USDJPY_BARS_CSV["BID"], USDJPY_SHIFT_NS)[at]
    assert ask == raw_closes(USDJPY_BARS_CSV["ASK"], USDJPY_SHIFT_NS)[at]
    _ended_flat(engine, record)


def test_a_percent_max_loss_is_its_share_of_the_starting_balance():
    # 0.9 % of the account's 1,000,000 USD: 9,000 USD, set when the watch arms (at start)
    engine, watch, order = _fx_book(RiskWatchConfig(max_loss="0.9%"))
    record = watch.record
    ceiling = Fraction(9, 10) * START_USD / 100
    expected = _first_fx_breach(engine, order, Decimal(ceiling.numerator))
    assert expected is not None and ceiling.denominator == 1
    assert record.cause.ceiling == Decimal(ceiling.numerator)
    assert (record.tripped_at_ns, record.cause.loss) == expected
    base = record.limit_bases["max_loss (portfolio)"]
    assert base.startswith(f"0.9% of the equity {START_USD}.00 USD (SIM: {START_USD}")
    assert base.endswith("= 9000.00 USD")
    _ended_flat(engine, record)


# --- an inverse perpetual: BTC/USD, contracts of 10 USD, PnL in BTC --------------------------


def _inverse_run(config: RiskWatchConfig, sides=("LAST",), balances=None):
    """One long of 100,000 contracts (1,000,000 USD) from the recorded BTC bars; with
    ``sides=("BID", "ASK")`` the same recorded bars are fed as both BID and ASK bars (a
    zero spread, said here), so that NautilusTrader's quote table prices BTC in USD."""
    perp = btc_inverse(multiplier=10)
    engine = _engine("BITMEX", balances or [Money(100, BTC)])
    engine.add_instrument(perp)
    for side in sides:
        engine.add_data(
            list(btc_bars(BarType.from_str(f"{perp.id}-1-MINUTE-{side}-EXTERNAL"), BTC_BAR_COUNT))
        )
    trader = OneShotConfig(
        instrument_id=str(perp.id),
        bar_type=f"{perp.id}-1-MINUTE-{sides[0]}-EXTERNAL",
        side="BUY",
        quantity="100000.000",
        skip=len(sides) - 1,
    )
    watch, order = _run(engine, config, [trader])
    return engine, watch, order, perp


def _btc_curve(engine, order, perp):
    """(ts, exact BTC PnL, BTC->USD mid) after every bar: inverse cash flows +q*m/px per
    fill, the long worth -q*m/close, commissions in BTC. The mid is NautilusTrader's quote
    table's: the latest BID bar's close and the latest ASK bar's (so, between the two bars
    of a minute, the new bid with the old ask); ``None`` without both."""
    closes = raw_closes(BTC_BARS_CSV)
    fills = fills_of(engine.cache)
    m = Fraction(perp.multiplier.as_decimal())
    cash, q, booked = Fraction(0), Fraction(0), 0
    last: dict[str, Fraction] = {}
    for bar_type, ts in order.seen:
        last[bar_type.split("-")[-2]] = Fraction(closes[ts])
        while booked < len(fills) and fills[booked].ts_event <= ts:
            fill = fills[booked]
            signed = Fraction(fill.last_qty.as_decimal()) * (
                1 if fill.order_side == OrderSide.BUY else -1
            )
            assert fill.commission.currency.code == "BTC"
            cash += signed * m / Fraction(fill.last_px.as_decimal())
            cash -= Fraction(fill.commission.as_decimal())
            q += signed
            booked += 1
        if q:
            mark = last.get("BID", last.get("LAST"))  # a long is marked at the bid
            mid = (last["BID"] + last["ASK"]) / 2 if "BID" in last and "ASK" in last else None
            yield ts, cash - q * m / mark, mid


def test_an_inverse_perpetual_trips_on_its_exact_btc_loss_rounded_toward_the_trip():
    engine, watch, order, perp = _inverse_run(RiskWatchConfig(max_loss="1 BTC"))
    record = watch.record
    assert isinstance(record.cause, DrawdownBreached)
    expected = None
    for ts, pnl, _ in _btc_curve(engine, order, perp):
        loss_up = Fraction(ceil(-pnl * 10**8), 10**8)  # BTC precision 8, a loss rounded up
        if loss_up >= 1:
            expected = (ts, Decimal(loss_up.numerator) / Decimal(loss_up.denominator))
            break
    assert expected is not None
    assert (record.tripped_at_ns, record.cause.loss) == expected
    assert "/" in record.pnl_by_currency["BTC"]  # a true rational: 1/price
    _ended_flat(engine, record)


def test_an_inverse_perpetual_under_a_usd_ceiling_is_converted_at_its_own_mid():
    engine, watch, order, perp = _inverse_run(
        RiskWatchConfig(max_loss="40000 USD"), sides=("BID", "ASK")
    )
    record = watch.record
    assert isinstance(record.cause, DrawdownBreached)
    expected = None
    for ts, pnl, mid in _btc_curve(engine, order, perp):
        usd_low = Fraction(floor(pnl * mid * 100), 100)  # BTC->USD at the mid, down
        if -usd_low >= 40000:
            expected = (ts, Decimal(-usd_low.numerator) / Decimal(usd_low.denominator))
            break
    assert expected is not None
    assert (record.tripped_at_ns, record.cause.loss) == expected
    assert any("BTC->USD" in rate and "mid BTC/USD.BITMEX" in rate for rate in record.rates)
    _ended_flat(engine, record)


def test_a_percent_trailing_limit_on_the_inverse_perpetual_follows_the_rounded_bounds():
    # 0.5 % of the 100 BTC account: 0.5 BTC below the high-water mark. The mark is taken
    # from the PnL rounded up, the figure judged rounded down (both toward the trip).
    engine, watch, order, perp = _inverse_run(
        RiskWatchConfig(limits=[{"trailing": "0.5%"}], currency="BTC")
    )
    record = watch.record
    assert isinstance(record.cause, TrailingDrawdownBreached)
    assert record.cause.ceiling == Decimal("0.5")
    scale = 10**8
    high_water, expected = Fraction(0), None
    for ts, pnl, _ in _btc_curve(engine, order, perp):
        low, high = Fraction(floor(pnl * scale), scale), Fraction(ceil(pnl * scale), scale)
        high_water = max(high_water, high)
        if high_water - low >= Fraction(1, 2):
            expected = (ts, high_water - low, high_water)
            break
    assert expected is not None and expected[2] > 0  # it made money first
    got = record.cause
    assert (record.tripped_at_ns, Fraction(got.drawdown), Fraction(got.high_water)) == expected
    _ended_flat(engine, record)


def test_a_percent_limit_whose_equity_has_a_balance_with_no_rate_cannot_arm_and_trips():
    # A multi-currency account holding JPY, and no USD/JPY price before the first bar: the
    # equity at start cannot be measured in USD, so the limit is not armed on a guess; the
    # watch trips at start, naming the currency, before anything trades.
    engine = _engine("SIM", [Money(START_USD, USD), Money(50_000_000, JPY)])
    for pair in ("GBP/USD", "USD/JPY"):
        engine.add_instrument(fx_pair(pair))
    for side in ("BID", "ASK"):
        bar_type = BarType.from_str(f"USD/JPY.SIM-1-MINUTE-{side}-EXTERNAL")
        engine.add_data(list(usdjpy_bars(bar_type, 30)))
    trader = OneShotConfig(
        instrument_id="USD/JPY.SIM",
        bar_type="USD/JPY.SIM-1-MINUTE-BID-EXTERNAL",
        side="SELL",
        quantity="1000000",
        skip=1,
    )
    watch, _ = _run(engine, RiskWatchConfig(max_loss="1%", currency="USD"), [trader])
    record = watch.record
    first_bar = usdjpy_bars(BarType.from_str("USD/JPY.SIM-1-MINUTE-BID-EXTERNAL"), 30)[0]
    assert record.tripped_at_ns <= first_bar.ts_init
    assert "no JPY->USD rate" in str(record.cause)
    assert "no JPY->USD rate" in record.limit_bases["max_loss (portfolio)"]
    orders = engine.cache.orders()
    assert orders and all(o.status.name == "DENIED" for o in orders)  # the trader's one order
    assert engine.cache.positions() == []


def test_an_event_log_of_a_book_in_two_currencies_notes_each_fill_and_trips_the_same(tmp_path):
    """A fill's line carries the guard's PnL: converted into the ceiling currency (a book
    in USD and JPY has no one figure without it), so writing it never fails the watch."""
    path = tmp_path / "events.jsonl"
    engine, watch, order = _fx_book(RiskWatchConfig(max_loss="9000 USD", event_log=str(path)))
    record = watch.record
    assert isinstance(record.cause, DrawdownBreached)  # not a WatchFailure of the log line
    assert (record.tripped_at_ns, record.cause.loss) == _first_fx_breach(
        engine, order, Decimal(9000)
    )
    fills = [e for e in read_event_log(path).events if e.kind == "fill"]
    assert len(fills) >= 2 and all("pnl" in e.fields for e in fills)
    _ended_flat(engine, record)
