"""Every backtest scenario also checks the kill's invariants (``tests/invariants.py``).

A test attaches an ``Invariants`` to its engine before the run (``scripted.build`` does it
for every run it builds; ``checked(build_engine)`` for the demo's); when the test's body
has passed, each attached checker is checked here, inside the test's call, so a violation
fails the test (or is the expected failure of a test marked ``xfail(strict=True)``).
"""

from __future__ import annotations

import pytest
from invariants import attached


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    attached()  # forget the checkers of an earlier test


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    for inv in attached():
        inv.check()
    return result
