"""The run record's line text (scanner/store.py: line_text, line_bytes): byte for byte what ``json.dumps(obj,
sort_keys=True, ensure_ascii=False, allow_nan=False, check_circular=False, separators=(",", ":"))`` writes, for
hostile values too (every control character, quotes and backslashes, lone surrogates, astral characters,
U+2028/2029, DEL, non-ASCII keys, big integers, floats of every magnitude, subclasses of str/int/float/list/dict,
empty and deep containers), with each distinct string escaped once, or by orjson when it writes the same bytes;
what json.dumps refuses, it refuses the same way."""
from __future__ import annotations

import enum
import json
import math
import random
import sys
from typing import Any

import pytest

from scanner import store
from scanner.collectors.iac._hcl import Ref
from scanner.store import Escaped, line_bytes, line_text
from tests.factories import count_calls


def reference(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, allow_nan=False, check_circular=False,
                      separators=(",", ":"))


def reference_bytes(obj: Any) -> bytes:
    return (reference(obj) + "\n").encode("utf-8", "backslashreplace")


class Text(str):
    pass


class Number(int):
    pass


class Real(float):
    pass


class Items(list):  # type: ignore[type-arg]
    pass


class Table(dict):  # type: ignore[type-arg]
    pass


class Colour(str, enum.Enum):
    RED = "red"


CHARACTERS = ([chr(c) for c in range(0x20)] + ['"', "\\", "/", "\x7f", "\x80", "\x9b", "\u2028", "\u2029", "\ufeff",
              "\ufffe", "\uffff", "\ud800", "\udbff", "\udc00", "\udfff", "\U0001f600", "\U0010ffff", "é", "中",
              "a", " ", ",", ":", "\n  "])
FLOATS = [0.0, -0.0, 0.1, 1.0, -2.5, 1e15, 1e16, 1e17, 1e-4, 1e-5, 1e-7, 1e22, 1e100, 5e-324, 2.2250738585072014e-308,
          1.7976931348623157e308, 123456789.123456789, 1 / 3]
INTEGERS = [0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**40, -(10**40), True, False]


def hostile_string(rng: random.Random, plain: bool = False) -> str:
    """Random text of CHARACTERS; ``plain``: without lone surrogates (which orjson, for one, refuses)."""
    pool = [c for c in CHARACTERS if not "\ud800" <= c <= "\udfff"] if plain else CHARACTERS
    return "".join(rng.choice(pool) for _ in range(rng.randrange(0, 12)))


def hostile_value(rng: random.Random, plain: bool = False, depth: int = 0) -> Any:
    """A random JSON-ish value; ``plain``: of the exact built-in types only, integers within 64 bits, no lone
    surrogate (what a faster encoder would take without falling back)."""
    pick = rng.randrange(12 if depth < 5 else 6)
    if pick == 0:
        return hostile_string(rng, plain)
    if pick == 1:
        return hostile_string(rng, plain) if plain else rng.choice([Text, Ref])(hostile_string(rng))
    if pick == 2:
        return rng.choice(FLOATS + ([] if plain else [Real(rng.choice(FLOATS))])) * rng.choice([1, -1])
    if pick == 3:
        return rng.choice([n for n in INTEGERS if -(2**63) <= n < 2**63] if plain else
                          INTEGERS + [Number(rng.choice([0, 7, 2**70]))])
    if pick == 4:
        return rng.choice([None, "", "shared text"] + ([] if plain else [Colour.RED, Text("shared text")]))
    if pick == 5:
        return rng.choice([[], {}, [[]], {"": {}}] + ([] if plain else [Items(), Table(), ()]))
    items = [hostile_value(rng, plain, depth + 1) for _ in range(rng.randrange(0, 6))]
    if pick in (6, 7):
        return list(items) if plain else rng.choice([list, tuple, Items])(items)
    keys = [hostile_string(rng, plain) if plain else rng.choice([hostile_string(rng), "shared text", Text("k")])
            for _ in items]
    return dict(zip(keys, items, strict=True)) if plain else rng.choice([dict, Table])(zip(keys, items, strict=True))


