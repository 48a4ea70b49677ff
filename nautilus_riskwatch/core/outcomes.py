"""What the cascade tells as it goes: a stage's outcome, a step's error, the record made known.

Shared by the cascade's stages (``cascade``) and the hold after them (``hold``), so that a
stage and an amendment of the hold tell the record and the event log in the same words.
"""

from __future__ import annotations

from collections.abc import Callable

from nautilus_riskwatch.core.event_log import emit
from nautilus_riskwatch.core.record import RiskOff, Stage


def outcome(stage: Stage, record: RiskOff, *facts: str) -> None:
    """Log what a stage achieved: the named fields of the record, as they stand now."""
    emit("outcome", stage=stage, **{fact: getattr(record, fact) for fact in facts})


def failed(record: RiskOff, stage: Stage, error: Exception) -> None:
    """A step broke: the record says so (and the next step still runs)."""
    record.errors.append(f"{stage}: {type(error).__name__}: {error}")
    emit("error", error=record.errors[-1])


def publish(record: RiskOff, at_ns: int, publish_to: Callable[[RiskOff], None]) -> None:
    """Log the record as it stands and hand it to the book (``Book.publish``); a book that
    cannot take it is one more error of the record, never an exception."""
    emit("record", at_ns=at_ns, record=record.to_dict())
    try:
        publish_to(record)
    except Exception as error:
        record.errors.append(f"publishing: {type(error).__name__}: {error}")
        emit("error", error=record.errors[-1])


def close_refusals(record: RiskOff, failures: dict[str, list[str]]) -> None:
    """Each refused close (``Book.close_failures``), and why each position still open is
    open: written by the cascade's FLATTENING and again by every reread of the hold."""
    record.close_rejections = [line for lines in failures.values() for line in lines]
    record.unflattened_why = {
        p: failures[p][-1] for p in record.positions_unflattened if failures.get(p)
    }
