"""The watch's quote handler cut after each of its steps, for ``attribute.py``.

Each stage is a copy of the real handler that stops after one more step; ``apply`` puts a
stage in the real one's place in a benchmark worker (``per_quote.py --worker-patch``). The
stages mirror the handler of the code they are applied to, so they are written per
version: ``STAGES_BEFORE`` for the actor's ``on_quote_tick`` as it was before issue 15
(commit ad68989), ``STAGES_AFTER`` for the router's ``PriceRouter._quote`` of the present
one (the route replaces the actor's dispatch: its "entry" is the whole dispatch). A stage
that does not apply to the code loaded raises at once.

Not API, not tested: a tool to measure with.
"""

from __future__ import annotations

from typing import Any


# --- the callback before issue 15, cut after each step ------------------------------------
def _b_entry(self: Any, tick: Any) -> None:
    try:
        time = self._time  # noqa: F841
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _b_sync(self: Any, tick: Any) -> None:
    try:
        time = self._time
        time.sync()
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _b_put(self: Any, tick: Any) -> None:
    try:
        time = self._time
        time.sync()
        instrument_id = tick.instrument_id
        feed = self._quote_feeds.get(instrument_id)
        if feed is not None:
            feed.put(tick)
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _b_convert(self: Any, tick: Any) -> None:
    try:
        time = self._time
        time.sync()
        instrument_id = tick.instrument_id
        feed = self._quote_feeds.get(instrument_id)
        if feed is not None:
            feed.put(tick)
        rated = self._rated
        if rated and instrument_id in rated:
            raise AssertionError("no rates in this scenario")
        scopes = self._marking.get(instrument_id)
        if scopes:
            marks = self._marks[instrument_id]  # noqa: F841
            bid, ask = self._decimal(tick.bid_price), self._decimal(tick.ask_price)  # noqa: F841
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _b_marks(self: Any, tick: Any) -> None:
    try:
        time = self._time
        time.sync()
        instrument_id = tick.instrument_id
        feed = self._quote_feeds.get(instrument_id)
        if feed is not None:
            feed.put(tick)
        rated = self._rated
        if rated and instrument_id in rated:
            raise AssertionError("no rates in this scenario")
        scopes = self._marking.get(instrument_id)
        if scopes:
            marks = self._marks[instrument_id]
            bid, ask = self._decimal(tick.bid_price), self._decimal(tick.ask_price)
            marks.quote(bid, ask, tick.ts_init)
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _b_revalue(self: Any, tick: Any) -> None:
    try:
        time = self._time
        time.sync()
        instrument_id = tick.instrument_id
        feed = self._quote_feeds.get(instrument_id)
        if feed is not None:
            feed.put(tick)
        rated = self._rated
        if rated and instrument_id in rated:
            raise AssertionError("no rates in this scenario")
        scopes = self._marking.get(instrument_id)
        if scopes:
            marks = self._marks[instrument_id]
            bid, ask = self._decimal(tick.bid_price), self._decimal(tick.ask_price)
            if marks.quote(bid, ask, tick.ts_init):
                for scope in scopes:  # _remark without the publish
                    scope.ledger.mark(instrument_id, marks.bid, marks.ask)
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _b_publish(self: Any, tick: Any) -> None:
    try:
        time = self._time
        time.sync()
        instrument_id = tick.instrument_id
        feed = self._quote_feeds.get(instrument_id)
        if feed is not None:
            feed.put(tick)
        rated = self._rated
        if rated and instrument_id in rated:
            raise AssertionError("no rates in this scenario")
        scopes = self._marking.get(instrument_id)
        if scopes:
            marks = self._marks[instrument_id]
            bid, ask = self._decimal(tick.bid_price), self._decimal(tick.ask_price)
            if marks.quote(bid, ask, tick.ts_init):
                self._remark(instrument_id, marks, scopes)
    except Exception as error:
        self._fail(error, "on_quote_tick")


