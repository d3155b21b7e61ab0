"""Wall time of a local scan of this machine with the whole Linux pack: collection + evaluation.

    python benchmarks/local_scan.py [--runs 10] [--cli]

Each run opens the local connector, collects every fact the Linux checks need (one batched shell
invocation as root; a second one through sudo when not root and ``become`` is set) and evaluates all
Linux checks through the runner. Prints the median, min and max. ``--cli`` also times the whole
``gxpscan scan --inventory inventories/local.yaml --check 'linux.*'`` command, each in a fresh process
(its wall time, and its CPU time with everything it started).
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scanner.model import Platform, Target  # noqa: E402
from scanner.registry import Registry  # noqa: E402
from scanner.runner import scan_target  # noqa: E402


def in_process(runs: int) -> tuple[list[float], int, dict[str, int]]:
    specs = Registry.load().select(["linux.*"], platform=Platform.LINUX)
    target = Target("localhost", Platform.LINUX, {"connection": "local"}, {})
    times: list[float] = []
    counts: dict[str, int] = {}
    for _ in range(runs):
        start = time.perf_counter()
        outcome = scan_target(target, specs, {})
        times.append(time.perf_counter() - start)
        counts = {}
        for r in outcome.results:
            counts[r.status.value] = counts.get(r.status.value, 0) + 1
    return times, len(specs), counts


def cli(runs: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (the process and everything it started) of each fresh ``gxpscan scan``."""
    times, cpu = [], []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "scanner", "scan", "--inventory", "inventories/local.yaml",
                            "--check", "linux.*", "--format", "json", "--output", out],
                           cwd=REPO, capture_output=True)
            times.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return times, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--cli", action="store_true", help="also time the full CLI command")
    args = ap.parse_args()
    times, checks, counts = in_process(args.runs)
    print(f"local scan, {checks} Linux checks, {args.runs} runs: median {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s, max {max(times):.3f} s  (results: {counts})")
    if args.cli:
        t, cpu = cli(args.runs)
        print(f"gxpscan scan --check 'linux.*' (fresh process), {args.runs} runs: "
              f"median {statistics.median(t):.3f} s, max {max(t):.3f} s; CPU median {statistics.median(cpu):.3f} s "
              "(on a busy machine wall time waits for the cores, CPU does not)")


if __name__ == "__main__":
    main()
