"""The management review summary: verify and read every run of a period, summarise, render HTML and PDF.

    python3 benchmarks/management_review.py [--runs 30] [--targets 100] [--checks 20] [--repeat 3]

Builds --runs sealed run directories, one a day, of --targets x --checks results each (each run flips the status
of about 2 % of the findings, so findings fail, get fixed and fail again; a few carry waivers), then times, median
of --repeat: ``scanner.management.summarise`` over all of them (verify every seal, read every record strictly,
rate, summarise; and its first part alone, verifying and reading the runs), the HTML and the PDF. Wall and CPU
time, peak memory of this process, load average.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scanner.model import Area, Platform, Result, RunInfo, Severity, Status, Target, Waiver  # noqa: E402
from scanner.runner import TargetOutcome  # noqa: E402
from scanner.seal import seal_run  # noqa: E402
from scanner.store import RecordWriter  # noqa: E402

T0 = datetime(2026, 1, 1, 6, tzinfo=timezone.utc)
FLIP = 0.02
SEVERITIES = list(Severity)


def build(root: Path, runs: int, targets: int, checks: int) -> list[Path]:
    rnd = random.Random(17)
    state = {(t, c): Status.PASS if rnd.random() < 0.8 else Status.FAIL for t in range(targets) for c in range(checks)}
    dirs = []
    for n in range(runs):
        started = T0 + timedelta(days=n)
        info = RunInfo(id=f"bench-mr-{n:04d}", tool_version="bench", checks_fingerprint="0" * 64,
                       operator="bench@host", started=started, inventory="bench.yaml", inventory_sha256="1" * 64)
        run_dir = root / f"run-{n:04d}"
        writer = RecordWriter(run_dir / "record.jsonl", info)
        for t in range(targets):
            name = f"host{t:04d}.example.test"
            results = []
            for c in range(checks):
                if rnd.random() < FLIP:
                    state[(t, c)] = Status.FAIL if state[(t, c)] is Status.PASS else Status.PASS
                status = state[(t, c)]
                waiver = None
                if status is Status.FAIL and c == 0:
                    status, waiver = Status.WAIVED, Waiver(f"linux.bench.check{c:02d}", name, "vendor fix due",
                                                           "QA lead", f"2026-{1 + n % 12:02d}-15")
                results.append(Result(
                    check=f"linux.bench.check{c:02d}", target=name, target_type="linux", status=status,
                    severity=SEVERITIES[c % len(SEVERITIES)], area=Area.ACCESS_CONTROL, resource=f"resource-{c}",
                    message="observed", observed={"value": c}, clauses=("part11:11.10(d)", "annex11:12.1"),
                    evidence=(), at=started, waiver=waiver))
            writer.add(TargetOutcome(Target(name, Platform.LINUX, {}, {}), tuple(results), {}))
        writer.close()
        seal_run(run_dir)
        dirs.append(run_dir)
    return dirs


def timed(fn: object) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu, value


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--targets", type=int, default=100)
    p.add_argument("--checks", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()

    from reports.management import html
    from reports.management_pdf import pdf
    from scanner.management import summarise, verified_runs
    from scanner.risk import default_matrix

    with tempfile.TemporaryDirectory(prefix="gxpscan-mr-") as tmp:
        dirs = build(Path(tmp), args.runs, args.targets, args.checks)
        matrix = default_matrix()
        until = T0 + timedelta(days=args.runs)
        times: dict[str, list[tuple[float, float]]] = {"verify+read": [], "summarise": [], "html": [], "pdf": []}
        size = {}
        for _ in range(args.repeat):
            wall, cpu, _runs = timed(lambda: verified_runs(dirs))  # the part of summarise that reads the runs
            times["verify+read"].append((wall, cpu))
            wall, cpu, summary = timed(lambda: summarise(dirs, since=T0, until=until, risk_matrix=matrix,
                                                         source="bench"))
            times["summarise"].append((wall, cpu))
            wall, cpu, page = timed(lambda s=summary: html(s))  # type: ignore[misc]
            times["html"].append((wall, cpu))
            wall, cpu, doc = timed(lambda s=summary: pdf(s))  # type: ignore[misc]
            times["pdf"].append((wall, cpu))
            size = {"html": len(page), "pdf": len(doc)}  # type: ignore[arg-type]
        s = summary
        print(f"{args.runs} runs x {args.targets} targets x {args.checks} checks "
              f"({args.runs * args.targets * args.checks:,} results); load average {os.getloadavg()[0]:.1f}")
        print(f"  runs used {len(s.runs)}, excluded {len(s.excluded)}, open {len(s.open_findings)}, "
              f"fixes {len(s.fixes)}, waivers {len(s.waivers)}")
        for name, pairs in times.items():
            print(f"  {name:9s} wall {statistics.median(w for w, _ in pairs):6.2f} s   "
                  f"cpu {statistics.median(c for _, c in pairs):6.2f} s")
        print(f"  html {size['html'] / 1e6:.2f} MB, pdf {size['pdf'] / 1e6:.2f} MB; peak RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
