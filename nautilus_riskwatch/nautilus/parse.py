"""The readers of one config value each: the field's name and the raw value in, the checked
value out (an engine type, a ``Decimal``, an enum member), or ``RiskWatchConfigError``.

Why they take the raw value as ``object``: a config reaches the watch from Python (where a
frozen struct does not check its fields' types), from an ``ImportableActorConfig`` dict of
plain strings and numbers, or from a file, so nothing about the value is trusted; and a
refusal must name the field and the value, because the fix is nearly always a typo.
``settings.py`` composes them into the checked ``Settings``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

import msgspec
from nautilus_trader.config import NautilusConfig
from nautilus_trader.model.identifiers import InstrumentId, StrategyId
from nautilus_trader.model.objects import Currency

from nautilus_riskwatch.core.limits import parse_time_of_day
from nautilus_riskwatch.errors import RiskWatchConfigError
from nautilus_riskwatch.nautilus.wording import unknown_field

#: The longest bound, cooldown or timeout, in seconds (~31.7 years). The engine's clock holds
#: nanoseconds since 1970 in 64 bits (up to ~9.2e18 ns, the year 2262): now (~1.8e9 s) plus
#: this stays well inside it, while ~1.7e10 s gives an ``OverflowError`` inside the engine.
MAX_SECONDS = 1e9
#: A money amount as people write it: digits, an optional point and decimals. No exponent
#: (``1e-400``), no ``_`` or ``,`` separators, no sign; bounded so the ledger stays exact.
_MAX_DIGITS, _MAX_DECIMALS = 30, 16
_AMOUNT = re.compile(r"[0-9]{1,30}(\.[0-9]{1,16})?")
#: A share of the account equity: ``"2%"``, ``"0.5%"`` (more than 0, at most 100).
_PERCENT = re.compile(r"([0-9]{1,3}(\.[0-9]{1,16})?)\s*%")
_S = TypeVar("_S", bound=NautilusConfig)
_E = TypeVar("_E", bound=StrEnum)


def struct(field: str, raw: object, cls: type[_S]) -> _S:
    """A nested config from a dict (as a direct, unvalidated construction leaves it)."""
    if isinstance(raw, dict):
        known = cls.__struct_fields__
        for key in raw:
            if key not in known:
                raise unknown_field(f"{field}.{key}", raw[key], known)
        required = [f.name for f in msgspec.structs.fields(cls) if f.required and f.name not in raw]
        if required:
            raise RiskWatchConfigError(f"{field}.{required[0]}", None, "a required field")
        raw = cls(**raw)
    if not isinstance(raw, cls):
        raise RiskWatchConfigError(field, raw, f"expected a {cls.__name__} or a dict")
    return raw


def time_of_day(field: str, value: object) -> str:
    """``HH:MM`` exactly, read by the schedule's own reader (``parse_time_of_day``), so the
    check and the schedule cannot disagree; surrounding blanks dropped. The stripped text is
    what is stored, so the engine never meets what was refused here."""
    text = text_of(field, value)
    try:
        parse_time_of_day(text)
    except ValueError:
        raise RiskWatchConfigError(field, value, "expected a time of day as 'HH:MM'") from None
    return text


def zone(field: str, value: object) -> str:
    """An IANA time zone name the machine knows."""
    text = text_of(field, value)
    try:
        ZoneInfo(text)
    except Exception:
        raise RiskWatchConfigError(field, value, "unknown time zone (IANA name expected)") from None
    return text


def money(
    field: str, value: object, most: int = 100
) -> tuple[Decimal | None, str | None, Decimal | None]:
    """``"5000 USD"`` -> (amount, currency, None); ``"2%"`` -> (None, None, percent), the
    share more than 0 and at most ``most`` (a loss: 100; a gross exposure may be more)."""
    if value is None:
        return None, None, None
    text = text_of(field, value)
    if text.endswith("%"):
        share = _PERCENT.fullmatch(text)
        percent = Decimal(share[1]) if share is not None else None
        if percent is None or not 0 < percent <= most:
            raise RiskWatchConfigError(
                field,
                value,
                f"a share of the equity is written as a number more than 0 and at most {most} "
                "followed by '%', e.g. '2%' or '0.5%'",
            )
        return None, None, percent
    parts = text.split()
    if len(parts) != 2:
        raise RiskWatchConfigError(
            field, value, "expected '<amount> <currency>' (e.g. '5000 USD') or a share '2%'"
        )
    if _AMOUNT.fullmatch(parts[0]) is None:
        raise RiskWatchConfigError(
            field,
            value,
            f"{parts[0]!r} is not a number written as plain digits (e.g. '5000' or "
            f"'1234.56'; at most {_MAX_DIGITS} digits before the point, {_MAX_DECIMALS} after)",
        )
    try:
        amount = Decimal(parts[0])
    except InvalidOperation:
        raise RiskWatchConfigError(field, value, f"{parts[0]!r} is not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise RiskWatchConfigError(field, value, "the ceiling must be a positive, finite amount")
    return amount, currency(field, parts[1], value), None


def currency(field: str, code: object, value: object = None) -> str:
    """A currency code NautilusTrader knows (strictly: no made-up codes)."""
    try:
        found = Currency.from_str(text_of(field, code), strict=True)
    except RiskWatchConfigError:
        raise
    except Exception:
        found = None
    if found is None:
        raise RiskWatchConfigError(
            field, code if value is None else value, f"unknown currency {code!r}"
        )
    return str(found.code)


def seconds(field: str, value: object) -> float:
    """A positive, finite number of seconds, within ``MAX_SECONDS``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RiskWatchConfigError(field, value, "expected a number of seconds")
    if not math.isfinite(value) or value <= 0:
        raise RiskWatchConfigError(field, value, "must be a positive, finite number of seconds")
    return _bounded(field, value)


