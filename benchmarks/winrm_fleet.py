"""Benchmark: a gxpscan scan of N Windows hosts over WinRM against the floor of pywinrm itself.

N WS-Management responders (tests/lab/wsman.py: HTTPS with the benchmark's own CA, real NTLM) run in
--responder-procs separate processes (hosts dealt round-robin; default: one per CPU) and replay the hardened Windows
Server 2022 profile (tests/fixtures/windows) to gxpscan's collection script, and ``ok`` to any other command. Then,
at the same concurrency:

* gxpscan: ``python -m scanner scan --concurrency C --format json`` over an inventory of the N hosts (verify
  TLS, authenticate, one shell and ONE command per host, every Windows check, the run record and report);
* collect: the same connector and collector without the engine (no checks, record, reports): per host, connect
  and collect every Windows fact;
* the floor: pywinrm with the same trust and credentials, per host: open a shell, one trivial command
  (``hostname``), read its output, close the shell; a thread pool of C.

Each runs as its own process (interpreter start included), from byte code compiled once and after one unmeasured
scan (benchmarks/warm.py); wall time and CPU time (medians of --runs) and the
peak RSS of each process are printed as a table and as JSON. On a shared machine read the CPU figures. No root needed.

The responders are our lab, not Windows servers, and they run on the same CPUs as the client: their CPU seconds
during each tool's runs (``/proc/PID/stat`` of the responder processes, before and after) are printed beside the
tool's, and so are the per-host latencies (open to close, as the client saw them) of the floor and of collect.
Spread over one process per CPU, every tool gets the same responders; they do all a WinRM server does for the
client (TLS, NTLM with channel binding, SOAP parsing, the whole script received and decoded, the framed output).
They were not what made collect's wall time exceed the floor's by more than its CPU did (about 0.7 s of their
CPU per run of 50 hosts, the same for the floor and collect, in one process or two): the connection gxpscan had
checked the certificate on, which then carried every operation, lacked TCP_NODELAY, so each request body waited
for the responder's delayed ACK (collect at concurrency 1: 335 ms per host against the floor's 38 ms; 34 ms with
it). ``--hosts 12 --concurrency 1`` shows such per-host latency best.

``--per-host`` measures instead where a host's CPU goes, on this machine's side: the floor and collect each run
their hosts one after another in one process (after one unmeasured host) and print the thread CPU per host of every
pywinrm operation and every step of ours, in ms (medians of --runs processes); a busy machine changes them least.
``--profile-threads OUT.prof`` profiles one whole scan's worker threads by their CPU time, per host (what the
checks, the decoding, the redaction and the transport cost), and prints gxpscan's functions by cumulative CPU.
Run:  python3 benchmarks/winrm_fleet.py [--hosts 50] [--concurrency 16] [--runs 3] [--responder-procs P]
      [--per-host | --profile-threads OUT.prof]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import warm  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
USER = "BENCH\\gxpscan-svc"
PASSWORD = "Bench-Winrm-Pw-7731"
PASSWORD_ENV = "GXPSCAN_BENCH_WINRM_PASSWORD"

#: The responders' process: start N, print their ports as one JSON line, serve until stdin closes.
SERVE = """
import json, os, sys
from pathlib import Path
from tests.fixtures.windows.replay import reply_for
from tests.lab.slapdlab import CA, ServerCert
from tests.lab.wsman import WSManResponder
d, n, own = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[5])
collect = reply_for("hardened-2022")
def reply(script):
    return collect(script) if script else b"ok\\r\\n"
