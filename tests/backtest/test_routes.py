"""Routes: the watch takes each instrument's quotes straight from the topic its
subscription made, in the actor's place, and the engine's other subscribers are untouched.
Judged on a real BacktestEngine and its message bus."""

from __future__ import annotations

import re

import pytest
from invariants import checked
from nautilus_trader.model.identifiers import InstrumentId

from nautilus_riskwatch import DrawdownBreached, RiskWatchConfig
from nautilus_riskwatch.demo import build_engine
from nautilus_riskwatch.nautilus.engine_hooks import subscribed_topic

build_engine = checked(build_engine)  # each run checks the invariants (conftest.py)

WATCH = {
    "feeds": [{"instrument_id": "EUR/USD.SIM", "kind": "quote", "stale_after": 90.0}],
    "max_loss": "1000 USD",
    "hedge_tags": ["HEDGE"],
}
EURUSD = InstrumentId.from_str("EUR/USD.SIM")


def _quote_subscribers(msgbus, topic):
    return [s.handler for s in msgbus.subscriptions(topic) if s.topic == topic]


def test_the_route_takes_the_actor_s_place_on_the_quote_topic_and_others_keep_theirs():
    run = build_engine(RiskWatchConfig(**WATCH))
    run.engine.run()
    msgbus = run.engine.kernel.msgbus
    (topic, handler), *more = [v for k, v in run.watch.router.routed.items() if k[0] == "quote"]
    assert not more
    handlers = _quote_subscribers(msgbus, topic)
    assert handler in handlers  # the route
    assert not msgbus.is_subscribed(topic, run.watch.handle_quote_tick)  # one dispatch
    strategies = [
        s
        for s in run.engine.trader.strategies()
        if msgbus.is_subscribed(topic, s.handle_quote_tick)
    ]
    assert strategies  # the demo's strategies still get their quotes
    # and the watch was marking through the route: it tripped where the ledger says
    assert isinstance(run.watch.record.cause, DrawdownBreached)


def test_a_reset_run_is_routed_again_without_a_second_route():
    run = build_engine(RiskWatchConfig(**WATCH))
    run.engine.run()
    first = run.watch.record
    routed = run.watch.router.routed
    run.engine.reset()  # the engine keeps its data: the same day again
    run.engine.run()
    assert run.watch.router.routed == routed  # the same route, kept for the actor's life
    msgbus = run.engine.kernel.msgbus
    (topic, handler) = next(iter(routed.values()))
    assert _quote_subscribers(msgbus, topic).count(handler) == 1
    assert not msgbus.is_subscribed(topic, run.watch.handle_quote_tick)
    second = run.watch.record
    assert second is not first and isinstance(second.cause, DrawdownBreached)
    assert (second.tripped_at_ns, second.cause.loss) == (first.tripped_at_ns, first.cause.loss)


def test_a_topic_the_bus_does_not_hold_is_refused_by_name():
    run = build_engine(RiskWatchConfig(**WATCH))
    msgbus = run.engine.kernel.msgbus
    with pytest.raises(
        RuntimeError, match=re.escape("no quotes topic found on the message bus for EUR/USD.SIM")
    ):
        subscribed_topic(msgbus, run.watch.handle_quote_tick, "quotes", EURUSD)
