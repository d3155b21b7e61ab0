"""Terraform HCL: parse with our own parser (``_hclparse``: blocks keep their line ranges) and evaluate statically.

What is evaluated: literals, strings with interpolation, heredocs, lists and objects, variables (defaults, then
``terraform.tfvars``, ``*.auto.tfvars`` in name order, then the target's ``tfvars``), locals, conditionals and
operators on known values, ``for`` expressions and splats over known collections, the common pure functions
(``merge``, ``concat``, ``lookup``, ``try``, ``coalesce``, ``tolist``/``toset``, ``length``, ``format``,
``jsonencode``, ``lower``/``upper``, ``contains``, ``element``, ...), ``count`` and ``for_each`` when they evaluate
to a known number, list or map, references to resources (to their configured attributes; ``id``/``arn``/``bucket``
to the resource's name when known, else its address) and local modules (``source = "./modules/x"``, followed
inside the root). Anything else (data sources, remote modules, template directives, unknown functions) is
``Unknown`` with the reason: never guessed.
"""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import field
from pathlib import Path
from typing import Any

from scanner.collectors.iac import _hclparse as hp
from scanner.collectors.iac._values import EVALUATION_ERRORS, MAX_DEPTH, Block, Unknown
from scanner.collectors.iac._waivers import WAIVER_MARK, waivers_for
from scanner.connectors.iac import FileRefused, IacConnector
from scanner.model import Location
from scanner.value import frozen, mutable

_RESOURCE_LINE = re.compile(r'^\s*resource\s+"([A-Za-z0-9_]+)"\s+"([A-Za-z0-9_-]+)"')
#: attributes that name a resource: a reference to them is the resource's name when configured, else its address
_IDENTITY_ATTRS = {"id", "bucket", "name", "arn", "key_id", "cluster_identifier"}
#: Most instances one resource may have (count); more is an error for the resource, not a truncation.
MAX_INSTANCES = 10_000
#: Most elements a list or map made by an expression may have (for, splat, concat, merge); more is unknown.
MAX_ITEMS = 100_000
#: Deepest chain of module calls followed.
MAX_MODULE_DEPTH = 8


class Ref(str):
    """A resource's name or address standing for a value known only after apply (an id, an ARN): good for joining
    resources and for writing into a policy, never for a comparison."""


@frozen
class Failed(Unknown):
    """An evaluation error (no such attribute, an index out of range, a function refusing its arguments): unknown
    like any other, and the one kind ``try()`` moves past."""


class HclError(ValueError):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


@mutable
class Problems:
    """Files that could not be read or parsed: (relative path, line, message); and the modules parsed so far
    (each directory is parsed once per scan, however often it is called)."""

    items: list[tuple[str, int | None, str]] = field(default_factory=list)
    modules: dict[Path, Module] = field(default_factory=dict)


@mutable
class HclFile:
    path: Path
    rel: str
    text: str
    attributes: dict[str, hp.Expr]  # top-level attributes (tfvars files)
    blocks: tuple[hp.Block, ...]
    waivable: bool = True  # False: no line of the file can be an inline waiver (``WAIVER_MARK`` is nowhere in it)

    @functools.cached_property
    def lines(self) -> list[str]:
        """The text's lines, split when first asked for (inline waivers and ``depends_on`` read them; most files
        have neither)."""
        return self.text.split("\n")


def parse_file(conn: IacConnector, path: Path) -> HclFile:
    """One HCL file; HclError (with line) when it cannot be read, decoded or parsed. Parsed once per scan: the
    connector keeps the outcome (a directory is read to find module calls, then again to evaluate it)."""
    key = ("hcl", path)
    found = conn.memo.get(key)  # one look-up (a path's hash is worked out in Python)
    if found is None:
        try:
            found = _parse_file(conn, path)
        except HclError as exc:
            found = exc
        conn.memo[key] = found
    if isinstance(found, HclError):
        raise HclError(str(found), found.line)
    parsed: HclFile = found
    return parsed


def parsed_files(conn: IacConnector) -> dict[str, HclFile]:
    """Every HCL file parsed so far in this scan, by path relative to the root."""
    return {f.rel: f for f in conn.memo.values() if isinstance(f, HclFile)}


