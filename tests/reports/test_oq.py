"""The OQ record: location and remediation per deviation, run warnings, well-formed for a strict parser."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from scanner.model import Location, Run
from tests.factories import make_result, make_run
from tests.reports.hostile import rendered


def test_oq_record_shows_location_remediation_and_warnings() -> None:
    run = make_run([
        make_result(status="fail", resource="PASS_MAX_DAYS", location=Location("/etc/login.defs", 25),
                    remediation="Set PASS_MAX_DAYS 90 in /etc/login.defs."),
        make_result(check="linux.audit.rules", status="error", location=Location("modules/s3/main.tf", 3, 9)),
    ])
    run = Run(replace(run.info, warnings=("ldap1: plain ldap:// without TLS",)), run.results, run.evidence)
    root = ET.fromstring(rendered("oq", run))
    headings = [h.text for h in root.iter("h2")]
    assert headings[:2] == ["Warnings (1)", "Executed tests"]
    assert [li.text for li in root.iter("li")] == ["ldap1: plain ldap:// without TLS"]
    deviations = root.findall(".//table")[2]
    header = [th.text for th in deviations.iter("th")]
    assert header == ["Test id / target / resource", "Result", "Description", "Remediation", "Disposition"]
    rows = [["".join(td.itertext()) for td in tr.findall("td")] for tr in deviations.findall("tr")[1:]]
    assert rows[0][0].endswith("location: /etc/login.defs, line 25")
    assert rows[0][3] == "Set PASS_MAX_DAYS 90 in /etc/login.defs."
    assert rows[1][0].endswith("location: modules/s3/main.tf, lines 3-9") and rows[1][3] == "\u2014"


def test_oq_names_evidence_by_target_fact_and_index_not_by_its_opaque_id() -> None:
    run = make_run([make_result(target="db:prod", evidence=("ev-0123456789abcdef0123",))])
    evidence = {"ev-0123456789abcdef0123": {**run.evidence["ev-0123456789abcdef0123"], "index": 2}}
    root = ET.fromstring(rendered("oq", Run(run.info, run.results, evidence)))
    links = ["".join(a.itertext()) for a in root.iter("a")]
    assert "db:prod / linux.sshd_effective #2 (ev-0123456789abcdef0123)" in links
    headings = ["".join(h.itertext()) for h in root.iter("h3")]
    assert headings == ["db:prod / linux.sshd_effective #2 (ev-0123456789abcdef0123)"]
