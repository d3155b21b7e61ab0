"""A real PostgreSQL server for the history tests: initdb and pg_ctl on a temporary directory and a free port.

PostgreSQL refuses to run as root, so under root the cluster belongs to ``nobody`` (its directory is made for it
outside the 0700 pytest tree). Password authentication only (scram-sha-256 over TCP on 127.0.0.1); the password
is planted: the tests prove it appears in no output.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "gxpscan"
DATABASE = "gxpscan_history"
PASSWORD = "Pg-Hist-S3cret-41c9"  # planted: the tests prove it appears in no output
PASSWORD_ENV = "GXPSCAN_TEST_PG_PASSWORD"
RUN_AS = "nobody"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def available() -> str:
    """Why the lab cannot start here ("" when it can)."""
    bindir = _bindir()
    if bindir is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed (Debian package postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg package is not installed"
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgLab:
    base: Path
    data: Path
    port: int
    bindir: Path
    user: str | None  # the unprivileged user running the server (None: ourselves)

    def url(self, database: str = DATABASE) -> str:
        """A history spec: the password comes from PASSWORD_ENV (set it in the environment of the run)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}?password_env={PASSWORD_ENV}"

    def bare_url(self, database: str = DATABASE) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.bare_url("postgres"), password=PASSWORD, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), user=self.user, group="nogroup" if self.user else None, cwd=self.base,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


def start(_directory: Path | None = None) -> PgLab:
    bindir = _bindir()
    assert bindir is not None
    user = RUN_AS if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="gxpscan-pg-"))
    os.chmod(base, 0o700)
    if user:
        shutil.chown(base, user, "nogroup")
    lab = PgLab(base, base / "data", _free_port(), bindir, user)
    pwfile = base / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if user:
        shutil.chown(pwfile, user, "nogroup")
    try:
        done = lab._run(str(bindir / "initdb"), "-D", str(lab.data), "-U", USER, "--auth=scram-sha-256",
                        f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr[-500:]}")
        pwfile.unlink()
        options = (f"-c listen_addresses=127.0.0.1 -c port={lab.port} -c unix_socket_directories={base} "
                   "-c fsync=off -c max_connections=40 -c shared_buffers=16MB")
        done = lab._run(str(bindir / "pg_ctl"), "-D", str(lab.data), "-o", options, "-l", str(base / "log"), "-w",
                        "-t", "60", "start")
        if done.returncode:
            log = (base / "log").read_text(errors="replace")[-800:] if (base / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr[-300:]} {log}")
        deadline = time.monotonic() + 30
        while True:
            try:
                lab.create_database(DATABASE)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    except BaseException:
        lab.stop()
        raise
    return lab


@pytest.fixture(scope="session")
def pg_lab() -> Iterator[PgLab]:
    """One PostgreSQL server per test session (import this fixture into the test modules that need it)."""
    from tests.conftest import lab_unavailable

    reason = available()
    if reason:
        lab_unavailable(reason)
    try:
        lab = start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        lab_unavailable(f"PostgreSQL did not start: {exc}")
    try:
        yield lab
    finally:
        lab.stop()
