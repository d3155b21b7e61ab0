"""Applicability and clause coverage (issue 16): gxp_context in the inventory, clauses and mappings that do not
apply, "applicability not declared", the records retention as a threshold, and clause verdicts that never say
"passed" from supporting or context evidence alone."""
from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest

from scanner.coverage import Applicability, Verdict, applicability, coverage, coverage_dicts
from scanner.inventory import InventoryError, load_inventory
from scanner.model import ClauseUse, MappingUse, Run
from tests.factories import make_result, make_run

PROCEDURE = "The SOP that makes signers accountable, and its training records."


@pytest.mark.parametrize("condition, context, state, why", [
    ({}, {}, Applicability.APPLIES, ""),
    ({"e_signatures": True}, {"e_signatures": True}, Applicability.APPLIES, ""),
    ({"e_signatures": True}, {"e_signatures": False}, Applicability.NOT_APPLICABLE,
     "e_signatures is declared false for this target; applies only when true"),
    ({"system_type": "open"}, {"system_type": "closed"}, Applicability.NOT_APPLICABLE,
     "system_type is declared closed for this target; applies only when open"),
    ({"layer": ("application", "infrastructure")}, {"layer": "infrastructure"}, Applicability.APPLIES, ""),
    ({"layer": ("application",)}, {"layer": "infrastructure"}, Applicability.NOT_APPLICABLE,
     "layer is declared infrastructure for this target; applies only when application"),
    ({"e_signatures": True, "signing_credentials": True}, {"e_signatures": True}, Applicability.UNDECLARED,
     "applicability not declared (signing_credentials not in the target's gxp_context): treated as applicable"),
    ({"e_signatures": True}, {"e_signatures": 1}, Applicability.NOT_APPLICABLE,
     "e_signatures is declared 1 for this target; applies only when true"),  # 1 is not true
])
def test_applicability(condition: dict[str, Any], context: dict[str, Any], state: Applicability, why: str) -> None:
    assert applicability(condition, context) == (state, why)


# --- the inventory ---------------------------------------------------------------------------------------------

def test_gxp_context_merges_groups_then_the_target_and_feeds_the_retention_threshold() -> None:
    inv = load_inventory({"version": 1,
                          "groups": {"gxp": {"gxp_context": {"e_signatures": True, "layer": "infrastructure"}},
                                     "lims": {"gxp_context": {"system_type": "closed", "e_signatures": False}}},
                          "targets": [{"name": "a", "type": "linux", "groups": ["gxp", "lims"],
                                       "gxp_context": {"records_retention_days": 3650}},
                                      {"name": "b", "type": "linux"}]})
    a, b = inv.targets
    assert dict(a.gxp_context) == {"e_signatures": False, "layer": "infrastructure", "system_type": "closed",
                                   "records_retention_days": 3650}
    assert a.policy["records_retention_days"] == 3650 and "gxp_context" not in a.options
    assert dict(b.gxp_context) == {} and "records_retention_days" not in b.policy


@pytest.mark.parametrize("context, problem", [
    ({"e_signatures": "no"}, "targets[0].gxp_context.e_signatures: 'no' is not of type 'boolean'"),
    ({"system_type": "half-open"}, "targets[0].gxp_context.system_type: 'half-open' is not one of"),
    ({"records_retention_days": 0}, "targets[0].gxp_context.records_retention_days: 0 is less than the minimum"),
    ({"esignatures": True}, "targets[0].gxp_context: Additional properties are not allowed ('esignatures'"),
])
def test_a_bad_gxp_context_names_the_path(context: dict[str, Any], problem: str) -> None:
    with pytest.raises(InventoryError) as err:
        load_inventory({"version": 1, "targets": [{"name": "a", "type": "linux", "gxp_context": context}]})
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_a_group_gxp_context_fault_names_the_group() -> None:
    with pytest.raises(InventoryError) as err:
        load_inventory({"version": 1, "groups": {"g": {"gxp_context": {"layer": "network"}}},
                        "targets": [{"name": "a", "type": "linux", "groups": ["g"]}]})
    assert err.value.problems[0].startswith("groups.g.gxp_context.layer: 'network' is not one of")