STAGES_BEFORE = {
    "entry": _b_entry,
    "sync": _b_sync,
    "put": _b_put,
    "convert": _b_convert,
    "marks": _b_marks,
    "revalue": _b_revalue,
    "publish": _b_publish,
}
#: what each stage adds, for the table
STEPS_BEFORE = {
    "entry": "callback entry (try, attribute reads)",
    "sync": "clock sync (engine ns -> loop time, due-deadline check)",
    "put": "instrument id + feed lookup + Feed.put",
    "convert": "price conversion (two cached Price -> Decimal) + scope lookup",
    "marks": "mark ranking (Marks.quote)",
    "revalue": "ledger revalue (PnlLedger.mark, Decimal products)",
    "publish": "figure hand-off (Guard.put_figures: Decimal PnL -> the breaker's feed)",
    "full": "settle (run the loop if anything is ready or due)",
}


# --- the router's quote handler (PriceRouter._quote), cut after each step ----------------
def _a_entry(self: Any, route: Any, tick: Any) -> None:
    try:
        time = self._time
        if time is None:
            return
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _a_sync(self: Any, route: Any, tick: Any) -> None:
    try:
        time = self._time
        if time is None:
            return
        time.sync()
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _a_feed(self: Any, route: Any, tick: Any) -> None:
    try:
        time = self._time
        if time is None:
            return
        time.sync()
        feed = route.quote_feed
        if feed is not None:
            feed.arrive(tick, time.now)
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _a_marks(self: Any, route: Any, tick: Any) -> None:
    try:
        time = self._time
        if time is None:
            return
        time.sync()
        feed = route.quote_feed
        if feed is not None:
            feed.arrive(tick, time.now)
        if route.rated:
            self._rate_quote(route, tick)
        elif route.guards:
            route.marks.quote_tick(tick)
    except Exception as error:
        self._fail(error, "on_quote_tick")


def _a_remark(self: Any, route: Any, tick: Any) -> None:
    try:
        time = self._time
        if time is None:
            return
        time.sync()
        feed = route.quote_feed
        if feed is not None:
            feed.arrive(tick, time.now)
        if route.rated:
            self._rate_quote(route, tick)
        elif route.guards:
            marks = route.marks
            if marks.quote_tick(tick):
                instrument_id, bid, ask = route.instrument_id, marks.bid, marks.ask
                for guard in route.guards:
                    guard.remark(instrument_id, bid, ask)
                if self.unmarked and instrument_id in self.unmarked:
                    self._now_marked(instrument_id, marks)
    except Exception as error:
        self._fail(error, "on_quote_tick")


STAGES_AFTER: dict[str, Any] = {
    "entry": _a_entry,
    "sync": _a_sync,
    "feed": _a_feed,
    "marks": _a_marks,
    "remark": _a_remark,
}
STEPS_AFTER = {
    "entry": "handler entry (the route's partial, try, attribute reads)",
    "sync": "clock sync (engine ns -> loop time, due-deadline check)",
    "feed": "Feed.arrive (the staleness watchdog's arrival)",
    "marks": "route checks + Marks.quote_tick (the held side's raw price)",
    "remark": "Guard.remark: ledger revalue (mark_raw, integers) + the quiet-band test",
    "full": "settle (run the loop if anything is ready or due)",
}


def apply(patch: str) -> None:
    """Replace the watch's quote handler with stage ``version:stage`` (in a worker, before
    the engine runs: the router binds its handler when the watch starts)."""
    version, stage = patch.split(":")
    if version == "before":
        from nautilus_riskwatch import RiskWatch

        RiskWatch.on_quote_tick = STAGES_BEFORE[stage]  # type: ignore[attr-defined]
    else:
        from nautilus_riskwatch.nautilus.router import PriceRouter

        PriceRouter._quote = STAGES_AFTER[stage]  # type: ignore[method-assign]
