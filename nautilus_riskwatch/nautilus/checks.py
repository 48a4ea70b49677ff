"""Start-time checks against the engine: a config the engine cannot honour is refused.

A kill switch configured for ``"T-01"`` while the strategy is ``"T-001"`` guards nothing and
looks armed. So every id the config names is looked up in the engine at start, and an
unknown one is refused with the field, the value, the ids the engine does know, and the
nearest of them (``difflib``), because the fix is nearly always a typo. An instrument the
ledger cannot book, a ceiling currency the accounts cannot give, a firm switch in a
backtest: refused here too, each naming its field, before anything is armed.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from nautilus_trader.model.identifiers import InstrumentId, StrategyId

from nautilus_riskwatch.errors import RiskWatchConfigError
from nautilus_riskwatch.nautilus.engine_hooks import registered_strategies
from nautilus_riskwatch.nautilus.settings import Settings
from nautilus_riskwatch.nautilus.settlement import Settlement, settlement_of


@dataclass(frozen=True)
class Engine:
    """What the start-time checks found in the engine."""

    #: The strategies registered with the trader when the watch started.
    strategies: set[StrategyId]
    #: How each fed instrument's PnL is booked (when any loss limit counts it).
    settlements: dict[InstrumentId, Settlement]


def refuse_unknown(field: str, value: object, known: Iterable[object], what: str) -> None:
    """Raise ``RiskWatchConfigError`` for ``value``, naming the known ids and a near match."""
    names = sorted(str(k) for k in known)
    near = difflib.get_close_matches(str(value), names, n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    listed = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "") if names else "none"
    raise RiskWatchConfigError(
        field, str(value), f"the engine has no such {what}{hint} (it has: {listed})"
    )


def settlement_in(cache: Any, instrument_id: InstrumentId, what: str) -> Settlement:
    """How the instrument's PnL is booked; ``ValueError`` if the ledger cannot book it."""
    instrument = cache.instrument(instrument_id)
    if instrument is None:
        raise ValueError(f"{what} on {instrument_id}: the engine does not know it")
    return settlement_of(instrument)


def refuse_firm_in_backtest(s: Settings) -> None:
    """The firm switch is for live nodes: a backtest must not touch a shared Redis."""
    firm = s.firm
    if firm is not None:
        raise RiskWatchConfigError(
            "firm",
            firm.firm,
            "the firm switch is for live nodes: a backtest must not touch a shared "
            "Redis (remove `firm` from the backtest's config)",
        )


def ceiling_currency(s: Settings, cache: Any) -> str:
    """The ceiling currency: the configured one, else (every limit in percent) the
    accounts' one base currency; refused if they have none or several."""
    code = s.currency
    if code is not None:
        return code
    bases = {
        a.base_currency.code if a.base_currency is not None else None for a in cache.accounts()
    }
    if len(bases) != 1 or None in bases:
        raise RiskWatchConfigError(
            "currency",
            None,
            "every loss limit is in percent, and the ceiling currency cannot be taken "
            "from the accounts (their base currencies: "
            f"{', '.join(sorted(str(b) for b in bases)) or 'no account'}): "
            "set currency, e.g. 'USD'",
        )
    return str(bases.pop())


def _check_scope(
    where: str,
    strategy_id: StrategyId | None,
    instrument_id: InstrumentId | None,
    s: Settings,
    strategies: Collection[StrategyId],
    instruments: Collection[InstrumentId],
    what: str,
) -> None:
    """A scoped entry's strategy and instrument: known to the engine, and the strategy
    among the guarded ones (else ``what`` would count nothing)."""
    if strategy_id is not None:
        field = f"{where}strategy_id"
        if strategy_id not in strategies:
            refuse_unknown(field, strategy_id, strategies, "strategy")
        if s.strategies is not None and strategy_id not in s.strategies:
            raise RiskWatchConfigError(
                field,
                str(strategy_id),
                f"not among the guarded strategies: {what} would count nothing",
            )
    if instrument_id is not None and instrument_id not in instruments:
        refuse_unknown(f"{where}instrument_id", instrument_id, instruments, "instrument")


def check_against_engine(s: Settings, cache: Any, msgbus: Any) -> Engine:
    """Refuse every id the config names that the engine does not know; return the
    strategies registered with the trader now and each fed instrument's settlement."""
    instruments = {i.id for i in cache.instruments()}
    strategies = registered_strategies(msgbus)
    settlements: dict[InstrumentId, Settlement] = {}
    for field, ids in (
        ("strategies", sorted(s.strategies or (), key=str)),
        ("hedge_strategies", sorted(s.hedge_strategies, key=str)),
    ):
        for i, strategy_id in enumerate(ids):
            if strategy_id not in strategies:
                refuse_unknown(f"{field}[{i}]", strategy_id, strategies, "strategy")
    for limit in s.limits:
        where = f"limits[{limit.index}]."
        scope = (limit.strategy_id, limit.instrument_id)
        _check_scope(where, *scope, s, strategies, instruments, "its limit")
    for scoped in s.runaway:  # a runaway-only entry's scope, and every position cap
        where = "" if scoped.index < 0 else f"limits[{scoped.index}]."
        scope = (scoped.strategy_id, scoped.instrument_id)
        _check_scope(where, *scope, s, strategies, instruments, "its guards")
        for instrument_id in sorted(scoped.spec.positions, key=str):
            if instrument_id not in instruments:
                field = f"{where}max_position"
                refuse_unknown(field, instrument_id, instruments, "instrument")
    for instrument_id in sorted(s.mark_with_by_instrument, key=str):
        if instrument_id not in instruments:
            field = "mark_with_by_instrument"
            refuse_unknown(field, instrument_id, instruments, "instrument")
    for i, spec in enumerate(s.feeds):
        field = f"feeds[{i}].{'bar_type' if spec.bar_type is not None else 'instrument_id'}"
        value = str(spec.bar_type or spec.instrument_id)
        if spec.instrument_id not in instruments:
            if spec.bar_type is not None:
                raise RiskWatchConfigError(
                    field, value, f"the engine has no instrument {spec.instrument_id}"
                )
            refuse_unknown(field, value, instruments, "instrument")
        if s.limits:
            try:
                settlements[spec.instrument_id] = settlement_in(cache, spec.instrument_id, "a feed")
            except ValueError as error:
                raise RiskWatchConfigError(field, value, str(error)) from None
    for i, instrument_id in enumerate(sorted(s.hedge_instruments, key=str)):
        if instrument_id not in instruments:
            refuse_unknown(f"hedge_instruments[{i}]", instrument_id, instruments, "instrument")
    return Engine(strategies, settlements)