@pytest.mark.parametrize("declared, days, status, message", [
    (None, 365, "pass", "log group /a keeps events for 365 days (at least 365 required)"),
    (3650, 365, "fail", "log group /a keeps events for only 365 days (at least 3650 required for the declared "
                        "records retention)"),
    (3650, 3653, "pass", "log group /a keeps events for 3653 days (at least 3650 required for the declared "
                         "records retention)"),
    (30, 365, "pass", "log group /a keeps events for 365 days (at least 365 required)"),  # the floor stays
])
def test_log_retention_takes_its_threshold_from_the_declared_records_retention(
        declared: int | None, days: int, status: str, message: str) -> None:
    from scanner.facts.aws import AwsResources, LogGroup, Scope
    from scanner.registry import Registry
    from scanner.runner import evaluate
    from tests.factories import make_fact

    target = {"name": "acct", "type": "aws"}
    if declared:
        target["gxp_context"] = {"records_retention_days": declared}
    (t,) = load_inventory({"version": 1, "targets": [target]}).targets
    spec = Registry.load(["checks.aws"]).checks["aws.logs.retention"]
    groups = AwsResources((Scope("123456789012", "us-east-1", "aws", "arn:aws:iam::123456789012:root"),),
                          (LogGroup("123456789012", "us-east-1", "/a", "arn:aws:logs:us-east-1:1:log-group:/a", days),))
    (f,) = evaluate(spec, {name: make_fact(name, groups) for name in spec.facts}, t)
    assert (f.status.value, f.message) == (status, message)
    assert f.observed["required_days"] == max(365, declared or 0)


# --- clause coverage --------------------------------------------------------------------------------------------

def clause(ref: str = "part11:11.300(b)", automatable: str = "partial", *maps: MappingUse,
           applies_when: dict[str, Any] | None = None, status: str = "in_force",
           procedure: str = PROCEDURE) -> ClauseUse:
    return ClauseUse(ref, "Identification codes and passwords", automatable, status, procedure,
                     maps or (MappingUse(("linux.ssh.root_login",), "supporting"),),
                     MappingProxyType(applies_when or {}))


def run_with(clauses: tuple[ClauseUse, ...], results: list[Any], context: dict[str, Any] | None = None) -> Run:
    run = make_run(results)
    return replace(run, info=replace(run.info, clauses=clauses,
                                     gxp_context=MappingProxyType({"host1": MappingProxyType(context or {})})))


@pytest.mark.parametrize("the_clause, statuses, context, verdict, text", [
    (clause(), ["pass"], {}, Verdict.TECHNICAL_PART_PASSED,
     f"technical part passed, procedural evidence needed: {PROCEDURE}"),
    (clause("x:1", "full", MappingUse(("linux.ssh.root_login",), "direct"), procedure=""), ["pass"], {},
     Verdict.PASSED, "passed (direct evidence)"),
    (clause("x:1", "full", MappingUse(("linux.ssh.root_login",), "direct")), ["pass"], {},
     Verdict.TECHNICAL_PART_PASSED, f"technical part passed, procedural evidence needed: {PROCEDURE}"),
    (clause("x:1", "partial", MappingUse(("linux.ssh.root_login",), "context")), ["pass"], {}, Verdict.NO_EVIDENCE,
     f"no technical evidence on this target; procedural evidence needed: {PROCEDURE}"),
    (clause(), ["pass", "fail"], {}, Verdict.FAILED,
     f"failed: linux.ssh.root_login; procedural evidence also needed: {PROCEDURE}"),
    (clause(), ["error"], {}, Verdict.ERROR, f"error: linux.ssh.root_login; procedural evidence also needed: "
                                             f"{PROCEDURE}"),
    (clause(), ["manual"], {}, Verdict.MANUAL, f"manual: attach {PROCEDURE}"),
    (clause(), ["not_applicable"], {}, Verdict.NO_EVIDENCE,
     f"no technical evidence on this target; procedural evidence needed: {PROCEDURE}"),
    (clause(applies_when={"e_signatures": True}), ["fail"], {"e_signatures": False}, Verdict.NOT_APPLICABLE,
     "not applicable: e_signatures is declared false for this target; applies only when true"),
    (clause("x:1", "partial", MappingUse(("linux.ssh.root_login",), "supporting",
                                         MappingProxyType({"signing_credentials": True}))),
     ["fail"], {"signing_credentials": False}, Verdict.NO_EVIDENCE,
     f"no technical evidence on this target; procedural evidence needed: {PROCEDURE}"),
], ids=["supporting-pass", "direct-full-pass", "direct-with-procedure", "context-only", "fail", "error", "manual",
        "all-not-applicable", "clause-not-applicable", "mapping-not-applicable"])
