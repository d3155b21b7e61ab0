"""Sealing and verifying a 100-host run's bundle, against the time of its reporting.

    python3 benchmarks/seal.py [--hosts 100] [--runs 5] [--cpu]

Builds a synthetic run (per host: every Linux check's result, one evidence record per fact with a few KiB of raw
text), writes its record, then times (median of ``--runs``, each in a fresh directory):

- reporting: the json, junit, sarif and oq reports written into the run directory (what a scan does today);
- sealing: the signed manifest (hash every file, in-toto Statement, DSSE envelope with Ed25519);
- verify: ``verify_run`` with the public key pinned (every hash, the signature, the record's consistency).

Goals (issue 11): sealing under 2x the reporting time; verify under 1 s. Exit 1 when a goal is missed. With
``--cpu`` the goals are judged on the process's CPU time (fairer on a shared machine); verify is always shown in
both CPU and wall time, with the load average.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from scanner.cli import _write_reports  # noqa: E402
from scanner.model import Area, Platform, Result, RunInfo, Status, Target, utcnow  # noqa: E402
from scanner.registry import Registry  # noqa: E402
from scanner.runner import TargetOutcome, evidence_id  # noqa: E402
from scanner.seal import seal_run, verify_run  # noqa: E402
from scanner.store import RecordWriter, load_record  # noqa: E402

FORMATS = ["json", "junit", "sarif", "oq"]


def build_record(run_dir: Path, hosts: int) -> int:
    specs = [s for s in Registry.load().checks.values() if s.platform is Platform.LINUX]
    facts = sorted({f for s in specs for f in s.facts})
    info = RunInfo(id="bench-run", tool_version="bench", checks_fingerprint="0" * 64, operator="bench@host",
                   started=utcnow(), inventory="bench.yaml", inventory_sha256="1" * 64, operator_name="Bench")
    writer = RecordWriter(run_dir / "record.jsonl", info)
    statuses = [Status.PASS, Status.FAIL, Status.PASS, Status.ERROR, Status.PASS, Status.MANUAL]
    for h in range(hosts):
        name = f"host{h:03d}.example.test"
        evidence = {}
        for fact in facts:
            raw = "".join(f"{fact} line {i}: setting_{i} = value {h}-{i}\n" for i in range(60))
            evidence[evidence_id(name, fact, 0)] = {
                "target": name, "fact": fact, "index": 0, "ok": True, "error": None, "source": f"probe {fact}",
                "collected_at": utcnow().isoformat(), "raw": raw,
                "sha256": hashlib.sha256(raw.encode()).hexdigest(), "truncated": False, "exit_code": 0}
        results = tuple(Result(
            check=s.id, target=name, target_type="linux", status=statuses[i % len(statuses)], severity=s.severity,
            area=Area(s.area), resource=f"{s.id.split('.')[-1]}",
            message=f"{s.title}: observed on {name}", observed={"value": i, "limit": 5},
            clauses=("part11:11.10(d)", "annex11:12.1"), evidence=tuple(evidence_id(name, f, 0) for f in s.facts),
            at=utcnow(), criterion=s.criterion, remediation=s.remediation)
            for i, s in enumerate(specs))
        writer.add(TargetOutcome(Target(name, Platform.LINUX, {"connection": "local"}, {}), results, evidence,
                                 system={"platform": "linux", "hostname": name, "os": "Debian GNU/Linux",
                                         "os_version": "12", "kernel": "6.1.0-27-amd64"}))
    return len(writer.close().results)


def once(base: Path, hosts: int, key: Ed25519PrivateKey,
         clock: Callable[[], float]) -> tuple[float, float, float, float, float, int, int]:
    """(reporting, sealing, verify) on ``clock``, then verify's CPU and wall time, results, bundle bytes."""
    run_dir = Path(tempfile.mkdtemp(dir=base))
    results = build_record(run_dir, hosts)
    run = load_record(run_dir)
    t0 = clock()
    _write_reports(run, FORMATS, run_dir, quiet=True)
    t1 = clock()
    seal_run(run_dir, key=key)
    t2 = clock()
    cpu, wall = time.process_time(), time.perf_counter()
    v = verify_run(run_dir, pubkeys=[key.public_key()])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    t3 = clock()
    assert v.intact, v.problems
    size = sum(p.stat().st_size for p in run_dir.iterdir())
    return t1 - t0, t2 - t1, t3 - t2, cpu, wall, results, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cpu", action="store_true",
                        help="judge the goals on the process's CPU time (time.process_time) instead of the wall "
                             "clock: fairer on a machine that other work shares")
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    clock = time.process_time if args.cpu else time.perf_counter
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            rows.append(once(Path(tmp), args.hosts, key, clock))
    report, seal, verify, verify_cpu, verify_wall = (statistics.median(r[i] for r in rows) for i in range(5))
    results, size = rows[0][5], rows[0][6]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{args.hosts} hosts, {results} results, bundle {size / 1e6:.1f} MB ({', '.join(FORMATS)} + record); "
          f"median of {args.runs} ({'CPU' if args.cpu else 'wall'} time); load average {load}")
    print(f"reporting (json, junit, sarif, oq): {report:.3f} s")
    print(f"sealing (hash every file, sign):    {seal:.3f} s = {seal / report:.2f}x reporting (goal < 2x)")
    print(f"verify (pinned key, consistency):   {verify:.3f} s (goal < 1 s); "
          f"CPU {verify_cpu:.3f} s, wall {verify_wall:.3f} s")
    ok = seal < 2 * report and verify < 1.0
    print("goals met" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
