"""The catalog loader (scanner/frameworks.py) on format v2: typed values, errors with file and path, what a run
records of the catalogs, and the `frameworks` text that never claims more than a direct, full clause."""
from __future__ import annotations

import hashlib
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import yaml

from scanner import frameworks
from scanner.frameworks import (
    Automatable,
    CatalogError,
    CatalogStatus,
    Clause,
    ClauseMapping,
    Provenance,
    Strength,
)
from scanner.model import CatalogUse, ClauseUse, MappingUse


def mapping_data(checks: list[str] | None = None, strength: str = "supporting", **extra: Any) -> dict[str, Any]:
    return {"checks": checks or ["linux.ssh.root_login"], "strength": strength,
            "rationale": "Root cannot log in, so every action is traceable to a person.", **extra}


def clause_data(id: str = "1", automatable: str = "partial", mappings: list[dict[str, Any]] | None = None,
                **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": id, "title": "A clause", "summary": "What it asks, in our words.",
                            "automatable": automatable,
                            "mappings": [mapping_data()] if mappings is None else mappings}
    if automatable != "full":
        data["procedural_evidence"] = "The signed access review of the last quarter."
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def catalog_data(clauses: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "framework": "demo", "title": "Demo standard", "version": "2024", "status": "in_force",
        "provenance": {"edition": "Demo 2024, second printing", "effective": "2024-03-01",
                       "amendments": ["2025-01-02: clause 2 reworded by corrigendum 1"],
                       "source": "Demo Standards Body: the demo standard"},
        "clauses": [clause_data()] if clauses is None else clauses,
    }
    data.update(extra)
    return data


def write(directory: Path, **files: dict[str, Any]) -> None:
    for name, data in files.items():
        (directory / name).write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_v2_catalog_loads_into_frozen_typed_values_with_its_file_hash(tmp_path: Path) -> None:
    write(tmp_path, **{"demo.yaml": catalog_data([
        clause_data(),
        clause_data("2", "full", [mapping_data(["linux.time.sync"], "direct"),
                                  mapping_data(["linux.time.sources"], "context",
                                               applies_when={"layer": ["infrastructure", "application"]})],
                    status="superseded", applies_when={"e_signatures": True}),
    ])})
    demo = frameworks.load_catalogs(tmp_path)["demo"]
    assert demo.sha256 == hashlib.sha256((tmp_path / "demo.yaml").read_bytes()).hexdigest()
    assert (demo.version, demo.status) == ("2024", CatalogStatus.IN_FORCE)
    assert demo.provenance == Provenance("Demo 2024, second printing", "2024-03-01",
                                         "Demo Standards Body: the demo standard",
                                         ("2025-01-02: clause 2 reworded by corrigendum 1",), "")
    one = demo.clause("1")
    assert (one.status, one.procedural_evidence, one.checks) == (
        CatalogStatus.IN_FORCE, "The signed access review of the last quarter.", ("linux.ssh.root_login",))
    two = demo.clause("2")
    assert two == Clause(
        id="2", title="A clause", summary="What it asks, in our words.", automatable=Automatable.FULL,
        mappings=(ClauseMapping(("linux.time.sync",), Strength.DIRECT,
                                "Root cannot log in, so every action is traceable to a person."),
                  ClauseMapping(("linux.time.sources",), Strength.CONTEXT,
                                "Root cannot log in, so every action is traceable to a person.",
                                MappingProxyType({"layer": ("infrastructure", "application")}))),
        status=CatalogStatus.SUPERSEDED, applies_when=MappingProxyType({"e_signatures": True}))
    assert two.strength_of("linux.time.sources") is Strength.CONTEXT and two.strength_of("x.y") is None
    assert two.is_direct and not one.is_direct and one.needs_manual_evidence
    with pytest.raises(AttributeError):
        two.status = CatalogStatus.IN_FORCE  # type: ignore[misc]


@pytest.mark.parametrize("data, path, says", [
    (catalog_data([clause_data(mappings=[mapping_data(strength="strong")])]), "clauses[0].mappings[0].strength",
     "is not one of"),
    (catalog_data([clause_data(mappings=[{"checks": ["linux.ssh.root_login"], "strength": "direct"}])]),
     "clauses[0].mappings[0]", "'rationale' is a required property"),
    (catalog_data([clause_data(mappings=[mapping_data(applies_when={"e_signature": True})])]),
     "clauses[0].mappings[0].applies_when", "'e_signature' was unexpected"),
    (catalog_data([clause_data(applies_when={"e_signatures": "yes"})]), "clauses[0].applies_when.e_signatures",
     "is not of type 'boolean'"),
    (catalog_data([clause_data("1", "full", [mapping_data(strength="supporting")])]), "clauses[0].mappings",
     "does not contain items matching"),
    (catalog_data([clause_data(procedural_evidence=None)]), "clauses[0]",
     "'procedural_evidence' is a required property"),
    (catalog_data([clause_data(status="repealed")]), "clauses[0].status", "is not one of"),
    (catalog_data(provenance={"edition": "x", "effective": "2024", "amendments": [], "source": "y"}),
     "provenance.effective", "does not match"),
    (catalog_data([clause_data(), clause_data()]), "clauses[1].id", "duplicate clause id '1'"),
], ids=["strength", "rationale", "mapping-condition-key", "condition-type", "full-without-direct",
        "procedural-evidence", "clause-status", "effective-date", "duplicate-id"])
