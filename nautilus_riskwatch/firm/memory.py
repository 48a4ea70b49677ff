"""``EpochMemory``: what a node has seen of the firm latch, kept in a file of its own.

Why: Redis cannot be trusted to go forwards. Someone with write access who saved the latch
as it was after a genuine, signed re-arm (epoch N) can write it back after the firm tripped
again (epoch N+1). Running nodes put the newer trip back (they remember it), but a node
started while *none* runs has only Redis to go by, and that old re-arm verifies. With an
``epoch_file`` the node remembers, across restarts, the highest epoch it has seen, the trip
of that epoch (its origin, cause and reason) and the operator's re-arm of it, if it
accepted one. A latch found below that epoch has gone backwards: the node halts and puts
back what it remembers, and only the operator's re-arm of that epoch re-arms it.

The file is the node's own, like its ``key_file``: a small JSON document written whole
(written to a temporary file beside it, then renamed over it). A file that exists but
cannot be read stops the node's start, naming the file: a node that cannot know what it
saw must not guess.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nautilus_riskwatch.errors import RiskWatchError
from nautilus_riskwatch.firm.latch import Latch


class EpochFileError(RiskWatchError, ValueError):
    """The epoch file exists but cannot be read or written."""


@dataclass(frozen=True)
class Remembered:
    """The highest epoch seen, that epoch's trip and the re-arm of it this node accepted."""

    epoch: int = 0
    trip: Latch | None = None
    rearm: Latch | None = None

    def current(self) -> Remembered:
        """Only what is of ``epoch``: a trip or a re-arm of an older epoch proves nothing."""
        trip, rearm = self.trip, self.rearm
        return Remembered(
            self.epoch,
            trip if trip is not None and trip.epoch == self.epoch else None,
            rearm if rearm is not None and rearm.epoch == self.epoch else None,
        )


def _latch(raw: Any, path: Path) -> Latch | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise EpochFileError(f"epoch file {path}: a latch entry is not an object")
    try:
        return Latch(**raw)
    except TypeError as error:
        raise EpochFileError(f"epoch file {path}: {error}") from None


class EpochMemory:
    """Load and save ``Remembered`` at ``path`` (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._saved: Remembered | None = None

    def load(self) -> Remembered:
        """What the file holds; an absent file is a node that has seen nothing yet."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return Remembered()
        except OSError as error:
            raise EpochFileError(f"epoch file {self.path}: {error}") from None
        try:
            raw = json.loads(text)
            epoch = raw["epoch"]
        except (ValueError, TypeError, KeyError):
            raise EpochFileError(f"epoch file {self.path}: not an epoch file") from None
        if not isinstance(epoch, int) or epoch < 0:
            raise EpochFileError(f"epoch file {self.path}: epoch {epoch!r}")
        remembered = Remembered(
            epoch, _latch(raw.get("trip"), self.path), _latch(raw.get("rearm"), self.path)
        )
        self._saved = remembered
        return remembered

    def save(self, remembered: Remembered) -> None:
        """Write it whole, if it changed (a temporary file renamed over the old one)."""
        if remembered == self._saved:
            return
        document = {
            "epoch": remembered.epoch,
            "trip": None if remembered.trip is None else vars(remembered.trip),
            "rearm": None if remembered.rearm is None else vars(remembered.rearm),
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            temporary.write_text(json.dumps(document, indent=1))
            os.replace(temporary, self.path)
        except OSError as error:
            raise EpochFileError(f"epoch file {self.path}: {error}") from None
        self._saved = remembered