def _parse_file(conn: IacConnector, path: Path) -> HclFile:
    rel = conn.rel(path)
    try:
        data = conn.read(path)
    except FileRefused as exc:
        raise HclError(str(exc)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise HclError(f"not UTF-8 (byte {exc.start})", line) from None
    try:
        body = hp.parse(text)
    except hp.ParseError as exc:
        if str(exc).startswith("nested deeper"):
            raise HclError(str(exc), exc.line) from None
        raise HclError(f"does not parse: {exc}", exc.line) from None
    attributes = {a.name: a.expr for a in body.attributes}
    return HclFile(path, rel, text, attributes, body.blocks, WAIVER_MARK in text)


def broken_resources(conn: IacConnector, path: Path, why: str, line: int | None) -> list[Block]:
    """Resources still recognisable (by their header line) in a file that does not parse: every value unknown."""
    try:
        text = conn.read(path, head=True).decode("utf-8", "replace")
    except FileRefused:
        return []
    rel = conn.rel(path)
    where = f"{rel}" + (f" line {line}" if line else "")
    out = []
    for i, raw in enumerate(text.split("\n"), 1):
        m = _RESOURCE_LINE.match(raw)
        if m:
            out.append(Block(m.group(1), f"{m.group(1)}.{m.group(2)}", {}, Location(rel, i, i),
                             broken=f"{where}: {why}"))
    return out


class Scope:
    """One module instance: its variables, locals, resources and child modules."""

    def __init__(self, module: Module, prefix: str, variables: dict[str, Any], depth: int = 0,
                 busy: set[tuple[str, str]] | None = None):
        self.module = module
        self.busy: set[tuple[str, str]] = set() if busy is None else busy  # resource attributes being evaluated
        self.prefix = prefix
        self.variables = variables
        self.depth = depth
        self._locals: dict[str, Any] = {}
        self._busy: set[str] = set()
        self.children: dict[str, Scope | Unknown] = {}

    # ---------------------------------------------------------------------------- evaluation
    def local(self, name: str) -> Any:
        if name in self._locals:
            return self._locals[name]
        expr = self.module.locals.get(name)
        if expr is None:
            return Unknown(f"local.{name} is not defined")
        if name in self._busy:
            return Unknown(f"local.{name} refers to itself")
        self._busy.add(name)
        try:
            value = Eval(self).value(expr)
        finally:
            self._busy.discard(name)
        self._locals[name] = value
        return value


def _number(text: Any) -> Any:
    """A number literal's value: an int, or a float when written with a fraction or an exponent (``int`` of a
    hostile 5,000 digits raises ValueError: the resource is an error)."""
    if not isinstance(text, str):
        return text
    return float(text) if "." in text or "e" in text or "E" in text else int(text)


class Eval:
    """Evaluates one expression in a scope (with ``count.index`` / ``each`` when inside a resource, and the names a
    ``for`` expression or a splat binds)."""

    def __init__(self, scope: Scope, each: dict[str, Any] | None = None, names: dict[str, Any] | None = None,
                 depth: int = 0):
        self.scope = scope
        self.each = each or {}
        self.names = names or {}
        self.depth = depth

    def bind(self, names: dict[str, Any]) -> Eval:
        return Eval(self.scope, self.each, {**self.names, **names}, self.depth)

    def value(self, node: hp.Expr) -> Any:
        if self.depth < MAX_DEPTH:  # the commonest leaves, a plain string or a keyword, without the depth count
            if type(node) is hp.Template:
                parts = node.parts
                if not parts:
                    return ""
                if len(parts) == 1 and type(parts[0]) is str:
                    return parts[0]
            elif type(node) is hp.Literal:
                return _number(node.value) if node.number else node.value
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                return Unknown(f"nested deeper than {MAX_DEPTH} levels")
            return self._value(node)
        finally:
            self.depth -= 1

    def _value(self, node: hp.Expr) -> Any:  # noqa: C901 - one dispatch over the node kinds
        if isinstance(node, hp.Literal):
            return _number(node.value) if node.number else node.value
        if isinstance(node, hp.Template):
            return self.template(node)
        if isinstance(node, (hp.GetAttr, hp.Index, hp.Variable)):
            return self.traverse(node)
        if isinstance(node, hp.Tuple):
            return [self.value(c) for c in node.items]
        if isinstance(node, hp.Object):
            out: dict[str, Any] = {}
            for key_node, value_node in node.items:
                key = self.key(key_node)
                if isinstance(key, Unknown):
                    return key
                out[key] = self.value(value_node)
            return out
        if isinstance(node, hp.Parens):
            return self.value(node.inner)
        if isinstance(node, hp.Conditional):
            cond = self.value(node.condition)
            if isinstance(cond, Unknown):
                return cond
            if not isinstance(cond, bool):
                return Failed("condition is not a bool")
            return self.value(node.then if cond else node.otherwise)
        if isinstance(node, hp.Binary):
            return self.binary(node)
        if isinstance(node, hp.Unary):
            operand = self.value(node.operand)
            if isinstance(operand, Unknown):
                return operand
            if node.op == "!" and isinstance(operand, bool):
                return not operand
            if node.op == "-" and isinstance(operand, (int, float)) and not isinstance(operand, bool):
                return -operand
            return Failed(f"operator {node.op} on {type(operand).__name__}")
        if isinstance(node, hp.Call):
            return self.call(node)
        if isinstance(node, hp.Splat):
            return self.splat(node)
        return self.for_expr(node)

    def key(self, node: hp.Expr) -> Any:
        if isinstance(node, hp.Variable):
            return node.name
        value = self.value(node)
        if isinstance(value, Unknown):
            return value
        return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else Failed(
            "object key is not a string")

    def template(self, node: hp.Template) -> Any:
        out = []
        for part in node.parts:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, hp.Directive):
                return Unknown("template directive is not evaluated statically")
            else:
                text = as_text(self.value(part))
                if isinstance(text, Unknown):
                    return text
                out.append(text)
        return "".join(out)

    def binary(self, node: hp.Binary) -> Any:
        op = node.op
        left = self.value(node.left)
        if op in ("&&", "||") and isinstance(left, bool):
            if (op == "&&" and not left) or (op == "||" and left):
                return left
        right = self.value(node.right)
        for v in (left, right):
            if isinstance(v, Unknown):
                return v
            if isinstance(v, Ref):
                return Unknown(f"{v}: its id or ARN is known only after apply")
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
        if op in _ARITHMETIC and not numbers:  # HCL has no string or list arithmetic ("x" * 10**9 is no value)
            return Failed(f"operator {op} on {type(left).__name__} and {type(right).__name__}")
        try:
            return _OPERATORS[op](left, right)
        except (KeyError, TypeError, ZeroDivisionError, OverflowError):
            return Failed(f"operator {op} on {type(left).__name__} and {type(right).__name__}")

    # ---------------------------------------------------------------------------- references
    def steps(self, node: hp.Expr) -> tuple[hp.Expr, list[Any]] | Unknown:
        """``a.b[0].c``: the root expression and the evaluated steps after it."""
        steps: list[Any] = []
        while isinstance(node, (hp.GetAttr, hp.Index)):
            if isinstance(node, hp.GetAttr):
                steps.append(node.name)
            else:
                idx = self.value(node.key)
                if isinstance(idx, Unknown):
                    return idx
                steps.append(idx)
            node = node.source
        steps.reverse()
        return node, steps

    def traverse(self, node: hp.Expr) -> Any:
        found = self.steps(node)
        if isinstance(found, Unknown):
            return found
        root, steps = found
        if isinstance(root, hp.Variable):
            if root.name in self.names:
                return walk(self.names[root.name], steps)
            return self.reference([root.name, *steps])
        return walk(self.value(root), steps)

    def splat(self, node: hp.Splat) -> Any:
        """``src[*].x``: ``x`` of every element; a resource with count/for_each splats over its instances."""
        found = self.steps(node.source)
        if isinstance(found, Unknown):
            return found
        root, steps = found
        if isinstance(root, hp.Variable) and root.name not in self.names and len(steps) == 1 and \
                f"{root.name}.{steps[0]}" in self.scope.module.resources:
            local = f"{root.name}.{steps[0]}"
            keys = instance_keys(self.scope, self.scope.module.resources[local])
            if isinstance(keys, Unknown):
                return keys
            each = self.steps(node.each)
            if isinstance(each, Unknown):
                return each
            if keys == [None]:
                return [self.resource(local, each[1])]
            return [self.resource(local, [key, *each[1]]) for key in keys]
        source = self.value(node.source)
        if isinstance(source, Unknown):
            return source
        items = [] if source is None else source if isinstance(source, list) else [source]
        if len(items) > MAX_ITEMS:
            return Unknown(f"a splat over more than {MAX_ITEMS} elements")
        return [self.bind({"*": item}).value(node.each) for item in items]

    def for_expr(self, node: hp.For) -> Any:
        source = self.value(node.collection)
        if isinstance(source, Unknown):
            return source
        if isinstance(source, dict):
            pairs: list[tuple[Any, Any]] = sorted(source.items())
        elif isinstance(source, list) and not isinstance(source, str):
            pairs = list(enumerate(source))
        else:
            return Failed(f"for expression over a {type(source).__name__}")
        if len(pairs) > MAX_ITEMS:
            return Unknown(f"a for expression over more than {MAX_ITEMS} elements")
        items: list[Any] = []
        mapped: dict[str, Any] = {}
        for k, v in pairs:
            ev = self.bind({node.value_var: v, **({node.key_var: k} if node.key_var else {})})
            if node.condition is not None:
                keep = ev.value(node.condition)
                if isinstance(keep, Unknown):
                    return keep
                if not isinstance(keep, bool):
                    return Failed("for expression condition is not a bool")
                if not keep:
                    continue
            if node.key is None:
                items.append(ev.value(node.value))
                continue
            key = ev.value(node.key)
            if isinstance(key, Unknown):
                return key
            if isinstance(key, bool) or not isinstance(key, (str, int, float)):
                return Failed("for expression key is not a string")
            key = str(key)
            value = ev.value(node.value)
            if node.grouping:
                mapped.setdefault(key, []).append(value)
            elif key in mapped:
                return Failed(f"for expression makes the key {key!r} twice")
            else:
                mapped[key] = value
        return items if node.key is None else mapped

    def reference(self, path: list[Any]) -> Any:
        root = path[0]
        scope = self.scope
        if root == "var" and len(path) > 1:
            if path[1] not in scope.variables:
                return Unknown(f"var.{path[1]} is not declared")
            return walk(scope.variables[path[1]], path[2:])
        if root == "local" and len(path) > 1:
            return walk(scope.local(str(path[1])), path[2:])
        if root in ("count", "each") and len(path) > 1:
            key = f"{root}.{path[1]}"
            if key not in self.each:
                return Unknown(f"{key} used outside a resource with count/for_each")
            return walk(self.each[key], path[2:])
        if root == "data":
            return Unknown(f"data source {'.'.join(map(str, path[1:3]))} is read at plan time")
        if root == "module" and len(path) > 2:
            child = scope.children.get(str(path[1]))
            if child is None:
                return Unknown(f"module.{path[1]} is not defined")
            if isinstance(child, Unknown):
                return child
            out = child.module.outputs.get(str(path[2]))
            if out is None:
                return Unknown(f"module.{path[1]} has no output {path[2]}")
            return walk(Eval(child).value(out), path[3:])
        if root in ("path", "terraform", "self"):
            return Unknown(f"{root}.* is not evaluated statically")
        if len(path) >= 2 and isinstance(path[1], str) and f"{root}.{path[1]}" in scope.module.resources:
            return self.resource(f"{root}.{path[1]}", path[2:])
        return Unknown(f"{'.'.join(map(str, path[:2]))} cannot be resolved")

    def resource(self, local: str, rest: list[Any]) -> Any:
        decl = self.scope.module.resources[local]
        keys = instance_keys(self.scope, decl)
        address = self.scope.prefix + local
        if isinstance(keys, Unknown):
            return keys
        if keys and keys != [None]:
            if not rest:
                return Unknown(f"{address} has several instances")
            key, rest = rest[0], rest[1:]
            if key not in keys:
                return Unknown(f"{address}[{key!r}] is not an instance")
            address = f"{address}[{json.dumps(key)}]"
            each = each_values(decl, key, self.scope)
        else:
            each = {}
        if not rest:
            return Unknown(f"{address} is a whole resource object")
        attr = str(rest[0])
        expr = decl.attributes.get(attr)
        if attr in _IDENTITY_ATTRS:
            named = Eval(self.scope, each).value(expr) if expr is not None and attr != "arn" else None
            if attr == "id" and decl.type == "aws_s3_bucket" and "bucket" in decl.attributes:
                named = Eval(self.scope, each).value(decl.attributes["bucket"])
            return walk(named if isinstance(named, str) else Ref(address), rest[1:])
        if expr is None:
            return Unknown(f"{address}.{attr} is known only after apply")
        busy = self.scope.busy
        if (address, attr) in busy:
            return Unknown(f"{address}.{attr} refers to itself")
        busy.add((address, attr))
        try:
            return walk(Eval(self.scope, each).value(expr), rest[1:])
        finally:
            busy.discard((address, attr))

    def call(self, node: hp.Call) -> Any:
        name = node.name
        func = _FUNCTIONS.get(name)
        if func is None:
            return Unknown(f"function {name}() is not evaluated statically")
        args = [self.value(a) for a in node.args]
        if name == "try":
            return next((a for a in args if not failed(a)), Failed("try(): every argument failed"))
        for a in args:
            if isinstance(a, Unknown) or contains_unknown(a):
                return a if isinstance(a, Unknown) else Unknown(f"{name}() of a value with unknown parts")
            if name in _COMPARING and contains_ref(a):
                return Unknown(f"{name}() of an id or ARN known only after apply")
        if node.expand:
            if not args or not isinstance(args[-1], list):
                return Failed(f"{name}(...): the expanded argument is not a list")
            args = args[:-1] + args[-1]
        try:
            out = func(*args)
        except (TypeError, ValueError, KeyError, IndexError, StopIteration, ZeroDivisionError) as exc:
            return Failed(f"{name}() failed: {type(exc).__name__}")
        if isinstance(out, (list, dict)) and len(out) > MAX_ITEMS:
            return Unknown(f"{name}() makes more than {MAX_ITEMS} elements")
        return out


