"""Marks: the price each side of an instrument is valued at, from the best source present.

A backtest may carry quotes, trades or only bars, and a live venue may stream any of them.
The watch values a position the way NautilusTrader's own ``Portfolio`` does
(``Portfolio._get_price``): longs at the bid and shorts at the ask of the latest quote if
there is one, else at the last trade's price, else at a bar's close. Here that is a ranking
per side, and the rule is: **a side takes a price from a source at least as good as the
best one that has ever priced it** (and, between equals, the newer). So once quotes arrive
for an instrument, its trades and bars no longer move its marks, exactly as the Portfolio
keeps using the (latest) quote once the cache has one.

Bars: a ``BID`` bar's close prices the bid side (longs), an ``ASK`` bar's the ask side
(shorts); a ``LAST`` or ``MID`` bar's close prices both sides (a mid or a last trade is the
best the data says about either side). A side with nothing better is priced from the other
side's bars, as the Portfolio falls back to the latest bar close of any kind: with only
``BID`` bars a short is marked at the bid (understating its loss by the spread). Within
bars: the side's own, then ``LAST``, then ``MID``, then the other side's.

The order of the three kinds is configurable (``RiskWatchConfig.mark_with``, per instrument
``mark_with_by_instrument``): a kind left out is never used, nor subscribed to.

Prices are the engine's raw integers (``Price.raw``): a mark is compared and stored, never
turned into a ``Decimal`` here (the ledger takes raw prices as they are).
"""

from __future__ import annotations

from collections.abc import Sequence

from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import PriceType

from nautilus_riskwatch.nautilus.settings import DataKind

# Rank within bars, for the (bid, ask) side, by the bar's price type: own side, LAST, MID,
# then the other side. Any other price type (MARK) is not a market price: not used.
_BAR_RANKS: dict[PriceType, tuple[int, int]] = {
    PriceType.BID: (0, 3),
    PriceType.ASK: (3, 0),
    PriceType.LAST: (1, 1),
    PriceType.MID: (2, 2),
}
_BAR_NAMES = {price_type: f"{price_type.name} bar" for price_type in _BAR_RANKS}
_NOTHING = 1 << 30  # the rank of a side no source has priced


class Marks:
    """One instrument's bid and ask marks, each from the best source that priced it.

    Parameters
    ----------
    preference : Sequence[str]
        The source kinds in order of preference (a subset of ``"quote"``, ``"trade"``,
        ``"bar"``); kinds not listed are ignored.

    ``bid`` and ``ask`` are ``None`` until some source prices them; ``source`` names what
    priced them last (``"quote"``, ``"trade"``, ``"LAST bar"``...), for logs and records.
    """

    __slots__ = (
        "_ask_rank",
        "_ask_ts",
        "_bar",
        "_bid_rank",
        "_bid_ts",
        "_quote",
        "_trade",
        "ask",
        "bid",
        "held_ask",
        "held_bid",
        "source",
    )

    def __init__(self, preference: Sequence[str]) -> None:
        order = {kind: i * 10 for i, kind in enumerate(preference)}
        self._quote = order.get(DataKind.QUOTE)
        self._trade = order.get(DataKind.TRADE)
        self._bar = order.get(DataKind.BAR)
        self.bid: int | None = None
        self.ask: int | None = None
        self._bid_rank = self._ask_rank = _NOTHING
        self._bid_ts = self._ask_ts = -1
        self.source = ""
        #: The sides some guard holds (longs are marked at the bid, shorts at the ask):
        #: ``quote_tick`` reads only those. Both until the watch says otherwise.
        self.held_bid = self.held_ask = True

    @property
    def priced(self) -> bool:
        """True once any source has priced the instrument (both sides then have a price)."""
        return self.bid is not None

    def quote(self, bid: int, ask: int, ts: int) -> bool:
        """Take a quote's bid and ask; return whether a held side's mark changed."""
        rank = self._quote
        if rank is None:
            return False
        return self._take(rank, rank, bid, ask, ts, "quote")

    def quote_tick(self, tick: QuoteTick) -> bool:
        """``quote``, from the tick itself, reading only the prices of the sides held.

        A side nobody holds moves no figure, so its price is not even read: it goes stale
        here, harmlessly, until a fill makes it held, and the watch then brings both sides
        up to the cache's newest quote before booking it. The usual case (quotes are the
        best source, each newer than the last) is taken here without ``_take``: it runs on
        every quote of a held instrument.
        """
        rank = self._quote
        if rank is None:
            return False
        ts = tick.ts_init
        if rank == self._bid_rank == self._ask_rank and ts >= self._bid_ts and ts >= self._ask_ts:
            self._bid_ts = self._ask_ts = ts
            changed = False
            if self.held_ask:
                ask = tick.ask_price.raw
                if ask != self.ask:
                    self.ask, changed = ask, True
            if self.held_bid:
                bid = tick.bid_price.raw
                if bid != self.bid:
                    self.bid, changed = bid, True
            return changed
        return self.quote(tick.bid_price.raw, tick.ask_price.raw, ts)

    def trade(self, price: int, ts: int) -> bool:
        """Take a trade's price for both sides; return whether a held side's mark changed."""
        rank = self._trade
        if rank is None:
            return False
        if rank == self._bid_rank == self._ask_rank and ts >= self._bid_ts and ts >= self._ask_ts:
            # the usual case, as in quote_tick: only a held side's change is reported
            changed = (self.held_bid and price != self.bid) or (self.held_ask and price != self.ask)
            self.bid = self.ask = price
            self._bid_ts = self._ask_ts = ts
            return changed
        return self._take(rank, rank, price, price, ts, "trade")

    def bar(self, price_type: PriceType, close: int, ts: int) -> bool:
        """Take a bar's close for the sides its price type prices; return whether a held
        side's mark changed."""
        base = self._bar
        ranks = _BAR_RANKS.get(price_type)
        if base is None or ranks is None:
            return False
        return self._take(
            base + ranks[0], base + ranks[1], close, close, ts, _BAR_NAMES[price_type]
        )

    def _take(self, bid_rank: int, ask_rank: int, bid: int, ask: int, ts: int, source: str) -> bool:
        changed = False  # a side nobody holds moves no figure: its change is not reported
        if bid_rank < self._bid_rank or (bid_rank == self._bid_rank and ts >= self._bid_ts):
            changed = self.held_bid and bid != self.bid
            self.bid, self._bid_rank, self._bid_ts = bid, bid_rank, ts
            self.source = source
        if ask_rank < self._ask_rank or (ask_rank == self._ask_rank and ts >= self._ask_ts):
            changed = changed or (self.held_ask and ask != self.ask)
            self.ask, self._ask_rank, self._ask_ts = ask, ask_rank, ts
            self.source = source
        return changed
