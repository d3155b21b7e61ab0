"""The fast JSON text of reports (reports/jsonenc.py, used by reports.text.json_text): orjson writes plain data,
byte for byte what the json module wrote, hostile text included; whatever orjson would write differently or
refuses (lone surrogates, NaN, integers beyond 64 bits, non-string keys, deep nesting, dataclasses, tuple
subclasses) is written by the json module, as before."""
from __future__ import annotations

import json
import math
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

import pytest

from reports.text import _json_escape, _json_unsafe, json_text

HOSTILE = ["nul \x00 here", "line\u2028sep\u2029para", "\x1b[31mred\x1b[0m \x9b31m", "bidi \u202eevil\u202c",
           "zero\u200bwidth \ufeff", "tab\tnl\nCR\r", 'quote " backslash \\ slash /', "emoji \U0001f600 é 中文",
           "\x7f del", "nonchar \ufffe \uffff \ufdd0"]


def reference(doc: Any, sort_keys: bool = True) -> str:
    """What json_text wrote before orjson: the json module, indented, then the extra escapes."""
    text = json.dumps(doc, indent=2, sort_keys=sort_keys, ensure_ascii=False, default=str)
    return _json_unsafe().sub(_json_escape, text)


@pytest.fixture
def no_stdlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain data must not reach the slow json module encoder."""
    def refuse(*_: Any, **__: Any) -> str:
        raise AssertionError("the json module encoder was used for plain data")

    monkeypatch.setattr("reports.jsonenc.json.dumps", refuse)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_written_as_before_by_orjson(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {"findings": [{"message": text, text: [text, 1, -2.5, True, None, {}, []]}], "b": (1, 2)}
    expected = reference(doc)
    monkeypatch.setattr("reports.jsonenc.json.dumps", lambda *a, **k: pytest.fail("json module used"))
    got = json_text(doc, sort_keys=True)
    assert got == expected
    assert json.loads(got) == json.loads(expected)


Point = namedtuple("Point", "x y")


@dataclass(frozen=True)
class Box:
    size: int


@pytest.mark.parametrize("value", [
    "lone \udcff surrogate", "\ud800", math.nan, math.inf, -math.inf, 2**64, -(2**63) - 1, {1: "int key"},
    {None: "none key"}, Point(1, 2), Box(3), {"a", "b"}, b"bytes", "x" * 3,
], ids=["surrogate", "high-surrogate", "nan", "inf", "-inf", "big-int", "small-int", "int-key", "none-key",
        "namedtuple", "dataclass", "set", "bytes", "plain"])
def test_values_orjson_would_change_are_written_by_the_json_module(value: Any) -> None:
    doc = {"observed": {"value": value, "list": [value]}, "message": "\x00\u2028"}
    assert json_text(doc, sort_keys=True) == reference(doc)


def test_deep_nesting_is_written_by_the_json_module() -> None:
    doc: Any = "leaf"
    for _ in range(300):
        doc = [doc]
    assert json_text(doc) == reference(doc, sort_keys=False)


def test_plain_data_uses_orjson_and_keeps_key_order_unless_sorted(no_stdlib: None) -> None:
    doc = {"z": 1, "a": {"y": [1.5, 2], "b": None}, "é": "x", "\U0001f600": 0}
    assert json_text(doc, sort_keys=False).splitlines()[1] == '  "z": 1,'
    assert [line for line in json_text(doc, sort_keys=True).splitlines() if line.startswith('  "')][0] == '  "a": {'


def test_without_indent_the_json_module_writes_as_before() -> None:
    doc = {"b": [1, "\u2028"], "a": 1}
    assert json_text(doc, indent=None) == '{"b": [1, "\\u2028"], "a": 1}'


@pytest.mark.parametrize("text", ["plain ascii", "del \x7f", "é", "\u2028"])
def test_ascii_fast_path_and_escapes_agree(text: str) -> None:
    doc = {"v": text}
    assert json_text(doc) == reference(doc, sort_keys=False)
