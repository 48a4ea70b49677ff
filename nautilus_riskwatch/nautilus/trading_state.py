"""``SetTradingState``: the RiskEngine's trading state a trip set, and the one before it.

Apart from the book because it is the one piece of engine state the watch changes for
everybody (every strategy's orders pass the RiskEngine), so its rule is stated once: a
second halt keeps the state found before the first, and a re-arm puts that state back
only if the engine is still in the state the trip set; if someone changed it since, their
choice stands and the re-arm says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nautilus_trader.model.enums import TradingState


class SetTradingState:
    """The state set on ``risk_engine`` (``None``: not found, the watch runs degraded)."""

    def __init__(self, risk_engine: Any | None) -> None:
        self.risk_engine = risk_engine
        self._before: TradingState | None = None
        self._set: TradingState | None = None

    def holds(self) -> bool:
        """True while the RiskEngine is in the state this trip set."""
        engine, mine = self.risk_engine, self._set
        return engine is not None and mine is not None and engine.trading_state == mine

    def set(self, state: TradingState) -> None:
        """Set ``state``; the state to restore is the one before the first halt."""
        engine = self.risk_engine
        assert engine is not None, "no RiskEngine: the book says so instead"
        if self._set is None or engine.trading_state != self._set:
            self._before = engine.trading_state  # halting twice keeps the first
        self._set = state
        engine.set_trading_state(state)

    def restore(self) -> str:
        """Undo ``set``, but only if the state is still the one set; says what it did."""
        engine, before, mine = self.risk_engine, self._before, self._set
        self._before = self._set = None
        if engine is None or before is None or mine is None:
            return "unchanged (the watch did not set it)"
        if engine.trading_state != mine:
            return f"unchanged: someone set {engine.trading_state.name} since the trip"
        engine.set_trading_state(before)
        return str(before.name)
