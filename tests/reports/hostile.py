"""Hostile values a target can return, and the visible form each report must show them in.

The expected forms are written out here independently of reports.text, so a test compares the reports with
this oracle rather than with the function under test.
"""
from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

from reports import render
from scanner.model import Location, Run, Waiver
from tests.factories import make_result, make_run

#: Every C0 control, DEL, every C1 control, the XML-forbidden noncharacters, lone surrogates (U+DC80..U+DCFF
#: is what surrogateescape makes of an undecodable byte), bidi embeddings/overrides/isolates, separators,
#: zero-width characters, and whole escape sequences: CSI, OSC 52 (writes the clipboard), OSC 0 (sets the title).
CODE_POINTS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0xFFFE, 0xFFFF, 0xD800, 0xDC80, 0xDCFF, 0xDFFF,
               *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200E, 0x2028, 0x2029, 0xFEFF]
SEQUENCES = ["\x1b[31mred\x1b[0m", "\x1b]52;c;ZXZpbA==\x07", "\x1b]0;owned title\x1b\\", "\x9b2J",
             "ok\rFAKE", "pass\x08\x08\x08\x08fail", "\u202eexe.txt", "caf\udce9"]
VALUES = [chr(c) for c in CODE_POINTS] + SEQUENCES


def value_id(value: str) -> str:
    return "+".join(f"{ord(c):04x}" for c in value)[:40]


def _visible(ch: str, keep: str) -> str:
    code = ord(ch)
    if ch in keep:
        return ch
    if ch == "\t":
        return "\\t"
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"\\x{code:02x}"
    if code in (0xFFFE, 0xFFFF, 0xFEFF, 0x200B, 0x200E, 0x2028, 0x2029) or 0xD800 <= code <= 0xDFFF \
            or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        return f"\\u{code:04x}"
    return ch


def on_terminal(value: str) -> str:
    """How a value must look on the console: every control escaped, tab and line feed included."""
    return "".join(_visible(ch, "") for ch in value)


def in_document(value: str) -> str:
    """How a value must look in XML, HTML and SARIF text: as on the terminal, but tab and line feed stay."""
    return "".join(_visible(ch, "\t\n") for ch in value)


def hostile_run(v: str) -> Run:
    """A run where every field a target can influence carries ``v``."""
    waiver = Waiver(check=f"linux.x{v}", target=f"host{v}", reason=f"why{v}", approved_by="qa.lead",
                    expires="2999-01-01")
    results = [
        make_result(check=f"linux.x{v}", status="fail", target=f"host{v}", resource=f"res{v}", message=f"msg{v}",
                    observed={f"key{v}": f"val{v}"}, criterion=f"crit{v}", remediation=f"fix{v}",
                    location=Location(f"/etc/file{v}", 3, 4), evidence=("ev1",)),
        make_result(check=f"linux.x{v}", status="error", target=f"host{v}", resource=f"err{v}", message=f"oops{v}",
                    evidence=("ev1",)),
        make_result(check=f"linux.x{v}", status="waived", target=f"host{v}", resource=f"wvd{v}", waiver=waiver,
                    evidence=()),
    ]
    base = make_run(results)
    evidence = {"ev1": {"target": f"host{v}", "fact": "linux.login_defs", "ok": True, "error": None,
                        "source": f"cat /etc/login.defs{v}", "collected_at": "2026-12-01T07:00:00+00:00",
                        "raw": f"raw{v}", "sha256": "2" * 64, "truncated": False, "exit_code": 0}}
    return Run(replace(base.info, warnings=(f"warn{v}",)), base.results, evidence)


def rendered(fmt: str, run: Run, **options: Any) -> str:
    out = io.StringIO()
    render(fmt, run, out, **options)
    return out.getvalue()
