"""Exact money: the one ``Decimal`` context every figure of the watch is computed in.

Why one context: a loss compared with ``loss >= ceiling`` must be the true loss, so no sum,
difference or product of money may ever be rounded. Python's default context rounds to 28
significant digits, which could round a drawdown of ``99.99...9`` up to a ceiling of
``100``. Every piece of money arithmetic (the ledger, the breakers, the conversion to the
ceiling currency) therefore goes through ``EXACT``, which traps ``Inexact``: an operation
either gives the exact result or raises, and a watch that raises trips on its own failure
rather than judging a rounded figure.

Why 80 digits: more than any figure a real book makes, with room to spare. NautilusTrader's
prices and quantities are fixed-point with at most 16 decimals, and a config amount has at
most 30 digits before the point and 16 after; a sum of many fills of such numbers stays well
under 80 significant digits. A bound keeps a runaway figure from growing without limit (at
``MAX_PREC`` a division like ``1 / 3`` would try to allocate every digit and fail with a
``MemoryError``): past 80 digits the figure is refused (``Inexact``), never rounded. Rationals
(an inverse instrument's ``1 / price``, an exchange rate) are ``Fraction``s, not ``Decimal``s:
nothing here divides.

``InvalidOperation`` is trapped too, so a NaN or an infinity never slips through as a figure
that compares as nothing.
"""

from __future__ import annotations

from decimal import Context, Decimal, Inexact, InvalidOperation
from fractions import Fraction

#: Significant digits a figure may have before it is refused (see the module's docstring).
EXACT_DIGITS = 80

#: The one exact context: an exact result, or ``Inexact`` / ``InvalidOperation`` raised.
EXACT = Context(prec=EXACT_DIGITS, traps=[Inexact, InvalidOperation])

#: An exact figure in one currency: a ``Decimal`` when it is a finite decimal (every linear
#: book), a ``Fraction`` when an inverse instrument made it a true rational.
Exact = Decimal | Fraction

__all__ = ["EXACT", "EXACT_DIGITS", "Exact"]
