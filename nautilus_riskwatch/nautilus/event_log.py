"""The event log over NautilusTrader: the node's logger as a sink, and engine objects as lines.

The core writes the cascade's own steps; this module says what the adapter adds to them:
each command as it is sent (which order or position, to which endpoint), each fill of a
guarded strategy (for the PnL curve), and each answer after a trip (an order denied, a
cancel or a close rejected). Only ids, figures and the engine's own reasons are written,
never a config value that could hold a secret.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from nautilus_trader.execution.messages import CancelOrder, SubmitOrder
from nautilus_trader.model.events import (
    OrderCancelRejected,
    OrderDenied,
    OrderFilled,
    OrderRejected,
)

from nautilus_riskwatch.core.event_log import Event
from nautilus_riskwatch.looptime import utc
from nautilus_riskwatch.nautilus.closes import is_watch_close

#: Order events that answer the watch, or deny a strategy, once a scope has tripped.
ANSWERS = (OrderDenied, OrderCancelRejected, OrderRejected)
_ANSWER_KINDS = {
    OrderDenied: "denied",
    OrderCancelRejected: "cancel-rejected",
    OrderRejected: "rejected",
}
#: What an operator must look at: written to the node's log as warnings.
_WARNINGS = frozenset(
    (
        "trip",
        "suppressed",
        "deadline",
        "timeout",
        "error",
        "hurried",
        "denied",
        "denials",
        "cancel-rejected",
        "rejected",
    )
)
#: The PnL curve's points: in the file for the picture, at debug level in the node's log.
_QUIET = frozenset(("pnl", "fill"))


class LoggerSink:
    """Writes each event through the actor's logger, as ``riskwatch <kind>: <json line>``.

    So the trail lands wherever the node's logging goes (console, file, log shipper),
    file or no file. The JSON is the same as in the file, so either can be parsed.

    Why deferred: a call into NautilusTrader's logger costs tens of microseconds, and the
    cascade writes several events before its first command. So, on a running loop, the
    lines are handed to the logger one loop iteration later, after the commands have gone
    out. The node's log is not the durable copy anyway (its writer is asynchronous); the
    ``event_log`` file is, and it is written before each step.
    """

    def __init__(self, log: Any) -> None:
        self._log = log
        self._pending: list[Event] = []
        self._scheduled = False

    def __call__(self, event: Event) -> None:
        self._pending.append(event)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop running here (an engine callback in a backtest)
            self.flush()
            return
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Hand every pending line to the logger, in order (also called at stop)."""
        self._scheduled = False
        pending, self._pending = self._pending, []
        log = self._log
        for event in pending:
            text = f"riskwatch {event.kind}: {event.to_json()}"
            if event.kind in _WARNINGS:
                log.warning(text)
            elif event.kind in _QUIET:
                log.debug(text)
            else:
                log.info(text)


def new_session_id(now_ns: int) -> str:
    """A session id that sorts by start time and is unique: ``20200101T170000Z-1a2b3c4d5e6f``."""
    stamp = utc(now_ns)
    compact = stamp[:19].replace("-", "").replace(":", "")
    return f"{compact}Z-{uuid.uuid4().hex[:12]}"


def command_fields(command: object, endpoint: str) -> dict[str, Any]:
    """What a command is about, for its ``command`` line: ids, side and size, the endpoint."""
    fields: dict[str, Any] = {
        "command": type(command).__name__,
        "endpoint": endpoint,
        "strategy_id": str(getattr(command, "strategy_id", "")),
        "instrument_id": str(getattr(command, "instrument_id", "")),
    }
    if isinstance(command, CancelOrder):
        fields["order"] = command.client_order_id.value
    elif isinstance(command, SubmitOrder):
        order = command.order
        fields["instrument_id"] = str(order.instrument_id)
        fields["order"] = order.client_order_id.value
        fields["position"] = None if command.position_id is None else command.position_id.value
        fields["side"] = order.side_string()
        fields["quantity"] = str(order.quantity)
        fields["order_type"] = order.type_string()
        fields["reduce_only"] = order.is_reduce_only
        fields["tags"] = list(order.tags or ())
    fields["command_id"] = str(getattr(command, "id", ""))
    return fields


def fill_fields(fill: OrderFilled, close_tag: str, tags: Sequence[str] | None) -> dict[str, Any]:
    """A fill, exactly (Decimal strings), and whether it is one of the watch's closes."""
    return {
        "order": fill.client_order_id.value,
        "strategy_id": str(fill.strategy_id),
        "instrument_id": str(fill.instrument_id),
        "position": None if fill.position_id is None else fill.position_id.value,
        "side": "BUY" if fill.is_buy else "SELL",
        "quantity": fill.last_qty.as_decimal(),
        "price": fill.last_px.as_decimal(),
        "commission": fill.commission.as_decimal(),
        "ts_event": fill.ts_event,
        "closing": is_watch_close(tags, close_tag),
    }


def answer(event: Any) -> tuple[str, dict[str, Any]]:
    """An order denied, a cancel or an order rejected: the kind of line and its fields."""
    kind = _ANSWER_KINDS[type(event)]
    return kind, {
        "order": event.client_order_id.value,
        "strategy_id": str(event.strategy_id),
        "instrument_id": str(event.instrument_id),
        "reason": str(event.reason),
    }