def test_clause_verdicts_never_pass_from_supporting_or_context_evidence(
        the_clause: ClauseUse, statuses: list[str], context: dict[str, Any], verdict: Verdict, text: str) -> None:
    results = [make_result(status=s, resource=f"r{i}") for i, s in enumerate(statuses)]
    (c,) = coverage(run_with((the_clause,), results, context))
    assert (c.verdict, c.text) == (verdict, text)


def test_an_undeclared_condition_is_applicable_and_says_so() -> None:
    the_clause = clause(applies_when={"e_signatures": True})
    (c,) = coverage(run_with((the_clause,), [make_result()], {}))
    assert c.verdict is Verdict.TECHNICAL_PART_PASSED
    assert c.note == ("applicability not declared (e_signatures not in the target's gxp_context): treated as "
                      "applicable")


def test_coverage_json_is_valid_against_the_result_schema() -> None:
    import io
    import json

    import jsonschema

    from reports import render
    from scanner.inventory import schema

    run = run_with((clause(applies_when={"e_signatures": True}),), [make_result()], {"e_signatures": False})
    out = io.StringIO()
    render("json", run, out)
    doc = json.loads(out.getvalue())
    jsonschema.Draft202012Validator(schema("result")).validate(doc)
    assert doc["coverage"] == coverage_dicts(run) == [{
        "clause": "part11:11.300(b)", "title": "Identification codes and passwords", "target": "host1",
        "clause_status": "in_force", "automatable": "partial", "verdict": "not_applicable",
        "text": "not applicable: e_signatures is declared false for this target; applies only when true",
        "procedural_evidence": PROCEDURE,
        "note": "e_signatures is declared false for this target; applies only when true",
        "evidence": [{"check": "linux.ssh.root_login", "strength": "supporting", "applicable": True,
                      "status": "pass", "note": ""}]}]


# --- end to end -------------------------------------------------------------------------------------------------

SUBPART_C = ("part11:11.50", "part11:11.70", "part11:11.100", "part11:11.200", "part11:11.300")


def test_a_scan_of_a_target_without_e_signatures_reports_subpart_c_not_applicable(tmp_path: Any) -> None:
    """Two local targets, one declaring `e_signatures: false`: on it every Part 11 Subpart C clause the check maps
    to is not_applicable with the reason; on the other (signing with its logins) it is not. The run record keeps
    the SHA-256 of the catalog files."""
    import hashlib
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import jsonschema

    from scanner.inventory import schema
    from scanner.store import load_record

    inv = tmp_path / "inv.yaml"
    inv.write_text("version: 1\ntargets:\n"
                   "  - {name: no-sign, type: linux, connection: local, gxp_context: {e_signatures: false}}\n"
                   "  - {name: signs, type: linux, connection: local,\n"
                   "     gxp_context: {e_signatures: true, signing_credentials: true}}\n")
    out = tmp_path / "out"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-m", "scanner", "scan", "-i", str(inv), "--check", "linux.accounts.unique_ids",
                    "-o", str(out), "--format", "json", "--quiet"], cwd=root, capture_output=True, timeout=300,
                   env={**os.environ, "PYTHONPATH": str(root)})
    doc = json.loads((out / "report.json").read_text())
    jsonschema.Draft202012Validator(schema("result")).validate(doc)
    subpart_c = [c for c in doc["coverage"] if c["clause"].startswith(SUBPART_C)]
    assert {c["clause"] for c in subpart_c} >= {"part11:11.100(a)", "part11:11.300(a)"}
    for c in subpart_c:
        if c["target"] == "no-sign":
            assert (c["verdict"], c["text"]) == (
                "not_applicable", "not applicable: e_signatures is declared false for this target; applies only "
                                  "when true")
        else:
            assert c["verdict"] != "not_applicable" and c["verdict"] != "passed"
            assert [e["applicable"] for e in c["evidence"]] == [True]
    part11 = root / "checks" / "frameworks" / "part11.yaml"
    (used,) = [c for c in load_record(out).info.catalogs if c.id == "part11"]
    assert used.sha256 == hashlib.sha256(part11.read_bytes()).hexdigest()
    assert used.status == "in_force" and used.edition
