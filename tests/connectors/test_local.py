"""LocalConnector on this machine: stdin-only scripts, bounded output, timeouts, sudo with and without a password."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scanner.connectors import ConnectorError, ProcessScope
from scanner.connectors.become import REFUSED_ONCE, SUDO_PROMPT
from scanner.connectors.local import LocalConnector
from tests.factories import make_target
from tests.fixtures.linux.sandbox import REPO, SudoSandbox, alive, descendants, processes, read_proc


@pytest.fixture(scope="module")
def conn() -> LocalConnector:
    return LocalConnector(make_target())


def test_exit_code_stdout_and_stderr_apart(conn):
    r = conn.run("echo out; echo err >&2; exit 7", timeout=10)
    assert (r.exit_code, r.stdout, r.stderr, r.timed_out, r.truncated) == (7, b"out\n", b"err\n", False, False)


def test_script_travels_on_stdin_never_in_argv(conn):
    marker = "gxp-marker-6f1d2c"
    r = conn.run(f"# {marker}\ntr '\\0' ' ' < /proc/$$/cmdline", timeout=10)
    assert r.stdout == b"sh -s "
    assert marker.encode() not in r.stdout


def test_output_is_bounded_and_the_writer_is_drained(conn):
    r = conn.run("head -c 5000000 /dev/zero; echo finished >&2", timeout=30, limit=1000)
    assert (len(r.stdout), r.truncated, r.exit_code, r.stderr) == (1000, True, 0, b"finished\n")


def test_timeout_kills_the_whole_process_group(conn):
    start = time.monotonic()
    r = conn.run("sleep 60 & echo $!; wait", timeout=0.5)
    elapsed = time.monotonic() - start
    assert (r.timed_out, r.exit_code) == (True, None)
    assert elapsed < 5
    child = Path(f"/proc/{int(r.stdout)}/status")
    assert not child.exists() or "State:\tZ" in child.read_text()


def test_non_utf8_bytes_are_kept(conn):
    assert conn.run(r"printf 'caf\351 \377\376'", timeout=10).stdout == b"caf\xe9 \xff\xfe"


@pytest.mark.root
def test_become_as_root_needs_no_sudo(conn):
    assert conn.is_root
    r = conn.run("id -u; cat /proc/$PPID/comm", timeout=10, become=True)
    assert r.stdout.split()[0] == b"0"
    assert b"sudo" not in r.stdout


def test_a_missing_password_variable_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("GXP_NO_SUCH_VAR", raising=False)
    target = make_target(become="sudo", become_password_env="GXP_NO_SUCH_VAR")
    local = LocalConnector(target)
    if local.is_root:  # root never needs sudo, so the variable is not consulted
        assert local.run("true", timeout=5, become=True).exit_code == 0
    else:
        with pytest.raises(ConnectorError, match="GXP_NO_SUCH_VAR"):
            local.run("true", timeout=5, become=True)


BECOME = """
import json, os
from scanner.connectors.local import LocalConnector
from tests.factories import make_target
target = make_target(become="sudo", **({"become_password_env": "GXP_PW"} if os.environ.get("GXP_PW") else {}))
from scanner.connectors.become import BecomeError
c = LocalConnector(target)
try:
    r = c.run("id -u; ps -eo args", timeout=60, become=True)
    print(json.dumps({"is_root": c.is_root, "exit": r.exit_code, "out": r.stdout.decode(), "err": r.stderr.decode()}))
except BecomeError as exc:
    print(json.dumps({"is_root": c.is_root, "refused": str(exc)}))
