"""The scan work of a code target alone, by phase: what ``gxpscan scan --iac`` spends between start-up and report.

    python3 benchmarks/iac_scan.py                     # HCL corpus (200 files / 2,000 resources) and plan (10,000)
    python3 benchmarks/iac_scan.py --runs 7 --json phases.json
    python3 benchmarks/iac_scan.py --repo /path/to/other/checkout   # the same measure of another version

``benchmarks/iac.py`` measures whole runs (start-up, catalogs, reports, record included) against Checkov; this one
measures only the part the iac collector and the runner do per target, so a change there shows above the noise of
a loaded machine. The corpus is the one ``benchmarks/iac.py`` generates (same generator, same ``--work``).

Each run is a fresh process (module imports done first, as in a real scan where the registry has already imported
the checks), timing in CPU seconds:

- ``read``: finding and parsing the files, evaluating HCL or reading the plan JSON (``scan_code``);
- ``build``: joining split resources into the AWS facts' values (``_build.build``);
- ``facts``: the whole ``collect`` (read and build again from scratch, plus evidence JSON and notes);
- ``evaluate``: the 15 equivalent checks of ``benchmarks/iac.py`` on those facts, with locations, waivers and the
  results (``runner.scan_target`` given the collected facts);
- ``scan``: ``runner.scan_target`` from nothing (collect + evaluate), the figure that matters.

Figures are the median and the minimum over ``--runs`` processes. Nothing here is a unit test.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: What one measuring process runs (with the measured checkout first on sys.path).
PROBE = r"""
import contextlib, json, sys, time
sys.path.insert(0, sys.argv[3])
import iac as bench
from scanner import runner
from scanner.collectors import iac as col
from scanner.connectors.iac import IacConnector
from scanner.model import Platform, Target
from scanner.registry import Registry

specs = Registry.load().select(ids=bench.CHECKS)
target = Target("bench", Platform.IAC, {"path": [sys.argv[1]], "max_file_bytes": 256 * 2**20}, {})
names = {f for s in specs for f in s.facts} | {col.NOTES, col.SYSTEM}
out = {}
clock = time.process_time
if sys.argv[2] == "scan":
    t = clock()
    outcome = runner.scan_target(target, specs, {}, ())
    out["scan"] = clock() - t
    out["results"] = len(outcome.results)
else:
    t = clock()
    conn = IacConnector(target)
    paused = getattr(col, "cycle_collection_paused", contextlib.nullcontext)  # an older checkout has none
    with paused():
        code = col.scan_code(conn, "us-east-1", "000000000000", "aws")
        out["read"] = clock() - t
        t = clock()
        col._build.build(code.blocks, col._build.Where("000000000000", "us-east-1", "aws"))
        out["build"] = clock() - t
    t = clock()
    facts = col.collect(IacConnector(target), target, names)
    out["facts"] = clock() - t
    t = clock()
    runner.scan_target(target, specs, {}, (), collector=lambda _t, _n: facts)
    out["evaluate"] = clock() - t
print(json.dumps(out))
"""


def measure(repo: Path, path: Path, mode: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(repo), PYTHONPYCACHEPREFIX=str(Path("/tmp") / f"gxpscan-iac-scan-pyc-{os.getuid()}"))
    done = subprocess.run([sys.executable, "-c", PROBE, str(path), mode, str(HERE)], cwd=repo, env=env,
                          capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/gxpscan-bench-iac", help="work directory of benchmarks/iac.py")
    ap.add_argument("--repo", default=str(HERE.parent), help="the gxpscan checkout measured")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    bench: Any = importlib.import_module("iac")  # the corpus generator of benchmarks/iac.py

    work = Path(args.work)
    if not (work / "hcl").is_dir():
        bench.write_hcl(work / "hcl", bench.resources(2000), 200)
    big_plan = work / "plan-10000.json"
    if not big_plan.exists():
        big_plan.write_text(json.dumps(bench.plan(bench.resources(10000)), separators=(",", ":")), encoding="utf-8")
    figures: dict[str, Any] = {"repo": args.repo, "runs": args.runs}
    print(f"gxpscan at {args.repo}; CPU seconds, median (min) of {args.runs} processes; load {os.getloadavg()[0]:.1f}")
    for label, path in (("hcl", work / "hcl"), ("plan", big_plan)):
        runs = [measure(Path(args.repo), path, "phases") for _ in range(args.runs)]
        runs = [{**r, **measure(Path(args.repo), path, "scan")} for r in runs]
        summary = {k: (round(statistics.median(r[k] for r in runs), 3), round(min(r[k] for r in runs), 3))
                   for k in ("read", "build", "facts", "evaluate", "scan")}
        figures[label] = {"phases": summary, "results": runs[0]["results"]}
        shown = "  ".join(f"{k} {med:.3f} ({low:.3f})" for k, (med, low) in summary.items())
        print(f"{label:5} {shown}  [{runs[0]['results']} results]")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
