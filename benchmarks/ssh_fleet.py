"""SSH fleet benchmark: the floor, gxpscan's whole Linux pack and pytest-testinfra, side by side.

Starts N real OpenSSH hosts (light lab hosts: one network namespace each, sharing this machine's /etc,
root login with the lab key, host keys verified against the lab's known_hosts), then for each N runs,
each in its own process with the same concurrency:

* floor     -- paramiko connect + authenticate + run ``true`` on every host;
* gxpscan   -- ``gxpscan scan`` with every Linux check (one batched exec per host);
* testinfra -- pytest-testinfra's paramiko backend gathering the same facts the way its modules do:
               one command per file test, file read and probe.

Wall time, peak resident memory and CPU seconds of each scanning process, and the CPU seconds the lab's sshd
processes spent serving it (the hosts share this machine's cores with the scanner), are printed as a table
(and as JSON with --json).
Run as root: ``python3 benchmarks/ssh_fleet.py [--sizes 10,50,100] [--concurrency 16] [--repeat 3]``; with
``--repeat N`` every tool runs N times per size, the runs of the tools interleaved, and the table shows the median
of each figure (on a shared machine, compare server CPU seconds and medians, not one wall time). With
``--baseline DIR`` (a checkout of an older gxpscan, e.g. ``git worktree add /tmp/old 37ed700``) that checkout's
gxpscan runs too, right after this one in every repeat, on the same hosts, and the table ends with the paired
ratio of lab sshd CPU seconds (this gxpscan / the baseline, per repeat): median, lowest and highest.
testinfra is installed for the benchmark only: ``pip install pytest-testinfra``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TOOLS = ("floor", "gxpscan", "testinfra", "baseline")


# ---- workers (each runs in its own process) -----------------------------------------------------------

def _usage() -> dict:
    """Peak resident memory and CPU seconds of this worker process (the client side only)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return {"peak_rss_mb": round(me.ru_maxrss / 1024, 1), "client_cpu_s": round(me.ru_utime + me.ru_stime, 2)}


def floor(hosts: list[str], key: str, known_hosts: str, concurrency: int) -> dict:
    import paramiko

    def one(address: str) -> bool:
        client = paramiko.SSHClient()
        client.load_host_keys(known_hosts)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(address, username="root", key_filename=key, timeout=10,
                           allow_agent=False, look_for_keys=False)
            _, stdout, _ = client.exec_command("true")
            return stdout.channel.recv_exit_status() == 0
        finally:
            client.close()

    start = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        ok = sum(pool.map(one, hosts))
    return {"wall": time.monotonic() - start, "ok_hosts": ok}


def gxpscan(hosts: list[str], key: str, known_hosts: str, concurrency: int) -> dict:
    import yaml

    from scanner.cli import main

    work = Path(tempfile.mkdtemp(prefix="gxpscan-bench-"))
    targets = [{"name": f"h{i:03d}", "type": "linux", "connection": "ssh", "host": a, "user": "root",
                "key_file": key, "known_hosts": known_hosts} for i, a in enumerate(hosts)]
    inventory = work / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"version": 1, "targets": targets}))
    start = time.monotonic()
    main(["scan", "--inventory", str(inventory), "--check", "linux.*", "--format", "json",
          "--output", str(work / "out"), "--concurrency", str(concurrency)])
    wall = time.monotonic() - start
    findings = json.loads((work / "out" / "report.json").read_text())["findings"]
    bad = {f["target"] for f in findings if f["status"] == "error" and "timedatectl" not in f["message"]}
    return {"wall": wall, "ok_hosts": len(hosts) - len(bad), "findings": len(findings)}


def testinfra_plan() -> list[tuple[str, str]]:
    """The facts of gxpscan's Linux pack as testinfra would gather them: (kind, file path or command)."""
    from scanner.collectors.linux import SECTIONS
    from scanner.model import Platform, Target

    target = Target("bench", Platform.LINUX, {}, {})
    plan: list[tuple[str, str]] = []
    for spec in SECTIONS:
        files, probes = spec.plan(target)
        for f in files:
            plan.append(("glob" if "*" in f else "file", f))
        plan += [("run", command) for _, command in probes]
    return plan


def testinfra(hosts: list[str], key: str, known_hosts: str, concurrency: int) -> dict:
    import testinfra as ti

    plan = testinfra_plan()

    def one(address: str) -> int:
        host = ti.get_host(f"paramiko://root@{address}", ssh_identity_file=key)
        commands = 0
        for kind, what in plan:
            if kind == "file":
                f = host.file(what)
                commands += 1
                if f.exists:
                    f.content_string  # noqa: B018 (the read is the point)
                    commands += 1
            elif kind == "glob":
                listed = host.run(f"ls -1d {what}").stdout.split()
                commands += 1
                for path in listed:
                    host.file(path).content_string  # noqa: B018
                    commands += 1
            else:
                host.run(what)
                commands += 1
        host.backend.client.close()
        return commands

    start = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        counts = list(pool.map(one, hosts))
    return {"wall": time.monotonic() - start, "ok_hosts": len(counts),
            "commands_per_host": round(sum(counts) / max(1, len(counts)), 1)}


WORKERS = {"floor": floor, "gxpscan": gxpscan, "testinfra": testinfra}


def worker(args: argparse.Namespace) -> None:
    spec = json.loads(Path(args.hosts).read_text())
    out = WORKERS[args.worker](spec["hosts"], spec["key"], spec["known_hosts"], args.concurrency)
    out.update(_usage())
    print(json.dumps(out))


# ---- driver ---------------------------------------------------------------------------------------------

