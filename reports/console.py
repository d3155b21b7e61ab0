"""Console report: summaries by status, target and clause, the clause coverage (evidence strength, and never
"passed" from supporting evidence alone: see scanner.coverage), then every finding that needs attention.

Fits the terminal: every line is at most ``width`` columns (cells wrap; a table that cannot fit even with its
columns at their narrowest is cut at the edge). Everything from a target is shown through
``reports.text.for_terminal``, so escape sequences in target data are visible text, never acted on. Colour only
on a terminal that is not ``TERM=dumb`` and only when ``NO_COLOR`` is unset or empty, unless asked for.
"""
from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from reports.text import display_width, for_terminal, wrap
from scanner.coverage import Verdict, by_clause, coverage, overall
from scanner.model import Location, Result, Run, Status
from scanner.risk import risk_rank

_COLOUR = {Status.PASS: "32", Status.FAIL: "31", Status.ERROR: "35", Status.WAIVED: "36",
           Status.MANUAL: "33", Status.NOT_APPLICABLE: "90"}
#: Frameworks summarised by default (the ISO 2013 ids repeat their 2022 counterparts; the draft is not in force).
DEFAULT_FRAMEWORKS = ("part11", "annex11", "iso27001-2022")
_ORDER = [Status.FAIL, Status.ERROR, Status.WAIVED, Status.MANUAL, Status.NOT_APPLICABLE, Status.PASS]
#: Width used when the output is not a terminal (a report file) and COLUMNS does not say otherwise.
FILE_WIDTH = 120
_GAP = "  "
#: Longest text shown in one table cell; the JSON report and the record keep the whole value.
MAX_CELL = 1000


@dataclass(frozen=True)
class Column:
    header: str
    min_width: int = 0  # narrowest the column may be squeezed to; 0: never narrower than its content
    right: bool = False
    weight: float = 1.0  # a column with more weight keeps more of its width when the table is squeezed


@dataclass(frozen=True)
class Cell:
    text: str  # terminal-safe; a line feed here is the report's own line break, never target data
    colour: str | None = None  # an SGR code for the whole cell


def _natural(text: str) -> list[tuple[int, int, str]]:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text) if t]


def _widths(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int) -> list[int]:
    natural = [max([display_width(c.header)] + [display_width(part) for row in rows
                                                  for part in row[i].text.split("\n")])
               for i, c in enumerate(columns)]
    floor = [min(n, c.min_width) if c.min_width else n for n, c in zip(natural, columns, strict=True)]
    budget = width - len(_GAP) * (len(columns) - 1)
    widths = [min(n, max(budget, 1)) for n in natural]
    for floors in (floor, [1] * len(columns)):  # below the minimums only when the table cannot fit otherwise
        while sum(widths) > budget:
            # squeeze the widest column (for its weight) that still may shrink, one column at a time
            candidates = [i for i in range(len(widths)) if widths[i] > floors[i]]
            if not candidates:
                break
            widths[max(candidates, key=lambda i: widths[i] / columns[i].weight)] -= 1
    return widths


def _paint(text: str, colour: str | None, enabled: bool) -> str:
    return f"\033[{colour}m{text}\033[0m" if enabled and colour and text else text


def _clip(line: str, width: int) -> str:
    """Cut a line of plain (uncoloured) text at ``width`` display columns."""
    if display_width(line) <= width:
        return line
    out, used = "", 0
    for ch in line:
        w = display_width(ch)
        if used + w > width:
            break
        out += ch
        used += w
    return out


def table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int, colour: bool) -> list[str]:
    """Lay out a table in at most ``width`` columns (``width`` at least one column per column and the gaps):
    cells wrap inside their column; colour codes take no columns."""
    widths = _widths(columns, rows, width)
    lines: list[str] = []
    header_rows = [[Cell(c.header) for c in columns], [Cell("-" * w) for w in widths]]
    for n, row in enumerate([*header_rows, *rows]):
        cells = [[piece for part in cell.text.split("\n") for piece in wrap(part, w)]
                 for cell, w in zip(row, widths, strict=True)]
        for k in range(max(len(c) for c in cells)):
            parts = []
            for cell, lines_of_cell, w, col in zip(row, cells, widths, columns, strict=True):
                text = _clip(lines_of_cell[k], w) if k < len(lines_of_cell) else ""
                pad = " " * (w - display_width(text))
                painted = _paint(text, cell.colour if n >= len(header_rows) else None, colour)
                parts.append(pad + painted if col.right else painted + pad)
            lines.append(_GAP.join(parts).rstrip(" "))
    return lines


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_CELL else f"{text[:MAX_CELL]}... ({len(text) - MAX_CELL} more characters)"


def _status(s: Status) -> Cell:
    return Cell(s.value, _COLOUR[s])


