"""``@frozen`` (scanner/value.py) behaves as ``@dataclass(frozen=True)``: every class of the code base that uses it is
compared with its stock twin (the same class body under the stock decorator), and the cost it saves is counted."""
from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pickle
import pkgutil
import re
from typing import Any

import pytest

import scanner
from scanner import value


def _frozen_classes() -> list[type]:
    """Every class of the scanner package defined with ``@frozen`` (its modules imported, transports aside)."""
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(scanner.__path__, "scanner."):
        if info.name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # a module that needs an optional transport library not installed here
            continue
        for obj in vars(module).values():
            if isinstance(obj, type) and obj.__module__ == module.__name__ and "__value_key__" in obj.__dict__:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[name] for name in sorted(found)]


_GENERATED = {"__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__", "__value_repr__",
              "__value_key__", "__value_hash__", "__dataclass_fields__", "__dataclass_params__", "__match_args__",
              "__dict__", "__weakref__", "__doc__"}


def _stock_twin(cls: type) -> type:
    """``cls``'s body again, under ``@dataclass(frozen=True)`` (``slots=True`` when it is slotted)."""
    own = cls.__dict__
    slotted = "__slots__" in own
    skip = {*_GENERATED, *own.get("__slots__", ()), "__slots__", "__getstate__", "__setstate__"}
    names: dict[str, Any] = {k: v for k, v in own.items() if k not in skip}
    names.update({k: own[k] for k in ("__repr__", "__eq__", "__hash__") if k in own and not _shared(cls, k)})
    for f in dataclasses.fields(cls):
        if f.name in own.get("__annotations__", {}):
            names[f.name] = dataclasses.field(default=f.default, default_factory=f.default_factory, init=f.init,
                                              repr=f.repr, hash=f.hash, compare=f.compare, metadata=f.metadata,
                                              kw_only=f.kw_only)
    if cls.__doc__ != cls.__name__ + value._signature_text(dataclasses.fields(cls)):
        names["__doc__"] = cls.__doc__  # documented: the twin keeps the text; else it makes its own
    twin = type(cls.__name__, cls.__bases__, names)
    twin.__qualname__ = cls.__qualname__
    return dataclasses.dataclass(frozen=True, slots=slotted)(twin)


def _shared(cls: type, name: str) -> bool:
    return cls.__dict__.get(name) in (value._repr, value._eq, value._hash)


def _build(cls: type, base: int) -> Any:
    """An instance of ``cls`` from distinct placeholder values (or the exception the constructor raises)."""
    args = {f.name: base + i for i, f in enumerate(dataclasses.fields(cls)) if f.init}
    try:
        return cls(**args)
    except Exception as exc:  # noqa: BLE001  # a __post_init__ that refuses placeholders: compared below
        return exc


CLASSES = _frozen_classes()


def test_the_code_base_defines_its_values_with_frozen() -> None:
    modules = {cls.__module__ for cls in CLASSES}
    assert {"scanner.model", "scanner.facts.aws", "scanner.facts.linux", "scanner.facts.windows",
            "scanner.facts.ldap", "scanner.history", "scanner.seal", "scanner.frameworks"} <= modules
    assert len(CLASSES) >= 150


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_frozen_class_behaves_as_its_stock_twin(cls: type) -> None:
    twin = _stock_twin(cls)
    assert cls.__doc__ == twin.__doc__
    assert cls.__match_args__ == twin.__match_args__  # type: ignore[attr-defined]
    assert str(inspect.signature(cls)) == str(inspect.signature(twin))
    assert [(f.name, f.init, f.repr, f.compare, f.hash) for f in dataclasses.fields(cls)] == \
           [(f.name, f.init, f.repr, f.compare, f.hash) for f in dataclasses.fields(twin)]
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    if "__slots__" in cls.__dict__:  # slotted as the stock one: no instance dictionary
        assert "__slots__" in twin.__dict__ and not hasattr(_build(cls, 1), "__dict__")
    ours, theirs, other = _build(cls, 1), _build(twin, 1), _build(cls, 100)
    if isinstance(theirs, Exception):
        assert (type(ours), str(ours)) == (type(theirs), str(theirs))
        return
    assert repr(ours) == repr(theirs)
    assert ours == _build(cls, 1) and ours != other and ours != theirs
    assert dataclasses.astuple(ours) == dataclasses.astuple(theirs)
    hashed = [f.name for f in dataclasses.fields(cls) if (f.compare if f.hash is None else f.hash)]
    if cls.__dict__.get("__hash__") is value._hash:
        assert hash(ours) == hash(theirs) == hash(tuple(getattr(ours, n) for n in hashed))
    for field in dataclasses.fields(cls):
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot assign to field '{field.name}'"):
            setattr(ours, field.name, 0)
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot delete field '{field.name}'"):
            delattr(ours, field.name)
    assert copy.deepcopy(ours) == ours
    assert pickle.loads(pickle.dumps(ours)) == ours


