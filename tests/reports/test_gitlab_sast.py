"""GitLab's SAST report (security report schema 15.x): valid against the documented required fields, findings on
code on their repository-relative file and lines, hostile paths refused, hostile text escaped."""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scanner import cli
from scanner.cli import EXIT_FAILURES
from scanner.model import Location, Waiver
from tests.engine.gitrepo import init_repo
from tests.factories import make_result, make_run
from tests.reports.hostile import VALUES, hostile_run, in_document, rendered, value_id
from tests.reports.test_code_locations_sarif_junit import HOSTILE, code_result

_TEXT = {"type": "string", "minLength": 1}
_TOOL = {"type": "object", "required": ["id", "name", "version", "vendor"],
         "properties": {"id": _TEXT, "name": _TEXT, "version": _TEXT, "url": {"type": "string"},
                        "vendor": {"type": "object", "required": ["name"], "properties": {"name": _TEXT}}}}
_IDENTIFIER = {"type": "object", "required": ["type", "name", "value"],
               "properties": {"type": {**_TEXT, "maxLength": 255}, "name": {**_TEXT, "maxLength": 255},
                              "value": {**_TEXT, "maxLength": 255}, "url": {"type": "string"}}}
_TIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"}
#: What GitLab's SAST report format 15.x documents as required, with the types and bounds of the fields written
#: (the schema file itself is not shipped by any package that can be installed here).
SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object", "required": ["version", "scan", "vulnerabilities"],
    "properties": {
        "version": {"type": "string", "pattern": r"^15\.\d+\.\d+$"},
        "scan": {"type": "object", "required": ["analyzer", "scanner", "start_time", "end_time", "status", "type"],
                 "properties": {
                     "analyzer": _TOOL, "scanner": _TOOL, "start_time": _TIME, "end_time": _TIME,
                     "status": {"enum": ["success", "failure"]}, "type": {"const": "sast"},
                     "primary_identifiers": {"type": "array", "items": _IDENTIFIER},
                     "messages": {"type": "array", "items": {
                         "type": "object", "required": ["level", "value"],
                         "properties": {"level": {"enum": ["info", "warn", "fatal"]}, "value": {"type": "string"}}}}}},
        "vulnerabilities": {"type": "array", "items": {
            "type": "object", "required": ["id", "identifiers", "location"],
            "properties": {
                "id": _TEXT, "name": {"type": "string", "maxLength": 255},
                "description": {"type": "string", "maxLength": 1048576},
                "solution": {"type": "string", "maxLength": 7000},
                "severity": {"enum": ["Info", "Unknown", "Low", "Medium", "High", "Critical"]},
                "identifiers": {"type": "array", "minItems": 1, "items": _IDENTIFIER},
                "location": {"type": "object", "additionalProperties": False, "properties": {
                    "file": _TEXT, "start_line": {"type": "integer", "minimum": 1},
                    "end_line": {"type": "integer", "minimum": 1}, "class": {"type": "string"},
                    "method": {"type": "string"}}}}}},
    },
}


def literal(text: str) -> str:
    """Markdown that shows ``text`` as it is: every character that formats, links or opens HTML escaped."""
    return "".join("\\" + ch if ch in "\\`*_[]<>#|~&" else ch for ch in text)