@pytest.mark.parametrize("plain", [False, True], ids=["any", "plain"])
@pytest.mark.parametrize("seed", range(40))
def test_hostile_lines_are_written_byte_for_byte_as_json_dumps_writes_them(seed: int, plain: bool) -> None:
    rng = random.Random(seed)
    line = {"type": "target", "results": [hostile_value(rng, plain) for _ in range(30)],
            "evidence": {hostile_string(rng, plain): hostile_value(rng, plain) for _ in range(10)}}
    text = line_text(line)
    assert text == reference(line)
    assert line_bytes(line) == reference_bytes(line)


@pytest.mark.parametrize("character", CHARACTERS)
def test_every_character_is_escaped_as_json_dumps_escapes_it_in_keys_and_values(character: str) -> None:
    for line in ({character: [character, {character * 2: character}], "z" + character: character, "e": []},
                 {Text(character): [Ref(character), Text(character)], "z": {"": Text(character)}}):
        assert line_text(line) == reference(line)
        assert line_bytes(line) == reference_bytes(line)


@pytest.mark.parametrize("value", [*FLOATS, *INTEGERS])
def test_numbers_are_spelled_as_json_dumps_spells_them(value: Any) -> None:
    for line in ({"v": value, "list": [value, -value]},
                 {"v": [Real(value) if isinstance(value, float) else Number(value)]}):
        assert line_text(line) == reference(line)
        assert line_bytes(line) == reference_bytes(line)


def test_keys_of_other_types_and_non_ascii_keys_are_sorted_and_written_as_json_dumps_does() -> None:
    for line in ({1: "a", 2: "b", 10: "c"}, {"é": 1, "e": 2, "\U0001f600": 3, "中": 4, "Z": 5, "": 6},
                 {1.5: "x", 2.5: "y"}, {True: 1, False: 0}, {None: "n"}, {Text("b"): 1, "a": 2, Ref("c"): 3}):
        assert line_text(line) == reference(line)
        assert line_bytes(line) == reference_bytes(line)


def test_a_subclass_of_str_is_written_as_its_text_even_after_the_same_text() -> None:
    line = {"a": "red", "b": Colour.RED, "c": Ref("red"), "d": Text("red"), "red": [Ref("x"), "x"]}
    assert line_text(line) == reference(line) == (
        '{"a":"red","b":"red","c":"red","d":"red","red":["x","x"]}')
    assert line_bytes(line) == reference_bytes(line)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, Real(math.nan), object(), {1, 2}, b"bytes",
                                   {"a": 1, 2: "b"}])
def test_what_json_dumps_refuses_is_refused_the_same_way(value: Any) -> None:
    line = {"results": [{"observed": value}]}
    with pytest.raises(Exception) as expected:
        reference(line)
    for write in (line_text, line_bytes):
        with pytest.raises(expected.type, match=str(expected.value)[:30].replace("(", r"\(").replace(")", r"\)")):
            write(line)


def test_deep_nesting_and_a_cycle_raise_recursion_error_as_json_dumps_does() -> None:
    deep: Any = "leaf"
    for _ in range(max(sys.getrecursionlimit(), 100_000)):  # deeper than the C recursion limit of 3.12 on too
        deep = [deep]
    loop: dict[str, Any] = {}
    loop["self"] = loop
    for line in ({"deep": deep}, {"loop": loop}):
        with pytest.raises(RecursionError):
            reference(line)
        with pytest.raises(RecursionError):
            line_text(line)
        with pytest.raises(RecursionError):
            line_bytes(line)
    nested: Any = {}
    for _ in range(300):  # deeper than orjson writes, shallower than the recursion limit
        nested = {"n": [nested]}
    assert line_text({"v": nested}) == reference({"v": nested})
    assert line_bytes({"v": nested}) == reference_bytes({"v": nested})


