"""The trip picture: the session PnL and its drawdown around a risk-off, as a matplotlib
``Figure``.

It must read right for every trip cause and every book, an empty one included, on any
time span: from seconds (a trip at the first quote) to days. So the time axis spans every
point and every event (the trip is always drawn, even when the last PnL point is long
before it), ticks are labelled to the precision their spacing needs, the legends sit in the
figure beside the panels, the zoom inset only appears when the span is long enough to need
one and never covers the axis labels, and each quantity has one name: "PnL" for the
session's figure, "drawdown" only for the fall from the high-water mark. The cascade's time
is the trip to its last confirmation (a cancel or a closing fill), not to whenever the
engine next woke the watch.

matplotlib is imported inside ``draw_trip`` only: importing this module needs nothing.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC
from decimal import Decimal
from typing import Any

from nautilus_riskwatch.core.record import RiskOff
from nautilus_riskwatch.report.labels import (
    DAY_S,
    cause_name,
    clock_ticks,
    day_of,
    duration,
    moment,
    money_ticks,
    span_text,
    time_of_day,
    trip_title,
)

MATPLOTLIB_MISSING = "the trip picture needs matplotlib (the [plot] extra): pip install matplotlib"

_NICE_WINDOWS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400)
#: The inset is drawn only when its window is at most this share of the span.
_INSET_SHARE = 0.05
#: ... and the span is at least this long (a short span shows the trip plainly already).
_INSET_MIN_SPAN_S = 15 * 60
_ORANGE, _BLUE, _RED = "darkorange", "tab:blue", "tab:red"


def draw_trip(
    record: RiskOff | None,
    times_ns: Sequence[int],
    equity: Sequence[Decimal],
    ceiling: Decimal | None,
    *,
    title: str | None = None,
    cancels_ns: Iterable[int] = (),
    closes: Iterable[tuple[int, Decimal]] = (),
    currency: str | None = None,
) -> Any:
    """Draw the trip picture and return its ``matplotlib.figure.Figure`` (not saved).

    The arguments are ``plot_trip``'s. Artists a reader (or a test) looks for carry a
    ``gid``: ``"trip"`` on the trip lines, ``"pnl"`` and ``"drawdown"`` on the axes,
    ``"zoom"`` on the inset, ``"legend-pnl"`` and ``"legend-drawdown"`` on the legends.
    """
    try:
        import matplotlib.dates as mdates
        import numpy as np
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
    except ImportError as error:  # pragma: no cover - exercised only without matplotlib
        raise ImportError(MATPLOTLIB_MISSING) from error

    if len(times_ns) != len(equity):
        raise ValueError(f"{len(times_ns)} times but {len(equity)} equity points")
    if not times_ns:
        raise ValueError("nothing to draw: the equity curve is empty")
    cause = record.cause if record is not None else None
    unit = currency or getattr(cause, "currency", "") or "USD"
    ceiling = Decimal(ceiling) if ceiling is not None else None
    cancels = sorted(cancels_ns)
    close_list = sorted(closes)
    trip_ns = record.tripped_at_ns if record is not None else None

    # the curve holds its last value until the last thing drawn: the trip, a confirmation
    times = list(times_ns)
    values = list(equity)
    last_event = max([times[-1], *cancels, *(t for t, _ in close_list)])
    if trip_ns is not None:
        last_event = max(last_event, trip_ns)
    if last_event > times[-1]:
        times.append(last_event)
        values.append(values[-1])
    high = values[0]
    drawdown: list[Decimal] = []
    for value in values:
        high = max(high, value)
        drawdown.append(value - high)

    def at(ts: int) -> float:
        return float(mdates.date2num(np.datetime64(int(ts), "ns")))

    x = np.array([at(t) for t in times])
    y = np.array([float(v) for v in values])
    dd = np.array([float(v) for v in drawdown])
    trip_x = at(trip_ns) if trip_ns is not None else None
    close_points = [(at(t), float(values[_after(times, t)])) for t, _ in close_list]
    tripped_at = _pnl_at_trip(cause)

    fig = Figure(figsize=(12, 7), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2.2, 1])
    top.set_gid("pnl")
    bottom.set_gid("drawdown")

    def draw_events(ax: Any, big: bool) -> None:
        ax.axhline(0, color="0.6", lw=0.8, zorder=1)
        ax.step(x, y, where="post", color=_BLUE, lw=1.3 if big else 1.6, zorder=3)
        if ceiling is not None:
            ax.axhline(float(-ceiling), color=_RED, ls="--", lw=1.4, zorder=2)
        if trip_x is not None:
            ax.axvline(trip_x, color=_ORANGE, lw=2, zorder=4, alpha=0.9, gid="trip")
            if tripped_at is not None:
                ax.plot(
                    trip_x, float(tripped_at), "o", ms=8, mfc="white", mec=_ORANGE, mew=2, zorder=6
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

    # --- top: the PnL and everything that happened at the trip
    draw_events(top, big=True)
    handles: list[Any] = [Line2D([], [], color=_BLUE, lw=1.3)]
    labels = ["session PnL (realized + unrealized, after commissions)"]
    if ceiling is not None:
        handles.append(Line2D([], [], color=_RED, ls="--", lw=1.4))
        labels.append(f"loss ceiling  -{ceiling} {unit}")
    if record is not None:
        handles.append(Line2D([], [], color=_ORANGE, lw=2))
        labels.append(f"trip at {time_of_day(record.tripped_at_ns)} ({cause_name(record)})")
        if tripped_at is not None:
            handles.append(Line2D([], [], ls="", marker="o", ms=8, mfc="white", mec=_ORANGE, mew=2))
            labels.append(f"PnL at the trip  {tripped_at} {unit}")
        handles.append(Patch(color="0.5", alpha=0.15, lw=0))
        labels.append("after the trip")
    if cancels:
        handles.append(Line2D([], [], ls="", marker="v", ms=9, color="tab:purple"))
        labels.append(f"orders cancelled ({len(cancels)}), {span_text(cancels)}")
    if close_list:
        handles.append(Line2D([], [], ls="", marker="*", ms=15, color="black", mfc="gold"))
        prices = ", ".join(str(p) for _, p in close_list[:2])
        more = ", ..." if len(close_list) > 2 else ""
        labels.append(
            f"risk-off closing fills ({len(close_list)}) @ {prices}{more}\n"
            f"PnL once closed  {close_points[-1][1]:,.2f} {unit}"
        )
    legend = top.legend(
        handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, borderaxespad=0
    )
    legend.set_gid("legend-pnl")
    top.set_ylabel(f"PnL ({unit})")
    top.grid(True, alpha=0.3)
    top.yaxis.set_major_formatter(money_ticks())
    shown = [float(y.min()), float(y.max()), 0.0]
    if ceiling is not None:
        shown.append(float(-ceiling))
    if tripped_at is not None:
        shown.append(float(tripped_at))
    lowest, highest = min(shown), max(shown)
    pad = (highest - lowest) * 0.08 or 1.0
    top.set_ylim(lowest - pad * 1.5, highest + pad)

    # --- bottom: the drawdown from the high-water mark
    bottom.fill_between(x, dd, 0, step="post", color=_RED, alpha=0.3, lw=0)
    bottom.step(x, dd, where="post", color=_RED, lw=1)
    worst = int(np.argmin(dd))
    dd_handles: list[Any] = [Line2D([], [], color=_RED, lw=6, alpha=0.3)]
    dd_labels = ["drawdown: how far the PnL is below\nits high-water mark (best so far)"]
    if drawdown[worst] < 0:
        bottom.plot(x[worst], dd[worst], "o", ms=6, color="darkred", zorder=5)
        dd_handles.append(Line2D([], [], color="darkred", marker="o", ms=6, ls=""))
        dd_labels.append(
            f"deepest  {drawdown[worst]:,.2f} {unit}\n"
            f"at {moment(times[worst], with_day=day_of(times[0]) != day_of(times[-1]))}"
        )
    else:
        dd_labels[0] += "\nnone in this session"
    if trip_x is not None and trip_ns is not None:
        bottom.axvline(trip_x, color=_ORANGE, lw=2, zorder=4, alpha=0.9, gid="trip")
        dd_handles.append(Line2D([], [], color=_ORANGE, lw=2))
        dd_labels.append(f"at the trip  {drawdown[_before(times, trip_ns)]:,.2f} {unit}")
    dd_legend = bottom.legend(
        dd_handles,
        dd_labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=9,
        borderaxespad=0,
    )
    dd_legend.set_gid("legend-drawdown")
    bottom.set_ylabel(f"drawdown ({unit})")
    bottom.grid(True, alpha=0.3)
    bottom.yaxis.set_major_formatter(money_ticks())
    deepest = float(dd.min())
    room = -deepest * 0.08 or 1.0
    bottom.set_ylim(deepest - room, room * 0.12)  # no room for a drawdown above zero

    # --- the time axis: every point and every event, ticks labelled to their precision
    span = x[-1] - x[0]
    margin = max(span * 0.02, 1 / DAY_S)
    left, right = x[0] - margin, x[-1] + margin
    if span == 0:  # one instant: a minute around it
        left, right = x[0] - 30 / DAY_S, x[0] + 30 / DAY_S
    bottom.set_xlim(left, right)
    locator = mdates.AutoDateLocator(tz=UTC, minticks=4, maxticks=9)
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(clock_ticks())
    if trip_x is not None:
        for ax in (top, bottom):
            ax.axvspan(trip_x, right, color="0.5", alpha=0.07, lw=0, zorder=0)
    day, end_day = day_of(times[0]), day_of(times[-1])
    bottom.set_xlabel(f"time (UTC, {day}{'' if end_day == day else ' to ' + end_day})")

    # --- a zoom on the trip, when the span is long enough for the trip to be lost in it and
    # there is something to see there
    if trip_x is not None and trip_ns is not None and span > 0:
        wanted = span * DAY_S * 0.03
        window = min(_NICE_WINDOWS, key=lambda w: abs(w - wanted)) / DAY_S
        near = (x >= trip_x - window / 2) & (x <= trip_x + window / 2)
        moves = bool(near.any()) and float(y[near].max()) != float(y[near].min())
        something = moves or bool(close_points) or tripped_at is not None
        if something and window <= span * _INSET_SHARE and span * DAY_S >= _INSET_MIN_SPAN_S:
            _zoom(top, x, y, trip_x, window, draw_events, close_points, tripped_at, ceiling)

    fig.suptitle(title or trip_title(record, cancels, close_list), fontsize=11, x=0.01, ha="left")
    return fig


def _zoom(
    top: Any,
    x: Any,
    y: Any,
    trip_x: float,
    window: float,
    draw_events: Any,
    close_points: list[tuple[float, float]],
    tripped_at: Decimal | None,
    ceiling: Decimal | None,
) -> None:
    """An inset on ``window`` around the trip, in the corner the curve crosses least."""
    import matplotlib.dates as mdates

    half = window / 2
    inset = top.inset_axes(_free_corner(top, x, y, trip_x))
    inset.set_gid("zoom")
    draw_events(inset, big=False)
    near = (x >= trip_x - half) & (x <= trip_x + half)
    shown = [*y[near].tolist(), *(p[1] for p in close_points)]
    if not shown:
        shown.append(float(y[max(int((x <= trip_x).sum()) - 1, 0)]))
    if tripped_at is not None:
        shown.append(float(tripped_at))
    lo, hi = min(shown), max(shown)
    if ceiling is not None and -ceiling >= lo - 2 * (hi - lo):  # near enough to show
        lo = min(lo, float(-ceiling))
    room = (hi - lo) * 0.15 or 1.0
    inset.set_xlim(trip_x - half, trip_x + half)
    inset.set_ylim(lo - room * 2, hi + room)
    inset.xaxis.set_major_locator(mdates.AutoDateLocator(tz=UTC, minticks=3, maxticks=6))
    inset.xaxis.set_major_formatter(clock_ticks())
    inset.yaxis.set_major_formatter(money_ticks())
    inset.tick_params(labelsize=7)
    inset.grid(True, alpha=0.3)
    inset.set_title(f"zoom: {duration(window * DAY_S)} around the trip", fontsize=8)
    inset.set_facecolor("white")
    top.indicate_inset_zoom(inset, edgecolor="0.4", alpha=0.6)


def _free_corner(ax: Any, x: Any, y: Any, trip_x: float) -> list[float]:
    """The inset box (axes fraction) where the curve and the trip line cross least.

    The boxes start 12% in from the left edge: the inset's own tick labels sit to its left,
    and must stay inside the panel, off the panel's axis labels.
    """
    import numpy as np

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    fx = (x - x0) / (x1 - x0)
    fy = (y - y0) / (y1 - y0)
    ft = (trip_x - x0) / (x1 - x0)
    w, h = 0.28, 0.34
    best: tuple[float, list[float]] | None = None
    for left in (0.12, 0.40, 0.68):
        for low in (0.1, 0.56):
            inside = (fx >= left - 0.02) & (fx <= left + w + 0.02)
            inside &= (fy >= low - 0.04) & (fy <= low + h + 0.04)
            cost = float(np.count_nonzero(inside)) / max(len(x), 1)
            if left - 0.03 <= ft <= left + w + 0.03:
                cost += 1.0  # never hide the trip itself
            if best is None or cost < best[0]:
                best = (cost, [left, low, w, h])
    assert best is not None
    return best[1]


def _pnl_at_trip(cause: object) -> Decimal | None:
    """The PnL the trip was judged on, where the cause says it exactly: ``-loss`` for the
    session loss limit, ``high_water - drawdown`` for the trailing one (a daily loss is
    measured from the day's start, which the cause does not give as a PnL)."""
    kind = getattr(cause, "kind", None)
    if kind == "drawdown":
        loss = getattr(cause, "loss", None)
        return -loss if isinstance(loss, Decimal) else None
    if kind == "trailing-drawdown":
        high, down = getattr(cause, "high_water", None), getattr(cause, "drawdown", None)
        if isinstance(high, Decimal) and isinstance(down, Decimal):
            return high - down
    return None


def _after(times: list[int], ts: int) -> int:
    """Index of the first point at or after ``ts`` (the curve once a fill is in), or the last."""
    return min(bisect_left(times, ts), len(times) - 1)


def _before(times: list[int], ts: int) -> int:
    return max(bisect_right(times, ts) - 1, 0)
