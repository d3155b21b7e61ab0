"""SARIF 2.1.0: one rule per check, one result per failing, erroring or waived finding.

What code-scanning consumers need (valid against the OASIS SARIF 2.1.0 schema):

- a finding with a location gets a ``physicalLocation``: a host file as a ``file://`` URI
  (``file:///etc/login.defs``), a file in scanned code as a URI relative to the repository root
  (``uriBaseId`` ``%SRCROOT%``, declared in ``originalUriBaseIds``), with the line region where known; a code
  path that would leave the repository is refused (``reports.location``) and the location says so in its
  message; every finding also keeps a logical location ``target/resource``;
- ``partialFingerprints`` that stay the same from run to run for the same check, target and resource (not the
  time, not the message), so an alert is tracked rather than opened anew;
- ``properties.security-severity`` on rules and results as GitHub reads it (a number in a string, 0.0 to 10.0:
  critical 9.5, high 8.0, medium 5.5, low 2.0, info 0.0), and the tag ``security``;
- ``properties.risk`` on a result (issue 17: low to critical, with ``gxpImpact`` and ``gxpImpactDeclared``); it is
  not mapped to ``security-severity``, which GitHub reads from the rule: a rule spans systems of different GxP
  impact, so one number per rule cannot carry a per-system risk;
- rule ``help`` (text and Markdown) with the acceptance criterion and the remediation;
- ``invocations[0].executionSuccessful`` false when the run was interrupted or any check ended in error, each
  error as a ``toolExecutionNotification``; run warnings as ``toolConfigurationNotifications``.

Every string goes through ``reports.text.for_document`` (controls and undecodable bytes from a target become
visible escapes) and the file is written with ``reports.text.json_text``.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, TextIO
from urllib.parse import quote

from reports.location import place
from reports.text import document_strings, json_text
from scanner.model import Location, Result, Run, Severity, Status, thaw

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: Key of our fingerprint in ``partialFingerprints``; the version changes if what it covers changes.
FINGERPRINT = "gxpscanFinding/v1"
_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
          Severity.LOW: "note", Severity.INFO: "note"}
#: GitHub code scanning: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                     Severity.LOW: "2.0", Severity.INFO: "0.0"}
_REPORTED = (Status.FAIL, Status.ERROR, Status.WAIVED)
#: The base of every relative artifact URI: the root of the scanned repository (GitHub resolves it to the checkout).
SRCROOT = "%SRCROOT%"


def fingerprint(r: Result) -> str:
    """Stable identity of a finding across runs: check, target and resource only."""
    key = "\0".join((r.check, r.target, r.resource)).encode("utf-8", "surrogatepass")
    return hashlib.sha256(key).hexdigest()[:32]


def _uri(path: str) -> str:
    """A host path as a ``file://`` URI, a relative (code) path as a relative URI; percent-encoded."""
    try:
        data = path.encode("utf-8", "surrogateescape")  # an undecodable byte goes back to being that byte
    except UnicodeEncodeError:
        data = path.encode("utf-8", "surrogatepass")
    encoded = quote(data, safe="/")
    return f"file://{encoded}" if path.startswith("/") else encoded


def _physical(loc: Location) -> dict[str, Any]:
    artifact = {"uri": _uri(loc.path)}
    if not loc.path.startswith("/"):  # relative to the repository root, as code scanning resolves it
        artifact["uriBaseId"] = SRCROOT
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if loc.start_line is not None and loc.start_line >= 1:
        region = {"startLine": loc.start_line}
        if loc.end_line is not None and loc.end_line >= loc.start_line:
            region["endLine"] = loc.end_line
        physical["region"] = region
    return physical


def _location(r: Result) -> dict[str, Any]:
    out: dict[str, Any] = {"logicalLocations": [{"name": r.resource, "fullyQualifiedName": f"{r.target}/{r.resource}",
                                                 "kind": "resource"}]}
    where = place(r)
    if where.location is not None:
        out["physicalLocation"] = _physical(where.location)
    elif where.refused:
        out["message"] = {"text": where.refused}
    return out


