"""JUnit XML: one test suite per target, one test case per check x target x resource.

Shaped for strict consumers (the Ant/Jenkins JUnit XSD): ``testsuites`` carries the totals (tests, failures,
errors, skipped, time); every ``testsuite`` has name, tests, failures, errors, skipped, time, an ISO 8601
timestamp without a time zone (UTC, as the XSD's pattern requires), hostname, id and package, and holds
``properties``, its test cases, ``system-out`` and ``system-err`` in that order; every ``testcase`` has name,
classname and time, and ``file``/``line`` where the finding has a location (for code: relative to the repository
root, as ``reports.location`` decides), repeated with the line range in the failure text.

Times: checks evaluate facts already collected, so a test case takes no measurable time (``0.000``); a suite's
time is the wall time from the start of the run to the target's last finding (collection included), the total
is the run's duration. ``hostname`` is the target: the system the tests were executed against.

All text goes through ``reports.text.for_document``: characters XML forbids (and controls it allows but a
reader should see) appear as visible escapes, so the file parses whatever a target returned.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, TextIO

from reports.location import place
from reports.text import for_document
from scanner.model import Location, Result, Run, Status, thaw

_SKIPPED = {Status.NOT_APPLICABLE, Status.MANUAL, Status.WAIVED}


def _safe(attrs: dict[str, str]) -> dict[str, str]:
    return {k: for_document(v) for k, v in attrs.items()}


def _sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, _safe(attrs))


def _timestamp(at: datetime) -> str:
    """ISO 8601 in UTC without offset or fraction: ``2026-12-01T07:00:00``."""
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S")


def _seconds(start: datetime, end: datetime | None) -> str:
    return f"{max((end - start).total_seconds(), 0.0):.3f}" if end is not None else "0.000"


def _span(loc: Location) -> str:
    """``path line 3-7`` (or ``line 3``, or the path alone)."""
    if loc.start_line is None:
        return loc.path
    end = f"-{loc.end_line}" if loc.end_line not in (None, loc.start_line) else ""
    return f"{loc.path} line {loc.start_line}{end}"


def _case(suite: ET.Element, r: Result) -> None:
    attrs = {"classname": f"{r.target}.{r.check}", "name": f"{r.check} [{r.resource}]", "time": "0.000"}
    where = place(r)
    if where.location is not None:
        attrs["file"] = where.location.path
        if where.location.start_line is not None:
            attrs["line"] = str(where.location.start_line)
    case = _sub(suite, "testcase", **attrs)
    observed = json.dumps(thaw(r.observed), sort_keys=True, ensure_ascii=False, default=str)
    lines = [f"criterion: {r.criterion}", f"observed: {observed}",
             f"clauses: {', '.join(r.clauses)}", f"evidence: {', '.join(r.evidence)}"]
    if where.location is not None:
        lines.append(f"location: {_span(where.location)}")
    elif where.refused:
        lines.append(f"location: {where.refused}")
    if r.remediation:
        lines.append(f"remediation: {r.remediation}")
    detail = for_document("\n".join(lines))
    if r.status is Status.FAIL:
        _sub(case, "failure", message=r.message, type=r.severity.value).text = detail
    elif r.status is Status.ERROR:
        _sub(case, "error", message=r.message, type="error").text = detail
    elif r.status in _SKIPPED:
        reason = f"{r.status.value}: {r.message}"
        if r.waiver:
            reason += f" (waiver by {r.waiver.approved_by} until {r.waiver.expires}: {r.waiver.reason})"
        _sub(case, "skipped", message=reason)
    steps = "".join(f"\n{c.describe()}" for c in r.steps)  # a challenge's steps, whatever its result
    out = r.message + (f"\nchallenge steps ({r.impact}):{steps}" if steps else "")
    _sub(case, "system-out").text = for_document(out)


def _totals(results: list[Result]) -> dict[str, str]:
    return {"tests": str(len(results)),
            "failures": str(sum(r.status is Status.FAIL for r in results)),
            "errors": str(sum(r.status is Status.ERROR for r in results)),
            "skipped": str(sum(r.status in _SKIPPED for r in results))}


def render(run: Run, out: TextIO, **_: Any) -> None:
    info = run.info
    by_target: dict[str, list[Result]] = defaultdict(list)
    for r in run.results:
        by_target[r.target].append(r)
    end = info.ended or max((r.at for r in run.results), default=None)
    root = ET.Element("testsuites", _safe({"name": f"gxpscan {info.tool_version}", **_totals(list(run.results)),
                                           "time": _seconds(info.started, end),
                                           "timestamp": _timestamp(info.started)}))
    for n, (target, results) in enumerate(sorted(by_target.items())):
        suite = _sub(root, "testsuite", name=target, **_totals(results),
                     time=_seconds(info.started, max(r.at for r in results)),
                     timestamp=_timestamp(info.started), hostname=target, id=str(n), package=f"gxpscan.{target}")
        props = _sub(suite, "properties")
        for key in ("id", "tool_version", "checks_fingerprint", "operator", "inventory_sha256"):
            _sub(props, "property", name=f"gxpscan.{key}", value=str(getattr(info, key)))
        for r in sorted(results, key=lambda r: (r.check, r.resource)):
            _case(suite, r)
        _sub(suite, "system-out")
        _sub(suite, "system-err")
    ET.indent(root)
    out.write(ET.tostring(root, encoding="unicode", xml_declaration=True))
    out.write("\n")
