"""The history on a real PostgreSQL server (tests/lab/pglab.py): the password from an environment variable or a
pgpass file, never in argv, output, files or errors; concurrent writers. The rest of the suite runs over both
databases in tests/engine/test_history.py."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from scanner.history import SCHEMA_VERSION, HistoryError, open_history
from tests.engine.history_factory import day, write_run
from tests.lab import pglab
from tests.lab.pglab import pg_lab  # noqa: F401  (session fixture)

REPO = Path(__file__).resolve().parents[2]
SSH = "linux.ssh.root_login"


def gxpscan(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert not any(pglab.PASSWORD in a for a in args)  # never in a process argument list
    return subprocess.run([sys.executable, "-m", "scanner", "--log-level", "DEBUG", *args], capture_output=True,
                          text=True, cwd=cwd, env={**env, "PYTHONPATH": str(REPO)}, timeout=300, check=False)


def files_containing(root: Path, secret: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and secret in p.read_bytes()]


def test_scan_history_import_and_diff_on_postgresql_leak_the_password_nowhere(pg_lab, tmp_path,  # noqa: F811
                                                                            monkeypatch):
    name = "leakcheck"
    pg_lab.create_database(name)
    url = pg_lab.url(name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {pglab.PASSWORD_ENV: pglab.PASSWORD}
    results = tmp_path / "results"
    outputs = []
    for run in ("one", "two"):
        done = gxpscan("scan", "--check", "linux.time.*", "-o", str(results / run), "--history", url, env=env,
                       cwd=tmp_path)
        assert done.returncode in (0, 1, 3), done.stderr
        assert "history" not in done.stderr.lower() or "warning" not in done.stderr.lower(), done.stderr
        outputs.append(done)
    for args in (["history", "--history", url], ["history", "--history", url, "--format", "json"],
                 ["history", "import", str(results), "--history", url],
                 ["diff", "previous", "latest", "--history", url, "--format", "json"]):
        done = gxpscan(*args, env=env, cwd=tmp_path)
        assert done.returncode in (0, 1), (args, done.stderr)
        outputs.append(done)
    assert '"run_id"' in outputs[3].stdout and "2 run(s) indexed" in outputs[4].stdout
    assert '"new"' in outputs[5].stdout
    # a wrong password: a clear error, the wrong password not shown either
    wrong = "Wr0ng-Pg-S3cret-bb71"
    done = gxpscan("history", "--history", url, env={**env, pglab.PASSWORD_ENV: wrong}, cwd=tmp_path)
    assert done.returncode == 2 and "cannot connect" in done.stderr and "password authentication failed" in done.stderr
    assert wrong not in done.stderr + done.stdout
    outputs.append(done)
    # a scan whose history is unreachable: the scan is complete, the failure warned and recorded, no secret shown
    done = gxpscan("scan", "--check", "linux.time.*", "-o", str(results / "three"), "--history", url,
                   env={**env, pglab.PASSWORD_ENV: wrong}, cwd=tmp_path)
    assert done.returncode in (0, 1, 3) and "NOT added to the history" in done.stderr
    assert (results / "history-pending.txt").read_text() == "three\n"
    outputs.append(done)
    for out in outputs:
        assert pglab.PASSWORD not in out.stdout + out.stderr
    assert files_containing(tmp_path, pglab.PASSWORD.encode()) == []
    assert files_containing(tmp_path, wrong.encode()) == []
    monkeypatch.setenv(pglab.PASSWORD_ENV, pglab.PASSWORD)
    with open_history(url, results) as h:
        assert len(h.runs()) == 2


def test_the_password_from_a_pgpass_file(pg_lab, tmp_path, monkeypatch):  # noqa: F811
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{pg_lab.port}:*:{pglab.USER}:{pglab.PASSWORD}\n")
    pgpass.chmod(0o600)
    monkeypatch.delenv(pglab.PASSWORD_ENV, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    with open_history(pg_lab.bare_url(), tmp_path) as h:
        assert h.schema_version() == SCHEMA_VERSION and h.where == pg_lab.bare_url()
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(HistoryError) as err:
        open_history(pg_lab.bare_url(), tmp_path)
    assert "cannot connect" in str(err.value) and pglab.PASSWORD not in str(err.value)


def test_a_missing_password_variable_is_named(pg_lab, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.delenv(pglab.PASSWORD_ENV, raising=False)
    with pytest.raises(HistoryError, match=f"the environment variable {pglab.PASSWORD_ENV} .* not set"):
        open_history(pg_lab.url(), tmp_path)


def test_concurrent_writers_index_every_run_once(pg_lab, tmp_path, monkeypatch):  # noqa: F811
    pg_lab.create_database("concurrent")
    monkeypatch.setenv(pglab.PASSWORD_ENV, pglab.PASSWORD)
    runs = [write_run(tmp_path / f"r{i}", [(f"host{j}", SSH, "sshd", "fail" if (i + j) % 2 else "pass")
                                           for j in range(20)], started=day(i), run_id=f"run-{i}")
            for i in range(6)]
    errors: list[BaseException] = []

    def add(part: list[Path]) -> None:
        try:
            with open_history(pg_lab.url("concurrent"), tmp_path) as h:
                for r in part:
                    h.add_run(r)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(runs[i::2] + runs,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_history(pg_lab.url("concurrent"), tmp_path) as h:
        assert [r.run_id for r in h.runs()] == [f"run-{i}" for i in reversed(range(6))]
        findings = h.findings()
        assert len(findings) == 20 and all(f.runs == 6 for f in findings)
        assert findings[0].target == "host0" and findings[0].flaps == 2  # pass fail pass fail pass fail
