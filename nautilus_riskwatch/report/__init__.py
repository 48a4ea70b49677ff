"""The trip report picture: session PnL and drawdown around a risk-off, as one PNG.

matplotlib is optional: only ``plot_trip`` (and ``write_trip_report``, which calls it)
needs it, and imports it when called (the ``[plot]`` extra, or ``pip install matplotlib``).
``equity_curve`` needs nothing extra.
``nautilus_riskwatch.report.postmortem`` draws the same report from an event log file
alone, after the process is gone (from a shell: ``riskwatch postmortem FILE``).
"""

from nautilus_riskwatch.report.plot import equity_curve, plot_trip, write_trip_report

__all__ = ["equity_curve", "plot_trip", "write_trip_report"]
