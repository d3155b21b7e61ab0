"""JUnit XML as strict consumers read it: the structure of the Ant/Jenkins JUnit XSD, field by field."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

from scanner.model import Location, Run
from tests.factories import make_result, make_run, make_run_info
from tests.reports.hostile import rendered

#: The XSD's ISO8601_DATETIME_PATTERN: no fraction, no time zone.
TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$")
DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")
START = datetime(2026, 12, 1, 7, 0, 0, 250000, tzinfo=timezone.utc)


def _count(value: str | None) -> int:
    assert value is not None and value.isdigit(), value
    return int(value)


def _time(value: str | None) -> float:
    assert value is not None and DECIMAL.match(value), value
    return float(value)


def assert_valid_junit(root: ET.Element) -> None:
    """Every element and attribute the Ant/Jenkins JUnit XSD requires, with its type, in its order."""
    assert root.tag == "testsuites"
    suites = list(root)
    assert all(s.tag == "testsuite" for s in suites)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for n, suite in enumerate(suites):
        assert suite.get("name") and suite.get("hostname") and suite.get("package")
        assert TIMESTAMP.match(suite.get("timestamp") or ""), suite.get("timestamp")
        assert _count(suite.get("id")) == n
        _time(suite.get("time"))
        children = [c.tag for c in suite]
        assert children[0] == "properties" and children[-2:] == ["system-out", "system-err"]
        assert set(children[1:-2]) <= {"testcase"}
        properties = suite.find("properties")
        assert properties is not None
        for prop in properties:
            assert prop.tag == "property" and prop.get("name") and prop.get("value") is not None
        cases = suite.findall("testcase")
        counted = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
        for case in cases:
            assert case.get("name") and case.get("classname")
            _time(case.get("time"))
            tags = [c.tag for c in case]
            outcome = [t for t in tags if t in ("failure", "error", "skipped")]
            assert len(outcome) <= 1 and tags[len(outcome):] in ([], ["system-out"], ["system-out", "system-err"])
            for tag in outcome:
                counted[{"failure": "failures", "error": "errors", "skipped": "skipped"}[tag]] += 1
                element = case.find(tag)
                assert element is not None and element.get("message") is not None
                if tag != "skipped":
                    assert element.get("type")
            if case.get("line") is not None:
                assert case.get("file") and _count(case.get("line")) >= 1
        for key, value in counted.items():
            assert _count(suite.get(key)) == value, key
            totals[key] += value
    for key, value in totals.items():
        assert _count(root.get(key)) == value, key
    assert _time(root.get("time")) >= max((_time(s.get("time")) for s in suites), default=0.0)


def timed_run() -> Run:
    results = [
        make_result(at=START + timedelta(seconds=3)),
        make_result(status="fail", target="db1", resource="PASS_MAX_DAYS", at=START + timedelta(seconds=12.5),
                    location=Location("/etc/login.defs", 25)),
        make_result(check="linux.audit.rules", status="error", target="db1", at=START + timedelta(seconds=4)),
        make_result(check="linux.backup.recent", status="manual", target="app1", at=START + timedelta(seconds=1)),
    ]
    run = make_run(results)
    return Run(make_run_info(started=START, ended=START + timedelta(seconds=20)), run.results, run.evidence)


def test_junit_has_the_structure_and_totals_strict_consumers_require() -> None:
    root = ET.fromstring(rendered("junit", timed_run()))
    assert_valid_junit(root)
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == {
        "tests": "4", "failures": "1", "errors": "1", "skipped": "1", "time": "20.000"}
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert {n: (s.get("time"), s.get("timestamp"), s.get("hostname")) for n, s in suites.items()} == {
        "app1": ("1.000", "2026-12-01T07:00:00", "app1"),
        "db1": ("12.500", "2026-12-01T07:00:00", "db1"),
        "host1": ("3.000", "2026-12-01T07:00:00", "host1"),
    }
    assert all(c.get("time") == "0.000" for c in root.iter("testcase"))


def test_junit_timestamp_is_utc_without_zone_for_a_start_in_another_offset() -> None:
    local = START.astimezone(timezone(timedelta(hours=5, minutes=30)))
    run = timed_run()
    run = Run(make_run_info(started=local, ended=None), run.results, run.evidence)
    root = ET.fromstring(rendered("junit", run))
    assert_valid_junit(root)
    assert {s.get("timestamp") for s in root.iter("testsuite")} == {"2026-12-01T07:00:00"}
    assert root.get("time") == "12.500"  # not ended: up to the last finding


def test_junit_case_carries_file_line_and_remediation() -> None:
    run = make_run([make_result(status="fail", resource="PASS_MAX_DAYS", location=Location("/etc/login.defs", 25, 26),
                                remediation="Set PASS_MAX_DAYS 90.")])
    (case,) = ET.fromstring(rendered("junit", run)).iter("testcase")
    assert (case.get("file"), case.get("line")) == ("/etc/login.defs", "25")
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    assert failure.text.splitlines()[-2:] == ["location: /etc/login.defs line 25-26",
                                              "remediation: Set PASS_MAX_DAYS 90."]


def test_an_empty_run_is_still_a_valid_document() -> None:
    root = ET.fromstring(rendered("junit", make_run([])))
    assert_valid_junit(root)
    assert (root.get("tests"), root.get("time")) == ("0", "0.000")
