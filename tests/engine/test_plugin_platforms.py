"""Loading only the check plugins a scan needs (scanner/registry.py, scanner/cli.py): entry points named by platform
load when their platform is in use, others always; what is loaded is still validated (duplicate ids, unknown facts);
`checks` loads everything; a scan of code imports none of the network libraries."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from scanner import registry as registry_module
from scanner.cli import main
from scanner.model import Platform
from scanner.registry import CheckLoadError, Registry, plugin_platform

REPO = Path(__file__).resolve().parents[2]
IAC = REPO / "tests" / "fixtures" / "iac" / "terraform"
BUILTIN = {"linux": "checks.linux", "windows": "checks.windows", "aws": "checks.aws", "ad": "checks.ad",
           "ldap": "checks.ldap"}


def plugins(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    """The built-in entry points plus ``extra`` (name -> module), as installed plugins would be."""
    eps = [metadata.EntryPoint(name, value, registry_module.ENTRY_POINT_GROUP)
           for name, value in {**BUILTIN, **extra}.items()]
    monkeypatch.setattr("scanner.registry.metadata.entry_points", lambda group: [e for e in eps if e.group == group])


@pytest.mark.parametrize("name, platform", [("linux", Platform.LINUX), ("windows", Platform.WINDOWS),
                                            ("aws", Platform.AWS), ("ad", Platform.LDAP), ("ldap", Platform.LDAP),
                                            ("acme", None), ("iac", Platform.IAC)])
def test_an_entry_point_serves_the_platform_it_is_named_after(name: str, platform: Platform | None) -> None:
    assert plugin_platform(name) is platform


def test_only_the_plugins_of_the_platforms_in_use_load(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins(monkeypatch, acme="tests.engine.plugins.acme_good", windows2="no.such.module")
    # a plugin named like a platform not in use is not even imported: "windows" is replaced by a broken one
    monkeypatch.setattr(registry_module, "plugin_platform",
                        lambda n: Platform.WINDOWS if n == "windows2" else plugin_platform(n))
    loaded = Registry.load(platforms={Platform.AWS})
    assert loaded.platforms == frozenset({Platform.AWS})
    assert {s.platform for s in loaded.checks.values()} == {Platform.AWS}
    assert "aws.acme.bucket_count" in loaded.checks  # unknown platform: always loaded
    assert not any(cid.startswith(("linux.", "windows.", "ad.", "ldap.")) for cid in loaded.checks)
    with pytest.raises(CheckLoadError, match="check plugin 'windows2'"):
        Registry.load()  # everything: the broken plugin is imported and refused


@pytest.mark.parametrize("plugin, message", [
    ("tests.engine.plugins.acme_typo", r"check 'linux.acme.typo' .* asks for unknown fact\(s\) linux.login_deffs"),
    ("tests.engine.plugins.acme_dup", r"duplicate check id 'aws.s3.versioning'"),
])
def test_what_is_loaded_is_still_validated(monkeypatch: pytest.MonkeyPatch, plugin: str, message: str) -> None:
    plugins(monkeypatch, acme=plugin)
    with pytest.raises(CheckLoadError, match=message):
        Registry.load(platforms={Platform.AWS})


def test_checks_lists_every_platform(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks", "--json"]) == 0
    ids = {c["id"] for c in json.loads(capsys.readouterr().out)}
    assert {i.split(".")[0] for i in ids} >= {"linux", "windows", "aws", "ad", "ldap"}


def _iac_inventory(tmp_path: Path, policy: dict[str, object]) -> Path:
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({"version": 1, "policy": policy,
                                "targets": [{"name": "code", "type": "iac", "path": [str(IAC)]}]}),
                    encoding="utf-8")
    return path


def test_a_policy_name_of_another_platform_is_still_accepted_and_a_typo_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = _iac_inventory(tmp_path, {"password_max_age_days": 60, "ssh_max_sessions": 4})
    assert main(["scan", "--quiet", "--inventory", str(inv), "--output", str(tmp_path / "out"),
                 "--no-history"]) in (0, 1)
    typo = _iac_inventory(tmp_path, {"ssh_max_auth_triez": 3})
    assert main(["scan", "--quiet", "--inventory", str(typo), "--output", str(tmp_path / "out2"),
                 "--no-history"]) == 2
    err = capsys.readouterr().err
    assert "policy.ssh_max_auth_triez: unknown policy name" in err
    assert not (tmp_path / "out2").exists()


def test_a_selection_of_another_platform_behaves_as_with_all_checks_loaded(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scan", "--quiet", "--iac", str(IAC), "--check", "linux.ssh.*", "--output", str(tmp_path / "o"),
                 "--no-history"])
    assert code == 5  # nothing evaluated, as when every plugin was loaded
    assert "no selected check applies to target" in capsys.readouterr().err


HEAVY = ("boto3", "botocore", "paramiko", "ldap3", "winrm", "requests", "spnego", "dask", "distributed", "psycopg",
         "jinja2", "yaml")


def test_a_scan_of_code_imports_no_network_library(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import json, runpy, sys
        out = sys.argv[1]
        sys.argv = ["gxpscan", "scan", "--quiet", "--no-history", "--iac", {str(IAC)!r}, "--format", "json",
                    "--output", out]
        try:
            runpy.run_module("scanner", run_name="__main__")
        except SystemExit as exc:
            code = exc.code
        print(json.dumps({{"code": code, "modules": sorted(m for m in sys.modules if "." not in m),
                          "checks": sorted(m for m in sys.modules if m.startswith("checks."))}}))
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for i in range(2):  # the second with the catalogs from the cache (no YAML parser needed)
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path / f"out{i}")], capture_output=True,
                              text=True, env=env, cwd=REPO, timeout=120)
        report = json.loads(done.stdout.splitlines()[-1])
    assert report["code"] in (0, 1), done.stderr
    assert sorted(set(report["modules"]) & set(HEAVY)) == []
    # tls: the TLS challenges, an entry point named after no platform, so always loaded
    assert {m.split(".")[1] for m in report["checks"]} <= {"aws", "frameworks", "tls"}
    assert (tmp_path / "out1" / "report.json").exists()


@pytest.mark.parametrize("selection", [[], ["--framework", "part11"], ["--check", "aws.s3.*", "--check", "linux.ssh.*"],
                                       ["--framework", "annex11", "--clause", "12"]])
def test_the_run_records_the_same_clauses_and_coverage_as_with_every_plugin_loaded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, selection: list[str]) -> None:
    from scanner import cli

    def scan(out: str) -> dict[str, object]:
        argv = ["scan", "--quiet", "--no-history", "--iac", str(IAC), "--format", "json", "--output",
                str(tmp_path / out), *selection]
        assert main(argv) in (0, 1)
        doc: dict[str, object] = json.loads((tmp_path / out / "report.json").read_text(encoding="utf-8"))
        return doc

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GXPSCAN_NO_CACHE", raising=False)
    partial = scan("partial")
    narrowed = scan("narrowed")  # with --check: only the modules defining the ids, from the index kept by the first
    real = cli._load_registry
    monkeypatch.setattr(cli, "_load_registry", lambda platforms=None, patterns=None: real(None))
    everything = scan("everything")
    for doc in (partial, narrowed, everything):
        for finding in doc["findings"]:  # type: ignore[attr-defined]
            finding.pop("at")
    for doc in (partial, narrowed):
        assert doc["run"]["clauses"] == everything["run"]["clauses"]  # type: ignore[index]
        assert doc["coverage"] == everything["coverage"]
        assert doc["findings"] == everything["findings"]