def _where(loc: Location) -> str:
    if loc.start_line is None:
        return for_terminal(loc.path)
    lines = f"{loc.start_line}" if loc.end_line in (None, loc.start_line) else f"{loc.start_line}-{loc.end_line}"
    return f"{for_terminal(loc.path)}:{lines}"


def _paragraph(text: str, width: int, first: str, rest: str) -> list[str]:
    """Wrap terminal-safe text with a first-line prefix and a hanging indent."""
    body = wrap(text, max(width - display_width(rest), 1))
    return [_clip((first if i == 0 else rest) + line, width) for i, line in enumerate(body)]


def summary_line(run: Run) -> str:
    """One line: the counts that are not zero, the warnings, and whether the run was interrupted."""
    counts = Counter(r.status for r in run.results)
    parts = [f"{s.value} {counts[s]}" for s in _ORDER if counts.get(s)]
    text = f"summary: {', '.join(parts) if parts else 'no findings'}"
    if run.info.warnings:
        n = len(run.info.warnings)
        text += f"; {n} warning{'s' if n != 1 else ''}"
    if run.info.interrupted:
        text += "; INTERRUPTED"
    return text


def terminal_width(out: TextIO) -> int:
    """The width to lay out for: the terminal's when ``out`` is one, else ``COLUMNS``, else FILE_WIDTH."""
    if out.isatty():
        try:
            return os.get_terminal_size(out.fileno()).columns
        except (OSError, ValueError, AttributeError):
            pass
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    return 80 if out.isatty() else FILE_WIDTH


def colour_wanted(out: TextIO) -> bool:
    """Colour by default only on a terminal, not when ``NO_COLOR`` is set to anything or ``TERM`` is dumb."""
    return out.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def render(run: Run, out: TextIO, *, colour: bool | None = None, verbose: bool = False, quiet: bool = False,
           width: int | None = None, frameworks: Iterable[str] = DEFAULT_FRAMEWORKS, sort: str | None = None,
           **_: Any) -> None:
    """Write the console report. ``colour`` None: decided by :func:`colour_wanted`; ``width`` None: decided by
    :func:`terminal_width`; ``verbose``: every finding, with locations, and the remediation of each check that
    did not pass; ``quiet``: only the summary line; ``sort`` "risk": the findings riskiest first (issue 17)."""
    colour = colour_wanted(out) if colour is None else colour
    width = max(terminal_width(out) if width is None else width, 20)
    summary = _paragraph(summary_line(run), width, "", "  ")
    if quiet:
        out.write("\n".join(summary) + "\n")
        return
    info = run.info
    state = "INTERRUPTED" if info.interrupted else "complete"
    lines: list[str] = []
    lines += _paragraph(f"gxpscan {for_terminal(info.tool_version)}  run {for_terminal(info.id)}  ({state})",
                        width, "", "  ")
    lines += _paragraph(f"operator {for_terminal(info.operator)}  started {info.started:%Y-%m-%d %H:%M:%SZ}  "
                        f"inventory {for_terminal(info.inventory)}", width, "", "  ")
    for warning in info.warnings:
        lines += _paragraph(for_terminal(warning), width, "warning: ", "         ")
    for cat in info.catalogs:
        if cat.status != "in_force":
            lines += _paragraph(f"catalog {for_terminal(cat.id)} ({for_terminal(cat.edition)}) is "
                                f"{_CATALOG_STATUS.get(cat.status, for_terminal(cat.status))}: its clauses are "
                                "marked so below", width, "note: ", "      ")
    lines.append("")

    counts = Counter(r.status for r in run.results)
    lines += table([Column("status"), Column("findings", right=True)],
                   [[_status(s), Cell(str(counts.get(s, 0)))] for s in _ORDER], width, colour)
    lines.append("")

    status_columns = [Column(s.value, min_width=4, right=True) for s in _ORDER]
    per_target: dict[str, Counter[Status]] = defaultdict(Counter)
    for r in run.results:
        per_target[r.target][r.status] += 1
    if per_target:
        lines += table([Column("target", min_width=8), *status_columns],
                       [[Cell(_bounded(for_terminal(t))), *(Cell(str(c.get(s, 0))) for s in _ORDER)]
                        for t, c in sorted(per_target.items())], width, colour)
        lines.append("")

    shown_frameworks = set(frameworks)
    per_clause: dict[str, Counter[Status]] = defaultdict(Counter)
    for r in run.results:
        for clause in r.clauses:
            if clause.split(":", 1)[0] in shown_frameworks:
                per_clause[clause][r.status] += 1
    if per_clause:
        lines += table([Column("findings by clause", min_width=8), *status_columns],
                       [[Cell(_bounded(for_terminal(c))), *(Cell(str(n.get(s, 0))) for s in _ORDER)]
                        for c, n in sorted(per_clause.items(), key=lambda i: _natural(i[0]))], width, colour)
        lines.append("")

    lines += _coverage(run, shown_frameworks, width, colour)

    shown = [r for r in run.results if verbose or r.status in (Status.FAIL, Status.ERROR, Status.WAIVED)]
    if shown:
        shown.sort(key=lambda r: (_ORDER.index(r.status), -r.severity.rank, r.target, r.check, r.resource))
        if sort == "risk":  # stable: within a level, the order above
            shown.sort(key=lambda r: -risk_rank(r))
        rated = any(r.risk is not None for r in shown)  # a record older than the risk rating has no column
        lines += table([Column("status"), Column("severity"), *([Column("risk")] if rated else []),
                        Column("target", min_width=10), Column("check", min_width=12, weight=1.5),
                        Column("resource", min_width=10, weight=1.5), Column("message", min_width=20, weight=3)],
                       [_finding_row(r, verbose, rated) for r in shown], width, colour)
        lines.append("")
        if any(r.risk is not None and not r.risk.declared for r in shown):
            lines += _paragraph("risk*: the target declares no gxp_impact; rated as high impact (see "
                                "scanner/risk_matrix.json)", width, "", "  ")
            lines.append("")
        if verbose:
            lines += _remediation(shown, width)
    lines += summary
    out.write("\n".join(lines) + "\n")