def test_frozen_compiles_one_method_per_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stock decorator compiles six methods (``exec`` of generated text) per frozen class; ``@frozen`` one."""
    calls: list[str] = []
    real_exec = exec

    def counting_exec(source: Any, *args: Any) -> None:
        calls.append(source)
        real_exec(source, *args)

    @value.frozen
    class Warmup:  # the stock decorator's first use builds caches of its own; not what is counted
        a: int

    monkeypatch.setattr("builtins.exec", counting_exec)

    @value.frozen
    class Item:
        """An item."""

        name: str
        size: int = 0
        tags: tuple[str, ...] = dataclasses.field(default_factory=tuple)

    def methods() -> list[str]:  # the methods the compiled texts define (3.13 compiles a class's in one text)
        return [name for text in calls for name in re.findall(r"\n\s+def (__\w+__)\(", text)]

    assert methods() == []  # __init__ is compiled when first looked up: a class never instantiated never pays
    first = Item("a")
    assert methods() == ["__init__"] and "def __init__(self, name, size=__dflt_size, tags=__FACTORY)" in calls[-1]
    assert Item("b").name == "b" and methods() == ["__init__"] and first.tags == ()
    calls.clear()

    @dataclasses.dataclass(frozen=True)
    class Stock:
        name: str

    assert sorted(methods()) == ["__delattr__", "__eq__", "__hash__", "__init__", "__repr__", "__setattr__"]
    assert Item("a") == Item("a", 0, ()) and Item("a") != Item("b") and repr(Item("a")) == \
        "test_frozen_compiles_one_method_per_class.<locals>.Item(name='a', size=0, tags=())"


def test_the_generated_doc_is_written_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """An undocumented class's ``__doc__`` (name and signature) is formatted when read, not when defined."""
    written: list[int] = []
    real = value._signature_text
    monkeypatch.setattr(value, "_signature_text", lambda flds: written.append(len(flds)) or real(flds))

    @value.frozen
    class Pair:
        left: int
        right: str = "r"

    assert written == []
    assert Pair.__doc__ == "Pair(left: 'int', right: 'str' = 'r')" == Pair(1).__doc__ == inspect.getdoc(Pair)
    assert written == [2, 2, 2]


def test_frozen_refuses_what_it_cannot_make() -> None:
    with pytest.raises(TypeError, match="Cannot overwrite attribute __setattr__"):
        @value.frozen
        class Settable:
            a: int

            def __setattr__(self, name: str, v: object) -> None: ...

    with pytest.raises(TypeError, match="InitVar"):
        @value.frozen
        class WithInitVar:
            a: dataclasses.InitVar[int]


def test_frozen_keeps_methods_a_class_defines_and_subclasses_stay_frozen() -> None:
    @value.frozen
    class Base:
        a: int

        def __repr__(self) -> str:
            return "mine"

    @value.frozen
    class Child(Base):
        b: int = 2
        note: str = dataclasses.field(default="", compare=False, repr=False)

    @dataclasses.dataclass(frozen=True)
    class StockChild(Child):
        c: int = 3

    assert repr(Base(1)) == "mine"
    assert repr(Child(1)) == "test_frozen_keeps_methods_a_class_defines_and_subclasses_stay_frozen.<locals>." \
        "Child(a=1, b=2)"
    assert Child(1) == Child(1, 2, "other note") and Child(1) != Child(1, 3)
    assert hash(Child(1)) == hash(Child(1, 2, "other note")) == hash((1, 2))
    assert StockChild(1).c == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        StockChild(1).a = 2  # type: ignore[misc]


