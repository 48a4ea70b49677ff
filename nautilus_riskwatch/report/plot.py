"""The trip picture: session PnL and drawdown around a risk-off, as one PNG.

``equity_curve`` rebuilds the session PnL exactly (``Decimal``, the watch's own ledger)
from the fills and the quotes; ``plot_trip`` draws it with the loss ceiling, the trip, the
cancels and the closing fills; ``write_trip_report`` does both for a finished backtest.
matplotlib is imported only inside ``plot_trip``: everything else works without it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderCanceled, OrderFilled
from nautilus_trader.model.identifiers import ClientOrderId

from nautilus_riskwatch.core.ledger import PnlLedger
from nautilus_riskwatch.core.record import RiskOff
from nautilus_riskwatch.looptime import NS_PER_SECOND

if TYPE_CHECKING:
    from nautilus_riskwatch.nautilus.actor import RiskWatch

MATPLOTLIB_MISSING = "the trip picture needs matplotlib (the [plot] extra): pip install matplotlib"

_ONE = Decimal(1)
_NICE_WINDOWS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400)


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

    Top panel: the PnL, the loss ceiling (at ``-ceiling``), the trip (a vertical line
    labelled with the cause, and the loss that tripped), the cancels (ticks along the
    bottom) and the closing fills (``(ts_ns, price)`` pairs, drawn on the curve once they are
    in), with an inset zoomed on the trip. Bottom panel: the drawdown from the running
    high-water mark of the curve (its best point so far), with the same trip line.
    ``record`` may be ``None`` (no trip: no marker). Times are UTC nanoseconds; the unit is
    ``currency``, else the cause's, else USD. Returns the path written.

    """
    try:
        import matplotlib.dates as mdates
        import numpy as np
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
        from matplotlib.ticker import FuncFormatter
    except ImportError as error:  # pragma: no cover - exercised only without matplotlib
        raise ImportError(MATPLOTLIB_MISSING) from error

    if len(times_ns) != len(equity):
        raise ValueError(f"{len(times_ns)} times but {len(equity)} equity points")
    if not times_ns:
        raise ValueError("nothing to draw: the equity curve is empty")
    times = list(times_ns)
    cause = record.cause if record is not None else None
    unit = currency or getattr(cause, "currency", "") or "USD"
    ceiling = Decimal(ceiling) if ceiling is not None else None

    high = equity[0]
    drawdown: list[Decimal] = []
    for value in equity:
        high = max(high, value)
        drawdown.append(value - high)
    x = mdates.date2num(np.array(times, dtype="datetime64[ns]"))
    y = np.array([float(v) for v in equity])
    dd = np.array([float(v) for v in drawdown])

    def at(ts: int) -> float:
        return float(mdates.date2num(np.datetime64(int(ts), "ns")))

    money = FuncFormatter(lambda v, _: f"{v:,.0f}")
    fig = Figure(figsize=(12, 7), dpi=120, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2.2, 1])

    # --- top: the PnL and everything that happened at the trip
    cancels = sorted(cancels_ns)
    close_list = sorted(closes)
    close_points = [(at(t), float(equity[_after(times, t)])) for t, _ in close_list]
    trip_x = at(record.tripped_at_ns) if record is not None else None
    loss = getattr(cause, "loss", None)
    trip_loss = float(-loss) if isinstance(loss, Decimal) else None

    def draw_events(ax: Any, big: bool) -> None:
        ax.axhline(0, color="0.6", lw=0.8, zorder=1)
        ax.step(x, y, where="post", color="tab:blue", lw=1.3 if big else 1.6, zorder=3)
        if ceiling is not None:
            ax.axhline(float(-ceiling), color="tab:red", ls="--", lw=1.4, zorder=2)
        if trip_x is not None:
            ax.axvline(trip_x, color="darkorange", lw=2, zorder=4, alpha=0.9)
            if trip_loss is not None:
                ax.plot(
                    trip_x, trip_loss, "o", ms=8, mfc="white", mec="darkorange", mew=2, zorder=6
                )
        if cancels:
            ax.plot(
                [at(t) for t in cancels],
                [0.05] * len(cancels),
                "v",
                transform=ax.get_xaxis_transform(),
                ms=9 if big else 8,
                color="tab:purple",
                mec="white",
                zorder=6,
            )
        if close_points:
            ax.plot(
                [p[0] for p in close_points],
                [p[1] for p in close_points],
                "*",
                ms=15 if big else 13,
                color="black",
                mfc="gold",
                zorder=7,
            )

    draw_events(top, big=True)
    handles: list[Any] = [Line2D([], [], color="tab:blue", lw=1.3)]
    labels = ["session PnL (realized + unrealized, after commissions)"]
    if ceiling is not None:
        handles.append(Line2D([], [], color="tab:red", ls="--", lw=1.4))
        labels.append(f"loss ceiling  -{ceiling} {unit}")
    if record is not None:
        handles.append(Line2D([], [], color="darkorange", lw=2))
        labels.append(f"trip at {_time_of_day(record.tripped_at_ns)} ({record.cause.kind})")
        if trip_loss is not None:
            handles.append(
                Line2D([], [], ls="", marker="o", ms=8, mfc="white", mec="darkorange", mew=2)
            )
            labels.append(f"PnL that tripped  -{loss} {unit}")
        handles.append(Patch(color="0.5", alpha=0.15, lw=0))
        labels.append("after the trip")
    if cancels:
        handles.append(Line2D([], [], ls="", marker="v", ms=9, color="tab:purple"))
        labels.append(f"orders cancelled ({len(cancels)}), {_span(cancels)}")
    if close_list:
        handles.append(Line2D([], [], ls="", marker="*", ms=15, color="black", mfc="gold"))
        prices = ", ".join(str(p) for _, p in close_list[:2])
        more = ", ..." if len(close_list) > 2 else ""
        after = close_points[-1][1]
        labels.append(
            f"risk-off closing fills ({len(close_list)}) @ {prices}{more}\n"
            f"PnL once closed  {after:,.2f} {unit}"
        )
    top.legend(
        handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, borderaxespad=0
    )
    if record is not None:
        top.annotate(
            record.cause.describe()["message"],
            xy=(trip_x, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=9,
            color="darkorange",
            fontweight="bold",
            annotation_clip=False,
        )
        top.axvspan(trip_x, x[-1] + 1, color="0.5", alpha=0.07, lw=0, zorder=0)
    top.set_ylabel(f"PnL ({unit})")
    top.grid(True, alpha=0.3)
    top.yaxis.set_major_formatter(money)
    lowest = min(float(min(y)), float(-ceiling) if ceiling is not None else 0.0)
    highest = max(float(max(y)), 0.0)
    pad = (highest - lowest) * 0.1 or 1.0
    top.set_ylim(lowest - pad * 1.5, highest + pad)

    # --- bottom: the drawdown
    bottom.fill_between(x, dd, 0, step="post", color="tab:red", alpha=0.3, lw=0)
    bottom.step(x, dd, where="post", color="tab:red", lw=1)
    worst = int(np.argmin(dd))
    bottom.plot(x[worst], dd[worst], "o", ms=6, color="darkred", zorder=5)
    dd_handles: list[Any] = [
        Line2D([], [], color="tab:red", lw=6, alpha=0.3),
        Line2D([], [], color="darkred", marker="o", ms=6, ls=""),
    ]
    dd_labels = [
        "drawdown from the session's\nhigh-water mark (best PnL so far)",
        f"deepest  {drawdown[worst]:,.2f} {unit}\nat {_time_of_day(times[worst], millis=False)}",
    ]
    if trip_x is not None:
        bottom.axvline(trip_x, color="darkorange", lw=2, zorder=4, alpha=0.9)
        bottom.axvspan(trip_x, x[-1] + 1, color="0.5", alpha=0.07, lw=0, zorder=0)
        i = _before(times, record.tripped_at_ns) if record is not None else 0
        dd_handles.append(Line2D([], [], color="darkorange", lw=2))
        dd_labels.append(f"trip (drawdown then  {drawdown[i]:,.2f} {unit})")
    bottom.legend(
        dd_handles,
        dd_labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=9,
        borderaxespad=0,
    )
    bottom.set_ylabel(f"drawdown ({unit})")
    bottom.grid(True, alpha=0.3)
    bottom.yaxis.set_major_formatter(money)
    deepest = float(min(dd))
    bottom.set_ylim(deepest * 1.12 - 1, -deepest * 0.05 + 1)

    # --- the time axis
    bottom.xaxis.set_major_locator(mdates.AutoDateLocator(tz=UTC, minticks=6, maxticks=14))
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    span = x[-1] - x[0]
    margin = span * 0.01 or 1 / 86_400
    bottom.set_xlim(x[0] - margin, x[-1] + margin)
    day = _day(times[0])
    end_day = _day(times[-1])
    bottom.set_xlabel(f"time (UTC, {day}{'' if end_day == day else ' to ' + end_day})")

    # --- a zoom on the trip, where the curve leaves room for it
    if trip_x is not None and span > 0:
        wanted = span * 86_400 * 0.03
        half = min(_NICE_WINDOWS, key=lambda w: abs(w - wanted)) / 2 / 86_400
        box = _free_corner(top, x, y, trip_x)
        inset = top.inset_axes(box)
        draw_events(inset, big=False)
        near = (x >= trip_x - half) & (x <= trip_x + half)
        shown = [*y[near].tolist(), *(p[1] for p in close_points)]
        if trip_loss is not None:
            shown.append(trip_loss)
        if ceiling is not None:
            shown.append(float(-ceiling))
        before = _before(times, record.tripped_at_ns - 1) if record is not None else 0
        shown.append(float(y[before]))
        lo, hi = min(shown), max(shown)
        room = (hi - lo) * 0.15 or 1.0
        inset.set_xlim(trip_x - half, trip_x + half)
        inset.set_ylim(lo - room * 2, hi + room)
        inset.xaxis.set_major_locator(mdates.AutoDateLocator(tz=UTC, minticks=3, maxticks=5))
        inset.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=UTC))
        inset.yaxis.set_major_formatter(money)
        inset.tick_params(labelsize=7)
        inset.grid(True, alpha=0.3)
        inset.set_title(f"zoom: {_minutes(2 * half)} around the trip", fontsize=8)
        inset.set_facecolor("white")
        top.indicate_inset_zoom(inset, edgecolor="0.4", alpha=0.6)

    fig.suptitle(title or _title(record), fontsize=12, x=0.01, ha="left")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=120)
    return out


