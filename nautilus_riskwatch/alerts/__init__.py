"""What the operator hears: alerts (through Apprise) and warnings before a limit.

Engine-free: nothing here imports nautilus_trader. ``message.Alert`` is the record,
``sender.AlertSender`` delivers it off the watch's path (or, dry, to a callback),
``targets`` checks the URLs at build, ``levels`` says when a figure or a silence crossed a
warning level. Apprise is imported only when there are URLs to send to (the ``[alerts]``
extra).
"""

from nautilus_riskwatch.alerts.levels import (
    DEFAULT_HYSTERESIS,
    Crossing,
    FeedSilence,
    Levels,
    warn_fractions,
)
from nautilus_riskwatch.alerts.message import Alert, AlertKind, figures
from nautilus_riskwatch.alerts.sender import AlertSender, Delivery, TargetStats
from nautilus_riskwatch.alerts.targets import AlertsConfigError

__all__ = [
    "DEFAULT_HYSTERESIS",
    "Alert",
    "AlertKind",
    "AlertSender",
    "AlertsConfigError",
    "Crossing",
    "Delivery",
    "FeedSilence",
    "Levels",
    "TargetStats",
    "figures",
    "warn_fractions",
]
