"""CSV outputs: the findings (``--format csv``, findings.csv) and the compliance per framework clause
(``--format compliance-csv``, compliance.csv).

RFC 4180 (comma, double quotes, CRLF), UTF-8. A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``,
``@``, tab or carriage return as a formula, so such a cell (a resource name, a message, any text from a target)
is written with a leading apostrophe: shown as text, never run. Controls, bidi overrides and lone surrogates are
shown escaped (``reports.text.for_document``), so the file is valid UTF-8 and shows nothing raw with ``cat``.

The compliance CSV has one row per clause the run's checks map to: its framework, the checks giving evidence
(``direct``/``supporting``; ``context`` mappings are never evidence), their pass/fail/error result counts over all
targets, and the clause's status: the worst coverage verdict across targets from scanner.coverage.
"""
from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from typing import Any, TextIO

from reports.location import place
from reports.text import for_document
from scanner.coverage import by_clause, coverage, overall
from scanner.model import Run, Status

#: First characters a spreadsheet treats as the start of a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

FINDING_COLUMNS = ("target", "target_type", "check", "status", "severity", "area", "resource", "message",
                   "location", "clauses", "waiver", "remediation", "at")
COMPLIANCE_COLUMNS = ("framework", "clause", "title", "clause_status", "automatable", "checks", "pass", "fail",
                      "error", "targets", "status", "text")


def cell(value: object) -> str:
    """One CSV cell: formula starts neutralised, controls escaped (tab and line feed inside the text stay)."""
    text = str(value)
    if text.startswith(FORMULA_START):
        text = "'" + text
    return for_document(text)


def _write(out: TextIO, header: Iterable[str], rows: Iterable[Iterable[object]]) -> None:
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([cell(v) for v in row])


def render(run: Run, out: TextIO, **_: Any) -> None:
    """findings.csv: one row per result, in record order."""
    rows = []
    for r in run.results:
        where = place(r).location
        location = ""
        if where is not None:
            lines = ("" if where.start_line is None else f":{where.start_line}"
                     + ("" if where.end_line in (None, where.start_line) else f"-{where.end_line}"))
            location = where.path + lines
        waiver = f"{r.waiver.approved_by} until {r.waiver.expires}: {r.waiver.reason}" if r.waiver else ""
        rows.append((r.target, r.target_type, r.check, r.status.value, r.severity.value, r.area.value, r.resource,
                     r.message, location, "; ".join(r.clauses), waiver, r.remediation, r.at.isoformat()))
    _write(out, FINDING_COLUMNS, rows)


def render_compliance(run: Run, out: TextIO, **_: Any) -> None:
    """compliance.csv: one row per clause (catalog order of the run), counts over every target."""
    items = by_clause(coverage(run))
    results: dict[str, Counter[Status]] = {}
    for r in run.results:
        results.setdefault(r.check, Counter())[r.status] += 1
    rows = []
    for clause in run.info.clauses:
        framework, _sep, ref = clause.ref.partition(":")
        checks = sorted({c for m in clause.mappings if m.strength != "context" for c in m.checks})
        counts: Counter[Status] = Counter()
        for check in checks:
            counts.update(results.get(check, Counter()))
        found = items.get(clause.ref)
        status, text = (overall(found).verdict.value, overall(found).text) if found else ("no result", "")
        rows.append((framework, ref, clause.title, clause.status, clause.automatable, "; ".join(checks),
                     counts[Status.PASS], counts[Status.FAIL], counts[Status.ERROR], len(found or ()), status, text))
    _write(out, COMPLIANCE_COLUMNS, rows)
