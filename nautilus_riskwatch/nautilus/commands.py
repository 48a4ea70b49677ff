"""Operator commands on the message bus: pull the switch, or re-arm it.

Send them to the watch's endpoint, ``command_endpoint(actor_id)`` (``"RiskWatch.execute"``
for the default actor id), with ``msgbus.send``. Each names who sends it and why, so that
the record is attributable.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from nautilus_riskwatch.core.record import PORTFOLIO, RiskOff, scope_spelled
from nautilus_riskwatch.errors import RiskWatchError


def risk_off_topic(actor_id: object) -> str:
    """The message-bus topic a watch publishes its ``RiskOff`` record on."""
    return f"events.riskwatch.{actor_id}"


def next_record(msgbus: Any, actor_id: object) -> asyncio.Future[RiskOff]:
    """A future that the watch's next published ``RiskOff`` resolves (on a live node).

    The record is published when a cascade ends: wait on this instead of polling the
    watch, as any other component of the node would (``await asyncio.wait_for(...)``).
    Must be called on the node's event loop.
    """
    published: asyncio.Future[RiskOff] = asyncio.get_running_loop().create_future()
    topic = risk_off_topic(actor_id)

    def on_record(record: object) -> None:
        if isinstance(record, RiskOff) and not published.done():
            published.set_result(record)
            msgbus.unsubscribe(topic=topic, handler=on_record)

    msgbus.subscribe(topic=topic, handler=on_record)
    return published


def command_endpoint(actor_id: object) -> str:
    """The message-bus endpoint a watch registers for its commands."""
    return f"{actor_id}.execute"


@dataclass(frozen=True)
class KillCommand:
    """Trip the watch now (a ``ManualKill``)."""

    reason: str
    who: str = ""


@dataclass(frozen=True)
class RearmCommand:
    """Re-arm a tripped watch (refusals are logged and published as ``RearmRefused``).

    ``scope`` is ``"portfolio"`` (the whole book) or a scoped limit's scope, e.g.
    ``"strategy DemoTrader-001"``. (``"trader"``, the whole book's old name, is read as
    ``"portfolio"``, with a ``DeprecationWarning``.)
    """

    reason: str = ""
    who: str = ""
    scope: str = PORTFOLIO

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", scope_spelled(self.scope))


class RearmRefused(RiskWatchError):
    """A re-arm the watch would not do, and why."""
