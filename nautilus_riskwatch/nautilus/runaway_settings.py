"""The runaway guards' settings: read from the top level and from each scoped limit entry.

Apart from ``settings.py`` as the firm's are (``firm_settings.py``): one idea, the runaway
guards' fields (``runaway_guards.RUNAWAY_FIELDS``), read with the same readers
(``parse``) and refused the same way, each refusal naming its field and value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nautilus_riskwatch.core.rates import BadRate
from nautilus_riskwatch.errors import RiskWatchConfigError
from nautilus_riskwatch.nautilus import parse
from nautilus_riskwatch.nautilus.config_entries import LossLimit
from nautilus_riskwatch.nautilus.runaway_guards import (
    GrossCap,
    RunawaySpec,
    ScopedRunaway,
    spec_from,
)

if TYPE_CHECKING:
    from nautilus_riskwatch.nautilus.config import RiskWatchConfig

__all__ = ["runaway_settings"]

#: The most a gross cap in percent may be: a gross exposure may be a multiple of the equity.
MOST_GROSS_PERCENT = 999


def runaway_settings(config: RiskWatchConfig) -> tuple[ScopedRunaway, ...]:
    """The runaway guards of the top level (the portfolio) and of each limit entry that
    sets one (its scope). A scope's runaway guards are in one entry: two would leave it
    unclear which rate holds."""
    found = []
    top = _spec("", config)
    if top:
        found.append(ScopedRunaway(top))
    seen: dict[str, int] = {}
    for i, raw in enumerate(parse.seq("limits", config.limits)):
        field = f"limits[{i}]"
        entry = parse.struct(field, raw, LossLimit)
        spec = _spec(f"{field}.", entry)
        if not spec:
            continue
        strategy, instrument = parse.scope(field, entry.strategy_id, entry.instrument_id)
        scoped = ScopedRunaway(spec, strategy, instrument, i)
        if scoped.scope in seen:
            raise RiskWatchConfigError(
                field,
                scoped.scope,
                f"its scope's runaway guards are already in limits[{seen[scoped.scope]}]: "
                "give a scope's runaway guards in one entry",
            )
        seen[scoped.scope] = i
        found.append(scoped)
    return tuple(found)


def _spec(prefix: str, entry: RiskWatchConfig | LossLimit) -> RunawaySpec:
    """One entry's runaway guards; a bad rate or cap refused naming its field."""
    field = f"{prefix}max_gross_exposure"
    amount, currency, percent = parse.money(
        field, entry.max_gross_exposure, most=MOST_GROSS_PERCENT
    )
    gross = None
    if amount is not None or percent is not None:
        gross = GrossCap(amount, currency or "", percent)
    try:
        return spec_from(prefix, entry, gross)
    except BadRate as error:
        raise RiskWatchConfigError(error.field or prefix, error.value, str(error)) from None