def _result(r: Result, rule_index: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": r.check, "ruleIndex": rule_index,
        "level": "error" if r.status is Status.ERROR else _LEVEL[r.severity],
        "kind": "fail" if r.status is not Status.ERROR else "review",
        "message": {"text": f"{r.target}: {r.message}"},
        "locations": [_location(r)],
        "partialFingerprints": {FINGERPRINT: fingerprint(r)},
        "properties": {"status": r.status.value, "target": r.target, "observed": thaw(r.observed),
                       "clauses": list(r.clauses), "evidence": list(r.evidence),
                       "security-severity": SECURITY_SEVERITY[r.severity],
                       **({"risk": r.risk.level.value, "gxpImpact": r.risk.impact,
                           "gxpImpactDeclared": r.risk.declared} if r.risk is not None else {}),
                       **({"challenge": {"impact": r.impact, "steps": [thaw(c) for c in r.steps]}} if r.steps else {})},
    }
    if r.waiver:
        out["suppressions"] = [{"kind": "external", "status": "accepted",
                                "justification": f"{r.waiver.reason} (approved by {r.waiver.approved_by}, "
                                                 f"expires {r.waiver.expires})"}]
    return out


def _rule(r: Result, results: list[Result]) -> dict[str, Any]:
    """The rule of ``r.check``; criterion and remediation from the first of its results that has them."""
    criterion = next((x.criterion for x in results if x.criterion), "")
    remediation = next((x.remediation for x in results if x.remediation), "") or "(no remediation given)"
    return {
        "id": r.check, "name": r.check,
        "shortDescription": {"text": criterion or r.check},
        "fullDescription": {"text": f"Acceptance criterion: {criterion or '(none given)'}"},
        "help": {"text": f"Acceptance criterion: {criterion or '(none given)'}\nRemediation: {remediation}",
                 "markdown": f"**Acceptance criterion:** {_md(criterion or '(none given)')}\n\n"
                             f"**Remediation:** {_md(remediation)}"},
        "defaultConfiguration": {"level": _LEVEL[r.severity]},
        "properties": {"severity": r.severity.value, "area": r.area.value, "clauses": list(r.clauses),
                       "security-severity": SECURITY_SEVERITY[r.severity],
                       "tags": ["security", "compliance", r.area.value]},
    }


def _md(text: str) -> str:
    """Text as literal Markdown: characters that would format, link or open HTML are backslash-escaped."""
    return "".join("\\" + ch if ch in "\\`*_[]<>#|~&" else ch for ch in text)


def _utc(at: datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _invocation(run: Run, index: dict[str, int]) -> dict[str, Any]:
    info = run.info
    errors = [r for r in run.results if r.status is Status.ERROR]
    notifications = [{"level": "error", "message": {"text": f"{r.target}: {r.check} [{r.resource}]: {r.message}"},
                      "associatedRule": {"id": r.check, "index": index[r.check]}} for r in errors]
    if info.interrupted:
        notifications.append({"level": "error", "message": {"text": "the scan was interrupted before it finished"}})
    invocation: dict[str, Any] = {
        "executionSuccessful": not info.interrupted and not errors,
        "startTimeUtc": _utc(info.started),
        "properties": {"operator": info.operator, "runId": info.id, "checksFingerprint": info.checks_fingerprint},
    }
    if info.ended:
        invocation["endTimeUtc"] = _utc(info.ended)
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    if info.warnings:
        invocation["toolConfigurationNotifications"] = [{"level": "warning", "message": {"text": w}}
                                                        for w in info.warnings]
    return invocation


def render(run: Run, out: TextIO, **_: Any) -> None:
    by_check: dict[str, list[Result]] = {}
    for r in run.results:
        by_check.setdefault(r.check, []).append(r)
    checks = sorted(by_check)
    index = {check: i for i, check in enumerate(checks)}
    doc = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "gxpscan", "version": run.info.tool_version,
                                "informationUri": "https://github.com/gxpscan/gxpscan",
                                "rules": [_rule(by_check[c][0], by_check[c]) for c in checks]}},
            "originalUriBaseIds": {SRCROOT: {"description": {"text": "The root of the scanned repository: paths of "
                                                                     "findings on code are relative to it."}}},
            "invocations": [_invocation(run, index)],
            "results": [_result(r, index[r.check]) for r in run.results if r.status in _REPORTED],
        }],
    }
    out.write(json_text(document_strings(doc)))
    out.write("\n")
