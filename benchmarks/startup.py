"""Start-up time of the light commands: `gxpscan --help` and `gxpscan checks` (no transport library imported).

    python benchmarks/startup.py [--runs 10]

Prints the median and worst wall time of each command, each a fresh process. That no transport library
(boto3, paramiko, pywinrm, ldap3) is imported is proven by tests/engine/test_cli.py.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = (["--help"], ["checks"], ["frameworks"])


def measure(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "scanner", *argv], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    print(f"{'command':<22}{'median s':>10}{'max s':>10}")
    for argv in COMMANDS:
        t = measure(argv, args.runs)
        print(f"{'gxpscan ' + ' '.join(argv):<22}{statistics.median(t):>10.3f}{max(t):>10.3f}")


if __name__ == "__main__":
    main()
