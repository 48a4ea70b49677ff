"""The kill switch on its worst day: venue faults, races, failures inside the watch.

Each test shows the outcome in a real BacktestEngine run: the book ends flat (but the
hedge), or the record says exactly what could not be done; nothing raises into the engine.
"""

from __future__ import annotations

from decimal import Decimal

import nautilus_trader
import pytest
from nautilus_trader.backtest.models import LatencyModel
from nautilus_trader.model.enums import OrderSide, OrderStatus, TimeInForce
from nautilus_trader.model.instruments import CurrencyPair
from nautilus_trader.model.objects import Price, Quantity
from pnl import fills_of, first_breach
from venue import Venue, is_cancel, is_watch_close

import nautilus_riskwatch.nautilus.router as router_module
import nautilus_riskwatch.nautilus.session as session_module
from nautilus_riskwatch import (
    DrawdownBreached,
    ManualKill,
    NoExchangeRate,
    RiskWatchConfig,
    StalenessError,
    WatchFailure,
)
from nautilus_riskwatch.demo import (
    DemoTrader,
    DemoTraderConfig,
    build_engine,
    eurusd_instrument,
    eurusd_quotes,
)
from nautilus_riskwatch.demo.engine import HEDGER_ID, TRADER_ID
from nautilus_riskwatch.nautilus.book import NautilusBook

SECOND = 1_000_000_000
NT_VERSION = tuple(int(p) for p in nautilus_trader.__version__.split(".")[:2])
TRIP = 1_577_909_935_019_000_000  # the demo's drawdown trip, 20:18:55.019 UTC
WATCH = {
    "feeds": [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}],
    "max_loss": "1000 USD",
    "hedge_tags": ["HEDGE"],
    "confirm_timeout": 5.0,
    "confirm_attempts": 3,
}


def _trader_book(engine):
    cache = engine.cache
    orders = sorted(
        o.client_order_id.value for o in cache.orders_open() if str(o.strategy_id) == TRADER_ID
    )
    positions = sorted(
        p.id.value for p in cache.positions_open() if str(p.strategy_id) == TRADER_ID
    )
    return orders, positions


def _coid(value: str):
    from nautilus_trader.model.identifiers import ClientOrderId

    return ClientOrderId(value)


def _hedge_intact(engine) -> bool:
    cache = engine.cache
    return [str(o.strategy_id) for o in cache.orders_open() if str(o.strategy_id) == HEDGER_ID] == [
        HEDGER_ID
    ] and [
        str(p.strategy_id) for p in cache.positions_open() if str(p.strategy_id) == HEDGER_ID
    ] == [HEDGER_ID]


def test_a_cancel_rejected_every_time_is_retried_then_recorded_and_the_flatten_goes_on():
    run = build_engine(RiskWatchConfig(**WATCH))
    victim: list[str] = []

    def decide(command):
        if is_cancel(command) and str(command.strategy_id) == TRADER_ID:
            if not victim:
                victim.append(command.client_order_id.value)
            if command.client_order_id.value == victim[0]:
                return "reject"
        return "pass"

    venue = Venue(run.engine, decide)
    run.engine.run()
    record = run.watch.record
    assert record.orders_unconfirmed == victim
    assert (
        sum(1 for kind, action, what in venue.seen if what == victim[0] and action == "reject") == 3
    )
    assert record.positions_closed == ["SIM-1-001"] and record.positions_unflattened == []
    assert record.stage == "done" and not record.complete
    # the record matches the book: only the rejected order is left of the trader's
    assert _trader_book(run.engine) == (victim, [])
    assert _hedge_intact(run.engine)


def test_a_silent_venue_is_waited_for_exactly_the_bound_each_attempt_then_recorded():
    run = build_engine(RiskWatchConfig(**WATCH))
    venue = Venue(run.engine, lambda c: "drop" if is_cancel(c) else "pass")
    run.engine.run()
    record = run.watch.record
    assert record.tripped_at_ns == TRIP
    assert len(record.orders_unconfirmed) == 6 and record.orders_cancelled == []
    assert venue.count("CancelOrder", "drop") == 3 * 6  # every order asked three times
    # three bounded waits of 5 s on the engine's clock, then the flatten, confirmed at once,
    # then the read-back once the engine has been quiet for the settle time (1 ms): at the
    # engine's first instant after it (its alert, or the next quote)
    flatten = TRIP + 3 * 5 * SECOND
    if NT_VERSION < (1, 222):
        # 1.221 delays an alert set from inside another alert to the next data point:
        # the third wait ends at the first quote at or after its deadline.
        flatten = min(q.ts_init for q in run.quotes if q.ts_init >= flatten)
    settle = SECOND // 1000
    next_quote = min(q.ts_init for q in run.quotes if q.ts_init >= flatten + settle)
    assert flatten + settle <= record.finished_at_ns <= next_quote
    assert record.positions_closed == ["SIM-1-001"]
    assert _trader_book(run.engine) == (sorted(record.orders_unconfirmed), [])


