"""Distributed scans over network zones, against a real Dask scheduler and workers and real OpenSSH hosts.

Zone ``a`` and zone ``b`` have three lab sshd hosts each; one worker per zone runs in its own network namespace and
reaches its zone's hosts only (tests/lab/dasklab.py). The hosts take the lab's encrypted key, whose passphrase
is in the workers' environment only: a distributed scan works without the coordinator ever holding it.
"""
from __future__ import annotations

import json
import os
import pickle
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner import frameworks
from scanner.cli import main
from scanner.executors import DaskZoneExecutor, ExecutorSpec, encode, run_task, task_for
from scanner.inventory import load_inventory
from scanner.registry import Registry
from scanner.runner import TargetOutcome, scan
from tests.conftest import lab_unavailable
from tests.lab.dasklab import DaskLab
from tests.lab.sshlab import LabHost, SSHLab, require_tools

PASS_ENV = "GXP_DASK_KEY_PASSPHRASE"
ZONES = ("a", "b")
Verdicts = dict[tuple[str, str, str], str]


@dataclass
class Zones:
    ssh: SSHLab
    dask: DaskLab
    hosts: dict[str, list[LabHost]]
    local: Verdicts  # the local scan of every host, check by check

    def target(self, host: LabHost, zone: str) -> dict[str, Any]:
        return {"name": host.name, "type": "linux", "connection": "ssh", "host": host.address, "user": "root",
                "key_file": str(self.ssh.user_key_enc), "passphrase_env": PASS_ENV,
                "known_hosts": str(self.ssh.known_hosts), "zone": zone, "connect_timeout": 5}

    def inventory(self, path: Path, targets: Sequence[Mapping[str, Any]]) -> Path:
        path.write_text(yaml.safe_dump({"version": 1, "targets": list(targets)}))
        return path

    def all_targets(self) -> list[dict[str, Any]]:
        return [self.target(h, z) for z in ZONES for h in self.hosts[z]]


def cli_scan(inventory: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["scan", "-i", str(inventory), "--check", "linux.*", "--format", "json", "-o", str(out), "-q", *extra])
    return code, json.loads((out / "report.json").read_text())


def verdicts(findings: Sequence[Mapping[str, Any]]) -> Verdicts:
    return {(f["check"], f["target"], f["resource"]): f["status"] for f in findings}


def outcome_verdicts(outcomes: Sequence[TargetOutcome]) -> Verdicts:
    return {(r.check, r.target, r.resource): r.status.value for o in outcomes for r in o.results}


@pytest.fixture(scope="module")
def zones(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zones]:
    reason = require_tools()
    if reason:
        lab_unavailable(reason)
    assert PASS_ENV not in os.environ
    work = tmp_path_factory.mktemp("dask")
    ssh = SSHLab(work / "lab")
    dask = DaskLab(ssh)
    try:
        hosts = {z: [ssh.add(f"z{z}{i}", light=True) for i in range(3)] for z in ZONES}
        ssh.wait_ready()
        ssh.write_known_hosts()
        dask.start_scheduler()
        for z in ZONES:
            dask.add_worker(f"w{z}", z, hosts[z], env={PASS_ENV: ssh.passphrase})
        dask.wait_workers()
        lab = Zones(ssh, dask, hosts, {})
        with pytest.MonkeyPatch.context() as mp:  # the local reference scan holds the passphrase itself
            mp.setenv(PASS_ENV, ssh.passphrase)
            _, report = cli_scan(lab.inventory(work / "local.yml", lab.all_targets()), work / "local")
        lab.local = verdicts(report["findings"])
        yield lab
    finally:
        dask.close()
        ssh.close()


