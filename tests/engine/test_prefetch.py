"""scanner/prefetch.py: the facts of code targets collected by a child process while the command starts.

The parent's end (``Prefetch``) is tested on a real pipe written by the child's own code (``_send_facts``, run in a
thread) or by hand (what a failed or hostile child would send); the fork itself, and that no process outlives the
command, by running ``python -m scanner`` as a user does."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from scanner import prefetch
from scanner.collectors import collect_facts, known_facts
from scanner.iacscope import iac_document
from scanner.inventory import load_inventory
from scanner.model import Fact, Platform, Target
from scanner.prefetch import Prefetch, pickler_to, source_of

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "iac"
CODE = str(FIXTURES / "terraform")
NAMES = ("aws.kms_keys", "aws.s3_buckets", "iac.resource_notes", "iac.system")


@pytest.mark.parametrize(("argv", "expected"), [
    (["scan", "--iac", "a", "b/c", "--format", "json"], ("iac", ["a", "b/c"])),
    (["scan", "--format", "json", "--iac=a"], ("iac", ["a"])),
    (["--log-level", "DEBUG", "scan", "--inventory", "inv.yaml", "--check", "aws.*"], ("inventory", "inv.yaml")),
    (["--log-level=INFO", "scan", "-i", "inv.yaml"], ("inventory", "inv.yaml")),
    (["scan", "--inventory=a.yaml", "--inventory", "b.yaml"], ("inventory", "b.yaml")),  # the last, as argparse
    (["scan", "--iac", "a", "--iac", "b"], ("iac", ["b"])),
    (["scan"], None),  # this machine, no code
    (["scan", "--iac"], None),
    (["scan", "--inventory"], None),
    (["scan", "--iac", "a", "--inventory", "i.yaml"], None),  # a usage error: nothing to collect
    (["scan", "--iac", "a", "--executor", "tcp://zone:8786"], None),  # collected elsewhere
    (["scan", "--iac", "a", "--plan"], None),
    (["scan", "--iac", "a", "-h"], None),
    (["scan", "--", "--iac", "a"], None),
    (["report", "--iac", "a"], None),
    (["--log-level", "DEBUG"], None),
    ([], None),
])
def test_source_of_reads_the_inventory_a_scan_command_names(argv: list[str], expected: Any) -> None:
    assert source_of(argv) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("targets:\n  - name: infra\n    type: iac\n    path: infra\n", True),
    ("targets:\n  - {name: infra, type: 'iac', path: infra}\n", True),
    ('{"version": 1, "targets": [{"name": "infra", "type": "iac", "path": "."}]}', True),
    ('{"targets": [{"type":"iac"}]}', True),
    ("targets:\n  - name: web01\n    type: linux\n    host: web01\n", False),
    ("targets:\n  - name: iac-runner\n    type: linux\n", False),  # a name is not a type
    ("targets:\n  - name: x\n    type: iacx\n", False),
])
def test_a_child_only_for_an_inventory_that_declares_code(tmp_path: Path, text: str, expected: bool) -> None:
    """A scan of hosts alone would pay for the child's imports and fork for nothing."""
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(text, encoding="utf-8")
    assert prefetch._has_code(("inventory", str(inventory))) is expected
    assert prefetch._has_code(("iac", ["anything"])) is True
    assert prefetch._has_code(("inventory", str(tmp_path / "missing.yaml"))) is False


