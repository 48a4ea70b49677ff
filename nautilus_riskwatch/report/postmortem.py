"""The trip report from the event log file alone, after the process is gone.

The file holds what the picture needs: the PnL when each scope armed, a PnL sample at most
every ``event_log_pnl_every`` seconds while it moved, every fill of a guarded strategy with
the PnL after it, the trip (with the loss that tripped), the confirmations of the cancels
and the watch's closing fills. So the curve is the watch's own exact ledger, sampled: exact
at each point, a step between points (not every quote, which would put the log on the hot
path). The text report is the ``RiskOff`` rebuilt by ``records_from``.

From a shell, at 3 a.m.::

    riskwatch postmortem events.jsonl                  # the timeline and the report
    riskwatch postmortem events.jsonl --png trip.png   # and the picture
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from os import PathLike
from pathlib import Path
from typing import Any

from nautilus_riskwatch.core.denials import LOGGED_DENIALS
from nautilus_riskwatch.core.event_log import Event, read_event_log
from nautilus_riskwatch.core.record import PORTFOLIO, RiskOff, scope_spelled
from nautilus_riskwatch.core.replay import records_from
from nautilus_riskwatch.looptime import utc
from nautilus_riskwatch.report.plot import plot_trip


@dataclass(frozen=True)
class Postmortem:
    """One session and scope of an event log, ready to report and draw.

    ``record`` is the last trip's (``None``: no trip); ``times_ns``/``equity`` the PnL
    points in time order; ``skipped`` the lines of the file that could not be read.
    """

    session_id: str
    scope: str
    record: RiskOff | None
    times_ns: list[int]
    equity: list[Decimal]
    ceiling: Decimal | None
    currency: str | None
    cancels_ns: list[int]
    closes: list[tuple[int, Decimal]]
    skipped: list[str]

    def report(self) -> str:
        """The record as text (``RiskOff.report``), or a line saying nothing tripped."""
        if self.record is None:
            return f"No trip in session {self.session_id} ({self.scope})."
        return self.record.report()

    def plot(self, path: str | PathLike[str], *, title: str | None = None) -> Path:
        """Draw the trip picture (needs matplotlib) into ``path``; return the path."""
        if not self.times_ns:
            raise ValueError(
                f"session {self.session_id} ({self.scope}) has no PnL points in the event log:"
                " the scope counts no PnL (no loss limit), or event_log_pnl_every was off"
            )
        return plot_trip(
            self.record,
            self.times_ns,
            self.equity,
            self.ceiling,
            path,
            title=title,
            cancels_ns=self.cancels_ns,
            closes=self.closes,
            currency=self.currency,
        )


def postmortem(
    path: str | PathLike[str], *, session_id: str | None = None, scope: str = PORTFOLIO
) -> Postmortem:
    """Read ``path`` and gather one session's report for ``scope``.

    ``session_id`` defaults to the last session in the file in which ``scope`` tripped,
    else the last session in the file.
    """
    scope = scope_spelled(scope)
    read = read_event_log(path)
    if not read.events:
        raise ValueError(f"{path}: {_nothing_read(read.skipped)}")
    if session_id is not None and session_id not in read.sessions:
        raise ValueError(
            f"{path}: no session {session_id!r} in it (sessions: {', '.join(read.sessions)})"
        )
    events = [
        e
        for e in read.events
        if e.scope == scope and (session_id is None or e.session_id == session_id)
    ]
    if not events:
        within = read.events if session_id is None else _of(read.events, session_id)
        scopes = ", ".join(dict.fromkeys(e.scope for e in within))
        where = "" if session_id is None else f" of session {session_id!r}"
        raise ValueError(f"{path}: no events for scope {scope!r}{where} (scopes: {scopes})")
    if session_id is None:
        tripped = [e.session_id for e in events if e.kind == "trip"]
        session_id = (tripped or [e.session_id for e in events])[-1]
    events = _of(events, session_id)
    records = records_from(events)
    record = records[-1] if records else None
    return Postmortem(
        session_id=session_id,
        scope=scope,
        record=record,
        **_curve(events),
        **_limits(events, record),
        **_markers(events, record),
        skipped=read.skipped,
    )


def _of(events: Sequence[Event], session_id: str) -> list[Event]:
    return [e for e in events if e.session_id == session_id]


def _nothing_read(skipped: Sequence[str]) -> str:
    if not skipped:
        return "the file is empty: no riskwatch events in it"
    return (
        f"no riskwatch events in it ({len(skipped)} lines could not be read, the first: "
        f"{_printable(skipped[0])}); is it the file the watch's event_log setting names?"
    )


def _printable(text: str) -> str:
    """``text`` on one line: control characters (a binary file's) written as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _curve(events: Sequence[Event]) -> dict[str, Any]:
    points: list[tuple[int, int, Decimal]] = []
    for event in events:
        f = event.fields
        pnl = f.get("pnl")
        if event.kind in ("armed", "pnl", "fill") and pnl is not None:
            points.append((event.ts_ns, event.seq, Decimal(pnl)))
        elif event.kind == "trip" and f["cause"].get("kind") == "drawdown":
            points.append((event.ts_ns, event.seq, -Decimal(f["cause"]["loss"])))
    points.sort()
    last = {ts: pnl for ts, _, pnl in points}  # one point per instant: the PnL after it
    return {"times_ns": list(last), "equity": list(last.values())}


def _limits(events: Sequence[Event], record: RiskOff | None) -> dict[str, Any]:
    ceiling: Decimal | None = None
    currency: str | None = None
    for event in events:
        if event.kind == "armed":
            for limit in event.fields.get("limits", ()):
                currency = limit.get("currency") or currency
                if limit.get("kind") == "max_loss" and ceiling is None:
                    ceiling = Decimal(limit["ceiling"])
    if ceiling is None and record is not None:
        ceiling = getattr(record.cause, "ceiling", None)
    return {"ceiling": ceiling, "currency": currency}


def _markers(events: Sequence[Event], record: RiskOff | None) -> dict[str, Any]:
    if record is None:
        return {"cancels_ns": [], "closes": []}
    after = [e for e in events if e.ts_ns >= record.tripped_at_ns]
    cancelled = set(record.orders_cancelled)
    cancels = [
        e.ts_ns
        for e in after
        if e.kind == "confirmed" and e.fields.get("stage") == "cancelling"
        for order in e.fields["ids"]
        if order in cancelled
    ]
    closes = [
        (int(e.fields["ts_event"]), Decimal(e.fields["price"]))
        for e in after
        if e.kind == "fill" and e.fields.get("closing")
    ]
    return {"cancels_ns": cancels, "closes": closes}


# --- reading it from a shell ----------------------------------------------------------------
def timeline(events: Sequence[Event], *, everything: bool = False) -> str:
    """One line per event, for people: time, scope, kind, the fields that matter.

    PnL samples and fills are left out unless ``everything``: they are the picture's data.
    So are a strategy's ``denied`` lines past the first ``LOGGED_DENIALS`` of a trip (a log
    written before 0.2 has every one): one line says how many were left out, and the
    report counts them all.
    """
    lines = []
    denied: dict[tuple[str, str], int] = {}  # (scope, strategy) -> denied lines this trip
    left_out: dict[tuple[str, str], int] = {}
    for event in events:
        if not everything and event.kind in ("pnl", "fill"):
            continue
        if event.kind == "trip":
            for key in [k for k in denied if k[0] == event.scope]:
                del denied[key]
        elif event.kind == "denied" and not everything:
            key = (event.scope, str(event.fields.get("strategy_id")))
            seen = denied[key] = denied.get(key, 0) + 1
            if seen > LOGGED_DENIALS:
                left_out[key] = left_out.get(key, 0) + 1
                continue
        shown = ", ".join(
            f"{key}={_short(value)}"
            for key, value in event.fields.items()
            if key not in ("record", "command_id") and value not in ("", None, [], False)
        )
        lines.append(f"{utc(event.ts_ns)}  {event.scope:<22} {event.kind:<15} {shown}")
    for (scope, strategy), count in left_out.items():
        lines.append(
            f"({count} more 'denied' lines of {strategy} ({scope}) left out: the report counts"
            " them; --all lists them)"
        )
    return "\n".join(lines)


def _short(value: object, size: int = 6) -> str:
    if isinstance(value, list) and len(value) > size:
        return f"[{', '.join(map(str, value[:size]))}, ... {len(value) - size} more]"
    if isinstance(value, list):
        return f"[{', '.join(map(str, value))}]"
    if isinstance(value, dict):
        return str(value.get("message", value))
    return str(value)


def main(argv: Sequence[str] | None = None, *, prog: str = "riskwatch postmortem") -> int:
    """``riskwatch postmortem FILE [--png OUT] ...``: return the exit status.

    A user's mistake (no such file, not an event log, no such session or scope, no
    matplotlib for ``--png``) is one line on stderr and exit status 1, never a traceback.
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Read a riskwatch event log: the timeline, the trip report, the picture.",
    )
    parser.add_argument("path", help="the event log file (the watch's event_log setting)")
    parser.add_argument("--session", help="session id (default: the last one that tripped)")
    parser.add_argument(
        "--scope", default=PORTFOLIO, help=f"scope, e.g. 'strategy X' (default: {PORTFOLIO})"
    )
    parser.add_argument("--png", help="also draw the trip picture into this file (matplotlib)")
    parser.add_argument(
        "--all", action="store_true", help="list PnL samples, fills and every denied line too"
    )
    args = parser.parse_args(argv)
    try:
        found = postmortem(args.path, session_id=args.session, scope=args.scope)
    except FileNotFoundError:
        return _fail(prog, f"no such file: {args.path} (give the event log file to read)")
    except OSError as error:
        return _fail(prog, f"cannot read {args.path}: {error.strerror or error}")
    except ValueError as error:
        return _fail(prog, str(error))
    read = read_event_log(args.path)
    print(f"sessions in the file: {', '.join(read.sessions)}")
    for problem in found.skipped:
        print(f"skipped {_printable(problem)}")
    session = _of(read.events, found.session_id)
    print(f"\nsession {found.session_id}:")
    print(timeline(session, everything=args.all))
    if session[-1].kind != "stopped":
        print("\n(the log ends without a 'stopped' line: the process did not stop cleanly)")
    print()
    print(found.report())
    if args.png:
        try:
            print(f"\npicture: {found.plot(args.png)}")
        except (ImportError, ValueError) as error:
            return _fail(prog, f"no picture: {error}")
        except OSError as error:
            return _fail(prog, f"no picture: cannot write {args.png}: {error.strerror or error}")
    return 0


def _fail(prog: str, message: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(prog="python -m nautilus_riskwatch.report.postmortem"))