def test_zone_scan_is_the_local_scan_and_the_secret_stays_on_the_workers(
        zones: Zones, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = zones.ssh.passphrase
    assert PASS_ENV not in os.environ  # the coordinator (this process) never holds the passphrase
    code, report = cli_scan(zones.inventory(tmp_path / "inv.yml", zones.all_targets()), tmp_path / "run",
                            "--executor", zones.dask.address.replace("tcp://", "dask://"))
    got = verdicts(report["findings"])
    assert got == zones.local  # check by check, resource by resource
    for host in [h for z in ZONES for h in zones.hosts[z]]:  # really scanned: the key opened, sshd judged
        assert got[("linux.ssh.root_login", host.name, "sshd")] == "fail"  # PermitRootLogin prohibit-password
    assert code in (1, 3)
    assert "reached without TLS" in (tmp_path / "run" / "record.jsonl").read_text()  # the plaintext link, on record
    outputs = [p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()]
    printed = capsys.readouterr()
    assert outputs and not any(secret.encode() in b for b in outputs)
    assert secret not in printed.out + printed.err


def test_without_the_workers_passphrase_the_key_does_not_open(zones: Zones, tmp_path: Path) -> None:
    """The control for the test above: the passphrase is needed, so the workers did resolve it themselves."""
    target = zones.target(zones.hosts["a"][0], "a")
    _, report = cli_scan(zones.inventory(tmp_path / "inv.yml", [target]), tmp_path / "run")
    assert {f["status"] for f in report["findings"]} == {"error"}
    assert f"environment variable {PASS_ENV} (passphrase_env) is not set" in report["findings"][0]["message"]


def test_the_task_bytes_carry_the_variable_name_only(zones: Zones) -> None:
    from distributed import Client

    registry = Registry.load()
    specs = list(registry.select(["linux.ssh.*"]))
    inventory = load_inventory({"version": 1, "targets": [zones.target(zones.hosts["a"][1], "a")]})
    task = task_for(inventory.targets[0], specs, frameworks.clause_map(frameworks.load_catalogs()), (),
                    registry.fingerprint(specs))
    payload = encode(task)
    assert PASS_ENV.encode() in payload and zones.ssh.passphrase.encode() not in payload
    with Client(zones.dask.address, timeout=30, set_as_default=False) as client:
        answer = client.submit(run_task, payload, resources={"zone-a": 1}, pure=False).result(timeout=120)
    assert isinstance(answer, bytes) and zones.ssh.passphrase.encode() not in answer
    outcome = pickle.loads(answer)
    assert outcome_verdicts([outcome]) == {k: v for k, v in zones.local.items()
                                           if k[1] == task.target.name and k[0].startswith("linux.ssh.")}


def test_a_zone_without_a_worker_and_a_host_outside_the_zone_are_errors(zones: Zones, tmp_path: Path) -> None:
    a0, b0 = zones.hosts["a"][0], zones.hosts["b"][0]
    targets = [zones.target(a0, "a"), {**zones.target(b0, "a"), "name": "b-host-in-zone-a"},
               {**zones.target(a0, "dmz"), "name": "in-dmz"}]
    started = time.monotonic()
    code, report = cli_scan(zones.inventory(tmp_path / "inv.yml", targets), tmp_path / "run",
                            "--executor", zones.dask.address, "--zone-wait", "4")
    took = time.monotonic() - started
    by_target: dict[str, list[Mapping[str, Any]]] = {}
    for f in report["findings"]:
        by_target.setdefault(f["target"], []).append(f)
    assert verdicts(by_target[a0.name]) == {k: v for k, v in zones.local.items() if k[1] == a0.name}
    # the worker of zone a cannot reach a host of zone b: its namespace has no route there
    assert {f["status"] for f in by_target["b-host-in-zone-a"]} == {"error"}
    assert "cannot connect" in by_target["b-host-in-zone-a"][0]["message"]
    dmz = by_target["in-dmz"]
    assert {f["status"] for f in dmz} == {"error"}
    assert all("no Dask worker of zone 'dmz' (resource zone-dmz=1) was available for 4s" in f["message"]
               for f in dmz)
    assert code == 1 and took < 60  # bounded: the run completes (exit 1: zone a's host has failures)


@pytest.mark.parametrize("spare", [True, False], ids=["retried-on-a-spare", "no-spare"])
def test_a_worker_killed_mid_scan(zones: Zones, spare: bool) -> None:
    """Zone k: the hosts of zone a, a single-threaded worker killed once the first target is back. A worker of the
    same zone started then scans the rest (the scheduler retries a task once); without one, the rest is error."""
    zone = f"k{int(spare)}"
    hosts = zones.hosts["a"]
    zones.dask.add_worker(f"{zone}-first", zone, hosts, nthreads=1, env={PASS_ENV: zones.ssh.passphrase})
    zones.dask.wait_workers()
    registry = Registry.load()
    specs = list(registry.select(["linux.*"]))
    inventory = load_inventory({"version": 1, "targets": [zones.target(h, zone) for h in hosts]})
    done: list[str] = []

    def on_done(outcome: TargetOutcome) -> None:
        done.append(outcome.target.name)
        if len(done) == 1:
            zones.dask.kill_worker(f"{zone}-first")
            if spare:
                zones.dask.add_worker(f"{zone}-spare", zone, hosts, nthreads=1, env={PASS_ENV: zones.ssh.passphrase})

    executor = DaskZoneExecutor(ExecutorSpec(zones.dask.address, zone_wait=45 if spare else 4),
                                registry.fingerprint(specs))
    try:
        outcomes = scan(inventory.targets, specs, frameworks.clause_map(frameworks.load_catalogs()),
                        executor=executor, on_done=on_done)
    finally:
        executor.shutdown()
    assert len(outcomes) == len(hosts)
    first, rest = outcomes[0], outcomes[1:]
    local = {k: v for k, v in zones.local.items() if k[1] in {h.name for h in hosts}}
    assert outcome_verdicts([first]) == {k: v for k, v in local.items() if k[1] == first.target.name}
    if spare:
        assert outcome_verdicts(outcomes) == local
    else:
        for o in rest:
            assert {r.status.value for r in o.results} == {"error"}
            assert f"no Dask worker of zone '{zone}'" in o.results[0].message
