"""Every error the package raises to a caller shares one base, ``RiskWatchError``.

The check walks every module of the package, so an error class added later without the
base fails here, by name.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import nautilus_riskwatch
from nautilus_riskwatch import RiskWatchConfig, RiskWatchConfigError, RiskWatchError, Trip
from nautilus_riskwatch.core.trips import RecordedError

#: Not errors raised to a caller: a stand-in for an error known only from a log.
NOT_RAISED = {RecordedError}


def _package_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(nautilus_riskwatch.__path__, "nautilus_riskwatch."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra not installed (matplotlib, apprise, ...)
            continue
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_error_of_the_package_is_a_riskwatch_error_or_a_trip():
    found = _package_exceptions()
    assert "nautilus_riskwatch.errors.RiskWatchConfigError" in found  # the walk works
    strays = sorted(
        name
        for name, cls in found.items()
        if not issubclass(cls, (RiskWatchError, Trip)) and cls not in NOT_RAISED
    )
    assert strays == []


def test_trips_are_not_errors_of_the_watch():
    assert not issubclass(Trip, RiskWatchError)


def test_a_refused_config_is_caught_by_the_base_and_stays_a_value_error():
    with pytest.raises(RiskWatchError) as caught:
        RiskWatchConfig(feeds=[{"instrument_id": "EUR/USD.SIM", "stale_after": -1.0}])
    assert isinstance(caught.value, RiskWatchConfigError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.field.startswith("feeds[0]")
