"""The end of a scan alone, two checkouts interleaved: ``gxpscan report RUN_DIR`` (verify the run, read the record,
clause coverage, render) of one run directory, in CPU seconds, and the size of what each writes.

    python3 benchmarks/report_ab.py --before /path/to/old/checkout RUN_DIR            # this checkout is "after"
    python3 benchmarks/report_ab.py --before OLD RUN_DIR --runs 7 --format json --format oq

RUN_DIR is any sealed run, e.g. the output of a scan of ``benchmarks/winrm_fleet.py``'s 50 responders
(``--format json``). Each checkout runs from its own byte code and caches after one unmeasured run; then the runs
alternate before/after. Figures: median and minimum CPU time (user + system) and median wall time; on a loaded
machine only CPU compares. Nothing here is a unit test.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one(repo: Path, run_dir: str, out: Path, formats: list[str], work: Path, tag: str) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONPYCACHEPREFIX": str(work / f"pycache-{tag}"),
           "XDG_CACHE_HOME": str(work / f"cache-{tag}")}
    argv = [sys.executable, "-m", "scanner", "report", run_dir, "--output", str(out), "--quiet"]
    for fmt in formats:
        argv += ["--format", fmt]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{tag}: exit {proc.returncode}: {proc.stderr[-400:]}")
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--before", required=True, help="the checkout measured as 'before'")
    ap.add_argument("--after", default=str(HERE.parent), help="the checkout measured as 'after' (default: this one)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--format", action="append", default=None, help="report format(s) (default: json)")
    args = ap.parse_args()
    formats = args.format or ["json"]
    repos = {"before": Path(args.before).resolve(), "after": Path(args.after).resolve()}
    work = Path(tempfile.mkdtemp(prefix="gxpscan-report-ab-"))
    for tag, repo in repos.items():
        one(repo, args.run_dir, work / f"{tag}-warm", formats, work, tag)
    figures: dict[str, list[tuple[float, float]]] = {tag: [] for tag in repos}
    for i in range(args.runs):
        for tag, repo in repos.items():
            figures[tag].append(one(repo, args.run_dir, work / f"{tag}-{i}", formats, work, tag))
    print(f"{'checkout':8s} {'CPU s (median)':>15s} {'CPU s (min)':>12s} {'wall s (median)':>16s}  files (bytes)")
    for tag, runs in figures.items():
        out = work / f"{tag}-0"
        sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if not p.name.startswith("manifest-")}
        print(f"{tag:8s} {statistics.median(c for c, _ in runs):15.3f} {min(c for c, _ in runs):12.3f} "
              f"{statistics.median(w for _, w in runs):16.3f}  {sizes}")
    print("load average: " + " / ".join(f"{x:.1f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
