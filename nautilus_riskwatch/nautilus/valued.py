"""``ValuedLedger``: a guard's ledger as its limits judge it, in the ceiling currency.

Apart from the guard because valuing is one rule with three readers (the limits' figures,
the event log's PnL, the operator's and the firm's loss): while everything the ledger
holds settles in the ceiling currency (linear instruments) the figure is the ledger's
exact ``Decimal``, as cheap as ever; once another currency (or an inverse instrument) is
booked, it is the per-currency figures valued at the rates (``core.convert``), rounded
toward the trip, carrying how it was made for the record. A held currency with no rate
is warned about once, and with ``on_missing_rate="trip"`` put on the guard's
exchange-rate feed, which trips it.
"""

from __future__ import annotations

from decimal import Decimal

from nautilus_riskwatch.core import Feed, NoExchangeRate, Trip
from nautilus_riskwatch.core.convert import Converter, Valuation, bounded
from nautilus_riskwatch.core.ledger import PnlLedger
from nautilus_riskwatch.nautilus.settings import MissingRate
from nautilus_riskwatch.nautilus.valuing import Valuing


class ValuedLedger:
    """``ledger`` valued by ``valuing`` (``None``: no ceiling currency, the ledger's own)."""

    def __init__(
        self, ledger: PnlLedger, valuing: Valuing | None, scope: str, no_rate: Feed[Trip]
    ) -> None:
        self.ledger = ledger
        self._valuing = valuing
        self._converter = (
            None if valuing is None else Converter(valuing.currency, valuing.quantum, valuing.rate)
        )
        self._scope = scope
        self._no_rate = no_rate  # the guard's exchange-rate feed (a trip when put)
        self._unrated: set[str] = set()  # held currencies told about while they had no rate
        self.valuation: Valuation | None = None  # the last converted figure's story
        self.high = Decimal(0)  # the last PnL, rounded away from the trip

    @property
    def converting(self) -> bool:
        """True once the ledger holds figures that need converting (rates move them)."""
        converter = self._converter
        return converter is not None and not self.ledger.plain_in(converter.currency)

    @property
    def loss(self) -> Decimal:
        """The loss now, in the ceiling currency (rounded up when converted)."""
        converter = self._converter
        if converter is None or self.ledger.plain_in(converter.currency):
            return self.ledger.loss
        return converter.value(self.ledger.pnl_by_currency()).low.copy_negate()

    def pnl_fields(self) -> dict[str, object]:
        """The PnL for an event-log line: one figure in the ceiling currency where there is
        one (as the limits judge it, rounded toward the trip when converted), else each
        currency's own. Never raises for a book in several currencies: a log line must not
        stop a re-arm or a fill half-way."""
        converter = self._converter
        ledger = self.ledger
        if converter is not None and not ledger.plain_in(converter.currency):
            return {"pnl": converter.value(ledger.pnl_by_currency()).low}
        by_currency = ledger.pnl_by_currency()
        if ledger.plain_in(next(iter(by_currency), "")):
            return {"pnl": ledger.pnl}
        return {"pnl_by_currency": {code: str(pnl) for code, pnl in by_currency.items()}}

    def figures(self) -> tuple[Decimal, Decimal, bool]:
        """The PnL and the loss now, as the limits judge them, and whether they are the
        ledger's exact figures (``False``: converted at the rates)."""
        ledger = self.ledger
        converter = self._converter
        if converter is None or ledger.plain_in(converter.currency):
            pnl = ledger.pnl  # exact: the hot path of a single-currency book
            self.high = pnl
            return pnl, pnl.copy_negate(), True
        valuation = self.valuation = converter.value(ledger.pnl_by_currency())
        if valuation.missing or self._unrated:
            self._rates_missing(valuation)
        # the judged figure rounded toward the trip, the other bound kept beside it
        pnl = bounded(valuation.low, valuation.high, valuation)
        loss = bounded(valuation.low.copy_negate(), valuation.high.copy_negate(), valuation)
        self.high = valuation.high
        return pnl, loss, False

    def _rates_missing(self, valuation: Valuation) -> None:
        """A held currency has no rate: warn once, and trip if told to fail closed."""
        valuing = self._valuing
        assert valuing is not None
        self._unrated &= set(valuation.missing)  # a currency priced again may warn again
        for part in valuation.parts:
            if not part.held or part.currency in self._unrated:
                continue
            self._unrated.add(part.currency)
            held = f"{part.figure} {part.currency}"
            unrated = f"{self._scope}: holding {held} with no {part.currency}->{valuing.currency}"
            if valuing.on_missing_rate is MissingRate.TRIP:
                valuing.warn(f"{unrated} exchange rate: tripping (on_missing_rate='trip')")
                self._no_rate.put(NoExchangeRate(part.currency, valuing.currency, held))
            else:
                valuing.warn(
                    f"{unrated} exchange rate: counted as {part.low}..{part.high} "
                    f"{valuing.currency} (its last converted figure, zero if none; "
                    "on_missing_rate='hold') until a rate arrives"
                )
