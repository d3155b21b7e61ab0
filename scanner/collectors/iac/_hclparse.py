"""A parser for the HCL native syntax Terraform files use: a tokenizer and a recursive descent over it, no grammar
engine. It builds small immutable nodes (expressions) and bodies (attributes and blocks with their line ranges).

Covered: blocks with labels, attributes, one-line blocks, comments (``#``, ``//``, ``/* */``), numbers, bools,
null, strings with escapes and templates (``${ }`` interpolations; ``%{ }`` directives are parsed and kept as a
``Directive`` part that evaluates to unknown), heredocs (``<<EOT`` and ``<<-EOT``), tuples, objects, operators
with HCL's precedence, conditionals, function calls (with ``...`` expansion), attribute and index access, splats
(``[*]`` and ``.*``) and ``for`` expressions.

Hostile input is bounded: nesting deeper than ``MAX_DEPTH`` expressions is an error with its line (checked while
parsing, before Python's stack is at risk), every scan is linear in the text (one compiled regular expression per
token, runs of blank and comment lines taken as one; a heredoc's closing marker is searched once), a file has
at most ``MAX_TOKENS`` tokens, and numbers stay text until evaluated.

The commonest lines are each taken in one match straight from the text, without a token (``_ITEM``: a plain
attribute, a block header with plain labels, a closing brace with its line end), and the blocks they open are read
in one loop; they make the nodes, lines and depth errors the token-by-token parse (``Parser(text, fast=False)``)
makes, and anything else on a line goes to that parse.
"""
from __future__ import annotations

import functools
import re
from typing import NamedTuple

from scanner.collectors.iac._values import MAX_DEPTH
from scanner.value import frozen

#: Most tokens read from one file (a large real module has some 100,000): more is an error for the file, so that
#: a hostile file of many tiny tokens costs seconds, not minutes.
MAX_TOKENS = 1_000_000


class ParseError(ValueError):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


# --- nodes ---------------------------------------------------------------------------------------------------

@frozen(slots=True)
class Literal:
    """true, false, null, or a number still as written (``int`` of 5,000 digits is refused when evaluated)."""

    value: bool | None | str
    number: bool = False


@frozen(slots=True)
class Directive:
    """A ``%{ ... }`` template directive: kept, never evaluated."""

    text: str


@frozen(slots=True)
class Template:
    parts: tuple[str | Expr | Directive, ...]


@frozen(slots=True)
class Tuple:
    items: tuple[Expr, ...]


@frozen(slots=True)
class Object:
    items: tuple[tuple[Expr, Expr], ...]  # (key, value); a bare identifier key is a Variable


@frozen(slots=True)
class Variable:
    name: str


@frozen(slots=True)
class GetAttr:
    source: Expr
    name: str


@frozen(slots=True)
class Index:
    source: Expr
    key: Expr


@frozen(slots=True)
class Splat:
    """``source[*].a[0]`` / ``source.*.a``: ``each`` is applied to every element (as the Variable ``*``)."""

    source: Expr
    each: Expr