def contains_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


def contains_ref(value: Any) -> bool:
    if isinstance(value, Ref):
        return True
    if isinstance(value, dict):
        return any(contains_ref(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_ref(v) for v in value)
    return False


def failed(value: Any) -> bool:
    """An evaluation error anywhere inside the value (what ``try()`` moves past)."""
    if isinstance(value, Failed):
        return True
    if isinstance(value, dict):
        return any(failed(v) for v in value.values())
    if isinstance(value, list):
        return any(failed(v) for v in value)
    return False


def as_text(value: Any) -> Any:
    if isinstance(value, Unknown):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if value is None:
        return ""
    return Failed(f"a {type(value).__name__} inside a string")


def walk(value: Any, path: list[Any]) -> Any:
    for step in path:
        if isinstance(value, Unknown):
            return value
        if isinstance(value, dict) and isinstance(step, str):
            value = value.get(step, Failed(f"no attribute {step}"))
        elif isinstance(value, list) and isinstance(step, int) and not isinstance(step, bool):
            value = value[step] if 0 <= step < len(value) else Failed(f"index {step} out of range")
        else:
            return Failed(f"cannot take {step!r} of a {type(value).__name__}")
    return value


def _format(fmt: str, *args: Any) -> str:
    """Terraform's format() for the verbs %s, %v, %d and %%; anything else is refused (ValueError)."""
    queue = list(args)

    def verb(m: re.Match[str]) -> str:
        if m.group(1) == "%":
            return "%"
        if not queue:
            raise ValueError("too few arguments")
        arg = queue.pop(0)
        if m.group(1) == "d":
            if isinstance(arg, bool) or not isinstance(arg, int):
                raise TypeError("%d of a value that is not a whole number")
            return str(arg)
        if m.group(1) in "sv":
            text = as_text(arg)
            if isinstance(text, Unknown):
                raise TypeError("not a string")
            return str(text)
        raise ValueError(f"format verb %{m.group(1)}")

    out = re.sub(r"%(.?)", verb, fmt, flags=re.DOTALL)
    if queue:
        raise ValueError("too many arguments")
    return out


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return value


def _map(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("not a map")
    return value


def _element(items: Any, index: Any) -> Any:
    items = _list(items)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0 or not items:
        raise IndexError("element() index")
    return items[index % len(items)]


def _lookup(m: Any, key: Any, *default: Any) -> Any:
    m = _map(m)
    if key in m:
        return m[key]
    if len(default) != 1:
        raise KeyError(key)
    return default[0]


def _merge(*maps: Any) -> dict[str, Any]:
    return {k: v for m in maps if m is not None for k, v in _map(m).items()}


def _coalesce(*values: Any) -> Any:
    return next(v for v in values if v not in (None, ""))


def _text_of(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


#: functions whose result depends on what an id or ARN is (a Ref stands for it): unknown when given one
_COMPARING = frozenset({"contains", "length", "lower", "upper", "toset", "tonumber", "tobool", "min", "max", "abs"})
_ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "<", ">", "<=", ">="})
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "&&": lambda a, b: bool(a and b),
    "||": lambda a, b: bool(a or b), "+": lambda a, b: a + b,
    "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b, "%": lambda a, b: a % b,
    "<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "jsonencode": lambda v: json.dumps(v, separators=(",", ":")),
    "jsondecode": json.loads,
    "merge": _merge,
    "concat": lambda *ls: [x for items in ls for x in _list(items)],
    "lower": lambda s: _text_of(s).lower(), "upper": lambda s: _text_of(s).upper(),
    "tostring": lambda v: as_text(v), "tonumber": lambda v: float(v) if "." in str(v) else int(v),
    "tobool": lambda v: v if isinstance(v, bool) else {"true": True, "false": False}[v],
    "tolist": _list, "toset": lambda v: list(dict.fromkeys(_list(v))), "tomap": _map,
    "length": len, "join": lambda sep, items: _text_of(sep).join(_text_of(x) for x in _list(items)),
    "format": _format, "lookup": _lookup, "coalesce": _coalesce,
    "contains": lambda items, v: v in _list(items), "element": _element,
    "try": lambda *vs: vs[0],  # evaluated in Eval.call: the first argument that did not fail
    "min": min, "max": max, "abs": abs,
}


