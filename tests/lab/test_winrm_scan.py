"""Whole scans of Windows hosts over WinRM: responders replaying the four host profiles (tests/fixtures/windows),
next to hosts with faults (hanging, wrong password, untrusted certificate). Nothing here runs Windows."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.cli import FORMAT_NAMES, main
from scanner.store import read_record
from tests.fixtures.windows.replay import PROFILES, reply_for
from tests.lab.test_winrm import PASSWORD, PASSWORD_ENV, USER, Pki, pki  # noqa: F401 (pki is a fixture)
from tests.lab.wsman import Fault, WSManResponder

WRONG_ENV = "GXPSCAN_TEST_WINRM_WRONG"


@pytest.fixture(autouse=True)
def windows_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Windows pack's entry point, while the installed gxpscan metadata predates it (an editable install of an
    older tree); a no-op once the installed metadata lists it."""
    from importlib import metadata

    installed = metadata.entry_points
    if "windows" not in installed(group="gxpscan.checks").names:
        extra = metadata.EntryPoint("windows", "checks.windows", "gxpscan.checks")
        monkeypatch.setattr("scanner.registry.metadata.entry_points",
                            lambda group: (*installed(group=group), *((extra,) if group == "gxpscan.checks" else ())))


@pytest.fixture()
def fleet(pki: Pki) -> Iterator[dict[str, WSManResponder]]:  # noqa: F811
    hosts: dict[str, dict[str, Any]] = {p: dict(reply=reply_for(p)) for p in PROFILES}
    hosts.update({"hang": dict(reply=reply_for("weak"), fault=Fault.HANG),
                  "wrong-password": dict(reply=reply_for("weak")),
                  "untrusted": dict(reply=reply_for("weak"), cert=pki.rogue)})
    with ExitStack() as stack:
        yield {name: stack.enter_context(WSManResponder(
            kw.pop("reply"), tls=True, users={USER: PASSWORD}, directory=pki.directory, ca=pki.ca,
            cert=kw.pop("cert", pki.cert), **kw)) for name, kw in hosts.items()}


def targets(fleet: dict[str, WSManResponder], pki: Pki) -> list[dict[str, Any]]:  # noqa: F811
    out = []
    for name, r in fleet.items():
        t: dict[str, Any] = {"name": name, "type": "windows", "host": r.host, "port": r.port, "user": USER,
                             "password_env": WRONG_ENV if name == "wrong-password" else PASSWORD_ENV,
                             "ca_file": str(pki.ca.cert), "operation_timeout": 1}
        if name == "hang":
            t["host_timeout"] = 4
        out.append(t)
    return out


def scan(tmp_path: Path, targets: list[dict[str, Any]], *extra: str) -> tuple[int, dict[str, Any]]:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"version": 1, "targets": targets}))
    out = tmp_path / "out"
    rc = main([*extra[:2], "scan", "--inventory", str(inventory), "--output", str(out), "--format", "json",
               *extra[2:]])
    return rc, json.loads((out / "report.json").read_text())


def by_target(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    seen: dict[str, list[dict[str, Any]]] = {}
    for f in report["findings"]:
        seen.setdefault(f["target"], []).append(f)
    return seen


def test_a_fleet_scan_one_command_per_host_faults_are_errors_for_their_host_only(
        fleet: dict[str, WSManResponder], pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    monkeypatch.setenv(WRONG_ENV, "Wrong-Password-1")
    caplog.set_level(logging.DEBUG)
    formats = [a for f in FORMAT_NAMES for a in ("--format", f)]
    rc, report = scan(tmp_path, targets(fleet, pki), "--log-level", "DEBUG", *formats, "--verbose")
    found = by_target(report)
    assert sorted(found) == sorted(fleet)
    for profile in PROFILES:  # each replayed host is judged from one Command (the pack's own tests say how)
        statuses = [f["status"] for f in found[profile]]
        assert len(statuses) > 30 and statuses.count("error") <= 1, profile
        assert fleet[profile].ops["Command"] == 1 and fleet[profile].ops["Create"] == 1, profile
        assert fleet[profile].ops["Delete"] == 1, profile
    for name, why in (("hang", "timed out"), ("wrong-password", "authentication failed"),
                      ("untrusted", "not trusted")):
        assert {f["status"] for f in found[name]} == {"error"}, name
        assert any(why in f["message"] for f in found[name]), (name, found[name][0]["message"])
    assert {f["status"] for f in found["weak"]} == {"fail"} and "pass" in {f["status"] for f in found["german"]}
    assert fleet["untrusted"].auth_headers == [] and fleet["untrusted"].received == b""
    assert fleet["wrong-password"].ops["Create"] == 0
    assert rc == 1
    systems = read_record(next((tmp_path / "out").rglob("record.jsonl")).parent).run.systems
    assert {systems[p]["protection"] for p in PROFILES} == {"https+ntlm"}

    captured = capsys.readouterr()
    outputs = {"stdout": captured.out, "stderr": captured.err, "logging": caplog.text}
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len(files) > 5
    outputs.update({str(p): p.read_bytes().decode("latin-1") for p in files})
    assert [where for where, text in outputs.items() if PASSWORD in text or "Wrong-Password-1" in text] == []
