"""Whole ``gxpscan scan`` runs of two checkouts, interleaved, in CPU seconds: what a change to start-up or end work
(imports, inventory, record, reports, history) saves, above the noise of a loaded machine.

    python3 benchmarks/iac_ab.py --before /path/to/old/checkout            # this checkout is "after"
    python3 benchmarks/iac_ab.py --before OLD --after NEW --runs 7

The scans are those of ``benchmarks/iac.py`` (its corpus under ``--work``, its 15 equivalent checks, JSON report,
run record, seal and history written in full): the HCL corpus (200 files, 2,000 resources) and a one-file corpus
(its first file: the fixed cost of a scan). Each checkout runs from its own compiled byte code and catalog and
schema caches after one unmeasured scan of each corpus (``benchmarks/warm.py``), then the runs alternate
before/after. Figures: the median and minimum CPU time (user + system of the process) and the median wall time;
on a loaded machine only CPU compares. Nothing here is a unit test.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import warm  # noqa: E402
from iac import CHECKS  # noqa: E402

HERE = Path(__file__).resolve().parent


def run_scan(repo: Path, corpus: Path, work: Path, tag: str) -> tuple[float, float]:
    """One whole scan of ``corpus`` by the checkout ``repo``: (CPU seconds, wall seconds)."""
    inventory = work / f"{tag}-{corpus.name}.inventory.json"
    inventory.write_text(json.dumps({"version": 1, "targets": [{"name": "bench", "type": "iac",
                                                                "path": [str(corpus)]}]}), encoding="utf-8")
    out = work / "runs" / f"{tag}-{corpus.name}-{time.time_ns()}" / "gx"
    out.parent.mkdir(parents=True)
    argv = [sys.executable, "-m", "scanner", "scan", "--quiet", "--format", "json", "--output", str(out),
            "--inventory", str(inventory)]
    for check in CHECKS:
        argv[4:4] = ["--check", check]
    cpu, wall, _ = warm.timed(argv, cwd=repo, env=warm.checkout_env(repo, work / tag))
    return cpu, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="the checkout measured as 'before'")
    ap.add_argument("--after", default=str(HERE.parent), help="the checkout measured as 'after' (default: this one)")
    ap.add_argument("--work", default="/tmp/gxpscan-bench-iac", help="work directory of benchmarks/iac.py")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    work = Path(args.work)
    hcl = work / "hcl"
    if not hcl.is_dir():
        print(f"no corpus under {work}: run benchmarks/iac.py --skip-checkov first", file=sys.stderr)
        return 2
    ab = work / "ab"
    shutil.rmtree(ab, ignore_errors=True)
    one = ab / "one"
    one.mkdir(parents=True)
    first = sorted(hcl.glob("*.tf"))[0]
    (one / first.name).write_bytes(first.read_bytes())
    repos = {"before": Path(args.before).resolve(), "after": Path(args.after).resolve()}
    corpora = {"hcl": hcl, "one file": one}
    for tag, repo in repos.items():  # byte code, catalog and schema caches, each checkout its own
        subprocess.run([sys.executable, "-m", "compileall", "-q", "scanner", "reports", "checks"], cwd=repo,
                       env=warm.checkout_env(repo, ab / tag), stdout=subprocess.DEVNULL, check=True)
        for corpus in corpora.values():
            run_scan(repo, corpus, ab, tag)
    figures: dict[tuple[str, str], list[tuple[float, float]]] = {(t, c): [] for t in repos for c in corpora}
    for _ in range(args.runs):
        for tag, repo in repos.items():
            for name, corpus in corpora.items():
                figures[(tag, name)].append(run_scan(repo, corpus, ab, tag))
    warm.print_figures({f"{tag} {name}": runs for (tag, name), runs in figures.items()}, "checkout corpus")
    return 0


if __name__ == "__main__":
    sys.exit(main())
