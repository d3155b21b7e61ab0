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
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import warm  # noqa: E402


def one(repo: Path, run_dir: str, out: Path, formats: list[str], work: Path, tag: str) -> tuple[float, float]:
    argv = [sys.executable, "-m", "scanner", "report", run_dir, "--output", str(out), "--quiet"]
    for fmt in formats:
        argv += ["--format", fmt]
    cpu, wall, proc = warm.timed(argv, cwd=repo, env=warm.checkout_env(repo, work / tag))
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{tag}: exit {proc.returncode}: {proc.stderr[-400:]}")
    return cpu, wall


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
    sizes = {tag: str({p.name: p.stat().st_size for p in sorted((work / f"{tag}-0").iterdir())
                       if not p.name.startswith("manifest-")}) for tag in figures}
    warm.print_figures(figures, extra=sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
