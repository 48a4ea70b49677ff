"""Exchange rates from the engine's own prices, the way NautilusTrader's cache makes them.

NautilusTrader converts a PnL into an account's base currency with ``Cache.get_xrate``
(read in both versions' ``cache/cache.pyx``): every ``CurrencyPair`` and
``CryptoPerpetual`` of the instrument's venue is a ``BASE/QUOTE`` pair, priced by its
latest quote tick if the cache has one, else by the closes of its latest ``BID`` and ``ASK``
bars (both needed); a graph of those pairs, each usable either way (inverted), is searched
for a chain from one currency to the other, and the pairs' prices multiplied along it, in
floats. The price is the ``MID`` by default; 1.231's ``Portfolio`` asks for the ``MID``,
1.221's for the ``BID`` of a long position and the ``ASK`` of a short one.

Here the same sources, exactly:

- the **mid** ``(bid + ask) / 2`` of each pair (a finite decimal), its inverse ``1 / mid``
  where the chain runs against the pair (a rational: kept as a ``Fraction``), multiplied
  along the chain, so the rate is exact and the one rounding is the conversion's, toward
  the trip (``core.convert``);
- the **shortest chain** (fewest pairs; among equals, the first by instrument ids), where
  NautilusTrader's depth-first search takes whichever path its hash map yields first;
- prices **as the watch receives them**: the pairs on the shortest chains are followed
  (quotes subscribed to, bars taken from the bus), so a rate that moves re-values the book
  on that very quote or bar, and a rate is never read from a price the watch has not seen.

Rates are looked up on the venue where the currency was first booked (a ``JPY`` figure from
``USD/JPY.SIM`` is converted with ``SIM``'s pairs), as NautilusTrader does per instrument.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from nautilus_trader.model.enums import PriceType
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.instruments import CryptoPerpetual, CurrencyPair

from nautilus_riskwatch.core.convert import Rate

_TWO = Fraction(2)
#: The longest chain searched (pairs): USD -> EUR -> BTC -> ETH is three; a venue with
#: thousands of pairs is searched no deeper than needed, and never past this.
MAX_CHAIN = 4


class _Prices:
    """One pair's prices as NautilusTrader's quote table takes them."""

    __slots__ = ("ask_bar", "base", "bid_bar", "instrument_id", "quote", "quote_ccy")

    def __init__(self, instrument_id: InstrumentId, base: str, quote_ccy: str) -> None:
        self.instrument_id = instrument_id
        self.base = base
        self.quote_ccy = quote_ccy
        self.quote: tuple[Decimal, Decimal, int] | None = None
        self.bid_bar: tuple[Decimal, int] | None = None
        self.ask_bar: tuple[Decimal, int] | None = None

    def bid_ask(self) -> tuple[Decimal, Decimal, int, str] | None:
        """(bid, ask, newest ts, source): the quote if any, else both bars' closes."""
        if self.quote is not None:
            bid, ask, ts = self.quote
            return bid, ask, ts, "quote"
        if self.bid_bar is None or self.ask_bar is None:
            return None
        (bid, bid_ts), (ask, ask_ts) = self.bid_bar, self.ask_bar
        return bid, ask, max(bid_ts, ask_ts), "BID/ASK bars"


