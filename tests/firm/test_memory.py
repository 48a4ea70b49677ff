"""``EpochMemory``: a node's own record of the highest firm epoch it saw (``epoch_file``)."""

from __future__ import annotations

import pytest

from nautilus_riskwatch.firm.latch import Latch
from nautilus_riskwatch.firm.memory import EpochFileError, EpochMemory, Remembered


def test_an_absent_file_is_a_node_that_saw_nothing_and_what_is_saved_loads_back(tmp_path):
    path = tmp_path / "node.epoch"
    assert EpochMemory(str(path)).load() == Remembered()
    trip = Latch("tripped", 2, "A", "manual", "drill", at_ms=5)
    rearm = Latch("armed", 2, "A", "manual", "drill", rearm_by="ops", rearm_sig="ab" * 32)
    EpochMemory(str(path)).save(Remembered(2, trip, rearm))
    assert EpochMemory(str(path)).load() == Remembered(2, trip, rearm)
    assert not (tmp_path / "node.epoch.tmp").exists()  # written beside it, then renamed


@pytest.mark.parametrize(
    "text", ["", "not json", '{"trip": null}', '{"epoch": -1}', '{"epoch": 1, "trip": 3}',
             '{"epoch": 1, "trip": {"nonsense": 1}}'],
)  # fmt: skip
def test_a_file_that_cannot_be_read_stops_the_node_naming_it(tmp_path, text):
    path = tmp_path / "node.epoch"
    path.write_text(text)
    with pytest.raises(EpochFileError, match=r"node\.epoch"):
        EpochMemory(str(path)).load()