@frozen(slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    expand: bool = False  # the last argument ends with ``...``


@frozen(slots=True)
class Conditional:
    condition: Expr
    then: Expr
    otherwise: Expr


@frozen(slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@frozen(slots=True)
class Unary:
    op: str
    operand: Expr


@frozen(slots=True)
class For:
    key_var: str | None
    value_var: str
    collection: Expr
    key: Expr | None  # set for an object ``{for ... : k => v}``
    value: Expr
    condition: Expr | None
    grouping: bool = False


@frozen(slots=True)
class Parens:
    inner: Expr


Expr = Literal | Template | Tuple | Object | Variable | GetAttr | Index | Splat | Call | Conditional | Binary | \
    Unary | For | Parens

#: The element a splat's ``each`` expression starts from.
SPLAT_ITEM = Variable("*")


# The structure of a body: the 2,000 resources of the benchmark corpus make some 15,000 of these, immutable named
# tuples (``_node(Attribute, (name, expr, line))``: one C call, no ``__init__`` setting each field in turn).

class Attribute(NamedTuple):
    name: str
    expr: Expr
    line: int


class Block(NamedTuple):
    kind: str
    labels: tuple[str, ...]
    body: Body
    start: int
    end: int


class Body(NamedTuple):
    attributes: tuple[Attribute, ...]
    blocks: tuple[Block, ...]


#: ``Attribute(...)``, ``Block(...)``, ``Body(...)`` without the Python-level ``__new__`` of a NamedTuple.
_node = tuple.__new__


# --- tokens --------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    [ \t\r]*  # blanks before the token (one quantifier: no backtracking)
    (?: (?P<skip>\#[^\n]*|//[^\n]*)
  | (?P<eof>\Z)
  | (?P<comment>/\*)
  | (?P<nl>\n[\n \t\r]*)  # blank lines after it too (one character class: no backtracking state)
  | (?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<ident>[^\W\d][\w-]*)
  | (?P<heredoc><<(-?)([^\W\d][\w-]*)[ \t]*\r?\n)
  | (?P<op>==|!=|<=|>=|&&|\|\||=>|\.\.\.|[-+*/%<>!?:=.,(){}\[\]"~]))
""", re.VERBOSE)
#: The pieces of the one-match lines: a name (ASCII: a table look-up a character, where ``[^\W\d][\w-]*`` asks
#: Unicode; a line with any other name is left to the token-by-token parse), and a string without escapes or
#: template markers.
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_PLAIN_TEXT = r'[^"\\$%\n]*'
_PLAIN = rf'"{_PLAIN_TEXT}"'
#: The end of a line after a block's ``}``, and the blank lines after it, when no comment line follows (a comment
#: line is part of the new line token: left to it).
_LINE_END_TEXT = r"[ \t\r]*\n[\n \t\r]*(?![\n \t\r]|\#|//)"
#: The commonest lines of a body, each taken in one match straight from the text (``Parser.body``; which one is
#: told by the match's ``lastindex``) and made into the very nodes the token-by-token parse would make:
#: 2, a plain attribute ending the line: ``name = "text"``, ``name = true``, ``name = 14`` or ``name = a.b.c``;
#: 3, a block header, a name and plain string labels, its ``{`` ending the line;
#: 4 or None, a block's closing ``}``, with (4) or without the end of its line.
_ITEM = re.compile(rf"""
    [ \t\r]*({_NAME})  # 1: the attribute's or the block's name (blanks before it: no token of their own)
    (?: [ \t]*=[ \t]*
        ( {_PLAIN}
        | [0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?![\w.])  # a number
        | {_NAME}(?:\.{_NAME})*(?![\w.\[(-])  # a name or a chain of attributes
        )[ \t\r]*(?:\n[\n \t\r]*|\Z)  # 2: the value; the end of the line, and the blank lines after it
      | ((?:[ \t\r]*{_PLAIN})*)  # 3: the block's labels
        [ \t\r]*\{{[ \t\r]*\n[\n \t\r]*  # the brace ending the line, and the blank lines after it
    )
  | \}}({_LINE_END_TEXT})?  # 4: the end of the line after a closing brace
""", re.VERBOSE)
#: A block label written as a plain string (``resource "aws_s3_bucket" "logs"``).
_LABEL = re.compile(rf'[ \t\r]*"({_PLAIN_TEXT})"')
_LINE_END = re.compile(_LINE_END_TEXT)
_LABEL_TEXT = re.compile(r'"([^"]*)"')
_KEYWORDS = {"true": True, "false": False, "null": None}
_COMMENT_LINES = re.compile(r"[ \t\r]*(?:\#|//)[^\n]*\n[\n \t\r]*")
_STRING_CHARS = re.compile(r'[^"\\$%\n]+')
_HEREDOC_CHARS = re.compile(r"[^$%]+")
_FULL_SPLAT = re.compile(r"\[[ \t]*\*[ \t]*\]")
_UNICODE = re.compile(r"u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
#: binary operators by precedence, loosest first
_LEVELS: tuple[frozenset[str], ...] = (frozenset({"||"}), frozenset({"&&"}), frozenset({"==", "!="}),
                                       frozenset({"<", ">", "<=", ">="}), frozenset({"+", "-"}),
                                       frozenset({"*", "/", "%"}))
_PRECEDENCE = {op: level for level, ops in enumerate(_LEVELS) for op in ops}
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
#: token kinds whose text is exactly what the pattern matched (lexed without further thought)
_WORDS = frozenset({"ident", "op", "number"})


class Token(NamedTuple):
    kind: str  # nl, number, ident, heredoc, op, eof
    text: str
    start: int
    end: int


class Parser:
    """One text (a file, or a heredoc's body for its template)."""

    def __init__(self, text: str, first_line: int = 1, *, fast: bool = True):
        self.text = text
        self.fast = fast  # take the commonest lines in one match (``_ITEM``); False: token by token only
        self.pos = 0
        self.depth = 0
        self._line_at, self._line_count = 0, 0  # newlines before _line_at: lines are asked for in text order
        self._first_line = first_line
        self._newlines = [False]  # newlines are skipped inside ( ) [ ] and templates, separators elsewhere
        self._peeked: Token | None = None
        self._peek_at = -1
        self._tokens = 0
        self._peek_mode = False

    # ---------------------------------------------------------------------------- positions and tokens
    def line(self, pos: int | None = None) -> int:
        pos = self.pos if pos is None else pos
        if pos < self._line_at:
            self._line_at, self._line_count = 0, 0
        self._line_count += self.text.count("\n", self._line_at, pos)
        self._line_at = pos
        return self._line_count + self._first_line

    def fail(self, message: str, pos: int | None = None) -> ParseError:
        return ParseError(message, self.line(pos))

    def _count(self, tokens: int, pos: int) -> None:
        self._tokens += tokens
        if self._tokens > MAX_TOKENS:
            raise self.fail(f"more than {MAX_TOKENS} tokens in one file", pos)

    def _lex(self, pos: int) -> Token:
        self._count(1, pos)
        text = self.text
        skip_nl = self._newlines[-1]
        match = _TOKEN.match
        while True:
            m = match(text, pos)
            if m is None:
                pos = text.find(text[pos:].lstrip(" \t\r")[:1], pos)
                raise self.fail(f"unexpected character U+{ord(text[pos]):04X}", pos)
            kind = m.lastgroup or ""
            if kind in _WORDS:  # the common case first: a name, an operator or a number
                start, end = m.span(kind)
                return _node(Token, (kind, text[start:end], start, end))
            if kind == "skip" or (kind == "nl" and skip_nl):
                pos = m.end()
                continue
            pos = m.start(kind)
            if kind == "eof":
                return Token("eof", "", pos, pos)
            if kind == "comment":
                end = text.find("*/", pos + 2)
                if end < 0:
                    raise self.fail("comment /* is not closed", pos)
                if skip_nl or "\n" not in text[pos:end]:
                    pos = end + 2
                    continue
                return Token("nl", "\n", pos, end + 2)
            end = m.end()
            if kind == "nl":  # the comment lines after a new line are part of it: one token, not two a line
                while (more := _COMMENT_LINES.match(text, end)) is not None:
                    end = more.end()
                return Token("nl", "\n", pos, end)
            return Token(kind, m.group(kind), pos, end)

    def peek(self) -> Token:
        tok = self._peeked
        if tok is not None and self._peek_at == self.pos and self._peek_mode == self._newlines[-1]:
            return tok
        pos, mode = self.pos, self._newlines[-1]
        tok = self._peeked = self._lex(pos)
        self._peek_at, self._peek_mode = pos, mode
        return tok

    def next(self) -> Token:
        tok = self.peek()
        self.pos = tok.end
        self._peeked = None
        return tok

    def accept(self, text: str) -> bool:
        tok = self.peek()
        if tok.text == text and tok.kind == "op":
            self.pos = tok.end
            self._peeked = None
            return True
        return False

    def expect(self, text: str) -> Token:
        tok = self.peek()
        if tok.kind != "op" or tok.text != text:
            raise self.fail(f"expected {text!r}, found {_shown(tok)}", tok.start)
        return self.next()

    def ident(self) -> str:
        tok = self.peek()
        if tok.kind != "ident":
            raise self.fail(f"expected a name, found {_shown(tok)}", tok.start)
        return self.next().text

    def _push(self, skip_newlines: bool) -> None:
        self._newlines.append(skip_newlines)
        self._peeked = None

    def _pop(self) -> None:
        self._newlines.pop()
        self._peeked = None

    # ---------------------------------------------------------------------------- bodies
    def file(self) -> Body:
        body = self.body(top=True)
        tok = self.peek()
        if tok.kind != "eof":
            raise self.fail(f"unexpected {_shown(tok)}", tok.start)
        return body

    def body(self, top: bool = False) -> Body:
        """The attributes and blocks up to the end of the text (``top``) or to the ``}`` closing the block.

        The commonest lines (``_ITEM``) are each one match straight from the text, without a token, and a block
        whose header is such a line is read in this same loop (its parent's lists kept on ``opened``, not on
        Python's stack); anything else on a line goes to the token-by-token parse."""
        attributes: list[Attribute] = []
        blocks: list[Block] = []
        #: blocks opened by a one-match header and not yet closed: (kind, labels, first line, the parent's lists)
        opened: list[tuple[str, tuple[str, ...], int, list[Attribute], list[Block]]] = []
        text = self.text
        item = _ITEM.match if self.fast else None
        newlines = text.count
        line = self.line()
        while True:
            pos = self.pos
            m = item(text, pos) if item is not None else None
            if m is not None:
                step = m.lastindex
                if step == 2:  # a plain attribute, unless at the depth bound or of a literal (``true.x``)
                    name, value = m.group(1, 2)
                    leaf = _leaf(value) if len(value) <= _SHARED_TEXT else _make_leaf(value)
                    if leaf is not None and self.depth < MAX_DEPTH:
                        self._count(leaf[1], pos)  # (blanks before the name: the same line)
                        attributes.append(_node(Attribute, (name, leaf[0], line)))
                        self.pos = end = m.end()
                        self._peeked = None
                        line += newlines("\n", pos, end)
                        continue
                elif step == 3:  # a block header: its body is read by this loop
                    labels = tuple(_LABEL_TEXT.findall(m.group(3))) if m.end(3) > m.end(1) else ()
                    self._count(len(labels) + 3, pos)  # name, labels, brace, new line
                    self._open(pos)
                    opened.append((m.group(1), labels, line, attributes, blocks))
                    attributes, blocks = [], []
                    self.pos = end = m.end()
                    line += newlines("\n", pos, end)
                    continue
                elif opened or not top:  # a "}" at the start of the line
                    if not opened:
                        return _node(Body, (tuple(attributes), tuple(blocks)))
                    self.depth -= 1
                    self._newlines.pop()
                    self._count(1, pos)
                    kind, labels, start, parent_attributes, parent_blocks = opened.pop()
                    parent_blocks.append(_node(Block, (kind, labels, _node(Body, (tuple(attributes), tuple(blocks))),
                                                       start, line)))
                    attributes, blocks = parent_attributes, parent_blocks
                    if step == 4:  # the line ends after it: the new line token taken with it
                        self._count(1, pos + 1)
                        self.pos = end = m.end()
                        self._peeked = None
                        line += newlines("\n", pos, end)
                        continue
                    self.pos = pos + 1
                    self._peeked = None
                    self._line_at, self._line_count = pos, line - self._first_line
                    self._end_of_line(top and not opened)
                    line = self.line()
                    continue
            self._line_at, self._line_count = pos, line - self._first_line
            tok = self.peek()
            if tok.kind == "eof" or (tok.kind == "op" and tok.text == "}" and (opened or not top)):
                if not opened:
                    return _node(Body, (tuple(attributes), tuple(blocks)))
                kind, labels, start, parent_attributes, parent_blocks = opened.pop()
                parent_blocks.append(_node(Block, (kind, labels, _node(Body, (tuple(attributes), tuple(blocks))),
                                                   start, self._close())))
                attributes, blocks = parent_attributes, parent_blocks
                self._end_of_line(top and not opened)
            else:
                self._token_line(tok, top and not opened, attributes, blocks)
            line = self.line()

    def _token_line(self, tok: Token, top: bool, attributes: list[Attribute], blocks: list[Block]) -> None:
        """One line of a body read token by token from its first token ``tok``: a new line, an attribute or a
        block, appended to ``attributes`` or ``blocks``."""
        if tok.kind == "nl":
            self.next()
            return
        if tok.kind != "ident":
            raise self.fail(f"expected an attribute or a block, found {_shown(tok)}", tok.start)
        start = self.line(tok.start)
        name = self.next().text
        if self.accept("="):
            attributes.append(_node(Attribute, (name, self.expression(), start)))
        else:
            blocks.append(self._block(name, start))
        self._end_of_line(top)

    def _end_of_line(self, top: bool) -> None:
        """After an attribute or a block: the line ends (or the body, or the file)."""
        if self.fast:
            m = _LINE_END.match(self.text, self.pos)
            if m is not None:
                self._count(1, m.start())  # the new line token the token-by-token parse reads
                self.pos = m.end()
                self._peeked = None
                return
        end = self.peek()
        if not (end.kind in ("nl", "eof") or (not top and end.kind == "op" and end.text == "}")):
            raise self.fail(f"expected a new line, found {_shown(end)}", end.start)

    def _block(self, kind: str, start: int) -> Block:
        """A block after its name: labels, then its body in braces."""
        labels: list[str] = []
        while not self.accept("{"):
            plain = _LABEL.match(self.text, self.pos) if self.fast else None
            if plain is not None:
                labels.append(plain.group(1))
                self._count(1, plain.start())
                self.pos = plain.end()
                self._peeked = None
                continue
            label = self.peek()
            if label.kind == "ident":
                labels.append(self.next().text)
            elif label.kind == "op" and label.text == '"':
                labels.append(self.label())
            else:
                raise self.fail(f"expected a label or '{{', found {_shown(label)}", label.start)
        self._open(self.pos)
        inner = self.body()
        return _node(Block, (kind, tuple(labels), inner, start, self._close()))

    def _open(self, opened: int) -> None:
        """A block's body begins (its ``{`` ends at ``opened``): one level deeper, new lines separate."""
        self._newlines.append(False)
        self._peeked = None
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels", opened)

    def _close(self) -> int:
        """A block's body has ended: its ``}``, and the line of it."""
        self.depth -= 1
        self._pop()
        if self.fast and self.text.startswith("}", self.pos):
            close = self.pos
            self._count(1, close)
            self.pos = close + 1
            self._peeked = None
        else:
            close = self.expect("}").start
        return self.line(close)

    def label(self) -> str:
        self.expect('"')
        parts = self.template_parts('"')
        if not all(isinstance(p, str) for p in parts):
            raise self.fail("a block label is a plain string")
        return "".join(p for p in parts if isinstance(p, str))

    # ---------------------------------------------------------------------------- expressions
    def expression(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels")
        try:
            condition = self.binary(0)
            if not self.accept("?"):
                return condition
            then = self.expression()
            self.expect(":")
            return Conditional(condition, then, self.expression())
        finally:
            self.depth -= 1

    def binary(self, lowest: int) -> Expr:
        """Precedence climbing: operators binding at least as tightly as ``lowest``, left-associative."""
        left = self.unary()
        while True:
            tok = self.peek()
            level = _PRECEDENCE.get(tok.text, -1) if tok.kind == "op" else -1
            if level < lowest:
                return left
            self.next()
            left = Binary(tok.text, left, self.binary(level + 1))

    def unary(self) -> Expr:
        ops = []
        while (tok := self.peek()).kind == "op" and tok.text in ("!", "-"):
            ops.append(self.next().text)
            if len(ops) > MAX_DEPTH:
                raise self.fail(f"nested deeper than {MAX_DEPTH} levels")
        expr = self.postfix(self.primary())
        for op in reversed(ops):
            expr = Unary(op, expr)
        return expr

    def postfix(self, expr: Expr) -> Expr:
        while True:
            tok = self.peek()
            if tok.kind != "op" or tok.text not in (".", "["):
                return expr
            if tok.text == "." and self.text.startswith(".*", tok.start):
                self.next()
                self.expect("*")
                expr = Splat(expr, self._splat_steps(full=False))
                continue
            if tok.text == "[" and _FULL_SPLAT.match(self.text, tok.start):
                self.next()
                self.expect("*")
                self.expect("]")
                expr = Splat(expr, self._splat_steps(full=True))
                continue
            expr = self._step(expr)

    def _step(self, expr: Expr) -> Expr:
        if self.next().text == ".":
            tok = self.next()
            if tok.kind == "ident":
                return GetAttr(expr, tok.text)
            if tok.kind == "number" and tok.text.isdigit():
                return Index(expr, Literal(tok.text, number=True))
            raise self.fail(f"expected a name after '.', found {_shown(tok)}", tok.start)
        self._push(True)
        key = self.expression()
        self._pop()
        self.expect("]")
        return Index(expr, key)

    def _splat_steps(self, full: bool) -> Expr:
        each: Expr = SPLAT_ITEM
        while (tok := self.peek()).kind == "op" and (tok.text == "." or (full and tok.text == "[")):
            if self.text.startswith(".*", tok.start) or (tok.text == "[" and _FULL_SPLAT.match(self.text, tok.start)):
                return each
            each = self._step(each)
        return each

    def primary(self) -> Expr:  # noqa: C901 - one dispatch over the kinds of term
        tok = self.next()
        if tok.kind == "number":
            return Literal(tok.text, number=True)
        if tok.kind == "ident":
            if tok.text in ("true", "false"):
                return Literal(tok.text == "true")
            if tok.text == "null":
                return Literal(None)
            if self.peek().kind == "op" and self.peek().text == "(":
                return self.call(tok.text)
            return Variable(tok.text)
        if tok.kind == "heredoc":
            return self.heredoc(tok)
        if tok.kind == "op":
            if tok.text == '"':
                return Template(self.template_parts('"'))
            if tok.text == "(":
                self._push(True)
                inner = self.expression()
                self._pop()
                self.expect(")")
                return Parens(inner)
            if tok.text == "[":
                return self.tuple_expr()
            if tok.text == "{":
                return self.object_expr()
        raise self.fail(f"expected a value, found {_shown(tok)}", tok.start)

    def call(self, name: str) -> Expr:
        self.expect("(")
        self._push(True)
        args: list[Expr] = []
        expand = False
        while not self.accept(")"):
            args.append(self.expression())
            if self.accept("..."):
                expand = True
                self._pop()
                self.expect(")")
                return Call(name, tuple(args), expand)
            if not self.accept(","):
                self._pop()
                self.expect(")")
                return Call(name, tuple(args))
        self._pop()
        return Call(name, tuple(args))

    def _is_for(self) -> bool:
        tok = self.peek()
        if tok.kind != "ident" or tok.text != "for":
            return False
        return self._lex(tok.end).kind == "ident"

    def tuple_expr(self) -> Expr:
        self._push(True)
        try:
            if self._is_for():
                return self.for_expr("]")
            items: list[Expr] = []
            while not self.accept("]"):
                items.append(self.expression())
                if not self.accept(","):
                    self.expect("]")
                    break
            return Tuple(tuple(items))
        finally:
            self._pop()

    def object_expr(self) -> Expr:
        self._push(True)
        if self._is_for():
            try:
                return self.for_expr("}")
            finally:
                self._pop()
        self._pop()
        self._push(False)
        try:
            items: list[tuple[Expr, Expr]] = []
            while True:
                while self.peek().kind == "nl":
                    self.next()
                if self.accept("}"):
                    return Object(tuple(items))
                key = self.expression()
                if not (self.accept("=") or self.accept(":")):
                    tok = self.peek()
                    raise self.fail(f"expected '=' or ':' after an object key, found {_shown(tok)}", tok.start)
                items.append((key, self.expression()))
                tok = self.peek()
                if tok.kind == "op" and tok.text == ",":
                    self.next()
                elif not (tok.kind == "nl" or (tok.kind == "op" and tok.text == "}")):
                    raise self.fail(f"expected ',' or a new line in an object, found {_shown(tok)}", tok.start)
        finally:
            self._pop()

    def for_expr(self, close: str) -> Expr:
        self.ident()  # for
        first = self.ident()
        second = self.ident() if self.accept(",") else None
        if self.ident() != "in":
            raise self.fail("expected 'in' in a for expression")
        collection = self.expression()
        self.expect(":")
        key: Expr | None = None
        value = self.expression()
        grouping = False
        if close == "}":
            self.expect("=>")
            key, value = value, self.expression()
            grouping = self.accept("...")
        condition = None
        tok = self.peek()
        if tok.kind == "ident" and tok.text == "if":
            self.next()
            condition = self.expression()
        self.expect(close)
        key_var, value_var = (first, second) if second is not None else (None, first)
        return For(key_var, value_var, collection, key, value, condition, grouping)

    # ---------------------------------------------------------------------------- templates
    def template_parts(self, close: str) -> tuple[str | Expr | Directive, ...]:
        """The parts of a template from ``self.pos`` to ``close`` (``"``) or the end of the text (``""``)."""
        parts: list[str | Expr | Directive] = []
        text = self.text
        quoted = close == '"'
        chars = _STRING_CHARS if quoted else _HEREDOC_CHARS
        buf: list[str] = []
        while True:
            pos = self.pos
            if pos >= len(text):
                if quoted:
                    raise self.fail("string is not closed", pos)
                break
            m = chars.match(text, pos)
            if m:
                buf.append(m.group())
                self.pos = m.end()
                continue
            c = text[pos]
            if quoted and c == '"':
                self.pos = pos + 1
                break
            if c == "\n":
                raise self.fail("new line in a quoted string", pos)
            if c == "\\":
                buf.append(self._escape(pos))
                continue
            if text.startswith(("$${", "%%{"), pos):
                buf.append(text[pos + 1:pos + 3])
                self.pos = pos + 3
                continue
            if text.startswith(("${", "%{"), pos):
                if buf:
                    parts.append("".join(buf))
                    buf = []
                self.pos = pos + 2
                parts.append(self._interpolation() if c == "$" else self._directive(pos))
                continue
            buf.append(c)
            self.pos = pos + 1
        self._peeked = None
        if buf:
            parts.append("".join(buf))
        return tuple(parts)

    def _escape(self, pos: int) -> str:
        nxt = self.text[pos + 1:pos + 2]
        if nxt in _ESCAPES:
            self.pos = pos + 2
            return _ESCAPES[nxt]
        m = _UNICODE.match(self.text, pos + 1)
        if m:
            self.pos = m.end()
            code = int(m.group(1) or m.group(2), 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise self.fail("escape is not a character", pos)
            return chr(code)
        raise self.fail(f"unknown escape \\{nxt}", pos)

    def _interpolation(self) -> Expr:
        self._push(True)
        self._peeked = None
        self.accept("~")
        expr = self.expression()
        self.accept("~")
        self._pop()
        self.expect("}")
        return expr

    def _directive(self, start: int) -> Directive:
        """Skips ``%{ ... }`` token by token (strings inside included) and keeps its text."""
        self._push(True)
        self._peeked = None
        nesting = 0
        while True:
            tok = self.peek()
            if tok.kind == "eof":
                raise self.fail("template directive is not closed", start)
            if tok.kind == "op" and tok.text == "}" and nesting == 0:
                break
            self.next()
            if tok.kind == "op" and tok.text == '"':
                self.template_parts('"')
            elif tok.kind == "op" and tok.text in _CLOSERS:
                nesting += 1
            elif tok.kind == "op" and tok.text in _CLOSERS.values():
                nesting -= 1
        self._pop()
        self.expect("}")
        return Directive(self.text[start:self.pos][:200])

    def heredoc(self, tok: Token) -> Expr:
        header = re.match(r"<<(-?)([^\W\d][\w-]*)", tok.text)
        assert header is not None
        trim, marker = header.group(1) == "-", header.group(2)
        end = re.compile(r"^[ \t]*" + re.escape(marker) + r"[ \t]*\r?$", re.MULTILINE).search(self.text, tok.end)
        if end is None:
            raise self.fail(f"heredoc <<{marker} is not closed", tok.start)
        body = self.text[tok.end:end.start()]
        self.pos = end.end()
        self._peeked = None
        lines = body.split("\n")[:-1] if body else []
        if trim:
            indent = min((len(x) - len(x.lstrip(" \t")) for x in lines if x.strip()), default=0)
            lines = [x[indent:] for x in lines]
        text = "".join(x + "\n" for x in lines)
        sub = Parser(text, self.line(tok.end))
        sub.depth = self.depth
        return Template(sub.template_parts(""))


def _make_leaf(value: str) -> tuple[Expr, int] | None:
    """The expression of the value ``_SIMPLE`` matched (a plain string with its quotes, a number, or a name and
    its attributes) and the tokens the token-by-token parse reads for the line; None for an attribute of a
    keyword (``true.x``)."""
    if value[0] == '"':
        return Template((value[1:-1],) if len(value) > 2 else ()), 3
    if value[0].isdigit():
        return Literal(value, number=True), 3
    root, *steps = value.split(".")
    if root in _KEYWORDS:
        return None if steps else (Literal(_KEYWORDS[root]), 3)
    expr: Expr = Variable(root)
    for step in steps:
        expr = GetAttr(expr, step)
    return expr, 2 + 2 * len(steps) + 1


#: ``_make_leaf`` of a value of at most ``_SHARED_TEXT`` characters, kept: equal immutable nodes are one object,
#: not one a line, since the commonest values (``true``, ``"Enabled"``, ``aws_s3_bucket.logs.id``) recur across
#: the files of a scan (bounded: a hostile file's long or many values keep at most 4,096 short texts alive).
_leaf = functools.lru_cache(maxsize=4096)(_make_leaf)
_SHARED_TEXT = 200


def _shown(tok: Token) -> str:
    """A token as an error message names it: punctuation as written, names and numbers by kind only (a file that
    does not parse may hold a secret where a name was expected; it is not copied into the message)."""
    kinds = {"eof": "the end of the file", "nl": "a new line", "ident": "a name", "number": "a number",
             "heredoc": "a heredoc"}
    return kinds.get(tok.kind) or repr(tok.text)


def parse(text: str) -> Body:
    """The body of one file; ParseError with the line where it stops."""
    return Parser(text).file()


def parse_expression(text: str) -> Expr:
    parser = Parser(text)
    parser._push(True)
    expr = parser.expression()
    tok = parser.peek()
    if tok.kind != "eof":
        raise parser.fail(f"unexpected {_shown(tok)}", tok.start)
    return expr
