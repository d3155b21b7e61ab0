"""Making text from a target safe to show: on a terminal, in XML and HTML documents, in JSON.

Everything a target returns is data. A value can carry terminal escape sequences (CSI ``ESC [``, OSC 52 that
writes the operator's clipboard, OSC 0 that sets the window title), C1 controls (``\\x9b`` is a one-byte CSI),
bidirectional overrides that make text read differently from what it is, characters XML forbids (most C0
controls, U+FFFE, U+FFFF) and lone surrogates (invalid UTF-8 decoded with ``surrogateescape``) that cannot be
written to a UTF-8 file at all.

Such characters are replaced by a visible escape, never dropped: ``\\x1b``, ``\\x9b``, ``\\u202e``; a lone
surrogate U+DC80..U+DCFF, which stands for an undecodable byte, is shown as that byte (``\\xff``), as
``Evidence.raw`` shows it. Tab, line feed and carriage return appear as ``\\t``, ``\\n`` and ``\\r`` where they
are escaped. A backslash already in the value is left as it is: the console and the documents are views for
people, the JSON record keeps the exact value.
"""
from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Collection
from typing import Any, BinaryIO, TextIO, cast

#: Unicode categories never shown raw: controls, format characters (bidi overrides and isolates, zero-width
#: characters), surrogates, line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: Everything outside printable ASCII is looked at; printable ASCII is never touched (fast path).
_CANDIDATE = re.compile(r"[^\x20-\x7e]")
#: Kept raw in documents (XML, HTML, SARIF text): the only controls that are legal XML and harmless there.
_DOCUMENT_KEEP = frozenset("\t\n")
_DOCUMENT_CANDIDATE = re.compile(r"[^\x20-\x7e\t\n]")
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
#: Characters JSON output escapes as ``\\uXXXX`` beyond what the json module escapes (C0 controls): the value
#: parses back unchanged, but the file holds no raw C1 control, bidi override or lone surrogate.
_JSON_UNSAFE = ("[\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
                "\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff]")


@functools.cache
def _json_unsafe() -> re.Pattern[str]:
    """``_JSON_UNSAFE`` compiled when a JSON text first has a character beyond ASCII or DEL (most reports have
    none: 0.7 ms of every start)."""
    return re.compile(_JSON_UNSAFE)


def _unsafe(ch: str) -> bool:
    code = ord(ch)
    return (unicodedata.category(ch) in _UNSAFE_CATEGORIES
            or 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE)  # noncharacters


def escape_char(ch: str) -> str:
    """The visible form of one character: ``\\x1b``, ``\\u202e``, ``\\U000e0041``; ``\\xff`` for the lone
    surrogate U+DCFF that ``surrogateescape`` made of the byte 0xff."""
    code = ord(ch)
    if ch in _SHORT:
        return _SHORT[ch]
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _terminal_sub(match: re.Match[str]) -> str:
    ch = match.group()
    return escape_char(ch) if _unsafe(ch) else ch


def _document_sub(match: re.Match[str]) -> str:
    ch = match.group()
    return escape_char(ch) if ch not in _DOCUMENT_KEEP and _unsafe(ch) else ch


def for_terminal(value: object) -> str:
    """One line of text that is safe to write to a terminal: every control (C0 including tab, line feed and
    carriage return, DEL, C1), format character (bidi overrides, zero-width), surrogate, line or paragraph
    separator and noncharacter is shown escaped. The console report and the CLI's log lines use it."""
    return _CANDIDATE.sub(_terminal_sub, str(value))


def for_document(value: object) -> str:
    """Text that is safe in XML 1.0, HTML and SARIF messages and encodable as UTF-8: as :func:`for_terminal`,
    but tab and line feed stay (they are legal XML and keep multi-line evidence readable). The result still
    needs the format's own escaping (``&``, ``<``, quotes)."""
    return _DOCUMENT_CANDIDATE.sub(_document_sub, str(value))