@mutable
class ResourceDecl:
    type: str
    name: str
    attributes: dict[str, Any]  # name -> expression tree
    blocks: list[tuple[str, Any]]  # nested blocks (name, body tree), in order
    count: Any = None
    for_each: Any = None
    file: HclFile | None = None
    start: int = 0
    end: int = 0


@frozen
class Call:
    """A module call: its arguments (expression trees) and where it is written."""

    args: dict[str, Any]
    file: str
    line: int


@mutable
class Module:
    """A directory of .tf files, parsed (not evaluated)."""

    directory: Path
    variables: dict[str, Any] = field(default_factory=dict)  # name -> default expression (None: no default)
    locals: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, ResourceDecl] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    providers: list[dict[str, Any]] = field(default_factory=list)
    files: list[HclFile] = field(default_factory=list)
    broken: list[Block] = field(default_factory=list)


def _body(body: hp.Body) -> tuple[dict[str, hp.Expr], list[tuple[str, hp.Body]]]:
    attrs = {a.name: a.expr for a in body.attributes}
    blocks = [(f"dynamic:{b.labels[0]}" if b.kind == "dynamic" and b.labels else b.kind, b.body) for b in body.blocks]
    return attrs, blocks


def load_module(conn: IacConnector, directory: Path, problems: Problems) -> Module:
    known = problems.modules.get(directory)
    if known is not None:
        return known
    module = problems.modules[directory] = Module(directory)
    for path in conn.named(directory, ".tf"):
        try:
            f = parse_file(conn, path)  # read through the connector: confined to the root
        except HclError as exc:
            line = getattr(exc, "line", None)
            problems.items.append((conn.rel(path), line, str(exc)))
            module.broken += broken_resources(conn, path, str(exc), line)
            continue
        module.files.append(f)
        for raw in f.blocks:
            attrs, nested = _body(raw.body)
            kind = raw.kind
            if kind == "resource" and len(raw.labels) == 2:  # the commonest block first
                rtype, name = raw.labels
                count, for_each = attrs.pop("count", None), attrs.pop("for_each", None)  # the block's own dict
                module.resources[f"{rtype}.{name}"] = ResourceDecl(rtype, name, attrs, nested, count, for_each, f,
                                                                   raw.start, raw.end)
            elif kind == "variable" and raw.labels:
                module.variables[raw.labels[0]] = attrs.get("default")
            elif kind == "locals":
                module.locals.update(attrs)
            elif kind == "output" and raw.labels:
                if "value" in attrs:
                    module.outputs[raw.labels[0]] = attrs["value"]
            elif kind == "module" and raw.labels:
                module.calls[raw.labels[0]] = Call(attrs, f.rel, raw.start)
            elif kind == "provider":
                module.providers.append(attrs)
    return module


