"""The OQ execution record: location and remediation per deviation, run warnings, stable test ids, systems under
test, traceability matrix, deviation log, manual entries, summary, signatures (11.50), the protocol
reconciliation, site templates; well-formed for a strict parser."""
from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from scanner.model import Location, Run, SignatureRecord
from scanner.protocol import ClauseScope, Protocol, ProtocolTest, check_record
from tests.factories import make_result, make_run
from tests.reports.hostile import VALUES, hostile_run, in_document, rendered, value_id


def text(el: ET.Element) -> str:
    return "".join(el.itertext())


def table(root: ET.Element, cls: str) -> tuple[list[str], list[list[str]]]:
    (t,) = [t for t in root.iter("table") if cls in (t.get("class") or "").split()]
    header = [text(th) for th in t.iter("th")] if t.find("thead") is not None else []
    body = t.find("tbody")
    assert body is not None
    return header, [[text(td) for td in tr.findall("td")] for tr in body.findall("tr")]


def rows_by_test(root: ET.Element, cls: str) -> dict[str, list[ET.Element]]:
    out: dict[str, list[ET.Element]] = {}
    for t in root.iter("table"):
        if cls in (t.get("class") or "").split():
            for tr in t.iter("tr"):
                if tr.get("data-test-id") is not None:
                    out.setdefault(tr.get("data-test-id", ""), []).append(tr)
    return out


def test_oq_record_shows_location_remediation_and_warnings() -> None:
    run = make_run([
        make_result(status="fail", resource="PASS_MAX_DAYS", location=Location("/etc/login.defs", 25),
                    remediation="Set PASS_MAX_DAYS 90 in /etc/login.defs."),
        make_result(check="linux.audit.rules", status="error", location=Location("modules/s3/main.tf", 3, 9)),
    ])
    run = Run(replace(run.info, warnings=("ldap1: plain ldap:// without TLS",)), run.results, run.evidence)
    root = ET.fromstring(rendered("oq", run))
    headings = [h.text for h in root.iter("h2")]
    assert headings[:3] == ["Warnings (1)", "Systems under test", "Executed tests"]
    assert [li.text for li in root.iter("li")] == ["ldap1: plain ldap:// without TLS"]
    header, rows = table(root, "deviations")
    assert header == ["Id", "Test id / target / resource", "Result", "Description", "Impact", "Remediation",
                      "Disposition / CAPA"]
    assert rows[0][0] == "DEV-001" and rows[0][1] == (
        "OQ-LNX-SSH-ROOTLOGIN-host1 / host1 / PASS_MAX_DAYSlocation: /etc/login.defs, line 25")
    assert rows[0][5] == "Set PASS_MAX_DAYS 90 in /etc/login.defs." and rows[0][6] == ""
    assert rows[0][4].startswith("The acceptance criterion is not met on host1 (severity high)")
    assert rows[1][1].endswith("location: modules/s3/main.tf, lines 3-9") and rows[1][5] == "\u2014"
    assert rows[1][2] == "ERROR" and rows[1][4].startswith("The result could not be determined on host1")


def test_oq_names_evidence_by_target_fact_and_index_not_by_its_opaque_id() -> None:
    run = make_run([make_result(target="db:prod", evidence=("ev-0123456789abcdef0123",))])
    evidence = {"ev-0123456789abcdef0123": {**run.evidence["ev-0123456789abcdef0123"], "index": 2}}
    root = ET.fromstring(rendered("oq", Run(run.info, run.results, evidence)))
    links = ["".join(a.itertext()) for a in root.iter("a")]
    assert "db:prod / linux.sshd_effective #2 (ev-0123456789abcdef0123)" in links
    headings = ["".join(h.itertext()) for h in root.iter("h3")]
    assert headings == ["db:prod / linux.sshd_effective #2 (ev-0123456789abcdef0123)"]


def test_each_test_has_its_stable_id_and_one_step_per_resource() -> None:
    run = make_run([make_result(resource="a"), make_result(resource="b", status="fail"),
                    make_result(check="linux.password.max_age", target="db:prod")])
    root = ET.fromstring(rendered("oq", run))
    steps = rows_by_test(root, "executed")
    assert list(steps) == ["OQ-LNX-SSH-ROOTLOGIN-host1",
                           "OQ-LNX-PASSWORD-MAXAGE-db_prod~" + hashlib.sha256(b"db:prod").hexdigest()[:8]]
    numbers = [tr.find("td/b").text for tr in steps["OQ-LNX-SSH-ROOTLOGIN-host1"]]  # type: ignore[union-attr]
    assert numbers == ["OQ-LNX-SSH-ROOTLOGIN-host1.1", "OQ-LNX-SSH-ROOTLOGIN-host1.2"]
    _, summary = table(root, "summary")
    assert summary[1] == ["2: FAIL 1, PASS 1"]  # tests: the first fails (one of its steps failed)


