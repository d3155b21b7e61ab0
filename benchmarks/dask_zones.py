"""Distributed scan benchmark: N SSH lab hosts over two Dask zone workers vs the same scan locally.

Starts N light lab hosts (as benchmarks/ssh_fleet.py does: one network namespace each, root login with the lab
key, host keys checked against the lab's known_hosts), a Dask scheduler and two zone workers, each in its own
network namespace reaching only its half of the hosts (tests/lab/dasklab.py). Then, alternating, per repeat:

* local -- ``gxpscan scan`` of the N hosts, whole Linux pack, ``--concurrency 2*T``, in its own process;
* dask  -- the same command with ``--executor dask://...``: two workers of T threads each (2*T scans at once).

The distribution overhead is dask minus local wall time. The per-task overhead is measured apart: M empty
gxpscan tasks (a target with no check: task encoded, sent through the scheduler to a zone worker, its outcome
encoded and returned) in flight at once, wall / M = the scheduler's cost per task; and one such task alone
(latency); these also warm the workers, as long-lived workers are. Task and result sizes are those of a real
host. The table ends with the extrapolation to 10,000 hosts over 20 zone workers, with its arithmetic.

Run as root: ``python3 benchmarks/dask_zones.py [--hosts 100] [--threads 8] [--repeat 3] [--tasks 2000]``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ZONES = ("a", "b")


def scan_once(inventory: Path, out: Path, concurrency: int, executor: str | None) -> float:
    argv = [sys.executable, "-m", "scanner", "scan", "-i", str(inventory), "--check", "linux.*", "--format", "json",
            "-q", "-o", str(out), "--concurrency", str(concurrency), *(["--executor", executor] if executor else [])]
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=_env())
    wall = time.monotonic() - start
    if proc.returncode not in (0, 1, 3):
        raise RuntimeError(f"scan failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    findings = json.loads((out / "report.json").read_text())["findings"]
    unreached = {f["target"] for f in findings if "could not be scanned" in f["message"] or "zone" in f["message"]}
    if unreached:
        raise RuntimeError(f"{len(unreached)} host(s) not scanned, e.g. {sorted(unreached)[0]}")
    return wall


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(REPO)}


def task_overhead(address: str, tasks: int, target_doc: dict[str, Any]) -> dict[str, float]:
    """Seconds per empty gxpscan task through the scheduler: all in flight at once, and one alone."""
    from distributed import Client

    from scanner.executors import ZONE_SHARE, encode, run_task, task_for
    from scanner.inventory import load_inventory

    target = load_inventory({"version": 1, "targets": [target_doc]}).targets[0]
    payload = encode(task_for(target, [], {}, (), _fingerprint([])))
    with Client(address, timeout=30, set_as_default=False) as client:
        client.submit(run_task, payload, resources={"zone-a": ZONE_SHARE}, pure=False).result()  # warm: checks loaded
        client.submit(run_task, payload, resources={"zone-b": ZONE_SHARE}, pure=False).result()
        alone = []
        for _ in range(20):
            start = time.monotonic()
            client.submit(run_task, payload, resources={"zone-a": ZONE_SHARE}, pure=False).result()
            alone.append(time.monotonic() - start)
        start = time.monotonic()
        futures = [client.submit(run_task, payload, resources={f"zone-{ZONES[i % 2]}": ZONE_SHARE}, pure=False)
                   for i in range(tasks)]
        client.gather(futures)
        bulk = time.monotonic() - start
    return {"per_task_s": bulk / tasks, "alone_s": statistics.median(alone)}


def _fingerprint(specs: list[Any]) -> str:
    from scanner.registry import Registry

    return Registry.load().fingerprint(specs)


def sizes(target_doc: dict[str, Any]) -> dict[str, int]:
    """Bytes of a real host's task (whole Linux pack) and of its result (scanned here, from this machine)."""
    from scanner import frameworks
    from scanner.executors import encode, run_task, task_for
    from scanner.inventory import load_inventory
    from scanner.registry import Registry

    registry = Registry.load()
    specs = list(registry.select(["linux.*"]))
    target = load_inventory({"version": 1, "targets": [target_doc]}).targets[0]
    payload = encode(task_for(target, specs, frameworks.clause_map(frameworks.load_catalogs()), (),
                              registry.fingerprint(specs)))
    return {"task_bytes": len(payload), "result_bytes": len(run_task(payload))}


