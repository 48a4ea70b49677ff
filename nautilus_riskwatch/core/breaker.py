"""The drawdown breaker: exact ``Decimal`` loss against a ceiling.

Every new loss figure (marks and fills both move it) is compared with the ceiling, with
``>=`` on Decimals, and the first that reaches it trips. It never rounds and never touches
a float: a ceiling of ``5000.00`` trips at a loss of ``5000.00``, not at ``4999.999999``.

Why a predicate: the comparison is handed to the feed (``read_loss(until=...)``), which
makes it as each figure arrives, so the breaker task sleeps through every figure below
the ceiling instead of being woken a million times to say "not yet".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import NoReturn

from nautilus_riskwatch.core.trips import DrawdownBreached


async def breaker(
    read_loss: Callable[..., Awaitable[Decimal]],
    ceiling: Decimal,
    currency: str = "",
) -> NoReturn:
    """Raise ``DrawdownBreached`` on the first loss that reaches ``ceiling``.

    ``read_loss(until=predicate)`` returns the newest loss (positive = money lost) for
    which the predicate holds, waiting for one: ``Feed.read_one`` has that signature.
    """
    if not isinstance(ceiling, Decimal):
        raise TypeError(f"ceiling must be a Decimal, got {type(ceiling).__name__} {ceiling!r}")
    if not ceiling > 0:
        raise ValueError(f"ceiling must be positive, got {ceiling}")

    def reached(loss: Decimal) -> bool:
        return loss >= ceiling

    while True:
        loss = await read_loss(until=reached)
        if reached(loss):
            breach = DrawdownBreached(loss, ceiling, currency)
            breach.valuation = getattr(loss, "valuation", None)  # a converted figure's story
            raise breach
