from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from reports import FORMATS, render
from scanner.inventory import schema
from scanner.model import Waiver
from tests.factories import make_result, make_run


def rendered(fmt: str, run, **kw) -> str:
    out = io.StringIO()
    render(fmt, run, out, **kw)
    return out.getvalue()


def sample_run():
    waiver = Waiver(check="linux.password.max_age", target="host3", reason="CAPA-7 vendor system",
                    approved_by="qa.lead", expires="2999-01-01")
    return make_run([
        make_result(),
        make_result(status="fail", target="host2", severity="critical"),
        make_result(check="linux.audit.rules", status="error", target="host2", message="auditctl: permission denied"),
        make_result(check="linux.password.max_age", status="waived", target="host3", waiver=waiver),
        make_result(check="linux.backup.recent", status="manual", target="host3"),
        make_result(check="linux.crypto.disk_encryption", status="not_applicable", target="host3"),
    ])


def test_json_report_validates_against_the_published_schema():
    doc = json.loads(rendered("json", sample_run()))
    jsonschema.validate(doc, schema("result"))
    assert doc["run"]["counts"] == {"pass": 1, "fail": 1, "error": 1, "not_applicable": 1, "waived": 1, "manual": 1}
    f = doc["findings"][1]
    assert (f["check"], f["target"], f["status"], f["severity"]) == (
        "linux.ssh.root_login", "host2", "fail", "critical")
    assert f["clauses"] == ["part11:11.10(d)", "annex11:12.1", "iso27001-2022:8.5"]
    assert f["evidence"] == ["host2:linux.sshd_effective#0"] and f["evidence"][0] in doc["evidence"]
    assert doc["findings"][3]["waiver"]["approved_by"] == "qa.lead"


def test_schema_rejects_a_finding_without_status():
    doc = json.loads(rendered("json", sample_run()))
    del doc["findings"][0]["status"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema("result"))


def test_junit_has_one_case_per_check_target_resource_with_the_right_outcome():
    root = ET.fromstring(rendered("junit", sample_run()))
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert len(cases) == 6
    assert [e.tag for e in cases[("host2.linux.ssh.root_login", "linux.ssh.root_login [sshd]")]][:1] == ["failure"]
    assert cases[("host2.linux.audit.rules", "linux.audit.rules [sshd]")].find("error").get("message") == \
        "auditctl: permission denied"
    skipped = cases[("host3.linux.password.max_age", "linux.password.max_age [sshd]")].find("skipped")
    assert "waiver by qa.lead" in skipped.get("message")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert (suites["host2"].get("failures"), suites["host2"].get("errors"), suites["host3"].get("skipped")) == (
        "1", "1", "3")


def test_sarif_reports_failures_errors_and_waivers_as_suppressed():
    doc = json.loads(rendered("sarif", sample_run()))
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0" and run["tool"]["driver"]["name"] == "gxpscan"
    levels = sorted((r["ruleId"], r["level"], "suppressions" in r) for r in run["results"])
    assert levels == [("linux.audit.rules", "error", False), ("linux.password.max_age", "error", True),
                      ("linux.ssh.root_login", "error", False)]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in run["results"])


def test_console_summarises_and_lists_what_needs_attention_without_colour_off_a_tty():
    text = rendered("console", sample_run())
    assert "\033[" not in text
    assert "auditctl: permission denied" in text and "part11:11.10(d)" in text
    lines = [ln.split() for ln in text.splitlines()]
    assert ["fail", "1"] in lines and ["pass", "1"] in lines
    coloured = rendered("console", sample_run(), colour=True)
    assert "\033[31mfail\033[0m" in coloured


def test_console_marks_an_interrupted_run():
    assert "INTERRUPTED" in rendered("console", make_run(interrupted=True))


def test_every_format_is_registered_and_offered_by_the_cli():
    from scanner.cli import FORMAT_NAMES

    assert set(FORMATS) == set(FORMAT_NAMES) == {"console", "json", "junit", "sarif", "gitlab-sast", "oq",
                                                  "pdf", "csv", "compliance-csv", "dashboard"}


def test_oq_record_traces_each_test_to_criterion_observed_evidence_and_deviations():
    from html.parser import HTMLParser

    run = sample_run()
    page = rendered("oq", run)
    HTMLParser().feed(page)  # well-formed enough to parse
    assert page.count("<tr") >= 6 and run.info.checks_fingerprint in page and "tester@lab" in page
    assert "Deviations (2)" in page  # one fail, one error
    assert "root cannot log in" in page and "&quot;PermitRootLogin&quot;: &quot;no&quot;" in page
    assert "id='ev-host2:linux.sshd_effective#0'" in page and "permitrootlogin no" in page
    assert "CAPA-7 vendor system" in page


def test_oq_record_escapes_target_output():
    run = make_run([make_result(message="<script>alert(1)</script>")])
    assert "<script>alert" not in rendered("oq", run)


def test_nested_observed_values_are_shown_as_data_not_as_python_reprs():
    import html

    from scanner.model import freeze

    observed = freeze({"users": [{"name": "bob", "groups": {"wheel"}}], "limits": {"max": 90}})
    run = make_run([make_result(status="fail", observed=observed)])
    expected = {"limits": {"max": 90}, "users": [{"groups": ["wheel"], "name": "bob"}]}
    as_json = json.dumps(expected, sort_keys=True)
    assert json.loads(rendered("sarif", run))["runs"][0]["results"][0]["properties"]["observed"] == expected
    failure = ET.fromstring(rendered("junit", run)).find(".//failure")
    assert f"observed: {as_json}\n" in failure.text
    assert html.escape(as_json) in rendered("oq", run)
    assert json.loads(rendered("json", run))["findings"][0]["observed"] == expected