def cooldown(field: str, value: object) -> float:
    """Like ``seconds``, but 0 is allowed (no wait)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RiskWatchConfigError(field, value, "expected a number of seconds")
    if not math.isfinite(value) or value < 0:
        raise RiskWatchConfigError(field, value, "must be a finite number of seconds >= 0")
    return _bounded(field, value)


def _bounded(field: str, value: float) -> float:
    if value > MAX_SECONDS:
        raise RiskWatchConfigError(
            field,
            value,
            f"more than {MAX_SECONDS:.0e} s: the engine clock counts nanoseconds since 1970 "
            "in 64 bits, and a deadline that far out would overflow it",
        )
    return float(value)


def count(field: str, value: object) -> int:
    """A whole number >= 1 (``True`` is not one)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RiskWatchConfigError(field, value, "expected a whole number >= 1")
    return value


def flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise RiskWatchConfigError(field, value, "expected true or false")
    return value


def text_of(field: str, value: object) -> str:
    """A non-empty string, surrounding blanks dropped."""
    if not isinstance(value, str) or not value.strip():
        raise RiskWatchConfigError(field, value, "expected a non-empty string")
    return value.strip()


def seq(field: str, value: object) -> tuple[object, ...]:
    """A list, a tuple or another sequence (a lone string is refused: it is a typo for a
    list of one)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise RiskWatchConfigError(field, value, "expected a list")
    return tuple(value)


def choice(field: str, value: object, kinds: type[_E]) -> _E:
    """One of an enum's values, as its member."""
    for kind in kinds:
        if value == kind.value:
            return kind
    raise RiskWatchConfigError(field, value, f"expected one of {', '.join(kinds)}")


def one_of(field: str, value: object, allowed: tuple[str, ...]) -> str:
    """One of a tuple of words (the firm's policies, which the firm package lists)."""
    if value not in allowed:
        raise RiskWatchConfigError(field, value, f"expected one of {', '.join(allowed)}")
    return str(value)


def instrument(field: str, value: object) -> InstrumentId:
    text = text_of(field, value)
    try:
        return InstrumentId.from_str(text)
    except ValueError as error:
        raise RiskWatchConfigError(field, value, f"not an instrument id ({error})") from None


def strategy(field: str, value: object) -> StrategyId:
    text = text_of(field, value)
    try:
        return StrategyId(text)
    except ValueError as error:
        raise RiskWatchConfigError(field, value, f"not a strategy id ({error})") from None


def scope(
    field: str, strategy_id: object, instrument_id: object
) -> tuple[StrategyId | None, InstrumentId | None]:
    """A limit entry's scope: one strategy, one instrument, or neither (the portfolio)."""
    found_strategy = None if strategy_id is None else strategy(f"{field}.strategy_id", strategy_id)
    found_instrument = (
        None if instrument_id is None else instrument(f"{field}.instrument_id", instrument_id)
    )
    if found_strategy is not None and found_instrument is not None:
        raise RiskWatchConfigError(
            f"{field}.instrument_id",
            instrument_id,
            "a limit has one scope: a strategy or an instrument",
        )
    return found_strategy, found_instrument
