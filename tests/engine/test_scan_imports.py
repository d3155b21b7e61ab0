"""What a scan of code imports (issue 10, start-up time): a scan that validated its inventory and the default
risk matrix before (scanner/schemacache.py) imports no jsonschema; of a JSON inventory, no YAML parser; with the
check plugins' entry points kept (scanner/registry.py), no importlib.metadata (nor the email parser it needs); no
cryptography (no key is used), no protocol or
WinRM code; a scan that notifies nobody imports no notifier (smtplib, email sending) and, without --keep, --lock
or --latest, no retention/lock code; with those options it is imported."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IAC = REPO / "tests" / "fixtures" / "iac" / "terraform"
UNUSED = ("jsonschema", "referencing", "smtplib", "scanner.notify", "scanner.ops", "cryptography", "scanner.protocol",
          "scanner.connectors.winrm",
          "yaml", "importlib.metadata", "email")  # a JSON inventory; the entry points from the cache (registry.py)

SCRIPT = textwrap.dedent("""
    import json, runpy, sys
    sys.argv = ["gxpscan", *json.loads(sys.argv[1])]
    try:
        runpy.run_module("scanner", run_name="__main__")
    except SystemExit as exc:
        code = exc.code
    print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
""")


def scan(tmp_path: Path, *extra: str, out: str) -> tuple[int, set[str]]:
    inventory = tmp_path / "inv.json"
    inventory.write_text(json.dumps({"version": 1, "targets": [{"name": "code", "type": "iac", "path": str(IAC)}]}),
                         encoding="utf-8")
    argv = ["scan", "--quiet", "--no-history", "--inventory", str(inventory), "--format", "json",
            "--output", str(tmp_path / "runs" / out), *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("GXPSCAN_NO_CACHE", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(argv)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["code"] in (0, 1), done.stderr
    return report["code"], set(report["modules"])


def test_a_second_scan_of_code_imports_no_validator_notifier_or_retention(tmp_path: Path) -> None:
    _, first = scan(tmp_path, out="a")
    assert {"jsonschema", "referencing"} <= first  # the first run validates (and keeps the verdicts)
    _, second = scan(tmp_path, out="b")
    assert sorted(second & set(UNUSED)) == []
    assert (tmp_path / "runs" / "b" / "report.json").exists()


@pytest.mark.parametrize(("extra", "imported"), [
    (["--keep", "5"], "scanner.ops"),
    (["--lock", "{tmp}/scan.lock"], "scanner.ops"),
    (["--latest"], "scanner.ops"),
])
def test_what_an_option_needs_is_still_imported(tmp_path: Path, extra: list[str], imported: str) -> None:
    scan(tmp_path, out="warm")
    _, modules = scan(tmp_path, *[e.format(tmp=tmp_path) for e in extra], out="run")
    assert imported in modules


def _verdicts(run: Path) -> list[tuple[str, str, str]]:
    report = json.loads((run / "report.json").read_text(encoding="utf-8"))
    return sorted((f["check"], f["resource"], f["status"]) for f in report["findings"])


def test_a_scan_selecting_checks_by_id_imports_only_their_modules_and_judges_the_same(tmp_path: Path) -> None:
    selection = ["--check", "aws.s3.*", "--check", "aws.iam.password_policy"]
    scan(tmp_path, *selection, out="a")  # every AWS check module imported once; their index kept
    _, modules = scan(tmp_path, *selection, out="b")
    assert sorted(m for m in modules if m.startswith(("checks.aws.", "checks.linux", "checks.windows", "checks.ad",
                                                      "checks.ldap", "checks.tls"))) == [
        "checks.aws._common", "checks.aws.iam", "checks.aws.s3"]
    verdicts = _verdicts(tmp_path / "runs" / "b")
    assert verdicts == _verdicts(tmp_path / "runs" / "a")
    assert {c for c, _, _ in verdicts} >= {"aws.s3.versioning", "aws.s3.bucket_encryption", "aws.iam.password_policy"}
