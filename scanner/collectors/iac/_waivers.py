"""Inline waivers: written next to the resource they cover, they become inventory-like ``Waiver`` values.

Terraform: a comment ``# gxpscan:waive CHECK reason="..." approver="..." expires=YYYY-MM-DD`` (``//`` works too)
inside the resource block or in the run of comment lines directly above it. CloudFormation: the resource's
``Metadata: {gxpscan: {waive: [{check, reason, approver, expires}]}}``.

A waiver covers exactly the resource it is written at (its resource pattern is that address, escaped, so no
glob in a comment can reach another resource) and one check id; a check glob (``aws.s3.*``) is accepted only
when the target sets ``inline_waiver_globs: true``. One that is incomplete (no reason, approver or a valid
expiry date), or names a glob it may not, waives nothing and is a run warning with its file and line; an expired
one is reported by the engine like an expired inventory waiver.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from scanner.collectors.iac._values import Block, InlineWaiver
from scanner.model import Waiver

#: The text every inline waiver comment holds (a file without it has none).
WAIVER_MARK = "gxpscan:waive"
_MARK = re.compile(r"^\s*(#|//)\s*" + WAIVER_MARK + r"\b(.*)$")
_PAIR = re.compile(r'([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|(\S+))')
_CHECK = re.compile(r"^[A-Za-z0-9_.*?\[\]-]{1,128}$")
_COMMENT = re.compile(r"^\s*(#|//)")
#: Longest text kept from a waiver field (the run record and reports show it).
MAX_FIELD = 500


def _escape(text: str) -> str:
    """``text`` as an fnmatch pattern that matches only itself."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def parse_comment(text: str, line: int) -> InlineWaiver:
    m = _MARK.match(text)
    rest = (m.group(2) if m else "").strip()
    check, _, args = rest.partition(" ")
    fields = {k: (q if q is not None and q != "" else b or "").replace('\\"', '"')
              for k, q, b in _PAIR.findall(args)}
    return complete(check, fields, line)


def complete(check: Any, fields: Mapping[str, Any], line: int) -> InlineWaiver:
    def text(key: str) -> str:
        value = fields.get(key)
        return str(value)[:MAX_FIELD] if isinstance(value, (str, int, float, date)) else ""

    check = str(check or "")
    reason, approver, expires = text("reason"), text("approver"), text("expires")
    missing = [k for k, v in (("reason", reason), ("approver", approver), ("expires", expires)) if not v.strip()]
    problem = ""
    if not check or not _CHECK.match(check):
        problem = "no valid check id"
    elif missing:
        problem = "missing " + ", ".join(missing)
    else:
        try:
            date.fromisoformat(expires)
        except ValueError:
            problem = f"expires {expires!r} is not a date (YYYY-MM-DD)"
    return InlineWaiver(check, reason, approver, expires, line, problem)


def waivers_for(lines: list[str], start: int, end: int) -> list[InlineWaiver]:
    """Waiver comments inside lines ``start..end`` (1-based) or in the comment lines directly above ``start``."""
    above = start - 1
    while above >= 1 and _COMMENT.match(lines[above - 1]):
        above -= 1
    out = []
    for n in range(above + 1, min(end, len(lines)) + 1):
        if _MARK.match(lines[n - 1]):
            out.append(parse_comment(lines[n - 1], n))
    return out


def to_waivers(blocks: Iterable[Block], target: str, globs: bool) -> tuple[list[Waiver], list[str]]:
    """(engine waivers, warnings for the ones that waive nothing)."""
    waivers, warnings = [], []
    seen: set[tuple[str, int, str]] = set()
    for b in blocks:
        for w in b.waivers:
            where = f"{b.location.path} line {w.line}"
            problem = w.problem
            if not problem and any(c in w.check for c in "*?[") and not globs:
                problem = (f"check {w.check!r} is a glob; an inline waiver names one check id "
                           "(set inline_waiver_globs: true on the target to allow globs)")
            if problem:
                key = (b.location.path, w.line, problem)
                if key not in seen:
                    seen.add(key)
                    warnings.append(f"{where}: inline waiver for {b.address} ignored: {problem}")
                continue
            waivers.append(Waiver(check=w.check, target=_escape(target), reason=w.reason, approved_by=w.approver,
                                  expires=w.expires, resource=_escape(b.address)))
    return waivers, warnings
