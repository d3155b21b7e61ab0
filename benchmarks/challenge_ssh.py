"""SSH challenge benchmark: ``gxpscan scan`` of N lab hosts, without and with ``--challenge safe``.

Starts N light OpenSSH lab hosts (as benchmarks/ssh_fleet.py does: one network namespace each, root login with the
lab key, host keys verified against the lab's known_hosts), then runs, each in its own process with the same
concurrency and interleaved ``--repeat`` times:

* scan      -- ``gxpscan scan --check 'linux.*'`` (the whole Linux pack, one batched exec per host);
* challenge -- the same with ``--challenge safe``: every safe Linux SSH challenge on every host too (a control and
               one negotiation per weak algorithm, `none` authentication, a root key logon, the host key).

The table shows the median wall time of each, the ratio challenge / scan (goal: at most 2), the lab sshd CPU
seconds each run cost, and the challenge findings by status (an ``error`` there is a challenge that could not
finish). Run as root: ``python3 benchmarks/challenge_ssh.py [--hosts 50] [--concurrency 16] [--repeat 3]``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MODES = {"scan": [], "challenge": ["--challenge", "safe"]}


def worker(mode: str, spec_file: str, concurrency: int) -> None:
    """One gxpscan run in this process; prints its figures as JSON."""
    import yaml

    from benchmarks.ssh_fleet import _usage
    from scanner.cli import main

    spec = json.loads(Path(spec_file).read_text())
    work = Path(tempfile.mkdtemp(prefix="gxpscan-chbench-"))
    targets = [{"name": f"h{i:03d}", "type": "linux", "connection": "ssh", "host": a, "user": "root",
                "key_file": spec["key"], "known_hosts": spec["known_hosts"]} for i, a in enumerate(spec["hosts"])]
    inventory = work / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"version": 1, "targets": targets}))
    start = time.monotonic()
    main(["scan", "--inventory", str(inventory), "--check", "linux.*", "--format", "json", "--output",
          str(work / "out"), "--concurrency", str(concurrency), *MODES[mode]])
    wall = time.monotonic() - start
    findings = json.loads((work / "out" / "report.json").read_text())["findings"]
    challenges = Counter(f["status"] for f in findings if ".challenge." in f["check"])
    print(json.dumps({"wall": round(wall, 2), "findings": len(findings), "challenges": dict(challenges),
                      **_usage()}))


def run_mode(mode: str, spec_file: Path, concurrency: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", mode, "--spec", str(spec_file),
                           "--concurrency", str(concurrency)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def drive(args: argparse.Namespace) -> None:
    from benchmarks.ssh_fleet import server_cpu_s
    from tests.lab.sshlab import SSHLab, require_tools

    reason = require_tools()
    if reason:
        sys.exit(f"cannot start the lab: {reason}")
    work = Path(tempfile.mkdtemp(prefix="gxpscan-chbench-"))
    lab = SSHLab(work / "lab")
    rows: list[dict[str, Any]] = []
    try:
        for i in range(args.hosts):
            lab.add(f"chb-{i:03d}", light=True)
        lab.wait_ready(timeout=60)
        spec = work / "spec.json"
        spec.write_text(json.dumps({"hosts": [h.address for h in lab.hosts.values()], "key": str(lab.user_key),
                                    "known_hosts": str(lab.write_known_hosts())}))
        pids = [h.proc.pid for h in lab.hosts.values() if h.proc]
        for repeat in range(args.repeat):
            for mode in MODES:
                before = server_cpu_s(pids)
                row = {"mode": mode, "repeat": repeat, **run_mode(mode, spec, args.concurrency),
                       "server_cpu_s": round(server_cpu_s(pids) - before, 2)}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    finally:
        lab.close()
    report(rows, args)


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    ok = [r for r in rows if "error" not in r]
    for r in rows:
        if "error" in r:
            print(f"{r['mode']} run {r['repeat']} failed: {r['error']}")
    wall = {m: [r["wall"] for r in ok if r["mode"] == m] for m in MODES}
    cpu = {m: [r["server_cpu_s"] for r in ok if r["mode"] == m] for m in MODES}
    print(f"\n{args.hosts} SSH lab hosts, concurrency {args.concurrency}, {args.repeat} runs each (medians)")
    for m in MODES:
        if wall[m]:
            last = [r for r in ok if r["mode"] == m][-1]
            print(f"{m:<10} wall {statistics.median(wall[m]):7.2f} s  lab sshd CPU {statistics.median(cpu[m]):7.2f} s"
                  f"  peak {last['peak_rss_mb']} MB  findings {last['findings']}  challenges {last['challenges']}")
    pairs = [c["wall"] / s["wall"] for s, c in zip([r for r in ok if r["mode"] == "scan"],
                                                     [r for r in ok if r["mode"] == "challenge"], strict=False)]
    if pairs:
        print(f"with challenges / scan, wall, paired per repeat: median {statistics.median(pairs):.2f} "
              f"(lowest {min(pairs):.2f}, highest {max(pairs):.2f}; goal <= 2)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    parser.add_argument("--worker", choices=list(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    if args.worker:
        worker(args.worker, args.spec, args.concurrency)
    else:
        drive(args)


if __name__ == "__main__":
    main()
