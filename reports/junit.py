"""JUnit XML: one test suite per target, one test case per check x target x resource."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any, TextIO

from scanner.model import Result, Run, Status

_SKIPPED = {Status.NOT_APPLICABLE, Status.MANUAL, Status.WAIVED}


def _case(suite: ET.Element, r: Result) -> None:
    case = ET.SubElement(suite, "testcase", classname=f"{r.target}.{r.check}", name=f"{r.check} [{r.resource}]")
    detail = "\n".join([f"criterion: {r.criterion}", f"observed: {dict(r.observed)}",
                        f"clauses: {', '.join(r.clauses)}", f"evidence: {', '.join(r.evidence)}"])
    if r.status is Status.FAIL:
        ET.SubElement(case, "failure", message=r.message, type=r.severity.value).text = detail
    elif r.status is Status.ERROR:
        ET.SubElement(case, "error", message=r.message, type="error").text = detail
    elif r.status in _SKIPPED:
        reason = f"{r.status.value}: {r.message}"
        if r.waiver:
            reason += f" (waiver by {r.waiver.approved_by} until {r.waiver.expires}: {r.waiver.reason})"
        ET.SubElement(case, "skipped", message=reason)
    ET.SubElement(case, "system-out").text = r.message


def render(run: Run, out: TextIO, **_: Any) -> None:
    by_target: dict[str, list[Result]] = defaultdict(list)
    for r in run.results:
        by_target[r.target].append(r)
    root = ET.Element("testsuites", name=f"gxpscan {run.info.tool_version}", tests=str(len(run.results)))
    for target, results in sorted(by_target.items()):
        suite = ET.SubElement(
            root, "testsuite", name=target, tests=str(len(results)),
            failures=str(sum(r.status is Status.FAIL for r in results)),
            errors=str(sum(r.status is Status.ERROR for r in results)),
            skipped=str(sum(r.status in _SKIPPED for r in results)),
            timestamp=run.info.started.isoformat(), hostname=target)
        props = ET.SubElement(suite, "properties")
        for key in ("id", "tool_version", "checks_fingerprint", "operator", "inventory_sha256"):
            ET.SubElement(props, "property", name=f"gxpscan.{key}", value=str(getattr(run.info, key)))
        for r in sorted(results, key=lambda r: (r.check, r.resource)):
            _case(suite, r)
    ET.indent(root)
    out.write(ET.tostring(root, encoding="unicode", xml_declaration=True))
    out.write("\n")
