"""Terraform HCL: parse with python-hcl2 (its Lark tree keeps line numbers) and evaluate statically.

What is evaluated: literals, strings with interpolation, lists and objects, variables (defaults, then
``terraform.tfvars``, ``*.auto.tfvars`` in name order, then the target's ``tfvars``), locals, conditionals and
operators on known values, a few pure functions (``jsonencode``, ``merge``, ``concat``, ...), ``count`` and
``for_each`` when they evaluate to a known number, list or map, references to resources (to their configured
attributes; ``id``/``arn``/``bucket`` to the resource's name when known, else its address) and local modules
(``source = "./modules/x"``, followed inside the root). Anything else (data sources, remote modules, ``for``
expressions, splats, template directives, unknown functions) is ``Unknown`` with the reason: never guessed.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.collectors.iac._values import EVALUATION_ERRORS, MAX_DEPTH, Block, Unknown
from scanner.collectors.iac._waivers import waivers_for
from scanner.connectors.iac import FileRefused, IacConnector
from scanner.model import Location

_RESOURCE_LINE = re.compile(r'^\s*resource\s+"([A-Za-z0-9_]+)"\s+"([A-Za-z0-9_-]+)"')
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
#: attributes that name a resource: a reference to them is the resource's name when configured, else its address
_IDENTITY_ATTRS = {"id", "bucket", "name", "arn", "key_id", "cluster_identifier"}
#: Most instances one resource may have (count); more is an error for the resource, not a truncation.
MAX_INSTANCES = 10_000
#: Deepest chain of module calls followed.
MAX_MODULE_DEPTH = 8


class Ref(str):
    """A resource's name or address standing for a value known only after apply (an id, an ARN): good for joining
    resources and for writing into a policy, never for a comparison."""


class HclError(ValueError):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


@dataclass
class Problems:
    """Files that could not be read or parsed: (relative path, line, message); and the modules parsed so far
    (each directory is parsed once per scan, however often it is called)."""

    items: list[tuple[str, int | None, str]] = field(default_factory=list)
    modules: dict[Path, Module] = field(default_factory=dict)


def _text(tree: Any) -> str:
    """The concatenated token text of a (small) tree: identifiers and names."""
    from lark import Token, Tree

    if isinstance(tree, Token):
        return str(tree)
    if isinstance(tree, Tree):
        return "".join(_text(c) for c in tree.children)
    return ""


def _label(node: Any) -> str:
    from lark import Tree

    if isinstance(node, Tree) and node.data == "string":
        return "".join(_text(c) for c in node.children[1:-1])
    return _text(node)


@dataclass
class RawBlock:
    kind: str
    labels: list[str]
    body: Any  # lark Tree "body"
    start: int
    end: int


@dataclass
class HclFile:
    path: Path
    rel: str
    lines: list[str]
    attributes: dict[str, Any]  # top-level attributes (tfvars files)
    blocks: list[RawBlock]


def parse_file(conn: IacConnector, path: Path) -> HclFile:
    """One HCL file; HclError (with line) when it cannot be read, decoded or parsed. Parsed once per scan: the
    connector keeps the outcome (a directory is read to find module calls, then again to evaluate it)."""
    key = ("hcl", path)
    if key not in conn.memo:
        try:
            conn.memo[key] = _parse_file(conn, path)
        except HclError as exc:
            conn.memo[key] = exc
    found = conn.memo[key]
    if isinstance(found, HclError):
        raise HclError(str(found), found.line)
    parsed: HclFile = found
    return parsed


def _parse_file(conn: IacConnector, path: Path) -> HclFile:
    import hcl2
    from lark import Tree
    from lark.exceptions import LarkError, UnexpectedInput

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
    deep = too_deep(text)
    if deep:
        raise HclError(f"nested deeper than {MAX_DEPTH} levels", deep)
    try:
        tree = hcl2.parses_to_tree(text if text.endswith("\n") else text + "\n")
    except UnexpectedInput as exc:
        raise HclError(f"does not parse: {type(exc).__name__}", getattr(exc, "line", None)) from None
    except (LarkError, RecursionError, ValueError) as exc:
        raise HclError(f"does not parse: {type(exc).__name__}") from None
    body = tree.children[0]
    attributes: dict[str, Any] = {}
    blocks = []
    for node in body.children:
        if not isinstance(node, Tree):
            continue
        if node.data == "attribute":
            attributes[_text(node.children[0])] = node.children[-1]
        elif node.data == "block":
            kind = _text(node.children[0])
            labels = [_label(c) for c in node.children[1:] if isinstance(c, Tree)
                      and c.data in ("string", "identifier")]
            inner = next(c for c in node.children if isinstance(c, Tree) and c.data == "body")
            blocks.append(RawBlock(kind, labels, inner, node.meta.line, node.meta.end_line))
    return HclFile(path, rel, text.split("\n"), attributes, blocks)


_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")


def too_deep(text: str, limit: int = MAX_DEPTH) -> int | None:
    """The line where brackets nest deeper than ``limit``, else None. Checked before parsing, so that a hostile
    file costs one pass over its text, not the parser's time. Brackets inside strings and comments count too
    (they are balanced in real code; an unbalanced run of them is an error, not a guess)."""
    depth, line = 0, 1
    for c in text:
        if c == "\n":
            line += 1
        elif c in _OPEN:
            depth += 1
            if depth > limit:
                return line
        elif c in _CLOSE:
            depth = max(0, depth - 1)
    return None


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


class Eval:
    """Evaluates one expression tree in a scope (with ``count.index`` / ``each`` when inside a resource)."""

    def __init__(self, scope: Scope, each: dict[str, Any] | None = None):
        self.scope = scope
        self.each = each or {}
        self.depth = 0

    def value(self, node: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                return Unknown(f"nested deeper than {MAX_DEPTH} levels")
            return self._value(node)
        finally:
            self.depth -= 1

    def _value(self, node: Any) -> Any:  # noqa: C901 - one dispatch over the grammar's node kinds
        from lark import Token, Tree

        if isinstance(node, Token):
            return Unknown(f"unexpected token {node.type}")
        if not isinstance(node, Tree):
            return Unknown("unexpected value")
        kind = node.data
        kids = [c for c in node.children if not (isinstance(c, Tree) and c.data == "new_line_or_comment")]
        if kind == "expr_term":
            inner = [c for c in kids if isinstance(c, Tree)]
            return self.value(inner[0]) if inner else Unknown("empty expression")
        if kind == "int_lit":
            return int(str(kids[0]))
        if kind == "float_lit":
            return float(str(kids[0]))
        if kind == "literal_value":
            return {"true": True, "false": False, "null": None}[str(kids[0])]
        if kind == "string":
            return self.string(kids[1:-1])
        if kind in ("heredoc_template", "heredoc_template_trim"):
            return self.heredoc(str(kids[0]), kind.endswith("trim"))
        if kind == "tuple":
            return [self.value(c) for c in kids if isinstance(c, Tree)]
        if kind == "object":
            out: dict[str, Any] = {}
            for elem in (c for c in kids if isinstance(c, Tree) and c.data == "object_elem"):
                key_node = elem.children[0]
                key = self.key(key_node)
                if isinstance(key, Unknown):
                    return key
                out[key] = self.value(elem.children[-1])
            return out
        if kind == "identifier":
            return self.reference([_text(node)])
        if kind in ("get_attr_expr_term", "index_expr_term"):
            return self.traverse(node)
        if kind == "conditional":
            cond = self.value(kids[0])
            if isinstance(cond, Unknown):
                return cond
            if not isinstance(cond, bool):
                return Unknown("condition is not a bool")
            return self.value(kids[2] if cond else kids[4])
        if kind == "binary_op":
            return self.binary(node)
        if kind == "unary_op":
            op, operand = str(node.children[0]), self.value(node.children[1])
            if isinstance(operand, Unknown):
                return operand
            if op == "!" and isinstance(operand, bool):
                return not operand
            if op == "-" and isinstance(operand, (int, float)) and not isinstance(operand, bool):
                return -operand
            return Unknown(f"operator {op} on {type(operand).__name__}")
        if kind == "function_call":
            return self.call(node)
        return Unknown(f"{kind.replace('_', ' ')} is not evaluated statically")

    def key(self, node: Any) -> Any:
        from lark import Tree

        inner = node.children[0] if isinstance(node, Tree) and node.data == "object_elem_key" else node
        if isinstance(inner, Tree) and inner.data == "expr_term":
            sub = [c for c in inner.children if isinstance(c, Tree)]
            if sub and sub[0].data == "identifier":
                return _text(sub[0])
        if isinstance(inner, Tree) and inner.data == "identifier":
            return _text(inner)
        value = self.value(inner)
        return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else (
            value if isinstance(value, Unknown) else Unknown("object key is not a string"))

    def string(self, parts: list[Any]) -> Any:
        from lark import Token

        out = []
        for part in parts:
            child = part.children[0] if part.children else None
            if isinstance(child, Token) and child.type == "STRING_CHARS":
                out.append(re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), str(child)))
            elif isinstance(child, Token) and child.type == "ESCAPED_INTERPOLATION":
                out.append(str(child)[1:])
            elif child is not None and getattr(child, "data", "") == "interpolation":
                value = self.value(child.children[1])
                text = as_text(value)
                if isinstance(text, Unknown):
                    return text
                out.append(text)
            else:
                return Unknown("template directive is not evaluated statically")
        return "".join(out)

    def heredoc(self, raw: str, trim: bool) -> Any:
        lines = raw.split("\n")
        body = lines[1:-2]
        if trim:
            indent = min((len(x) - len(x.lstrip()) for x in body if x.strip()), default=0)
            body = [x[indent:] for x in body]
        text = "\n".join(body) + ("\n" if body else "")
        if "%{" in text:
            return Unknown("template directive in a heredoc is not evaluated statically")
        return self.interpolate(text)

    def interpolate(self, text: str) -> Any:
        """``${ expr }`` inside heredoc text: each expression is parsed and evaluated on its own."""
        import hcl2
        from lark.exceptions import LarkError

        out, pos = [], 0
        for m in re.finditer(r"(?<!\$)\$\{([^{}]*)\}", text):
            out.append(text[pos:m.start()])
            try:
                tree = hcl2.parses_to_tree(f"x = {m.group(1)}\n")
            except (LarkError, RecursionError, ValueError):
                return Unknown(f"interpolation ${{{m.group(1)[:40]}}} does not parse")
            attr = next(c for c in tree.children[0].children if getattr(c, "data", "") == "attribute")
            value = as_text(self.value(attr.children[-1]))
            if isinstance(value, Unknown):
                return value
            out.append(value)
            pos = m.end()
        out.append(text[pos:])
        return "".join(out).replace("$${", "${")

    def binary(self, node: Any) -> Any:
        from lark import Tree

        kids = [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]
        left = self.value(kids[0])
        term = kids[1]
        op = _text(term.children[0]).strip()
        right_node = [c for c in term.children[1:] if isinstance(c, Tree) and c.data != "new_line_or_comment"][0]
        if op in ("&&", "||") and isinstance(left, bool):
            if (op == "&&" and not left) or (op == "||" and left):
                return left
        right = self.value(right_node)
        for v in (left, right):
            if isinstance(v, Unknown):
                return v
            if isinstance(v, Ref):
                return Unknown(f"{v}: its id or ARN is known only after apply")
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
        if op in _ARITHMETIC and not numbers:  # HCL has no string or list arithmetic ("x" * 10**9 is no value)
            return Unknown(f"operator {op} on {type(left).__name__} and {type(right).__name__}")
        try:
            return _OPERATORS[op](left, right)
        except (KeyError, TypeError, ZeroDivisionError, OverflowError):
            return Unknown(f"operator {op} on {type(left).__name__} and {type(right).__name__}")

    # ---------------------------------------------------------------------------- references
    def traverse(self, node: Any) -> Any:
        """``a.b[0].c``: collect the root name and steps, then resolve."""
        from lark import Tree

        steps: list[Any] = []
        cur = node
        while isinstance(cur, Tree) and cur.data in ("get_attr_expr_term", "index_expr_term"):
            step = cur.children[1]
            if step.data == "get_attr":
                steps.append(_text(step.children[-1]))
            elif step.data == "short_index":
                steps.append(int(str(step.children[-1])))
            else:
                idx = self.value([c for c in step.children if isinstance(c, Tree)
                                  and c.data != "new_line_or_comment"][0])
                if isinstance(idx, Unknown):
                    return idx
                steps.append(idx)
            cur = cur.children[0]
            inner_terms = [c for c in cur.children if isinstance(c, Tree)] if isinstance(cur, Tree) else []
            if cur.data == "expr_term" and len(inner_terms) == 1 and inner_terms[0].data in (
                    "get_attr_expr_term", "index_expr_term"):
                cur = inner_terms[0]
        inner = [c for c in cur.children if isinstance(c, Tree)] if isinstance(cur, Tree) else []
        if isinstance(cur, Tree) and cur.data == "expr_term" and inner and inner[0].data == "identifier":
            return self.reference([_text(inner[0]), *reversed(steps)])
        base = self.value(cur)
        return walk(base, list(reversed(steps)))

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

    def call(self, node: Any) -> Any:
        from lark import Tree

        name = _text(node.children[0])
        args_node = next((c for c in node.children if isinstance(c, Tree) and c.data == "arguments"), None)
        arg_nodes = [c for c in args_node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"] \
            if args_node else []
        func = _FUNCTIONS.get(name)
        if func is None:
            return Unknown(f"function {name}() is not evaluated statically")
        args = [self.value(a) for a in arg_nodes]
        if name != "try":
            for a in args:
                if isinstance(a, Unknown) or contains_unknown(a):
                    return a if isinstance(a, Unknown) else Unknown(f"{name}() of a value with unknown parts")
        try:
            return func(*args)
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            return Unknown(f"{name}() failed: {type(exc).__name__}")


def contains_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
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
    return Unknown(f"a {type(value).__name__} inside a string")


def walk(value: Any, path: list[Any]) -> Any:
    for step in path:
        if isinstance(value, Unknown):
            return value
        if isinstance(value, dict) and isinstance(step, str):
            value = value.get(step, Unknown(f"no attribute {step}"))
        elif isinstance(value, list) and isinstance(step, int) and not isinstance(step, bool):
            value = value[step] if -len(value) <= step < len(value) else Unknown(f"index {step} out of range")
        else:
            return Unknown(f"cannot take {step!r} of a {type(value).__name__}")
    return value


def _format(fmt: str, *args: Any) -> str:
    return re.sub(r"%[sdv]", lambda _m: "{}", fmt.replace("{", "{{").replace("}", "}}")).format(*args)


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
    "merge": lambda *ms: {k: v for m in ms for k, v in (m or {}).items()},
    "concat": lambda *ls: [x for items in ls for x in items],
    "lower": lambda s: s.lower(), "upper": lambda s: s.upper(),
    "tostring": lambda v: as_text(v), "tonumber": lambda v: float(v) if "." in str(v) else int(v),
    "tobool": lambda v: v if isinstance(v, bool) else {"true": True, "false": False}[v],
    "tolist": list, "toset": lambda v: list(dict.fromkeys(v)), "tomap": dict,
    "length": len, "join": lambda sep, items: sep.join(items), "format": _format,
    "lookup": lambda m, k, *d: m[k] if k in m or not d else d[0],
    "coalesce": lambda *vs: next(v for v in vs if v not in (None, "")),
    "try": lambda *vs: next(v for v in vs if not contains_unknown(v)),
    "min": min, "max": max, "abs": abs,
}


@dataclass
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


@dataclass(frozen=True)
class Call:
    """A module call: its arguments (expression trees) and where it is written."""

    args: dict[str, Any]
    file: str
    line: int


@dataclass
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


def _body(body: Any) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    from lark import Tree

    attrs: dict[str, Any] = {}
    blocks: list[tuple[str, Any]] = []
    for node in body.children:
        if not isinstance(node, Tree):
            continue
        if node.data == "attribute":
            attrs[_text(node.children[0])] = node.children[-1]
        elif node.data == "block":
            inner = next(c for c in node.children if isinstance(c, Tree) and c.data == "body")
            name = _text(node.children[0])
            labels = [_label(c) for c in node.children[1:] if isinstance(c, Tree) and c.data in ("string",
                                                                                                  "identifier")]
            blocks.append((f"dynamic:{labels[0]}" if name == "dynamic" and labels else name, inner))
    return attrs, blocks


def load_module(conn: IacConnector, directory: Path, problems: Problems) -> Module:
    known = problems.modules.get(directory)
    if known is not None:
        return known
    module = problems.modules[directory] = Module(directory)
    for path in sorted(directory.glob("*.tf")):
        try:
            conn.confined(path)
            f = parse_file(conn, path)
        except (HclError, FileRefused) as exc:
            line = getattr(exc, "line", None)
            problems.items.append((conn.rel(path), line, str(exc)))
            module.broken += broken_resources(conn, path, str(exc), line)
            continue
        module.files.append(f)
        for raw in f.blocks:
            attrs, nested = _body(raw.body)
            if raw.kind == "variable" and raw.labels:
                module.variables[raw.labels[0]] = attrs.get("default")
            elif raw.kind == "locals":
                module.locals.update(attrs)
            elif raw.kind == "output" and raw.labels:
                if "value" in attrs:
                    module.outputs[raw.labels[0]] = attrs["value"]
            elif raw.kind == "module" and raw.labels:
                module.calls[raw.labels[0]] = Call(attrs, f.rel, raw.start)
            elif raw.kind == "provider":
                module.providers.append(attrs)
            elif raw.kind == "resource" and len(raw.labels) == 2:
                rtype, name = raw.labels
                module.resources[f"{rtype}.{name}"] = ResourceDecl(
                    rtype, name, {k: v for k, v in attrs.items() if k not in ("count", "for_each")}, nested,
                    attrs.get("count"), attrs.get("for_each"), f, raw.start, raw.end)
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
    for local, decl in module.resources.items():
        keys = instance_keys(scope, decl)
        assert decl.file is not None
        loc = Location(decl.file.rel, decl.start, decl.end)
        waivers = waivers_for(decl.file.lines, decl.start, decl.end)
        address = scope.prefix + local
        if isinstance(keys, Unknown):
            yield Block(decl.type, address, {}, loc, waivers, broken=keys.reason, region=region)
            continue
        for key in keys:
            each = each_values(decl, key, scope) if key is not None else {}
            addr = address if key is None else f"{address}[{json.dumps(key)}]"
            try:
                attrs = _evaluate_body(Eval(scope, each), decl.attributes, decl.blocks)
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
    files += sorted(module.directory.glob("*.auto.tfvars")) + list(extra)
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
