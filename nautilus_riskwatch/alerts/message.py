"""``Alert``: one thing the operator should hear, as a small typed record.

Why a record and not a string: the same alert goes to a phone (a title and a few readable
lines), to a machine (Apprise's ``json://`` posts the text, which ``Alert.from_text`` reads
back field for field) and, in a backtest, to the event log (``Alert.fields``). Figures are
exact ``Decimal`` strings, never floats, as everywhere in the watch; the time is the
engine's nanoseconds (simulated time in a backtest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar

from nautilus_riskwatch.looptime.origin import utc

__all__ = ["Alert", "AlertKind", "figures"]


class AlertKind(StrEnum):
    """What happened; the value is the word in the message and the event log."""

    TRIP = "trip"
    CASCADE_END = "cascade_end"
    WARNING = "warning"
    FEED_WARNING = "feed_warning"
    FIRM_KILL = "firm_kill"
    FIRM_REARM = "firm_rearm"


#: How urgent each kind is, in Apprise's words (``NotifyType``): the colour and icon a chat
#: shows. A cascade's end is a success when complete, a failure when something is still live.
_URGENCY = {
    AlertKind.TRIP: "failure",
    AlertKind.CASCADE_END: "success",
    AlertKind.WARNING: "warning",
    AlertKind.FEED_WARNING: "warning",
    AlertKind.FIRM_KILL: "failure",
    AlertKind.FIRM_REARM: "info",
}
_TITLE = {
    AlertKind.TRIP: "TRIP",
    AlertKind.CASCADE_END: "cascade end",
    AlertKind.WARNING: "warning",
    AlertKind.FEED_WARNING: "feed warning",
    AlertKind.FIRM_KILL: "FIRM KILL",
    AlertKind.FIRM_REARM: "firm re-arm",
}


def figures(**values: Decimal | int | str) -> Mapping[str, str]:
    """Figures as exact strings: ``Decimal`` and ``int`` as written, a float refused."""
    out: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
            raise TypeError(f"figure {name}={value!r}: a Decimal, int or str, never a float")
        out[name] = format(value, "f") if isinstance(value, Decimal) else str(value)
    return MappingProxyType(out)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert.

    ``scope`` is the part of the book (``"portfolio"``, ``"strategy X"``; a feed's name for
    a feed warning, ``"firm"`` for a firm event); ``cause`` is the trip's kind (``drawdown``,
    ``stale``, ...) or, for a warning, the limit's; ``summary`` is the one line a person
    reads first; ``figures`` the exact numbers behind it (``figures(...)`` builds them).
    """

    kind: AlertKind
    watch: str
    node: str
    scope: str
    cause: str
    summary: str
    at_ns: int
    figures: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Something went wrong beyond the kind's usual (a cascade that ended incomplete): sent
    #: as a failure. Not a line of the text: the summary says it in words.
    urgent: bool = False

    #: The record's own lines, in the order the text lists them (the figures follow).
    FIELDS: ClassVar[tuple[str, ...]] = ("kind", "watch", "node", "scope", "cause", "time", "at_ns")

    def __post_init__(self) -> None:
        if not isinstance(self.kind, AlertKind):
            object.__setattr__(self, "kind", AlertKind(self.kind))
        if "\n" in self.summary:
            raise ValueError(f"summary={self.summary!r}: one line (the text's first)")
        for name, value in self.figures.items():
            if not isinstance(value, str):
                raise TypeError(f"figure {name}={value!r}: use figures(...) (exact strings)")
            if name in self.FIELDS or not name.isidentifier():
                raise ValueError(f"figure name {name!r}: a name of its own (not {self.FIELDS})")
            if "\n" in value:
                raise ValueError(f"figure {name}={value!r}: one line")

    @property
    def notify_type(self) -> str:
        """Apprise's ``NotifyType`` value: ``failure``, ``warning``, ``success`` or ``info``."""
        return "failure" if self.urgent else _URGENCY[self.kind]

    @property
    def title(self) -> str:
        return f"riskwatch {_TITLE[self.kind]}: {self.node} {self.scope}"

    def fields(self) -> dict[str, str]:
        """Every field as a string (the message's lines, the event log's fields)."""
        head = {
            "kind": self.kind.value,
            "watch": self.watch,
            "node": self.node,
            "scope": self.scope,
            "cause": self.cause,
            "time": utc(self.at_ns),
            "at_ns": str(self.at_ns),
        }
        return {**head, **self.figures}

    def to_text(self) -> str:
        """The body: the summary, then one ``name: value`` line per field."""
        lines = [self.summary, ""]
        lines += [f"{name}: {value}" for name, value in self.fields().items()]
        return "\n".join(lines)

    @classmethod
    def from_text(cls, text: str) -> Alert:
        """Read back what ``to_text`` wrote (a receiver's or a test's view of an alert)."""
        summary, _, rest = text.partition("\n\n")
        values: dict[str, str] = {}
        for line in rest.splitlines():
            name, sep, value = line.partition(": ")
            if sep:
                values[name] = value
        head: dict[str, Any] = {name: values.pop(name) for name in cls.FIELDS}
        head.pop("time")
        return cls(
            kind=AlertKind(head.pop("kind")),
            summary=summary,
            at_ns=int(head.pop("at_ns")),
            figures=MappingProxyType(values),
            **head,
        )
