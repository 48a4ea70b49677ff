"""The kill's invariants under random combinations of NautilusTrader features (issue 26).

CI runs a small, derandomized search (the same examples every run, so a failure
reproduces); people run a long one with a random seed, printed first:

    RISKWATCH_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/fuzz -q -s

``RISKWATCH_FUZZ_SEED=N`` replays one seed; ``RISKWATCH_FUZZ_STEPS`` bounds the steps of
an example (default 30). See docs/testing.md.
"""

from __future__ import annotations

import os
import random

from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as use_seed
from hypothesis.stateful import run_state_machine_as_test
from machine import KillMachine

EXAMPLES = int(os.environ.get("RISKWATCH_FUZZ_EXAMPLES", "0"))  # 0: the CI search
STEPS = int(os.environ.get("RISKWATCH_FUZZ_STEPS", "30"))
CI_EXAMPLES = 80


def test_the_kill_holds_under_random_feature_combinations():
    long_run = EXAMPLES > 0
    chosen = os.environ.get("RISKWATCH_FUZZ_SEED")
    machine: type[KillMachine] = KillMachine
    if long_run or chosen:
        seed = int(chosen) if chosen else random.randrange(2**32)
        print(f"\nRISKWATCH_FUZZ_SEED={seed}  (set it to replay this search)")
        machine = use_seed(seed)(type("SeededKillMachine", (KillMachine,), {}))
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES or CI_EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=not (long_run or chosen),
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
            print_blob=True,
        ),
    )


def test_the_search_finds_a_watch_that_drops_its_cancels(monkeypatch):
    """The search can fail: with the watch's cancels dropped, it finds a leak at once."""
    import pytest
    from invariants import InvariantViolated

    from nautilus_riskwatch.nautilus.book import NautilusBook

    monkeypatch.setattr(NautilusBook, "cancel", lambda self, order_ids: None)
    with pytest.raises(InvariantViolated, match=r"\[1 flat\]|\[2 no fill\]|\[4 record\]"):
        run_state_machine_as_test(
            KillMachine,
            settings=settings(
                max_examples=200,
                stateful_step_count=STEPS,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],
                report_multiple_bugs=False,
            ),
        )
