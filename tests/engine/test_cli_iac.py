"""``gxpscan scan --iac PATH...`` and ``--diff-base REF`` end to end, on real temporary git repositories."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from scanner import cli
from scanner.cli import EXIT_FAILURES, EXIT_INPUT, EXIT_OK
from scanner.iacscope import iac_document, target_name
from tests.engine.gitrepo import GitRepo, init_repo

KEYS = """resource "aws_kms_key" "good" {
  description         = "records"
  enable_key_rotation = true
}

resource "aws_kms_key" "bad" {
  description = "legacy"
}
"""
GOOD, BAD = (1, 4), (6, 8)  # the line ranges of the two keys in KEYS


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    repo = init_repo(tmp_path / "repo")
    repo.write("infra/prod/main.tf", KEYS)
    repo.write("infra/dev/main.tf", KEYS.replace("enable_key_rotation = true", "enable_key_rotation = false"))
    repo.commit("base")
    monkeypatch.chdir(repo.root)
    return repo


def scan(out: Path, *argv: str) -> int:
    return cli.main(["scan", "--check", "aws.kms.key_rotation", "--format", "json", "--format", "sarif",
                     "--format", "junit", "--output", str(out), *argv])


def findings(out: Path) -> list[dict[str, Any]]:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))["findings"]  # type: ignore[no-any-return]


def test_iac_scans_one_code_target_per_path_with_repository_relative_locations(repo: GitRepo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert scan(out, "--iac", "infra/prod", "infra/dev") == EXIT_FAILURES
    got = sorted((f["target"], f["target_type"], f["resource"], f["status"], f["location"]["path"],
                  f["location"]["start_line"], f["location"]["end_line"]) for f in findings(out))
    assert got == [
        ("infra_dev", "iac", "aws_kms_key.bad", "fail", "infra/dev/main.tf", *BAD),
        ("infra_dev", "iac", "aws_kms_key.good", "fail", "infra/dev/main.tf", *GOOD),
        ("infra_prod", "iac", "aws_kms_key.bad", "fail", "infra/prod/main.tf", *BAD),
        ("infra_prod", "iac", "aws_kms_key.good", "pass", "infra/prod/main.tf", *GOOD),
    ]
    sarif = json.loads((out / "report.sarif").read_text(encoding="utf-8"))
    places = sorted((r["properties"]["target"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                     r["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"],
                     r["locations"][0]["physicalLocation"]["region"]["startLine"],
                     r["locations"][0]["physicalLocation"]["region"]["endLine"]) for r in sarif["runs"][0]["results"])
    assert places == [("infra_dev", "infra/dev/main.tf", "%SRCROOT%", *GOOD),
                      ("infra_dev", "infra/dev/main.tf", "%SRCROOT%", *BAD),
                      ("infra_prod", "infra/prod/main.tf", "%SRCROOT%", *BAD)]
    junit = ET.parse(out / "report.junit.xml").getroot()
    cases = sorted((c.get("classname"), c.get("file"), c.get("line")) for c in junit.iter("testcase"))
    assert cases[:2] == [("infra_dev.aws.kms.key_rotation", "infra/dev/main.tf", str(GOOD[0])),
                         ("infra_dev.aws.kms.key_rotation", "infra/dev/main.tf", str(BAD[0]))]


@pytest.mark.parametrize(("fail_on", "expected"), [("low", EXIT_FAILURES), ("medium", EXIT_FAILURES),
                                                   ("high", EXIT_OK), ("critical", EXIT_OK)])
def test_exit_codes_follow_fail_on_as_for_any_scan(repo: GitRepo, tmp_path: Path, fail_on: str,
                                                   expected: int) -> None:
    """aws.kms.key_rotation is of severity medium."""
    assert scan(tmp_path / "out", "--fail-on", fail_on, "--iac", "infra/prod") == expected


@pytest.mark.parametrize(("argv", "message"), [
    (["--iac", "infra/prod", "--inventory", "inv.yaml"], "--iac builds its own inventory"),
    (["--iac", "no/such/dir"], "no/such/dir: no such file or directory"),
    (["--diff-base", "main"], "--diff-base narrows findings on code: it needs an iac target"),
])
def test_usage_faults_are_input_errors(repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       argv: list[str], message: str) -> None:
    assert scan(tmp_path / "out", *argv) == EXIT_INPUT
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("path", "taken", "name"), [
    ("infra/prod", [], "infra_prod"), ("infra/prod/", [], "infra_prod"), ("infra\\prod", [], "infra_prod"),
    ("../../etc/x", [], "x"), ("stacks/audit bucket.yaml", [], "stacks_audit_bucket.yaml"),
    ("infra", ["infra"], "infra-2"), ("infra", ["infra", "infra-2"], "infra-3"), ("/", [], "code"),
    ("x" * 200, [], "x" * 64), ("ü/$(id)`;|&", [], "id"),
])
def test_target_names_are_safe_and_unique(path: str, taken: list[str], name: str) -> None:
    got = target_name(path, taken)
    assert got == name
    assert iac_document([path, path])["targets"][1]["name"] != iac_document([path])["targets"][0]["name"]


def test_the_current_directory_is_named_after_it(repo: GitRepo) -> None:
    assert target_name(".") == "repo"


# --- --diff-base -----------------------------------------------------------------------------------------------

def _modify_bad(repo: GitRepo) -> None:
    repo.write("infra/prod/main.tf", KEYS.replace('description = "legacy"', 'description = "legacy, kept"'))


def _drop_line_in_bad(repo: GitRepo) -> None:
    repo.write("infra/prod/main.tf", KEYS.replace('  description = "legacy"\n', ""))


def _modify_good(repo: GitRepo) -> None:
    repo.write("infra/prod/main.tf", KEYS.replace('"records"', '"gxp records"'))


def _new_file(repo: GitRepo) -> None:
    repo.write("infra/prod/extra.tf", 'resource "aws_kms_key" "fresh" {\n  description = "new"\n}\n')


def _rename(repo: GitRepo) -> None:
    repo.git("mv", "infra/prod/main.tf", "infra/prod/keys.tf")


def _other_module(repo: GitRepo) -> None:
    repo.write("infra/dev/main.tf", KEYS + "\n")


@pytest.mark.parametrize(("change", "expected"), [
    (_modify_bad, {"aws_kms_key.bad": "fail"}),
    (_drop_line_in_bad, {"aws_kms_key.bad": "fail"}),
    (_modify_good, {"aws_kms_key.good": "pass"}),
    (_new_file, {"aws_kms_key.fresh": "fail"}),
    (_rename, {}),  # moved, not changed
    (_other_module, {}),  # a change outside the scanned path
    (lambda repo: None, {}),
])
def test_diff_base_keeps_only_findings_on_changed_resources(repo: GitRepo, tmp_path: Path, change: Any,
                                                            expected: dict[str, str]) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    change(repo)
    repo.commit("change")
    out = tmp_path / "out"
    code = scan(out, "--iac", "infra/prod", "--diff-base", "main")
    assert {f["resource"]: f["status"] for f in findings(out)} == expected
    assert code == (EXIT_FAILURES if "fail" in expected.values() else EXIT_OK)
    warnings = json.loads((out / "report.json").read_text(encoding="utf-8"))["run"]["warnings"]
    left_out = 2 + (change is _new_file) - len(expected)
    assert [w for w in warnings if "--diff-base" in w] == (
        [f"--diff-base main: {left_out} finding(s) on code not changed since "
         f"{repo.git('rev-parse', 'main').strip()[:12]} left out"] if left_out else [])


def test_diff_base_against_a_moved_base_uses_the_merge_base(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    _modify_bad(repo)
    repo.commit("ours")
    repo.git("checkout", "-q", "main")
    _modify_good(repo)  # main moves on: its change is not ours
    repo.commit("theirs")
    repo.git("checkout", "-q", "feature")
    out = tmp_path / "out"
    assert scan(out, "--iac", "infra/prod", "--diff-base", "main") == EXIT_FAILURES
    assert [f["resource"] for f in findings(out)] == ["aws_kms_key.bad"]


@pytest.mark.parametrize(("ref", "message"), [
    ("no-such-ref", "--diff-base no-such-ref: unknown git ref 'no-such-ref'"),
    ("--output=/tmp/x", "--diff-base --output=/tmp/x: unknown git ref"),
])
def test_diff_base_with_an_unknown_ref_is_an_input_error(repo: GitRepo, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str], ref: str,
                                                         message: str) -> None:
    assert scan(tmp_path / "out", "--iac", "infra/prod", f"--diff-base={ref}") == EXIT_INPUT
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_diff_base_outside_a_git_repository_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "main.tf").write_text(KEYS, encoding="utf-8")
    monkeypatch.chdir(plain)
    assert scan(tmp_path / "out", "--iac", ".", "--diff-base", "main") == EXIT_INPUT
    assert "is not inside a git repository" in capsys.readouterr().err


@pytest.mark.parametrize(("change", "kept"), [(_modify_bad, True), (_other_module, False)])
def test_an_account_wide_finding_without_a_line_is_kept_when_the_scanned_code_changed(
        repo: GitRepo, tmp_path: Path, change: Any, kept: bool) -> None:
    """No password policy in the code: a fail on the account, with no file and line. Removing the policy resource
    would leave no changed line to place it on, so any change of the scanned files keeps it."""
    repo.git("checkout", "-q", "-b", "feature")
    change(repo)
    repo.commit("change")
    out = tmp_path / "out"
    code = cli.main(["scan", "--check", "aws.iam.password_policy", "--format", "json", "--output", str(out),
                     "--iac", "infra/prod", "--diff-base", "main"])
    got = [(f["check"], f["status"], f["location"]) for f in findings(out)]
    assert got == ([("aws.iam.password_policy", "fail", None)] if kept else [])
    assert code == (EXIT_FAILURES if kept else EXIT_OK)
