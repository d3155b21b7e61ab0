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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import reports
import scanner
from scanner import value


def _classes(marker: str) -> list[type]:
    """Every class of the scanner and reports packages whose own namespace has ``marker`` (their modules imported,
    transports aside)."""
    found: dict[str, type] = {}
    for package in (scanner, reports):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if info.name.endswith("__main__"):
                continue
            try:
                module = importlib.import_module(info.name)
            except ImportError:  # a module that needs an optional transport library not installed here
                continue
            for obj in vars(module).values():
                if isinstance(obj, type) and obj.__module__ == module.__name__ and marker in obj.__dict__:
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[name] for name in sorted(found)]


def _frozen_classes() -> list[type]:
    """Every class defined with ``@frozen``."""
    return _classes("__value_key__")


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


@pytest.fixture
def code_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A run that starts with no compiled code: an empty private cache folder (the path of its code file)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("GXPSCAN_NO_CACHE", raising=False)
    value._compiled.cache_clear()
    yield tmp_path / "gxpscan" / value._CODE_FILE
    value._compiled.cache_clear()


def _counted_compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts ``compile`` is given from now on."""
    texts: list[str] = []
    real_compile = compile

    def counting(source: Any, *args: Any, **kwargs: Any) -> Any:
        texts.append(source)
        return real_compile(source, *args, **kwargs)

    monkeypatch.setattr("builtins.compile", counting)
    return texts


def test_frozen_compiles_one_method_per_class(monkeypatch: pytest.MonkeyPatch, code_cache: Path) -> None:
    """The stock decorator compiles six methods (``exec`` of generated text) per frozen class; ``@frozen`` one."""
    calls: list[str] = []
    real_exec = exec

    def counting_exec(source: Any, *args: Any) -> None:
        calls.append(source if isinstance(source, str) else "")
        real_exec(source, *args)

    @value.frozen
    class Warmup:  # the stock decorator's first use builds caches of its own; not what is counted
        a: int

    monkeypatch.setattr("builtins.exec", counting_exec)
    compiled = _counted_compiles(monkeypatch)

    @value.frozen
    class Item:
        """An item."""

        name: str
        size: int = 0
        tags: tuple[str, ...] = dataclasses.field(default_factory=tuple)

    def methods() -> list[str]:  # the methods the compiled texts define (3.13 compiles a class's in one text)
        return [name for text in calls for name in re.findall(r"\n\s+def (__\w+__)\(", text)]

    assert methods() == [] and compiled == []  # compiled when first looked up: never, if never instantiated
    first = Item("a")
    assert len(compiled) == 1 and "def __init__(self, name, size=__dflt_size, tags=__FACTORY)" in compiled[0]
    assert Item("b").name == "b" and len(compiled) == 1 and first.tags == ()
    assert methods() == []  # the code compiled is run, not its text
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


@pytest.mark.parametrize(("decorator", "settable"), [
    (value.frozen, "Cannot overwrite attribute __setattr__"),
    (value.mutable, "does not support a class that defines __setattr__")])
def test_frozen_and_mutable_refuse_what_they_cannot_make(decorator: Any, settable: str) -> None:
    with pytest.raises(TypeError, match=settable):
        @decorator
        class Settable:
            a: int

            def __setattr__(self, name: str, v: object) -> None: ...

    with pytest.raises(TypeError, match=f"@{decorator.__name__} does not support InitVar"):
        @decorator
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


# --- mutable: the working holders ------------------------------------------------------------------------------

MUTABLE = _classes("__value_mutable__")


def test_the_code_base_defines_its_holders_with_mutable() -> None:
    assert {f"{c.__module__}.{c.__qualname__}" for c in MUTABLE} >= {
        "scanner.collectors.iac.Scan", "scanner.collectors.iac._hcl.HclFile", "scanner.collectors.iac._hcl.Module",
        "scanner.collectors.iac._values.Block", "scanner.collectors.iac._build.Built"}


@pytest.mark.parametrize("cls", MUTABLE, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_mutable_class_behaves_as_its_stock_twin(cls: type) -> None:
    own = cls.__dict__
    names = {k: v for k, v in own.items() if k not in {*_GENERATED, "__value_mutable__"}}
    for f in dataclasses.fields(cls):
        names[f.name] = dataclasses.field(default=f.default, default_factory=f.default_factory, init=f.init,
                                          repr=f.repr, hash=f.hash, compare=f.compare, metadata=f.metadata,
                                          kw_only=f.kw_only)
    if cls.__doc__ != cls.__name__ + value._signature_text(dataclasses.fields(cls)):
        names["__doc__"] = cls.__doc__
    twin = dataclasses.dataclass(eq=False, repr=False)(type(cls.__name__, cls.__bases__, names))
    assert cls.__doc__ == twin.__doc__ and cls.__match_args__ == twin.__match_args__  # type: ignore[attr-defined]
    assert str(inspect.signature(cls)) == str(inspect.signature(twin))
    assert [(f.name, f.init, f.repr, f.compare, f.hash) for f in dataclasses.fields(cls)] == \
           [(f.name, f.init, f.repr, f.compare, f.hash) for f in dataclasses.fields(twin)]
    assert cls.__dataclass_params__.init and not cls.__dataclass_params__.eq  # type: ignore[attr-defined]
    ours, theirs = _build(cls, 1), _build(twin, 1)
    assert vars(ours) == vars(theirs) and list(vars(ours)) == list(vars(theirs))  # fields set in field order
    assert ours != _build(cls, 1) and ours == ours and hash(ours) == object.__hash__(ours)  # identity
    assert repr(ours) == object.__repr__(ours)
    first = dataclasses.fields(cls)[0].name
    setattr(ours, first, "changed")
    assert getattr(ours, first) == "changed"


def test_mutable_fields_defaults_factories_and_post_init() -> None:
    seen: list[int] = []

    @value.mutable
    class Holder:
        size: int
        tags: list[str] = dataclasses.field(default_factory=list)
        name: str = "n"
        hidden: int = dataclasses.field(default=7, init=False)

        def __post_init__(self) -> None:
            seen.append(self.size)

    one, two = Holder(1), Holder(2, ["x"], name="m")
    assert (one.size, one.tags, one.name, one.hidden) == (1, [], "n", 7)
    assert (two.tags, two.name) == (["x"], "m") and one.tags is not Holder(3).tags and seen == [1, 2, 3]
    one.tags.append("y")
    one.name = "renamed"
    assert one.name == "renamed" and Holder(4).tags == []
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'size'"):
        Holder()  # type: ignore[call-arg]


# --- the compiled __init__ code kept between runs -----------------------------------------------------------------

def _define_classes() -> tuple[type, type]:
    """The same two classes again, as a new run defines them."""
    @value.frozen
    class Item:
        name: str
        size: int = 0

    @value.mutable
    class Holder:
        items: list[str] = dataclasses.field(default_factory=list)

    return Item, Holder


def test_compiled_init_code_is_kept_for_the_next_run(monkeypatch: pytest.MonkeyPatch, code_cache: Path) -> None:
    compiled = _counted_compiles(monkeypatch)
    item, holder = _define_classes()
    assert (item("a").size, holder().items) == (0, [])
    assert len(compiled) == 2 and not code_cache.exists()
    value.keep_compiled()
    assert code_cache.stat().st_mode & 0o777 == 0o600 and code_cache.parent.stat().st_mode & 0o777 == 0o700
    kept = code_cache.read_bytes()
    assert kept.startswith(value._code_header())

    value._compiled.cache_clear()  # the next run
    compiled.clear()
    item, holder = _define_classes()
    assert (item("b", 3).size, holder(["x"]).items, item("c").size) == (3, ["x"], 0)
    assert compiled == []  # both from the cache
    value.keep_compiled()
    assert code_cache.read_bytes() == kept  # nothing new: not written again

    @value.frozen
    class Other:
        left: int
        right: int

    assert Other(1, 2).right == 2 and len(compiled) == 1
    value.keep_compiled()
    value._compiled.cache_clear()
    assert len(value._compiled().codes) == 3


def _header_of_another_python() -> bytes:
    return value._code_header().replace(b"gxpscan-inits/1\0", b"gxpscan-inits/1\0" + b"3.99.0 ")


@pytest.mark.parametrize("spoil", [
    pytest.param(lambda f: f.write_bytes(_header_of_another_python() + f.read_bytes()[len(value._code_header()):]),
                 id="another-interpreter"),
    pytest.param(lambda f: f.write_bytes(value._code_header() + b"\x00not marshal"), id="not-marshal"),
    pytest.param(lambda f: f.write_bytes(f.read_bytes()[:-40]), id="truncated"),
    pytest.param(lambda f: f.write_bytes(value._code_header() + __import__("marshal").dumps(
        {k: "text" for k in value._compiled().codes})), id="values-not-code"),
    pytest.param(lambda f: f.write_bytes(value._code_header() + __import__("marshal").dumps(
        list(value._compiled().codes.values()))), id="not-a-dict"),
    pytest.param(lambda f: f.chmod(0o620), id="writable-by-the-group"),
    pytest.param(lambda f: (f.rename(f.with_name("elsewhere")), f.symlink_to(f.with_name("elsewhere"))),
                 id="symbolic-link"),
    pytest.param(lambda f: f.write_bytes(value._code_header() + b"\x00" * value._CODE_MAX_BYTES), id="too-large"),
])
def test_a_spoiled_code_file_is_not_used(monkeypatch: pytest.MonkeyPatch, code_cache: Path,
                                         spoil: Any) -> None:
    item, holder = _define_classes()
    assert item("a").size == 0 and holder().items == []
    value.keep_compiled()
    spoil(code_cache)
    value._compiled.cache_clear()
    compiled = _counted_compiles(monkeypatch)
    item, holder = _define_classes()
    assert (item("b", 2).size, holder(["y"]).items) == (2, ["y"])
    assert len(compiled) == 2  # compiled again, and right


def test_no_code_file_without_a_cache_folder(monkeypatch: pytest.MonkeyPatch, code_cache: Path) -> None:
    monkeypatch.setenv("GXPSCAN_NO_CACHE", "1")
    item, _ = _define_classes()
    assert item("a").name == "a"
    value.keep_compiled()
    assert not code_cache.parent.exists()


def test_the_command_keeps_the_code_it_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner import cli

    kept: list[int] = []
    monkeypatch.setattr(cli, "main", lambda prefetch=None: 0)
    monkeypatch.setattr(cli, "keep_compiled", lambda: kept.append(1))
    for name in ("set_threshold", "freeze"):  # the process-wide collector settings the command makes
        monkeypatch.setattr(cli.gc, name, lambda *_: None)
    with pytest.raises(SystemExit) as ended:
        cli.entry()
    assert ended.value.code == 0 and kept == [1]


@pytest.mark.parametrize("folder", ["symbolic-link", "writable-by-the-group"])
def test_the_code_file_is_never_written_through_a_folder_not_ours_alone(code_cache: Path, tmp_path: Path,
                                                                       folder: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    if folder == "symbolic-link":
        code_cache.parent.symlink_to(elsewhere)
    else:
        code_cache.parent.mkdir(mode=0o700)
        code_cache.parent.chmod(0o770)
    item, _ = _define_classes()
    assert item("a").name == "a"
    value.keep_compiled()
    assert list(elsewhere.iterdir()) == [] and not code_cache.exists()
