"""``@frozen``: a frozen dataclass that costs less to define.

``@dataclass(frozen=True)`` writes six methods per class as source text and compiles each (``__init__``,
``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``); a scan imports about a hundred such
classes, so their definition was a third of its start-up. ``@frozen`` makes the same class with one compiled
method, ``__init__``, compiled when it is first looked up (the first instance; many classes have none in a given
run); the other five are shared functions that read the class's field names, kept on the class when it is defined.
The compiled ``__init__`` code is kept between runs in the private cache folder (``_compiled``).

What a caller can see is the stock frozen dataclass's: ``dataclasses.fields``/``replace``/``asdict``, the
``__init__`` signature (defaults, default factories, ``kw_only``, ``__post_init__``), ``__match_args__``, the
generated ``__doc__``, ``repr`` (with the recursion guard), equality and hash over the compared fields, and
``FrozenInstanceError`` on assignment or deletion (``tests/engine/test_value.py`` proves it class by class against
``@dataclass(frozen=True)``). Not supported (a ``TypeError`` when defined): ``InitVar`` fields, a class that
defines ``__setattr__``/``__delattr__`` itself.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import marshal
import sys
from collections.abc import Callable
from operator import attrgetter
from reprlib import recursive_repr
from types import CodeType
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:
    def dataclass_transform(**_: object) -> Callable[[Any], Any]:
        return lambda decorator: decorator

T = TypeVar("T")

_OWN = ("__repr__", "__eq__", "__hash__")


def _key_of(names: tuple[str, ...]) -> Callable[[object], tuple[Any, ...]]:
    """A function that gives the tuple of ``names``' values of an object (what the stock methods compare)."""
    if not names:
        return lambda _obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    many: Callable[[object], tuple[Any, ...]] = attrgetter(*names)  # with two names or more it gives a tuple
    return many


def _attribute(obj: object, name: str) -> Any:
    """A class attribute of ``obj`` that ``@frozen`` set (typed ``Any``: mypy cannot know it)."""
    return getattr(type(obj), name)


@recursive_repr()
def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _attribute(self, "__value_repr__"))
    return f"{self.__class__.__qualname__}({shown})"


def _eq(self: Any, other: object) -> object:
    if other.__class__ is self.__class__:
        key: Callable[[object], tuple[Any, ...]] = _attribute(self, "__value_key__")
        return bool(key(self) == key(other))
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(_attribute(self, "__value_hash__")(self))


def _setattr(self: object, name: str, value: object) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: object, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _init_source(flds: tuple[dataclasses.Field[Any], ...], post_init: bool) -> str:
    """The source of ``__init__`` for ``flds``: the stock frozen dataclass's, parameters and body alike."""
    params: list[str] = []
    kw_params: list[str] = []
    body: list[str] = []
    for f in flds:
        has_default = f.default is not dataclasses.MISSING
        has_factory = f.default_factory is not dataclasses.MISSING
        if f.init:
            param = f.name + ("=__dflt_" + f.name if has_default else "=__FACTORY" if has_factory else "")
            (kw_params if f.kw_only is True else params).append(param)
            value = (f"__dflt_{f.name}() if {f.name} is __FACTORY else {f.name}" if has_factory else f.name)
        elif has_factory:
            value = f"__dflt_{f.name}()"
        else:  # not in __init__, no factory: the class attribute (the default) is what the instance shows
            continue
        body.append(f"  __set(self, {f.name!r}, {value})")
    if post_init:
        body.append("  self.__post_init__()")
    signature = ", ".join(["self", *params, *(["*", *kw_params] if kw_params else [])])
    return f"def __init__({signature}) -> None:\n" + "\n".join(body or ["  pass"]) + "\n"


