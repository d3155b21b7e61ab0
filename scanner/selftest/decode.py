"""A strict decoder from plain data (YAML/JSON) to the frozen fact types of ``scanner/facts/``.

One function, driven by the type hints of the fact dataclasses: an unknown field, a missing field or a value of
the wrong type is a ``DecodeError`` that names its path (``aws.s3_buckets.items[0].encryption``). Times are ISO 8601
with a zone, or relative to the clock of the run: ``now``, ``now-400d``, ``now+2d``, ``now-3h``.
"""
from __future__ import annotations

import dataclasses
import enum
import functools
import re
import types
import typing
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from scanner.model import freeze

_RELATIVE = re.compile(r"now(?:([+-])(\d{1,6})([dhm]))?")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class DecodeError(ValueError):
    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _time(data: Any, path: str, now: datetime) -> datetime:
    if isinstance(data, datetime):
        when = data
    elif isinstance(data, str) and (m := _RELATIVE.fullmatch(data)):
        if not m.group(1):
            return now
        delta = timedelta(**{_UNITS[m.group(3)]: int(m.group(2))})
        return now + delta if m.group(1) == "+" else now - delta
    elif isinstance(data, str):
        try:
            when = datetime.fromisoformat(data.replace("Z", "+00:00"))
        except ValueError:
            raise DecodeError(path, f"not an ISO 8601 time or now[+-]N(d|h|m): {data!r}") from None
    else:
        raise DecodeError(path, f"expected a time, got {_kind(data)}")
    if when.tzinfo is None:
        raise DecodeError(path, "a time needs its zone (Z or +00:00)")
    return when


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The type hints of a dataclass, resolved once per class (resolving them compiles each annotation)."""
    return typing.get_type_hints(cls)


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How a dataclass (with its type arguments) is decoded, worked out once: its init fields with their resolved
    hints and whether each is required."""

    names: frozenset[str]
    known: str
    #: (name, hint, required, the one type a value of the field is taken as it is, or None)
    fields: tuple[tuple[str, Any, bool, type | None], ...]


#: The hints whose value is the decoded value itself when its type is exactly the hint (``decode`` returns it
#: unchanged): such a field needs no call of ``decode`` (a host's facts hold hundreds).
_AS_IS = (str, bool, int)


@functools.cache
def _plan(cls: type, args: tuple[Any, ...]) -> _Plan:
    hints = _hints(cls)
    bound = dict(zip(getattr(cls, "__parameters__", ()), args, strict=False))
    fields = [f for f in dataclasses.fields(cls) if f.init]
    resolved = []
    for f in fields:
        hint = hints[f.name]
        hint = bound.get(hint, hint) if isinstance(hint, typing.TypeVar) else _substitute(hint, bound)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        resolved.append((f.name, hint, required, hint if hint in _AS_IS else None))
    return _Plan(frozenset(f.name for f in fields), ", ".join(f.name for f in fields), tuple(resolved))


def _dataclass(data: Any, cls: type, args: tuple[Any, ...], path: str, now: datetime) -> Any:
    if not isinstance(data, Mapping):
        raise DecodeError(path, f"expected a mapping for {cls.__name__}, got {_kind(data)}")
    plan = _plan(cls, args)
    unknown = sorted(set(data) - plan.names)
    if unknown:
        raise DecodeError(f"{path}.{unknown[0]}", f"unknown field of {cls.__name__} (known: {plan.known})")
    kwargs = {}
    for name, hint, required, as_is in plan.fields:
        if name not in data:
            if required:
                raise DecodeError(f"{path}.{name}", f"missing (a required field of {cls.__name__})")
            continue
        value = data[name]
        kwargs[name] = value if as_is is not None and type(value) is as_is else decode(value, hint, f"{path}.{name}",
                                                                                       now)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise DecodeError(path, f"{cls.__name__} refused it: {exc}") from None


def _substitute(hint: Any, bound: Mapping[Any, Any]) -> Any:
    if not bound:
        return hint
    if isinstance(hint, typing.TypeVar):
        return bound.get(hint, hint)
    args = typing.get_args(hint)
    if not args:
        return hint
    new = tuple(_substitute(a, bound) for a in args)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[new]  # noqa: UP007
    return origin[new] if origin is not None else hint


class _HintKind(enum.Enum):
    ANY = "any"
    NONE = "none"
    UNION = "union"
    LITERAL = "literal"
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STR = "str"
    TIME = "time"
    ENUM = "enum"
    TUPLE = "tuple"
    MAPPING = "mapping"
    DATACLASS = "dataclass"
    UNKNOWN = "unknown"


