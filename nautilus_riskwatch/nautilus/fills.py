"""``Fills``: order events to the guards' ledgers.

A fill is booked in every guard that keeps a ledger (``Guard.books``: loss limits, or a
position or gross cap) and covers it (its strategy and instrument), at
the instrument's settlement (how its PnL is booked: currency, multiplier, inverse), and the
position is valued at once at the newest marks, not at the fill price: the first guarded
fill on an instrument sets up its marks and subscribes the watch to its prices (through
the ``PriceRouter``). A capped instrument's net quantity goes to the guard's position
caps after each fill. The fill goes into each guard's event log with its PnL after it; after
a trip, an order rejected goes into the tripped guard's log, and an order denied is counted
in its record (the first few of each strategy written to the log too: ``core.denials``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId

from nautilus_riskwatch.nautilus.checks import settlement_in
from nautilus_riskwatch.nautilus.event_log import answer, fill_fields
from nautilus_riskwatch.nautilus.marks import Marks
from nautilus_riskwatch.nautilus.rates import RateBook
from nautilus_riskwatch.nautilus.router import PriceRouter
from nautilus_riskwatch.nautilus.settings import DataKind
from nautilus_riskwatch.nautilus.settlement import Settlement

if TYPE_CHECKING:
    from nautilus_trader.common.actor import Actor

    from nautilus_riskwatch.nautilus.guard import Guard
    from nautilus_riskwatch.nautilus.settings import Settings


class Fills:
    """Books the engine's fills in the guards' ledgers and notes order answers."""

    def __init__(self, actor: Actor, settings: Settings, router: PriceRouter) -> None:
        self._actor = actor  # its cache and log (there once it is registered)
        self._settings = settings
        self._router = router
        self._guards: Sequence[Guard] = ()
        self._rates: RateBook | None = None
        #: How each instrument's PnL is booked (feeds' instruments checked at start).
        self.settlements: dict[InstrumentId, Settlement] = {}

    def run(self, guards: Sequence[Guard], rates: RateBook | None) -> None:
        """Book into ``guards`` (the portfolio guard first), with ``rates`` told which
        currencies are booked where."""
        self._guards, self._rates = guards, rates

    def book(self, fill: OrderFilled) -> None:
        """Book a fill in every guard that counts it, and hand on their new figures."""
        instrument_id = fill.instrument_id
        guards = [
            guard
            for guard in self._guards
            if guard.books and guard.covers(fill.strategy_id, instrument_id)
        ]
        if not guards:
            return
        settles = self.settlements.get(instrument_id)
        if settles is None:
            settles = self.settlements[instrument_id] = settlement_in(
                self._actor.cache, instrument_id, "a fill"
            )
        fee_currency = fill.commission.currency.code
        rates = self._rates
        if rates is not None:  # where the rates of a currency other than the ceiling's come from
            rates.booked(settles.currency, settles.venue)
            rates.booked(fee_currency, settles.venue)
        marks = self._marks_at_fill(fill)
        raw = (marks.bid, marks.ask) if marks.bid is not None and marks.ask is not None else None
        qty = fill.last_qty.as_decimal()
        marking = self._router.route(instrument_id).guards
        for guard in guards:
            guard.ledger.fill(
                position=fill.position_id or (instrument_id, fill.strategy_id),
                instrument=instrument_id,
                signed_qty=qty if fill.order_side == OrderSide.BUY else qty.copy_negate(),
                price=fill.last_px.as_decimal(),
                multiplier=settles.multiplier,
                commission=fill.commission.as_decimal(),
                currency=settles.currency,
                commission_currency=fee_currency,
                inverse=settles.inverse,
            )
            if raw is not None:  # valued at the fill price until now: at the newest marks
                guard.ledger.mark_raw(instrument_id, *raw)
            if guard not in marking:
                marking.append(guard)
            runaway = guard.runaway
            if runaway is not None and runaway.caps(instrument_id):  # judged fill by fill
                runaway.net(instrument_id, guard.ledger.net_qty(instrument_id))
            guard.put_figures()
            self._note_fill(guard, fill)
        held = [guard.ledger.sides(instrument_id) for guard in marking]
        marks.held_bid = any(longs for longs, _ in held)
        marks.held_ask = any(shorts for _, shorts in held)

    def _note_fill(self, guard: Guard, fill: OrderFilled) -> None:
        """The fill in the guard's event log, with its PnL after it (the picture's points)."""
        if self._settings.event_log is None:  # no event log file: nothing to note
            return
        order = self._actor.cache.order(fill.client_order_id)
        tags = None if order is None else order.tags
        guard.note(
            "fill",
            **fill_fields(fill, self._settings.close_tag, tags),
            **guard.valued.pnl_fields(),
        )

    def note_answer(self, event: Any) -> None:
        """After a trip, an order denied or rejected goes into the tripped guard's log.

        The narrowest tripped guard that covers the order takes it (a scoped limit's block),
        else the portfolio guard if it tripped (HALTED denies everyone). Before any trip such
        answers are the strategies' own business and are not logged here.
        """
        tripped = [s for s in self._guards if s.switch is not None and s.switch.record is not None]
        if not tripped:
            return
        portfolio = self._guards[0]
        guard = next(
            (
                s
                for s in tripped
                if s is not portfolio and s.covers(event.strategy_id, event.instrument_id)
            ),
            tripped[0] if tripped[0] is portfolio else None,
        )
        if guard is None:
            return
        kind, fields = answer(event)
        if kind == "denied":  # a strategy may resubmit all session: counted, a few written
            guard.denied(fields, guard.book.now_ns())
        else:
            guard.note(kind, **fields)

    def _marks_at_fill(self, fill: OrderFilled) -> Marks:
        """The instrument's marks, brought up to the newest prices in the cache.

        The first guarded fill on an instrument subscribes the watch to its quotes and
        trades (those of its ``mark_with`` kinds); bars need no subscription (every bar the
        engine publishes is seen). A strategy may handle a price before the watch does and
        fill on it, so the cache's newest quote, trade and bars are taken here too. If
        nothing prices the instrument yet, the position is valued at its fill price until
        something does: said in a warning now, and in the record of any trip meanwhile.
        """
        instrument_id = fill.instrument_id
        route = self._router.route(instrument_id)
        marks = route.marks
        if marks is None:
            kinds = self._settings.marks_for(instrument_id)
            marks = route.marks = Marks(kinds)
            for kind in kinds:
                if kind is not DataKind.BAR:
                    self._router.subscribe(kind, instrument_id)
        cache = self._actor.cache
        quote = cache.quote_tick(instrument_id)
        if quote is not None:
            marks.quote(quote.bid_price.raw, quote.ask_price.raw, quote.ts_init)
        trade = cache.trade_tick(instrument_id)
        if trade is not None:
            marks.trade(trade.price.raw, trade.ts_init)
        bars = [cache.bar(bar_type) for bar_type in cache.bar_types(instrument_id=instrument_id)]
        for bar in sorted((b for b in bars if b is not None), key=lambda b: b.ts_init):
            marks.bar(bar.bar_type.spec.price_type, bar.close.raw, bar.ts_init)
        unmarked = self._router.unmarked
        if not marks.priced and instrument_id not in unmarked:
            unmarked.add(instrument_id)
            sources = ", ".join(self._settings.marks_for(instrument_id))
            self._actor.log.warning(
                f"{fill.strategy_id} filled on {instrument_id}, which nothing prices yet "
                f"(mark_with: {sources}): its PnL is held at the fill price "
                f"{fill.last_px} until a price arrives"
            )
        return marks

    def seed(self) -> None:
        """Book the fills of positions already open (a live node restarted mid-session).

        Replaying their fills keeps the ledgers exact: a position's average price is a float.
        """
        for position in self._actor.cache.positions_open():
            for event in position.events:
                self.book(event)
