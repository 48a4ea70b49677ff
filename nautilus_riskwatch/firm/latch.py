"""What the firm latch says, and the signature that alone can re-enable trading.

Pure data and ``hmac``: no Redis here, so the rules can be read (and tested) on their own.

The security model in one paragraph: *killing* needs nothing (anyone who can write to Redis
can trip the firm, and should be able to: a false trip costs money, a missed one costs the
firm). *Re-arming* is the dangerous direction, so a re-arm carries an HMAC-SHA256 over the
firm, the epoch it clears, who, when and why, made with an operator secret that Redis never
sees. Every node verifies it with its own copy of the secret and ignores a re-arm that fails:
write access to Redis alone cannot re-enable trading. The epoch (incremented by every trip)
makes an old signed re-arm useless for a later trip.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

#: The environment variable the CLI and the nodes read the operator secret from by default.
SECRET_ENV = "RISKWATCH_FIRM_SECRET"
_SIGNATURE_VERSION = "riskwatch-rearm-v1"


class FirmSecretMissing(RuntimeError):
    """No operator secret: a re-arm cannot be signed (or verified)."""


def load_secret(env: str = SECRET_ENV, file: str | None = None) -> bytes | None:
    """The operator secret from a file (first line, stripped) or an environment variable."""
    if file:
        text = Path(file).read_text().strip()
        return text.encode() if text else None
    value = os.environ.get(env, "").strip()
    return value.encode() if value else None


def rearm_message(firm: str, epoch: int, by: str, at_ms: int, reason: str) -> bytes:
    """The exact bytes a re-arm signature covers (one field a line, reason last)."""
    return f"{_SIGNATURE_VERSION}\n{firm}\n{epoch}\n{by}\n{at_ms}\n{reason}".encode()


def sign_rearm(secret: bytes, firm: str, epoch: int, by: str, at_ms: int, reason: str) -> str:
    """The hex HMAC-SHA256 of a re-arm."""
    return hmac.new(
        secret, rearm_message(firm, epoch, by, at_ms, reason), hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True)
class Latch:
    """The firm latch as read from Redis.

    ``state`` is ``"never"`` (no trip ever: the firm is new, or Redis lost it), ``"tripped"``
    or ``"armed"`` (re-armed after trip ``epoch``; valid only with a good signature).
    """

    state: str
    epoch: int = 0
    origin: str = ""
    cause: str = ""
    reason: str = ""
    detail: str = ""
    at_ms: int = 0
    rearm_by: str = ""
    rearm_reason: str = ""
    rearm_at_ms: int = 0
    rearm_sig: str = ""

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> Latch:
        """From ``HGETALL`` (decoded); an empty hash is a latch that never tripped."""
        if not raw:
            return cls("never")

        def number(key: str) -> int:
            try:
                return int(raw.get(key) or 0)
            except ValueError:
                return 0

        return cls(
            state=raw.get("state") or "never",
            epoch=number("epoch"),
            origin=raw.get("origin", ""),
            cause=raw.get("cause", ""),
            reason=raw.get("reason", ""),
            detail=raw.get("detail", ""),
            at_ms=number("at_ms"),
            rearm_by=raw.get("rearm_by", ""),
            rearm_reason=raw.get("rearm_reason", ""),
            rearm_at_ms=number("rearm_at_ms"),
            rearm_sig=raw.get("rearm_sig", ""),
        )

    @property
    def tripped(self) -> bool:
        return self.state == "tripped"

    def rearm_verified(self, firm: str, secret: bytes | None) -> bool:
        """True if this is a re-armed latch whose signature the ``secret`` confirms."""
        if self.state != "armed" or secret is None or not self.rearm_sig:
            return False
        expected = sign_rearm(
            secret, firm, self.epoch, self.rearm_by, self.rearm_at_ms, self.rearm_reason
        )
        return hmac.compare_digest(expected, self.rearm_sig)


@dataclass(frozen=True)
class NodeEntry:
    """One node's heartbeat as the CLI shows it."""

    name: str
    pnl: Decimal | None
    currency: str
    state: str
    age_s: float | None  # seconds since the last heartbeat, on the server's clock
    ttl_s: float
    info: str

    @property
    def fresh(self) -> bool:
        return self.state == "stopped" or (self.age_s is not None and self.age_s <= self.ttl_s)

    @classmethod
    def from_hash(cls, name: str, raw: dict[str, str], now_ms: int) -> NodeEntry:
        try:
            pnl: Decimal | None = Decimal(raw["pnl"])
        except (KeyError, InvalidOperation):
            pnl = None
        at = raw.get("at_ms")
        return cls(
            name=name,
            pnl=pnl,
            currency=raw.get("currency", ""),
            state=raw.get("state", "?"),
            age_s=None if not at else (now_ms - int(at)) / 1000,
            ttl_s=int(raw.get("ttl_ms") or 0) / 1000,
            info=raw.get("info", ""),
        )