def test_executed_by_names_the_operator_and_the_system_under_test() -> None:
    run = make_run([make_result(target="web01"), make_result(target="web02")])
    systems = {"web01": {"hostname": "web01.lab", "os": "Debian GNU/Linux", "os_version": "12",
                         "kernel": "6.1.0-18-amd64"}}
    run = Run(replace(run.info, operator_name="Jane Q. Validator"), run.results, run.evidence, systems=systems)
    root = ET.fromstring(rendered("oq", run))
    info = text(next(t for t in root.iter("table") if t.get("class") == "info"))
    assert "Executed byJane Q. Validator (tester@lab)" in info
    _, rows = table(root, "systems")
    assert rows == [["web01", "hostname: web01.labos: Debian GNU/Linuxos_version: 12kernel: 6.1.0-18-amd64"],
                    ["web02", "\u2014 not collected by this run"]]
    unnamed = ET.fromstring(rendered("oq", make_run()))
    assert "tester@lab (no printed name recorded)" in text(unnamed)


def test_traceability_matrix_is_ordered_by_requirement_with_tests_and_results() -> None:
    a = make_result(check="linux.ssh.root_login", clauses=("part11:11.10(d)", "annex11:12.1"))
    b = make_result(check="linux.password.max_age", status="fail",
                    clauses=("part11:11.10(d)", "part11:11.300(b)", "annex11:12.1", "iso27001-2022:5.17"))
    c = make_result(check="linux.audit.auditd", clauses=("part11:11.10(e)", "annex11:9"))
    root = ET.fromstring(rendered("oq", make_run([a, c, b])))
    header, rows = table(root, "matrix")
    assert header == ["Requirement", "Title", "Tests and results", "Requirement result"]
    assert [r[0] for r in rows] == ["part11:11.10(d)", "part11:11.10(e)", "part11:11.300(b)", "annex11:9",
                                    "annex11:12.1", "iso27001-2022:5.17"]
    assert rows[0][2:] == ["OQ-LNX-SSH-ROOTLOGIN-host1: PASSOQ-LNX-PASSWORD-MAXAGE-host1: FAIL", "FAIL"]
    assert rows[1][2:] == ["OQ-LNX-AUDIT-AUDITD-host1: PASS", "PASS"]


def _protocol(tests: list[tuple[str, str]], clauses: tuple[ClauseScope, ...] = (),
              inventory_sha256: str = "1" * 64) -> Protocol:
    from scanner.protocol import test_id

    return Protocol(
        document_id="OQP-LAB", version="3", title="t", objective="o", created="2026-11-30T10:00:00+00:00",
        author="qa@lab", tool_version="0.1.0", checks_fingerprint="0" * 64, inventory="inv.yaml",
        inventory_sha256=inventory_sha256, frameworks=("part11",), selection="s", systems=(), clauses=clauses,
        out_of_scope=(), prerequisites=(),
        tests=tuple(ProtocolTest(test_id(c, t), c, "title", t, "linux", "high", "access_control",
                                 ("part11:11.10(d)",), f"approved criterion for {c}", (), (), "PASS")
                    for c, t in tests))


