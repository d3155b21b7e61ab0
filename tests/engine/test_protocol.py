"""The OQ test protocol: stable test ids, thresholds filled in from the merged policy, the collectors' methods,
scope and out of scope, a canonical JSON form with one SHA-256, strict reading, structural validation, and the
scan that records the protocol it executes."""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from scanner import cli
from scanner import frameworks as fw
from scanner.inventory import load_inventory
from scanner.model import Status
from scanner.protocol import (
    ClauseScope,
    Protocol,
    ProtocolError,
    build_protocol,
    canonical_json,
    check_record,
    from_dict,
    load_protocol,
    reconcile,
    sha256,
    validate_protocol,
    worst,
)
from scanner.protocol import test_id as oq_test_id
from scanner.registry import Registry
from tests.factories import make_result

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example.yaml"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def protocol_for(registry: Registry, inventory: str | dict = str(EXAMPLE), patterns: tuple[str, ...] = (),
                 frameworks: tuple[str, ...] = ("part11",)) -> Protocol:
    catalogs = fw.load_catalogs()
    inv = load_inventory(inventory, policy_names=registry.param_names())
    return build_protocol(inv.targets, registry.select(list(patterns)), catalogs, list(frameworks),
                          document_id="OQP-T", version="2", created="2026-12-01T08:00:00+00:00", author="qa@lab",
                          tool_version="0.1.0", checks_fingerprint="f" * 64, inventory=inv.source,
                          inventory_sha256=inv.sha256)


@pytest.mark.parametrize("check, target, expected", [
    ("linux.ssh.root_login", "web01", "OQ-LNX-SSH-ROOTLOGIN-web01"),
    ("linux.password.max_age", "lims-db-01", "OQ-LNX-PASSWORD-MAXAGE-lims-db-01"),
    ("aws.s3.versioning", "aws-gxp", "OQ-AWS-S3-VERSIONING-aws-gxp"),
    ("ad.password_policy", "corp-ad", "OQ-AD-PASSWORDPOLICY-corp-ad"),
    ("ldap.ppolicy", "Lab.LDAP_1", "OQ-LDAP-PPOLICY-Lab.LDAP_1"),
    ("linux.ssh.root_login", "db:prod", "OQ-LNX-SSH-ROOTLOGIN-db_prod~" + hashlib.sha256(b"db:prod").hexdigest()[:8]),
    ("linux.ssh.root_login", "h\x1b]0;x", "OQ-LNX-SSH-ROOTLOGIN-h__0_x~"
     + hashlib.sha256(b"h\x1b]0;x").hexdigest()[:8]),
])
def test_test_ids_are_derived_from_check_and_target(check: str, target: str, expected: str) -> None:
    assert oq_test_id(check, target) == expected


def test_test_ids_never_collide_across_checks_or_lossy_target_names(registry: Registry) -> None:
    ids = {oq_test_id(c, "web01") for c in registry.checks}
    assert len(ids) == len(registry.checks)
    assert len({oq_test_id("linux.ssh.root_login", n) for n in ("db:prod", "db_prod", "db prod", "db/prod")}) == 4


def test_thresholds_are_the_merged_policy_written_into_the_criterion(registry: Registry) -> None:
    p = protocol_for(registry)
    gxp = p.test("linux.password.max_age", "lims-db-01")  # group gxp sets 60 over the inventory's 90
    other = p.test("linux.password.max_age", "scanner-host")
    assert gxp is not None and other is not None
    assert "at most password_max_age_days = 60." in gxp.criterion
    assert [(t.name, t.value, t.default, t.source) for t in gxp.thresholds] == [
        ("password_max_age_days", 60, 90, "policy")]
    assert "at most password_max_age_days = 90." in other.criterion
    tries = p.test("linux.ssh.max_auth_tries", "scanner-host")  # not in the inventory's policy: the default
    assert tries is not None and [(t.value, t.source) for t in tries.thresholds] == [(4, "default")]
    assert "at most the policy's max_auth_tries = 4." in tries.criterion
    s3 = p.test("aws.s3.versioning", "aws-gxp")
    assert s3 is not None and 'records_tag (= "gxp:records=true")' in s3.criterion


