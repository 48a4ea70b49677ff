"""What the firm latch says, and what a node may conclude from it.

Pure data: no Redis here, so the rules can be read (and tested) on their own.

The rule in one sentence: **a latch that has ever tripped (epoch >= 1) means "tripped"
unless it carries the operator's verified re-arm of that very epoch.** So nothing a Redis
writer does short of the operator's signature reads as "armed": setting ``state`` to
``never``, deleting a field, writing garbage, or giving the key another type all read as
tripped. *Killing* needs nothing (anyone who can write to Redis can trip the firm, and
should be able to: a false trip costs money, a missed one costs the firm). *Re-arming*
carries an Ed25519 signature (``signing.rearm_message``) that every node checks with the
operator's public key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from nautilus_riskwatch.firm.signing import rearm_message, verify

STATES = ("never", "tripped", "armed")
#: The state of a latch that cannot be read (wrong Redis type, unreadable fields).
CORRUPT = "corrupt"


@dataclass(frozen=True)
class Latch:
    """The firm latch as read from Redis.

    ``state`` is ``"never"`` (no trip ever), ``"tripped"``, ``"armed"`` (re-armed after trip
    ``epoch``; valid only with a good signature) or ``"corrupt"`` (``detail`` says why).
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
    def corrupt(cls, why: str, epoch: int = 0) -> Latch:
        return cls(CORRUPT, epoch, origin="redis", cause="corrupt-latch", reason=why, detail=why)

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> Latch:
        """From ``HGETALL`` (decoded); an empty hash is a latch that never tripped."""
        if not raw:
            return cls("never")
        bad: list[str] = []

        def number(key: str) -> int:
            value = raw.get(key)
            if value in (None, ""):
                return 0
            try:
                return int(value)
            except (TypeError, ValueError):
                bad.append(f"{key}={str(value)[:40]!r}")
                return 0

        state = raw.get("state") or "never"
        if state not in STATES:
            bad.append(f"state={str(state)[:40]!r}")
        latch = cls(
            state=state,
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
        if bad or latch.epoch < 0:
            return cls.corrupt(
                "the firm latch has unreadable fields: " + (", ".join(bad) or "negative epoch"),
                max(latch.epoch, 0),
            )
        return latch

    @property
    def tripped(self) -> bool:
        """What the latch *says* (the CLI's view); nodes use ``halts`` instead."""
        return self.state == "tripped"

    def rearm_verified(self, firm: str, operator: Ed25519PublicKey | None) -> bool:
        """True if this is a re-armed latch whose signature the operator's key confirms."""
        if self.state != "armed" or self.epoch < 1:
            return False
        message = rearm_message(
            firm, self.epoch, self.rearm_by, self.rearm_at_ms, self.rearm_reason
        )
        return verify(operator, message, self.rearm_sig)

    def halts(self, firm: str, operator: Ed25519PublicKey | None) -> bool:
        """Must a node be halted by this reading? Yes for any latch that has tripped
        (or cannot be read), unless the operator's re-arm of its epoch verifies."""
        if self.state == CORRUPT:
            return True
        if self.epoch < 1:
            return self.state == "tripped"
        return not self.rearm_verified(firm, operator)

    def why_halted(self) -> str:
        """The reason a node gives for halting on this reading: the trip's own, or what is
        wrong with the latch."""
        if self.state in ("tripped", CORRUPT):
            return self.reason
        if self.state == "armed":
            return f"the re-arm of epoch {self.epoch} does not verify (last trip: {self.reason})"
        return f"the latch of epoch {self.epoch} says {self.state!r} with no signed re-arm" + (
            f" (last trip: {self.reason})" if self.reason else ""
        )