def test_a_close_denied_once_is_sent_again_and_the_book_ends_flat():
    run = build_engine(RiskWatchConfig(**WATCH))
    denied = []

    def decide(command):
        if is_watch_close(command) and not denied:
            denied.append(command)
            return "reject"
        return "pass"

    venue = Venue(run.engine, decide)
    run.engine.run()
    record = run.watch.record
    assert venue.count("SubmitOrder", "reject") == 1
    assert sum(1 for k, a, _ in venue.seen if k == "SubmitOrder" and a == "pass") >= 1
    assert record.complete
    assert _trader_book(run.engine) == ([], [])
    assert _hedge_intact(run.engine)


def test_a_close_always_denied_is_retried_then_recorded():
    run = build_engine(RiskWatchConfig(**WATCH))
    venue = Venue(run.engine, lambda c: "reject" if is_watch_close(c) else "pass")
    run.engine.run()
    record = run.watch.record
    assert sum(1 for k, a, _ in venue.seen if k == "SubmitOrder" and a == "reject") == 3
    assert record.positions_unflattened == ["SIM-1-001"] and record.positions_closed == []
    assert not record.complete
    assert _trader_book(run.engine) == ([], ["SIM-1-001"])


class _RaceTrader(DemoTrader):
    """Also rests a BUY limit just under the ask before the trip; the market comes down to
    it 2.6 s after the trip, while the watch's cancel is still on its way (3 s latency)."""

    def on_quote_tick(self, tick) -> None:
        if tick.ts_event == TRIP - 439_000_000:  # ask 1.12235 here and at the trip
            self.race_order = self.order_factory.limit(
                self.instrument_id,
                OrderSide.BUY,
                Quantity.from_int(100_000),
                Price.from_str("1.12234"),
                time_in_force=TimeInForce.GTC,
            )
            self.submit_order(self.race_order)


def test_an_order_that_fills_while_its_cancel_is_in_flight_is_flattened_too():
    run = build_engine(
        RiskWatchConfig(**WATCH),
        latency_model=LatencyModel(base_latency_nanos=0, cancel_latency_nanos=3 * SECOND),
    )
    racer = _RaceTrader(
        DemoTraderConfig(instrument_id="EUR/USD.SIM", order_id_tag="003", reorder_every=10**9)
    )
    run.engine.add_strategy(racer)
    run.engine.run()
    record = run.watch.record
    race = run.engine.cache.order(racer.race_order.client_order_id)
    # the watch asked to cancel it at the trip; the venue filled it first (3 s latency)
    assert record.orders_filled == [race.client_order_id.value]
    assert race.status == OrderStatus.FILLED
    assert TRIP < race.ts_last < TRIP + 4 * SECOND
    assert "OrderCanceled" not in [type(e).__name__ for e in race.events]
    raced_position = run.engine.cache.position(race.position_id)
    assert raced_position.id.value in record.positions_closed
    assert raced_position.is_closed
    assert record.complete
    assert [str(p.strategy_id) for p in run.engine.cache.positions_open()] == [HEDGER_ID]


def test_a_second_cause_during_the_cascade_is_recorded_as_suppressed():
    run = build_engine(RiskWatchConfig(**WATCH), latency_ms=1_000)

    from nautilus_trader.common.actor import Actor

    class Operator(Actor):
        def on_start(self) -> None:
            self.subscribe_quote_ticks(eurusd_instrument().id)

        def on_quote_tick(self, tick) -> None:
            record = run.watch.record
            if record is not None and record.stage != "done" and not record.suppressed:
                run.watch.kill("belt and braces", who="ops")

    run.engine.add_actor(Operator())
    seen = []
    run.engine.kernel.msgbus.subscribe(topic="events.riskwatch.*", handler=seen.append)
    run.engine.run()
    record = run.watch.record
    assert isinstance(record.cause, DrawdownBreached)
    assert [type(t) for t in record.suppressed] == [ManualKill]
    assert seen == [record]  # one cascade, one record


