"""The OQ protocol and execution record for code targets (``type: iac``): the method is static analysis of the
named files (path, line range, parser, SHA-256), never API calls; every step of the record says where it is."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from reports.oq import executed_tests
from scanner import cli
from scanner import frameworks as fw
from scanner.cli import EXIT_FAILURES
from scanner.inventory import load_inventory
from scanner.model import Location
from scanner.protocol import Protocol, build_protocol, from_dict, load_protocol, schema_problems, to_dict
from scanner.registry import Registry
from tests.collectors.iac_repo import write
from tests.engine.gitrepo import init_repo
from tests.factories import make_result, make_run
from tests.reports.hostile import rendered

KEYS = 'resource "aws_kms_key" "bad" {\n  description = "legacy"\n}\n'
STACK = "Resources:\n  Key:\n    Type: AWS::KMS::Key\n    Properties:\n      EnableKeyRotation: true\n"
PLAN = json.dumps({"format_version": "1.2", "planned_values": {"root_module": {}}, "resource_changes": []})


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def protocol_for(tmp_path: Path) -> Protocol:
    write(tmp_path, {"infra/main.tf": KEYS, "infra/stack.yaml": STACK, "infra/plan/tfplan.json": PLAN,
                     "infra/.gitlab-ci.yml": "stages: [test]\n", "infra/package.json": '{"name": "x"}',
                     "secret.tf": KEYS})
    os.symlink(tmp_path / "secret.tf", tmp_path / "infra" / "outside.tf")  # leads out of the root: never read
    return protocol_for_existing(tmp_path, ("aws.kms.key_rotation", "aws.iam.root_mfa"))


def test_the_protocol_of_a_code_target_names_each_file_its_lines_parser_and_sha256(tmp_path: Path) -> None:
    protocol = protocol_for(tmp_path)
    infra = tmp_path / "infra"
    files = [f"main.tf lines 1-3 (Terraform HCL; SHA-256 {digest(infra / 'main.tf')})",
             f"outside.tf (not read: leads outside the root ({os.path.realpath(tmp_path / 'secret.tf')}); not "
             "followed)",
             f"plan/tfplan.json lines 1-1 (Terraform plan JSON (format_version 1.2); SHA-256 "
             f"{digest(infra / 'plan' / 'tfplan.json')})",
             f"stack.yaml lines 1-5 (CloudFormation template (YAML, strict loader); SHA-256 "
             f"{digest(infra / 'stack.yaml')})"]
    assert [(t.id, t.target_type, [(m.fact, m.how, m.needs_root) for m in t.method]) for t in protocol.tests] == [
        ("OQ-AWS-IAM-ROOTMFA-code", "iac", [
            ("aws.account_summary", "not read from code: runtime state, verified by the live scan", False)]),
        ("OQ-AWS-KMS-KEYROTATION-code", "iac", [
            ("aws.kms_keys", "static analysis of code, read-only: no API call, no connection, nothing executed; the "
                             "fact is built from the resources these files declare, joined as AWS applies them "
                             "(local modules they call are read too): " + "; ".join(files), False)])]
    assert [(p.kind, p.detail) for p in protocol.prerequisites] == [
        ("account", "none: the files are read on the scanning host; no cloud credentials are used"),
        ("rights", "read access to the files below; nothing is written, no Terraform or deploy runs"),
        *[("trust", f"code under test: {f}") for f in files]]
    assert [s.connection for s in protocol.systems] == [f"code (files read locally): {infra}"]
    assert not [o for o in protocol.out_of_scope if "code" in o.item or "aws checks" in o.item]
    assert schema_problems(to_dict(protocol)) == [] and from_dict(to_dict(protocol)) == protocol


def test_a_changed_file_changes_the_approved_protocol(tmp_path: Path) -> None:
    before = protocol_for(tmp_path)
    (tmp_path / "infra" / "main.tf").write_text(KEYS.replace("legacy", "changed"))
    after = protocol_for_existing(tmp_path, ("aws.kms.key_rotation", "aws.iam.root_mfa"))
    old, new = (p.tests[1].method[0].how for p in (before, after))
    was, now = hashlib.sha256(KEYS.encode()).hexdigest(), digest(tmp_path / "infra" / "main.tf")
    assert was in old and was != now and new == old.replace(was, now)


def protocol_for_existing(root: Path, checks: tuple[str, ...]) -> Protocol:
    inv = load_inventory({"version": 1, "targets": [{"name": "code", "type": "iac", "path": str(root / "infra"),
                                                     "root": str(root / "infra")}]})
    return build_protocol(inv.targets, Registry.load().select(list(checks)), fw.load_catalogs(), ["part11"],
                          document_id="OQP-IAC", version="1", created="2026-12-01T08:00:00+00:00", author="qa@lab",
                          tool_version="0.1.0", checks_fingerprint="f" * 64, inventory=inv.source,
                          inventory_sha256=inv.sha256)


def code(resource: str, location: Location | None, status: str = "fail") -> object:
    return make_result(check="aws.kms.key_rotation", target="code", target_type="iac", status=status,
                       resource=resource, location=location)


@pytest.mark.parametrize("location, shown", [
    (Location("infra\\main.tf", 1, 3), "location: infra/main.tf, lines 1-3"),
    (Location("tfplan.json"), "location: tfplan.json"),
    (Location("../../etc/passwd", 1, 1), "location: location '../../etc/passwd' is not a path inside the "
                                         "repository; not shown as a file"),
    (None, "location: not in the scanned code (the code does not declare this resource)"),
])
def test_every_step_on_code_says_where_it_is(location: Location | None, shown: str) -> None:
    run = make_run([code("aws_kms_key.bad", location)])
    (test,) = executed_tests(run, None)
    assert [s.where for s in test.steps] == [shown]
    page = rendered("oq", run)
    assert shown.replace("'", "&#x27;") in page


def test_a_host_step_without_a_location_stays_without_one() -> None:
    (test,) = executed_tests(make_run([make_result(status="fail")]), None)
    assert [s.where for s in test.steps] == [""]


def test_an_iac_scan_executes_the_protocol_and_its_record_lists_every_step_with_its_location(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = init_repo(tmp_path / "repo")
    repo.write("infra/main.tf", KEYS + 'resource "aws_kms_key" "good" {\n  enable_key_rotation = true\n}\n')
    repo.commit("base")
    monkeypatch.chdir(repo.root)
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(f"version: 1\ntargets:\n  - name: infra\n    type: iac\n    path: {repo.root / 'infra'}\n")
    assert cli.main(["protocol", "--inventory", str(inventory), "--check", "aws.kms.key_rotation", "--format",
                     "json", "--output", str(tmp_path / "p")]) == 0
    protocol, _ = load_protocol(str(tmp_path / "p" / "protocol.json"))
    assert protocol.tests[0].method[0].how.endswith(
        f"infra/main.tf lines 1-6 (Terraform HCL; SHA-256 {digest(repo.root / 'infra' / 'main.tf')})")
    out = tmp_path / "out"
    assert cli.main(["scan", "--inventory", str(inventory), "--check", "aws.kms.key_rotation", "--protocol",
                     str(tmp_path / "p" / "protocol.json"), "--format", "oq", "--output", str(out), "-q"]) \
        == EXIT_FAILURES
    page = (out / "oq-evidence.html").read_text(encoding="utf-8")
    assert "OQ-AWS-KMS-KEYROTATION-infra.1" in page and "OQ-AWS-KMS-KEYROTATION-infra.2" in page
    assert "location: infra/main.tf, lines 1-3" in page and "location: infra/main.tf, lines 4-6" in page
    assert "test not in protocol" not in page and "test not executed" not in page