@pytest.mark.parametrize(("cgroups", "files", "expected"), [
    ("0::/ci/job\n", {"ci/job/cpu.max": "150000 100000\n"}, 1.5),
    ("0::/\n", {"cpu.max": "max 100000\n"}, None),
    ("0::/\n", {"cpu.max": "100000 100000\n"}, 1.0),
    ("12:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n",
     {"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "50000\n", "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n"},
     0.5),
    ("0::/\n1:cpu:/\n", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),  # hybrid
    ("0::/\n", {}, None),  # no file to tell
    ("0::/\n", {"cpu.max": "lots 0\n"}, None),
    ("", {}, None),
])
def test_cpu_quota_reads_the_control_group_limit(tmp_path: Path, cgroups: str, files: dict[str, str],
                                                 expected: float | None) -> None:
    """A container limited to one CPU sees every CPU of its host in its affinity: its quota tells."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="ascii")
    assert prefetch.cpu_quota(cgroups, str(tmp_path)) == expected


def test_a_child_runs_only_where_it_can_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    monkeypatch.setattr(prefetch, "cpu_quota", lambda: None)
    threading_module = sys.modules.pop("threading")
    try:
        assert prefetch.can_fork({}) is True
        assert prefetch.can_fork({prefetch.ENV: "0"}) is False
    finally:
        sys.modules["threading"] = threading_module
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    assert prefetch.can_fork({}) is False  # one CPU: the child would only take the parent's
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(16)))
    monkeypatch.setattr(prefetch, "cpu_quota", lambda: 1.5)
    assert prefetch.can_fork({}) is False  # sixteen to run on, time for one and a half
    monkeypatch.setattr(prefetch, "cpu_quota", lambda: None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert prefetch.can_fork({}) is False  # a fork copies one thread of several
    finally:
        stop.set()
        thread.join()


def test_no_child_for_a_program_that_runs_gxpscan_itself() -> None:
    """pytest is this process's program: ``start`` never forks it, whatever the command line."""
    assert prefetch.program_is_gxpscan() is False
    assert prefetch.start(["scan", "--iac", CODE], {}) is None


def _target(path: str = CODE) -> Target:
    return load_inventory(iac_document([path])).targets[0]


@pytest.fixture
def pipe() -> Iterator[tuple[Prefetch, io.BufferedWriter]]:
    """A ``Prefetch`` reading a pipe, and the pipe's writing end (the child's)."""
    read_end, write_end = os.pipe()
    got = Prefetch(0, read_end, 0.0)
    writer = os.fdopen(write_end, "wb")
    yield got, writer
    got.end()
    if not writer.closed:
        writer.close()


def _send(writer: io.BufferedWriter, *values: Any, close: bool = True) -> None:
    pickler = pickler_to(writer)
    for value in values:
        pickler.dump(value)
    writer.flush()
    if close:
        writer.close()


def _marked(target: Target) -> dict[str, Fact]:
    """Facts no collection makes: taken from the child when they come back."""
    return {n: Fact(n, f"sent by the child: {n}", ()) for n in NAMES}


def test_the_childs_own_facts_are_the_facts_collected_here() -> None:
    """``_send_facts`` (the child's work) through a real pipe: the announcement, then every fact of the code
    collector for the target, equal to those collected in this process."""
    target = _target()
    read_end, write_end = os.pipe()
    child = threading.Thread(target=prefetch._send_facts, args=(("iac", [CODE]), write_end))
    child.start()
    got = Prefetch(0, read_end, 0.0)
    try:
        sent = got.facts(target)
    finally:
        child.join()
        got.end()
    here = collect_facts(target, sorted(known_facts([Platform.IAC])))
    assert sent is not None and here and sorted(sent) == sorted(here)
    for name, fact in here.items():
        assert (sent[name].ok, sent[name].value, sent[name].error) == (fact.ok, fact.value, fact.error), name
        assert [(e.source, e.raw, e.sha256) for e in sent[name].evidence] == \
               [(e.source, e.raw, e.sha256) for e in fact.evidence], name


def test_collect_takes_the_childs_facts_of_the_same_target(pipe: tuple[Prefetch, io.BufferedWriter]) -> None:
    got, writer = pipe
    target = _target()
    _send(writer, (target,), (target, _marked(target)))
    facts = got.collect(target, ["iac.system", "aws.kms_keys", "aws.kms_keys"])
    assert facts == {"aws.kms_keys": _marked(target)["aws.kms_keys"], "iac.system": _marked(target)["iac.system"]}
    assert list(facts) == ["aws.kms_keys", "iac.system"]  # in order, as collect_facts gives them
    assert got.facts(target) is None  # given once


def _collected_here(facts: dict[str, Fact]) -> bool:
    return not any(isinstance(f.value, str) and f.value.startswith("sent by the child") for f in facts.values())


class _Call:
    """Pickled, calls ``os.system`` when unpickled by a plain unpickler."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("child", [
    "another target", "announced, then ended", "nothing at all", "not a pickle", "a missing fact",
    "another type", "not facts", "a foreign name",
])
def test_collect_falls_back_to_collecting_here(pipe: tuple[Prefetch, io.BufferedWriter], tmp_path: Path,
                                               child: str) -> None:
    """Whatever the child sent or failed to send, the facts are collected here, as without it; never an error,
    never a wait for a target the child will not send, never a name of the stream looked up."""
    got, writer = pipe
    target = _target()
    other = replace(target, options={**target.options, "region": "eu-west-1"})
    marker = tmp_path / "called"
    if child == "another target":  # the writer stays open: the child is still at work on the other target
        _send(writer, (other,), close=False)
    elif child == "announced, then ended":
        _send(writer, (target,))
    elif child == "nothing at all":
        writer.close()
    elif child == "not a pickle":
        writer.write(b"\x80\x05garbage")
        writer.close()
    elif child == "a missing fact":
        _send(writer, (target,), (target, {n: f for n, f in _marked(target).items() if n != "aws.kms_keys"}))
    elif child == "another type":
        _send(writer, (target,), [target, _marked(target)])
    elif child == "not facts":
        _send(writer, (target,), (target, {n: f.value for n, f in _marked(target).items()}))
    else:
        _send(writer, (target,), (target, {"aws.kms_keys": _Call(marker)}))
    facts = got.collect(target, NAMES)
    assert _collected_here(facts) and facts == _facts_without_times(collect_facts(target, NAMES), facts)
    assert facts["aws.kms_keys"].ok and facts["iac.system"].ok
    assert not marker.exists()


def _facts_without_times(expected: dict[str, Fact], got: dict[str, Fact]) -> dict[str, Fact]:
    """``expected`` with the evidence times of ``got`` (two collections differ in nothing else)."""
    return {n: replace(f, evidence=tuple(replace(e, collected_at=g.collected_at)
                                         for e, g in zip(f.evidence, got[n].evidence, strict=True)))
            for n, f in expected.items()}


def test_a_target_of_another_platform_never_reads_the_pipe(pipe: tuple[Prefetch, io.BufferedWriter]) -> None:
    got, writer = pipe  # nothing is ever written: reading would wait forever
    linux = Target(name="box", type=Platform.LINUX, options={"connection": "nonexistent-transport"}, policy={})
    facts = got.collect(linux, ["linux.system"])
    assert not facts["linux.system"].ok and "could not be scanned" in (facts["linux.system"].error or "")


def test_end_stops_a_child_at_work_and_waits_for_it() -> None:
    """A child still collecting when the command ends is ended and waited for: no process left, nothing to reap."""
    code = """
import os, sys, time
from scanner import prefetch
got = prefetch.fork_collector(("iac", [sys.argv[1]]))
pid = got.pid
os.kill(pid, 0)  # alive
got.end()
assert not os.path.exists(f"/proc/{pid}"), "left"
try:
    os.waitpid(pid, os.WNOHANG)
except ChildProcessError:
    print("ended", pid)
got.end()  # twice: nothing more to do
"""
    proc = subprocess.run([sys.executable, "-c", code, str(FIXTURES)], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"ended \d+\n", proc.stdout)


def _scan(out: Path, env_value: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, prefetch.ENV: env_value, "GXPSCAN_OPERATOR": "tester"}
    return subprocess.run([sys.executable, "-m", "scanner", "--log-level", "DEBUG", "scan", "--quiet", "--format",
                           "json", "--output", str(out), *argv], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def _normalised(run_dir: Path, other_dir: Path) -> list[str]:
    """The run record's lines without what differs from one run to the next: run id, times, output path, chain
    link, and the order of the target lines (as each target finished: two code targets may finish in either order
    when collected here, in the inventory's order when collected by the child)."""
    text = (run_dir / "record.jsonl").read_text(encoding="utf-8").replace(str(run_dir), str(other_dir))
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?", "TIME", text)
    text = re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{6}", "RUN", text)
    text = re.sub(r'"(previous_manifest_sha256|previous_line_sha256|line_sha256|sha256)":"[0-9a-f]*"',
                  r'"\1":"H"', text)
    return sorted(text.splitlines())


def _times(run_dir: Path) -> tuple[datetime, list[datetime], datetime]:
    """The run's start, the collection time of every piece of evidence, and the run's end."""
    lines = [json.loads(x) for x in (run_dir / "record.jsonl").read_text(encoding="utf-8").splitlines()]
    collected = [datetime.fromisoformat(e["collected_at"]) for x in lines[1:-1] for e in x["evidence"].values()]
    return datetime.fromisoformat(lines[0]["run"]["started"]), collected, datetime.fromisoformat(lines[-1]["ended"])


def test_a_scan_of_code_with_the_child_records_what_it_records_without(tmp_path: Path) -> None:
    """``python -m scanner scan --iac`` of the fixtures (Terraform with a module, plan and broken file; CloudFormation
    YAML and JSON with a broken one): every code target's facts come from the child, and the run record is the
    one the same scan makes without it, but for ids, times and paths. Every piece of evidence was collected after
    the run's start and before its end."""
    paths = [str(FIXTURES / "terraform"), str(FIXTURES / "cloudformation")]
    without, with_child = tmp_path / "results" / "without", tmp_path / "results" / "with"
    plain = _scan(without, "0", "--iac", *paths)
    child = _scan(with_child, "1", "--iac", *paths)
    assert plain.returncode == child.returncode == 1, (plain.stderr, child.stderr)
    used = re.findall(r"target (\S+): facts collected by the child process \d+", child.stderr)
    assert sorted(used) == ["tests_fixtures_iac_cloudformation", "tests_fixtures_iac_terraform"], child.stderr
    assert "collected by the child" not in plain.stderr
    assert _normalised(with_child, without) == _normalised(without, without)
    started, collected, ended = _times(with_child)
    assert collected and all(started <= t <= ended for t in collected)


REAPER = """
import ctypes, os, subprocess, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER: orphans come here
    sys.exit("prctl failed")
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
try:
    left = os.waitpid(-1, os.WNOHANG)[0] or "running"  # a child of gxpscan it did not end and wait for
except ChildProcessError:
    left = "none"
print(done.returncode, left)
sys.stderr.write(done.stderr)
"""


@pytest.mark.parametrize(("argv", "code"), [
    (["--check", "aws.kms.key_rotation"], 1),  # a whole scan: its facts taken from the child
    (["--check", "no.such.check"], 2),  # a usage error found after the fork: the child not needed
])
def test_no_process_outlives_the_command(tmp_path: Path, argv: list[str], code: int) -> None:
    """Run under a subreaper (which inherits any process gxpscan leaves behind): gxpscan ends and waits for its
    child whether the scan used it or ended before asking."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU here: gxpscan starts no child process")
    command = [sys.executable, "-m", "scanner", "--log-level", "DEBUG", "scan", "--quiet", "--iac", CODE,
               "--output", str(tmp_path / "out"), *argv]
    env = {**os.environ, prefetch.ENV: "1"}
    proc = subprocess.run([sys.executable, "-c", REAPER, *command], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.stdout == f"{code} none\n", proc.stderr
    assert ("facts collected by the child process" in proc.stderr) is (code == 1)
