"""The operator's command line: pull the firm switch, read it, re-arm it.

    riskwatch firm keygen --out operator.key        # once, on the operator's machine
    riskwatch firm --url redis://host:6379/0 --firm acme status
    riskwatch firm kill --reason "venue outage"
    riskwatch firm rearm --epoch 3 --reason "venue back, checked by risk"
    riskwatch firm enrol NODE-A --node-key <NODE-A's public key>
    riskwatch firm forget NODE-C

``kill`` needs nothing but access to Redis: stopping is always allowed. ``rearm``,
``enrol`` and ``forget`` are signed with the operator's Ed25519 private key
(``--key-file`` or ``RISKWATCH_OPERATOR_KEY_FILE``), which never leaves the operator's
machine; the nodes hold only its public key. Before writing anything the CLI checks that
the key is the one the firm's nodes registered, and refuses otherwise; after a re-arm it
waits for the nodes' verdicts and reports them. Exit status: 0 done, 1 refused (by the CLI,
the script or a node), 2 usage or connection error.
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
from typing import TYPE_CHECKING, TextIO

from nautilus_riskwatch.errors import RiskWatchError
from nautilus_riskwatch.firm.link import FirmLink, FirmStatus
from nautilus_riskwatch.firm.transport import (
    TransportError,
    add_transport_arguments,
    transport_from_arguments,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

#: Where the CLI finds the operator's private key file when ``--key-file`` is not given.
KEY_FILE_ENV = "RISKWATCH_OPERATOR_KEY_FILE"
URL_ENV = "RISKWATCH_REDIS_URL"
FIRM_ENV = "RISKWATCH_FIRM"
SIGNED = ("rearm", "enrol", "forget")


class Refused(RiskWatchError):
    """The command is refused (exit 1); the message says why."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="riskwatch firm", description="The firm-wide kill switch (Redis)."
    )
    parser.add_argument(
        "--url",
        default=os.environ.get(URL_ENV),
        help=f"the firm's Redis, redis://[user@]host:port/db or rediss:// (env {URL_ENV})",
    )
    parser.add_argument(
        "--firm", default=os.environ.get(FIRM_ENV), help=f"the firm's name (env {FIRM_ENV})"
    )
    parser.add_argument(
        "--password-env",
        metavar="VAR",
        help="the environment variable holding the Redis password (keeps it off the URL)",
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per Redis call")
    add_transport_arguments(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser(
        "keygen", help="write a new Ed25519 private key file, print its public key"
    )
    keygen.add_argument("--out", required=True, help="the private key file (mode 0600)")
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
    rearm.add_argument(
        "--wait", type=float, default=5.0, help="seconds to wait for the nodes' verdicts"
    )
    enrol = commands.add_parser("enrol", help="vouch for a node's key: its figures count")
    enrol.add_argument("node")
    enrol.add_argument("--node-key", required=True, help="the node's public key (keygen)")
    forget = commands.add_parser("forget", help="take a node that is gone for good out")
    forget.add_argument("node")
    for command in (rearm, enrol, forget):
        command.add_argument(
            "--key-file",
            default=os.environ.get(KEY_FILE_ENV),
            help=f"the operator's private key file (env {KEY_FILE_ENV})",
        )
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    missing = _missing_extra()
    if missing:
        print(
            f"riskwatch firm: install the [firm] extra: pip install 'nautilus-riskwatch[firm]' "
            f"(missing: {missing})",
            file=out,
        )
        return 2
    if args.command == "keygen":
        return _keygen(args.out, out)
    if not args.url or not args.firm:
        print(f"riskwatch firm: give --url and --firm (or {URL_ENV}, {FIRM_ENV})", file=out)
        return 2
    try:
        transport = transport_from_arguments(args)
    except TransportError as error:
        print(f"riskwatch firm: --{error.field.replace('_', '-')}: {error}", file=out)
        return 2
    key = None
    if args.command in SIGNED:
        from nautilus_riskwatch.firm.signing import FirmKeyError, load_private

        if not args.key_file:
            print(
                f"{args.command} refused: no operator key (--key-file or ${KEY_FILE_ENV}); "
                "nothing was written",
                file=out,
            )
            return 1
        try:
            key = load_private(args.key_file)
        except FirmKeyError as error:
            print(f"{args.command} refused: {error}; nothing was written", file=out)
            return 1
    password = os.environ.get(args.password_env) if args.password_env else None
    try:
        return asyncio.run(_run(args, key, password, out))
    except Refused as refused:
        print(f"{args.command} refused: {refused}", file=out)
        return 1
    except Exception as error:
        where = transport.describe(args.url)
        print(f"riskwatch firm: {where}: {type(error).__name__}: {error}", file=out)
        return 2


def _missing_extra() -> str:
    import importlib.util

    return ", ".join(m for m in ("redis", "cryptography") if importlib.util.find_spec(m) is None)


def _keygen(path: str, out: TextIO) -> int:
    from nautilus_riskwatch.firm.signing import generate, write_private

    private, public = generate()
    try:
        write_private(path, private)
    except OSError as error:
        print(f"keygen refused: {path}: {error.strerror} (an existing key is never overwritten)",
              file=out)  # fmt: skip
        return 1
    print(f"private key written to {path} (keep it there: it never goes to Redis)", file=out)
    print(f"public key: {public}", file=out)
    return 0


async def _run(
    args: argparse.Namespace, key: Ed25519PrivateKey | None, password: str | None, out: TextIO
) -> int:
    link = FirmLink(
        args.url,
        args.firm,
        timeout=args.timeout,
        password=password,
        transport=transport_from_arguments(args),
    )
    try:
        if key is not None:
            await _check_key(link, key, register=args.command != "rearm", out=out)
        if args.command == "kill":
            floor = await link.highest_epoch()
            done, epoch = await link.trip(
                f"operator {args.who}", "manual", args.reason, floor=floor
            )
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
                print(render_status(status, link.transport.describe(args.url)), file=out)
            return 0
        assert key is not None
        if args.command == "rearm":
            return await _rearm(link, args, key, out)
        from nautilus_riskwatch.firm.figures import Enrolment
        from nautilus_riskwatch.firm.signing import (
            FirmKeyError,
            check_key_text,
            enrol_message,
            forget_message,
            sign,
        )

        at_ms = int(time.time() * 1000)
        if args.command == "enrol":
            try:
                node_key = check_key_text(args.node_key)
            except FirmKeyError as error:
                raise Refused(f"--node-key: {error}; nothing was written") from None
            sig = sign(key, enrol_message(args.firm, args.node, node_key, at_ms))
            await link.enrol(args.node, Enrolment(args.node, node_key, at_ms, sig).text())
            print(f"node {args.node} enrolled: figures signed by {node_key[:16]}... count",
                  file=out)  # fmt: skip
            return 0
        if args.command == "forget":
            sig = sign(key, forget_message(args.firm, args.node, at_ms))
            removed = await link.forget(args.node, f"{at_ms} {sig}")
            print(f"node {args.node} {'forgotten' if removed else 'forgotten (was not listed)'}",
                  file=out)  # fmt: skip
            return 0
        return 2
    finally:
        await link.close()


async def _check_key(link: FirmLink, key: Ed25519PrivateKey, *, register: bool,
                     out: TextIO) -> None:  # fmt: skip
    """Refuse a key that is not the firm's registered operator key (before any write)."""
    from nautilus_riskwatch.firm.signing import public_hex

    mine = public_hex(key)
    registered = await link.operator_key()
    if not registered:
        if not register:
            raise Refused(
                "no operator key is registered for this firm (a node with operator_key "
                "registers it when it joins), so this key cannot be checked; nothing was "
                "written"
            )
        if await link.register_operator(mine):
            print(f"registered the firm's operator key {mine[:16]}...", file=out)
            return
        registered = await link.operator_key()
    if registered.strip().lower() != mine:
        raise Refused(
            f"this key ({mine[:16]}...) is not the firm's operator key "
            f"({registered[:16]}...); nothing was written"
        )


async def _rearm(
    link: FirmLink, args: argparse.Namespace, key: Ed25519PrivateKey, out: TextIO
) -> int:
    from nautilus_riskwatch.firm.signing import rearm_message, sign

    at_ms = int(time.time() * 1000)
    reason = " ".join(args.reason.split())
    signature = sign(key, rearm_message(args.firm, args.epoch, args.who, at_ms, reason))
    done, said = await link.rearm(args.epoch, args.who, reason, at_ms, signature)
    if not done:
        print(f"firm {args.firm} rearm refused: {said}", file=out)
        return 1
    print(f"firm {args.firm} re-arm of epoch {args.epoch} written; the nodes' verdicts:",
          file=out)  # fmt: skip
    verdicts = await _verdicts(link, args.epoch, args.wait)
    refused = [name for name, (kind, _) in verdicts.items() if kind in ("refused", "silent")]
    for name, (kind, text) in sorted(verdicts.items()):
        print(f"  {name:<16} {kind.upper():<9} {text}", file=out)
    if not verdicts:
        print("  no running node (stopped nodes verify it when they start)", file=out)
    if refused:
        print(f"firm {args.firm} NOT re-armed on: {', '.join(refused)}", file=out)
        return 1
    print(f"firm {args.firm} RE-ARMED (epoch {args.epoch})", file=out)
    return 0


async def _verdicts(link: FirmLink, epoch: int, wait: float) -> dict[str, tuple[str, str]]:
    """Each running node's word on the re-arm: accepted, refused, waiting, or silent."""
    deadline = time.monotonic() + wait
    while True:
        status = await link.status(events=1)
        verdicts: dict[str, tuple[str, str]] = {}
        for node in status.nodes:
            if node.state == "stopped" or not node.fresh:
                continue
            said = node.rearm
            if said.startswith(f"{epoch} "):
                kind, _, text = said[len(f"{epoch} ") :].partition(":")
                verdicts[node.name] = (kind, text.strip() or node.state)
            elif node.state == "ACTIVE":
                verdicts[node.name] = ("accepted", "trading")
            else:
                verdicts[node.name] = ("silent", f"no verdict yet (state {node.state})")
        pending = [v for v in verdicts.values() if v[0] in ("silent", "waiting")]
        if not pending or time.monotonic() >= deadline:
            return verdicts
        await asyncio.sleep(0.1)


def render_status(status: FirmStatus, where: str = "") -> str:
    """The status as a table people can read at 3 a.m."""
    latch = status.latch
    now = status.now_ms
    head = {"tripped": "TRIPPED", "never": "ARMED (never tripped)", "corrupt": "CORRUPT"}
    state = head.get(latch.state, latch.state)
    if latch.state == "armed":
        from nautilus_riskwatch.firm.signing import FirmKeyError, parse_public

        try:
            operator = parse_public(status.operator) if status.operator else None
        except FirmKeyError:
            operator = None
        state = (
            "ARMED (re-armed, signature verified)"
            if latch.rearm_verified(status.firm, operator)
            else "TRIPPED (re-arm does not verify with the registered operator key)"
        )
    elif latch.state == "never" and latch.epoch:
        state = f"TRIPPED (state {latch.state!r} with epoch {latch.epoch}: no signed re-arm)"
    lines = [f"FIRM {status.firm}   latch {state}   epoch {latch.epoch}   {where}".rstrip()]
    if latch.state == "corrupt":
        lines.append(f"  {latch.reason}: every node halts; `kill` replaces it with a trip")
    elif latch.epoch:
        lines.append(
            f"  tripped  {_clock(latch.at_ms)} ({_ago(now, latch.at_ms)}) by {latch.origin}: "
            f"[{latch.cause}] {latch.reason}"
        )
    if latch.state == "armed":
        lines.append(
            f"  re-armed {_clock(latch.rearm_at_ms)} by {latch.rearm_by}: {latch.rearm_reason}"
        )
    lines.append("")
    rows = [("NODE", "STATE", "PNL", "HEARTBEAT", "KEY", "HOST")]
    total, currencies = Decimal(0), set()
    for node in status.nodes:
        beat = "never" if node.age_s is None else f"{node.age_s:.1f}s ago"
        if not node.fresh:
            beat += f"  LOST (ttl {node.ttl_s:g}s)"
        pnl = "-" if node.pnl is None else f"{node.pnl} {node.currency}"
        state = node.state + (f" (re-arm {node.rearm})" if node.rearm else "")
        rows.append((node.name, state, pnl, beat, "enrolled" if node.proven else "-", node.info))
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
            lines.append(f"  firm PnL (last figures as written): {total} {currencies.pop()}")
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
        "operator_key": status.operator,
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
