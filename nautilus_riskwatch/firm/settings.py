"""What a node hands its ``FirmMember``: ``FirmSettings`` (the checked firm section, one
frozen value) and ``MemberHooks`` (how the member acts on the node).

Apart from the member so that the config side (``nautilus/config.py`` takes its defaults
from here, ``nautilus/firm_settings.py`` builds the settings) and the bridge read them
without importing the member's tasks, and all of them name one type for each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from nautilus_riskwatch.core.redact import redact_url
from nautilus_riskwatch.firm.latch import Latch
from nautilus_riskwatch.firm.transport import Transport

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

HEARTBEAT_POLICIES = ("trip", "count_last")
LINK_LOST_POLICIES = ("trade_on", "halt")
START_POLICIES = ("halt", "trade_on")


@dataclass(frozen=True)
class FirmSettings:
    """Checked firm settings (see ``FirmConfig`` for what each means)."""

    url: str
    firm: str
    node: str
    heartbeat: float = 0.5
    heartbeat_ttl: float = 2.0
    max_loss: Decimal | None = None
    currency: str = ""
    on_heartbeat_lost: str = "trip"
    on_link_lost: str = "trade_on"
    link_lost_after: float = 5.0
    on_unreachable_at_start: str = "halt"
    timeout: float = 1.0
    operator_key: str = ""  # the operator's Ed25519 public key (hex): verifies re-arms
    key_file: str | None = None  # this node's Ed25519 private key: signs its figures
    password_env: str | None = None
    epoch_file: str | None = None  # where this node remembers the highest epoch it saw
    transport: Transport = field(default_factory=Transport)  # TLS files, Sentinel addresses
    operator: Ed25519PublicKey | None = field(default=None, repr=False)  # parsed at start
    signer: Ed25519PrivateKey | None = field(default=None, repr=False)  # loaded at start
    password: str | None = field(default=None, repr=False)  # from password_env at start

    def __repr__(self) -> str:  # the URL may carry a password; keys are never shown
        return (
            f"FirmSettings(url={redact_url(self.url)!r}, firm={self.firm!r}, node={self.node!r}, "
            f"max_loss={self.max_loss} {self.currency}, "
            f"operator_key={self.operator_key[:16] + '...' if self.operator_key else 'none'}, "
            f"key_file={self.key_file!r})"
        )


@dataclass
class MemberHooks:
    """How the member acts on its node (all called on the node's loop thread)."""

    trip_firm: Callable[[Latch], None]  # trip locally with FirmKill
    trip_unreachable: Callable[[str], None]  # trip locally with FirmUnreachable
    rearm: Callable[[Latch], bool]  # re-arm locally; False if the watch refused
    tripped: Callable[[], bool]  # is the node's portfolio guard tripped?
    figures: Callable[[], tuple[Decimal | None, str]]  # (exact PnL or None, state)
    log: Callable[[str, str], None]  # (level, message)
