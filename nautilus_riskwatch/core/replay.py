"""Rebuild ``RiskOff`` records from an event log, for a post-mortem after the process is gone.

A cascade that finished wrote its whole record as its ``record`` event: that one is taken
as it is. A cascade cut short (the process killed mid-way) wrote no record, so it is
rebuilt from its steps: the trip, each stage entered, what each stage set out to do
(``plan``), what was confirmed, what timed out, each stage's ``outcome``. The rebuilt
record says as much as the log does, and no more: its ``stage`` is the last one entered,
``finished_at_ns`` stays ``None``, and what was asked but not seen confirmed is listed as
unconfirmed (it may well have happened after the last line was written).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from nautilus_riskwatch.core.denials import merge
from nautilus_riskwatch.core.event_log import Event
from nautilus_riskwatch.core.record import RiskOff, Stage, scope_spelled
from nautilus_riskwatch.core.trips import Trip

_RECORD_FIELDS = frozenset(f.name for f in fields(RiskOff))


@dataclass
class _Cascade:
    """One trip's record as the fold has rebuilt it so far, and what it asked for."""

    record: RiskOff
    index: int  # its place in the list of records found
    orders_asked: list[str] = field(default_factory=list)
    orders_done: list[str] = field(default_factory=list)
    orders_filled: list[str] = field(default_factory=list)
    positions_asked: list[str] = field(default_factory=list)
    positions_done: list[str] = field(default_factory=list)
    denied_lines: dict[str, int] = field(default_factory=dict)  # strategy -> lines seen

    def apply(self, event: Event) -> None:
        kind, f, record = event.kind, event.fields, self.record
        stage = f.get("stage")
        if kind == "suppressed":
            record.suppressed.append(Trip.restore(f["cause"]))
        elif kind == "stage":
            record.stage = Stage(str(stage))
        elif kind == "hurried":
            record.hurried = True
        elif kind == "error":
            record.errors.append(str(f["error"]))
        elif kind in ("plan", "retry") and stage == "cancelling":
            _extend(self.orders_asked, f["ids"])
            if "kept" in f:
                record.orders_kept = list(f["kept"])
            record.held_by.update(f.get("held_by", {}))
        elif kind in ("plan", "retry") and stage == "hold":
            _extend(self.orders_asked, f["ids"])  # cancels of orders live after the plan
            stage = "cancelling"
        elif kind in ("plan", "retry") and stage == "flattening":
            _extend(self.positions_asked, f["ids"])
            record.hedges_kept = list(f.get("kept", record.hedges_kept))
        elif kind == "confirmed" and stage == "cancelling":
            _extend(self.orders_done, f["ids"])
            _extend(self.orders_filled, f.get("filled", ()))
        elif kind == "confirmed" and stage == "flattening":
            _extend(self.positions_done, f["ids"])
        elif kind == "denied":
            # a line of one of the first denials (its number since the trip in ``count``;
            # a log written before 0.2 has no number: its lines are counted here)
            strategy = str(f["strategy_id"])
            seen = self.denied_lines[strategy] = self.denied_lines.get(strategy, 0) + 1
            merge(record.denied, strategy, int(f.get("count", seen)), event.ts_ns, event.ts_ns)
            return
        elif kind == "denials":  # a strategy's count when the trip ended (or the watch stopped)
            merge(
                record.denied,
                str(f["strategy_id"]),
                int(f["count"]),
                int(f["first_ns"]),
                int(f["last_ns"]),
            )
            return
        elif kind == "outcome":
            for name, value in f.items():
                if name in _RECORD_FIELDS and name != "stage":
                    setattr(record, name, list(value) if isinstance(value, list) else value)
            return
        else:
            return
        if kind in ("plan", "retry", "confirmed"):
            self._derive(str(stage))

    def _derive(self, stage: str) -> None:
        """The record's lists as far as the steps so far tell."""
        record = self.record
        if stage == "cancelling":
            done = set(self.orders_done)
            filled = set(self.orders_filled)
            record.orders_filled = [o for o in self.orders_asked if o in filled]
            record.orders_cancelled = [
                o for o in self.orders_asked if o in done and o not in filled
            ]
            record.orders_unconfirmed = [o for o in self.orders_asked if o not in done]
        else:
            done = set(self.positions_done)
            record.positions_closed = [p for p in self.positions_asked if p in done]
            record.positions_unflattened = [p for p in self.positions_asked if p not in done]


def records_from(
    events: Iterable[Event],
    *,
    session_id: str | None = None,
    scope: str | None = None,
    use_records: bool = True,
) -> list[RiskOff]:
    """The ``RiskOff`` of every trip in ``events``, in order of the trips.

    Parameters
    ----------
    events
        What ``read_event_log(path).events`` returned (or any events, in log order).
    session_id
        Only this session's trips (``None``: every session in the log).
    scope
        Only this scope's trips, e.g. ``"portfolio"`` (``None``: every scope).
    use_records
        Take a finished cascade's ``record`` event as it is (default). ``False`` rebuilds
        every record from its steps alone, as for a cascade cut short.

    """
    if scope is not None:
        scope = scope_spelled(scope)
    found: list[RiskOff] = []
    open_: dict[tuple[str, str], _Cascade] = {}
    for event in events:
        if session_id is not None and event.session_id != session_id:
            continue
        if scope is not None and event.scope != scope:
            continue
        key = (event.session_id, event.scope)
        if event.kind == "trip":
            record = RiskOff(
                cause=Trip.restore(event.fields["cause"]),
                tripped_at_ns=event.ts_ns,
                scope=event.scope,
                session_id=event.session_id,
            )
            open_[key] = _Cascade(record, len(found))
            found.append(record)
            continue
        cascade = open_.get(key)
        if cascade is None:
            continue
        if event.kind == "record":
            if use_records:
                record = RiskOff.from_dict(event.fields["record"])
                record.scope = event.scope
                found[cascade.index] = record
                cascade.record = record
            else:
                cascade.record.finished_at_ns = event.ts_ns
            continue
        cascade.apply(event)
    return found


def _extend(into: list[str], ids: Iterable[str]) -> None:
    into.extend(i for i in ids if i not in into)