@pytest.mark.parametrize("then", ["reset", "dispose"])
def test_stopped_then_reset_or_disposed_mid_cascade(then):
    run = build_engine(RiskWatchConfig(**WATCH), latency_ms=1_000)

    from nautilus_trader.common.actor import Actor

    class Stopper(Actor):
        def on_start(self) -> None:
            self.subscribe_quote_ticks(eurusd_instrument().id)
            self.done = False

        def on_quote_tick(self, tick) -> None:
            record = run.watch.record
            if not self.done and record is not None and record.stage != "done":
                self.done = True
                run.watch.stop()
                getattr(run.watch, then)()

    run.engine.add_actor(Stopper())
    run.engine.run()
    record = run.watch.record
    assert record.hurried and record.stage == "done"
    assert _trader_book(run.engine) == ([], [])
    assert _hedge_intact(run.engine)


def test_a_watch_child_that_raises_is_a_trip(monkeypatch):
    async def broken_watchdog(feed, bound):
        raise RuntimeError("watchdog bug")

    monkeypatch.setattr(router_module, "watchdog", broken_watchdog)
    run = build_engine(RiskWatchConfig(**WATCH))
    run.engine.run()
    record = run.watch.record
    assert isinstance(record.cause, WatchFailure)
    assert "RuntimeError: watchdog bug" in str(record.cause)
    assert record.complete and _trader_book(run.engine) == ([], [])


def test_an_event_publisher_that_raises_is_recorded_not_raised(monkeypatch):
    def broken_publish(self, record):
        raise ConnectionError("bus down")

    monkeypatch.setattr(NautilusBook, "publish", broken_publish)
    run = build_engine(RiskWatchConfig(**WATCH))
    run.engine.run()
    record = run.watch.record
    assert record.errors == ["publishing: ConnectionError: bus down"]
    assert _trader_book(run.engine) == ([], [])


def test_without_a_risk_engine_the_record_names_the_degraded_mode(monkeypatch):
    monkeypatch.setattr(session_module, "find_risk_engine", lambda msgbus: None)
    run = build_engine(RiskWatchConfig(**WATCH))
    run.engine.run()
    record = run.watch.record
    assert record.trading_state == (
        "unchanged: no RiskEngine found (degraded; the order gate is HALTED)"
    )
    assert record.complete  # the book at the trip was taken down
    assert record.positions_closed == ["SIM-1-001"] and len(record.orders_cancelled) == 6
    # the RiskEngine's state could not be set, but the order gate still denies the
    # trader's later orders: nothing of it rests or is held after the trip
    orders, positions = _trader_book(run.engine)
    assert orders == [] and positions == []
    assert run.trader.denied and all(
        "RiskWatch" in d.reason and d.ts_init > record.tripped_at_ns for d in run.trader.denied
    )


def _run_with_an_unconvertible_currency(on_missing_rate: str):
    """A second trader on XAU/GBP, which settles in GBP; the ceiling is in USD and the venue
    has no pair that leads from GBP to USD (EUR/USD and XAU/GBP only). The prices are the
    recorded EUR/USD quotes relabelled: only the currency matters here."""
    xaugbp = CurrencyPair.from_dict(
        {
            **CurrencyPair.to_dict(eurusd_instrument()),
            "id": "XAU/GBP.SIM",
            "raw_symbol": "XAU/GBP",
            "base_currency": "XAU",
            "quote_currency": "GBP",
        }
    )
    quotes = eurusd_quotes(eurusd_instrument()) + eurusd_quotes(xaugbp)
    quotes.sort(key=lambda q: q.ts_init)
    run = build_engine(RiskWatchConfig(**WATCH, on_missing_rate=on_missing_rate), quotes=quotes)
    run.engine.add_instrument(xaugbp)
    run.engine.add_strategy(
        DemoTrader(DemoTraderConfig(instrument_id="XAU/GBP.SIM", order_id_tag="004"))
    )
    run.engine.run()
    return run, xaugbp


