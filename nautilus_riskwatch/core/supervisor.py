"""The supervisor: one ``TaskGroup`` owns every child of the watch.

Structured concurrency does the hard part: the first child to raise collapses the group,
every sibling is cancelled and awaited (no task outlives the group), and the exceptions
arrive together in one ``ExceptionGroup``. Trips that landed in the same instant are all
there: the first is latched, the rest are recorded as suppressed. Anything else a child
raised is a broken watch, which is itself a trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from nautilus_riskwatch.core.cascade import KillSwitch
from nautilus_riskwatch.core.record import RiskOff
from nautilus_riskwatch.core.trips import Trip, WatchFailure

Child = Callable[[], Coroutine[Any, Any, object]]


async def run_watch(children: Sequence[Child], switch: KillSwitch) -> RiskOff | None:
    """Run the children until one trips, then run the cascade for it.

    Returns the record, or ``None`` if every child returned without tripping.
    Cancelling this while the cascade runs cancels the wait, never the cascade.
    """
    trips: list[Trip] = []
    try:
        async with asyncio.TaskGroup() as group:
            for child in children:
                group.create_task(child())
    except* Trip as tripped:
        trips.extend(_leaves(tripped))
    except* Exception as broken:
        trips.extend(WatchFailure(error, "a watch child") for error in _leaves(broken))
    if not trips:
        return None
    first, *rest = trips
    return await switch.risk_off(first, suppressed=rest)


async def trip_on(read_one: Callable[[], Coroutine[Any, Any, Trip]]) -> None:
    """A child that raises whatever trip arrives: how outside causes join the group."""
    raise await read_one()


def _leaves(group: BaseExceptionGroup[Any]) -> list[Any]:
    leaves: list[Any] = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            leaves.extend(_leaves(error))
        else:
            leaves.append(error)
    return leaves
