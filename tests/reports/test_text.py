"""reports.text: the one place that makes target text safe for terminals, documents and JSON."""
from __future__ import annotations

import json

import pytest

from reports.text import display_width, for_document, for_terminal, json_text, wrap


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


def test_wrap_never_exceeds_the_width_and_loses_nothing() -> None:
    text = "a " * 10 + "/etc/ssh/sshd_config.d/" + "x" * 50 + " 日本語のテキスト"
    for width in range(1, 40):
        lines = wrap(text, width)
        assert all(display_width(line) <= max(width, 2) for line in lines)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert display_width("日本語") == 6 and display_width("e\u0301") == 1