def test_a_broken_v2_catalog_names_file_and_path(tmp_path: Path, data: dict[str, Any], path: str, says: str) -> None:
    write(tmp_path, **{"broken.yaml": data})
    with pytest.raises(CatalogError) as err:
        frameworks.load_catalogs(tmp_path)
    assert f"broken.yaml: {path}: " in str(err.value)
    assert says in str(err.value)


def test_the_loader_itself_refuses_a_full_clause_without_direct_evidence() -> None:
    """The schema says so too; the model guarantee does not depend on it."""
    data = catalog_data([clause_data("1", "full", [mapping_data(strength="supporting")])])
    assert frameworks._model_problems(data) == [
        "clauses[0].mappings: automatable 'full' needs at least one 'direct' mapping"]
    data = catalog_data([clause_data(procedural_evidence="")])
    assert frameworks._model_problems(data) == [
        "clauses[0].procedural_evidence: required for automatable 'partial' (name the SOP or record a site must "
        "supply)"]


def test_run_use_records_each_catalog_and_the_clauses_of_the_selected_checks(tmp_path: Path) -> None:
    write(tmp_path, **{"demo.yaml": catalog_data([
        clause_data("1", mappings=[mapping_data(["linux.a.b", "linux.c.d"]),
                                   mapping_data(["linux.a.b"], "context", applies_when={"system_type": "open"})]),
        clause_data("2", mappings=[mapping_data(["linux.e.f"])]),
    ], status="draft")})
    cats = frameworks.load_catalogs(tmp_path)
    used, clauses = frameworks.run_use(cats, ["linux.a.b"])
    assert used == (CatalogUse("demo", "Demo standard", "Demo 2024, second printing", "2024-03-01", "draft",
                               cats["demo"].sha256),)
    assert clauses == (ClauseUse("demo:1", "A clause", "partial", "draft",
                                 "The signed access review of the last quarter.",
                                 (MappingUse(("linux.a.b",), "supporting"),
                                  MappingUse(("linux.a.b",), "context", MappingProxyType({"system_type": "open"})))),)


def test_frameworks_text_shows_strengths_conditions_and_procedural_evidence(tmp_path: Path) -> None:
    write(tmp_path, **{"demo.yaml": catalog_data([
        clause_data("1", mappings=[mapping_data(["linux.a.b"], applies_when={"signing_credentials": True})],
                    applies_when={"e_signatures": True}),
        clause_data("2", "full", [mapping_data(["linux.e.f"], "direct")]),
        clause_data("3", "manual", []),
        clause_data("4", mappings=[mapping_data(["linux.g.h"], "context")], status="draft"),
    ])})
    text = frameworks.render_framework_text(frameworks.load_catalogs(tmp_path)["demo"])
    blocks = {b.split("  ", 1)[0]: b for b in text.split("\n\n")}
    assert text.splitlines()[:4] == ["Demo standard (demo), version 2024, in force",
                                     "Edition: Demo 2024, second printing", "Effective: 2024-03-01",
                                     "Source: Demo Standards Body: the demo standard"]
    assert "Amended: 2025-01-02: clause 2 reworded by corrigendum 1" in text
    assert blocks["1"].splitlines()[1:] == [
        "    What it asks, in our words.",
        "    applies only when: e_signatures: true",
        "    checks: linux.a.b (supporting; only when signing_credentials: true)",
        "        why: Root cannot log in, so every action is traceable to a person.",
        "    needs: scan results plus procedural evidence: The signed access review of the last quarter."]
    assert "needs: scan results (a direct check; no procedural record named)" in blocks["2"]
    assert "needs: procedural evidence only: The signed access review" in blocks["3"]
    assert blocks["4"].startswith("4  A clause  [partial] (DRAFT, not in force)")
    assert "needs: procedural evidence (no check gives evidence yet): The signed" in blocks["4"]
    assert "no manual evidence" not in text
    assert text.splitlines()[-1] == ("4 clauses: 1 full, 2 partial, 1 manual; 3 distinct checks; mappings: 1 direct, "
                                     "1 supporting, 1 context")


def test_packaged_part11_prints_no_scan_only_clause() -> None:
    """Issue 16: `gxpscan frameworks part11` printed "needs: scan results (no manual evidence)" for 11.300(b)."""
    text = frameworks.render_framework_text(frameworks.load_catalogs()["part11"])
    assert "no manual evidence" not in text and "needs: scan results (a direct check" not in text
    block = next(b for b in text.split("\n\n") if b.startswith("11.300(b)  "))
    assert "applies only when: e_signatures: true" in block
    assert "(supporting; only when signing_credentials: true)" in block


def test_coverage_markdown_shows_strength_per_mapping(tmp_path: Path) -> None:
    write(tmp_path, **{"demo.yaml": catalog_data([
        clause_data("1", mappings=[mapping_data(["linux.a.b"], applies_when={"signing_credentials": True}),
                                   mapping_data(["linux.c.d"], "context")])], framework="part11")})
    text = frameworks.coverage_markdown(frameworks.load_catalogs(tmp_path))
    assert "| Framework | Version | Status | Clauses | Full | Partial | Manual | Clauses with checks | Distinct " \
           "checks | Direct | Supporting | Context |" in text
    assert "| 1 | A clause | partial | - | `linux.a.b` (supporting, when signing_credentials: true); " \
           "`linux.c.d` (context) |" in text
    assert "the scan result is the evidence" not in text
