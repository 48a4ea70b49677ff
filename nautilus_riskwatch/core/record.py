"""``RiskOff``: the one record of a trip, filled in as the cascade goes.

The record exists from the instant of the trip, and each stage writes into it as it
finishes, so a cascade that is cut short (the process dies, the run ends) still leaves a
record that says exactly how far it got.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from nautilus_riskwatch.core.trips import Trip
from nautilus_riskwatch.looptime.origin import NS_PER_SECOND

#: The scope that is the whole guarded book (a limit with no strategy or instrument).
PORTFOLIO = "portfolio"
#: What the whole book was called in the record, re-arms and the event log before 0.2.
OLD_PORTFOLIO = "trader"


def scope_of(strategy_id: object | None = None, instrument_id: object | None = None) -> str:
    """The scope a limit (and the guard that holds it) covers: one strategy, else one
    instrument, else the whole book: ``"strategy X"``, ``"instrument Y"``, ``"portfolio"``."""
    if strategy_id is not None:
        return f"strategy {strategy_id}"
    if instrument_id is not None:
        return f"instrument {instrument_id}"
    return PORTFOLIO


def scope_spelled(scope: str, *, warn: bool = True) -> str:
    """``scope`` in today's words: the old name of the whole book, ``"trader"``, is read as
    ``"portfolio"`` (with a ``DeprecationWarning`` when a caller wrote it; quietly when it
    comes from an old log file, which nobody can rewrite)."""
    if scope != OLD_PORTFOLIO:
        return scope
    if warn:
        warnings.warn(
            f'the scope "{OLD_PORTFOLIO}" is now called "{PORTFOLIO}" (the whole guarded book,'
            " as in the limits); the old name is read as the new one for now",
            DeprecationWarning,
            stacklevel=3,
        )
    return PORTFOLIO


class Stage(StrEnum):
    """The cascade's stages, in the order they run (``RiskOff.stage``: the last entered).

    A ``str`` so that the record, the event log and the report carry the plain word; moved
    only forward, by ``RiskOff.enter`` (as CPython's ``asyncio.timeouts`` guards its state),
    so a record can never claim to be earlier than it was.
    """

    LATCHED = "latched"
    HALTING = "halting"
    CANCELLING = "cancelling"
    FLATTENING = "flattening"
    VERIFYING = "verifying"
    DONE = "done"

    @property
    def order(self) -> int:
        return _ORDER[self]


_ORDER = {stage: i for i, stage in enumerate(Stage)}


@dataclass
class RiskOff:
    """What tripped, when, and what the risk-off cascade did about it.

    Order and position ids are plain strings so that the core stays engine-agnostic.
    """

    cause: Trip
    tripped_at_ns: int
    stage: Stage = Stage.LATCHED
    trading_state: str = ""
    orders_cancelled: list[str] = field(default_factory=list)
    orders_filled: list[str] = field(default_factory=list)
    orders_unconfirmed: list[str] = field(default_factory=list)
    orders_kept: list[str] = field(default_factory=list)
    positions_closed: list[str] = field(default_factory=list)
    positions_unflattened: list[str] = field(default_factory=list)
    hedges_kept: list[str] = field(default_factory=list)
    held_by: dict[str, str] = field(default_factory=dict)  # order id -> where it was held
    left_live: list[str] = field(default_factory=list)  # still live by the engine's account
    suppressed: list[Trip] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    hurried: bool = False
    finished_at_ns: int | None = None
    scope: str = PORTFOLIO  # the part of the book it covers: "portfolio", "strategy X", ...
    unmarked: list[str] = field(default_factory=list)  # held, priced by nothing at the trip
    session_id: str = ""  # the watch's session: the key to its lines in the event log
    # Several currencies (or an inverse instrument): how the loss was valued at the trip.
    pnl_by_currency: dict[str, str] = field(default_factory=dict)  # currency -> exact PnL
    rates: list[str] = field(default_factory=list)  # each conversion: rate, source, time
    unconverted: list[str] = field(default_factory=list)  # held, with no rate at the trip
    limit_bases: dict[str, str] = field(default_factory=dict)  # percent limit -> base, amount
    # A close the venue refused: one line each (position, order type, why), in order.
    close_rejections: list[str] = field(default_factory=list)
    unflattened_why: dict[str, str] = field(default_factory=dict)  # still open -> last refusal
    # The hold, after the cascade: each change to the record, when and what (re-published).
    amendments: list[dict[str, Any]] = field(default_factory=list)
    # Orders denied since the trip, per strategy id: count, first_ns, last_ns (the first
    # few are in the event log one by one, the rest only counted: ``core.denials``).
    denied: dict[str, dict[str, int]] = field(default_factory=dict)

    def enter(self, stage: Stage) -> None:
        """Move to ``stage``: forward only (a stage is entered once, in order)."""
        if stage.order <= self.stage.order:
            raise RuntimeError(f"the cascade cannot go from {self.stage} back to {stage}")
        self.stage = stage

    @property
    def complete(self) -> bool:
        """True when every stage ran, everything asked for was confirmed, and the engine,
        read back at the end, holds nothing live of the book but what is protective."""
        return (
            self.stage is Stage.DONE
            and not self.orders_unconfirmed
            and not self.positions_unflattened
            and not self.left_live
            and not self.errors
        )

    def to_dict(self) -> dict[str, Any]:
        """The record as plain values (trips as their ``describe()``), for the event log."""
        plain: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Trip):
                value = value.describe()
            elif isinstance(value, list):
                value = [x.describe() if isinstance(x, Trip) else x for x in value]
            plain[f.name] = value
        return plain

    @classmethod
    def from_dict(cls, plain: Mapping[str, Any]) -> RiskOff:
        """Rebuild a record from ``to_dict()`` (fields it does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in plain.items() if k in known}
        values["cause"] = Trip.restore(plain["cause"])
        values["suppressed"] = [Trip.restore(t) for t in plain.get("suppressed", ())]
        values["stage"] = Stage(plain.get("stage", Stage.LATCHED))
        values["scope"] = scope_spelled(str(plain.get("scope", PORTFOLIO)), warn=False)
        values["denied"] = {
            str(strategy): {key: int(n) for key, n in entry.items()}
            for strategy, entry in plain.get("denied", {}).items()
        }
        for name, value in values.items():
            if isinstance(value, list) and name != "suppressed":
                values[name] = list(value)
        return cls(**values)

    def report(self) -> str:
        """The record as the text an operator reads."""
        cause = self.cause.describe()
        lines = [
            f"RISK-OFF: {cause['message']}",
            f"  cause          {cause['kind']}",
            f"  scope          {self.scope}",
            f"  session        {self.session_id or '-'}",
            f"  tripped at     {_when(self.tripped_at_ns)}",
            f"  finished at    {_when(self.finished_at_ns)}",
            f"  stage reached  {self.stage}{' (complete)' if self.complete else ''}",
            f"  trading state  {self.trading_state or '-'}",
            f"  orders         cancelled {self._held(self.orders_cancelled)}",
            f"                 filled before the cancel landed {self._held(self.orders_filled)}",
            f"                 unconfirmed {self._held(self.orders_unconfirmed)}",
            f"                 protective kept {self._held(self.orders_kept)}",
            f"  positions      closed {_ids(self.positions_closed)}",
            f"                 still open {_ids(self.positions_unflattened)}",
            f"                 hedges kept {_ids(self.hedges_kept)}",
        ]
        for position, why in self.unflattened_why.items():
            lines.append(f"  not closed     {position}: {why}")
        lines.extend(f"  close refused  {line}" for line in self.close_rejections)
        if self.left_live:
            lines.append(f"  still live     {_ids(self.left_live)} (INCOMPLETE)")
        for amendment in self.amendments:
            changes = "; ".join(amendment.get("changes", ()))
            lines.append(f"  amended        {_when(amendment.get('at_ns'))}: {changes}")
        if self.unmarked:
            lines.append(f"  unmarked       {_ids(self.unmarked)}: valued at their fill prices")
        if self.pnl_by_currency:
            figures = ", ".join(f"{v} {k}" for k, v in self.pnl_by_currency.items())
            lines.append(f"  PnL by currency {figures}")
        lines.extend(f"  converted      {rate}" for rate in self.rates)
        if self.unconverted:
            lines.append(f"  NO RATE        {', '.join(self.unconverted)}")
        lines.extend(f"  limit          {k}: {v}" for k, v in self.limit_bases.items())
        if self.suppressed:
            lines.append(f"  suppressed     {'; '.join(str(t) for t in self.suppressed)}")
        if self.hurried:
            lines.append("  hurried        stopped mid-cascade: remaining steps sent unconfirmed")
        if self.errors:
            lines.append(f"  errors         {'; '.join(self.errors)}")
        for strategy, entry in self.denied.items():
            lines.append(
                f"  denied         {strategy}: {entry['count']} orders, first "
                f"{_when(entry['first_ns'])}, last {_when(entry['last_ns'])}"
            )
        return "\n".join(lines)

    def _held(self, ids: list[str]) -> str:
        """Ids with where each was held, when that is not simply the venue."""
        places = self.held_by
        return _ids([f"{i} ({places[i]})" if places.get(i, "venue") != "venue" else i for i in ids])


def _when(ns: int | None) -> str:
    if ns is None:
        return "-"
    seconds, nanos = divmod(ns, NS_PER_SECOND)
    moment = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{moment}.{nanos:09d} UTC ({ns} ns)"


def _ids(ids: list[str]) -> str:
    return f"{len(ids)} [{', '.join(ids)}]" if ids else "0"
