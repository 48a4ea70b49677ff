"""The trip picture: session PnL and drawdown around a risk-off, as one PNG.

``equity_curve`` rebuilds the session PnL exactly (``Decimal``, the watch's own ledger)
from the fills and the quotes; ``plot_trip`` draws it (``picture.draw_trip``) with the loss
ceiling, the trip, the cancels and the closing fills; ``write_trip_report`` does both for a
finished backtest. matplotlib is imported only when drawing: everything else works without
it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderCanceled, OrderFilled
from nautilus_trader.model.identifiers import ClientOrderId

from nautilus_riskwatch.core.ledger import PnlLedger
from nautilus_riskwatch.core.record import RiskOff
from nautilus_riskwatch.nautilus.closes import is_watch_close
from nautilus_riskwatch.report.picture import MATPLOTLIB_MISSING, draw_trip

if TYPE_CHECKING:
    from nautilus_riskwatch.nautilus.actor import RiskWatch

__all__ = ["MATPLOTLIB_MISSING", "equity_curve", "plot_trip", "write_trip_report"]

_ONE = Decimal(1)


# --- the curve ----------------------------------------------------------------------------
def equity_curve(
    fills: Iterable[Any],
    quotes: Iterable[Any],
    exclude_tag: str | None = None,
    multipliers: Mapping[Any, Decimal | int | str] | None = None,
) -> tuple[list[int], list[Decimal]]:
    """Return the session PnL after each quote, exactly, as ``(times_ns, equity)``.

    PnL is realized plus unrealized, commissions included: cash from the fills, plus every
    open position marked at its own instrument's latest quote, longs at the bid and shorts
    at the ask (what closing them would get). A fill counts for a quote when
    ``fill.ts_event <= quote.ts_init``; the time of each point is the quote's ``ts_init``.

    Parameters
    ----------
    fills
        ``OrderFilled`` events, or orders (e.g. ``cache.orders()``), whose ``OrderFilled``
        events are taken. ``exclude_tag`` needs orders: a bare fill does not carry its
        order's tags.
    quotes
        ``QuoteTick``s, of one instrument or several.
    exclude_tag
        Leave out the fills of orders carrying this tag (e.g. ``"RISKWATCH"``, the watch's
        own closes).
    multipliers
        Contract multiplier per instrument id (``InstrumentId`` or its string); 1 if absent.
        Commissions are taken as they are, in the PnL's currency.

    The PnL is the watch's own exact ledger (``PnlLedger``) booked with these fills and
    marked with these quotes, so the picture and the breaker share one mark-to-market rule.
    A position whose instrument has not been quoted yet is marked at its last fill price.
    Runs in O((fills + quotes) log) time: the marks are kept up to date incrementally.

    """
    events = sorted(_fills_of(fills, exclude_tag), key=lambda f: f.ts_event)
    ticks = sorted(quotes, key=lambda q: q.ts_init)
    mult = {str(k): Decimal(v) for k, v in (multipliers or {}).items()}
    ledger = PnlLedger()  # the watch's own exact ledger: one mark-to-market rule
    quoted: dict[str, tuple[Decimal, Decimal]] = {}  # each instrument's latest bid and ask
    times: list[int] = []
    equity: list[Decimal] = []
    i = 0
    for quote in ticks:
        now = quote.ts_init
        while i < len(events) and events[i].ts_event <= now:
            _book(ledger, events[i], mult, quoted)
            i += 1
        instrument = str(quote.instrument_id)
        bid_ask = quoted[instrument] = (
            quote.bid_price.as_decimal(),
            quote.ask_price.as_decimal(),
        )
        if ledger.is_exposed(instrument):
            ledger.mark(instrument, *bid_ask)
        times.append(now)
        equity.append(ledger.pnl)
    return times, equity


def _book(
    ledger: PnlLedger,
    fill: OrderFilled,
    multipliers: Mapping[str, Decimal],
    quoted: Mapping[str, tuple[Decimal, Decimal]],
) -> None:
    """Book one fill; an instrument not quoted yet is marked at its last fill price."""
    instrument = str(fill.instrument_id)
    qty = fill.last_qty.as_decimal()
    price = fill.last_px.as_decimal()
    mark = quoted.get(instrument)
    ledger.fill(
        position=fill.position_id or (instrument, str(fill.strategy_id)),
        instrument=instrument,
        signed_qty=qty if fill.order_side == OrderSide.BUY else qty.copy_negate(),
        price=price,
        multiplier=multipliers.get(instrument, _ONE),
        commission=fill.commission.as_decimal(),
        mark=mark,
    )
    if mark is None:
        ledger.mark(instrument, price, price)


def _fills_of(items: Iterable[Any], exclude_tag: str | None) -> list[OrderFilled]:
    fills: list[OrderFilled] = []
    for item in items:
        if isinstance(item, OrderFilled):
            if exclude_tag is not None:
                raise TypeError(
                    "exclude_tag needs orders (e.g. cache.orders()), not bare OrderFilled "
                    "events: a fill does not carry its order's tags"
                )
            fills.append(item)
        elif hasattr(item, "events"):
            if exclude_tag is not None and exclude_tag in (item.tags or []):
                continue
            fills.extend(e for e in item.events if isinstance(e, OrderFilled))
        else:
            raise TypeError(f"expected OrderFilled events or orders, got {type(item).__name__}")
    return fills


# --- the picture --------------------------------------------------------------------------
def plot_trip(
    record: RiskOff | None,
    times_ns: Sequence[int],
    equity: Sequence[Decimal],
    ceiling: Decimal | None,
    path: str | PathLike[str],
    *,
    title: str | None = None,
    cancels_ns: Iterable[int] = (),
    closes: Iterable[tuple[int, Decimal]] = (),
    currency: str | None = None,
) -> Path:
    """Draw the session PnL and its drawdown around the trip into one PNG at ``path``.

    Top panel: the PnL, the loss ceiling (at ``-ceiling``), the trip (a vertical line, and
    the PnL the trip was judged on where the cause gives it), the cancels (ticks along the
    bottom) and the closing fills (``(ts_ns, price)`` pairs, drawn on the curve once they
    are in), with an inset zoomed on the trip when the span is long. Bottom panel: the
    drawdown from the running high-water mark of the curve (its best point so far), with
    the same trip line. The curve holds its last value up to the trip and the last
    confirmation. ``record`` may be ``None`` (no trip: no marker). Times are UTC
    nanoseconds; the unit is ``currency``, else the cause's, else USD. The title gives the
    cascade's time from the trip to its last confirmation. Returns the path written.
    ``picture.draw_trip`` returns the figure instead.

    """
    figure = draw_trip(
        record,
        times_ns,
        equity,
        ceiling,
        title=title,
        cancels_ns=cancels_ns,
        closes=closes,
        currency=currency,
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png", dpi=120)
    return out


# --- for a finished backtest --------------------------------------------------------------
def write_trip_report(
    cache: Any,
    watch: RiskWatch,
    quotes: Iterable[Any],
    path: str | PathLike[str],
    ceiling: Decimal | None = None,
    *,
    title: str | None = None,
) -> Path:
    """Draw the trip picture of a finished backtest into ``path`` and return the path.

    ``cache`` is the engine's cache (``engine.cache``; the engine itself is accepted too),
    ``watch`` the ``RiskWatch`` (its ``record`` may be ``None``), ``quotes`` the quotes the
    run was fed. The curve is the whole session's PnL, the watch's own closes included; the
    cancels are the ``OrderCanceled`` times of the record's cancelled orders, the closing
    fills those of the orders tagged with the watch's ``close_tag`` (``watch.settings``).
    The ceiling defaults to the watch's ``max_loss``.
    """
    cache = getattr(cache, "cache", cache)
    record: RiskOff | None = watch.record
    settings = watch.settings
    if ceiling is None:
        ceiling = settings.ceiling
    if ceiling is None and record is not None:
        ceiling = getattr(record.cause, "ceiling", None)

    orders = list(cache.orders())
    times, equity = equity_curve(orders, quotes)
    cancels: list[int] = []
    if record is not None:
        for order_id in record.orders_cancelled:
            order = cache.order(ClientOrderId(order_id))
            if order is not None:
                cancels.extend(e.ts_event for e in order.events if isinstance(e, OrderCanceled))
    closes = [
        (e.ts_event, e.last_px.as_decimal())
        for o in orders
        if is_watch_close(o.tags, settings.close_tag)
        for e in o.events
        if isinstance(e, OrderFilled)
    ]
    return plot_trip(
        record,
        times,
        equity,
        ceiling,
        path,
        title=title,
        cancels_ns=cancels,
        closes=closes,
        currency=settings.currency,
    )