_CATALOG_STATUS = {"draft": "a DRAFT, not in force", "superseded": "SUPERSEDED"}
_VERDICT_COLOUR = {Verdict.PASSED: "32", Verdict.FAILED: "31", Verdict.ERROR: "35", Verdict.WAIVED: "36",
                   Verdict.MANUAL: "33", Verdict.NO_EVIDENCE: "33", Verdict.TECHNICAL_PART_PASSED: "33",
                   Verdict.NOT_APPLICABLE: "90"}


def _coverage(run: Run, frameworks: set[str], width: int, colour: bool) -> list[str]:
    """Clause coverage: per clause, the strength of its evidence and its worst verdict across the targets."""
    groups = by_clause(c for c in coverage(run) if c.ref.split(":", 1)[0] in frameworks)
    if not groups:
        return []
    rows = []
    for ref, items in groups.items():  # the catalogs' order (framework, then document)
        worst = overall(items)
        mark = {"draft": " (DRAFT)", "superseded": " (SUPERSEDED)"}.get(worst.clause_status, "")
        strengths = Counter(e.strength for e in worst.evidence if e.applicable and e.status is not None)
        text = worst.text
        if len(items) > 1:
            n = Counter(c.verdict.value for c in items)
            text += "\n" + "targets: " + ", ".join(f"{v} {k}" for k, v in sorted(n.items()))
        if worst.note and worst.verdict is not Verdict.NOT_APPLICABLE:
            text += "\n" + worst.note
        rows.append([Cell(_bounded(for_terminal(ref + mark))),
                     Cell(", ".join(f"{k} {strengths[k]}" for k in ("direct", "supporting", "context")
                                    if strengths[k]) or "-"),
                     Cell(_bounded("\n".join(for_terminal(t) for t in text.split("\n"))),
                          _VERDICT_COLOUR[worst.verdict])])
    return [*table([Column("clause", min_width=8), Column("evidence", min_width=8),
                    Column("clause coverage (worst target)", min_width=20, weight=3)], rows, width, colour), ""]


def _finding_row(r: Result, verbose: bool, rated: bool = False) -> list[Cell]:
    resource = _bounded(for_terminal(r.resource))
    if verbose and r.location is not None:
        resource += "\nat " + _bounded(_where(r.location))
    message = _bounded(for_terminal(r.message))
    if verbose and r.steps:  # a challenge: the steps that were not met (all of them for a failure shown)
        message += "".join("\n" + _bounded(for_terminal(c.describe())) for c in r.steps
                           if c.ok is not True or r.status is not Status.PASS)
    risk = [Cell(r.risk.level.value + ("" if r.risk.declared else "*")) if r.risk else Cell("-")] if rated else []
    return [_status(r.status), Cell(r.severity.value), *risk, Cell(_bounded(for_terminal(r.target))),
            Cell(_bounded(for_terminal(r.check))), Cell(resource), Cell(message)]


def _remediation(shown: Sequence[Result], width: int) -> list[str]:
    """How to fix each check that has a finding other than pass, once per check."""
    fixes: dict[str, str] = {}
    for r in shown:
        if r.status is not Status.PASS and r.remediation and r.check not in fixes:
            fixes[r.check] = r.remediation
    if not fixes:
        return []
    lines = ["remediation"]
    for check, text in sorted(fixes.items()):
        lines += _paragraph(for_terminal(check), width, "  ", "    ")
        lines += _paragraph(for_terminal(text), width, "    ", "    ")
    lines.append("")
    return lines