def server_cpu_s(pids: list[int]) -> float:
    """CPU seconds used so far by the lab's sshd processes and their reaped sessions (all on this machine)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_tool(tool: str, hosts_file: Path, concurrency: int, repo: Path = REPO) -> dict:
    """One tool's run in its own process; the ``baseline`` tool is gxpscan from the checkout ``repo``."""
    worker = "gxpscan" if tool == "baseline" else tool
    proc = subprocess.run([sys.executable, str(repo / "benchmarks" / "ssh_fleet.py"), "--worker", worker,
                           "--hosts", str(hosts_file), "--concurrency", str(concurrency)],
                          cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def drive(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO))
    from tests.lab.sshlab import SSHLab, require_tools

    reason = require_tools()
    if reason:
        sys.exit(f"cannot start the lab: {reason}")
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    work = Path(tempfile.mkdtemp(prefix="gxpscan-sshbench-"))
    lab = SSHLab(work / "lab")
    try:
        started = time.monotonic()
        for i in range(max(sizes)):
            lab.add(f"bench-{i:03d}", light=True)
        lab.wait_ready(timeout=60)
        known_hosts = lab.write_known_hosts()
        print(f"{max(sizes)} lab hosts up in {time.monotonic() - started:.1f}s", file=sys.stderr)
        addresses = [h.address for h in lab.hosts.values()]
        pids = [h.proc.pid for h in lab.hosts.values() if h.proc]
        for n in sizes:
            hosts_file = work / f"hosts-{n}.json"
            hosts_file.write_text(json.dumps({"hosts": addresses[:n], "key": str(lab.user_key),
                                              "known_hosts": str(known_hosts)}))
            tools = args.tools.split(",")
            if args.baseline:
                tools.insert(tools.index("gxpscan") + 1 if "gxpscan" in tools else len(tools), "baseline")
            for repeat in range(args.repeat):
                for tool in tools:
                    before = server_cpu_s(pids)
                    result = run_tool(tool, hosts_file, args.concurrency,
                                      Path(args.baseline).resolve() if tool == "baseline" else REPO)
                    rows.append({"hosts": n, "tool": tool, "repeat": repeat, **result,
                                 "server_cpu_s": round(server_cpu_s(pids) - before, 2)})
                    print(json.dumps(rows[-1]), file=sys.stderr)
    finally:
        lab.close()
    print_table(rows, args.concurrency)
    if args.baseline:
        print_paired(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


def medians(rows: list[dict]) -> list[dict]:
    """One row per (hosts, tool): the median of every number over its runs, and how many runs there were."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["hosts"], r["tool"]), []).append(r)
    out = []
    for (hosts, tool), runs in groups.items():
        ok = [r for r in runs if "error" not in r]
        if not ok:
            out.append(runs[0])
            continue
        merged: dict = {"hosts": hosts, "tool": tool}
        for key in ok[0]:
            if key not in merged and key != "repeat":
                values = [r[key] for r in ok if isinstance(r.get(key), (int, float))]
                merged[key] = round(statistics.median(values), 2) if values else ok[0][key]
        if len(runs) > 1:
            merged["runs"] = len(runs)
        out.append(merged)
    return out


def paired_ratios(rows: list[dict[str, Any]]) -> dict[int, list[float]]:
    """Per fleet size, lab sshd CPU of gxpscan / the baseline's, for each repeat both finished."""
    cpu = {(r["hosts"], r["tool"], r["repeat"]): r["server_cpu_s"] for r in rows if "error" not in r}
    out: dict[int, list[float]] = {}
    for (hosts, tool, repeat), mine in sorted(cpu.items()):
        base = cpu.get((hosts, "baseline", repeat))
        if tool == "gxpscan" and base:
            out.setdefault(hosts, []).append(mine / base)
    return out


def print_paired(rows: list[dict[str, Any]]) -> None:
    print("\nlab sshd CPU, this gxpscan / the baseline, paired per repeat")
    for hosts, ratios in paired_ratios(rows).items():
        print(f"{hosts:>5} hosts: median {statistics.median(ratios):.3f}  lowest {min(ratios):.3f}  "
              f"highest {max(ratios):.3f}  ({len(ratios)} pairs)")


def print_table(rows: list[dict], concurrency: int) -> None:
    rows = medians(rows)
    print(f"\nSSH fleet benchmark (concurrency {concurrency}); wall seconds, peak RSS MB (medians over runs)")
    print(f"{'hosts':>5}  {'tool':<10} {'wall s':>8} {'x floor':>8} {'peak MB':>8}  notes")
    floors = {r["hosts"]: r.get("wall") for r in rows if r["tool"] == "floor"}
    for r in rows:
        if "error" in r:
            print(f"{r['hosts']:>5}  {r['tool']:<10} failed: {r['error']}")
            continue
        ratio = r["wall"] / floors[r["hosts"]] if floors.get(r["hosts"]) else float("nan")
        notes = {k: v for k, v in r.items() if k not in ("hosts", "tool", "wall", "peak_rss_mb", "error")}
        print(f"{r['hosts']:>5}  {r['tool']:<10} {r['wall']:>8.2f} {ratio:>8.2f} {r['peak_rss_mb']:>8.1f}  {notes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,100")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tools", default="floor,gxpscan,testinfra")
    parser.add_argument("--repeat", type=int, default=1, help="runs of every tool per size (the table shows medians)")
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    parser.add_argument("--baseline", help="a checkout of another gxpscan to run after this one, paired")
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--hosts", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, str(REPO))
        worker(args)
    else:
        drive(args)


if __name__ == "__main__":
    main()
