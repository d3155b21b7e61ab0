"""Clause coverage and catalog provenance in the console, the JSON report, the OQ record and the run record
(issue 16): strength per mapping, never "passed" from supporting evidence alone, what to attach, draft and
superseded marks, the SHA-256 of every catalog used."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from scanner.model import CatalogUse, ClauseUse, MappingUse, Run
from tests.factories import make_result, make_run
from tests.reports.hostile import rendered

SHA_P11, SHA_DRAFT = "a" * 64, "b" * 64
ACCESS = "The access authorisation procedure and the last signed access review."
SIGN = "The signature manifestation SOP and a sample signed record."
CATALOGS = (CatalogUse("part11", "21 CFR Part 11", "CFR through 88 FR 13018", "2023-03-02", "in_force", SHA_P11),
            CatalogUse("annex11-2025", "Annex 11 draft", "2025 consultation draft", "2025-07-07", "draft", SHA_DRAFT))
CLAUSES = (
    ClauseUse("part11:11.10(d)", "Limiting system access", "partial", "in_force", ACCESS,
              (MappingUse(("linux.ssh.root_login",), "supporting"),)),
    ClauseUse("part11:11.300(b)", "Identification codes and passwords", "partial", "in_force", SIGN,
              (MappingUse(("linux.ssh.root_login",), "supporting", MappingProxyType({"signing_credentials": True})),),
              MappingProxyType({"e_signatures": True})),
    ClauseUse("annex11-2025:12", "Security", "partial", "draft", ACCESS,
              (MappingUse(("linux.ssh.root_login",), "direct"),)),
)


def coverage_run(context: dict | None = None, **result: object) -> Run:
    clauses = ("part11:11.10(d)", "part11:11.300(b)", "annex11-2025:12")
    run = make_run([make_result(clauses=clauses, **result)])  # type: ignore[arg-type]
    return replace(run, info=replace(run.info, catalogs=CATALOGS, clauses=CLAUSES,
                                     gxp_context=MappingProxyType({"host1": MappingProxyType(context or {})})))


def text(el: ET.Element) -> str:
    return "".join(el.itertext())


def test_console_shows_strength_and_never_passed_from_supporting_evidence() -> None:
    out = rendered("console", coverage_run({"e_signatures": False}), colour=False, width=200,
                   frameworks=["part11", "annex11-2025"])
    lines = out.splitlines()
    assert ("note: catalog annex11-2025 (2025 consultation draft) is a DRAFT, not in force: its clauses are marked "
            "so below") in lines
    start = next(i for i, line in enumerate(lines) if line.startswith("clause ") and "clause coverage" in line)
    table = lines[start + 2:start + 5]
    assert table[0].split()[:4] == ["part11:11.10(d)", "supporting", "1", "technical"]
    assert f"technical part passed, procedural evidence needed: {ACCESS}" in " ".join(table[0].split())
    assert " ".join(table[1].split()).startswith(
        "part11:11.300(b) supporting 1 not applicable: e_signatures is declared false for this target; applies "
        "only when true")
    assert " ".join(table[2].split()).startswith("annex11-2025:12 (DRAFT) direct 1 technical part passed")


def test_oq_record_shows_catalog_provenance_strengths_and_what_to_attach() -> None:
    root = ET.fromstring(rendered("oq", coverage_run()))
    (catalogs,) = [t for t in root.iter("table") if "catalogs" in (t.get("class") or "").split()]
    rows = [[text(td) for td in tr.findall("td")] for tr in catalogs.iter("tr") if tr.findall("td")]
    assert rows == [["part11", "CFR through 88 FR 13018", "2023-03-02", "in force", SHA_P11],
                    ["annex11-2025", "2025 consultation draft", "2025-07-07", "DRAFT, not in force", SHA_DRAFT]]
    step = next(tr for tr in root.iter("tr") if tr.get("class") == "step")
    assert text(step.findall("td")[1]) == ("part11:11.10(d) (supporting)part11:11.300(b) (supporting)"
                                           "annex11-2025:12 (direct; DRAFT, not in force)")
    matrix = {tr.get("data-clause"): [text(td) for td in tr.findall("td")] for tr in root.iter("tr")
              if tr.get("data-clause")}
    assert matrix["part11:11.10(d)"][2:] == ["OQ-LNX-SSH-ROOTLOGIN-host1: PASS (supporting)",
                                             f"Technical part passed, procedural evidence needed: {ACCESS}"]
    assert matrix["annex11-2025:12"][0] == "annex11-2025:12DRAFT, not in force"
    assert "PASS" not in matrix["part11:11.300(b)"][3]  # undeclared e_signatures: applicable, shown as such
    (manual,) = [t for t in root.iter("table") if "manual-entries" in (t.get("class") or "").split()]
    entries = [[text(td) for td in tr.findall("td")][:2] for tr in manual.iter("tr") if tr.findall("td")]
    assert entries == [["part11:11.10(d): Limiting system access (host1)", f"Attach: {ACCESS}"],
                       ["part11:11.300(b): Identification codes and passwords (host1)", f"Attach: {SIGN}"],
                       ["annex11-2025:12: Security (host1)", f"Attach: {ACCESS}"]]


def test_a_manual_result_in_the_oq_record_says_what_to_attach() -> None:
    root = ET.fromstring(rendered("oq", coverage_run(status="manual", message="show the access review")))
    (manual,) = [t for t in root.iter("table") if "manual-entries" in (t.get("class") or "").split()]
    first = [text(td) for td in next(tr for tr in manual.iter("tr") if tr.findall("td")).findall("td")]
    assert first[1] == (f"show the access review (criterion: root cannot log in) Attach: {ACCESS} (part11:11.10(d)); "
                        f"{SIGN} (part11:11.300(b)); {ACCESS} (annex11-2025:12)")


def test_without_a_protocol_the_criteria_are_fixed_in_code_and_profile_not_before_execution() -> None:
    run = coverage_run()
    run = replace(run, info=replace(run.info, profile="gxp-baseline", profile_sha256="c" * 64))
    root = ET.fromstring(rendered("oq", run))
    basis = next(p for p in root.iter("p") if p.get("id") == "criteria-basis")
    assert text(basis).startswith("No approved protocol is reconciled with this run: the acceptance criteria shown "
                                  "are fixed in the tool's code and profile (check code fingerprint and profile "
                                  "SHA-256 above), not in an approved protocol.")


def test_the_run_record_keeps_catalog_hashes_clauses_and_context(tmp_path: Path) -> None:
    import jsonschema

    from scanner.inventory import schema
    from scanner.runner import TargetOutcome
    from scanner.store import RecordWriter, load_record
    from tests.factories import make_target

    run = coverage_run({"e_signatures": True, "layer": "infrastructure"})
    w = RecordWriter(tmp_path / "record.jsonl", run.info)
    w.add(TargetOutcome(make_target("host1"), run.results, dict(run.evidence)))
    w.close()
    again = load_record(tmp_path).info
    assert (again.catalogs, again.clauses) == (CATALOGS, CLAUSES)
    assert again.gxp_context == {"host1": {"e_signatures": True, "layer": "infrastructure"}}
    doc = json.loads(rendered("json", load_record(tmp_path)))
    jsonschema.Draft202012Validator(schema("result")).validate(doc)
    assert [c["sha256"] for c in doc["run"]["catalogs"]] == [SHA_P11, SHA_DRAFT]


def test_a_malformed_catalog_entry_in_a_record_is_a_record_error(tmp_path: Path) -> None:
    import pytest

    from scanner.store import RecordError, RecordWriter, load_record

    w = RecordWriter(tmp_path / "record.jsonl", make_run().info)
    w.close()
    path = tmp_path / "record.jsonl"
    lines = path.read_text().splitlines()
    start = json.loads(lines[0])
    start["run"]["clauses"] = ["not an object"]
    path.write_text("\n".join([json.dumps(start), *lines[1:]]) + "\n")
    with pytest.raises(RecordError, match="line 1"):
        load_record(tmp_path)


def test_a_failed_partial_clause_still_says_what_to_attach_and_a_not_applicable_one_does_not() -> None:
    root = ET.fromstring(rendered("oq", coverage_run({"e_signatures": False}, status="fail")))
    (manual,) = [t for t in root.iter("table") if "manual-entries" in (t.get("class") or "").split()]
    subjects = [text(tr.findall("td")[0]) for tr in manual.iter("tr") if tr.findall("td")]
    assert subjects == ["part11:11.10(d): Limiting system access (host1)", "annex11-2025:12: Security (host1)"]
