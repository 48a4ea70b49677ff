"""The alerts the watch sends, built from what it already has: a record, a crossing.

Why here: the wiring should be a few lines (``sender.put(trip_alert(record, ...))``), and
what an alert says should be decided once, next to the record it reads, and tested without
an engine. Each builder takes the watch's and the node's names and the engine time.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from nautilus_riskwatch.alerts.levels import Crossing
from nautilus_riskwatch.alerts.message import Alert, AlertKind, figures
from nautilus_riskwatch.core.record import RiskOff

__all__ = [
    "cascade_end_alert",
    "feed_warning_alert",
    "firm_alert",
    "trip_alert",
    "warning_alert",
]


def _percent(fraction: Decimal) -> str:
    return f"{format((fraction * 100).normalize(), 'f')}%"


def trip_alert(record: RiskOff, watch: str, node: str) -> Alert:
    """The trip: its cause's own words and facts (``Trip.describe``), at the trip's time."""
    described = record.cause.describe()
    facts = {k: v for k, v in described.items() if k not in ("kind", "message")}
    return Alert(
        kind=AlertKind.TRIP,
        watch=watch,
        node=node,
        scope=record.scope,
        cause=described["kind"],
        summary=_line(described["message"]),
        at_ns=record.tripped_at_ns,
        figures=_facts(facts),
    )


def cascade_end_alert(record: RiskOff, watch: str, node: str) -> Alert:
    """The cascade's end: complete, or incomplete with what the engine still holds live
    (sent as a failure: someone must act)."""
    complete = record.complete
    if complete:
        summary = (
            f"cascade complete: {len(record.orders_cancelled)} order(s) cancelled, "
            f"{len(record.positions_closed)} position(s) closed, "
            f"{len(record.hedges_kept)} hedge(s) kept"
        )
    else:
        live = [*record.left_live, *record.orders_unconfirmed, *record.positions_unflattened]
        summary = f"cascade INCOMPLETE at {record.stage}: still live {', '.join(live) or '-'}"
        if record.errors:
            summary += f"; {len(record.errors)} error(s)"
    facts = {
        "complete": str(complete).lower(),
        "stage": str(record.stage),
        "trading_state": record.trading_state or "-",
        "orders_cancelled": str(len(record.orders_cancelled)),
        "positions_closed": str(len(record.positions_closed)),
        "hedges_kept": str(len(record.hedges_kept)),
        "still_live": ", ".join(record.left_live) or "-",
        "unconfirmed": ", ".join(record.orders_unconfirmed) or "-",
        "still_open": ", ".join(record.positions_unflattened) or "-",
    }
    if record.errors:
        facts["errors"] = "; ".join(record.errors)
    return Alert(
        kind=AlertKind.CASCADE_END,
        watch=watch,
        node=node,
        scope=record.scope,
        cause=record.cause.kind,
        summary=summary,
        at_ns=record.finished_at_ns if record.finished_at_ns is not None else record.tripped_at_ns,
        figures=_facts(facts),
        urgent=not complete,
    )


def warning_alert(
    crossing: Crossing,
    limit: str,
    scope: str,
    currency: str,
    watch: str,
    node: str,
    at_ns: int,
) -> Alert:
    """A limit's figure reached a warning level (``limit``: its kind, e.g. ``drawdown``)."""
    unit = f" {currency}" if currency else ""
    return Alert(
        kind=AlertKind.WARNING,
        watch=watch,
        node=node,
        scope=scope,
        cause=limit,
        summary=(
            f"{limit} {crossing.figure}{unit} reached {_percent(crossing.fraction)} of the "
            f"ceiling {crossing.limit}{unit}"
        ),
        at_ns=at_ns,
        figures=figures(
            figure=crossing.figure,
            level=crossing.level,
            fraction=crossing.fraction,
            ceiling=crossing.limit,
            currency=currency,
        ),
    )


def feed_warning_alert(crossing: Crossing, feed: str, watch: str, node: str, at_ns: int) -> Alert:
    """A feed silent for a warning fraction of its bound (figures in seconds)."""
    silent = f"{float(crossing.figure):g}"
    bound = f"{float(crossing.limit):g}"
    return Alert(
        kind=AlertKind.FEED_WARNING,
        watch=watch,
        node=node,
        scope=feed,
        cause="stale",
        summary=(
            f"feed {feed!r} silent for {silent}s: {_percent(crossing.fraction)} of its bound "
            f"{bound}s"
        ),
        at_ns=at_ns,
        figures=figures(silent=silent, bound=bound, fraction=crossing.fraction),
    )


def firm_alert(
    kind: AlertKind,
    epoch: int,
    by: str,
    reason: str,
    watch: str,
    node: str,
    at_ns: int,
    cause: str = "",
) -> Alert:
    """A firm kill received (``FIRM_KILL``: ``by`` the origin, ``cause`` its cause) or a
    firm re-arm (``FIRM_REARM``: ``by`` who re-armed)."""
    if kind not in (AlertKind.FIRM_KILL, AlertKind.FIRM_REARM):
        raise ValueError(f"kind={kind!r}: a firm alert is firm_kill or firm_rearm")
    killed = kind is AlertKind.FIRM_KILL
    what = f"firm kill (epoch {epoch}) from {by}" if killed else f"firm re-armed by {by}"
    return Alert(
        kind=kind,
        watch=watch,
        node=node,
        scope="firm",
        cause=cause or ("firm-kill" if killed else "rearm"),
        summary=_line(f"{what}: {reason}" if reason else what),
        at_ns=at_ns,
        figures=figures(epoch=epoch, by=_line(by)),
    )


def _facts(facts: Mapping[str, str]) -> Mapping[str, str]:
    """Facts as figures: one line each, renamed where they would shadow the alert's own."""
    return figures(
        **{(f"cause_{k}" if k in Alert.FIELDS else k): _line(v) for k, v in facts.items()}
    )


def _line(text: str) -> str:
    """Free text (an error's message, an operator's reason) on one line."""
    return " ".join(text.split())
