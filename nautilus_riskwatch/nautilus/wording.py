"""The package's own words for what msgspec refuses before the watch's checks can run.

A config reaches the watch by two paths, and each has a refusal that is msgspec's, not the
watch's: built from Python, an unknown keyword (``max_los=...``) or a missing required
field is a ``TypeError`` raised before ``__post_init__``; decoded from an
``ImportableActorConfig``, an unknown key or a value of the wrong type is a
``msgspec.ValidationError`` in msgspec's words (``Expected `float`, got `str` - at
`$.feeds[0].stale_after```). Both are said here as every other refusal of the config is: a
``RiskWatchConfigError`` naming the field (as ``feeds[0].stale_after``) and the value, with
the nearest known key for a typo and an example of what is expected.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable
from typing import Any

import msgspec

from nautilus_riskwatch.errors import RiskWatchConfigError

_UNKNOWN = re.compile(r"Object contains unknown field `(?P<key>[^`]*)`(?: - at `\$(?P<at>.*)`)?")
_MISSING = re.compile(r"Object missing required field `(?P<key>[^`]*)`(?: - at `\$(?P<at>.*)`)?")
_TYPE = re.compile(r"Expected `(?P<want>[^`]*)`, got `(?P<got>[^`]*)`(?: - at `\$(?P<at>.*)`)?")
_MISSING_ARGUMENT = re.compile(r"Missing required argument '(?P<key>\w+)'")
#: What each JSON type msgspec names is, as people write it.
_WORDS = {
    "float": "a number (e.g. 5.0)",
    "int": "a whole number (e.g. 3)",
    "str": 'a string in quotes (e.g. "5000 USD")',
    "bool": "true or false",
    "array": 'a list (e.g. ["a", "b"])',
    "object": 'a mapping of names to values (e.g. {"stale_after": 5.0})',
    "null": "null",
}


class ConfigMeta(msgspec.StructMeta):
    """The config structs' metaclass (msgspec's documented extension point): a struct built
    from Python with an unknown keyword or without a required field is refused in the
    package's words, with the nearest known field."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        fields: tuple[str, ...] = getattr(cls, "__struct_fields__", ())
        for key, value in kwargs.items():
            if key not in fields:
                raise unknown_field(key, value, fields)
        try:
            return super().__call__(*args, **kwargs)
        except TypeError as error:
            missing = _MISSING_ARGUMENT.fullmatch(str(error))
            if missing is None:
                raise
            raise RiskWatchConfigError(missing["key"], None, "a required field") from None


def unknown_field(field: str, value: object, known: Iterable[str]) -> RiskWatchConfigError:
    """The refusal of an unknown key, with the nearest known one (a typo, nearly always)."""
    names = sorted(known)
    near = difflib.get_close_matches(field.rsplit(".", 1)[-1], names, n=1, cutoff=0.6)
    hint = f"did you mean {near[0]!r}?" if near else f"expected one of {', '.join(names)}"
    return RiskWatchConfigError(field, value, f"unknown field; {hint}")


def reworded(error: msgspec.DecodeError, raw: bytes | str, cls: type) -> Exception:
    """``error`` (from decoding ``raw`` as ``cls``) in the package's words: the watch's own
    refusal if it was one (a check in ``__post_init__``), else msgspec's reason said with
    the field, the value and what is expected."""
    if isinstance(error.__cause__, RiskWatchConfigError):
        return error.__cause__
    text = str(error)
    try:
        document: object = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return RiskWatchConfigError("config", _short(raw), f"not JSON: {text}")
    if (found := _UNKNOWN.fullmatch(text)) is not None:
        at = _path(found["at"])
        field = _join(at, found["key"])
        known = getattr(_struct_at(cls, at), "__struct_fields__", ())
        return unknown_field(field, _value_at(document, field), known)
    if (found := _MISSING.fullmatch(text)) is not None:
        return RiskWatchConfigError(
            _join(_path(found["at"]), found["key"]), None, "a required field"
        )
    if (found := _TYPE.fullmatch(text)) is not None:
        field = _path(found["at"]) or "config"
        wanted = " or ".join(_WORDS.get(w.strip(), w.strip()) for w in found["want"].split("|"))
        return RiskWatchConfigError(field, _value_at(document, field), f"expected {wanted}")
    return RiskWatchConfigError("config", _short(raw), text)


def _path(at: str | None) -> str:
    """msgspec's ``$.feeds[0].stale_after`` as the package writes fields."""
    return (at or "").lstrip(".")


def _join(at: str, key: str) -> str:
    return f"{at}.{key}" if at else key


def _value_at(document: object, field: str) -> object:
    """The value the user wrote at ``field`` (``None`` where it cannot be found)."""
    value = document
    if field == "config":
        return document
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", field):
        if name and isinstance(value, dict):
            value = value.get(name)
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return None
    return value


def _struct_at(cls: type, at: str) -> type | None:
    """The struct type a path leads to (``feeds[0]`` -> ``WatchedFeed``), or ``None``."""
    current: type | None = cls
    for name in re.findall(r"[A-Za-z_]\w*", at):
        fields = (
            {} if current is None else {f.name: f.type for f in msgspec.structs.fields(current)}
        )
        current = _struct_in(fields.get(name))
    return current


def _struct_in(annotation: object) -> type | None:
    """The struct type inside ``X | None``, ``Sequence[X]`` and the like."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            if (found := _struct_in(arg)) is not None:
                return found
    return None


def _short(raw: bytes | str) -> str:
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    return text if len(text) <= 80 else text[:77] + "..."
