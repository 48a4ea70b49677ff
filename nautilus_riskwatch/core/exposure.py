"""The exposure caps: the most one may hold on an instrument, and in all.

Knight Capital's loss was the last thing to show; the position came first. A cap on the
absolute net quantity per instrument (``position``) and on the gross exposure (``gross``:
the sum over instruments of |net| x mark x multiplier, in the cap's currency) stops the
algorithm when it holds more than it may, whatever the PnL says.

Both compare exact ``Decimal`` figures, strictly: equal to the cap is allowed (a cap is the
most one may hold), one unit more trips. The position is judged at the fill that changes it
(nothing else moves it), so it is a plain check the fill handler calls. The gross exposure
moves with every mark as well, so it is a breaker of the family in ``limits``: the same
judging in ``Feed.put``, the same refusals of a float or a NaN, the same quiet band (every
figure up to the cap cannot matter), only its comparison is strict. A converted gross
figure is to be handed over rounded up (toward the trip), as the loss is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import NoReturn

from nautilus_riskwatch.core.limits import Quiet, QuietSink, _first_breach
from nautilus_riskwatch.core.trips import ExposureBreached

__all__ = ["check_position", "gross_breaker", "position_breaker"]


def check_position(net: Decimal, cap: Decimal, instrument: str = "") -> None:
    """Raise ``ExposureBreached("position", |net|, cap)`` if ``|net|`` exceeds ``cap``.

    ``net`` is the net quantity after a fill (its sign does not matter: short is as much
    exposure as long). A cap of 0 is allowed: the instrument may not be held at all.
    """
    _check_decimal(cap, "position cap")
    if cap < 0:
        raise ValueError(f"a position cap must be 0 or more, got {cap}")
    _check_decimal(net, "net quantity")
    size = abs(net)
    if size > cap:
        raise ExposureBreached("position", size, cap, instrument=instrument)


async def position_breaker(
    read_net: Callable[..., Awaitable[tuple[str, Decimal]]], caps: Mapping[str, Decimal]
) -> NoReturn:
    """Raise ``ExposureBreached("position", ...)`` at the first net quantity over its cap: a
    supervisor child. ``read_net(until=predicate)`` (``Feed.read_one``) delivers ``(instrument,
    net)`` after each fill that moves a capped instrument; one judged in ``put``, so a burst of
    fills in one instant is judged fill by fill."""
    for instrument, cap in caps.items():
        _check_decimal(cap, f"position cap of {instrument}")
        if cap < 0:
            raise ValueError(f"a position cap must be 0 or more, got {cap} for {instrument}")

    def judge(item: tuple[str, Decimal]) -> bool:
        instrument, net = item
        cap = caps.get(instrument)
        return cap is not None and abs(net) > cap

    instrument, net = await read_net(until=judge)
    check_position(net, caps[instrument], instrument)
    raise AssertionError("unreachable: the judge saw the net over its cap")  # pragma: no cover


async def gross_breaker(
    read_gross: Callable[..., Awaitable[Decimal]],
    cap: Decimal,
    currency: str = "",
    quiet: QuietSink | None = None,
) -> NoReturn:
    """Raise ``ExposureBreached("gross", ...)`` on the first gross figure over ``cap``.

    ``read_gross(until=predicate)`` is ``Feed.read_one`` of the gross figures; ``quiet`` is
    told the band that cannot matter (below the cap; the cap itself is judged, and holds).
    """
    _check_decimal(cap, "gross cap")
    if not cap > 0:
        raise ValueError(f"a gross cap must be positive, got {cap}")
    band = Quiet(None, cap)

    def judge(gross: Decimal) -> Decimal | None:
        return gross if gross > cap else None

    gross, figure = await _first_breach(read_gross, judge, lambda: band, quiet, what="gross")
    breach = ExposureBreached("gross", gross, cap, currency=currency)
    breach.valuation = getattr(figure, "valuation", None)
    raise breach


def _check_decimal(value: Decimal, what: str) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"a {what} must be a Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise ValueError(f"a {what} must be finite, got {value}")
