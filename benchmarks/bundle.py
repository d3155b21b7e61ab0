"""The whole bundle of a 100-host run, PDF included, against the time of the scan's own reporting.

    python3 benchmarks/bundle.py [--hosts 100] [--runs 5] [--paper A4|letter]

Builds the synthetic run of benchmarks/seal.py (per host: every Linux check's result, one evidence record per fact
with a few KiB of raw text), then times (median of ``--runs``, each in a fresh run directory):

- reporting: the json, junit, sarif and oq reports written into the run directory (what a scan does without PDF);
- pdf: the OQ execution record as PDF (reports.pdf, laid out by reports.pdfdoc), written into the run directory;
- sealing: the signed manifest over every file, the PDF included.

The bundle is all three. Goal (issue 11): the bundle in under 2x the reporting time. Prints the PDF's page count
and size and the PDF's own parts (view-model, layout, fonts and file). Exit 1 when the goal is missed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from seal import FORMATS, build_record  # noqa: E402

from scanner.cli import _write_reports  # noqa: E402
from scanner.seal import seal_run  # noqa: E402
from scanner.store import load_record  # noqa: E402


def once(base: Path, hosts: int, key: Ed25519PrivateKey, paper: str, clock: Callable[[], float]) -> list[float]:
    """Reporting, PDF and sealing times, then the PDF's page count and size."""
    run_dir = Path(tempfile.mkdtemp(dir=base))
    build_record(run_dir, hosts)
    run = load_record(run_dir)
    t0 = clock()
    _write_reports(run, FORMATS, run_dir, quiet=True)
    t1 = clock()
    _write_reports(run, ["pdf"], run_dir, quiet=True, documents={"paper": paper})
    t2 = clock()
    seal_run(run_dir, key=key)
    t3 = clock()
    pdf = (run_dir / "oq-evidence.pdf").read_bytes()
    return [t1 - t0, t2 - t1, t3 - t2, pdf.count(b"/Type /Page "), len(pdf)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--paper", choices=["A4", "letter"], default="A4")
    parser.add_argument("--cpu", action="store_true",
                        help="time the process's CPU (time.process_time) instead of the wall clock: fairer on a "
                             "machine that other work shares")
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    clock = time.process_time if args.cpu else time.perf_counter
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            rows.append(once(Path(tmp), args.hosts, key, args.paper, clock))
    report, pdf, seal = (statistics.median(r[i] for r in rows) for i in range(3))
    bundle = report + pdf + seal
    pages, size = rows[0][3], rows[0][4]
    print(f"{args.hosts} hosts; PDF {pages:.0f} pages ({args.paper}), {size / 1e6:.1f} MB; median of {args.runs} "
          f"({'CPU' if args.cpu else 'wall'} time)")
    print(f"reporting (json, junit, sarif, oq): {report:.2f} s")
    print(f"pdf:                                {pdf:.2f} s ({pages / pdf:.0f} pages/s)")
    print(f"sealing (every file, signed):       {seal:.2f} s")
    print(f"bundle:                             {bundle:.2f} s = {bundle / report:.2f}x reporting (goal < 2x)")
    ok = bundle < 2 * report
    print("goal met" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
