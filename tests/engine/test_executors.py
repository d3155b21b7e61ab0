"""Executors: --executor parsing, zones in the inventory, the worker's fail-closed guards, and an in-process Dask
cluster (a real scheduler and worker, TLS included; marked lab: they start a server) for the zone wait. Network
zones and worker processes are in tests/lab/test_dask_zones.py."""
from __future__ import annotations

import json
import pickle
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner import frameworks
from scanner.cli import main
from scanner.executors import (
    PLAINTEXT_WARNING,
    DaskTls,
    DaskZoneExecutor,
    ExecutorError,
    ExecutorSpec,
    encode,
    parse_executor,
    run_task,
    task_for,
)
from scanner.inventory import InventoryError, load_inventory
from scanner.registry import Registry
from scanner.runner import scan, scan_target

TLS = {"tls_ca": "ca.pem", "tls_cert": "me.pem", "tls_key": "me.key"}


@pytest.mark.parametrize(("value", "options", "expected"), [
    (None, {}, ExecutorSpec()),
    ("local", {}, ExecutorSpec()),
    ("dask://sched.example:9000", {}, ExecutorSpec("tcp://sched.example:9000")),
    ("dask://sched.example", {}, ExecutorSpec("tcp://sched.example:8786")),
    ("tcp://10.0.0.5:8786", {}, ExecutorSpec("tcp://10.0.0.5:8786")),
    ("tls://sched.example", TLS, ExecutorSpec("tls://sched.example:8786", DaskTls("ca.pem", "me.pem", "me.key"))),
    ("tls://[fd00::5]:8786", {}, ExecutorSpec("tls://[fd00::5]:8786", DaskTls())),
])
def test_executor_values(value: str | None, options: dict[str, str], expected: ExecutorSpec) -> None:
    assert parse_executor(value, **options) == expected


@pytest.mark.parametrize(("value", "options", "message"), [
    ("http://sched:8786", {}, "expected local, dask://HOST[:PORT] or tls://HOST[:PORT]"),
    ("dask://user:pw@sched:8786", {}, "expected local"),
    ("dask://sched:port", {}, "the port is not a number"),
    ("dask://sched:8786/path", {}, "expected local"),
    ("dask://sched:8786", TLS, "--dask-tls-* options need --executor tls://"),
    (None, {"tls_ca": "ca.pem"}, "--dask-tls-* options need --executor tls://"),
    ("tls://sched", {"tls_ca": "ca.pem"}, "go together"),
])
def test_unusable_executor_values(value: str, options: dict[str, str], message: str) -> None:
    with pytest.raises(ExecutorError, match=message.replace("[", r"\[").replace("*", r"\*")):
        parse_executor(value, **options)


def test_plaintext_scheduler_is_a_warning_tls_is_not() -> None:
    assert parse_executor("dask://s:1").warnings() == [PLAINTEXT_WARNING.format(address="tcp://s:1")]
    assert parse_executor("tls://s:1").warnings() == []
    assert parse_executor(None).warnings() == []