class RateBook:
    """The current exchange rates into one currency, exact, from the pairs the watch follows.

    Parameters
    ----------
    cache : Cache
        The engine's cache: its instruments (the pairs), and their prices when a pair is
        first followed.
    target : str
        The ceiling currency every rate converts into.
    follow : Callable[[InstrumentId], None]
        Called once for each pair a rate depends on (the actor subscribes to its quotes).

    """

    def __init__(self, cache: Any, target: str, follow: Callable[[InstrumentId], None]) -> None:
        self._cache = cache
        self.target = target
        self._follow = follow
        self.followed: dict[InstrumentId, _Prices] = {}  # every pair some rate may use
        self._venues: dict[str, Venue] = {}  # currency -> the venue its rates come from
        self._chains: dict[tuple[str, Venue], list[list[_Prices]]] = {}
        self._rates: dict[tuple[str, Venue], Rate | None] = {}

    # --- which venue ------------------------------------------------------------------------
    def booked(self, currency: str, venue: Venue) -> None:
        """A figure in ``currency`` was booked from ``venue``: its rates come from there
        (the first venue it was booked from keeps it)."""
        if currency != self.target and currency not in self._venues:
            self._venues[currency] = venue
            self._chains_for(currency, venue)

    # --- rates ------------------------------------------------------------------------------
    def rate(self, currency: str, venue: Venue | None = None) -> Rate | None:
        """The rate from ``currency`` into the target now, or ``None`` if nothing prices a
        chain yet. Remembered until a followed pair's price moves."""
        venue = venue or self._venues.get(currency)
        if venue is None:
            return None
        key = (currency, venue)
        if key in self._rates:
            return self._rates[key]
        rate = self._rates[key] = self._compute(currency, venue)
        return rate

    def quote(self, instrument_id: InstrumentId, bid: Decimal, ask: Decimal, ts: int) -> bool:
        """A followed pair's quote; return whether it moved a price (rates are then stale)."""
        prices = self.followed[instrument_id]
        old = prices.quote
        prices.quote = (bid, ask, ts)
        if old is not None and old[0] == bid and old[1] == ask:
            return False
        self._rates.clear()
        return True

    def bar(
        self, instrument_id: InstrumentId, price_type: PriceType, close: Decimal, ts: int
    ) -> bool:
        """A followed pair's bar; return whether it moved a price the rates use."""
        prices = self.followed[instrument_id]
        if price_type == PriceType.BID:
            old, prices.bid_bar = prices.bid_bar, (close, ts)
        elif price_type == PriceType.ASK:
            old, prices.ask_bar = prices.ask_bar, (close, ts)
        else:
            return False
        if prices.quote is not None or (old is not None and old[0] == close):
            return False  # a quote outranks bars, as in the cache's quote table
        self._rates.clear()
        return True

    # --- internals --------------------------------------------------------------------------
    def _compute(self, currency: str, venue: Venue) -> Rate | None:
        for chain in self._chains_for(currency, venue):
            value, newest, steps, at = Fraction(1), 0, [], currency
            for prices in chain:
                priced = prices.bid_ask()
                if priced is None:
                    break
                bid, ask, ts, source = priced
                mid = (Fraction(bid) + Fraction(ask)) / _TWO
                if at == prices.base:
                    value *= mid
                    steps.append(f"mid {prices.instrument_id} (bid {bid} ask {ask}, {source})")
                    at = prices.quote_ccy
                else:
                    value /= mid
                    steps.append(f"1/mid {prices.instrument_id} (bid {bid} ask {ask}, {source})")
                    at = prices.base
                newest = max(newest, ts)
            else:
                return Rate(currency, self.target, value, newest, " * ".join(steps))
        return None

    def _chains_for(self, currency: str, venue: Venue) -> list[list[_Prices]]:
        """The shortest chains of the venue's pairs from ``currency`` to the target; their
        pairs are followed from now on (seeded from the cache's newest prices)."""
        key = (currency, venue)
        chains = self._chains.get(key)
        if chains is None:
            pairs = sorted(self._pairs(venue), key=lambda p: str(p[0]))
            chains = []
            for path in _shortest_paths(currency, self.target, pairs):
                chains.append([self._prices(instrument_id, b, q) for instrument_id, b, q in path])
            self._chains[key] = chains
        return chains

    def _pairs(self, venue: Venue) -> Iterable[tuple[InstrumentId, str, str]]:
        for instrument in self._cache.instruments(venue=venue):
            if isinstance(instrument, CurrencyPair | CryptoPerpetual):
                base = instrument.base_currency.code
                yield instrument.id, base, instrument.quote_currency.code

    def _prices(self, instrument_id: InstrumentId, base: str, quote_ccy: str) -> _Prices:
        prices = self.followed.get(instrument_id)
        if prices is not None:
            return prices
        prices = self.followed[instrument_id] = _Prices(instrument_id, base, quote_ccy)
        cache = self._cache
        tick = cache.quote_tick(instrument_id)
        if tick is not None:
            prices.quote = (tick.bid_price.as_decimal(), tick.ask_price.as_decimal(), tick.ts_init)
        for price_type in (PriceType.BID, PriceType.ASK):
            bars = [
                cache.bar(bar_type)
                for bar_type in cache.bar_types(instrument_id=instrument_id, price_type=price_type)
            ]
            bars = [bar for bar in bars if bar is not None]
            if bars:
                newest = max(bars, key=lambda bar: bar.ts_init)
                entry = (newest.close.as_decimal(), newest.ts_init)
                if price_type == PriceType.BID:
                    prices.bid_bar = entry
                else:
                    prices.ask_bar = entry
        self._rates.clear()
        self._follow(instrument_id)
        return prices


def _shortest_paths(
    source: str, target: str, pairs: list[tuple[InstrumentId, str, str]]
) -> list[list[tuple[InstrumentId, str, str]]]:
    """Every shortest chain of pairs from ``source`` to ``target`` (each pair usable either
    way), in the order of the pairs given: breadth first, so fewest pairs first."""
    links: dict[str, list[tuple[str, tuple[InstrumentId, str, str]]]] = {}
    for pair in pairs:
        _, base, quote = pair
        links.setdefault(base, []).append((quote, pair))
        links.setdefault(quote, []).append((base, pair))
    found: list[list[tuple[InstrumentId, str, str]]] = []
    queue: deque[tuple[str, list[tuple[InstrumentId, str, str]], frozenset[str]]] = deque(
        [(source, [], frozenset([source]))]
    )
    while queue:
        at, path, seen = queue.popleft()
        if found and len(path) >= len(found[0]):
            break
        for nxt, pair in links.get(at, ()):
            if nxt in seen:
                continue
            if nxt == target:
                found.append([*path, pair])
            elif not found and len(path) + 1 < MAX_CHAIN:
                queue.append((nxt, [*path, pair], seen | {nxt}))
    return found
