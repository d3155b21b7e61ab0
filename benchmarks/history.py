"""The history in SQLite: adding a 1,000-target run, and "failing since" for any finding, at 30/100/365 runs.

    python3 benchmarks/history.py [--targets 1000] [--checks 20] [--sizes 30,100,365] [--queries 50] [--cpu]

Builds one real run directory (a record with --targets x --checks results, sealed), then fills a fresh SQLite
history with runs of the same shape (each run flips the status of about 2 % of the findings, so findings fail,
get fixed and flap) up to each size, and at each size times:

- add the scan's run: ``History.add_run(run_dir, written=record)`` as ``gxpscan scan`` adds the run it has just
  written and sealed (from memory; its first manifest is read), median of 3, each into a fresh copy of the history;
- import: ``History.add_run(run_dir)`` as ``history import`` adds a run directory: verify the seal, read the
  record strictly, store (one transaction), the same way;
- failing since: ``History.finding`` for --queries random findings (median and worst).

The history keeps status changes, not every observation (schema version 3): the size shows both counts.

Goal (issue 13): adding the scan's run and "failing since" under 1 s at 365 runs. Exit 1 when missed. Adding is
shown in wall and CPU time (with ``--cpu`` its goal is judged on CPU time, fairer on a shared machine), with the
load average.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scanner.history import RunRow, open_history, read_run  # noqa: E402
from scanner.model import Area, Platform, Result, RunInfo, Severity, Status, Target, utcnow  # noqa: E402
from scanner.runner import TargetOutcome  # noqa: E402
from scanner.seal import seal_run  # noqa: E402
from scanner.store import RecordWriter, read_record  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
FLIP = 0.02


def build_run(run_dir: Path, targets: int, checks: int, started: datetime) -> None:
    info = RunInfo(id="bench-history-run", tool_version="bench", checks_fingerprint="0" * 64, operator="bench@host",
                   started=started, inventory="bench.yaml", inventory_sha256="1" * 64)
    writer = RecordWriter(run_dir / "record.jsonl", info)
    statuses = [Status.PASS, Status.PASS, Status.FAIL, Status.PASS, Status.ERROR]
    for t in range(targets):
        name = f"host{t:04d}.example.test"
        results = tuple(Result(
            check=f"linux.bench.check{c:02d}", target=name, target_type="linux",
            status=statuses[(t + c) % len(statuses)], severity=Severity.HIGH, area=Area.ACCESS_CONTROL,
            resource=f"resource-{c}", message="observed", observed={"value": c}, clauses=("part11:11.10(d)",),
            evidence=(), at=started) for c in range(checks))
        writer.add(TargetOutcome(Target(name, Platform.LINUX, {"connection": "local"}, {}), results, {}))
    writer.close()
    seal_run(run_dir)


def variant(row: RunRow, n: int, rng: random.Random, current: list[str]) -> RunRow:
    """Run number ``n``: the same findings, about FLIP of them with a new status."""
    choices = ["pass", "fail", "error"]
    for i in rng.sample(range(len(current)), int(len(current) * FLIP)):
        current[i] = rng.choice([s for s in choices if s != current[i]])
    return replace(row, run_id=f"bench-{n:04d}", started=(T0 + timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                   finished=None, manifest_sha256=f"{n:064x}",
                   results=tuple((key, current[i]) for i, (key, _) in enumerate(row.results)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--targets", type=int, default=1000)
    p.add_argument("--checks", type=int, default=20)
    p.add_argument("--sizes", default="30,100,365")
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--cpu", action="store_true", help="judge the add goal on CPU time (fairer on a shared machine)")
    args = p.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rng = random.Random(13)
    base = Path(tempfile.mkdtemp(prefix="gxpscan-bench-history-"))
    try:
        run_dir = base / "runs" / "real"
        run_dir.mkdir(parents=True, mode=0o700)
        build_run(run_dir, args.targets, args.checks, utcnow())
        record = read_record(run_dir)
        row = read_run(run_dir)
        results = len(row.results)
        print(f"{args.targets} targets x {args.checks} checks = {results} results per run; "
              f"load average {os.getloadavg()[0]:.1f}")
        current = [status for _, status in row.results]
        store_dir = base / "store"
        done, worst_ok = 0, True
        fill_started = time.perf_counter()
        for size in sizes:
            with open_history(None, store_dir) as h:
                while done < size:
                    h.store(variant(row, done, rng, current))
                    done += 1
            fill = time.perf_counter() - fill_started
            add: list[float] = []
            add_cpu: list[float] = []
            own: list[float] = []
            own_cpu: list[float] = []
            for _ in range(3):
                for wall, cpu, written in ((add, add_cpu, None), (own, own_cpu, record)):
                    copy = base / "copy"
                    shutil.copytree(store_dir, copy)
                    os.sync()  # the copy's own writeback is not the add's cost
                    with open_history(None, copy) as h:
                        t0, c0 = time.perf_counter(), time.process_time()
                        h.add_run(run_dir, written=written)
                        wall.append(time.perf_counter() - t0)
                        cpu.append(time.process_time() - c0)
                    shutil.rmtree(copy)
            with open_history(None, store_dir) as h:
                times = []
                for key, _ in rng.sample(row.results, args.queries):
                    t0 = time.perf_counter()
                    found = h.finding(*key)
                    times.append(time.perf_counter() - t0)
                    assert found is not None and found.runs == size
            size_mb = (store_dir / "history.sqlite").stat().st_size / 1e6
            with contextlib.closing(sqlite3.connect(store_dir / "history.sqlite")) as db:
                changes = db.execute("SELECT COUNT(*) FROM changes").fetchone()[0]
            ok = statistics.median(own_cpu if args.cpu else own) < 1 and max(times) < 1
            worst_ok &= ok
            print(f"{size:4d} runs ({size * results:,} observations kept as {changes:,} status changes, "
                  f"{size_mb:.0f} MB; filled in {fill:.0f} s): "
                  f"add the scan's run {statistics.median(own):.2f} s wall {statistics.median(own_cpu):.2f} s CPU; "
                  f"import (verify + read + add) {statistics.median(add):.2f} s wall "
                  f"{statistics.median(add_cpu):.2f} s CPU; "
                  f"failing since median {statistics.median(times) * 1e3:.1f} ms, "
                  f"worst {max(times) * 1e3:.1f} ms {'ok' if ok else 'GOAL MISSED (< 1 s)'}")
        print(f"load average {os.getloadavg()[0]:.1f}")
        return 0 if worst_ok else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