def test_a_currency_with_no_exchange_rate_trips_by_default_naming_it():
    # Before issue 13 a fill in another currency was a WatchFailure trip, whatever the rates.
    # Now a currency is converted at the venue's rates, and only one that has none trips
    # (fail closed, the default): at the first fill in it, naming it.
    run, xaugbp = _run_with_an_unconvertible_currency("trip")
    record = run.watch.record
    assert isinstance(record.cause, NoExchangeRate)
    assert (record.cause.currency, record.cause.target) == ("GBP", "USD")
    first_gbp_fill = min(
        e.ts_event
        for o in run.engine.cache.orders(instrument_id=xaugbp.id)
        for e in o.events
        if type(e).__name__ == "OrderFilled"
    )
    assert record.tripped_at_ns == first_gbp_fill
    assert record.unconverted == ["GBP"] and "GBP" in record.pnl_by_currency
    assert record.complete
    open_positions = [str(p.strategy_id) for p in run.engine.cache.positions_open()]
    assert open_positions == [HEDGER_ID]


def test_a_currency_with_no_exchange_rate_is_held_when_told_and_the_usd_loss_still_trips():
    # on_missing_rate="hold": the GBP figure, never converted, counts as zero (warned, and
    # named in the record); the USD book alone trips the ceiling, where a brute force over
    # its own fills and quotes says.
    run, _ = _run_with_an_unconvertible_currency("hold")
    record = run.watch.record
    assert isinstance(record.cause, DrawdownBreached)
    eurusd = [q for q in run.quotes if str(q.instrument_id) == "EUR/USD.SIM"]
    fills = [f for f in fills_of(run.engine.cache) if str(f.instrument_id) == "EUR/USD.SIM"]
    quote, loss = first_breach(fills, eurusd, Decimal(1000))
    assert (record.tripped_at_ns, record.cause.loss) == (quote.ts_init, loss)
    assert record.unconverted == ["GBP"]
    assert record.complete
    assert [str(p.strategy_id) for p in run.engine.cache.positions_open()] == [HEDGER_ID]


def test_a_feed_that_never_delivers_its_first_message_trips_one_bound_after_start():
    config = {
        **WATCH,
        "feeds": [
            WATCH["feeds"][0],
            {"instrument_id": "EUR/USD.SIM", "kind": "trade", "stale_after": 30.0},
        ],
    }
    run = build_engine(RiskWatchConfig(**config))
    run.engine.run()
    record = run.watch.record
    assert isinstance(record.cause, StalenessError)
    assert record.cause.source == "EUR/USD.SIM trades"
    assert record.tripped_at_ns == run.quotes[0].ts_init + 30 * SECOND


def test_an_order_partly_filled_before_its_cancel_lands_is_flattened_and_the_rest_cancelled():
    # From 2 s after the trip the book is thin (400,000 a side): the racer's 1,000,000 BUY
    # limit fills 400,000 at +2.592 s and 400,000 at +2.744 s; the cancel (2.6 s on its
    # way) lands then, and the last 200,000 are cancelled.
    from nautilus_trader.model.data import QuoteTick

    def size(q):
        return Quantity.from_int(400_000 if q.ts_init >= TRIP + 2 * SECOND else 1_000_000)

    quotes = [
        QuoteTick(
            q.instrument_id, q.bid_price, q.ask_price, size(q), size(q), q.ts_event, q.ts_init
        )
        for q in eurusd_quotes()
    ]

    class BigRacer(_RaceTrader):
        def on_quote_tick(self, tick) -> None:
            if tick.ts_event == TRIP - 439_000_000:
                self.race_order = self.order_factory.limit(
                    self.instrument_id,
                    OrderSide.BUY,
                    Quantity.from_int(1_000_000),
                    Price.from_str("1.12234"),
                    time_in_force=TimeInForce.GTC,
                )
                self.submit_order(self.race_order)

    run = build_engine(
        RiskWatchConfig(**WATCH),
        quotes=quotes,
        latency_model=LatencyModel(base_latency_nanos=0, cancel_latency_nanos=2_600_000_000),
    )
    racer = BigRacer(
        DemoTraderConfig(instrument_id="EUR/USD.SIM", order_id_tag="003", reorder_every=10**9)
    )
    run.engine.add_strategy(racer)
    run.engine.run()
    record = run.watch.record
    race = run.engine.cache.order(racer.race_order.client_order_id)
    assert race.status == OrderStatus.CANCELED
    assert race.filled_qty == Quantity.from_int(800_000)  # two partial fills, then the cancel
    assert race.client_order_id.value in record.orders_cancelled
    partial = run.engine.cache.position(race.position_id)
    assert partial.id.value in record.positions_closed and partial.is_closed
    assert record.complete
    assert [str(p.strategy_id) for p in run.engine.cache.positions_open()] == [HEDGER_ID]