def report(run: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(rendered("gitlab-sast", run))
    jsonschema.validate(doc, SCHEMA)
    return doc


def test_failures_and_errors_are_vulnerabilities_on_their_file_and_lines() -> None:
    waiver = Waiver(check="aws.s3.versioning", target="infra", reason="scratch", approved_by="qa.lead",
                    expires="2999-01-01")
    run = make_run([
        code_result("modules/logs/main.tf", severity="medium", remediation="Enable versioning."),
        code_result("main.tf", 3, 9, status="error", resource="aws_s3_bucket.x", message="var.name has no value"),
        code_result("main.tf", 11, 14, status="waived", resource="aws_s3_bucket.tmp", waiver=waiver),
        code_result("main.tf", 20, 24, status="pass", check="aws.s3.encryption", resource="aws_s3_bucket.ok"),
        make_result(status="fail", resource="PASS_MAX_DAYS", location=Location("/etc/login.defs", 25)),
    ])
    doc = report(run)
    got = [(v["name"], v["severity"], v["location"], [i["value"] for i in v["identifiers"]], v.get("solution"))
           for v in doc["vulnerabilities"]]
    clauses = ["part11:11.10(d)", "annex11:12.1", "iso27001-2022:8.5"]
    assert got == [
        ("aws.s3.versioning: root cannot log in", "Medium",
         {"file": "modules/logs/main.tf", "start_line": 12, "end_line": 20}, ["aws.s3.versioning", *clauses],
         "Enable versioning."),
        ("aws.s3.versioning: root cannot log in", "Unknown", {"file": "main.tf", "start_line": 3, "end_line": 9},
         ["aws.s3.versioning", *clauses], None),
        ("linux.ssh.root_login: root cannot log in", "High", {}, ["linux.ssh.root_login", *clauses], None),
    ]
    assert doc["vulnerabilities"][1]["description"].startswith(
        "**Could not be judged** on target infra, resource aws\\_s3\\_bucket.x: var.name has no value")
    scan = doc["scan"]
    assert (scan["type"], scan["status"], scan["analyzer"]["id"], scan["scanner"]["version"]) == (
        "sast", "success", "gxpscan", "0.1.0")
    assert [i["value"] for i in scan["primary_identifiers"]] == ["aws.s3.encryption", "aws.s3.versioning",
                                                                 "linux.ssh.root_login"]
    assert scan["messages"] == [{"level": "info", "value": "infra: aws.s3.versioning [aws_s3_bucket.tmp] waived: "
                                                           "scratch (approved by qa.lead, expires 2999-01-01)"}]


def test_ids_are_stable_across_runs_unique_within_one_and_an_interrupted_scan_is_a_failure() -> None:
    first = report(make_run([code_result("main.tf"), code_result("main.tf")]))
    again = report(make_run([code_result("other.tf", 1, 2, message="changed")], interrupted=True))
    ids = [v["id"] for v in first["vulnerabilities"]]
    assert len(set(ids)) == 2 and ids[0] == again["vulnerabilities"][0]["id"]
    assert all(uuid.UUID(i) for i in ids)
    assert again["scan"]["status"] == "failure"
    assert again["scan"]["messages"][-1] == {"level": "fatal", "value": "the scan was interrupted before it finished"}


@pytest.mark.parametrize("path", HOSTILE)
def test_a_hostile_code_path_is_never_a_file_of_the_report(path: str) -> None:
    (vulnerability,) = report(make_run([code_result(path)]))["vulnerabilities"]
    assert vulnerability["location"] == {}
    assert "is not a path inside the repository; not shown as a file" in vulnerability["description"]


@pytest.mark.parametrize("v", VALUES, ids=value_id)
def test_hostile_text_is_escaped_and_the_file_parses(v: str) -> None:
    text = rendered("gitlab-sast", hostile_run(v))
    assert all(ch == "\n" or 0x20 <= ord(ch) < 0x7F for ch in text)  # the file itself is plain ASCII
    doc = json.loads(text)
    jsonschema.validate(doc, SCHEMA)
    fail = doc["vulnerabilities"][0]
    assert in_document(literal(f"msg{v}")) in fail["description"]
    assert fail["solution"] == in_document(f"fix{v}")
    assert any(in_document(f"warn{v}") == m["value"] for m in doc["scan"]["messages"])


def test_markdown_in_a_finding_is_shown_as_text_and_long_values_are_cut_to_the_bounds() -> None:
    run = make_run([code_result("main.tf", message="[click](javascript:x) <img src=x> *bold*",
                                criterion="c" * 400, remediation="r" * 8000)])
    (v,) = report(run)["vulnerabilities"]
    assert "\\[click\\](javascript:x) \\<img src=x\\> \\*bold\\*" in v["description"]
    assert (len(v["name"]), v["name"][-3:], len(v["solution"])) == (255, "...", 7000)


def test_scan_iac_writes_the_report_gitlab_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = init_repo(tmp_path / "repo")
    repo.write("infra/main.tf", 'resource "aws_kms_key" "bad" {\n  description = "legacy"\n}\n')
    repo.commit("base")
    monkeypatch.chdir(repo.root)
    out = tmp_path / "out"
    assert cli.main(["scan", "--check", "aws.kms.key_rotation", "--format", "gitlab-sast", "--output", str(out),
                     "--iac", "infra", "-q"]) == EXIT_FAILURES
    doc = json.loads((out / "gl-sast-report.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, SCHEMA)
    assert [(v["identifiers"][0]["value"], v["location"]) for v in doc["vulnerabilities"]] == [
        ("aws.kms.key_rotation", {"file": "infra/main.tf", "start_line": 1, "end_line": 3})]


def test_the_report_keeps_no_secret_of_the_run() -> None:
    secret = "AKIA-SECRET-PLANTED-7f3a"
    run = make_run([code_result("main.tf", observed={"password": secret})])
    run = replace(run, evidence={k: {**e, "raw": secret} for k, e in run.evidence.items()})
    assert secret not in rendered("gitlab-sast", run)
