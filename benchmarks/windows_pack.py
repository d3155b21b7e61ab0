"""Benchmark: the scanner-side cost of the Windows pack per host, without the network.

For each of --hosts hosts (the four hand-written profiles of tests/fixtures/windows in turn): build the one
collection script, answer it from the profile (what the host would print), split the frames, decode every fact
strictly and evaluate the 33 Windows checks. This is the CPU gxpscan adds to each WinRM round trip; the
round trip itself (pywinrm against a WS-Man responder) is measured by the connector's fleet benchmark.

Prints script and reply sizes, CPU time per host (median of --runs) and peak memory, as a table and as JSON.
Run:  python3 benchmarks/windows_pack.py [--hosts 50] [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scanner.collectors import windows as wc  # noqa: E402
from scanner.connectors import CommandResult  # noqa: E402
from scanner.model import Platform, Target  # noqa: E402
from scanner.registry import Registry  # noqa: E402
from scanner.runner import evaluate  # noqa: E402
from tests.fixtures.windows.replay import PROFILES, reply_for  # noqa: E402


class Replay:
    def __init__(self, profile: str) -> None:
        self.reply = reply_for(profile)
        self.sizes: tuple[int, int] = (0, 0)

    def run(self, script: str, *, timeout: float, limit: int) -> CommandResult:
        out = self.reply(script)
        self.sizes = (len(script.encode()), len(out))
        return CommandResult(0, out, b"")


def one_pass(hosts: int, registry: Registry) -> tuple[float, tuple[int, int], int]:
    names = sorted(wc.BY_NAME)
    start = time.process_time()
    findings = 0
    sizes = (0, 0)
    for i in range(hosts):
        profile = PROFILES[i % len(PROFILES)]
        target = Target(f"w{i}", Platform.WINDOWS, {}, {"approved_privileged": ["EX\\LIMS-Server-Admins"]})
        conn = Replay(profile)
        facts = wc.collect(conn, target, names)
        findings += sum(len(evaluate(spec, facts, target)) for spec in registry.checks.values())
        sizes = max(sizes, conn.sizes)
    return time.process_time() - start, sizes, findings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    registry = Registry.load(["checks.windows"])
    one_pass(4, registry)  # warm caches (type hints, the script text)
    cpu = []
    tracemalloc.start()
    for _ in range(args.runs):
        seconds, sizes, findings = one_pass(args.hosts, registry)
        cpu.append(seconds)
    peak = tracemalloc.get_traced_memory()[1]
    result = {"hosts": args.hosts, "checks": len(registry.checks), "findings_per_pass": findings,
              "script_bytes": sizes[0], "largest_reply_bytes": sizes[1],
              "cpu_s_per_pass_median": round(statistics.median(cpu), 3),
              "cpu_ms_per_host": round(statistics.median(cpu) / args.hosts * 1000, 1),
              "peak_traced_mib": round(peak / 2**20, 1)}
    for k, v in result.items():
        print(f"{k:>24}: {v}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
