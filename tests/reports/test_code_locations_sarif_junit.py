"""Findings on code: the same repository-relative file and line range in SARIF, JUnit and JSON; a hostile path
never points outside the repository in any of them."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from scanner.model import Location, Result, Run
from tests.factories import make_result, make_run
from tests.reports.hostile import rendered
from tests.reports.test_junit import assert_valid_junit
from tests.reports.test_sarif import sarif


def code_result(path: str, start: int | None = 12, end: int | None = 20, **overrides: Any) -> Result:
    fields: dict[str, Any] = dict(status="fail", check="aws.s3.versioning", target="infra", target_type="iac",
                                  resource="module.logs.aws_s3_bucket.audit", location=Location(path, start, end))
    result: Result = make_result(**{**fields, **overrides})
    return result


def outputs(run: Run) -> tuple[dict[str, Any], ET.Element, dict[str, Any]]:
    """SARIF (schema-validated), JUnit (structure-validated) and JSON of ``run``."""
    root = ET.fromstring(rendered("junit", run))
    assert_valid_junit(root)
    return sarif(run), root, json.loads(rendered("json", run))


def test_a_code_finding_has_the_same_repository_relative_file_and_lines_in_every_output() -> None:
    run = make_run([code_result("modules/logs/main.tf"),
                    make_result(status="fail", resource="PASS_MAX_DAYS", location=Location("/etc/login.defs", 25))])
    doc, junit, as_json = outputs(run)
    sarif_run = doc["runs"][0]
    code, host = (r["locations"][0]["physicalLocation"] for r in sarif_run["results"])
    assert code == {"artifactLocation": {"uri": "modules/logs/main.tf", "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 12, "endLine": 20}}
    assert host == {"artifactLocation": {"uri": "file:///etc/login.defs"}, "region": {"startLine": 25, "endLine": 25}}
    assert list(sarif_run["originalUriBaseIds"]) == ["%SRCROOT%"]
    assert "uri" not in sarif_run["originalUriBaseIds"]["%SRCROOT%"]  # no path of the CI machine in the report
    assert sarif_run["results"][0]["locations"][0]["logicalLocations"][0]["name"] == "module.logs.aws_s3_bucket.audit"

    case = next(c for c in junit.iter("testcase") if c.get("classname") == "infra.aws.s3.versioning")
    assert (case.get("file"), case.get("line")) == ("modules/logs/main.tf", "12")
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    assert "location: modules/logs/main.tf line 12-20" in failure.text.split("\n")

    assert [f["location"] for f in as_json["findings"]] == [
        {"path": "modules/logs/main.tf", "start_line": 12, "end_line": 20},
        {"path": "/etc/login.defs", "start_line": 25, "end_line": 25}]


@pytest.mark.parametrize(("path", "shown"), [
    ("modules\\logs\\main.tf", "modules/logs/main.tf"),  # Windows separators
    ("./modules/./logs/x/../main.tf", "modules/logs/main.tf"),
    ("100%.tf", "100%.tf"),  # a literal percent sign is a file name, encoded in the URI
    ("dir with space/main.tf", "dir with space/main.tf"),
])
def test_a_code_path_is_normalised_the_same_way_everywhere(path: str, shown: str) -> None:
    doc, junit, as_json = outputs(make_run([code_result(path)]))
    artifact = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    from urllib.parse import unquote

    assert unquote(artifact["uri"]) == shown and artifact["uriBaseId"] == "%SRCROOT%"
    assert "%" not in artifact["uri"].replace("%25", "").replace("%20", "")
    assert next(junit.iter("testcase")).get("file") == shown
    assert as_json["findings"][0]["location"]["path"] == shown


HOSTILE = ["../../../etc/passwd", "modules/../../outside.tf", "/etc/passwd", "..\\..\\windows\\win.ini",
           "modules\\..\\..\\x.tf", "C:\\Windows\\system.ini", "c:/x.tf", "\\\\server\\share\\x.tf", "//server/x.tf",
           "file:///etc/passwd", "https://example.invalid/x.tf", "~/x.tf", "%2e%2e/%2e%2e/etc/passwd",
           "%2E%2E%2Fetc%2Fpasswd", "%252e%252e/etc/passwd", "%2fetc%2fpasswd", "..%5c..%5cx.tf",
           "%25252525252e%25252525252e/x", "..", ".", "", "a/\0/b"]


@pytest.mark.parametrize("path", HOSTILE)
def test_a_hostile_code_path_cannot_point_outside_the_repository(path: str) -> None:
    doc, junit, as_json = outputs(make_run([code_result(path)]))
    (location,) = doc["runs"][0]["results"][0]["locations"]
    assert "physicalLocation" not in location
    assert location["message"]["text"].endswith("is not a path inside the repository; not shown as a file")
    assert location["logicalLocations"][0]["name"] == "module.logs.aws_s3_bucket.audit"
    case = next(junit.iter("testcase"))
    assert case.get("file") is None and case.get("line") is None
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    assert "not a path inside the repository" in failure.text
    assert as_json["findings"][0]["location"] is None


def test_a_host_file_path_is_not_subject_to_the_repository_rule() -> None:
    """Only code findings are repository-relative: a Linux finding on /etc/passwd keeps its absolute path."""
    _, junit, as_json = outputs(make_run([make_result(status="fail", location=Location("/etc/passwd", 1))]))
    assert next(junit.iter("testcase")).get("file") == "/etc/passwd"
    assert as_json["findings"][0]["location"] == {"path": "/etc/passwd", "start_line": 1, "end_line": 1}
