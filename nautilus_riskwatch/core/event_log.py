"""The event log: every step of the watch as it happens, attributable, and durable.

Why: the ``RiskOff`` record says what a cascade achieved, once it is over. Between the
trip and the record (each cancel sent, each confirmation, each retry, each close, each
order denied) nothing was written down, and a process that died mid-cascade left nothing.
Regulators and venues ask for exactly that trail around a kill switch (MiFID II RTS 6
Art. 12, the FIA guide): every activation and every action, attributable and time-stamped.

Attribution rides in context variables, not in arguments. When a scope of the watch arms,
its session id, its name and the strategy ids it guards are set in a copy of the current
context (``attribute``), and the scope's tasks are created in it: asyncio copies a task's
context into every task it creates, so the supervisor's children and the cascade inherit
them, and two scopes running at once each see their own. ``emit`` reads them there. Code
deep inside the watch can write a line without being handed who it is working for.

Durability is the file's job (``JsonLinesFile``): one JSON object per line, appended with
one ``write`` system call per event, so a crash (even ``SIGKILL``) leaves every line up to
the crash in the operating system's hands. ``read_event_log`` reads such a file back and
tolerates a line cut short by a crash, or mangled by anything else, skipping it with a
note. ``replay.records_from`` rebuilds the ``RiskOff`` records from what it read.

Timestamps are the engine's nanoseconds (the ``Book``'s ``now_ns``): simulated time in a
backtest, so a trail lines up with the engine's own events to the nanosecond.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, NoReturn

from nautilus_riskwatch.core.feeds import Feed
from nautilus_riskwatch.core.record import scope_spelled
from nautilus_riskwatch.core.redact import redact_url
from nautilus_riskwatch.looptime.origin import utc

#: The session: one per armed run of the watch (stable across a re-arm, new after a reset).
SESSION_ID: contextvars.ContextVar[str] = contextvars.ContextVar("riskwatch_session_id", default="")
#: The scope the code runs for: ``"portfolio"`` or a scoped limit's (``"strategy X"``).
SCOPE: contextvars.ContextVar[str] = contextvars.ContextVar("riskwatch_scope", default="")
#: The strategy ids that scope guards (``None``: every strategy).
STRATEGY_IDS: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "riskwatch_strategy_ids", default=None
)
#: Where ``emit`` writes (``None``: nowhere, e.g. a core test without a log).
EVENT_LOG: contextvars.ContextVar[EventLog | None] = contextvars.ContextVar(
    "riskwatch_event_log", default=None
)

#: The keys every line starts with; an event's own fields never use them.
HEADER = ("ts_ns", "time", "seq", "session_id", "scope", "strategy_ids", "event")
HEADER_SET = frozenset(HEADER)

Sink = Callable[["Event"], None]
"""Where events go: any callable taking an ``Event`` (a list's ``append`` is one)."""


@dataclass(frozen=True)
class Event:
    """One thing the watch did or saw, at one engine nanosecond, for one scope.

    ``fields`` hold only plain JSON values (strings, numbers, booleans, lists, dicts):
    money as strings, exact. ``seq`` counts the events of one log from 1, so a gap in a
    file shows a line lost.
    """

    kind: str
    ts_ns: int
    seq: int
    session_id: str
    scope: str
    strategy_ids: tuple[str, ...] | None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """One line of JSON (no newline), the header first so it reads left to right."""
        return self._json

    @cached_property
    def _json(self) -> str:  # encoded once, however many sinks write it
        line: dict[str, Any] = {
            "ts_ns": self.ts_ns,
            "time": utc(self.ts_ns),
            "seq": self.seq,
            "session_id": self.session_id,
            "scope": self.scope,
            "strategy_ids": None if self.strategy_ids is None else list(self.strategy_ids),
            "event": self.kind,
        }
        line.update(self.fields)
        return _ENCODER.encode(line)

    @classmethod
    def from_json(cls, text: str) -> Event:
        """Parse one line written by ``to_json``; raise ``ValueError`` if it is not one."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        try:
            strategies = data["strategy_ids"]
            event = cls(
                kind=str(data["event"]),
                ts_ns=int(data["ts_ns"]),
                seq=int(data["seq"]),
                session_id=str(data["session_id"]),
                scope=scope_spelled(str(data["scope"]), warn=False),  # an old file: "trader"
                strategy_ids=None if strategies is None else tuple(map(str, strategies)),
                fields={k: v for k, v in data.items() if k not in HEADER},
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"not an event line ({type(error).__name__}: {error})") from None
        return event


class EventLog:
    """Stamps events on the engine's clock, attributes them from context, hands them on.

    Parameters
    ----------
    now_ns : Callable[[], int]
        The engine's clock, in nanoseconds since the epoch (the ``Book``'s ``now_ns``).
    sinks : Sequence[Sink]
        Where each event goes, in order (the node's logger, a ``JsonLinesFile``, ...).
    on_failure : Callable[[BaseException], None], optional
        Told the first time a sink fails. A trail must never break what it records, so a
        failing sink (a full disk) is counted in ``failures`` and skipped, not raised.

    """

    def __init__(
        self,
        now_ns: Callable[[], int],
        sinks: Sequence[Sink] = (),
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._now_ns = now_ns
        self._sinks = list(sinks)
        self._on_failure = on_failure
        self._seq = 0
        self.failures = 0

    def write(self, kind: str, fields: Mapping[str, object], at_ns: int | None = None) -> Event:
        """Write one event, attributed from the current context; return it."""
        reserved = HEADER_SET.intersection(fields)
        if reserved:
            raise ValueError(f"event fields may not use the header's names: {sorted(reserved)}")
        self._seq += 1
        event = Event(
            kind=kind,
            ts_ns=self._now_ns() if at_ns is None else at_ns,
            seq=self._seq,
            session_id=SESSION_ID.get(),
            scope=SCOPE.get(),
            strategy_ids=STRATEGY_IDS.get(),
            fields={key: plain(value) for key, value in fields.items()},
        )
        for sink in self._sinks:
            try:
                sink(event)
            except Exception as error:
                self.failures += 1
                if self.failures == 1 and self._on_failure is not None:
                    self._on_failure(error)
        return event


def attribute(
    log: EventLog | None,
    session_id: str,
    scope: str,
    strategy_ids: Iterable[str] | None,
) -> contextvars.Context:
    """A copy of the current context with the attribution set: run a scope's tasks in it.

    ``loop.create_task(coro, context=context.copy())`` gives the task (and every task it
    creates, which copy it in turn) this attribution; other scopes' tasks keep theirs.
    """
    context = contextvars.copy_context()
    strategies = None if strategy_ids is None else tuple(sorted(map(str, strategy_ids)))
    context.run(_set, log, session_id, scope, strategies)
    return context


def _set(
    log: EventLog | None, session_id: str, scope: str, strategies: tuple[str, ...] | None
) -> None:
    EVENT_LOG.set(log)
    SESSION_ID.set(session_id)
    SCOPE.set(scope)
    STRATEGY_IDS.set(strategies)


def emit(kind: str, /, *, at_ns: int | None = None, **fields: object) -> None:
    """Write an event to the log of the current context (nowhere if there is none).

    Never raises: the cascade must not stop because its trail could not be written.
    """
    log = EVENT_LOG.get()
    if log is None:
        return
    try:
        log.write(kind, fields, at_ns)
    except Exception:  # pragma: no cover - write() already shields its sinks
        pass


def emit_in(context: contextvars.Context, kind: str, /, **fields: object) -> None:
    """``emit`` in ``context`` (a scope's), from code that runs outside its tasks.

    Engine callbacks (a fill, an order denied) and operator calls run in the engine's
    context, not a scope's; this writes their line with the scope's attribution. The
    context is copied first, so it works even while a task of the scope is running in it.
    """
    context.copy().run(_emit_fields, kind, fields)


def _emit_fields(kind: str, fields: Mapping[str, object]) -> None:
    """``emit`` with its fields as one mapping (``at_ns`` among them, if given)."""
    log = EVENT_LOG.get()
    if log is None:
        return
    at_ns = fields.get("at_ns")
    try:
        log.write(
            kind,
            {k: v for k, v in fields.items() if k != "at_ns"},
            at_ns if isinstance(at_ns, int) else None,
        )
    except Exception:  # pragma: no cover - write() already shields its sinks
        pass


async def sample(feed: Feed[Decimal], every: float) -> NoReturn:
    """Write the newest figure of ``feed`` as a ``pnl`` event, at most once per ``every``.

    For the trip picture after the process is gone: it needs the PnL curve, but one line
    per quote would put the trail on the hot path. So the sampler is lazy, like the
    watchdog: it sleeps until a figure arrives, writes it, then sleeps ``every`` seconds
    (loop time) before looking again. A flat book costs nothing; a moving one costs one
    wake-up and one line per ``every`` seconds.
    """
    if not every > 0:
        raise ValueError(f"every must be a positive number of seconds, got {every!r}")
    last: Decimal | None = None
    while True:
        pnl = await feed.read_one()
        if pnl != last:
            emit("pnl", pnl=pnl)
            last = pnl
        await asyncio.sleep(every)


# --- the file -------------------------------------------------------------------------------
class JsonLinesFile:
    """An append-only JSON-lines file, one line per event, on disk as it happens.

    Each event is one ``os.write`` on a descriptor opened with ``O_APPEND``: no buffer in
    this process, so a crash of the process (``SIGKILL`` included) loses nothing written.
    Several watches may append to one file: each line lands whole. ``fsync=True`` also
    waits until the line is on the disk itself (it survives a power cut or a kernel
    crash, not just a process crash), at the price of a disk round trip per line, paid
    inside the cascade. The file is created readable by its owner only.
    """

    def __init__(self, path: str | os.PathLike[str], fsync: bool = False) -> None:
        self.path = Path(path)
        self._fsync = fsync
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._fd: int | None = os.open(self.path, flags, 0o600)

    def __call__(self, event: Event) -> None:
        fd = self._fd
        if fd is None:
            raise ValueError(f"{self.path} is closed")
        data = (event.to_json() + "\n").encode()
        while data:
            data = data[os.write(fd, data) :]
        if self._fsync:
            os.fsync(fd)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


@dataclass
class Readback:
    """What ``read_event_log`` found: the events, and the lines it had to skip (and why)."""

    events: list[Event]
    skipped: list[str]

    @property
    def sessions(self) -> list[str]:
        """The session ids in the file, in the order they first appear."""
        return list(dict.fromkeys(event.session_id for event in self.events))


def read_event_log(path: str | os.PathLike[str]) -> Readback:
    """Read a JSON-lines event log; skip (and name) lines that are not whole events.

    A process killed mid-write leaves its last line cut short; a disk that filled up may
    leave one in the middle. Neither stops the reading: the rest is what the watch did.
    """
    events: list[Event] = []
    skipped: list[str] = []
    raw = Path(path).read_bytes()
    lines = raw.split(b"\n")
    last = len(lines) - 1  # after a final newline this piece is empty
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cut = number - 1 == last  # no newline after it: the write may have been cut short
        try:
            events.append(Event.from_json(line.decode()))
        except (UnicodeDecodeError, ValueError) as error:
            why = "cut short (no newline after it)" if cut else type(error).__name__
            skipped.append(f"line {number}: {why}: {_clip(line)}")
    return Readback(events, skipped)


def _clip(line: bytes, size: int = 80) -> str:
    text = line.decode(errors="replace")
    return text if len(text) <= size else text[:size] + "..."


# --- values -------------------------------------------------------------------------------
_SECRET = re.compile(
    r"(?i)\b(api[_-]?key|api[_-]?secret|secret|password|passwd|pwd|token|passphrase"
    r"|authorization|bearer)(\W{1,3})(?:(?:bearer|basic)\s+)?[^\s,;'\"&)}\]]+"
)
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,;:)\]}]")
_HINT = re.compile("key|secret|pass|pwd|token|auth|bearer|@|://")
_SEPARATOR = re.compile(r"[\s=:@]")


def redact(text: str) -> str:
    """Hide what looks like a credential in free text (an error message, a reason).

    The watch writes ids, figures and its own words; free text from elsewhere (an
    exception's message, an operator's reason) could carry a key or a password, e.g. a
    connection string in an error. Those are masked before any line is written; a URL is
    shown as ``redact_url`` shows it (its token may be in the host or the path).
    """
    # cheap looks first: ids and figures (no space, '=', ':' or '@') pass at once
    if _SEPARATOR.search(text) is None or _HINT.search(text.lower()) is None:
        return text
    text = _URL.sub(lambda url: redact_url(url[0]), text)
    return _SECRET.sub(r"\1\2***", text)


def plain(value: object) -> Any:
    """``value`` as plain JSON: Decimals as exact strings, every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [plain(item) for item in items]
    return redact(str(value))


#: One encoder, made once (``json.dumps`` with options builds a new one per call).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=plain)