def _make_init(cls: type, flds: tuple[dataclasses.Field[Any], ...]) -> Callable[..., None]:
    """Compile ``__init__`` as the stock dataclass does: in a closure over its defaults, with the module of ``cls``
    as its globals (so ``typing.get_type_hints`` resolves its annotations there)."""
    names: dict[str, Any] = {"__set": object.__setattr__, "__FACTORY": _FACTORY}
    for f in flds:
        if f.default is not dataclasses.MISSING:
            names["__dflt_" + f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            names["__dflt_" + f.name] = f.default_factory
    inner = _init_source(flds, hasattr(cls, "__post_init__")).replace("\n", "\n ")
    source = f"def __create_fn__({', '.join(names)}):\n {inner}\n return __init__\n"
    module = sys.modules.get(cls.__module__)
    made: dict[str, Any] = {}
    exec(_compiled().code(source), module.__dict__ if module is not None else {}, made)  # noqa: S102
    init: Callable[..., None] = made["__create_fn__"](**names)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = {**{f.name: f.type for f in flds if f.init}, "return": None}
    return init


#: The file of the private cache folder (scanner/privatecache.py) that keeps compiled ``__init__`` code.
_CODE_FILE = "inits.marshal"
_CODE_MAX_BYTES = 4 * 1024 * 1024
#: Most texts kept: beyond it only those this process used are written back.
_CODE_KEEP = 2_000


class _Compiled:
    """The code of each ``__init__`` text this process compiled or found in the cache (``_compiled``)."""

    def __init__(self, codes: dict[str, CodeType]):
        self.codes = codes
        self.used: set[str] = set()
        self.new = False

    def code(self, source: str) -> CodeType:
        self.used.add(source)
        found = self.codes.get(source)
        if found is None:
            found = self.codes[source] = compile(source, "<string>", "exec")
            self.new = True
        return found


def _code_header() -> bytes:
    """What the cached code was compiled by: this exact interpreter (marshal's format and the bytecode change with
    it); a file written by another is not read."""
    return f"gxpscan-inits/1\0{sys.version}\0{sys.implementation.cache_tag}\0".encode()


@functools.cache
def _compiled() -> _Compiled:
    """The compiled ``__init__`` code of this process, started from what earlier runs kept.

    Compiling an ``__init__`` text costs 0.2-0.5 ms (the compiler, not the function); a scan instantiates some fifty
    ``@frozen`` classes, so compiling was a twentieth of an IaC scan. The code objects are kept in the private cache
    folder by ``keep_compiled`` (marshal, as Python keeps a module's byte code in ``__pycache__``), under the
    interpreter that compiled them, by the exact text compiled: a changed class is a new text, compiled again.
    Anything unexpected in the file (another interpreter, not marshal data, not text -> code) reads as empty."""
    from scanner.privatecache import cache_dir, read_private_bytes

    cache = cache_dir()
    data = read_private_bytes(cache, _CODE_FILE, _CODE_MAX_BYTES) if cache is not None else None
    header = _code_header()
    if data is None or not data.startswith(header):
        return _Compiled({})
    try:
        codes = marshal.loads(memoryview(data)[len(header):])
    except (EOFError, ValueError, TypeError):
        return _Compiled({})
    if type(codes) is not dict or not all(type(k) is str and type(v) is CodeType for k, v in codes.items()):
        return _Compiled({})
    return _Compiled(codes)


def keep_compiled() -> None:
    """Write the ``__init__`` code compiled by this process to the cache folder for the next run (nothing when
    nothing new was compiled, or no cache folder is usable: the cache only saves time)."""
    if not _compiled.cache_info().currsize:
        return
    compiled = _compiled()
    if not compiled.new:
        return
    from scanner.privatecache import cache_dir, write_private

    cache = cache_dir()
    if cache is None:
        return
    codes = compiled.codes
    if len(codes) > _CODE_KEEP:
        codes = {source: code for source, code in codes.items() if source in compiled.used}
    write_private(cache, _CODE_FILE, _code_header() + marshal.dumps(codes))
    compiled.new = False


def _signature_text(flds: tuple[dataclasses.Field[Any], ...]) -> str:
    """``str(inspect.signature(cls))`` of the ``__init__`` of ``flds`` without its return (the stock dataclass's
    ``__doc__`` of a class that has none), written out: ``inspect.signature`` costs more than the class."""
    def shown(f: dataclasses.Field[Any]) -> str:
        text = f"{f.name}: {inspect.formatannotation(f.type)}"
        if f.default is not dataclasses.MISSING:
            return f"{text} = {f.default!r}"
        return f"{text} = <factory>" if f.default_factory is not dataclasses.MISSING else text
    positional = [shown(f) for f in flds if f.init and f.kw_only is not True]
    keyword = [shown(f) for f in flds if f.init and f.kw_only is True]
    return "(" + ", ".join([*positional, *(["*", *keyword] if keyword else [])]) + ")"


class _Doc:
    """The ``__doc__`` of a ``@frozen`` class that has none (its name and signature, as the stock dataclass writes
    it), written when read: a hundred classes defined at start-up formatted every field's annotation for a text
    that help() and pydoc read, a scan never."""

    __slots__ = ("flds",)

    def __init__(self, flds: tuple[dataclasses.Field[Any], ...]):
        self.flds = flds

    def __get__(self, obj: object, objtype: type | None = None) -> str:
        owner = objtype if objtype is not None else type(obj)
        return owner.__name__ + _signature_text(self.flds)


class _LazyInit:
    """The ``__init__`` of a ``@frozen`` class until it is first looked up (the first instance, ``inspect``): then
    compiled and put in its place on the class, so a class that a run never instantiates never pays for it."""

    __slots__ = ("owner", "flds")

    def __init__(self, owner: type, flds: tuple[dataclasses.Field[Any], ...]):
        self.owner, self.flds = owner, flds

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        init = _make_init(self.owner, self.flds)
        type.__setattr__(self.owner, "__init__", init)
        return init if obj is None else init.__get__(obj, objtype)


class _Factory:
    """The default of a parameter whose field has a ``default_factory`` (the stock dataclass's marker)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def _getstate(self: object) -> list[Any]:
    """The state of a slotted ``@frozen`` instance (pickle, copy): its fields' values, as the stock one gives."""
    return [getattr(self, f.name) for f in dataclasses.fields(self)]  # type: ignore[arg-type]


def _setstate(self: object, state: list[Any]) -> None:
    for f, item in zip(dataclasses.fields(self), state, strict=True):  # type: ignore[arg-type]
        object.__setattr__(self, f.name, item)  # the instance is frozen: past its own __setattr__


@overload
def frozen(cls: type[T], /) -> type[T]: ...


@overload
def frozen(*, slots: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen(cls: type[T] | None = None, /, *, slots: bool = False) -> type[T] | Callable[[type[T]], type[T]]:
    """Make ``cls`` a frozen dataclass: ``@frozen`` is ``@dataclass(frozen=True)``, ``@frozen(slots=True)`` is
    ``@dataclass(frozen=True, slots=True)``."""
    if cls is None:
        return lambda made: _frozen(made, slots)
    return _frozen(cls, slots)


def _frozen(cls: type[T], slots: bool) -> type[T]:
    own = cls.__dict__
    for name in ("__setattr__", "__delattr__"):
        if name in own:
            raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
    keep = {name for name in _OWN if name in own}
    if "__hash__" in keep and own["__hash__"] is None and "__eq__" in own:
        keep.discard("__hash__")  # a class that defines __eq__ only gets the generated hash, as a dataclass does
    # a subclass of a frozen dataclass must be declared frozen (its two generated methods are replaced below)
    frozen_base = any(getattr(getattr(base, "__dataclass_params__", None), "frozen", False) for base in cls.__mro__[1:])

    def attributes(flds: tuple[dataclasses.Field[Any], ...]) -> dict[str, object]:
        hashed = tuple(f.name for f in flds if (f.compare if f.hash is None else f.hash))
        return {
            "__setattr__": _setattr, "__delattr__": _delattr,
            "__value_repr__": tuple(f.name for f in flds if f.repr),
            "__value_key__": staticmethod(_key_of(tuple(f.name for f in flds if f.compare))),
            "__value_hash__": staticmethod(_key_of(hashed)),
            **({"__getstate__": _getstate, "__setstate__": _setstate} if slots else {}),
            **{name: shared for name, shared in (("__repr__", _repr), ("__eq__", _eq), ("__hash__", _hash))
               if name not in keep}}

    # what it is: a dataclass subclass checks the parameters
    return _define(cls, "frozen", {"frozen": frozen_base, "slots": slots}, ("init", "repr", "eq", "frozen"),
                   attributes)


@dataclass_transform(eq_default=False, field_specifiers=(dataclasses.field, dataclasses.Field))
def mutable(cls: type[T], /) -> type[T]:
    """``@dataclass(eq=False, repr=False)`` made as ``@frozen`` makes its classes: a working holder (equal only to
    itself, hashed by identity, the default repr, fields assigned freely), whose ``__init__`` is compiled when first
    looked up, from the code kept between runs (``_compiled``), where the stock decorator compiles it when the class
    is defined (some 0.5 ms a class). ``__init__`` sets each field as ``object.__setattr__`` does; a class that
    defines ``__setattr__`` itself, or has ``InitVar`` fields, is refused (``TypeError``)."""
    if "__setattr__" in cls.__dict__:
        raise TypeError(f"@mutable does not support a class that defines __setattr__ ({cls.__name__})")
    return _define(cls, "mutable", {}, ("init",), lambda _flds: {"__value_mutable__": True})


def _define(cls: type[T], decorator: str, options: dict[str, bool], params: tuple[str, ...],
            attributes: Callable[[tuple[dataclasses.Field[Any], ...]], dict[str, object]]) -> type[T]:
    """``cls`` made a dataclass by the stock decorator with ``options`` and none of its methods, then given what
    ``@frozen``/``@mutable`` share: ``__init__`` compiled when first looked up (``_LazyInit``), the generated
    ``__doc__`` written when read (``_Doc``), the dataclass ``params`` it now has set true, and the decorator's own
    ``attributes`` of its fields."""
    documented = bool(cls.__dict__.get("__doc__"))
    if not documented:
        cls.__doc__ = "-"  # spares dataclass() the signature it would compute before __init__ exists
    made = dataclasses.dataclass(init=False, repr=False, eq=False, **options)(cls)
    flds = _fields(made, decorator)
    for param in params:
        setattr(made.__dict__["__dataclass_params__"], param, True)
    for name, attribute in {"__init__": _LazyInit(made, flds), **attributes(flds)}.items():
        setattr(made, name, attribute)
    if not documented:
        made.__doc__ = _Doc(flds)  # type: ignore[assignment]  # a str when read (type.__doc__ calls __get__)
    return made


def _fields(made: type, decorator: str) -> tuple[dataclasses.Field[Any], ...]:
    """The fields of the dataclass ``made``; TypeError when it has ``InitVar`` fields (``__init__`` would need
    them, and ``dataclasses.fields`` does not list them)."""
    every = made.__dict__["__dataclass_fields__"]
    flds = dataclasses.fields(made)
    if len(every) != len(flds) and any(f.type is dataclasses.InitVar or "InitVar" in str(f.type)
                                       for f in every.values()):
        raise TypeError(f"@{decorator} does not support InitVar fields ({made.__name__})")
    return flds


@functools.cache
def _copyable(cls: type) -> frozenset[str]:
    """The fields of ``cls`` when ``evolve`` may copy its instances (a dataclass whose ``__init__`` sets every
    field and does nothing else: no ``__post_init__``, no ``InitVar``, no field left out of ``__init__``); empty
    otherwise."""
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        return frozenset()
    flds = dataclasses.fields(cls)
    if len(flds) != len(cls.__dataclass_fields__) or not all(f.init for f in flds):  # an InitVar, a ClassVar
        return frozenset()
    return frozenset(f.name for f in flds)


def evolve(obj: T, **changes: Any) -> T:
    """``dataclasses.replace(obj, **changes)``, the same value, made by copying the instance's fields instead of
    running its ``__init__`` again: replace reads every field into keyword arguments for the generated ``__init__``,
    some 10 microseconds for a Result (21 fields), and a scan rates every finding. Only for a class whose fields
    are exactly what its instances hold (``_copyable``: an instance with anything more, e.g. a cached property,
    and any other class go to replace); a name that is not a field is refused by replace, as before."""
    kind: type = type(obj)
    names = _copyable(kind)
    state = getattr(obj, "__dict__", None)
    if not names or state is None or len(state) != len(names) or not names.issuperset(changes):
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    return instance(kind, {**state, **changes})


def instance(cls: type[T], fields: dict[str, Any]) -> T:
    """An instance of the dataclass ``cls`` holding ``fields`` (a fresh dict, now its own) as its fields, made
    without running ``__init__`` or ``__post_init__``: for callers whose fields are already what those would make
    (``evolve``, ``make``, the finding helpers of scanner.model)."""
    made: T = object.__new__(cls)
    object.__setattr__(made, "__dict__", fields)
    return made


@functools.cache
def _template(cls: type) -> tuple[dict[str, Any], frozenset[str]] | None:
    """For ``make``: every field of ``cls`` with its default, in field order (a placeholder for a field without one),
    and the fields without a default; None for a class ``make`` leaves to its ``__init__`` (not ``_copyable``, a
    field with a default factory, slots)."""
    flds = dataclasses.fields(cls) if _copyable(cls) and "__slots__" not in cls.__dict__ else ()
    if not flds or any(f.default_factory is not dataclasses.MISSING for f in flds):
        return None
    return ({f.name: f.default for f in flds},
            frozenset(f.name for f in flds if f.default is dataclasses.MISSING))


def make(cls: type[T], **values: Any) -> T:
    """``cls(**values)``, the same value, made with its fields set at once instead of by the generated ``__init__``,
    which sets each with a call to ``object.__setattr__`` (some 1,200 instructions a field: a Result of 21 fields
    cost 30,000, and a scan makes one per finding). For a class ``_template`` allows, given every field without a
    default and only fields; anything else goes to ``cls(**values)``, which says what is wrong."""
    kind: type = cls  # a type is hashable; typeshed types it type[T]
    template = _template(kind)
    if template is None or not template[1].issubset(values) or not _copyable(kind).issuperset(values):
        return cls(**values)
    state = template[0].copy()
    state.update(values)
    return instance(cls, state)
