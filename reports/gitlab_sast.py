"""GitLab's security report format for SAST (schema version 15.x), for ``artifacts:reports:sast`` in GitLab CI.

GitLab shows each vulnerability in the merge request's security widget and the vulnerability report, on its file
and lines. What goes in:

- ``scan``: gxpscan as analyzer and scanner (id, name, version, vendor), ``type`` ``sast``, start and end time in
  UTC as ``yyyy-mm-ddThh:mm:ss``, ``status`` ``failure`` when the scan was interrupted (else ``success``), every
  check of the run as a ``primary_identifier`` (so GitLab can tell a finding that went away from one never
  looked for), run warnings and waived findings as ``messages``;
- one vulnerability per failing or erroring finding (waived ones are not vulnerabilities: they are accepted and
  listed as messages): an ``id`` that stays the same from run to run for the same check, target and resource (a
  UUID made from the SARIF fingerprint), the check and its acceptance criterion as ``name``, the finding as
  ``description`` (GitLab Flavored Markdown: formatting characters escaped), the remediation as ``solution``,
  ``severity`` from the check (``Unknown`` for a finding that could not be judged), the check and its clauses as
  ``identifiers``, and ``location`` ``file``/``start_line``/``end_line`` for a finding on code, the file
  relative to the repository root and refused when it could leave it (``reports.location``, as in SARIF).

Every string goes through ``reports.text.for_document`` (controls from a target become visible escapes) and is
cut to the schema's length bounds; the file is written with ``reports.text.json_text``.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, TextIO

from reports.location import place
from reports.sarif import _md as markdown
from reports.sarif import fingerprint
from reports.text import document_strings, for_document, json_text
from scanner.model import Result, Run, Severity, Status

#: The schema version this report follows (GitLab accepts 15.x reports).
VERSION = "15.2.1"
_SEVERITY = {Severity.CRITICAL: "Critical", Severity.HIGH: "High", Severity.MEDIUM: "Medium", Severity.LOW: "Low",
             Severity.INFO: "Info"}
#: Length bounds of the schema's strings.
NAME_MAX, SOLUTION_MAX, DESCRIPTION_MAX, IDENTIFIER_MAX = 255, 7000, 1_048_576, 255
#: The identifier type of a check; its clauses are ``gxpscan_clause`` identifiers.
CHECK_TYPE, CLAUSE_TYPE = "gxpscan_check", "gxpscan_clause"


def _cut(text: str, limit: int) -> str:
    """``text`` made safe first (escapes are longer than what they stand for), then cut to the schema's bound."""
    text = for_document(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _time(at: datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S")


def _identifier(kind: str, value: str) -> dict[str, str]:
    text = _cut(value, IDENTIFIER_MAX) or "(none)"
    return {"type": kind, "name": text, "value": text}


def _vulnerability(r: Result, seen: set[str]) -> dict[str, Any]:
    where = place(r)
    location: dict[str, Any] = {}
    if where.in_code and where.location is not None:
        location["file"] = where.location.path
        if where.location.start_line is not None and where.location.start_line >= 1:
            location["start_line"] = where.location.start_line
            end = where.location.end_line
            location["end_line"] = end if end is not None and end >= where.location.start_line \
                else where.location.start_line
    judged = r.status is not Status.ERROR
    lines = [f"**{'Failed' if judged else 'Could not be judged'}** on target {markdown(r.target)}, resource "
             f"{markdown(r.resource)}: {markdown(r.message)}"]
    if r.criterion:
        lines.append(f"**Acceptance criterion:** {markdown(r.criterion)}")
    if where.refused:
        lines.append(markdown(where.refused))
    if r.clauses:
        lines.append(f"**Clauses:** {markdown(', '.join(r.clauses))}")
    key = uuid.UUID(hex=fingerprint(r))
    while str(key) in seen:  # one id per vulnerability even when a check reports a resource twice
        key = uuid.uuid5(key, "next")
    seen.add(str(key))
    out: dict[str, Any] = {
        "id": str(key),
        "name": _cut(f"{r.check}: {r.criterion}" if r.criterion else r.check, NAME_MAX),
        "description": _cut("\n\n".join(lines), DESCRIPTION_MAX),
        "severity": _SEVERITY[r.severity] if judged else "Unknown",
        "location": location,
        "identifiers": [_identifier(CHECK_TYPE, r.check), *(_identifier(CLAUSE_TYPE, c) for c in r.clauses)],
    }
    if r.remediation:
        out["solution"] = _cut(r.remediation, SOLUTION_MAX)
    return out


def render(run: Run, out: TextIO, **_: Any) -> None:
    info = run.info
    tool = {"id": "gxpscan", "name": "gxpscan", "version": info.tool_version or "unknown",
            "vendor": {"name": "gxpscan"}}
    messages = [{"level": "warn", "value": w} for w in info.warnings]
    messages += [{"level": "info", "value": f"{r.target}: {r.check} [{r.resource}] waived: {r.waiver.reason} "
                                            f"(approved by {r.waiver.approved_by}, expires {r.waiver.expires})"}
                 for r in run.results if r.status is Status.WAIVED and r.waiver]
    if info.interrupted:
        messages.append({"level": "fatal", "value": "the scan was interrupted before it finished"})
    scan: dict[str, Any] = {
        "analyzer": tool, "scanner": tool, "type": "sast",
        "start_time": _time(info.started), "end_time": _time(info.ended or info.started),
        "status": "failure" if info.interrupted else "success",
        "primary_identifiers": [_identifier(CHECK_TYPE, c) for c in sorted({r.check for r in run.results})],
    }
    if messages:
        scan["messages"] = messages
    seen: set[str] = set()
    doc = {"version": VERSION, "scan": scan, "vulnerabilities": [
        _vulnerability(r, seen) for r in run.results if r.status in (Status.FAIL, Status.ERROR)]}
    out.write(json_text(document_strings(doc)))
    out.write("\n")
