"""The examples run, offline, and say what they should: they cannot rot unnoticed."""

from __future__ import annotations

import importlib.util
import runpy
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def _run(name: str, capsys) -> str:
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return capsys.readouterr().out


def test_backtest_quickstart_trips_and_reports(capsys):
    out = _run("backtest_quickstart.py", capsys)
    assert "RISK-OFF: loss 1002.15 USD reached the ceiling 1000 USD" in out
    assert "tripped at     2020-01-01 20:18:55.019000000 UTC" in out
    assert "stage reached  done (complete)" in out
    assert "open position  SIM-1-002 DemoHedger-002 LONG 300000" in out
    assert "DemoTrader" not in out.split("After the run:")[1].split("denied")[0]
    if importlib.util.find_spec("matplotlib") is not None:  # the [plot] extra
        assert "trip report picture: " in out and "trip_report.png" in out


def test_backtest_node_example_gives_the_same_trip(capsys):
    out = _run("backtest_node.py", capsys)
    assert "RISK-OFF: loss 1002.15 USD reached the ceiling 1000 USD" in out
    assert "stage reached  done (complete)" in out


def test_several_strategies_example_spares_only_the_hedge(capsys):
    out = _run("several_strategies.py", capsys)
    assert "RISK-OFF: loss 1509.12 USD reached the ceiling 1500 USD" in out
    assert "positions      closed 2 [SIM-1-001, SIM-1-003]" in out
    after = out.split("After the run:")[1]
    assert "DemoHedger-002" in after and "DemoTrader" not in after


def test_live_node_example_trips_on_the_dead_feed(capsys):
    out = _run("live_node.py", capsys)
    assert "RISK-OFF: feed 'EUR/USD.SIM quotes' delivered nothing for 0.5s" in out
    assert "stage reached  done (complete)" in out
    assert "node running: True, trading state: HALTED" in out
    assert "open position  SIM-1-002 DemoHedger-002 LONG 300000" in out


def test_live_node_example_logs_no_error():
    # the node's own log goes to the process's stderr, past capsys: run it as a user would
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "live_node.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "RISK-OFF: feed 'EUR/USD.SIM quotes'" in out.stdout
    logged = out.stdout + out.stderr
    assert "[ERROR]" not in logged, logged[-3000:]
