"""Operator commands on the message bus: pull the switch, or re-arm it.

Send them to the watch's endpoint, ``command_endpoint(actor_id)`` (``"RiskWatch.execute"``
for the default actor id), with ``msgbus.send``. Each names who sends it and why, so that
the record is attributable.
"""

from __future__ import annotations

from dataclasses import dataclass


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

    ``scope`` is ``"trader"`` (the whole book) or a scoped limit's name, e.g.
    ``"strategy DemoTrader-001"``.
    """

    reason: str = ""
    who: str = ""
    scope: str = "trader"


class RearmRefused(Exception):
    """A re-arm the watch would not do, and why."""
