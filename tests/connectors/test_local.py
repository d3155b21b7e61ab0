"""LocalConnector on this machine: stdin-only scripts, bounded output, timeouts, sudo with and without a password."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from scanner.connectors import ConnectorError
from scanner.connectors.local import LocalConnector
from tests.factories import make_target
from tests.fixtures.linux.sandbox import SudoSandbox


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
    assert "sudo -k -S -p  sh -c while IFS= read -r l" in got["out"]  # sudo's argv holds no password
    assert sandbox.password not in got["out"] + got["err"]


def test_sudo_without_password_fails_cleanly(sandbox):
    got = _become(sandbox, None)
    assert "sudo refused on this machine" in got["refused"] and "a password is required" in got["refused"]


def test_wrong_sudo_password_runs_nothing_and_is_not_echoed(sandbox):
    wrong = "wrong-" + sandbox.password[:6]
    got = _become(sandbox, wrong)
    assert "sudo refused on this machine" in got["refused"]
    assert wrong not in json.dumps(got)

