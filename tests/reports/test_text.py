"""reports.text: the one place that makes target text safe for terminals, documents and JSON."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from reports import text as text_module
from reports.text import display_width, for_document, for_terminal, json_text, wrap, write_json


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[2J\x1b[31mred", "\\x1b[2J\\x1b[31mred"),                       # CSI: clear screen, colour
    ("\x1b]52;c;cm0gLXJmIH4=\x07", "\\x1b]52;c;cm0gLXJmIH4=\\x07"),       # OSC 52: write the clipboard
    ("\x1b]0;sudo password:\x1b\\", "\\x1b]0;sudo password:\\x1b\\"),     # OSC 0: set the title
    ("\x9b31m", "\\x9b31m"), ("\x90q\x9c", "\\x90q\\x9c"),                # C1 CSI, DCS/ST
    ("ding\x07", "ding\\x07"), ("pass\x08\x08\x08\x08fail", "pass\\x08\\x08\\x08\\x08fail"),
    ("ok\rFAIL", "ok\\rFAIL"), ("a\tb\nc", "a\\tb\\nc"), ("\x00\x7f", "\\x00\\x7f"),
    ("\u202eexe.pdf", "\\u202eexe.pdf"), ("\u2066x\u2069", "\\u2066x\\u2069"),
    ("\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"),
    ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"), ("line\u2028sep", "line\\u2028sep"),
    ("caf\udce9", "caf\\xe9"), ("\ud800", "\\ud800"), ("\ufffe\uffff", "\\ufffe\\uffff"),
    ("\U000e0041tag", "\\U000e0041tag"),
    ("plain ASCII, café, 日本語, emoji 🙂, a \\ backslash", "plain ASCII, café, 日本語, emoji 🙂, a \\ backslash"),
])
def test_for_terminal_shows_controls_visibly_and_leaves_text_alone(raw: str, shown: str) -> None:
    assert for_terminal(raw) == shown
    shown.encode("utf-8")


def test_for_document_keeps_tab_and_line_feed_only() -> None:
    assert for_document("a\tb\nc\rd\x0be\x1b") == "a\tb\nc\\rd\\x0be\\x1b"


def test_json_text_escapes_what_the_json_module_leaves_raw_and_parses_back_the_same() -> None:
    value = {"k\x9b": "\x1b]52;c;x\x07 \x85 \u202e \udcff \ufffe café"}
    text = json_text(value, indent=None)
    assert text == '{"k\\u009b": "\\u001b]52;c;x\\u0007 \\u0085 \\u202e \\udcff \\ufffe café"}'
    assert json.loads(text) == value


class _Weird(str):
    pass


@pytest.mark.parametrize(("doc", "as_bytes"), [
    ({"b": [1, True, None, "x"], "a": {"n": -3}}, True),  # plain ASCII: orjson's bytes, as they are
    ({"b": "caf\u00e9 \u65e5\u672c"}, False),  # non-ASCII text: decoded, checked, written by the text file
    ({"k": "\x1b]52;c;x\x07 \x85 \u202e"}, False),  # controls to escape
    ({"k": "del\x7f"}, False),  # ASCII, but DEL is escaped
    ({"k": float("nan")}, False),  # not plain JSON: the json module writes it
    ({"k": _Weird("sub")}, False),  # a str subclass: the json module
    ({"k": 1.5e16, "big": 2 ** 70}, False),  # an integer orjson refuses
], ids=["plain-ascii", "non-ascii", "controls", "del", "nan", "str-subclass", "big-int"])
def test_write_json_writes_the_bytes_of_json_text_and_a_newline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                doc: Any, as_bytes: bool) -> None:
    """The same bytes whichever way they are made; orjson's bytes go to a UTF-8 file unchanged only when nothing in
    them needs the text's checks (ASCII without DEL)."""
    expected = (json_text(doc, sort_keys=True) + "\n").encode("utf-8")
    checked: list[str] = []
    real = text_module._json_safe
    monkeypatch.setattr(text_module, "_json_safe", lambda t: checked.append(t) or real(t))
    path = tmp_path / "report.json"
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w", encoding="utf-8") as fh:
        fh.write("before ")  # text the file holds in its buffer stays before the document
        write_json(fh, doc, sort_keys=True)
    assert path.read_bytes() == b"before " + expected
    assert (not checked) is as_bytes
    memory = io.StringIO()
    write_json(memory, doc, sort_keys=True)
    assert memory.getvalue().encode("utf-8") == expected


def test_write_json_to_a_file_in_another_encoding_goes_through_the_text_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    with open(path, "w", encoding="latin-1") as fh:
        fh.write("x")
        write_json(fh, {"a": "\u00e9"})
    assert path.read_bytes() == b'x{\n  "a": "\xe9"\n}\n'


def test_wrap_never_exceeds_the_width_and_loses_nothing() -> None:
    text = "a " * 10 + "/etc/ssh/sshd_config.d/" + "x" * 50 + " 日本語のテキスト"
    for width in range(1, 40):
        lines = wrap(text, width)
        assert all(display_width(line) <= max(width, 2) for line in lines)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert display_width("日本語") == 6 and display_width("e\u0301") == 1