# --- evolve: replace without running __init__ again ------------------------------------------------------------

@value.frozen
class _Plain:
    a: int
    b: tuple[str, ...] = ()


@value.frozen
class _Checked:
    a: int

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("negative")


@value.frozen
class _Derived:
    a: int
    b: int = dataclasses.field(init=False, default=0)


def test_evolve_is_replace_for_every_frozen_class_of_the_code_base_it_copies() -> None:
    from tests.factories import make_result

    r = make_result()
    for changes in ({"status": r.status}, {"message": "other", "risk": None}):
        made, stock = value.evolve(r, **changes), dataclasses.replace(r, **changes)
        assert made == stock and made is not r
        assert list(vars(made).items()) == list(vars(stock).items())  # the same fields, in the same order
        assert repr(made) == repr(stock)
    from scanner.model import Risk, RiskLevel

    risk = Risk(RiskLevel.HIGH, "high", True)
    assert hash(value.evolve(risk, declared=False)) == hash(Risk(RiskLevel.HIGH, "high", False))
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.evolve(r, message="x").message = "y"  # type: ignore[misc]
    assert {cls.__name__ for cls in _frozen_classes() if value._copyable(cls)} >= {"Result", "Risk", "Waiver"}


def test_evolve_copies_the_fields_without_calling_init(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.factories import count_calls

    item = _Plain(1, ("x",))
    calls = count_calls(monkeypatch, dataclasses, "replace")
    assert value.evolve(item, a=2) == _Plain(2, ("x",))
    assert calls == [0]


def test_evolve_leaves_to_replace_what_init_checks_or_derives_and_what_is_not_a_field(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="negative"):
        value.evolve(_Checked(1), a=-1)  # __post_init__ runs, as with replace
    assert value.evolve(_Derived(1), a=2) == dataclasses.replace(_Derived(1), a=2)
    assert not value._copyable(_Checked) and not value._copyable(_Derived) and not value._copyable(int)
    with pytest.raises(TypeError):
        value.evolve(_Plain(1), c=3)  # not a field: replace refuses it
    with pytest.raises(TypeError):
        value.evolve(object(), a=1)  # not a dataclass


# --- make: a class's value with its fields set at once ---------------------------------------------------------

@value.frozen(slots=True)
class _Slotted:
    a: int


@value.frozen
class _Made:
    a: int
    b: tuple[str, ...] = ()
    c: str = "c"


def test_make_is_the_class_called_for_every_frozen_class_it_makes() -> None:
    from tests.factories import make_result

    stock = make_result()
    given = {name: getattr(stock, name) for name in ("check", "target", "target_type", "status", "severity", "area",
                                                     "resource", "message", "observed", "clauses", "evidence", "at")}
    made = value.make(type(stock), **given)
    assert made == type(stock)(**given) and repr(made) == repr(type(stock)(**given))
    assert list(vars(made).items()) == list(vars(type(stock)(**given)).items())  # every field, in field order
    assert list(vars(value.make(_Made, c="x", a=1)).items()) == [("a", 1), ("b", ()), ("c", "x")]
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.message = "y"  # type: ignore[misc]


def test_make_sets_the_fields_without_calling_init(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.factories import count_calls

    value.make(_Made, a=0)  # __init__ compiled (``_LazyInit``) before it is counted
    calls = count_calls(monkeypatch, _Made, "__init__")
    assert value.make(_Made, a=1, b=("x",)) == _Made(1, ("x",))
    assert calls == [1]  # the comparison's own _Made(...) only


def test_make_leaves_to_init_what_it_checks_derives_or_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="negative"):
        value.make(_Checked, a=-1)  # __post_init__ runs
    assert value.make(_Derived, a=2) == _Derived(2)
    assert value.make(_Slotted, a=3) == _Slotted(3)
    assert value._template(_Checked) is None and value._template(_Derived) is None
    assert value._template(_Slotted) is None
    with pytest.raises(TypeError, match="missing"):
        value.make(_Made, b=("x",))  # a field without a default not given
    with pytest.raises(TypeError, match="unexpected"):
        value.make(_Made, a=1, d=4)  # not a field
