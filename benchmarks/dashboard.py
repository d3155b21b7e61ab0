"""The dashboard of a large run: time and size of ``reports.dashboard.html_page``.

    python3 benchmarks/dashboard.py [--hosts 1000] [--runs 3] [--trend 365]

Builds in memory a run of ``--hosts`` Linux hosts, each with every Linux check's result (statuses rotating through
pass, fail, error, waived, manual), the clause mappings of the framework catalogs, a previous run with a tenth of
the statuses changed, and ``--trend`` earlier runs; then renders the page ``--runs`` times and prints the median
wall and CPU time, the page size and the peak memory. Goal (issue 13): a 1,000-host run's dashboard in under 10 s.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reports.dashboard import TrendPoint, html_page  # noqa: E402
from scanner import frameworks  # noqa: E402
from scanner.model import Platform, Result, Run, RunInfo, Status, Waiver, utcnow  # noqa: E402
from scanner.registry import Registry  # noqa: E402

STATUSES = [Status.PASS, Status.FAIL, Status.PASS, Status.ERROR, Status.PASS, Status.WAIVED, Status.MANUAL]


def build(hosts: int) -> tuple[Run, Run]:
    specs = [s for s in Registry.load().checks.values() if s.platform is Platform.LINUX]
    _, clauses = frameworks.run_use(frameworks.load_catalogs(), [s.id for s in specs])
    now = utcnow()
    info = RunInfo(id="bench-run", tool_version="bench", checks_fingerprint="0" * 64, operator="bench@host",
                   started=now, inventory="bench.yaml", inventory_sha256="1" * 64, clauses=clauses)
    results = []
    for h in range(hosts):
        name = f"host{h:04d}.example.test"
        for i, s in enumerate(specs):
            status = STATUSES[(h + i) % len(STATUSES)]
            waiver = Waiver(s.id, name, "bench", "qa", "2027-01-31") if status is Status.WAIVED else None
            results.append(Result(check=s.id, target=name, target_type="linux", status=status, severity=s.severity,
                                  area=s.area, resource=name, message=f"{s.id} on {name}", observed={},
                                  clauses=(), evidence=(), at=now, waiver=waiver))
    previous = [replace(r, status=Status.PASS) if k % 10 == 0 else r for k, r in enumerate(results)]
    run = Run(info, tuple(results), {})
    return run, Run(replace(info, id="bench-previous", started=now - timedelta(days=1)), tuple(previous), {})


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--trend", type=int, default=365)
    a = ap.parse_args()
    run, previous = build(a.hosts)
    trend = [TrendPoint(f"run-{i}", run.info.started - timedelta(days=i + 1),
                        {"pass": 1000 + i, "fail": 300 - i % 50, "error": i % 7}) for i in range(a.trend)]
    walls, cpus, size = [], [], 0
    for _ in range(a.runs):
        w0, c0 = time.perf_counter(), time.process_time()
        page = html_page(run, trend=trend, previous=previous)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        size = len(page.encode())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"{a.hosts} hosts, {len(run.results)} results, {len(run.info.clauses)} clauses, trend {a.trend + 1} runs: "
          f"wall {wall:.2f} s, CPU {cpu:.2f} s (median of {a.runs}), page {size / 1e6:.2f} MB, peak {peak:.0f} MiB")
    return 0 if cpu < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
