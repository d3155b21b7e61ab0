"""SARIF 2.1.0: one rule per check, one result per failing, erroring or waived finding.

Resources that are files (infrastructure-as-code) get a physical location; everything else a logical one.
"""
from __future__ import annotations

import json
from typing import Any, TextIO

from scanner.model import Result, Run, Severity, Status

_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
          Severity.LOW: "note", Severity.INFO: "note"}
_REPORTED = (Status.FAIL, Status.ERROR, Status.WAIVED)


def _location(r: Result) -> dict[str, Any]:
    if r.target_type == "iac":
        path, _, line = r.resource.partition(":")
        region = {"startLine": int(line)} if line.isdigit() else {}
        return {"physicalLocation": {"artifactLocation": {"uri": path}, **({"region": region} if region else {})}}
    return {"logicalLocations": [{"name": r.resource, "fullyQualifiedName": f"{r.target}/{r.resource}",
                                  "kind": "resource"}]}


def _result(r: Result, rule_index: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": r.check, "ruleIndex": rule_index,
        "level": "error" if r.status is Status.ERROR else _LEVEL[r.severity],
        "kind": "fail" if r.status is not Status.ERROR else "review",
        "message": {"text": f"{r.target}: {r.message}"},
        "locations": [_location(r)],
        "properties": {"status": r.status.value, "target": r.target, "observed": dict(r.observed),
                       "clauses": list(r.clauses), "evidence": list(r.evidence)},
    }
    if r.waiver:
        out["suppressions"] = [{"kind": "external", "status": "accepted",
                                "justification": f"{r.waiver.reason} (approved by {r.waiver.approved_by}, "
                                                 f"expires {r.waiver.expires})"}]
    return out


def render(run: Run, out: TextIO, **_: Any) -> None:
    checks = sorted({r.check: r for r in run.results}.values(), key=lambda r: r.check)
    index = {r.check: i for i, r in enumerate(checks)}
    rules = [{"id": r.check, "name": r.check, "shortDescription": {"text": r.criterion or r.check},
              "defaultConfiguration": {"level": _LEVEL[r.severity]},
              "properties": {"severity": r.severity.value, "area": r.area.value, "clauses": list(r.clauses)}}
             for r in checks]
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "gxpscan", "version": run.info.tool_version,
                                "informationUri": "https://github.com/gxpscan/gxpscan", "rules": rules}},
            "invocations": [{"executionSuccessful": not run.info.interrupted,
                             "startTimeUtc": run.info.started.isoformat().replace("+00:00", "Z"),
                             **({"endTimeUtc": run.info.ended.isoformat().replace("+00:00", "Z")}
                                if run.info.ended else {}),
                             "properties": {"operator": run.info.operator, "runId": run.info.id,
                                            "checksFingerprint": run.info.checks_fingerprint}}],
            "results": [_result(r, index[r.check]) for r in run.results if r.status in _REPORTED],
        }],
    }
    json.dump(doc, out, indent=2, default=str)
    out.write("\n")
