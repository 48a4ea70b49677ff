"""The watch's own closes: the one rule that knows them, and their client order ids.

A close is the watch's own by its tag (``close_tag``): the tag rides on the order in the
cache, across a restart, and in every fill's order, so the gate lets it pass, the flatten
counts it as in flight, the event log marks its fills ``closing`` and the picture draws
them, all by ``is_watch_close``. The id is for people and for the engine's conventions:
NautilusTrader's own form, ``O-<date>-<time>-<trader tag>-<tag>-<count>``, made by its
``ClientOrderIdGenerator`` with the watch's name where a strategy's tag would be. So a
close reads as an ordinary NautilusTrader order in a log or a venue report, and as the
watch's at a glance, and never collides with a strategy's own ids (their tags differ).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from nautilus_trader.common.generators import ClientOrderIdGenerator
from nautilus_trader.model.identifiers import ClientOrderId, StrategyId

if TYPE_CHECKING:
    from nautilus_trader.common.actor import Actor


def is_watch_close(tags: Iterable[str] | None, close_tag: str) -> bool:
    """True for an order (by its tags) that is one of the watch's own closes."""
    return close_tag in (tags or ())


def close_id_tag(actor_id: object) -> str:
    """The watch's part of its closes' ids: its component id without separators (a
    NautilusTrader id tag is the text after the last hyphen)."""
    return re.sub(r"[^0-9A-Za-z]", "", str(actor_id)) or "RiskWatch"


class CloseIds:
    """Client order ids for one watch's closes, shared by all its books (scopes).

    Made on first use: the actor's trader id and clock exist once it is registered. An
    id already in the cache (a watch restarted within the same second) is skipped, as
    NautilusTrader's ``OrderFactory`` skips one.
    """

    def __init__(self, actor: Actor) -> None:
        self._actor = actor
        self._generator: ClientOrderIdGenerator | None = None

    def next(self) -> ClientOrderId:
        """The next id, in NautilusTrader's ``O-...`` form, unused in the cache."""
        actor = self._actor
        generator = self._generator
        if generator is None:
            generator = self._generator = ClientOrderIdGenerator(
                trader_id=actor.trader_id,
                strategy_id=StrategyId(f"RISKWATCH-{close_id_tag(actor.id)}"),
                clock=actor.clock,
            )
        cache = actor.cache
        client_order_id = generator.generate()
        while cache.order_exists(client_order_id):
            client_order_id = generator.generate()
        return client_order_id