"""


def _become(sandbox: SudoSandbox, password: str | None) -> dict:
    proc = sandbox.run_python(BECOME, env={"GXP_PW": password} if password else {})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_sudo_password_goes_on_stdin_only(sandbox):
    got = _become(sandbox, sandbox.password)
    assert (got["is_root"], got["exit"]) == (False, 0)
    assert got["out"].splitlines()[0] == "0"
    assert f"sudo -k -S -p {SUDO_PROMPT}" in got["out"]  # sudo's argv holds no password
    assert sandbox.password not in got["out"] + got["err"]


def test_sudo_without_password_fails_cleanly(sandbox):
    got = _become(sandbox, None)
    assert "sudo refused on this machine" in got["refused"] and "a password is required" in got["refused"]


def test_wrong_sudo_password_runs_nothing_and_is_not_echoed(sandbox):
    wrong = "wrong-" + sandbox.password[:6]
    got = _become(sandbox, wrong)
    assert "sudo refused on this machine" in got["refused"]
    assert wrong not in json.dumps(got)



def test_probes_inherit_no_secret_from_the_scanner_environment(conn, monkeypatch):
    monkeypatch.setenv("GXP_SOME_TOKEN", "tok-4b1e9a77")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-77e1c0de")
    monkeypatch.setenv("LC_TIME", "C.UTF-8")
    env = conn.run("tr '\\0' '\\n' < /proc/$$/environ", timeout=10).stdout.decode()
    assert "tok-4b1e9a77" not in env and "aws-77e1c0de" not in env
    assert f"PATH={os.environ['PATH']}" in env.split("\n") and "LC_TIME=C.UTF-8" in env.split("\n")


# ---- sudo: one attempt, no secret in any argv or environment ------------------------------------------------
ONE_RUN = """
import json, os
from scanner.connectors.local import LocalConnector
from scanner.connectors.become import BecomeError
from tests.factories import make_target
c = LocalConnector(make_target(become="sudo", become_password_env="GXP_PW"))
try:
    r = c.run("id -u; sleep 2", timeout=60, become=True)
    print(json.dumps({"exit": r.exit_code, "out": r.stdout.decode(), "err": r.stderr.decode()}))
except BecomeError as exc:
    print(json.dumps({"refused": str(exc)}))
"""


def _watch_for(secret: str, proc: subprocess.Popen[str]) -> list[str]:
    """While ``proc`` runs: every process whose argv holds the secret, and every process the scanner started
    (below the sandbox's python) whose environment holds it. The scanner itself has it by design (the operator
    exported it for gxpscan), and so have the sandbox's launchers."""
    needle, hits, polls = secret.encode(), set(), 0
    while proc.poll() is None:
        table = processes()
        polls += 1
        pythons = [p.pid for p in descendants(proc.pid, table).values() if p.comm == "python3"]
        below = {pid for py in pythons for pid in descendants(py, table)} - set(pythons)
        for pid, p in table.items():
            if needle in read_proc(pid, "cmdline"):
                hits.add(f"argv of {pid} {p.comm}")
            if pid in below and needle in read_proc(pid, "environ"):
                hits.add(f"environment of {pid} {p.comm}")
        time.sleep(0.01)
    assert polls > 5  # the watcher really saw the run (each poll reads all of /proc: slow on a loaded machine)
    return sorted(hits)


@pytest.mark.parametrize("right", [False, True], ids=["wrong-password", "right-password"])
def test_sudo_password_is_tried_once_and_seen_by_no_other_process(sandbox, right):
    sandbox.reset_attempts()
    password = sandbox.password if right else "wrong-" + sandbox.password[:8]
    proc = sandbox.popen_python(ONE_RUN, env={"GXP_PW": password})
    hits = _watch_for(password, proc)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    got = json.loads(out)
    assert hits == []
    if right:
        assert (got["exit"], got["out"], sandbox.failed_attempts()) == (0, "0\n", 0)
    else:
        # pam_faillock counts one failure, although sudoers allows passwd_tries=3
        assert sandbox.failed_attempts() == 1
        assert got["refused"].endswith(REFUSED_ONCE) and password not in got["refused"]
        assert "incorrect password attempts" not in sandbox.sudo_log()  # sudo never got to a 2nd or 3rd try