def document_strings(value: Any) -> Any:
    """A copy of plain JSON-like data with every string (keys too) passed through :func:`for_document`."""
    if isinstance(value, str):
        return for_document(value)
    if isinstance(value, dict):
        return {for_document(k): document_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [document_strings(v) for v in value]
    return value


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_text(doc: Any, *, indent: int | None = 2, sort_keys: bool = False, native: Collection[int] = ()) -> str:
    """JSON text that keeps every value exactly (it parses back to the same data) and is safe to write as
    UTF-8 and to show with ``cat``: C0 controls as the json module escapes them, and C1 controls, bidi and
    zero-width characters, noncharacters and lone surrogates as ``\\uXXXX`` escapes as well. Other text stays
    readable (``ensure_ascii`` off). These characters can only occur inside JSON strings, where the escape means
    the same character. ``native``: see reports.jsonenc."""
    from reports.jsonenc import dumps  # orjson where it writes the same values (indent=2), else the json module

    return _json_safe(dumps(doc, indent=indent, sort_keys=sort_keys, native=native))


def _json_safe(text: str) -> str:
    if text.isascii() and "\x7f" not in text:  # nothing to escape (a fast scan of a large report)
        return text
    return _json_unsafe().sub(_json_escape, text)


def write_json(out: TextIO, doc: Any, *, indent: int | None = 2, sort_keys: bool = False,
               native: Collection[int] = ()) -> None:
    """``out.write(json_text(doc, ...) + "\\n")``, the same bytes in the file. When orjson writes the document in
    ASCII without DEL (nothing to escape) and ``out`` is a UTF-8 text file over a binary one on a system whose
    line separator is ``\\n`` (the file writes text as its UTF-8 bytes), orjson's bytes go to the binary file as
    they are: the text of a large report was otherwise made twice more, decoded into a string and encoded again
    by the file (some 900 fresh pages of memory each, for the JSON report of 2,297 findings)."""
    from reports.jsonenc import encoded, json_module

    buffer = _utf8_buffer(out)
    data = encoded(doc, indent=indent, sort_keys=sort_keys, native=native)
    if buffer is not None and data is not None and data.isascii() and b"\x7f" not in data:
        out.flush()
        buffer.write(data)
        buffer.write(b"\n")
        return
    text = data.decode("utf-8") if data is not None else json_module(doc, indent=indent, sort_keys=sort_keys)
    out.write(_json_safe(text))
    out.write("\n")


def _utf8_buffer(out: TextIO) -> BinaryIO | None:
    """The binary file under the text file ``out`` when writing bytes to it writes what ``out`` would: ``out``
    encodes in UTF-8 and writes a line feed as it is (a text file opened with the default newline, as every
    report's is, writes ``os.linesep``). None for anything else (a StringIO, a console in another encoding)."""
    buffer = getattr(out, "buffer", None)
    encoding = str(getattr(out, "encoding", None) or "").lower().replace("_", "-")
    if buffer is None or encoding not in ("utf-8", "utf8") or os.linesep != "\n":
        return None
    return cast("BinaryIO", buffer)


def display_width(text: str) -> int:
    """Columns the text takes on a terminal (after :func:`for_terminal`): wide East Asian characters take two,
    combining marks none."""
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


_PIECE = re.compile(r"[^ /.,:;=_\-]+[ /.,:;=_\-]?|[ /.,:;=_\-]")


def _hard_split(piece: str, width: int) -> list[str]:
    out, cur, cur_w = [], "", 0
    for ch in piece:
        w = display_width(ch)
        if cur and cur_w + w > width:
            out.append(cur)
            cur, cur_w = "", 0
        cur += ch
        cur_w += w
    if cur:
        out.append(cur)
    return out


def wrap(text: str, width: int) -> list[str]:
    """Wrap one line of terminal-safe text to ``width`` display columns, breaking after spaces and after
    ``/ . , : ; = _ -`` where it can, inside a word where it must. Never returns a line wider than ``width``
    (unless ``width`` is below the width of a single wide character)."""
    width = max(width, 1)
    if display_width(text) <= width:
        return [text]
    lines: list[str] = []
    cur, cur_w = "", 0
    for piece in _PIECE.findall(text):
        w = display_width(piece.rstrip(" "))
        if cur and cur_w + w > width:
            lines.append(cur.rstrip(" "))
            cur, cur_w = "", 0
            if piece == " ":
                continue
        if w > width:
            parts = _hard_split(piece, width)
            lines.extend(parts[:-1])
            cur = parts[-1]
            cur_w = display_width(cur)
            continue
        cur += piece
        cur_w += display_width(piece)
    if cur.rstrip(" ") or not lines:
        lines.append(cur.rstrip(" "))
    return lines
