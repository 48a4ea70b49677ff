"""What the engine knows: the ids a config may name, and a refusal that helps fix a typo.

A kill switch configured for ``"T-01"`` while the strategy is ``"T-001"`` guards nothing and
looks armed. So every id the config names is looked up in the engine at start, and an
unknown one is refused with the field, the value, the ids the engine does know, and the
nearest of them (``difflib``), because the fix is nearly always a typo.

The strategies the engine knows are found on the message bus by
``engine_hooks.registered_strategies``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from nautilus_riskwatch.nautilus.config import RiskWatchConfigError


def refuse_unknown(field: str, value: object, known: Iterable[object], what: str) -> None:
    """Raise ``RiskWatchConfigError`` for ``value``, naming the known ids and a near match."""
    names = sorted(str(k) for k in known)
    near = difflib.get_close_matches(str(value), names, n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    listed = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "") if names else "none"
    raise RiskWatchConfigError(
        field, str(value), f"the engine has no such {what}{hint} (it has: {listed})"
    )