def _classify(hint: Any) -> tuple[_HintKind, Any, tuple[Any, ...]]:
    """What kind of value a hint asks for, with its origin and arguments (tested in the order ``decode`` had)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    simple = {bool: _HintKind.BOOL, int: _HintKind.INT, float: _HintKind.FLOAT, str: _HintKind.STR,
              datetime: _HintKind.TIME}
    if hint is Any:
        kind = _HintKind.ANY
    elif hint is type(None):
        kind = _HintKind.NONE
    elif origin in (typing.Union, types.UnionType):
        kind = _HintKind.UNION
    elif origin is typing.Literal:
        kind = _HintKind.LITERAL
    elif isinstance(hint, type) and hint in simple:
        kind = simple[hint]
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        kind = _HintKind.ENUM
    elif origin is tuple:
        kind = _HintKind.TUPLE
    elif origin in (Mapping, dict, typing.Mapping, types.MappingProxyType) or hint in (Mapping, dict):
        kind = _HintKind.MAPPING
    elif isinstance(origin or hint, type) and dataclasses.is_dataclass(origin or hint):
        kind = _HintKind.DATACLASS
    else:
        kind = _HintKind.UNKNOWN
    return kind, origin, args


@functools.cache
def _classified(hint: Any) -> tuple[_HintKind, Any, tuple[Any, ...]]:
    return _classify(hint)


def decode(data: Any, hint: Any, path: str, now: datetime) -> Any:
    """``data`` as a value of type ``hint``, or DecodeError. What a hint asks for is worked out once per hint (a
    fact holds hundreds of values of a few types)."""
    try:
        kind, origin, args = _classified(hint)
    except TypeError:  # an unhashable hint
        kind, origin, args = _classify(hint)
    if kind is _HintKind.STR:
        if not isinstance(data, str):
            raise DecodeError(path, f"expected a string, got {_kind(data)}")
        return data
    if kind is _HintKind.BOOL:
        if not isinstance(data, bool):
            raise DecodeError(path, f"expected true or false, got {_kind(data)}")
        return data
    if kind is _HintKind.INT:
        if not isinstance(data, int) or isinstance(data, bool):
            raise DecodeError(path, f"expected an integer, got {_kind(data)}")
        return data
    if kind is _HintKind.DATACLASS:
        return _dataclass(data, origin or hint, args, path, now)
    if kind is _HintKind.TUPLE:
        if not isinstance(data, list):
            raise DecodeError(path, f"expected a list, got {_kind(data)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(v, args[0], f"{path}[{i}]", now) for i, v in enumerate(data))
        if len(args) != len(data):
            raise DecodeError(path, f"expected {len(args)} items, got {len(data)}")
        return tuple(decode(v, a, f"{path}[{i}]", now) for i, (v, a) in enumerate(zip(data, args, strict=True)))
    if kind is _HintKind.UNION:
        if data is None and type(None) in args:
            return None
        problems = []
        for option in (a for a in args if a is not type(None)):
            try:
                return decode(data, option, path, now)
            except DecodeError as exc:
                problems.append(exc)
        if len(problems) == 1:
            raise problems[0]
        raise DecodeError(path, "matches none of " + "; ".join(p.problem for p in problems))
    if kind is _HintKind.ANY:
        return freeze(data)
    if kind is _HintKind.NONE:
        if data is not None:
            raise DecodeError(path, f"expected null, got {_kind(data)}")
        return None
    if kind is _HintKind.LITERAL:
        if data not in args:
            raise DecodeError(path, f"expected one of {', '.join(map(repr, args))}, got {data!r}")
        return data
    if kind is _HintKind.FLOAT:
        if not isinstance(data, (int, float)) or isinstance(data, bool):
            raise DecodeError(path, f"expected a number, got {_kind(data)}")
        return float(data)
    if kind is _HintKind.TIME:
        return _time(data, path, now)
    if kind is _HintKind.ENUM:
        try:
            return hint(data)
        except ValueError:
            raise DecodeError(path, f"expected one of {', '.join(str(m.value) for m in hint)}, got {data!r}") from None
    if kind is _HintKind.MAPPING:
        if not isinstance(data, Mapping):
            raise DecodeError(path, f"expected a mapping, got {_kind(data)}")
        key_t, value_t = args or (str, Any)
        return types.MappingProxyType({decode(k, key_t, f"{path}.{k}", now): decode(v, value_t, f"{path}.{k}", now)
                                       for k, v in data.items()})
    raise DecodeError(path, f"cannot decode a value of type {hint!r}")


def encode(value: Any) -> Any:
    """The plain data ``decode`` reads back (times as ISO 8601 in UTC), for writing cases from live facts."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (tuple, list, frozenset, set)):
        return [encode(v) for v in value]
    return value
