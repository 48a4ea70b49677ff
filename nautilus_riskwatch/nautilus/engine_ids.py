"""What the engine knows: the ids a config may name, and a refusal that helps fix a typo.

A kill switch configured for ``"T-01"`` while the strategy is ``"T-001"`` guards nothing and
looks armed. So every id the config names is looked up in the engine at start, and an
unknown one is refused with the field, the value, the ids the engine does know, and the
nearest of them (``difflib``), because the fix is nearly always a typo.

Strategies are found on the message bus: each registers its handler for
``events.position.<strategy id>`` when it is added to the trader (NautilusTrader 1.221 and
1.231 alike), before any actor starts. An actor has no reference to the trader itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from nautilus_trader.model.identifiers import StrategyId
from nautilus_trader.trading.strategy import Strategy

from nautilus_riskwatch.nautilus.config import RiskWatchConfigError

_POSITION_TOPIC = "events.position."


def registered_strategies(msgbus: Any) -> set[StrategyId]:
    """The strategies registered with the engine's trader now."""
    found: set[StrategyId] = set()
    for subscription in msgbus.subscriptions(f"{_POSITION_TOPIC}*"):
        owner = getattr(subscription.handler, "__self__", None)
        if isinstance(owner, Strategy):
            found.add(owner.id)
    return found


def refuse_unknown(field: str, value: object, known: Iterable[object], what: str) -> None:
    """Raise ``RiskWatchConfigError`` for ``value``, naming the known ids and a near match."""
    names = sorted(str(k) for k in known)
    near = difflib.get_close_matches(str(value), names, n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    listed = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "") if names else "none"
    raise RiskWatchConfigError(
        field, str(value), f"the engine has no such {what}{hint} (it has: {listed})"
    )
