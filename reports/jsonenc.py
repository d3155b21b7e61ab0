"""Indented JSON text, fast: orjson where it writes the same values as the json module, the json module otherwise.

The json module's encoder is in C only without ``indent``; with ``indent=2`` (every report) it falls back to the
pure-Python encoder, which took most of the time of writing a large report. orjson (a compiled encoder) writes
the same document in a fraction of that time, but differs from the json module on some values: it writes NaN and
infinities as ``null``, refuses lone surrogates, integers beyond 64 bits, non-string keys and deep nesting, and
encodes dataclasses, dates and tuple subclasses its own way. So orjson is used only for plain JSON data (exactly
``dict`` with ``str`` keys, ``list``, ``tuple``, ``str``, ``int``, ``float``, ``bool``, ``None``) whose floats
are finite; anything else, and anything orjson refuses, is written by the json module as before. Both write
non-ASCII text unescaped (``ensure_ascii=False``) and escape C0 controls the same way; the caller escapes the
rest (``reports.text.json_text``).

A caller may name containers inside the document that are JSON-native already (``native``: the ids of dicts and
lists that the json module wrote with ``allow_nan=False`` and no ``default``, e.g. the run record's lines; see
scanner.store.ResultDicts): they hold no NaN, infinity or object of another type, so they are not walked again.
They may still hold what only the json module accepts (subclasses of str, int, list or dict, keys that are not
strings, integers beyond 64 bits): orjson is told to refuse those (``_STRICT``), and the json module writes them.
"""
from __future__ import annotations

import json
import math
from collections.abc import Collection
from typing import Any

#: Deeper than this, orjson refuses (its limit is 254 levels); such data goes to the json module at once.
_MAX_DEPTH = 200


def _plain(value: Any, depth: int = 0, seen: dict[int, int] | None = None,
           native: Collection[int] = ()) -> bool:
    """True when ``value`` is JSON data of the exact built-in types, with string keys and finite floats, or a
    container named ``native`` (see the module's docstring; orjson refuses what is not plain in it).

    A list met again (one that several items share, e.g. ``scanner.coverage.coverage_dicts``) is not walked again:
    ``seen`` holds the id of each list found plain and the deepest level it was found at (the document keeps it
    alive, so its id is its own); a scalar item is judged where it stands, without a call."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if native and id(value) in native:
        return True
    if depth >= _MAX_DEPTH:
        return False
    if seen is None:
        seen = {}
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            t = type(item)
            if not (t is str or t is int or t is bool or item is None or (native and id(item) in native)
                    or _plain(item, depth + 1, seen, native)):
                return False
        return True
    if kind is list or kind is tuple:
        if seen.get(id(value), -1) >= depth:  # found plain as deep or deeper: no deeper here
            return True
        for item in value:
            t = type(item)
            if not (t is str or t is int or t is bool or item is None or (native and id(item) in native)
                    or _plain(item, depth + 1, seen, native)):
                return False
        seen[id(value)] = depth
        return True
    return False


def plain(value: Any) -> bool:
    """True when ``value`` is JSON data of the exact built-in types, with string keys and finite floats."""
    return _plain(value)


def _orjson(doc: Any, sort_keys: bool) -> bytes | None:
    """The document as orjson writes it with two-space indentation (UTF-8), or None when orjson is missing or
    refuses."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - a declared dependency; the json module still writes the report
        return None
    option = orjson.OPT_INDENT_2 | (orjson.OPT_SORT_KEYS if sort_keys else 0) | _strict(orjson)
    try:
        data: bytes = orjson.dumps(doc, option=option, default=_refuse)
    except orjson.JSONEncodeError:  # lone surrogates, integers beyond 64 bits, ...
        return None
    return data


def _strict(orjson: Any) -> int:
    """orjson's options that hand subclasses of str, int, list and dict, dataclasses and dates to ``default``
    (which refuses them) instead of writing them its own way."""
    return int(orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME)


def _refuse(value: Any) -> Any:
    raise TypeError(f"not plain JSON data: {type(value).__name__}")


def encoded(doc: Any, *, indent: int | None = 2, sort_keys: bool = False, native: Collection[int] = ()) -> bytes | None:
    """``dumps(doc, ...)`` in UTF-8 as orjson made it, or None when the json module writes this document (see
    ``dumps``): for a caller that writes bytes, without the text of the whole document decoded from them."""
    return _orjson(doc, sort_keys) if indent == 2 and _plain(doc, native=native) else None


def json_module(doc: Any, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """The document as the json module writes it (what ``dumps`` gives when ``encoded`` is None)."""
    return json.dumps(doc, indent=indent, sort_keys=sort_keys, ensure_ascii=False, default=str)


def dumps(doc: Any, *, indent: int | None = 2, sort_keys: bool = False, native: Collection[int] = ()) -> str:
    """``json.dumps(doc, indent=indent, sort_keys=sort_keys, ensure_ascii=False, default=str)``, in meaning
    (the same values parse back; numbers may be spelled differently, e.g. ``1e16`` for ``1e+16``). ``native``:
    see the module's docstring (the document keeps those containers alive)."""
    data = encoded(doc, indent=indent, sort_keys=sort_keys, native=native)
    return data.decode("utf-8") if data is not None else json_module(doc, indent=indent, sort_keys=sort_keys)
