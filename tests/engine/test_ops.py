"""Unattended operation (issue 13): the scan lock between real processes, retention that keeps signed runs, and
the ``latest`` link made without following anything someone else planted."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from scanner import cli
from scanner.ops import LATEST, OpsError, ScanLock, apply_retention, run_dirs, update_latest
from scanner.seal import keygen, load_private_key, verify_run
from tests.engine.seal_factory import sealed_run

ROOT = Path(__file__).resolve().parents[2]
BUCKET_TF = 'resource "aws_s3_bucket" "data" {\n  bucket = "data"\n}\n'
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def gxpscan(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanner", *argv], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=120)


def _holder(lock: Path) -> subprocess.Popen[str]:
    """A real second process holding the lock until killed."""
    code = ("import sys, time\nfrom scanner.ops import ScanLock\nScanLock(sys.argv[1]).acquire()\n"
            "print('held', flush=True)\ntime.sleep(300)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(lock)], env=_env(), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_held_lock_stops_a_second_scan_and_a_dead_holders_lock_is_taken_over(tmp_path):
    (tmp_path / "b.tf").write_text(BUCKET_TF)
    lock = tmp_path / "scan.lock"
    holder = _holder(lock)
    try:
        refused = gxpscan("scan", "--iac", "b.tf", "--lock", str(lock), "-o", "results/r1", "-q", cwd=tmp_path)
        assert refused.returncode == cli.EXIT_LOCKED == 8
        assert f"another scan holds the lock {lock} (PID {holder.pid}); nothing was scanned" in refused.stderr
        assert not (tmp_path / "results").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock.read_text() == f"{holder.pid}\n"  # the dead holder's PID is still in the file
    taken = gxpscan("scan", "--iac", "b.tf", "--lock", str(lock), "-o", "results/r1", "-q", cwd=tmp_path)
    assert taken.returncode == cli.EXIT_FAILURES, taken.stderr
    assert f"took over the stale lock {lock} of PID {holder.pid}, which is no longer running" in taken.stderr
    assert (tmp_path / "results/r1/record.jsonl").is_file()
    assert lock.read_text() == ""  # released at the end


def test_a_lock_file_that_is_a_symlink_is_refused(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (tmp_path / "scan.lock").symlink_to(victim)
    with pytest.raises(OpsError, match="is a symbolic link"):
        ScanLock(tmp_path / "scan.lock").acquire()
    assert victim.read_text() == "keep me\n"


def _runs(results: Path, ages_days: list[int], signed: set[int] = frozenset(), key=None) -> list[Path]:
    out = []
    for i, age in enumerate(ages_days):
        run_dir = results / f"run{i}"
        sealed_run(run_dir, key=key if i in signed else None, started=NOW - timedelta(days=age), formats=())
        out.append(run_dir)
    return out


@pytest.fixture
def key(tmp_path):
    keygen(tmp_path / "key")
    return load_private_key(tmp_path / "key")


@pytest.mark.parametrize("keep, keep_days, delete_signed, deleted, kept_signed", [
    (2, None, False, {"run2", "run4"}, {"run3"}),  # beyond the newest two; run3 is signed
    (2, None, True, {"run2", "run3", "run4"}, set()),
    (None, 10, False, {"run4"}, {"run3"}),  # older than ten days: run3 (signed) and run4
    (4, 100, False, {"run4"}, set()),  # either rule removes: the fifth newest
])
def test_retention_deletes_old_runs_and_keeps_signed_ones_unless_told(tmp_path, key, keep, keep_days,
                                                                      delete_signed, deleted, kept_signed):
    results = tmp_path / "results"
    results.mkdir(mode=0o700)
    _runs(results, [0, 1, 5, 20, 200], signed={3}, key=key)
    (results / "notes").mkdir()  # not a run: never touched
    r = apply_retention(results, keep=keep, keep_days=keep_days, delete_signed=delete_signed,
                        protect=results / "run0", now=NOW)
    assert set(r.deleted) == deleted and set(r.kept_signed) == kept_signed and r.failed == ()
    assert {p.name for p in results.iterdir()} == {"run0", "run1", "run2", "run3", "run4", "notes"} - deleted
    assert all(verify_run(p).intact for p in results.iterdir() if p.name != "notes")


def test_retention_never_deletes_the_run_just_made_nor_follows_a_link(tmp_path):
    results = tmp_path / "results"
    results.mkdir(mode=0o700)
    _runs(results, [300, 1, 50])  # run0 is "the run just made", whatever its clock said
    elsewhere = tmp_path / "elsewhere"
    sealed_run(elsewhere, started=NOW - timedelta(days=900), formats=())
    (results / "linked").symlink_to(elsewhere)
    r = apply_retention(results, keep=None, keep_days=10, protect=results / "run0", now=NOW)
    assert r.deleted == ("run2",)
    assert (results / "run0").is_dir() and (elsewhere / "record.jsonl").is_file() and (results / "linked").is_symlink()
    assert [d.path.name for d in run_dirs(results)] == ["run1", "run0"]


def test_the_latest_link_is_replaced_never_followed(tmp_path):
    results = tmp_path / "results"
    results.mkdir(mode=0o700)
    old, new = _runs(results, [2, 1])
    outside = tmp_path / "outside"
    outside.mkdir()
    (results / LATEST).symlink_to(outside)  # planted
    update_latest(results, new)
    assert os.readlink(results / LATEST) == new.name and list(outside.iterdir()) == []
    update_latest(results, old)
    assert os.readlink(results / LATEST) == old.name
    assert sorted(p.name for p in results.iterdir()) == [LATEST, "run0", "run1"]  # no temporary left


@pytest.mark.parametrize("case, message", [
    ("directory", "exists and is not a symbolic link"),
    ("group-writable", "writable by group or others"),
    ("outside", "is not directly inside"),
])
def test_the_latest_link_is_refused_where_it_is_not_safe(tmp_path, case, message):
    results = tmp_path / "results"
    results.mkdir(mode=0o700)
    (run,) = _runs(results, [1])
    if case == "directory":
        (results / LATEST).mkdir()
    elif case == "group-writable":
        results.chmod(0o770)
    else:
        run = tmp_path / "other"
    with pytest.raises(OpsError, match=message):
        update_latest(results, run)
    assert not (results / LATEST).is_symlink()


def test_scans_keep_n_runs_and_point_latest_at_the_newest(tmp_path):
    (tmp_path / "b.tf").write_text(BUCKET_TF)
    codes = []
    for _ in range(3):
        p = gxpscan("scan", "--iac", "b.tf", "--keep", "2", "-q", cwd=tmp_path)
        codes.append(p.returncode)
    results = tmp_path / "gxpscan-results"
    runs = run_dirs(results)
    assert codes == [1, 1, 1] and len(runs) == 2
    assert os.readlink(results / LATEST) == runs[0].path.name
    assert verify_run(runs[0].path).intact


@pytest.mark.parametrize("argv, message", [
    (["--keep", "0"], "--keep must be at least 1"),
    (["--keep-days", "-1"], "--keep-days must not be negative"),
    (["--delete-signed"], "--delete-signed goes with --keep or --keep-days"),
])
def test_bad_retention_options_stop_before_scanning(tmp_path, capsys, argv, message):
    assert cli.main(["scan", *argv, "-o", str(tmp_path / "o")]) == cli.EXIT_INPUT
    assert message in capsys.readouterr().err and not (tmp_path / "o").exists()