def instance_keys(scope: Scope, decl: ResourceDecl) -> list[Any] | Unknown:
    """[None] for a single instance; the count's indexes or the for_each keys; Unknown when not static."""
    if decl.count is not None:
        n = Eval(scope).value(decl.count)
        if isinstance(n, Unknown):
            return Unknown(f"count of {decl.type}.{decl.name}: {n.reason}")
        if isinstance(n, bool) or not isinstance(n, int):
            return Unknown(f"count of {decl.type}.{decl.name} is not a whole number")
        if n > MAX_INSTANCES:
            return Unknown(f"count of {decl.type}.{decl.name} is {n}, above the {MAX_INSTANCES} instances read")
        return list(range(max(0, n)))
    if decl.for_each is not None:
        v = Eval(scope).value(decl.for_each)
        if isinstance(v, Unknown) or contains_unknown(v):
            return Unknown(f"for_each of {decl.type}.{decl.name} is not known statically")
        if isinstance(v, dict):
            return list(v)
        if isinstance(v, list):
            return [str(x) for x in v]
        return Unknown(f"for_each of {decl.type}.{decl.name} is not a map or set")
    return [None]


def each_values(decl: ResourceDecl, key: Any, scope: Scope) -> dict[str, Any]:
    if decl.count is not None:
        return {"count.index": key}
    v = Eval(scope).value(decl.for_each)
    value = v.get(key) if isinstance(v, dict) else key
    return {"each.key": key, "each.value": value}


