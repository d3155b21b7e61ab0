"""Console report: summaries by status, target and clause, then every finding that needs attention."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any, TextIO

from tabulate import tabulate

from scanner.model import Run, Status

_COLOUR = {Status.PASS: "32", Status.FAIL: "31", Status.ERROR: "35", Status.WAIVED: "36",
           Status.MANUAL: "33", Status.NOT_APPLICABLE: "90"}
#: Frameworks summarised by default (the ISO 2013 ids repeat their 2022 counterparts; the draft is not in force).
DEFAULT_FRAMEWORKS = ("part11", "annex11", "iso27001-2022")
_ORDER = [Status.FAIL, Status.ERROR, Status.WAIVED, Status.MANUAL, Status.NOT_APPLICABLE, Status.PASS]


def _paint(status: Status, text: str, colour: bool) -> str:
    return f"\033[{_COLOUR[status]}m{text}\033[0m" if colour else text


def _natural(text: str) -> list:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text) if t]


def render(run: Run, out: TextIO, *, colour: bool | None = None, verbose: bool = False,
           frameworks: Iterable[str] = DEFAULT_FRAMEWORKS, **_: Any) -> None:
    colour = out.isatty() if colour is None else colour
    info = run.info
    state = "INTERRUPTED" if info.interrupted else "complete"
    out.write(f"gxpscan {info.tool_version}  run {info.id}  ({state})\n"
              f"operator {info.operator}  started {info.started:%Y-%m-%d %H:%M:%SZ}  inventory {info.inventory}\n\n")
    counts = Counter(r.status for r in run.results)
    out.write(tabulate([[_paint(s, s.value, colour), counts.get(s, 0)] for s in _ORDER],
                       headers=["status", "findings"]) + "\n\n")

    per_target: dict[str, Counter] = defaultdict(Counter)
    for r in run.results:
        per_target[r.target][r.status] += 1
    out.write(tabulate([[t, *(c.get(s, 0) for s in _ORDER)] for t, c in sorted(per_target.items())],
                       headers=["target", *(s.value for s in _ORDER)]) + "\n\n")

    shown_frameworks = set(frameworks)
    per_clause: dict[str, Counter] = defaultdict(Counter)
    for r in run.results:
        for clause in r.clauses:
            if clause.split(":", 1)[0] in shown_frameworks:
                per_clause[clause][r.status] += 1
    rows = [[c, *(n.get(s, 0) for s in _ORDER)] for c, n in sorted(per_clause.items(), key=lambda i: _natural(i[0]))]
    if rows:
        out.write(tabulate(rows, headers=["clause", *(s.value for s in _ORDER)]) + "\n\n")

    shown = [r for r in run.results if verbose or r.status in (Status.FAIL, Status.ERROR, Status.WAIVED)]
    if shown:
        shown.sort(key=lambda r: (_ORDER.index(r.status), -r.severity.rank, r.target, r.check, r.resource))
        out.write(tabulate([[_paint(r.status, r.status.value, colour), r.severity.value, r.target, r.check,
                             r.resource, r.message] for r in shown],
                           headers=["status", "severity", "target", "check", "resource", "message"],
                           maxcolwidths=[None, None, 24, 32, 40, 70]) + "\n")