def test_bad_executor_is_a_usage_error_before_anything_runs(tmp_path: Path) -> None:
    assert main(["scan", "--executor", "ftp://x", "-o", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run").exists()


def _doc(target: dict[str, Any], groups: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"version": 1, "groups": groups or {},
            "targets": [{"name": "t1", "type": "linux", "connection": "local", **target}]}


@pytest.mark.parametrize(("target", "groups", "zone"), [
    ({}, None, None),
    ({"zone": "lab"}, None, "lab"),
    ({"groups": ["mfg"]}, {"mfg": {"zone": "mfg-2"}}, "mfg-2"),
    ({"groups": ["mfg", "web"], "zone": "dmz"}, {"mfg": {"zone": "mfg"}, "web": {"zone": "web"}}, "dmz"),
    ({"groups": ["mfg", "plain"]}, {"mfg": {"zone": "mfg"}, "plain": {}}, "mfg"),
])
def test_zone_of_a_target_or_its_group(target: dict[str, Any], groups: dict[str, Any] | None,
                                       zone: str | None) -> None:
    assert load_inventory(_doc(target, groups)).targets[0].opt("zone") == zone


@pytest.mark.parametrize(("target", "groups", "problem"), [
    ({"zone": "Lab Zone"}, None, "targets[0].zone: 'Lab Zone' does not match"),
    ({"zone": ""}, None, "targets[0].zone: '' does not match"),
    ({"groups": ["g"]}, {"g": {"zone": 5}}, "groups.g.zone: 5 is not of type 'string'"),
    ({"groups": ["mfg", "web"]}, {"mfg": {"zone": "mfg"}, "web": {"zone": "web"}},
     "targets[0].zone: its groups put it in zones mfg, web; name its zone on the target"),
])
def test_bad_zones_are_inventory_faults(target: dict[str, Any], groups: dict[str, Any] | None, problem: str) -> None:
    with pytest.raises(InventoryError) as err:
        load_inventory(_doc(target, groups))
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


# --- the worker side, without Dask -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def _task(registry: Registry, *, fingerprint: str | None = None, ids: tuple[str, ...] = ()) -> Any:
    specs = list(registry.select(["linux.ssh.root_login", "linux.accounts.uid0"]))
    target = load_inventory(_doc({"zone": "lab"})).targets[0]
    task = task_for(target, specs, frameworks.clause_map(frameworks.load_catalogs()), (),
                    fingerprint if fingerprint is not None else registry.fingerprint(specs))
    return task if not ids else type(task)(**{**task.__dict__, "check_ids": task.check_ids + ids})


@pytest.mark.parametrize(("kind", "message"), [
    ("fingerprint", "not scanned: the worker's check code differs from the coordinator's (another fingerprint)"),
    ("unknown check", "not scanned: the worker has no check linux.nowhere.check"),
])
def test_a_worker_with_other_check_code_scans_nothing(registry: Registry, kind: str, message: str) -> None:
    task = (_task(registry, fingerprint="0" * 64) if kind == "fingerprint"
            else _task(registry, ids=("linux.nowhere.check",)))
    outcome = pickle.loads(run_task(encode(task)))
    assert {r.check for r in outcome.results} == {"linux.ssh.root_login", "linux.accounts.uid0"}
    assert {r.status.value for r in outcome.results} == {"error"}
    assert all(message in r.message for r in outcome.results)


def test_a_task_is_scanned_like_a_local_target(registry: Registry) -> None:
    task = _task(registry)
    specs = [registry.checks[i] for i in task.check_ids]
    remote = pickle.loads(run_task(encode(task)))
    local = scan_target(task.target, specs, task.clause_map)
    assert [(r.check, r.resource, r.status, r.message) for r in remote.results] == \
           [(r.check, r.resource, r.status, r.message) for r in local.results]


def test_run_task_refuses_anything_else() -> None:
    with pytest.raises(TypeError, match="not a gxpscan target task: dict"):
        run_task(encode({"target": "x"}))


# --- a real Dask scheduler and worker in this process ------------------------------------------------------

@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, resources={"zone-lab": 1},
                      dashboard_address=":0") as c:
        yield c


@pytest.mark.lab  # starts a Dask scheduler (in this process)
def test_a_zone_without_worker_is_an_error_after_the_bounded_wait(cluster: Any, registry: Registry) -> None:
    from distributed import Client

    specs = list(registry.select(["linux.accounts.uid0"]))
    targets = load_inventory({"version": 1, "targets": [
        {"name": "here", "type": "linux", "connection": "local", "zone": "lab"},
        {"name": "there", "type": "linux", "connection": "local", "zone": "dmz"}]}).targets
    executor = DaskZoneExecutor(ExecutorSpec(cluster.scheduler_address, zone_wait=2), registry.fingerprint(specs),
                                client=Client(cluster, set_as_default=False))
    started = time.monotonic()
    try:
        assert executor.zones() == {"lab"}
        outcomes = {o.target.name: o for o in scan(targets, specs, {}, executor=executor)}
    finally:
        executor.shutdown()
    assert 2 <= time.monotonic() - started < 20
    assert [r.status.value for r in outcomes["here"].results] == ["pass"]  # this machine has one UID 0
    [there] = outcomes["there"].results
    assert there.status.value == "error"
    assert "no Dask worker of zone 'dmz' (resource zone-dmz=1) was available for 2s; not scanned" in there.message


@pytest.mark.lab  # starts a Dask scheduler (in this process)
def test_the_executor_runs_target_scans_only(cluster: Any, registry: Registry) -> None:
    from distributed import Client

    executor = DaskZoneExecutor(ExecutorSpec(cluster.scheduler_address), "x",
                                client=Client(cluster, set_as_default=False))
    try:
        with pytest.raises(TypeError, match="runs scan_target"):
            executor.submit(print, "hello")
    finally:
        executor.shutdown()


def _certificate(where: Path) -> tuple[Path, Path]:
    """A self-signed certificate (its own CA) for scheduler, worker and client."""
    cert, key = where / "dask.pem", where / "dask.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=gxpscan-dask-test", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.mark.lab  # starts a Dask scheduler (in this process)
def test_a_scan_over_a_tls_scheduler(tmp_path: Path) -> None:
    from distributed import LocalCluster
    from distributed.security import Security

    cert, key = _certificate(tmp_path)
    security = Security(tls_ca_file=str(cert), tls_scheduler_cert=str(cert), tls_scheduler_key=str(key),
                        tls_worker_cert=str(cert), tls_worker_key=str(key), tls_client_cert=str(cert),
                        tls_client_key=str(key), require_encryption=True)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tls://", security=security,
                      resources={"zone-lab": 1}, dashboard_address=":0") as c:
        inventory = tmp_path / "inv.json"
        inventory.write_text(json.dumps(_doc({"zone": "lab"})))
        code = main(["scan", "-i", str(inventory), "--check", "linux.accounts.uid0", "--format", "json", "-q",
                     "-o", str(tmp_path / "run"), "--executor", c.scheduler_address, "--dask-tls-ca", str(cert),
                     "--dask-tls-cert", str(cert), "--dask-tls-key", str(key)])
    assert c.scheduler_address.startswith("tls://")
    findings = json.loads((tmp_path / "run" / "report.json").read_text())["findings"]
    assert code in (0, 1) and {f["status"] for f in findings} <= {"pass", "fail"}
    assert "without TLS" not in (tmp_path / "run" / "record.jsonl").read_text()
