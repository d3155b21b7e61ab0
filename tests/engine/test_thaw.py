"""scanner.model.thaw with its fast paths for exact built-in types gives what the general path gives."""
from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

import pytest

from scanner.model import Status, freeze, thaw
from tests.factories import count_calls


class Colour(enum.Enum):
    RED = "red"


@dataclass(frozen=True)
class Pair:
    a: int
    b: tuple[str, ...]


class Text(str):
    pass


class Table(Mapping[str, Any]):
    """A mapping that is not a dict: thaw takes its general path."""

    def __init__(self, **items: Any) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class Row(list[Any]):
    pass


class Num(int):
    pass


WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("value, expected", [
    ("s", "s"), (3, 3), (2.5, 2.5), (True, True), (None, None),
    (Status.PASS, "pass"), (Colour.RED, "red"), (Text("t"), Text("t")), (WHEN, "2026-12-01T12:00:00+00:00"),
    (b"\xff", "\\xff"), (frozenset({2, 1}), [1, 2]), (Pair(1, ("x",)), {"a": 1, "b": ["x"]}),
    (freeze({"k": [1, {"n": (Status.FAIL, None)}], 5: "int key"}), {"k": [1, {"n": ["fail", None]}], "5": "int key"}),
    (MappingProxyType({"m": MappingProxyType({"x": [WHEN]})}), {"m": {"x": ["2026-12-01T12:00:00+00:00"]}}),
    (Table(t=Pair(2, ()), u=Row([Colour.RED])), {"t": {"a": 2, "b": []}, "u": ["red"]}),
    (Row([b"a", {3}]), ["a", [3]]), (Num(4), Num(4)), (Pair(Num(5), (Text("y"),)), {"a": Num(5), "b": [Text("y")]}),
    (object, object),
])
def test_thaw(value: Any, expected: Any) -> None:
    got = thaw(value)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize("value, expected", [
    ("s", "s"), (3, 3), (2.5, 2.5), (True, True), (None, None), (Text("t"), Text("t")),
    ({"a": [1, {"b": (2, None)}], "c": {3}}, MappingProxyType({"a": (1, MappingProxyType({"b": (2, None)})),
                                                               "c": frozenset({3})})),
    ([{"x": []}], (MappingProxyType({"x": ()}),)), (Table(t=Row([1])), MappingProxyType({"t": (1,)})),
    (Row([[1]]), ((1,),)), (Status.PASS, Status.PASS),
])
def test_freeze(value: Any, expected: Any) -> None:
    got = freeze(value)
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(got, MappingProxyType):
        assert all(type(v) is type(expected[k]) for k, v in got.items())


def test_freeze_calls_itself_only_for_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    import scanner.model as model

    calls = count_calls(monkeypatch, model, "freeze")
    got = model.freeze({"user": "root", "uid": 0, "shell": None, "ratio": 0.5, "groups": ["wheel", "adm"]})
    assert got == {"user": "root", "uid": 0, "shell": None, "ratio": 0.5, "groups": ("wheel", "adm")}
    assert calls[0] == 2  # the mapping and its list; no call per scalar (there were 6 more)


@pytest.mark.parametrize("kind", [Status, Colour])
def test_a_member_by_value_is_the_enums_own_lookup(kind: type[enum.Enum]) -> None:
    from scanner.model import _member

    for e in kind:
        assert _member(kind, e.value) is kind(e.value) is e
    for bad in ("nope", "", 3, None, ("pass",)):
        with pytest.raises(ValueError):
            kind(bad)
        with pytest.raises(ValueError):
            _member(kind, bad)


def test_a_record_read_back_asks_no_enum_call_per_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """result_from_dict looks a status, severity and area up by value (an enum call costs a microsecond each)."""
    from scanner.model import result_from_dict, result_to_dict
    from tests.factories import make_result

    dicts = [result_to_dict(make_result(resource=f"r{i}", status=("pass", "fail")[i % 2])) for i in range(50)]
    calls = [0]
    real = type(Status).__call__

    def counting(cls: Any, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(type(Status), "__call__", counting)
    back = [result_from_dict(d) for d in dicts]
    monkeypatch.undo()
    assert [r.status for r in back] == [Status.PASS, Status.FAIL] * 25
    assert [result_to_dict(r) for r in back] == dicts
    assert calls[0] == 0


def test_freeze_copies_a_mapping_or_list_of_scalars_whole() -> None:
    source = {"user": "root", "uid": 0, "shell": None, "ratio": 0.5, "admin": True}
    got = freeze(source)
    source["uid"] = 1
    assert got == {"user": "root", "uid": 0, "shell": None, "ratio": 0.5, "admin": True}  # a copy, not a view
    assert list(got) == ["user", "uid", "shell", "ratio", "admin"]
    listed = [1, "a", None]
    assert freeze(listed) == (1, "a", None) and type(freeze(listed)) is tuple
    assert freeze([1, [2]]) == (1, (2,))
