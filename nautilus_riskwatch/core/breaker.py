"""The drawdown breaker: exact ``Decimal`` loss against a ceiling.

It is woken by every new loss figure (marks and fills both move it), compares with ``>=``
on Decimals, and raises. It never rounds and never touches a float: a ceiling of
``5000.00`` trips at a loss of ``5000.00``, not at ``4999.999999``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import NoReturn

from nautilus_riskwatch.core.trips import DrawdownBreached


async def breaker(
    read_loss: Callable[[], Awaitable[Decimal]],
    ceiling: Decimal,
    currency: str = "",
) -> NoReturn:
    """Raise ``DrawdownBreached`` on the first loss that reaches ``ceiling``.

    ``read_loss`` returns the newest loss (positive = money lost), waiting for a new one.
    """
    if not isinstance(ceiling, Decimal):
        raise TypeError(f"ceiling must be a Decimal, got {type(ceiling).__name__} {ceiling!r}")
    if not ceiling > 0:
        raise ValueError(f"ceiling must be positive, got {ceiling}")
    while True:
        loss = await read_loss()
        if loss >= ceiling:
            raise DrawdownBreached(loss, ceiling, currency)