def _evaluate_body(ev: Eval, attributes: dict[str, Any], blocks: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: ev.value(v) for k, v in attributes.items()
                           if k not in ("provider", "depends_on", "lifecycle")}
    for name, body in blocks:
        if name in ("lifecycle", "provisioner", "connection"):
            continue
        if name.startswith("dynamic"):  # the blocks it makes are unknown, so is every value they set
            label = name.partition(":")[2] or "dynamic"
            out[label] = Unknown(f"dynamic block {label} is not evaluated statically")
            continue
        attrs, nested = _body(body)
        out.setdefault(name, []).append(_evaluate_body(ev, attrs, nested))
    return out


def evaluate(conn: IacConnector, module: Module, scope: Scope, problems: Problems, region: str) -> Iterator[Block]:
    """Every resource instance of a module instance and of its local child modules, as blocks."""
    for provider in module.providers:
        r = Eval(scope).value(provider["region"]) if "region" in provider else None
        region = r if isinstance(r, str) else region
    for name, call in module.calls.items():
        scope.children[name] = child = _child(conn, module, scope, name, call, problems)
        if isinstance(child, Scope):
            yield from evaluate(conn, child.module, child, problems, region)
    yield from module.broken
    plain = Eval(scope)  # evaluates every single-instance resource (an Eval is as it was after each value it gives)
    for local, decl in module.resources.items():
        keys = instance_keys(scope, decl)
        assert decl.file is not None
        loc = Location(decl.file.rel, decl.start, decl.end)
        waivers = waivers_for(decl.file.lines, decl.start, decl.end) if decl.file.waivable else []
        address = scope.prefix + local
        if isinstance(keys, Unknown):
            yield Block(decl.type, address, {}, loc, waivers, broken=keys.reason, region=region)
            continue
        for key in keys:
            addr = address if key is None else f"{address}[{json.dumps(key)}]"
            try:
                ev = plain if key is None else Eval(scope, each_values(decl, key, scope))
                attrs = _evaluate_body(ev, decl.attributes, decl.blocks)
            except EVALUATION_ERRORS as exc:
                yield Block(decl.type, addr, {}, loc, list(waivers), region=region,
                            broken=f"{loc.path} line {loc.start_line}: cannot be evaluated: {type(exc).__name__}")
                continue
            yield Block(decl.type, addr, attrs, loc, list(waivers), region=region)


