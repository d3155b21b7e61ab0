"""Start-up time of the light commands: `gxpscan --help` and `gxpscan checks` (no transport library imported).

    python benchmarks/startup.py [--runs 10]

Prints the median and worst wall time of each command, measured as a fresh process, and the heavy modules loaded.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = (["--help"], ["checks"], ["frameworks"])
HEAVY = ("boto3", "botocore", "paramiko", "winrm", "ldap3")


def measure(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "scanner", *argv], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def heavy_imports(argv: list[str]) -> list[str]:
    code = ("import sys, runpy; sys.argv=['gxpscan', *%r]\n"
            "try:\n    runpy.run_module('scanner', run_name='__main__')\nexcept SystemExit: pass\n"
            "print(','.join(sorted(m for m in %r if m in sys.modules)))") % (argv, HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().splitlines()[-1].split(",") if m]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    print(f"{'command':<22}{'median s':>10}{'max s':>10}  heavy imports")
    for argv in COMMANDS:
        t = measure(argv, args.runs)
        print(f"{'gxpscan ' + ' '.join(argv):<22}{statistics.median(t):>10.3f}{max(t):>10.3f}  "
              f"{','.join(heavy_imports(argv)) or 'none'}")


if __name__ == "__main__":
    main()
