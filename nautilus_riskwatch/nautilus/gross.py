"""``GrossWeight``: a gross-capped guard's gross exposure, and when a mark can skip it.

Apart from the guard because only a guard with a gross cap (``max_gross_exposure``) has
it, and it is a figure of its own: the sum over held instruments of |net| x mark x
multiplier, a long at the bid, a short at the ask, in the ceiling currency (the ledger's
exact figure while everything is in that currency, else valued at the rates, rounded up:
toward the trip). To keep the hot path cheap, the gross is also kept as integers in the
ledger's money units, one part per instrument, summed: a mark that stays inside the
PnL's quiet band is skipped only if the sum with that instrument's new part stays below
the gross breaker's band (``quiet``). The guard's ``remark`` for such a guard reads these
fields directly (no call per quote); a guard without a gross cap has none of this.
"""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.model.identifiers import InstrumentId

from nautilus_riskwatch.core.convert import Converter
from nautilus_riskwatch.core.ledger import PnlLedger, to_raw
from nautilus_riskwatch.core.limits import Quiet
from nautilus_riskwatch.nautilus.valuing import Valuing


class GrossWeight:
    """The gross of ``ledger`` in the ceiling currency, and its integer parts and band."""

    def __init__(self, ledger: PnlLedger, valuing: Valuing | None) -> None:
        self._ledger = ledger
        #: The gross exposure's own converter (a converter remembers its figures by currency).
        self._converter = (
            None if valuing is None else Converter(valuing.currency, valuing.quantum, valuing.rate)
        )
        #: A gross below this (money units) cannot trip: the gross breaker's band; ``0``:
        #: every gross matters. Its parts per instrument since the figures were last put,
        #: and their sum (``None``: not all in plain units, no mark skipped on its account).
        self.quiet: int | float = 0
        self.parts: dict[InstrumentId, int] = {}
        self.sum: int | None = None

    def figure(self) -> Decimal:
        """The gross exposure now, in the ceiling currency: the ledger's exact figure while
        it is all in that currency, else valued at the rates, rounded up (toward the trip)."""
        figures = self._ledger.gross_by_currency()
        converter = self._converter
        if converter is None:
            raise ValueError("a gross cap needs the ceiling currency and its rates")
        if not figures:
            return Decimal(0)
        figure = figures.get(converter.currency) if len(figures) == 1 else None
        if isinstance(figure, Decimal):
            return figure  # exact: one currency, linear instruments
        # a plain Decimal: the record's valuation stays the PnL's (``Guard._at_latch``)
        return converter.value(figures).high

    def recount(self, converting: bool) -> None:
        """The figures were put: each held instrument's gross in money units, and their sum
        (``None`` while ``converting`` or any part is not in the plain units)."""
        self.parts, self.sum = {}, None
        if converting:
            return
        ledger = self._ledger
        parts: dict[InstrumentId, int] = {}
        for instrument in ledger.instruments:
            part = ledger.gross_raw(instrument)
            if part is None:
                return
            parts[instrument] = part
        self.parts, self.sum = parts, sum(parts.values())

    def told(self, band: Quiet | None) -> None:
        """The gross breaker's band: a gross below its ``high`` (in money units) cannot trip."""
        self.quiet = 0
        if band is None or band.high is None:
            return
        try:
            self.quiet = to_raw(band.high, self._ledger.money_places)
        except ValueError:  # a cap finer than the ledger's units: every gross is put
            return
