"""The offline two-node example runs and says what it should."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "firm_two_nodes.py"


def test_the_two_node_example_takes_both_nodes_down(capsys):
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "[A] RISK-OFF: feed 'EUR/USD.SIM quotes' delivered nothing for 0.5s" in out
    assert "[B] RISK-OFF: firm kill (epoch 1) from node-A: feed 'EUR/USD.SIM quotes'" in out
    for name in "AB":
        assert f"[{name}] node-{name} trading state: HALTED" in out
        assert f"[{name}] node-{name} open position DemoHedger-002 LONG" in out
        assert f"[{name}] node-{name} open position DemoTrader" not in out
    assert "node node-A enrolled" in out and "node node-B enrolled" in out
    assert "FIRM demo   latch TRIPPED   epoch 1" in out
    for name in "AB":  # each node's figure is signed by its enrolled key
        row = next(line for line in out.splitlines() if line.strip().startswith(f"node-{name} "))
        assert "enrolled" in row
    assert "by node-A: [stale]" in out
