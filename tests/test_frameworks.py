"""The framework catalogs (checks/frameworks/*.yaml) and their loader (scanner/frameworks.py)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner import frameworks
from scanner.frameworks import Automatable, CatalogError, CatalogStatus

ROOT = Path(__file__).resolve().parents[1]
CATALOG_DIR = ROOT / "checks" / "frameworks"
SCHEMA = ROOT / "scanner" / "schemas" / "catalog.schema.json"

#: Every Part 11 id of shared/reference/clauses.md (Subparts B and C), in regulation order.
PART11_IDS = [
    "11.10(a)", "11.10(b)", "11.10(c)", "11.10(d)", "11.10(e)", "11.10(f)", "11.10(g)", "11.10(h)",
    "11.10(i)", "11.10(j)", "11.10(k)(1)", "11.10(k)(2)", "11.30", "11.50(a)", "11.50(b)", "11.70",
    "11.100(a)", "11.100(b)", "11.100(c)", "11.200(a)(1)", "11.200(a)(1)(i)", "11.200(a)(1)(ii)",
    "11.200(a)(2)", "11.200(a)(3)", "11.200(b)", "11.300(a)", "11.300(b)", "11.300(c)", "11.300(d)",
    "11.300(e)",
]

#: Annex 11 (2011): the Principle and every numbered clause, sub-clauses where the annex has them.
ANNEX11_IDS = (
    ["Principle", "1", "2", "3.1", "3.2", "3.3", "3.4"] + [f"4.{i}" for i in range(1, 9)]
    + ["5", "6", "7.1", "7.2", "8.1", "8.2", "9", "10", "11", "12.1", "12.2", "12.3", "12.4",
       "13", "14", "15", "16", "17"]
)

#: ISO/IEC 27001:2022 Annex A id ranges: 5.1-5.37, 6.1-6.8, 7.1-7.14, 8.1-8.34.
ISO2022_IDS = [f"{theme}.{i}" for theme, n in ((5, 37), (6, 8), (7, 14), (8, 34)) for i in range(1, n + 1)]

#: ISO/IEC 27001:2013 -> 2022 crosswalk of shared/reference/clauses.md, with the pairs issue 16 added
#: (A.8.1.1, A.12.1.1, A.14.2.2, A.16.1.7, A.17.1.2).
ISO2013_TO_2022 = {
    "A.8.1.1": ["5.9"], "A.9.1.1": ["5.15"], "A.9.1.2": ["5.15"], "A.9.2.1": ["5.16"], "A.9.2.2": ["5.18"],
    "A.9.2.3": ["8.2"], "A.9.2.4": ["5.17"], "A.9.2.5": ["5.18"], "A.9.2.6": ["5.18"], "A.9.3.1": ["5.17"],
    "A.9.4.1": ["8.3"], "A.9.4.2": ["8.5"], "A.9.4.3": ["5.17"], "A.9.4.4": ["8.18"], "A.10.1.1": ["8.24"],
    "A.10.1.2": ["8.24"], "A.12.1.1": ["5.37"], "A.12.1.2": ["8.32"], "A.12.2.1": ["8.7"], "A.12.3.1": ["8.13"],
    "A.12.4.1": ["8.15"], "A.12.4.2": ["8.15"], "A.12.4.3": ["8.15"], "A.12.4.4": ["8.17"], "A.12.6.1": ["8.8"],
    "A.13.1.1": ["8.20"], "A.13.1.2": ["8.21"], "A.13.1.3": ["8.22"], "A.13.2.1": ["5.14"], "A.13.2.2": ["5.14"],
    "A.13.2.3": ["5.14"], "A.14.2.2": ["8.32"], "A.16.1.7": ["5.28"], "A.17.1.2": ["5.29"], "A.17.2.1": ["8.14"],
    "A.18.1.3": ["5.33"],
}

@pytest.fixture(scope="module")
def catalogs() -> dict[str, frameworks.Catalog]:
    return frameworks.load_catalogs()


@pytest.fixture(scope="module")
def registry():
    from scanner.registry import Registry

    return Registry.load()


def ids(catalog: frameworks.Catalog) -> list[str]:
    return [c.id for c in catalog.clauses]


# --- factories for catalog data ----------------------------------------------------------------------------

RATIONALE = "Root cannot log in, so every action is traceable to a person."


def clause_data(checks: list[str] | None = None, strength: str = "direct", **overrides: Any) -> dict[str, Any]:
    """A format v2 clause; ``checks`` become one mapping of ``strength``."""
    data: dict[str, Any] = {
        "id": "1", "title": "A clause", "summary": "What it asks, in our words.", "automatable": "full",
        "mappings": [{"checks": ["linux.ssh.root_login"] if checks is None else checks, "strength": strength,
                      "rationale": RATIONALE}]}
    if overrides.get("automatable", "full") != "full":
        data["procedural_evidence"] = "The signed access review of the last quarter."
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def catalog_data(clauses: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    data = {"framework": "demo", "title": "Demo framework", "version": "1", "status": "in_force",
            "provenance": {"edition": "Demo, first edition", "effective": "2024-01-01", "amendments": [],
                           "source": "A public document"},
            "clauses": clauses if clauses is not None else [clause_data()]}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def write_catalogs(directory: Path, **files: Any) -> Path:
    for name, data in files.items():
        text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
        (directory / name).write_text(text)
    return directory


# --- the packaged catalogs ---------------------------------------------------------------------------------

def test_load_catalogs_gives_the_five_frameworks_in_order(catalogs) -> None:
    assert list(catalogs) == ["part11", "annex11", "annex11-2025", "iso27001-2022", "iso27001-2013"]
    assert {fid: str(c.status) for fid, c in catalogs.items()} == {
        "part11": "in_force", "annex11": "in_force", "annex11-2025": "draft",
        "iso27001-2022": "in_force", "iso27001-2013": "superseded"}
    assert all(isinstance(c.automatable, Automatable) for cat in catalogs.values() for c in cat.clauses)


def test_part11_has_every_clause_of_the_reference(catalogs) -> None:
    assert ids(catalogs["part11"]) == PART11_IDS


def test_annex11_2011_has_the_principle_and_every_numbered_clause(catalogs) -> None:
    assert ids(catalogs["annex11"]) == ANNEX11_IDS


def test_annex11_2025_draft_is_chapter_level_and_marked_draft(catalogs) -> None:
    draft = catalogs["annex11-2025"]
    assert draft.status is CatalogStatus.DRAFT
    assert ids(draft) == [str(i) for i in range(1, 18)]
    assert [c.title for c in draft.clauses][10:12] == ["Identity and Access Management", "Audit Trails"]


def test_iso27001_2022_has_exactly_the_93_annex_a_controls(catalogs) -> None:
    assert len(ISO2022_IDS) == 93
    assert ids(catalogs["iso27001-2022"]) == ISO2022_IDS


@pytest.mark.parametrize("control, title", [
    ("5.1", "Policies for information security"), ("5.15", "Access control"), ("5.17", "Authentication information"),
    ("5.23", "Information security for use of cloud services"), ("5.37", "Documented operating procedures"),
    ("6.8", "Information security event reporting"), ("7.14", "Secure disposal or re-use of equipment"),
    ("8.5", "Secure authentication"), ("8.17", "Clock synchronization"), ("8.24", "Use of cryptography"),
    ("8.34", "Protection of information systems during audit testing"),
])
def test_iso27001_2022_titles(catalogs, control: str, title: str) -> None:
    assert catalogs["iso27001-2022"].clause(control).title == title


@pytest.mark.parametrize("fid", ["part11", "annex11", "annex11-2025"])
def test_regulation_clauses_have_an_own_words_summary(catalogs, fid: str) -> None:
    assert [c.id for c in catalogs[fid].clauses if len(c.summary) < 40] == []


def test_iso27001_2013_has_the_crosswalk_ids_each_with_its_2022_counterparts(catalogs) -> None:
    old = catalogs["iso27001-2013"]
    assert ids(old) == list(ISO2013_TO_2022)
    assert {c.id: [r.split(":", 1)[1] for r in c.related] for c in old.clauses} == ISO2013_TO_2022


def test_related_refs_resolve(catalogs) -> None:
    known = {cat.ref(c) for cat in catalogs.values() for c in cat.clauses}
    refs = [(cat.ref(c), r) for cat in catalogs.values() for c in cat.clauses for r in c.related]
    assert len(refs) > 100
    assert [(src, r) for src, r in refs if r not in known] == []


def test_every_referenced_check_exists_in_the_registry(catalogs, registry) -> None:
    referenced: dict[str, str] = {}
    for cat in catalogs.values():
        for clause in cat.clauses:
            for cid in clause.checks:
                referenced.setdefault(cid, cat.ref(clause))
    unknown = sorted(f"{cid} (first in {ref})" for cid, ref in referenced.items() if cid not in registry.ids())
    assert unknown == []


# --- a broken catalog gives an error naming the file and the path ------------------------------------------

@pytest.mark.parametrize("data, path, says", [
    (catalog_data([clause_data(automatable="sometimes")]), "clauses[0].automatable", "is not one of"),
    (catalog_data([clause_data(title=None)]), "clauses[0]", "'title' is a required property"),
    (catalog_data([clause_data(), clause_data(id="2", checks=["Linux SSH"])]), "clauses[1].mappings[0].checks[0]",
     "does not match"),
    (catalog_data([clause_data(automatable="manual")]), "clauses[0].mappings[0].strength",
     "'context' was expected"),
    (catalog_data([clause_data(sumary="typo")]), "clauses[0]", "'sumary' was unexpected"),
    (catalog_data([clause_data(related=["part 11 d"])]), "clauses[0].related[0]", "does not match"),
    (catalog_data(status="final"), "status", "is not one of"),
    (catalog_data(clauses=[]), "clauses", "should be non-empty"),
    (catalog_data([clause_data(), clause_data()]), "clauses[1].id", "duplicate clause id '1'"),
], ids=["automatable", "missing-title", "check-id", "manual-with-checks", "unknown-key", "related-ref",
        "status", "no-clauses", "duplicate-id"])
def test_broken_catalog_error_names_file_and_path(tmp_path: Path, data: dict, path: str, says: str) -> None:
    write_catalogs(tmp_path, **{"broken.yaml": data})
    with pytest.raises(CatalogError) as err:
        frameworks.load_catalogs(tmp_path)
    assert f"broken.yaml: {path}: " in str(err.value)
    assert says in str(err.value)


def test_unresolved_related_ref_names_file_and_path(tmp_path: Path) -> None:
    write_catalogs(tmp_path, **{
        "a.yaml": catalog_data(framework="alpha", clauses=[clause_data(related=["beta:1"])]),
        "b.yaml": catalog_data(framework="beta", clauses=[clause_data(related=["alpha:1", "alpha:9"])]),
    })
    with pytest.raises(CatalogError, match=re.escape("b.yaml: clauses[0].related[1]: 'alpha:9' names no loaded")):
        frameworks.load_catalogs(tmp_path)


def test_duplicate_framework_id_across_files_is_an_error(tmp_path: Path) -> None:
    write_catalogs(tmp_path, **{"a.yaml": catalog_data(), "b.yaml": catalog_data()})
    with pytest.raises(CatalogError, match=re.escape("b.yaml: framework: 'demo' is also defined in a.yaml")):
        frameworks.load_catalogs(tmp_path)


def test_unparseable_yaml_names_the_file(tmp_path: Path) -> None:
    write_catalogs(tmp_path, **{"bad.yaml": "framework: demo\nclauses: [\n"})
    with pytest.raises(CatalogError, match=r"^bad\.yaml: not valid YAML"):
        frameworks.load_catalogs(tmp_path)


def test_a_valid_directory_loads(tmp_path: Path) -> None:
    write_catalogs(tmp_path, **{"demo.yaml": catalog_data([clause_data(), clause_data(id="2", related=["demo:1"])])})
    demo = frameworks.load_catalogs(tmp_path)["demo"]
    assert demo.clause("2") == frameworks.Clause(
        id="2", title="A clause", summary="What it asks, in our words.", automatable=Automatable.FULL,
        mappings=(frameworks.ClauseMapping(("linux.ssh.root_login",), frameworks.Strength.DIRECT, RATIONALE),),
        related=("demo:1",))
    assert demo.clause("2").checks == ("linux.ssh.root_login",)


# --- queries -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, fid", [
    ("part11", "part11"), ("21cfr11", "part11"), ("21CFR11", "part11"), ("annex11", "annex11"),
    ("annex11-2011", "annex11"), ("annex11-2025", "annex11-2025"), ("iso27001", "iso27001-2022"),
    ("iso27001-2022", "iso27001-2022"), ("iso27001-2013", "iso27001-2013"),
])
def test_resolve_accepts_aliases(name: str, fid: str) -> None:
    assert frameworks.resolve(name) == fid


def test_resolve_rejects_an_unknown_name_with_the_known_ones() -> None:
    with pytest.raises(KeyError) as err:
        frameworks.resolve("sox")
    assert str(err.value).startswith("unknown framework 'sox'; known: ")
    assert "21cfr11" in str(err.value)


def test_checks_for_a_framework_a_clause_and_its_sub_clauses(catalogs) -> None:
    assert frameworks.checks_for(catalogs, "21cfr11") == set(catalogs["part11"].check_ids)
    assert frameworks.checks_for(catalogs, "iso27001", "8.17") == {"linux.time.synchronized",
                                                                   "windows.time.synchronized"}
    assert frameworks.checks_for(catalogs, "part11", "part11:11.100(a)") == {
        "linux.accounts.unique_ids", "ad.shared_accounts", "windows.accounts.unique_ids"}
    annex_12 = frameworks.checks_for(catalogs, "annex11", "12")
    assert annex_12 == set().union(*(set(catalogs["annex11"].clause(f"12.{i}").checks) for i in range(1, 5)))
    # "11.10" covers 11.10(a) ... 11.10(k)(2), never 11.100(a).
    part11_10 = frameworks.checks_for(catalogs, "part11", "11.10")
    assert "aws.config.recorder" in part11_10  # from 11.10(k)(2)
    assert "ad.shared_accounts" not in part11_10  # only in 11.100(a) and 11.300(a)


def test_checks_for_an_unknown_clause_is_a_key_error(catalogs) -> None:
    with pytest.raises(KeyError, match="part11 has no clause '11.99'"):
        frameworks.checks_for(catalogs, "part11", "11.99")


def test_clause_map_inverts_the_catalogs_in_framework_then_document_order(catalogs) -> None:
    cmap = frameworks.clause_map(catalogs)
    assert cmap["linux.time.synchronized"] == (
        "part11:11.10(e)", "annex11:9", "annex11:12.4", "annex11-2025:12", "iso27001-2022:8.17",
        "iso27001-2013:A.12.4.4")
    pairs = {(cid, cat.ref(c)) for cat in catalogs.values() for c in cat.clauses for cid in c.checks}
    assert {(cid, ref) for cid, refs in cmap.items() for ref in refs} == pairs


# --- rendering ---------------------------------------------------------------------------------------------

def _table_rows(markdown: str, heading: str) -> list[list[str]]:
    block = markdown.split(heading, 1)[1].split("\n\n#### ", 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("| ")][1:]  # without the header row
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_coverage_markdown_summarises_each_framework_and_details_part11_and_annex11(catalogs) -> None:
    text = frameworks.coverage_markdown(catalogs)
    summary = {row[0]: row[1:] for row in _table_rows("\n" + text, "\n")}
    assert summary["ISO/IEC 27001:2022 Annex A (`iso27001-2022`)"][2] == "93"
    assert summary["EU GMP Annex 11 - Computerised Systems (draft revision) (`annex11-2025`)"][1] == "draft"
    for fid, row in zip(catalogs, summary.values(), strict=True):
        clauses, full, partial, manual, with_checks = map(int, row[2:7])
        assert full + partial + manual == clauses and with_checks <= clauses
        direct, supporting, context = map(int, row[8:11])
        assert direct + supporting + context == sum(len(m.checks) for c in catalogs[fid].clauses for m in c.mappings)
    part11 = {r[0]: r for r in _table_rows(text, "(`part11`)\n")}
    assert list(part11) == PART11_IDS
    assert part11["11.10(f)"][2] == "manual"
    assert "`linux.ssh.root_login`" in part11["11.10(d)"][4] and "(supporting)" in part11["11.10(d)"][4]
    assert part11["11.300(b)"][3] == "e_signatures: true"
    assert "(supporting, when signing_credentials: true)" in part11["11.300(b)"][4]
    assert [r[0] for r in _table_rows(text, "(`annex11`)\n")] == ANNEX11_IDS


def test_readme_coverage_section_is_current(catalogs) -> None:
    readme = (ROOT / "README.md").read_text() if (ROOT / "README.md").exists() else ""
    found = re.search(r"<!-- coverage:start -->\n(.*?)<!-- coverage:end -->", readme, flags=re.S)
    if not found:
        pytest.skip("README.md has no coverage markers")
    assert found.group(1).strip() == frameworks.coverage_markdown(catalogs).strip(), (
        "README coverage section is stale: run python scripts/readme_coverage.py")


def test_render_framework_text_shows_each_clause_its_checks_and_manual_need(catalogs) -> None:
    text = frameworks.render_framework_text(catalogs["part11"])
    blocks = {b.split("  ", 1)[0]: b for b in text.split("\n\n")[1:-1]}
    assert list(blocks) == PART11_IDS
    assert "needs: procedural evidence only: " in blocks["11.10(f)"]
    assert "needs: scan results plus procedural evidence: " in blocks["11.300(b)"]  # it was "no manual evidence"
    assert "needs: scan results plus procedural evidence: " in blocks["11.10(e)"]
    assert "linux.time.synchronized" in blocks["11.10(e)"]
    assert "needs: procedural evidence (no check gives evidence yet): " in blocks["11.10(b)"]
    assert "no manual evidence" not in text
    assert text.splitlines()[-1].startswith("30 clauses: ")
    assert "DRAFT, not in force" in frameworks.render_framework_text(catalogs["annex11-2025"]).splitlines()[0]


def test_import_is_light() -> None:
    """`gxpscan --help` imports nothing heavy: jsonschema and yaml load only when catalogs are read."""
    code = "import sys, scanner.frameworks; print(sorted(m for m in ('jsonschema', 'yaml') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- through the CLI ---------------------------------------------------------------------------------------

def test_cli_frameworks_lists_the_catalogs_and_shows_one(capsys) -> None:
    from scanner.cli import EXIT_OK, main

    assert main(["frameworks"]) == EXIT_OK
    listing = capsys.readouterr().out
    assert [line.split()[0] for line in listing.splitlines()[2:]] == [
        "part11", "annex11", "annex11-2025", "iso27001-2022", "iso27001-2013"]
    assert main(["frameworks", "21cfr11"]) == EXIT_OK
    shown = capsys.readouterr().out
    assert "11.10(e)  Secure, computer-generated, time-stamped audit trails  [partial]" in shown


def test_cli_rejects_an_unknown_framework_or_clause_as_usage_error(capsys) -> None:
    from scanner.cli import EXIT_INPUT, main

    assert main(["frameworks", "sox"]) == EXIT_INPUT
    assert "unknown framework 'sox'" in capsys.readouterr().err
    assert main(["checks", "--framework", "part11", "--clause", "11.99"]) == EXIT_INPUT
    assert "part11 has no clause '11.99'" in capsys.readouterr().err


def test_cli_checks_for_a_clause_lists_the_catalogued_checks_with_their_clauses(catalogs, capsys) -> None:
    from scanner.cli import EXIT_OK, main

    assert main(["checks", "--framework", "annex11", "--clause", "12.3", "--json"]) == EXIT_OK
    listed = json.loads(capsys.readouterr().out)
    assert sorted(c["id"] for c in listed) == sorted(catalogs["annex11"].clause("12.3").checks)
    assert all("annex11:12.3" in c["clauses"] for c in listed)


# --- names and order are data ------------------------------------------------------------------------------

def test_aliases_and_order_come_from_the_catalog_files(tmp_path: Path) -> None:
    write_catalogs(tmp_path, **{
        "b.yaml": catalog_data(framework="bee", aliases=["b-std", "bstd"], order=1),
        "a.yaml": catalog_data(framework="ay", order=2),
        "c.yaml": catalog_data(framework="cee"),
    })
    cats = frameworks.load_catalogs(tmp_path)
    assert list(cats) == ["bee", "ay", "cee"]  # by `order`, catalogs without one last
    assert frameworks.resolve("B_STD", cats) == "bee" and frameworks.resolve("ay", cats) == "ay"
    with pytest.raises(KeyError, match="known: ay, b-std, bee, bstd, cee"):
        frameworks.resolve("part11", cats)
    assert frameworks.clause_map(cats)["linux.ssh.root_login"] == ("bee:1", "ay:1", "cee:1")


def test_no_alias_table_or_order_list_in_python() -> None:
    source = (ROOT / "scanner" / "frameworks.py").read_text()
    assert "21cfr11" not in source and "FRAMEWORK_ORDER" not in source and "ALIASES" not in source
    packaged = frameworks.load_catalogs()
    assert list(packaged) == ["part11", "annex11", "annex11-2025", "iso27001-2022", "iso27001-2013"]
    assert packaged["part11"].aliases == ("part-11", "21cfr11", "21cfrpart11", "cfr11")


def test_an_alias_naming_two_catalogs_is_an_error(tmp_path: Path) -> None:
    write_catalogs(tmp_path, **{"a.yaml": catalog_data(framework="ay", aliases=["std"]),
                                "b.yaml": catalog_data(framework="bee", aliases=["std"])})
    with pytest.raises(CatalogError, match=r"b\.yaml: name 'std' also names 'ay' \(a\.yaml\)"):
        frameworks.load_catalogs(tmp_path)


@pytest.mark.parametrize("text, message", [
    ("framework: demo\nframework: other\n", "demo.yaml: not valid YAML: line 2, column 1: (top level): "
                                            "duplicate key 'framework' (first at line 1)"),
    ("framework: &f demo\ntitle: *f\n", "YAML anchors (&f) are not accepted"),
])
def test_catalogs_use_the_strict_yaml_loader(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "demo.yaml").write_text(text)
    with pytest.raises(CatalogError) as err:
        frameworks.load_catalogs(tmp_path)
    assert message in str(err.value)