def drive(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    import yaml

    from tests.lab.dasklab import DaskLab
    from tests.lab.sshlab import SSHLab, require_tools

    reason = require_tools()
    if reason:
        sys.exit(f"cannot start the lab: {reason}")
    work = Path(tempfile.mkdtemp(prefix="gxpscan-daskbench-"))
    lab = SSHLab(work / "lab")
    dask = DaskLab(lab)
    try:
        started = time.monotonic()
        hosts = [lab.add(f"bench-{i:03d}", light=True) for i in range(args.hosts)]
        lab.wait_ready(timeout=120)
        lab.write_known_hosts()
        dask.start_scheduler()
        for z, zone in enumerate(ZONES):
            dask.add_worker(f"w{zone}", zone, hosts[z::2], nthreads=args.threads)
        dask.wait_workers()
        print(f"{args.hosts} lab hosts, scheduler and 2 workers up in {time.monotonic() - started:.1f}s",
              file=sys.stderr)
        docs = [{"name": h.name, "type": "linux", "connection": "ssh", "host": h.address, "user": "root",
                 "key_file": str(lab.user_key), "known_hosts": str(lab.known_hosts), "zone": ZONES[i % 2]}
                for i, h in enumerate(hosts)]
        inventory = work / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"version": 1, "targets": docs}))
        overhead = task_overhead(dask.address, args.tasks, docs[0])  # also warms the workers (checks loaded once)
        rows: dict[str, list[float]] = {"local": [], "dask": []}
        for r in range(args.repeat):
            for kind in ("local", "dask"):
                wall = scan_once(inventory, work / f"{kind}-{r}", 2 * args.threads,
                                 dask.address.replace("tcp://", "dask://") if kind == "dask" else None)
                rows[kind].append(wall)
                print(f"repeat {r + 1}: {kind} {wall:.1f}s", file=sys.stderr)
        return {"hosts": args.hosts, "threads_per_worker": args.threads, "repeat": args.repeat,
                "local_s": rows["local"], "dask_s": rows["dask"], **overhead, **sizes(docs[0])}
    finally:
        dask.close()
        lab.close()


def report(m: dict[str, Any]) -> None:
    local, dask = statistics.median(m["local_s"]), statistics.median(m["dask_s"])
    per_host = local / m["hosts"] * 2 * m["threads_per_worker"]  # seconds of one host's scan in one slot
    print(f"{m['hosts']} hosts, 2 zone workers x {m['threads_per_worker']} threads vs local --concurrency "
          f"{2 * m['threads_per_worker']} (medians of {m['repeat']}):")
    print(f"  local {local:.1f} s, dask {dask:.1f} s: distribution overhead {dask - local:+.1f} s "
          f"({(dask - local) / m['hosts'] * 1000:+.0f} ms per host)")
    print(f"  per task through the scheduler: {m['per_task_s'] * 1000:.2f} ms in bulk, "
          f"{m['alone_s'] * 1000:.1f} ms alone; task {m['task_bytes']:,} B, result {m['result_bytes']:,} B")
    hosts, workers, threads = 10_000, 20, m["threads_per_worker"]
    scheduler = hosts * m["per_task_s"]
    scanning = hosts / (workers * threads) * per_host
    data = hosts * (m["task_bytes"] + m["result_bytes"]) / 1e6
    print(f"  10,000 hosts over {workers} zone workers x {threads} threads: scheduler {hosts} x "
          f"{m['per_task_s'] * 1000:.2f} ms = {scheduler:.1f} s (serial, overlaps the scans); scanning "
          f"{hosts} / ({workers} x {threads}) x {per_host:.2f} s per host = {scanning:.0f} s; "
          f"{data:.0f} MB through the scheduler; total about max({scheduler:.0f}, {scanning:.0f}) = "
          f"{max(scheduler, scanning):.0f} s plus the coordinator's record and reports")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hosts", type=int, default=100)
    p.add_argument("--threads", type=int, default=8, help="threads per zone worker (local: twice this)")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--tasks", type=int, default=2000, help="empty tasks for the per-task overhead")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    m = drive(args)
    if args.json:
        print(json.dumps(m))
    report(m)


if __name__ == "__main__":
    main()
