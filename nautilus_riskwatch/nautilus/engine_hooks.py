"""Every read of NautilusTrader's internals, behind one door.

A kill switch has to reach parts of the engine that NautilusTrader gives no getter for: the
message bus's endpoint table (to stand the order gate in front of every path to a venue),
the objects behind the bus's handlers (to find the ``RiskEngine``, the strategies and the
execution algorithms) and the topic a data subscription was given. Those reads are the
first thing an engine upgrade can break, so they live here and nowhere else: one module to
review on an upgrade, one test per hook (``tests/nautilus/test_engine_hooks.py``) on every
supported version, and one ``probe`` at start that says, in one line, which hook is missing
and what the watch cannot do without it.

Each hook degrades instead of raising: the watch still trips and still cancels and closes
without them; what it loses is named by the probe.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nautilus_trader.execution.algorithm import ExecAlgorithm
from nautilus_trader.model.identifiers import InstrumentId, StrategyId
from nautilus_trader.risk.engine import RiskEngine
from nautilus_trader.trading.strategy import Strategy

#: The endpoint every submission reaches last; it names the endpoint table among the bus's
#: referents.
EXEC_ENGINE = "ExecEngine.execute"

_POSITION_TOPIC = "events.position."

#: Each hook the probe checks, and what the watch cannot do if it is missing.
HOOKS: dict[str, str] = {
    "endpoint table": "emulated and algorithm orders are not gated after a trip "
    "(only the RiskEngine's trading state is)",
    "handler owners": "the RiskEngine, the strategies and the execution algorithms cannot "
    "be found on the bus (no trading state on a trip, no strategy id checks)",
    "bus subscriptions": "quote and trade topics cannot be read back (the watch cannot "
    "route its own feeds)",
}


def endpoint_table(msgbus: Any) -> dict[str, Callable[[Any], None]] | None:
    """The bus's endpoint -> handler table, or ``None`` if it cannot be found.

    NautilusTrader keeps it in a private attribute of a Cython class, so it is found among
    the bus's referents: the one dict that holds the ``ExecEngine``'s endpoint."""
    for referent in gc.get_referents(msgbus):
        if isinstance(referent, dict) and EXEC_ENGINE in referent:
            return referent
    return None


def owner_of(handler: Any) -> object | None:
    """The object a bus handler is a bound method of (``None``: a plain function)."""
    return getattr(handler, "__self__", None)


def is_exec_algorithm(handler: Any) -> bool:
    """The handler is an execution algorithm's own (its ``<id>.execute`` endpoint)."""
    return isinstance(owner_of(handler), ExecAlgorithm)


def find_risk_engine(msgbus: Any) -> RiskEngine | None:
    """The ``RiskEngine`` behind one of the bus's subscriptions (``None``: not found)."""
    for subscription in msgbus.subscriptions():
        owner = owner_of(subscription.handler)
        if isinstance(owner, RiskEngine):
            return owner
    return None


def registered_strategies(msgbus: Any) -> set[StrategyId]:
    """The strategies registered with the engine's trader now.

    Each registers its handler for ``events.position.<strategy id>`` when it is added to the
    trader (NautilusTrader 1.221 and 1.231 alike), before any actor starts; an actor has no
    reference to the trader itself."""
    found: set[StrategyId] = set()
    for subscription in msgbus.subscriptions(f"{_POSITION_TOPIC}*"):
        owner = owner_of(subscription.handler)
        if isinstance(owner, Strategy):
            found.add(owner.id)
    return found


def subscribed_topic(
    msgbus: Any, handler: Callable[[Any], None], kind: str, instrument_id: InstrumentId
) -> str:
    """The topic ``handler`` was just subscribed to for ``instrument_id``'s ``kind``
    (``"quotes"`` or ``"trades"``): each spelling NautilusTrader has used, checked on the
    bus; else every subscription of the handler searched."""
    venue, symbol = instrument_id.venue, instrument_id.symbol
    for topic in (f"data.{kind}.{venue}.{symbol}", f"data.{kind}.{venue}.{symbol.topic()}"):
        if msgbus.is_subscribed(topic, handler):
            return topic
    for subscription in msgbus.subscriptions(f"data.{kind}.*"):
        if subscription.handler == handler and str(symbol) in subscription.topic:
            return str(subscription.topic)
    raise RuntimeError(f"no {kind} topic found on the message bus for {instrument_id}")


@dataclass(frozen=True)
class HookStatus:
    """What the start-time probe found: the hooks missing on this NautilusTrader version."""

    missing: tuple[str, ...] = ()

    @property
    def degraded(self) -> bool:
        """Some hook is missing: the watch runs, without what that hook gives it."""
        return bool(self.missing)

    def describe(self) -> str:
        """One line: every missing hook and what the watch cannot do without it."""
        if not self.missing:
            return "engine hooks: all present"
        lost = "; ".join(f"{name}: {HOOKS[name]}" for name in self.missing)
        return f"engine hooks missing on this NautilusTrader version (degraded): {lost}"


def probe(msgbus: Any) -> HookStatus:
    """Check every hook against this engine's message bus, once at start."""
    missing: list[str] = []
    if endpoint_table(msgbus) is None:
        missing.append("endpoint table")
    try:
        owners = any(owner_of(s.handler) is not None for s in msgbus.subscriptions())
    except Exception:
        owners = False
    if not owners:
        missing.append("handler owners")
    if not all(
        callable(getattr(msgbus, name, None)) for name in ("is_subscribed", "subscriptions")
    ):
        missing.append("bus subscriptions")
    return HookStatus(tuple(missing))