def _child(conn: IacConnector, parent: Module, scope: Scope, name: str, call: Call,
           problems: Problems) -> Scope | Unknown:
    args = call.args
    source = Eval(scope).value(args["source"]) if "source" in args else None
    if not isinstance(source, str) or not source.startswith(("./", "../")):
        why = f"module.{name} comes from {source!r}, not a local directory: its resources are not judged"
        problems.items.append((call.file, call.line, why))
        return Unknown(why)
    if "count" in args or "for_each" in args:
        why = f"module.{name} uses count/for_each: its resources are not judged"
        problems.items.append((call.file, call.line, why))
        return Unknown(why)
    if scope.depth >= MAX_MODULE_DEPTH:
        return Unknown(f"module.{name}: modules nested deeper than {MAX_MODULE_DEPTH}")
    directory = parent.directory / source
    try:
        real = conn.confined(directory)
    except FileRefused as exc:
        why = f"module.{name}: {source} {exc}"
        problems.items.append((call.file, call.line, why))
        return Unknown(why)
    if not real.is_dir():
        problems.items.append((call.file, call.line, f"module.{name}: {source} is not a directory"))
        return Unknown(f"module.{name}: {source} is not a directory")
    child_module = load_module(conn, real, problems)
    values = {k: Eval(scope).value(v) for k, v in args.items() if k not in ("source", "version", "providers")}
    variables = {k: (values[k] if k in values else (Eval(scope).value(d) if d is not None
                 else Unknown(f"module.{name}: variable {k} has no value")))
                 for k, d in child_module.variables.items()}
    return Scope(child_module, f"{scope.prefix}module.{name}.", variables, scope.depth + 1, scope.busy)


