"""Ed25519 keys for the firm tests: the operator's pair and one pair per node, made once
per test session in a temporary directory (private keys in files, as ``keygen`` writes)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nautilus_riskwatch.firm.figures import Enrolment
from nautilus_riskwatch.firm.signing import (
    enrol_message,
    generate,
    load_private,
    parse_public,
    rearm_message,
    sign,
    write_private,
)

_DIR = Path(tempfile.mkdtemp(prefix="riskwatch-keys-"))
atexit.register(shutil.rmtree, _DIR, True)


@dataclass(frozen=True)
class KeyPair:
    file: str
    public: str

    @property
    def private(self):
        return load_private(self.file)

    @property
    def verifier(self):
        return parse_public(self.public)


@functools.cache
def pair(name: str) -> KeyPair:
    private, public = generate()
    path = _DIR / f"{name}.key"
    write_private(str(path), private)
    return KeyPair(str(path), public)


OPERATOR = pair("operator")
WRONG = pair("not-the-operator")


async def enrol(link, node: str, key: KeyPair | None = None, operator: KeyPair = OPERATOR):
    """The operator's signed enrolment of ``node`` (its own pair unless given)."""
    key = key or pair(node)
    at_ms = int(time.time() * 1000)
    sig = sign(operator.private, enrol_message(link.firm, node, key.public, at_ms))
    await link.enrol(node, Enrolment(node, key.public, at_ms, sig).text())


def rearm_signature(firm, epoch, by, at_ms, reason, key: KeyPair = OPERATOR) -> str:
    return sign(key.private, rearm_message(firm, epoch, by, at_ms, reason))