def _free_corner(ax: Any, x: Any, y: Any, trip_x: float) -> list[float]:
    """The inset box (axes fraction) in the corner the curve and the trip line cross least."""
    import numpy as np

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    fx = (x - x0) / (x1 - x0)
    fy = (y - y0) / (y1 - y0)
    ft = (trip_x - x0) / (x1 - x0)
    w, h = 0.3, 0.36
    best: tuple[float, list[float]] | None = None
    for left in (0.02, 0.35, 0.68):
        for low in (0.1, 0.6):
            box = [left, low, w, h]
            inside = (fx >= left - 0.02) & (fx <= left + w + 0.02)
            inside &= (fy >= low - 0.04) & (fy <= low + h + 0.04)
            cost = float(np.count_nonzero(inside)) / max(len(x), 1)
            if left - 0.03 <= ft <= left + w + 0.03:
                cost += 1.0  # never hide the trip itself
            if best is None or cost < best[0]:
                best = (cost, box)
    assert best is not None
    return best[1]


def _title(record: RiskOff | None) -> str:
    if record is None:
        return "Session PnL: the watch did not trip"
    parts = [
        _count(len(record.orders_cancelled), "order") + " cancelled",
        _count(len(record.positions_closed), "position") + " closed",
    ]
    if record.hedges_kept:
        parts.append(_count(len(record.hedges_kept), "hedge") + " kept")
    if record.finished_at_ns is not None:
        took = (record.finished_at_ns - record.tripped_at_ns) / 1e6
        parts.append(f"cascade {record.stage} in {took:g} ms")
    else:
        parts.append(f"cascade stopped at {record.stage}")
    head = f"Risk-off at {_time_of_day(record.tripped_at_ns)} UTC ({record.cause.kind})"
    return f"{head}: {', '.join(parts)}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _time_of_day(ns: int, millis: bool = True) -> str:
    seconds, nanos = divmod(ns, NS_PER_SECOND)
    text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%H:%M:%S")
    return f"{text}.{nanos // 1_000_000:03d}" if millis else text


def _day(ns: int) -> str:
    return datetime.fromtimestamp(ns // NS_PER_SECOND, tz=UTC).strftime("%Y-%m-%d")


def _minutes(days: float) -> str:
    seconds = round(days * 86_400)
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _span(times: list[int]) -> str:
    if times[0] == times[-1]:
        return f"at {_time_of_day(times[0])}"
    return f"{_time_of_day(times[0])} to {_time_of_day(times[-1])}"


def _after(times: list[int], ts: int) -> int:
    """Index of the first point at or after ``ts`` (the curve once a fill is in), or the last."""
    return min(bisect_left(times, ts), len(times) - 1)


def _before(times: list[int], ts: int) -> int:
    return max(bisect_right(times, ts) - 1, 0)


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
        if settings.close_tag in (o.tags or [])
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
