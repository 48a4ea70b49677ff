"""The reasons a watch trips.

Every trip is an exception so that it can collapse the supervisor's ``TaskGroup`` the
ordinary way: the first child to raise one cancels its siblings, and ``except*`` hands it to
the cascade. Each carries the facts an operator needs in the record, and its message names
them, because at 3 a.m. "stale" is useless and "EUR/USD.SIM quotes silent for 5s" is not.
"""

from __future__ import annotations

from decimal import Decimal


class Trip(Exception):
    """Base of every cause that pulls the kill switch."""

    kind: str = "trip"

    def describe(self) -> dict[str, str]:
        """Return the cause as plain strings, for the record and the log."""
        return {"kind": self.kind, "message": str(self)}


class StalenessError(Trip):
    """A watched feed delivered nothing within its bound."""

    kind = "stale"

    def __init__(self, source: str, bound: float) -> None:
        super().__init__(f"feed {source!r} delivered nothing for {bound:g}s (its bound)")
        self.source = source
        self.bound = bound

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "source": self.source, "bound": f"{self.bound:g}"}


class DrawdownBreached(Trip):
    """Realized plus unrealized loss reached the ceiling (exact ``Decimal`` comparison)."""

    kind = "drawdown"
    #: How the figure was valued when several currencies (or an inverse instrument) made it
    #: a conversion: a ``convert.Valuation``, for the record; ``None`` for an exact figure.
    valuation: object | None = None

    def __init__(self, loss: Decimal, ceiling: Decimal, currency: str = "") -> None:
        unit = f" {currency}" if currency else ""
        super().__init__(f"loss {loss}{unit} reached the ceiling {ceiling}{unit}")
        self.loss = loss
        self.ceiling = ceiling
        self.currency = currency

    def describe(self) -> dict[str, str]:
        return {
            **super().describe(),
            "loss": str(self.loss),
            "ceiling": str(self.ceiling),
            "currency": self.currency,
        }


class NoExchangeRate(Trip):
    """A currency is held and no exchange rate to the ceiling's currency exists.

    Its figure cannot be compared with the ceiling, and the watch was told not to guess
    (``on_missing_rate="trip"``): a loss it cannot measure is a loss it cannot cap.
    """

    kind = "no-exchange-rate"

    def __init__(self, currency: str, target: str, figure: str = "") -> None:
        held = f" (holding {figure} {currency})" if figure else ""
        super().__init__(
            f"no exchange rate from {currency} to {target}{held}: the loss cannot be measured"
        )
        self.currency = currency
        self.target = target
        self.figure = figure

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "currency": self.currency, "target": self.target}


class ManualKill(Trip):
    """An operator pulled the switch by hand."""

    kind = "manual"

    def __init__(self, reason: str, who: str = "") -> None:
        by = f" by {who}" if who else ""
        super().__init__(f"manual kill{by}: {reason}")
        self.reason = reason
        self.who = who

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "reason": self.reason, "who": self.who}


class WatchFailure(Trip):
    """The watch itself broke.

    A broken watch cannot promise to trip when it should, so it trips now: the book comes
    down flat rather than trading on unguarded.
    """

    kind = "watch-failure"

    def __init__(self, error: BaseException, where: str = "") -> None:
        at = f" in {where}" if where else ""
        super().__init__(f"the watch failed{at}: {type(error).__name__}: {error}")
        self.error = error
        self.where = where

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "error": repr(self.error), "where": self.where}
