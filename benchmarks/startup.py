"""Start-up time of the light commands: `gxpscan --help` and `gxpscan checks` (no transport library imported).

    python benchmarks/startup.py [--runs 10]

Prints the median and worst wall time and the median CPU time (user + system) of each command, each a fresh
process; on a loaded machine only CPU compares. That no transport library (boto3, paramiko, pywinrm, ldap3) is
imported is proven by tests/engine/test_cli.py; what a scan imports, by tests/engine/test_startup.py.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = (["--help"], ["checks"], ["frameworks"])


def measure(argv: list[str], runs: int) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds) of ``runs`` fresh processes."""
    import resource

    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "scanner", *argv], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return times, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    print(f"{'command':<22}{'median s':>10}{'max s':>10}{'CPU s':>10}")
    for argv in COMMANDS:
        t, cpu = measure(argv, args.runs)
        print(f"{'gxpscan ' + ' '.join(argv):<22}{statistics.median(t):>10.3f}{max(t):>10.3f}"
              f"{statistics.median(cpu):>10.3f}")


if __name__ == "__main__":
    main()