def test_with_a_recorded_protocol_the_record_reconciles_and_states_criteria_were_fixed() -> None:
    protocol = _protocol([("linux.ssh.root_login", "host1"), ("linux.ssh.password_auth", "host1")],
                         clauses=(ClauseScope("part11:11.10(d)", "Limiting access", "", "partial",
                                              ("OQ-LNX-SSH-ROOTLOGIN-host1", "OQ-LNX-SSH-PASSWORDAUTH-host1"),
                                              "Access authorisation records are reviewed."),))
    run = make_run([make_result(), make_result(check="linux.time.sync")])
    run = Run(replace(run.info, protocol_sha256="a" * 64), run.results, run.evidence)
    root = ET.fromstring(rendered("oq", run, protocol=protocol))
    basis = next(p for p in root.iter("p") if p.get("id") == "criteria-basis")
    assert text(basis).startswith("Acceptance criteria were fixed before execution in the approved protocol "
                                  "OQP-LAB version 3 (SHA-256 " + "a" * 64)
    _, devs = table(root, "deviations")
    assert [(d[1], d[2]) for d in devs] == [("OQ-LNX-SSH-PASSWORDAUTH-host1 / host1", "NOT EXECUTED"),
                                           ("OQ-LNX-TIME-SYNC-host1 / host1", "UNPLANNED")]
    executed = rows_by_test(root, "executed")
    assert "approved criterion for linux.ssh.root_login" in text(executed["OQ-LNX-SSH-ROOTLOGIN-host1"][0])
    assert "not in the protocol" in text(executed["OQ-LNX-TIME-SYNC-host1"][0])
    deviation_ids = rows_by_test(root, "deviations")
    assert check_record(protocol, executed, deviation_ids) == []  # structural validation of the document
    _, matrix = table(root, "matrix")
    assert matrix[0] == ["part11:11.10(d)", "Limiting access",
                         "OQ-LNX-SSH-ROOTLOGIN-host1: PASSOQ-LNX-SSH-PASSWORDAUTH-host1: NOT EXECUTED"
                         "OQ-LNX-TIME-SYNC-host1: PASSmanual: Access authorisation records are reviewed.",
                         "NOT EXECUTED"]
    _, manual = table(root, "manual-entries")
    assert manual == [["part11:11.10(d): Limiting access", "Access authorisation records are reviewed.", "", ""]]


@pytest.mark.parametrize("protocol_sha256, give, problem", [
    ("", False, ""),  # no protocol at all
    ("a" * 64, False,
     "The run executed protocol SHA-256 " + "a" * 64 + ", but that protocol was not available to this report."),
    ("", True, "A protocol was given, but the run did not record executing one."),
])
def test_no_claim_of_fixed_criteria_without_a_reconciled_protocol(protocol_sha256: str, give: bool,
                                                                  problem: str) -> None:
    run = make_run()
    run = Run(replace(run.info, protocol_sha256=protocol_sha256), run.results, run.evidence)
    page = rendered("oq", run, protocol=_protocol([("linux.ssh.root_login", "host1")]) if give else None)
    root = ET.fromstring(page)
    assert "fixed before execution in" not in page
    basis = next(p for p in root.iter("p") if p.get("id") == "criteria-basis")
    assert "They are not shown to have been fixed before execution." in text(basis)
    _, devs = table(root, "deviations")
    protocol_devs = [d for d in devs if d[2] == "PROTOCOL"]
    assert [d[3] for d in protocol_devs] == ([problem] if problem else [])


def test_a_protocol_for_another_inventory_is_a_deviation() -> None:
    run = make_run([make_result()])
    run = Run(replace(run.info, protocol_sha256="a" * 64), run.results, run.evidence)
    root = ET.fromstring(rendered("oq", run, protocol=_protocol([("linux.ssh.root_login", "host1")],
                                                                inventory_sha256="9" * 64)))
    _, devs = table(root, "deviations")
    assert [d[2] for d in devs] == ["CHANGED"] and "9" * 64 in devs[0][3]


def test_manual_results_get_a_place_for_attached_evidence_and_an_interrupted_run_is_a_deviation() -> None:
    run = make_run([make_result(status="manual", message="show the signed access review")], interrupted=True)
    root = ET.fromstring(rendered("oq", run))
    header, manual = table(root, "manual-entries")
    assert header == ["Test or requirement", "What is verified", "Attached evidence (reference)", "Verified by / date"]
    assert manual == [["OQ-LNX-SSH-ROOTLOGIN-host1.1 / host1 / sshd",
                       "show the signed access review (criterion: root cannot log in)", "", ""]]
    _, devs = table(root, "deviations")
    assert [d[2] for d in devs] == ["INTERRUPTED"]
    conclusion = next(td for td in root.iter("td") if td.get("id") == "conclusion")
    assert text(conclusion).startswith("1 deviation(s) are recorded.")