ca, cert = CA(d / "ca" / "ca.pem", d / "ca" / "ca.key"), ServerCert(d / "srv" / "win.pem", d / "srv" / "win.key")
users = {sys.argv[3]: os.environ[sys.argv[4]]}
own.mkdir()  # this process's NTLM user file
rs = [WSManResponder(reply, tls=True, users=users, directory=own, ca=ca, cert=cert).start() for _ in range(n)]
print(json.dumps([r.port for r in rs]), flush=True)
sys.stdin.read()
print(json.dumps({"commands": sum(r.ops["Command"] for r in rs)}), flush=True)
"""

#: The floor: pywinrm, one shell and one trivial command per host, C at a time.
FLOOR = """
import json, os, sys, time
from concurrent.futures import ThreadPoolExecutor
from winrm.protocol import Protocol
ports, ca, user, concurrency = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
password = os.environ[sys.argv[5]]
def one(port):
    start = time.perf_counter()
    p = Protocol(f"https://127.0.0.1:{port}/wsman", transport="ntlm", username=user, password=password,
                 server_cert_validation="validate", ca_trust_path=ca, proxy=None)
    shell = p.open_shell()
    command = p.run_command(shell, "hostname")
    out, err, code = p.get_command_output(shell, command)
    p.cleanup_command(shell, command)
    p.close_shell(shell)
    return code, time.perf_counter() - start
with ThreadPoolExecutor(concurrency) as pool:
    done = list(pool.map(one, ports))
assert [c for c, _ in done] == [0] * len(ports), done
print(json.dumps([s for _, s in done]))
"""

#: gxpscan's transport and collector alone: per host, connect and collect every Windows fact, C at a time.
COLLECT_ONLY = """
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from scanner.collectors import windows
from scanner.connectors import open_connector
from scanner.inventory import load_inventory
targets, concurrency = load_inventory(sys.argv[1]).targets, int(sys.argv[2])
def one(target):
    start = time.perf_counter()
    with open_connector(target) as conn:
        failed = [n for n, f in windows.collect(conn, target, windows.FACTS).items() if not f.ok]
    return failed, time.perf_counter() - start
with ThreadPoolExecutor(concurrency) as pool:
    done = list(pool.map(one, targets))
bad = [b for b, _ in done if b]
print(json.dumps([s for _, s in done]))
sys.exit(f"facts failed: {bad[:3]}" if bad else 0)
"""

#: --per-host: the floor's or collect's hosts one at a time, thread CPU per host of each step (JSON, ms per host).
PER_HOST = """
import collections, functools, json, os, sys, time
import requests
from winrm import transport
from winrm.protocol import Protocol
import winrm.protocol as wp
spent, mode, args = collections.Counter(), sys.argv[1], sys.argv[2:]
def timed(owner, name, label):
    real = getattr(owner, name, None)
    if real is None:  # a step an older gxpscan does not have (A/B runs of this file against another tree)
        return
    @functools.wraps(real)
    def wrapper(*a, **k):
        start = time.thread_time()
        try:
            return real(*a, **k)
        finally:
            spent[label] += time.thread_time() - start
    setattr(owner, name, wrapper)
for name in ("open_shell", "run_command", "send_command_input", "get_command_output_raw", "cleanup_command",
             "close_shell"):
    timed(Protocol, name, "pywinrm " + name)
timed(wp.xmltodict, "unparse", "  of which xmltodict.unparse (SOAP building)")
timed(requests.Session, "send", "  of which requests Session.send (HTTP, TLS, NTLM)")
if mode == "collect":
    from scanner.collectors import windows
    from scanner.connectors import open_connector, winrm as connector
    from scanner.inventory import load_inventory
    for name in ("build_script", "split_frames", "fact_from_frame"):
        timed(windows, name, "ours " + name)
    for name in ("checked_connection", "verify_server"):  # the latter before the connection was handed over
        timed(connector, name, "ours TLS connection and certificate check")
    timed(connector, "_ssl_context", "ours SSL context (trust)")
    for name in ("_build_protocol", "close"):
        timed(connector.WinRMConnector, name, "ours WinRMConnector." + name)
    work = load_inventory(args[0]).targets
    def one(target):
        with open_connector(target) as conn:
            assert all(f.ok for f in windows.collect(conn, target, windows.FACTS).values())
else:
    work, ca, user = json.loads(args[0]), args[1], args[2]
    def one(port):
        p = Protocol(f"https://127.0.0.1:{port}/wsman", transport="ntlm", username=user,
                     password=os.environ[args[3]], server_cert_validation="validate", ca_trust_path=ca, proxy=None)
        shell = p.open_shell()
        command = p.run_command(shell, "hostname")
        p.get_command_output(shell, command)
        p.cleanup_command(shell, command)
        p.close_shell(shell)
