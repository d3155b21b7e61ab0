"""``type: iac`` in an inventory: accepted, its paths checked before anything runs, and scanned end to end."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from scanner.connectors.iac import code_paths
from scanner.inventory import InventoryError, load_inventory
from scanner.model import Platform

FIXTURES = Path(__file__).parents[1] / "fixtures" / "iac"


def inventory(**target: Any) -> dict[str, Any]:
    return {"version": 1, "targets": [{"name": "infra", "type": "iac", **target}]}


def test_an_iac_target_is_accepted_with_its_options() -> None:
    inv = load_inventory(inventory(path=[str(FIXTURES / "terraform"), str(FIXTURES / "cloudformation")],
                                   root=str(FIXTURES), tfvars=[str(FIXTURES / "terraform" / "terraform.tfvars")],
                                   region="eu-west-1", account="123456789012", inline_waiver_globs=False))
    (target,) = inv.targets
    assert (target.type, target.type.judged_by) == (Platform.IAC, Platform.AWS)
    assert target.opt("region") == "eu-west-1" and target.opt("account") == "123456789012"


@pytest.mark.parametrize("target, problem", [
    ({"path": "./no/such/dir"}, "targets[0].path: ./no/such/dir: no such file or directory"),
    ({"path": [str(FIXTURES), "./missing.tf"]}, "targets[0].path[1]: ./missing.tf: no such file or directory"),
    ({"path": str(FIXTURES), "root": str(FIXTURES / "terraform" / "main.tf")},
     f"targets[0].root: {FIXTURES / 'terraform' / 'main.tf'}: not a directory"),
    ({"path": str(FIXTURES / "cloudformation"), "root": str(FIXTURES / "terraform")},
     f"targets[0].path: {(FIXTURES / 'cloudformation').resolve()} is outside the root "
     f"{(FIXTURES / 'terraform').resolve()}"),
    ({"path": str(FIXTURES), "tfvars": ["nope.tfvars"]}, "targets[0].tfvars[0]: nope.tfvars: no such file"),
    ({"path": str(FIXTURES), "host": "x"}, "targets[0]: Unevaluated properties are not allowed ('host' was "
                                           "unexpected)"),
    ({}, "targets[0]: 'path' is a required property"),
])
def test_a_bad_code_target_is_named_with_its_path_before_anything_runs(target: dict[str, Any], problem: str) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(inventory(**target))
    assert info.value.problems == [problem]


def test_the_root_defaults_to_the_git_top_level_of_the_first_path(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "infra" / "prod").mkdir(parents=True)
    assert code_paths({"path": str(tmp_path / "infra" / "prod")}).root == tmp_path.resolve()
    plain = tmp_path / "elsewhere"
    plain.mkdir()
    outside_git = Path("/") / "tmp"
    assert code_paths({"path": str(plain)}).root == tmp_path.resolve()  # still inside the checkout
    assert code_paths({"path": str(outside_git)}).root == outside_git.resolve()


def test_a_scan_of_an_iac_inventory_reports_resources_with_file_and_line(tmp_path: Path) -> None:
    from scanner.cli import main

    inv = tmp_path / "inv.json"
    inv.write_text(json.dumps(inventory(path=str(FIXTURES / "terraform" / "main.tf"), root=str(FIXTURES))))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["scan", "--inventory", str(inv), "--check", "aws.kms.*", "--format", "json",
                     "--output", str(tmp_path / "out"), "--quiet"])
    reports = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")]
    report = next(r for r in reports if "findings" in r)
    got = {(f["resource"], f["status"], json.dumps(f["location"], sort_keys=True)) for f in report["findings"]}
    assert got == {
        ("aws_kms_key.records", "pass", json.dumps({"end_line": 113, "path": "terraform/main.tf", "start_line": 110})),
        ("aws_kms_key.legacy", "fail", json.dumps({"end_line": 117, "path": "terraform/main.tf", "start_line": 115})),
        ("aws_kms_key.also_lost", "error", json.dumps({"end_line": 4, "path": "terraform/broken.tf",
                                                       "start_line": 4}))}
    assert code == 1
    assert "terraform/broken.tf line 6: does not parse" in err.getvalue()