def test_the_method_is_what_the_collector_reads_or_asks(registry: Registry) -> None:
    p = protocol_for(registry)
    ssh = p.test("linux.ssh.root_login", "lims-db-01")
    assert ssh is not None and ssh.needs_root
    (step,) = ssh.method
    assert step.fact == "linux.sshd_effective" and "runs sshd -T" in step.how and "as root through sudo" in step.how
    backup = p.test("linux.backup.recent", "lims-db-01")
    assert backup is not None and "runs restic snapshots --latest 1 --json" in backup.method[0].how
    s3 = p.test("aws.s3.versioning", "aws-gxp")
    assert s3 is not None and "s3:GetBucketVersioning" in s3.method[0].how
    assert s3.method[0].how.startswith("AWS API, read-only, in each scanned region")
    ad = p.test("ad.password_policy", "corp-ad")
    assert ad is not None and [m.how for m in ad.method if m.fact == "ldap.domain_policy"] == [
        "paged LDAP searches over the bound connection (ad only), asking only for: AD domain password and lockout "
        "policy (domain head attributes)"]


def test_prerequisites_name_accounts_rights_network_and_trust_without_secrets(registry: Registry,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GXPSCAN_SUDO_PASSWORD", "s3cr3t-sudo")
    p = protocol_for(registry)
    lims = {(x.kind, x.detail) for x in p.prerequisites if x.target == "lims-db-01"}
    assert ("account", "SSH login as gxpscan with key file ~/.ssh/gxpscan_ed25519") in lims
    assert ("network", "TCP 10.20.0.11:22 reachable from the scanning host") in lims
    assert ("trust", "the host key of 10.20.0.11 in ~/.ssh/known_hosts") in lims
    assert any(k == "rights" and "GXPSCAN_SUDO_PASSWORD" in d and "linux.sshd_effective" in d for k, d in lims)
    aws = {x.kind: x.detail for x in p.prerequisites if x.target == "aws-gxp"}
    assert "s3:GetBucketVersioning" in aws["rights"] and aws["account"].endswith("assuming role GxpScanReadOnly")
    assert "s3cr3t-sudo" not in canonical_json(p).decode()


def test_scope_lists_clauses_with_tests_and_says_why_the_rest_is_out(registry: Registry) -> None:
    p = protocol_for(registry, patterns=("linux.*",))
    assert validate_protocol(p) == []
    scope = {c.ref: c for c in p.clauses}
    out = {o.item: o.reason for o in p.out_of_scope}
    assert set(scope) | {o for o in out if o.startswith("part11:")} == {
        f"part11:{c.id}" for c in fw.load_catalogs()["part11"].clauses}
    assert not set(scope) & set(out)
    assert all(c.tests for c in scope.values())
    d = scope["part11:11.10(d)"]
    assert "OQ-LNX-SSH-ROOTLOGIN-lims-db-01" in d.tests and d.manual  # partial: a manual entry for the rest
    assert out["part11:11.10(i)"].startswith("procedural clause (automatable: manual)")
    assert out["part11:11.10(a)"] == ("its checks (aws.cloudtrail.log_validation) are not in "
                                      "this protocol's check selection")
    assert out["target aws-gxp"] == "no selected check applies to its platform (aws)"
    assert {s.name: s.tests for s in p.systems}["aws-gxp"] == 0


def test_checks_for_a_platform_without_targets_are_out_of_scope(registry: Registry) -> None:
    inv = {"version": 1, "targets": [{"name": "h1", "type": "linux", "connection": "local"}]}
    p = protocol_for(registry, inv)
    out = {o.item: o.reason for o in p.out_of_scope}
    n_aws = sum(1 for c in registry.checks.values() if c.platform.value == "aws")
    assert out[f"aws checks ({n_aws})"] == "the inventory has no aws target"
    assert out["part11:11.10(a)"] == ("its selected checks apply only to platforms with no target in the "
                                      "inventory: aws")


def test_canonical_json_has_one_hash_and_reads_back_equal(registry: Registry, tmp_path: Path) -> None:
    p = protocol_for(registry)
    data = canonical_json(p)
    assert data.isascii() and sha256(p) == hashlib.sha256(data).hexdigest()
    assert from_dict(json.loads(data)) == p
    pretty = tmp_path / "pretty.json"  # the same protocol, reformatted: the same hash
    pretty.write_text(json.dumps(json.loads(data), indent=4, sort_keys=False, ensure_ascii=False))
    assert load_protocol(str(pretty)) == (p, sha256(p))
    changed = json.loads(data)
    changed["tests"][0]["criterion"] += " or not"
    moved = tmp_path / "changed.json"
    moved.write_text(json.dumps(changed))
    assert load_protocol(str(moved))[1] != sha256(p)


@pytest.mark.parametrize("edit, message", [
    (lambda d: "not json {", "not a JSON protocol"),
    (lambda d: json.dumps({**d, "format": "other/1"}), "protocol.format: expected 'gxpscan-oq-protocol/1'"),
    (lambda d: json.dumps({k: v for k, v in d.items() if k != "document_id"}), "protocol.document_id: missing"),
    (lambda d: json.dumps({**d, "tests": [{**d["tests"][0], "clauses": "x"}]}), "protocol.tests[0].clauses: expected"),
    (lambda d: json.dumps(d)[:-1] + ', "version": "9"}', "duplicate key 'version'"),
    (lambda d: json.dumps({**d, "tests": [{**d["tests"][0], "id": "OQ-MINE"}, *d["tests"][1:]]}),
     "test id OQ-MINE is not the id of"),
    # the JSON Schema (scanner/schemas/protocol.schema.json) names the place of each fault
    (lambda d: json.dumps({**d, "tests": [{**d["tests"][0], "needs_root": "yes"}]}),
     "protocol.tests[0].needs_root: expected boolean, got str"),
    (lambda d: json.dumps({**d, "tests": [{**d["tests"][0], "severity": "urgent"}]}),
     "protocol.tests[0].severity: expected one of info, low, medium, high, critical, got 'urgent'"),
    (lambda d: json.dumps({**d, "tests": [{**d["tests"][0], "method": [{**d["tests"][0]["method"][0],
                                                                        "shell": "rm -rf /"}]}]}),
     "protocol.tests[0].method[0].shell: not a protocol field"),
    (lambda d: json.dumps({**d, "systems": [{**d["systems"][0], "tests": -1}]}),
     "protocol.systems[0].tests: -1 does not match minimum 0"),
    (lambda d: json.dumps({**d, "prerequisites": [{**d["prerequisites"][0], "kind": "hope"}]}),
     "protocol.prerequisites[0].kind: expected one of account, rights, network, trust, got 'hope'"),
])
def test_a_bad_protocol_file_is_refused_with_the_place_of_the_fault(registry: Registry, tmp_path: Path, edit,
                                                                    message: str) -> None:
    d = json.loads(canonical_json(protocol_for(registry, patterns=("linux.ssh.*",))))
    f = tmp_path / "p.json"
    f.write_text(edit(d))
    with pytest.raises(ProtocolError) as err:
        load_protocol(str(f))
    assert str(err.value).startswith(str(f)) and message in str(err.value)


def test_every_generated_protocol_validates_against_the_published_schema(registry: Registry, tmp_path: Path) -> None:
    import jsonschema

    from scanner.protocol import schema, schema_problems

    validator = jsonschema.Draft202012Validator(schema())
    jsonschema.Draft202012Validator.check_schema(schema())
    for patterns in ((), ("linux.*",), ("linux.ssh.*",)):
        doc = json.loads(canonical_json(protocol_for(registry, patterns=patterns)))
        assert doc["tests"] and doc["prerequisites"] and doc["clauses"]
        validator.validate(doc)
        assert schema_problems(doc) == []
    inv = tmp_path / "site.yaml"  # and what `gxpscan protocol` writes
    inv.write_text(INVENTORY)
    assert cli.main(["protocol", "-i", str(inv), "-o", str(tmp_path / "p"), "--format", "json"]) == 0
    validator.validate(json.loads((tmp_path / "p" / "protocol.json").read_text()))


def test_structural_validation_finds_clauses_without_tests_or_manual_entry(registry: Registry) -> None:
    p = protocol_for(registry, patterns=("linux.ssh.*",))
    empty = ClauseScope("part11:11.10(k)", "Controls over documentation", "", "manual", (), "")
    ghost = ClauseScope("part11:11.10(j)", "x", "", "manual", ("OQ-GHOST",), "")
    dup = p.tests[0]
    bad = replace(p, clauses=(*p.clauses, empty, ghost), tests=(*p.tests, dup))
    assert validate_protocol(bad) == [
        f"test id {dup.id} appears twice",
        "clause part11:11.10(k) is in scope with neither a test nor a manual entry",
        "clause part11:11.10(j) names test OQ-GHOST, which the protocol does not contain",
    ]
    untraced = replace(p, clauses=tuple(c for c in p.clauses if c.ref != "part11:11.10(d)"))
    assert any("traces to part11:11.10(d), which the scope does not list" in x for x in validate_protocol(untraced))
    manual_only = replace(p, clauses=(*p.clauses, replace(empty, manual="Review the SOP.")))
    assert validate_protocol(manual_only) == []


def test_reconcile_and_record_check(registry: Registry) -> None:
    p = protocol_for(registry, patterns=("linux.ssh.root_login", "linux.ssh.password_auth"))
    results = [make_result(check="linux.ssh.root_login", target="lims-db-01"),
               make_result(check="linux.ssh.root_login", target="lims-db-01", resource="other"),
               make_result(check="linux.time.sync", target="lims-db-01")]
    rec = reconcile(p, results)
    assert rec.executed == ("OQ-LNX-SSH-ROOTLOGIN-lims-db-01",)
    assert sorted(t.id for t in rec.omitted) == ["OQ-LNX-SSH-PASSWORDAUTH-lims-db-01",
                                                  "OQ-LNX-SSH-PASSWORDAUTH-scanner-host",
                                                  "OQ-LNX-SSH-ROOTLOGIN-scanner-host"]
    assert rec.unplanned == (("OQ-LNX-TIME-SYNC-lims-db-01", "linux.time.sync", "lims-db-01"),)
    omitted = [t.id for t in rec.omitted]
    assert check_record(p, rec.executed, omitted) == []
    assert check_record(p, rec.executed, omitted[1:]) == [
        f"protocol test {omitted[0]} is neither in the executed tests nor in the deviation log"]


@pytest.mark.parametrize("statuses, expected", [
    (["pass", "fail", "error"], Status.FAIL), (["pass", "error"], Status.ERROR), (["manual", "pass"], Status.MANUAL),
    (["waived", "pass"], Status.WAIVED), (["pass", "not_applicable"], Status.PASS),
    (["not_applicable"], Status.NOT_APPLICABLE),
])
def test_a_test_outcome_is_its_worst_finding(statuses: list[str], expected: Status) -> None:
    assert worst(Status(s) for s in statuses) == expected


# --- the CLI ----------------------------------------------------------------------------------------------------

INVENTORY = """version: 1
policy: {password_max_age_days: 60}
targets:
  - {name: h1, type: linux, connection: local}
  - {name: h2, type: linux, connection: local}
"""


def test_protocol_command_writes_canonical_json_html_and_prints_the_hash(tmp_path: Path, capsys) -> None:
    inv = tmp_path / "site.yaml"
    inv.write_text(INVENTORY)
    out = tmp_path / "proto"
    assert cli.main(["protocol", "-i", str(inv), "-c", "linux.password.*", "-o", str(out)]) == 0
    data = (out / "protocol.json").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert f"SHA-256 {digest}" in capsys.readouterr().out
    p, h = load_protocol(str(out / "protocol.json"))
    assert h == digest and p.document_id == "OQP-SITE" and p.version == "1"
    assert {t.target for t in p.tests} == {"h1", "h2"} and p.frameworks == ("part11", "annex11", "iso27001-2022")
    assert "password_max_age_days = 60" in p.test("linux.password.max_age", "h1").criterion  # type: ignore[union-attr]
    html = (out / "oq-protocol.html").read_text()
    assert digest in html and "OQ-LNX-PASSWORD-MAXAGE-h1" in html
    assert oct((out / "protocol.json").stat().st_mode & 0o777) == "0o600"


def fake_scan_of(checks: list[str]):
    def fake_scan(targets, specs, clause_map, *, on_done, **_):
        from scanner.runner import TargetOutcome

        for t in targets:
            on_done(TargetOutcome(t, tuple(make_result(check=c, target=t.name, status="pass", evidence=())
                                           for c in checks), {}))
        return []

    return fake_scan


def test_scan_with_a_protocol_records_its_hash_keeps_a_copy_and_reports_deviations(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import scanner.runner
    from scanner.store import load_record

    inv = tmp_path / "site.yaml"
    inv.write_text(INVENTORY)
    proto = tmp_path / "proto"
    assert cli.main(["protocol", "-i", str(inv), "-c", "linux.ssh.root_login", "-c", "linux.ssh.password_auth",
                     "-o", str(proto), "--format", "json"]) == 0
    digest = hashlib.sha256((proto / "protocol.json").read_bytes()).hexdigest()
    # the run executes root_login as planned, leaves out password_auth and adds time.sync
    monkeypatch.setattr(scanner.runner, "scan", fake_scan_of(["linux.ssh.root_login", "linux.time.sync"]))
    out = tmp_path / "run"
    assert cli.main(["scan", "-i", str(inv), "-c", "linux.ssh.*", "-o", str(out), "--protocol",
                     str(proto / "protocol.json"), "--format", "oq", "-q"]) == 0
    assert load_record(out).info.protocol_sha256 == digest
    assert (out / "protocol.json").read_bytes() == (proto / "protocol.json").read_bytes()
    html = (out / "oq-evidence.html").read_text()
    assert "Acceptance criteria were fixed before execution in the approved protocol OQP-SITE version 1" in html
    for tid in ("OQ-LNX-SSH-PASSWORDAUTH-h1", "OQ-LNX-SSH-PASSWORDAUTH-h2", "OQ-LNX-TIME-SYNC-h1"):
        assert tid in html
    # the copy beside the record is changed: report says so, and no longer claims fixed criteria
    copy = json.loads((out / "protocol.json").read_text())
    copy["tests"][0]["criterion"] = "anything goes"
    (out / "protocol.json").write_text(json.dumps(copy))
    assert cli.main(["report", str(out), "--format", "oq", "-q"]) == cli.EXIT_NOT_INTACT  # the seal catches it
    assert cli.main(["report", str(out), "--format", "oq", "-q", "--no-verify"]) == 0
    html = (out / "oq-evidence.html").read_text()
    assert "not the " + digest + " of the protocol the run executed" in html
    assert "Acceptance criteria were fixed before execution" not in html


def test_scan_refuses_a_bad_protocol_before_scanning(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "p.json"
    bad.write_text("{}")
    assert cli.main(["scan", "--protocol", str(bad), "-o", str(tmp_path / "o")]) == cli.EXIT_INPUT
    assert "protocol.format: expected 'gxpscan-oq-protocol/1'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
