"""Denials after a trip: the first few written one by one, every one counted.

A strategy that does not listen for ``on_order_denied`` (NautilusTrader's own ``EMACross``
is one) resubmits on every bar after the trip, for as long as the node runs: hundreds of
denials a session. One line each would bury the trail (and the node's log) under them. So
each tripped scope writes the first ``LOGGED_DENIALS`` of each strategy as ``denied`` lines
and counts the rest, per strategy, in its ``RiskOff`` (``denied``): how many, the first and
the last. The count goes into the event log as one ``denials`` line per strategy when the
trip ends (a re-arm, a stop, a reset), and with the record whenever it is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: How many denials of each strategy, per trip, are written one by one (the rest counted).
LOGGED_DENIALS = 3


def tally(denied: dict[str, dict[str, int]], strategy_id: str, at_ns: int) -> int:
    """Count one denial of ``strategy_id`` at ``at_ns`` into ``denied`` (a record's);
    return its number (1 for the strategy's first since the trip)."""
    entry = denied.get(strategy_id)
    if entry is None:
        entry = denied[strategy_id] = {"count": 0, "first_ns": at_ns, "last_ns": at_ns}
    entry["count"] += 1
    entry["first_ns"] = min(entry["first_ns"], at_ns)
    entry["last_ns"] = max(entry["last_ns"], at_ns)
    return entry["count"]


def merge(
    denied: dict[str, dict[str, int]], strategy_id: str, count: int, first_ns: int, last_ns: int
) -> None:
    """What a log line says of a strategy's denials, into ``denied`` (a rebuilt record's):
    the highest count seen, the earliest first and the latest last."""
    entry = denied.setdefault(
        strategy_id, {"count": count, "first_ns": first_ns, "last_ns": last_ns}
    )
    entry["count"] = max(entry["count"], count)
    entry["first_ns"] = min(entry["first_ns"], first_ns)
    entry["last_ns"] = max(entry["last_ns"], last_ns)


def summary_fields(strategy_id: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """A strategy's ``denials`` line: its count since the trip, the first and the last."""
    return {
        "strategy_id": strategy_id,
        "count": int(entry["count"]),
        "first_ns": int(entry["first_ns"]),
        "last_ns": int(entry["last_ns"]),
        "logged": min(int(entry["count"]), LOGGED_DENIALS),
    }


def count_denial(
    denied: dict[str, dict[str, int]],
    fields: Mapping[str, Any],
    at_ns: int,
    note: Callable[..., None],
) -> None:
    """One denial after a trip: counted into ``denied`` (the record's), and written as a
    ``denied`` line by ``note`` if it is among its strategy's first ``LOGGED_DENIALS``."""
    number = tally(denied, str(fields["strategy_id"]), at_ns)
    if number > LOGGED_DENIALS:
        return
    more = {"further": "counted"} if number == LOGGED_DENIALS else {}
    note("denied", **fields, count=number, **more)


def write_counts(denied: Mapping[str, Mapping[str, Any]], note: Callable[..., None]) -> None:
    """The trip's count, one ``denials`` line per strategy that had more than were written
    one by one: when the trip ends (a re-arm) or the watch stops."""
    for strategy, entry in denied.items():
        if entry["count"] > LOGGED_DENIALS:
            note("denials", **summary_fields(strategy, entry))