def test_signature_block_lists_recorded_signatures_with_meaning_and_empty_lines_otherwise() -> None:
    run = make_run()
    root = ET.fromstring(rendered("oq", Run(replace(run.info, operator_name="Jane Q. Validator"), run.results,
                                            run.evidence)))
    header, rows = table(root, "signatures")
    assert header == ["Role", "Printed name", "Meaning", "Date and time (UTC)", "Signature"]
    assert rows == [["Executed by", "Jane Q. Validator", "I executed the tests as recorded", "", ""],
                    ["Reviewed by", "", "I reviewed this record and its deviations", "", ""],
                    ["Approved by (QA)", "", "I approve this record", "", ""]]
    signed = SignatureRecord("reviewer", "R. Reviewer", "Reviewed and approved",
                             datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc), "k" * 64, "m" * 64)
    root = ET.fromstring(rendered("oq", Run(run.info, run.results, run.evidence, signatures=(signed,))))
    _, rows = table(root, "signatures")
    assert rows[0][:4] == ["Reviewed by", "R. Reviewer", "Reviewed and approved", "2026-12-01T09:30:00+00:00"]
    assert "k" * 64 in rows[0][4] and "m" * 64 in rows[0][4]
    assert [r[0] for r in rows[1:]] == ["Executed by", "Approved by (QA)"]


def test_long_evidence_is_shown_as_an_excerpt_and_observed_values_are_bounded() -> None:
    run = make_run([make_result(observed={"users": [f"u{i}" for i in range(3000)]})])
    ref = run.results[0].evidence[0]
    evidence = {ref: {**run.evidence[ref], "raw": "\n".join(f"line {i}" for i in range(500))}}
    root = ET.fromstring(rendered("oq", Run(run.info, run.results, evidence)))
    (pre,) = root.iter("pre")
    assert (pre.text or "").split("\n")[59] == "line 59"
    assert (pre.text or "").endswith("\u2026 (excerpt; the run record keeps the whole output)")
    observed = text(next(iter(rows_by_test(root, "executed").values()))[0])
    assert "more characters in the run record)" in observed


@pytest.mark.parametrize("v", VALUES[::7], ids=value_id)
def test_a_site_template_is_used_and_still_escapes(tmp_path: Path, v: str) -> None:
    (tmp_path / "oq-record.html.j2").write_text(
        '{% extends "oq-base.html.j2" %}{% block content %}<p class="brand">ACME Pharma QA</p>'
        '{% for t in tests %}<p class="t">{{ t.id }} {{ t.steps[0].result.message }}</p>{% endfor %}'
        '{% endblock %}')
    page = rendered("oq", hostile_run(v), template_dir=str(tmp_path))
    root = ET.fromstring(page)
    paragraphs = {p.get("class"): text(p) for p in root.iter("p")}
    assert paragraphs["brand"] == "ACME Pharma QA"
    assert paragraphs["t"].endswith(f"msg{in_document(v)}")
    assert "<script" not in page
    scripted = hostile_run("<script>alert(1)</script>")
    assert "<script>" not in rendered("oq", scripted, template_dir=str(tmp_path))


@pytest.mark.parametrize("v", VALUES[::5], ids=value_id)
def test_the_protocol_document_is_well_formed_and_shows_hostile_names_escaped(v: str) -> None:
    import io

    from reports.oq import render_protocol
    from scanner import frameworks as fw
    from scanner.protocol import build_protocol
    from scanner.registry import Registry
    from tests.factories import make_target

    registry = Registry.load()
    target = replace(make_target(name=f"host{v}<b>", policy={"password_max_age_days": 30}), tags=(f"tag{v}",))
    protocol = build_protocol([target], registry.select(["linux.password.*"]), fw.load_catalogs(), ["part11"],
                              document_id=f"OQP{v}", version="1", created="2026-12-01T08:00:00+00:00",
                              author="qa@lab", tool_version="0.1.0", checks_fingerprint="0" * 64,
                              inventory="inv.yaml", inventory_sha256="1" * 64)
    out = io.StringIO()
    render_protocol(protocol, "d" * 64, out)
    root = ET.fromstring(out.getvalue())
    d = in_document(v)
    rows = {tr.get("data-test-id"): text(tr) for tr in root.iter("tr") if tr.get("data-test-id")}
    assert set(rows) == {t.id for t in protocol.tests}
    (max_age,) = [r for tid, r in rows.items() if "MAXAGE" in (tid or "")]
    assert f"host{d}<b> (linux)" in max_age and "password_max_age_days = 30" in max_age
    assert f"OQP{d}, version 1" in text(root)
    assert f"tag{d}" in text(root)  # a joined list too
