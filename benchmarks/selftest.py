"""How long ``gxpscan selftest`` takes (target: under 10 s, no server): IQ and every known-answer case.

    PYTHONPATH=. python3 benchmarks/selftest.py [--repeat 3]

Runs it in a fresh interpreter each time (imports included, as a user would see it) and prints the wall time of
each run and the tool's own figure.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    walls = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "scanner", "selftest", "--format", "json"], capture_output=True,
                              text=True, env=os.environ, timeout=600)
        walls.append(time.perf_counter() - started)
        doc = json.loads(done.stdout)
        print(f"wall {walls[-1]:.2f} s, selftest {doc['seconds']:.2f} s, {len(doc['steps'])} tests, "
              f"verdict {doc['verdict']} (exit {done.returncode})")
    print(f"best {min(walls):.2f} s, worst {max(walls):.2f} s over {len(walls)} runs")
    return 0 if max(walls) < 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
