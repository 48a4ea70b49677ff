"""The operator's command line: pull the firm switch, read it, re-arm it.

    python -m nautilus_riskwatch firm --url redis://host:6379/0 --firm acme status
    riskwatch firm kill --reason "venue outage"
    riskwatch firm rearm --epoch 3 --reason "venue back, checked by risk"

``kill`` needs nothing but access to Redis: stopping is always allowed. ``rearm`` names
the epoch it clears and is signed with the operator secret (``RISKWATCH_FIRM_SECRET`` or
``--secret-file``); without a secret it refuses before touching Redis. ``--url`` and
``--firm`` default to ``RISKWATCH_REDIS_URL`` and ``RISKWATCH_FIRM``; a password can come
from ``--password-env`` instead of the URL. Exit status: 0 done, 1 refused, 2 usage or
connection error.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TextIO

from nautilus_riskwatch.firm.latch import SECRET_ENV, load_secret
from nautilus_riskwatch.firm.link import FirmLink, FirmStatus, redact


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="riskwatch firm", description="The firm-wide kill switch (Redis)."
    )
    parser.add_argument("--url", default=os.environ.get("RISKWATCH_REDIS_URL"))
    parser.add_argument("--firm", default=os.environ.get("RISKWATCH_FIRM"))
    parser.add_argument("--password-env", help="environment variable with the Redis password")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per Redis call")
    commands = parser.add_subparsers(dest="command", required=True)
    kill = commands.add_parser("kill", help="trip every node of the firm now")
    kill.add_argument("--reason", required=True)
    kill.add_argument("--who", default=_operator())
    status = commands.add_parser("status", help="the latch, every node, the last events")
    status.add_argument("--events", type=int, default=10)
    status.add_argument("--json", action="store_true", help="machine-readable")
    rearm = commands.add_parser("rearm", help="re-enable trading (signed, names the epoch)")
    rearm.add_argument("--epoch", type=int, required=True)
    rearm.add_argument("--reason", required=True)
    rearm.add_argument("--who", default=_operator())
    rearm.add_argument("--secret-file", help=f"file with the operator secret (else ${SECRET_ENV})")
    forget = commands.add_parser("forget", help="drop a node that is gone for good")
    forget.add_argument("node")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    if not args.url or not args.firm:
        print("riskwatch firm: give --url and --firm (or RISKWATCH_REDIS_URL, RISKWATCH_FIRM)",
              file=out)  # fmt: skip
        return 2
    secret = None
    if args.command == "rearm":
        try:
            secret = load_secret(SECRET_ENV, args.secret_file)
        except OSError as error:
            print(f"rearm refused: cannot read the secret file: {error}", file=out)
            return 1
        if secret is None:
            print(
                f"rearm refused: no operator secret (set ${SECRET_ENV} or --secret-file); "
                "an unsigned re-arm would be ignored by every node",
                file=out,
            )
            return 1
    password = os.environ.get(args.password_env) if args.password_env else None
    try:
        return asyncio.run(_run(args, secret, password, out))
    except Exception as error:
        print(f"riskwatch firm: {redact(args.url)}: {type(error).__name__}: {error}", file=out)
        return 2


async def _run(args: argparse.Namespace, secret: bytes | None, password: str | None,
               out: TextIO) -> int:  # fmt: skip
    link = FirmLink(args.url, args.firm, timeout=args.timeout, password=password)
    try:
        if args.command == "kill":
            done, epoch = await link.trip(f"operator {args.who}", "manual", args.reason)
            if done:
                print(f"firm {args.firm} TRIPPED (epoch {epoch}) by {args.who}: {args.reason}",
                      file=out)  # fmt: skip
            else:
                print(f"firm {args.firm} was already tripped (epoch {epoch}); this kill is "
                      "recorded as suppressed", file=out)  # fmt: skip
            return 0
        if args.command == "status":
            status = await link.status(args.events)
            if args.json:
                print(json.dumps(_as_json(status), indent=2, default=str), file=out)
            else:
                print(render_status(status, redact(args.url)), file=out)
            return 0
        if args.command == "rearm":
            assert secret is not None
            at_ms = int(time.time() * 1000)
            done, said = await link.rearm(args.epoch, args.who, args.reason, secret, at_ms)
            verb = "RE-ARMED" if done else "rearm refused"
            print(f"firm {args.firm} {verb}: {said}", file=out)
            return 0 if done else 1
        if args.command == "forget":
            removed = await link.forget(args.node)
            print(f"node {args.node} {'forgotten' if removed else 'was not known'}", file=out)
            return 0
        return 2
    finally:
        await link.close()


def render_status(status: FirmStatus, where: str = "") -> str:
    """The status as a table people can read at 3 a.m."""
    latch = status.latch
    now = status.now_ms
    head = {"tripped": "TRIPPED", "armed": "ARMED (re-armed)", "never": "ARMED (never tripped)"}
    lines = [
        f"FIRM {status.firm}   latch {head.get(latch.state, latch.state)}   "
        f"epoch {latch.epoch}   {where}".rstrip()
    ]
    if latch.epoch:
        lines.append(
            f"  tripped  {_clock(latch.at_ms)} ({_ago(now, latch.at_ms)}) by {latch.origin}: "
            f"[{latch.cause}] {latch.reason}"
        )
    if latch.state == "armed":
        lines.append(
            f"  re-armed {_clock(latch.rearm_at_ms)} by {latch.rearm_by}: {latch.rearm_reason}"
            "  (nodes verify the signature)"
        )
    lines.append("")
    rows = [("NODE", "STATE", "PNL", "HEARTBEAT", "HOST")]
    total, currencies = Decimal(0), set()
    for node in status.nodes:
        beat = "never" if node.age_s is None else f"{node.age_s:.1f}s ago"
        if not node.fresh:
            beat += f"  LOST (ttl {node.ttl_s:g}s)"
        pnl = "-" if node.pnl is None else f"{node.pnl} {node.currency}"
        rows.append((node.name, node.state, pnl, beat, node.info))
        if node.pnl is not None:
            total += node.pnl
            currencies.add(node.currency)
    if len(rows) == 1:
        lines.append("  no node has joined")
    else:
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            lines.append(
                "  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
            )
        if len(currencies) == 1:
            lines.append(f"  firm PnL (last figures): {total} {currencies.pop()}")
    lines.append("")
    lines.append("LAST EVENTS (newest first)")
    for event in status.events:
        f = event.fields
        lines.append(
            f"  {_clock(event.at_ms)}  {f.get('event', '?'):<13} epoch {f.get('epoch', '-'):<4} "
            f"{f.get('origin', '')}  {('[' + f['cause'] + '] ') if f.get('cause') else ''}"
            f"{f.get('reason', '')}"
        )
    if not status.events:
        lines.append("  none")
    return "\n".join(lines)


def _as_json(status: FirmStatus) -> dict[str, object]:
    latch = status.latch
    return {
        "firm": status.firm,
        "latch": {k: v for k, v in vars(latch).items() if k != "rearm_sig"},
        "nodes": [
            {**vars(n), "pnl": None if n.pnl is None else str(n.pnl), "fresh": n.fresh}
            for n in status.nodes
        ],
        "events": [{"id": e.id, **e.fields} for e in status.events],
        "now_ms": status.now_ms,
    }


def _clock(ms: int) -> str:
    if not ms:
        return "-"
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d} UTC"


def _ago(now_ms: int, ms: int) -> str:
    seconds = max(0, now_ms - ms) / 1000
    return f"{seconds:.1f}s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def _operator() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "?"
    return f"{user}@{socket.gethostname()}"
