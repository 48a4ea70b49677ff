"""``RiskWatchError``: the one base of every error the package raises that is not a trip.

Why a common base: a user wrapping the watch (a node's start-up script, an operator's
tooling) wants one ``except RiskWatchError`` for "the watch refused this" (a config value, a
re-arm, a firm key, an alert URL), distinct from NautilusTrader's own errors and from the
trips (``core.trips.Trip``), which are causes the watch acts on, never errors it raises to
a caller. Each subclass also keeps the builtin it has always been (``ValueError`` for a
bad value), so ``except ValueError`` around a config keeps working.

This module imports nothing, so every room of the package (the engine-free core and
``firm`` included) can name the base.
"""

from __future__ import annotations


class RiskWatchError(Exception):
    """Something the watch refused or could not do, and why; never a trip."""


class RiskWatchConfigError(RiskWatchError, ValueError):
    """A config value the watch refuses, with the field and the value named."""

    def __init__(self, field: str, value: object, why: str) -> None:
        super().__init__(f"riskwatch config: {field}={value!r}: {why}")
        self.field = field
        self.value = value
