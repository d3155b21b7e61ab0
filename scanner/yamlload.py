"""One strict YAML loader for every file gxpscan reads: inventories, Ansible YAML inventories, framework catalogs.

Compared with ``yaml.safe_load`` it refuses what a hand-written configuration file never needs and an attacker
(or an accident) can abuse:

- anchors and aliases (``&a`` / ``*a``): refused where they appear, so an alias bomb ("billion laughs") costs
  the parsing of its few hundred bytes and nothing more;
- duplicate mapping keys: YAML says they are an error, PyYAML silently keeps the last one (a second ``port:``
  would quietly win); refused with the path of the mapping;
- non-scalar mapping keys, more than one document, nesting deeper than ``MAX_DEPTH``, input above ``MAX_BYTES``.

The events come from libyaml when it is available (fast); the node tree is composed here, so the checks above
happen before any Python object is built.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

#: Largest YAML or JSON text accepted (an inventory of 10,000 hosts is about 2 MB).
MAX_BYTES = 16 * 1024 * 1024
#: Deepest nesting of mappings and sequences accepted (inventories and catalogs use fewer than 10 levels).
MAX_DEPTH = 64


class YamlError(ValueError):
    """The text is not acceptable YAML. ``line`` and ``column`` are 1-based when known."""

    def __init__(self, problem: str, line: int | None = None, column: int | None = None, path: str = ""):
        self.problem, self.line, self.column, self.path = problem, line, column, path
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"{where}{path + ': ' if path else ''}{problem}")


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _mark(event: Any) -> tuple[int | None, int | None]:
    mark = getattr(event, "start_mark", None)
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


def _m(mark: Any) -> Any:
    """libyaml's marks and PyYAML's are alike for our use (line, column); typed loosely for both."""
    return mark


def _compose(loader: Any, path: list[Any]) -> Any:
    import yaml

    event = loader.get_event()
    line, column = _mark(event)
    if isinstance(event, yaml.AliasEvent):
        raise YamlError(f"YAML aliases (*{event.anchor}) are not accepted; write the value out", line, column,
                        _path(path))
    if getattr(event, "anchor", None) is not None:
        raise YamlError(f"YAML anchors (&{event.anchor}) are not accepted; write the value out", line, column,
                        _path(path))
    if len(path) > MAX_DEPTH:
        raise YamlError(f"nested deeper than {MAX_DEPTH} levels", line, column)
    if isinstance(event, yaml.ScalarEvent):
        tag = event.tag
        if tag is None or tag == "!":
            tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        return yaml.ScalarNode(tag, event.value, _m(event.start_mark), _m(event.end_mark), style=event.style)
    if isinstance(event, yaml.SequenceStartEvent):
        tag = event.tag
        if tag is None or tag == "!":
            tag = loader.resolve(yaml.SequenceNode, None, event.implicit)
        items: list[Any] = []
        while not loader.check_event(yaml.SequenceEndEvent):
            items.append(_compose(loader, [*path, len(items)]))
        end = loader.get_event()
        return yaml.SequenceNode(tag, items, _m(event.start_mark), _m(end.end_mark), flow_style=event.flow_style)
    if isinstance(event, yaml.MappingStartEvent):
        tag = event.tag
        if tag is None or tag == "!":
            tag = loader.resolve(yaml.MappingNode, None, event.implicit)
        pairs: list[tuple[Any, Any]] = []
        seen: dict[tuple[str, str], int] = {}
        while not loader.check_event(yaml.MappingEndEvent):
            key = _compose(loader, [*path, "?"])
            if not isinstance(key, yaml.ScalarNode):
                raise YamlError("mapping keys must be plain values (strings or numbers)", *_mark(key), _path(path))
            first = seen.get((key.tag, key.value))
            if first is not None:
                raise YamlError(f"duplicate key {key.value!r} (first at line {first})", *_mark(key),
                                _path(path))
            seen[(key.tag, key.value)] = key.start_mark.line + 1
            pairs.append((key, _compose(loader, [*path, key.value])))
        end = loader.get_event()
        return yaml.MappingNode(tag, pairs, _m(event.start_mark), _m(end.end_mark), flow_style=event.flow_style)
    raise YamlError(f"unexpected YAML event {type(event).__name__}", line, column)  # pragma: no cover


def load_yaml(text: str) -> Any:
    """Parse one YAML (or JSON) document strictly. Raises YamlError with line, column and path."""
    return _load(text, construct=True)


class _NotPlainJson(Exception):
    """The text is not JSON whose YAML reading is certainly the same value: left to the YAML loader."""


#: What PyYAML refuses anywhere in a stream (the complement of its ``NON_PRINTABLE`` class, written as the few
#: ranges it leaves out: the same characters, compiled in a tenth of the time): such a text is left to the YAML loader.
_NON_PRINTABLE = re.compile(r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x84\x86-\x9F\uD800-\uDFFF\uFFFE\uFFFF]")
#: A \u escape of a UTF-16 surrogate: JSON joins a pair into one character, the YAML loader refuses it.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abAB]")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _NotPlainJson("duplicate key")
    return out


def _float(text: str) -> float:
    if "e" in text or "E" in text:  # YAML 1.1 reads 1e5 and 1.5e3 as strings
        raise _NotPlainJson("exponent")
    return float(text)


def _constant(name: str) -> Any:
    raise _NotPlainJson(name)  # NaN, Infinity: not JSON, and strings to YAML


def _deeper_than(value: Any, limit: int) -> bool:
    level: list[Any] = [value]
    for _ in range(limit + 1):
        level = [v for node in level if isinstance(node, (dict, list))
                 for v in (node.values() if isinstance(node, dict) else node)]
        if not level:
            return False
    return True


def load_json_or_yaml(text: str) -> Any:
    """``load_yaml(text)``, without a YAML parser for a text that is plain JSON (an inventory written by a tool).

    The standard library's JSON reader takes a text beginning with ``{`` or ``[`` when its value is certainly what
    the YAML loader makes of it: no duplicate key, no number with an exponent, no NaN or Infinity, no surrogate
    escape, no character YAML refuses, nesting within ``MAX_DEPTH``. Any other text, and any fault, goes to
    ``load_yaml``, so the value, the limits and every error message are the YAML loader's."""
    if len(text) <= MAX_BYTES and text.lstrip(" \t\r\n")[:1] in ("{", "[") \
            and _NON_PRINTABLE.search(text) is None and _SURROGATE_ESCAPE.search(text) is None:
        try:
            value = json.loads(text, object_pairs_hook=_pairs, parse_float=_float, parse_constant=_constant)
        except (_NotPlainJson, ValueError, RecursionError):
            pass
        else:
            if not _deeper_than(value, MAX_DEPTH):
                return value
    return load_yaml(text)


def compose_yaml(text: str) -> Any:
    """The node tree (``yaml.Node``, with tags and line marks) of one document, composed as strictly as
    ``load_yaml``; None for an empty text. For readers that interpret tags themselves (CloudFormation's ``!Ref``)."""
    return _load(text, construct=False)


def _load(text: str, construct: bool) -> Any:
    import yaml

    if len(text) > MAX_BYTES:
        raise YamlError(f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # document start
        node = _compose(loader, [])
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            raise YamlError("more than one YAML document", *_mark(loader.peek_event()))
        return loader.construct_document(node) if construct else node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        problem = str(exc.problem or exc.context or "not valid YAML")
        if "maximum nesting depth" in problem:  # libyaml >= 0.2.6 (PyYAML 6.0.4 wheels) stops at its own limit first
            problem = f"nested deeper than {MAX_DEPTH} levels"
        raise YamlError(problem,
                        mark.line + 1 if mark else None, mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc)) from None
    finally:
        loader.dispose()