def root_variables(conn: IacConnector, module: Module, extra: tuple[Path, ...], problems: Problems) -> dict[str, Any]:
    """Variable values: defaults, terraform.tfvars, *.auto.tfvars (name order), then the target's tfvars."""
    empty = Scope(module, "", {})
    values: dict[str, Any] = {}
    for name, default in module.variables.items():
        values[name] = Eval(empty).value(default) if default is not None else Unknown(
            f"var.{name} has no default and no value in a tfvars file")
    files = [module.directory / "terraform.tfvars"] if (module.directory / "terraform.tfvars").exists() else []
    files += conn.named(module.directory, ".auto.tfvars") + list(extra)
    for path in files:
        try:
            f = parse_file(conn, path)
        except HclError as exc:
            problems.items.append((conn.rel(path), exc.line, str(exc)))
            continue
        for name, expr in f.attributes.items():
            if name in values:
                values[name] = Eval(empty).value(expr)
    return values


def terraform_blocks(conn: IacConnector, directory: Path, tfvars: tuple[Path, ...], prefix: str, region: str,
                     problems: Problems) -> list[Block]:
    module = load_module(conn, directory, problems)
    scope = Scope(module, prefix, root_variables(conn, module, tfvars, problems))
    return list(evaluate(conn, module, scope, problems, region))