def test_each_distinct_string_is_escaped_once_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    results = [{"check": "linux.ssh.root_login", "status": "fail", "message": f"host {i % 3}",
                "clauses": ["part11:11.10(d)", "annex11:12"]} for i in range(50)]
    line = {"type": "target", "results": results}
    expected = reference(line)  # before counting: json.dumps calls a replaced escape function for every string
    escapes = count_calls(monkeypatch, json.encoder, "encode_basestring")
    assert line_text(line) == expected
    distinct = {"type", "target", "results", "check", "status", "message", "clauses", "linux.ssh.root_login", "fail",
                "host 0", "host 1", "host 2", "part11:11.10(d)", "annex11:12"}
    assert escapes[0] == len(distinct)
    line_text(line)
    assert escapes[0] == 2 * len(distinct)  # a cache per line: none kept between lines


def test_the_strings_of_a_writers_lines_are_escaped_once_for_the_lines_after(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [{"type": "target", "target": f"win-{n:03d}", "results": [
        {"check": "windows.firewall.enabled", "status": "pass", "remediation": "Turn the firewall on. " * 5}]}
        for n in range(3)]
    expected = [reference(line) for line in lines]
    escapes = count_calls(monkeypatch, json.encoder, "encode_basestring")
    escaped = Escaped()
    assert [line_text(line, escaped) for line in lines] == expected
    shared = {"type", "target", "results", "check", "status", "remediation", "windows.firewall.enabled", "pass",
              "Turn the firewall on. " * 5}
    assert escapes[0] == len(shared) + 3  # then only each line's own target name
    assert escaped == {s: json.dumps(s, ensure_ascii=False) for s in shared | {f"win-{n:03d}" for n in range(3)}}


def test_the_strings_kept_are_bounded_and_the_text_stays_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "KEEP", 5)
    monkeypatch.setattr(store, "KEEP_LENGTH", 20)
    escaped = Escaped()
    for n in range(20):
        line = {"target": f"host-{n}", "raw": "x" * 30 + str(n), "values": [f"v{n}", "shared"]}
        assert line_text(line, escaped) == reference(line)
        assert len(escaped) <= 5 and max(map(len, escaped)) <= 20


@pytest.mark.parametrize("line, by_orjson", [
    ({"results": [{"check": "a", "n": 1, "ok": True, "none": None, "list": [[], {}]}]}, True),
    ({"results": [{"observed": {"ratio": 0.5}}]}, False),  # a float: the json module spells it
    ({"results": [{"observed": (1, 2)}]}, False),  # a tuple, a subclass of str: exact types only
    ({"results": [{"observed": Text("x")}]}, False),
    ({"results": [{"observed": 2**64}]}, False),  # orjson refuses: the json module writes it
    ({"results": [{"observed": "\ud800"}]}, False),
    ({"results": [{1: "a"}]}, False),
])
def test_orjson_writes_a_line_of_exact_json_types_and_the_json_module_the_rest(
        line: Any, by_orjson: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = count_calls(monkeypatch, store, "line_text")
    assert line_bytes(line) == reference_bytes(line)
    assert texts == [0 if by_orjson else 1]


def test_a_line_that_shares_and_repeats_containers_is_walked_once_and_written_whole() -> None:
    clauses = ["part11:11.10(d)", "annex11:12"]
    where = {"path": "main.tf", "start_line": 1, "end_line": 9}
    line = {"results": [{"clauses": clauses, "location": where, "n": i} for i in range(100)]}
    assert line_bytes(line) == reference_bytes(line)
    loop: dict[str, Any] = {"x": 1}
    loop["self"] = [loop]
    with pytest.raises(RecursionError):  # the C encoder without a cycle check: as json.dumps(check_circular=False)
        line_bytes({"loop": loop})


def without_floats(value: Any) -> Any:
    if type(value) is float:
        return int(value) if math.isfinite(value) and abs(value) < 2**63 else 0
    if type(value) is dict:
        return {k: without_floats(v) for k, v in value.items()}
    if type(value) is list:
        return [without_floats(v) for v in value]
    return value


@pytest.mark.parametrize("seed", range(40))
def test_hostile_lines_of_exact_json_types_are_written_by_orjson_byte_for_byte(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    line = without_floats({"type": "target", "results": [hostile_value(rng, True) for _ in range(30)],
                           "evidence": {hostile_string(rng, True): hostile_value(rng, True) for _ in range(10)}})
    texts = count_calls(monkeypatch, store, "line_text")
    assert line_bytes(line) == reference_bytes(line)
    assert texts == [0]