# ---- an interrupted scan ends every process it started ------------------------------------------------------
SLOW_SCAN = """
import signal, sys
from functools import partial
from scanner.connectors import ProcessScope, open_connector
from scanner.runner import scan, scan_target
from tests.factories import make_target
from scanner.registry import Registry, spec_of
from tests.engine import sample

def slow(target, names, scope):
    with open_connector(target, scope) as conn:
        conn.run("sleep 3001 & sleep 3002; wait", timeout=900, become=BECOME)
    return {}

def terminate(signum, frame):  # what gxpscan scan does with SIGTERM
    raise KeyboardInterrupt

signal.signal(signal.SIGTERM, terminate)
scope = ProcessScope()
targets = [make_target(f"t{i}", **({"become": "sudo", "become_password_env": "GXP_PW"} if BECOME else {}))
           for i in range(2)]
try:
    scan(targets, [spec_of(sample.widgets_few)], {}, scope=scope,
         scan_one=partial(scan_target, collector=partial(slow, scope=scope)))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
"""


def _interrupt_and_check(proc: subprocess.Popen[str], scanner_pid, signum: int, sleeps: int) -> None:
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until every target's probe runs
            pid = scanner_pid()
            tree = descendants(pid) if pid else {}
            if sum(p.comm == "sleep" for p in tree.values()) >= sleeps:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"the probes did not start: {proc.stderr.read() if proc.poll() is not None else ''}")
        started = {k: v for k, v in tree.items() if k != pid}
        os.kill(pid, signum)
        out, err = proc.communicate(timeout=30)  # the old runner waited for the probes (3000 s) here
        assert "interrupted" in out, err
        until = time.monotonic() + 5
        while alive(started) and time.monotonic() < until:
            time.sleep(0.05)
        assert alive(started) == []
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_scan_ends_its_local_probes(signum):
    code = SLOW_SCAN.replace("BECOME", "False")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    _interrupt_and_check(proc, lambda: proc.pid, signum, sleeps=4)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_scan_ends_its_sudo_children(sandbox, signum):
    proc = sandbox.popen_python(SLOW_SCAN.replace("BECOME", "True"), env={"GXP_PW": sandbox.password})

    def scanner_pid() -> int | None:
        found = [p.pid for p in descendants(proc.pid).values() if p.comm == "python3"]
        return found[0] if found else None

    _interrupt_and_check(proc, scanner_pid, signum, sleeps=4)


def test_a_scope_that_was_ended_starts_nothing_more(conn):
    scope = ProcessScope()
    scope.end_all()
    with pytest.raises(ConnectorError, match="interrupted"):
        LocalConnector(make_target(), scope=scope).run("true", timeout=5)


TIMED_OUT = """
import json
from scanner.connectors.local import LocalConnector
from tests.factories import make_target
c = LocalConnector(make_target(become="sudo", become_password_env="GXP_PW"))
r = c.run("sleep 3003 & sleep 3004; wait", timeout=2, become=True)
print(json.dumps({"timed_out": r.timed_out, "exit": r.exit_code}))
"""


def test_a_timed_out_sudo_batch_leaves_no_root_process_behind(sandbox):
    proc = sandbox.popen_python(TIMED_OUT, env={"GXP_PW": sandbox.password})
    seen: dict = {}
    root_owned = set()
    while proc.poll() is None:
        for pid, p in descendants(proc.pid).items():
            if p.comm == "sleep":
                seen[pid] = p
                if b"\nUid:\t0\t" in read_proc(pid, "status"):
                    root_owned.add(pid)
        time.sleep(0.05)
    out, err = proc.communicate()
    assert json.loads(out) == {"timed_out": True, "exit": None}, err
    assert len(seen) == 2 and root_owned == set(seen)  # the probes ran as root, under sudo
    until = time.monotonic() + 5
    while alive(seen) and time.monotonic() < until:
        time.sleep(0.05)
    assert alive(seen) == []  # SIGKILL to the group alone would have left sudo's root children running
