"""``Valuing``: how a watch's guards value their figures; ``Ceilings``: each limit's ceiling
for one arming of a guard.

Apart from the guard because a ceiling is not always a number in the config: a percent
limit (``"2%"``) or a percent gross cap is a share of the accounts' equity measured when
the guard arms (again at each re-arm, and at a daily percent limit's new day). That
measure can fail (no equity, a rate missing), and the failure is not raised at arming:
it is kept, and the limit's child raises it, where the supervisor makes it a trip. Each
percent ceiling's base (the equity and the share) is kept for the record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from nautilus_riskwatch.core.convert import Rate, share_of
from nautilus_riskwatch.nautilus.equity import Equity
from nautilus_riskwatch.nautilus.runaway_guards import GrossCap
from nautilus_riskwatch.nautilus.settings import LimitSpec, MissingRate


@dataclass(frozen=True)
class Valuing:
    """How every guard of a watch values its figures: shared, set at start.

    ``currency`` is the ceiling currency, ``quantum`` its precision (what a converted figure
    is rounded to), ``rate(code)`` the current rate into it, ``equity()`` the accounts'
    equity (for percent limits), ``on_missing_rate`` ``"trip"`` or ``"hold"``, ``warn`` the
    actor's logger.
    """

    currency: str
    quantum: Decimal
    rate: Callable[[str], Rate | None]
    equity: Callable[[], Equity]
    on_missing_rate: MissingRate
    warn: Callable[[str], None]


class Ceilings:
    """One guard's ceilings: a limit's amount, or its share of the equity at arming."""

    def __init__(self, valuing: Valuing | None) -> None:
        self._valuing = valuing
        self._measured: dict[LimitSpec | GrossCap, Decimal | Exception] = {}
        self.bases: dict[str, str] = {}  # percent limit -> its base and amount (the record)

    def arm(self, specs: Iterable[LimitSpec | GrossCap]) -> None:
        """Measure each percent ceiling of ``specs`` now, in order (an arming re-bases)."""
        self._measured = {spec: self._percent(spec) for spec in specs if spec.percent is not None}

    def known(self, spec: LimitSpec) -> Decimal | Exception:
        """The limit's ceiling as measured (or the error that stopped the measure)."""
        return self._measured.get(spec, spec.ceiling)

    def of(self, spec: LimitSpec | GrossCap) -> Decimal:
        """The limit's ceiling now: its amount, or its share of the equity at arming;
        raises the error if the equity could not be measured."""
        if spec.percent is None:
            if isinstance(spec, GrossCap):
                assert spec.amount is not None
                return spec.amount
            return spec.ceiling
        ceiling = self._measured[spec]
        if isinstance(ceiling, Exception):
            raise ceiling
        return ceiling

    def rebase(self, spec: LimitSpec) -> Decimal:
        """A daily percent limit's new day: its share of the equity now."""
        self._measured[spec] = self._percent(spec)
        return self.of(spec)

    def _percent(self, spec: LimitSpec | GrossCap) -> Decimal | Exception:
        """``spec.percent`` % of the equity now, rounded down (toward the trip); the error
        if the equity cannot be measured (raised by the limit's child: a trip)."""
        valuing = self._valuing
        assert valuing is not None and spec.percent is not None
        try:
            equity = valuing.equity()
            ceiling = share_of(equity.value, spec.percent, valuing.quantum)
            if not ceiling > 0:
                raise ValueError(
                    f"{spec.percent}% of {equity.describe(valuing.quantum)} rounds to "
                    f"{ceiling} {valuing.currency}: no ceiling to hold"
                )
        except Exception as error:
            self.bases[spec.name] = f"{spec.percent}% of the equity: {error}"
            return error
        self.bases[spec.name] = (
            f"{spec.percent}% of the equity {equity.describe(valuing.quantum)}"
            f" = {ceiling} {valuing.currency}"
        )
        return ceiling
