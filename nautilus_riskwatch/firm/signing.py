"""Ed25519 keys and the exact bytes each firm signature covers.

Why public-key signatures: whoever can *verify* must not be able to *sign*. The nodes hold
only the operator's public key, so a node (or anyone who reads a node's config) cannot
re-arm the firm; and a stored signature gives nothing to brute-force, as an HMAC over a
guessable secret would. Each node may hold its own private key too, so that its PnL figure
counts as its own: the operator enrols the node's public key with a signature.

Keys are written as text: 64 hex digits (the raw 32 bytes). A private key file holds one
line; ``keygen`` writes it with mode 0600.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from nautilus_riskwatch.errors import RiskWatchError

if TYPE_CHECKING:  # imported where used: the package imports without the [firm] extra
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

_VERSION = "riskwatch-v2"
_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


class FirmKeyError(RiskWatchError, ValueError):
    """A key that cannot be read or parsed (the message names what and why)."""


def check_key_text(text: str) -> str:
    """A key's text (64 hex digits), checked without the cryptography package."""
    if not isinstance(text, str) or not _HEX_KEY.match(text.strip()):
        raise FirmKeyError(f"not an Ed25519 key (64 hex digits): {str(text)[:80]!r}")
    return text.strip().lower()


def generate() -> tuple[str, str]:
    """A new key pair as (private hex, public hex)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    return private.private_bytes_raw().hex(), public_hex(private)


def public_hex(private: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def parse_public(text: str) -> Ed25519PublicKey:
    """An operator's or node's public key from its 64 hex digits."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = bytes.fromhex(text.strip())
        if len(raw) != 32:
            raise ValueError("not 32 bytes")
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise FirmKeyError(f"not an Ed25519 public key (64 hex digits): {text[:80]!r}") from None


def parse_private(text: str) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        raw = bytes.fromhex(text.strip())
        if len(raw) != 32:
            raise ValueError("not 32 bytes")
        return Ed25519PrivateKey.from_private_bytes(raw)
    except ValueError:
        raise FirmKeyError("not an Ed25519 private key (64 hex digits)") from None


def load_private(path: str) -> Ed25519PrivateKey:
    """A private key from its file (first line)."""
    try:
        text = Path(path).read_text().strip().splitlines()
    except OSError as error:
        raise FirmKeyError(f"cannot read the key file {path}: {error.strerror}") from None
    if not text:
        raise FirmKeyError(f"the key file {path} is empty")
    try:
        return parse_private(text[0])
    except FirmKeyError as error:
        raise FirmKeyError(f"{path}: {error}") from None


def write_private(path: str, private_hex: str) -> None:
    """Write a private key readable by its owner only; never overwrite an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(private_hex + "\n")


def sign(private: Ed25519PrivateKey, message: bytes) -> str:
    return private.sign(message).hex()


def verify(public: Ed25519PublicKey | None, message: bytes, signature: str) -> bool:
    """True only for a good signature (no key, bad hex or a bad signature: False)."""
    from cryptography.exceptions import InvalidSignature

    if public is None or not signature:
        return False
    try:
        public.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _message(kind: str, *fields: object) -> bytes:
    """One field a line, after the version and the kind: no field can pass for another."""
    for value in fields:
        if "\n" in str(value):
            raise ValueError(f"a signed field cannot hold a newline: {value!r}")
    return "\n".join([_VERSION, kind, *(str(v) for v in fields)]).encode()


def rearm_message(firm: str, epoch: int, by: str, at_ms: int, reason: str) -> bytes:
    """A re-arm names the firm and the epoch it clears: useless for any other trip."""
    return _message("rearm", firm, epoch, by, at_ms, reason.replace("\n", " "))


def enrol_message(firm: str, node: str, node_key: str, at_ms: int) -> bytes:
    """The operator vouches that ``node_key`` signs the figures of ``node``."""
    return _message("enrol", firm, node, node_key, at_ms)


def forget_message(firm: str, node: str, at_ms: int) -> bytes:
    """The operator takes ``node`` out of the firm (every enrolment made before ``at_ms``)."""
    return _message("forget", firm, node, at_ms)


def figure_message(
    firm: str, node: str, seq: int, pnl: str, currency: str, state: str, rearm: str, ttl_ms: int
) -> bytes:
    """A node's heartbeat: its figure, state and its verdict on the last re-arm.

    ``seq`` only grows (the node's clock in ms, or one more than its last), so a replayed
    figure does not advance and goes stale: a reader judges freshness by ``seq``, not by
    any time stamp someone with write access could refresh."""
    return _message("figure", firm, node, seq, pnl, currency, state, rearm, ttl_ms)