one(work[0])
spent.clear()
start = time.thread_time()
for item in work[1:]:
    one(item)
n = len(work) - 1
print(json.dumps({"total": (time.thread_time() - start) * 1000 / n, **{k: v * 1000 / n for k, v in spent.items()}}))
"""


def per_host(ports: list[int], ca: Path, inv: Path, env: dict[str, str], runs: int) -> dict[str, dict[str, float]]:
    """Median thread CPU per host (ms) of each step, for the floor and for collect."""
    out: dict[str, dict[str, float]] = {}
    for mode, args in (("floor", [json.dumps(ports), str(ca), USER, PASSWORD_ENV]), ("collect", [str(inv)])):
        seen: dict[str, list[float]] = {}
        for _ in range(runs):
            done = subprocess.run([sys.executable, "-c", PER_HOST, mode, *args], cwd=ROOT, env=env, check=True,
                                  stdout=subprocess.PIPE, text=True)
            for step, ms in json.loads(done.stdout.strip().splitlines()[-1]).items():
                seen.setdefault(step, []).append(ms)
        out[mode] = {step: round(statistics.median(v), 2) for step, v in seen.items()}
    return out


#: gxpscan's CLI, with the Windows pack's entry point added when the installed metadata predates it.
#: A whole scan, as the ``gxpscan`` command runs it (its entry point: the cyclic GC's thresholds, the exit code).
SCAN = """
import sys
from scanner.cli import entry
sys.argv[0] = "gxpscan"
entry()
"""


#: --profile-threads: the scan with a CPU-time profiler in each worker thread around each host (scan_target), the
#: profiles merged into one pstats file (argv[1]); then the scan's own arguments.
THREAD_PROFILE = """
import atexit, cProfile, functools, pstats, sys, threading, time
import scanner.runner as runner
out, profiles, lock = sys.argv.pop(1), [], threading.Lock()
real = runner.scan_target
@functools.wraps(real)
def profiled(*args, **kwargs):
    profile = cProfile.Profile(time.thread_time)  # CPU of this thread: waiting for the GIL or the host is not counted
    profile.enable()
    try:
        return real(*args, **kwargs)
    finally:
        profile.disable()
        with lock:
            profiles.append(profile)
runner.scan_target = profiled
runner.scan.__kwdefaults__["scan_one"] = profiled
def merged():
    stats = pstats.Stats(*profiles)
    stats.dump_stats(out)
atexit.register(merged)
""" + SCAN


@dataclass(frozen=True)
class Run:
    """One measured process: its wall and CPU seconds, peak RSS, exit code, the responders' CPU seconds meanwhile,
    and the per-host latencies it printed (seconds; empty for the whole scan)."""

    wall: float
    peak_mib: float
    code: int
    cpu: float
    responder_cpu: float | None
    latencies: tuple[float, ...]


def process_cpu(pids: list[int]) -> float | None:
    """CPU seconds (user + system) the processes have used so far; None when one of them cannot be read (it ended,
    or no /proc: not Linux)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        total += int(fields[11]) + int(fields[12])  # utime and stime, fields 14 and 15 of proc(5)
    return total / os.sysconf("SC_CLK_TCK")


