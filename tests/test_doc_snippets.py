"""Every ```python block in the README and docs/ runs.

Blocks of one file run in order in one namespace. Most start from what a reader is assumed
to have: ``engine`` (a demo backtest engine with a trader and a hedger, no watch yet) and
``msgbus``. Snippets that operate a running watch (``watch.kill(...)``, commands on the
bus) run inside a real backtest, from an actor's quote callbacks (one block per quote),
with ``watch`` running.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nautilus_trader.common.actor import Actor

from nautilus_riskwatch import RiskWatchConfig
from nautilus_riskwatch.demo import build_engine, eurusd_instrument

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _exec_all(doc: Path, blocks: list[str], namespace: dict) -> None:
    for block in blocks:
        exec(compile(block, f"{doc.name} snippet", "exec"), namespace)


class _SnippetRunner(Actor):
    def __init__(self, doc, blocks, watch) -> None:
        super().__init__()
        self.doc, self.blocks, self.watch, self.done = doc, blocks, watch, False

    def on_start(self) -> None:
        self.subscribe_quote_ticks(eurusd_instrument().id)

    def on_quote_tick(self, tick) -> None:
        # one block per quote: a cascade ends once the engine has had its turn, so a re-arm
        # in the block after a kill comes a quote later, as it would from an operator
        if not self.done:
            if not hasattr(self, "namespace"):
                self.namespace = {"watch": self.watch, "msgbus": self.msgbus}
                self.pending = list(self.blocks)
            _exec_all(self.doc, self.pending[:1], self.namespace)
            del self.pending[:1]
            self.done = not self.pending


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_python_snippets_run(doc):
    text = doc.read_text()
    blocks = BLOCK.findall(text)
    if not blocks:
        pytest.skip(f"{doc.name} has no python snippets")
    code = "\n".join(blocks)
    # "watch." as a name of its own (not the end of "nautilus_riskwatch.")
    operates_a_running_watch = re.search(r"\bwatch\.", code) and "watch = " not in code
    if operates_a_running_watch:
        run = build_engine(
            RiskWatchConfig(feeds=[{"instrument_id": "EUR/USD.SIM", "stale_after": 90.0}])
        )
        runner = _SnippetRunner(doc, blocks, run.watch)
        run.engine.add_actor(runner)
        run.engine.run()
        assert runner.done and (run.watch.record or run.watch.records)
        return
    run = build_engine(None)
    namespace = {"engine": run.engine, "msgbus": run.engine.kernel.msgbus}
    _exec_all(doc, blocks, namespace)
    watch = namespace.get("watch")
    if watch is not None and run.engine.trader.actors():
        assert watch.record is not None, f"the watch in {doc.name} did not trip"
