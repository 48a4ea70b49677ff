"""The examples run, offline, and say what they should: they cannot rot unnoticed."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_backtest_quickstart_trips_and_reports(capsys):
    runpy.run_path(str(EXAMPLES / "backtest_quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "RISK-OFF: loss 1002.15000 USD reached the ceiling 1000 USD" in out
    assert "tripped at     2020-01-01 20:18:55.019000000 UTC" in out
    assert "stage reached  done (complete)" in out
    assert "open position  SIM-1-002 DemoHedger-002 LONG 300000" in out
    assert "DemoTrader" not in out.split("After the run:")[1].split("denied")[0]