def measured(argv: list[str], env: dict[str, str], ok: tuple[int, ...], responders: list[int]) -> Run:
    """One process, measured; its stderr is shown when the code is not ok."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        before = process_cpu(responders)
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        after = process_cpu(responders)
        responder_cpu = after - before if after is not None and before is not None else None
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code not in ok:
            print(err.read().decode(errors="replace")[-2000:], file=sys.stderr)
        lines = out.read().decode(errors="replace").strip().splitlines()
    latencies = tuple(json.loads(lines[-1])) if lines and lines[-1].startswith("[") else ()
    return Run(wall, usage.ru_maxrss / 1024, code, usage.ru_utime + usage.ru_stime, responder_cpu, latencies)


def dealt(hosts: int, procs: int) -> list[int]:
    """How many responders each of ``procs`` processes runs: ``hosts`` dealt as evenly as they go."""
    return [hosts // procs + (i < hosts % procs) for i in range(procs)]


def interleaved(each: list[list[int]]) -> list[int]:
    """The ports of every process, one of each in turn, so that no process's responders are all in a row of the
    inventory (the first 16 hosts a pool of 16 starts with are spread over the processes)."""
    return [p for row in itertools.zip_longest(*each) for p in row if p is not None]


def start_responders(d: Path, hosts: int, procs: int, env: dict[str, str]) -> tuple[list[subprocess.Popen[str]],
                                                                                      list[int]]:
    """``hosts`` responders over ``procs`` processes, and their ports (``interleaved``)."""
    servers = [subprocess.Popen([sys.executable, "-c", SERVE, str(d), str(n), USER, PASSWORD_ENV, str(d / f"r{i}")],
                                cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for i, n in enumerate(dealt(hosts, procs)) if n]
    return servers, interleaved([json.loads(s.stdout.readline()) for s in servers if s.stdout is not None])


def figures(runs: list[Run]) -> dict[str, Any]:
    """Medians of a tool's runs (peak RSS: the largest), and its per-host latencies over all runs (ms)."""
    hosts = sorted(s * 1000 for r in runs for s in r.latencies)
    return {"wall_s": round(statistics.median(r.wall for r in runs), 2),
            "cpu_s": round(statistics.median(r.cpu for r in runs), 2),
            "peak_mib": round(max(r.peak_mib for r in runs), 1),
            "responder_cpu_s": None if any(r.responder_cpu is None for r in runs) else
            round(statistics.median(r.responder_cpu or 0.0 for r in runs), 2),
            "exit_codes": sorted({r.code for r in runs}),
            "host_ms": {"p50": round(hosts[len(hosts) // 2]), "p90": round(hosts[len(hosts) * 9 // 10]),
                        "max": round(hosts[-1])} if hosts else {}}


def inventory(ports: list[int], ca: Path) -> dict[str, Any]:
    return {"version": 1, "targets": [
        {"name": f"win-{i:03d}", "type": "windows", "host": "127.0.0.1", "port": port, "user": USER,
         "password_env": PASSWORD_ENV, "ca_file": str(ca)} for i, port in enumerate(ports)]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-host", action="store_true", help="where a host's CPU goes (see above)")
    parser.add_argument("--profile-threads", type=Path, metavar="OUT.prof",
                        help="instead, one scan with each worker thread's CPU profiled per host (cProfile with "
                             "thread_time), merged into OUT.prof; prints gxpscan's own functions by cumulative CPU")
    parser.add_argument("--responder-procs", type=int, default=os.cpu_count() or 1,
                        help="processes the responders are spread over (default: one per CPU)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.lab.slapdlab import issue_cert, make_ca

    with tempfile.TemporaryDirectory(prefix="gxpscan-winrm-bench-") as tmp:
        d = Path(tmp)
        env = {**warm.gxpscan_env(d), PASSWORD_ENV: PASSWORD}  # byte code and caches as an installed gxpscan has
        ca = make_ca(d / "ca")
        issue_cert(ca, d / "srv", "win", ("localhost",), ("127.0.0.1",))
        servers, ports = start_responders(d, args.hosts, max(1, args.responder_procs), env)
        pids = [s.pid for s in servers]
        try:
            inv = d / "inventory.json"
            inv.write_text(json.dumps(inventory(ports, ca.cert)))
            if args.profile_threads:
                scan = ["scan", "--inventory", str(inv), "--concurrency", str(args.concurrency), "--format", "json"]
                warm.warm_up(env, [sys.executable, "-c", SCAN, *scan, "--output", str(d / "out-warm-up")])
                subprocess.run([sys.executable, "-c", THREAD_PROFILE, str(args.profile_threads), *scan, "--output",
                                str(d / "out-profiled")], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=False)
                stats = pstats.Stats(str(args.profile_threads))
                stats.sort_stats("cumulative").print_stats(r"/(scanner|checks)/", 30)
                return 0
            if args.per_host:
                subprocess.run([sys.executable, "-m", "compileall", "-q", "scanner"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, check=True)
                steps = per_host(ports, ca.cert, inv, {**env, "no_proxy": "*"}, args.runs)
                for mode, row in steps.items():
                    print(f"{mode}: {row.pop('total'):.2f} ms CPU per host (this side)")
                    for step, ms in sorted(row.items(), key=lambda kv: -kv[1]):
                        print(f"  {step:55} {ms:6.2f}")
                print(json.dumps({"per_host_ms": steps, "load": os.getloadavg()}))
                return 0
            rows: dict[str, list[Run]] = {"floor": [], "collect": [], "gxpscan": []}
            warm.warm_up(env, [sys.executable, "-c", SCAN, "scan", "--inventory", str(inv), "--concurrency",
                               str(args.concurrency), "--format", "json", "--output", str(d / "out-warm-up")])
            # requests sets and deletes no_proxy in os.environ around each request of a session that reads the
            # environment (pywinrm's default): threads race on it (KeyError: 'no_proxy' in a floor run under load).
            # Set beforehand, it is only set again, never deleted; the floor talks to 127.0.0.1 without a proxy
            # either way. gxpscan's sessions do not read the environment.
            floor_env = {**env, "no_proxy": "*"}
            for run in range(args.runs):
                rows["floor"].append(measured([sys.executable, "-c", FLOOR, json.dumps(ports), str(ca.cert), USER,
                                               str(args.concurrency), PASSWORD_ENV], floor_env, (0,), pids))
                rows["collect"].append(measured([sys.executable, "-c", COLLECT_ONLY, str(inv),
                                                 str(args.concurrency)], env, (0,), pids))
                rows["gxpscan"].append(measured(
                    [sys.executable, "-c", SCAN, "scan", "--inventory", str(inv), "--concurrency",
                     str(args.concurrency), "--format", "json", "--output", str(d / f"out-{run}")], env, (0, 1),
                    pids))
            commands = 0
            for server in servers:
                assert server.stdin is not None and server.stdout is not None
                server.stdin.close()
                commands += json.loads(server.stdout.readline())["commands"]
        finally:
            for server in servers:
                server.kill()
                server.wait()
        report = json.loads((d / "out-0" / "report.json").read_text())
    findings = len(report["findings"])
    errors = sum(f["status"] == "error" for f in report["findings"])
    result: dict[str, dict[str, Any]] = {name: figures(runs) for name, runs in rows.items()}
    ratio = result["gxpscan"]["wall_s"] / result["floor"]["wall_s"]
    collect_ratio = result["collect"]["wall_s"] / result["floor"]["wall_s"]
    cpu_ratio = result["collect"]["cpu_s"] / result["floor"]["cpu_s"]
    summary = {"hosts": args.hosts, "concurrency": args.concurrency, "runs": args.runs, **result,
               "ratio": round(ratio, 2), "collect_ratio": round(collect_ratio, 2),
               "collect_cpu_ratio": round(cpu_ratio, 2), "findings_per_run": findings,
               "error_findings": errors,
               "commands_seen": commands, "responder_procs": len(pids), "load": os.getloadavg()}
    print(f"{'':10} {'wall s (median)':>16} {'CPU s (median)':>15} {'peak MiB':>9} {'responder CPU s':>16} "
          f"{'host ms p50 / p90 / max':>24}")
    for name in ("floor", "collect", "gxpscan"):
        fig = result[name]
        host = " / ".join(str(fig["host_ms"][k]) for k in ("p50", "p90", "max")) if fig["host_ms"] else "-"
        responder = "-" if fig["responder_cpu_s"] is None else fig["responder_cpu_s"]
        print(f"{name:10} {fig['wall_s']:>16} {fig['cpu_s']:>15} {fig['peak_mib']:>9} {responder:>16} {host:>24}")
    print(f"gxpscan / floor: {ratio:.2f}x, collect / floor: {collect_ratio:.2f}x (CPU {cpu_ratio:.2f}x)")
    print(f"{findings} findings per run, {errors} errors; {commands} Commands for {args.runs} runs x "
          f"{args.hosts} hosts x 3 tools")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
