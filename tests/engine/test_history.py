"""The history (scanner/history.py, scanner/cli_history.py): one suite over both databases, SQLite (a file) and a
real PostgreSQL server started by the tests (tests/lab/pglab.py; that parameter is a lab test)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from scanner import cli
from scanner.history import (
    MAX_FIELD,
    SCHEMA_VERSION,
    FindingHistory,
    HistoryError,
    Segment,
    connect,
    migrate,
    open_history,
    schema_version,
    summarise,
)
from scanner.model import Status
from tests.engine.history_factory import day, waiver, write_run
from tests.engine.history_factory import history_spec as _spec
from tests.lab.pglab import pg_lab  # noqa: F401  (the session fixture of the PostgreSQL parameter)

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.lab)]
SSH, NTP = "linux.ssh.root_login", "linux.time.ntp"


@pytest.fixture(params=BACKENDS)
def spec(request, monkeypatch):
    return _spec(request, request.param, monkeypatch)


@pytest.fixture
def results(tmp_path):
    return tmp_path / "results"


def history_args(spec, results):
    return [*(["--history", spec] if spec else []), "--results", str(results)]


def four_runs(results: Path) -> list[Path]:
    """host1/sshd: pass, fail, fail, fail (failing since day 1); host2/sshd: fail, fail, pass, pass (fixed on day 2);
    host1/ntp: pass, fail, pass, fail (flapped once); host2/ntp: error in run 3 only."""
    plan = [
        [("host1", SSH, "sshd", "pass"), ("host2", SSH, "sshd", "fail"), ("host1", NTP, "chrony", "pass")],
        [("host1", SSH, "sshd", "fail"), ("host2", SSH, "sshd", "fail"), ("host1", NTP, "chrony", "fail")],
        [("host1", SSH, "sshd", "fail"), ("host2", SSH, "sshd", "pass"), ("host1", NTP, "chrony", "pass"),
         ("host2", NTP, "chrony", "error")],
        [("host1", SSH, "sshd", "fail"), ("host2", SSH, "sshd", "pass"), ("host1", NTP, "chrony", "fail")],
    ]
    return [write_run(results / f"r{i}", rows, started=day(i), run_id=f"run-{i}") for i, rows in enumerate(plan)]


def observed(f: FindingHistory) -> tuple:
    return (f.target, f.check_id, f.resource, f.status.value, f.first_seen, f.last_seen, f.failing_since,
            f.fixed_on, f.flaps, f.runs)


# --- the rules, on their own -----------------------------------------------------------------------------------

@pytest.mark.parametrize("statuses, failing_since, fixed_on, flaps", [
    ("fail", 0, None, 0),
    ("pass fail fail", 1, None, 0),
    ("fail fail pass", None, 2, 0),
    ("fail pass fail", 2, None, 1),
    ("fail pass fail pass fail", 4, None, 2),
    ("fail error fail", 2, None, 0),  # an error proves nothing: the streak restarts after it
    ("fail error pass", None, 1, 0),  # fixed on the first run after the last failure
    ("fail waived", None, None, 0),  # waived is not fixed
    ("pass error", None, None, 0),
    ("fail pass error fail", 3, None, 1),
])
def test_failing_since_fixed_on_and_flaps_follow_the_documented_rules(statuses, failing_since, fixed_on, flaps):
    seq = [(day(i), Status(s)) for i, s in enumerate(statuses.split())]
    f = summarise(("h", "c", "r", 0), [Segment(first=d, last=d, status=s, runs=1) for d, s in seq])
    assert (f.failing_since, f.fixed_on, f.flaps, f.first_seen, f.last_seen, f.status) == (
        day(failing_since) if failing_since is not None else None, day(fixed_on) if fixed_on is not None else None,
        flaps, day(0), day(len(seq) - 1), seq[-1][1])


# --- the suite over both databases -------------------------------------------------------------------------------

def test_runs_trend_and_finding_history(spec, results):
    dirs = four_runs(results)
    with open_history(spec, results) as h:
        assert [h.add_run(d) for d in reversed(dirs)] == ["run-3", "run-2", "run-1", "run-0"]  # any order
        runs = h.runs()
        assert [(r.run_id, r.started, r.sealed, r.counts["pass"], r.counts["fail"], r.counts["error"])
                for r in runs] == [("run-3", day(3), True, 1, 2, 0), ("run-2", day(2), True, 2, 1, 1),
                                   ("run-1", day(1), True, 0, 3, 0), ("run-0", day(0), True, 2, 1, 0)]
        assert {t: dict(c) for t, c in runs[1].per_target.items()} == {"host1": {"fail": 1, "pass": 1},
                                                                       "host2": {"pass": 1, "error": 1}}
        assert all(r.manifest_sha256 and len(r.manifest_sha256) == 64 and r.run_dir == str(d.resolve())
                   for r, d in zip(runs, reversed(dirs), strict=True))
        assert [observed(f) for f in h.findings()] == [
            ("host1", SSH, "sshd", "fail", day(0), day(3), day(1), None, 0, 4),
            ("host1", NTP, "chrony", "fail", day(0), day(3), day(3), None, 1, 4),
            ("host2", SSH, "sshd", "pass", day(0), day(3), None, day(2), 0, 4),
            ("host2", NTP, "chrony", "error", day(2), day(2), None, None, 0, 1),
        ]
        assert observed(h.finding("host1", SSH, "sshd")) == observed(h.findings(target="host1", check=SSH)[0])
        assert h.finding("host9", SSH, "sshd") is None


def test_filters_by_target_check_since_and_limit(spec, results):
    dirs = four_runs(results)
    with open_history(spec, results) as h:
        for d in dirs:
            h.add_run(d)
        assert [r.run_id for r in h.runs(limit=2)] == ["run-3", "run-2"]
        assert [r.run_id for r in h.runs(since=day(2))] == ["run-3", "run-2"]
        by_check = h.runs(check=NTP, target="host2")
        assert [(r.run_id, dict(r.counts)["error"], sum(r.counts.values())) for r in by_check] == [("run-2", 1, 1)]
        assert [(r.run_id, r.counts["fail"], r.counts["pass"]) for r in h.runs(target="host1")] == [
            ("run-3", 2, 0), ("run-2", 1, 1), ("run-1", 2, 0), ("run-0", 0, 2)]
        assert [(f.target, f.failing_since) for f in h.findings(check=SSH, since=day(2))] == [
            ("host1", day(2)), ("host2", None)]  # within the window, host1 fails since its first run in it


def test_adding_and_importing_twice_changes_nothing(spec, results, capsys):
    dirs = four_runs(results)
    assert cli.main(["history", "import", str(results), *history_args(spec, results)]) == 0
    out = capsys.readouterr().out
    assert "4 run(s) indexed" in out and "0 refused" in out
    with open_history(spec, results) as h:
        before = (h.runs(), h.findings())
    assert cli.main(["history", *history_args(spec, results), "import", str(dirs[0]), str(results)]) == 0
    assert "5 run(s) indexed" in capsys.readouterr().out
    with open_history(spec, results) as h:
        assert (h.runs(), h.findings()) == before
        assert h.add_run(dirs[2]) == "run-2"
        assert (h.runs(), h.findings()) == before


def test_a_run_indexed_before_it_was_sealed_gets_its_hash_and_another_copy_is_refused(spec, results, tmp_path):
    from scanner.seal import seal_run

    run = write_run(results / "r0", [("host1", SSH, "sshd", "fail")], started=day(0), run_id="run-0", seal=False)
    with open_history(spec, results) as h:
        h.add_run(run)
        assert [(r.sealed, r.manifest_sha256) for r in h.runs()] == [(False, None)]
        seal_run(run)
        h.add_run(run)
        [summary] = h.runs()
        assert summary.sealed and len(summary.manifest_sha256 or "") == 64
        copy = write_run(tmp_path / "elsewhere", [("host1", SSH, "sshd", "pass")], started=day(0), run_id="run-0")
        with pytest.raises(HistoryError) as err:
            h.add_run(copy)
        assert str(copy) in str(err.value) and "another copy of the run" in str(err.value)
        assert [observed(f)[3] for f in h.findings()] == ["fail"]


def _tamper(run: Path) -> None:
    with open(run / "record.jsonl", "a") as fh:
        fh.write("\n")


def _bad_line(run: Path) -> None:
    (run / "record.jsonl").write_bytes((run / "record.jsonl").read_bytes().replace(b'"target"', b'"targ\xff"', 1))


def _long_resource(run: Path) -> None:
    shutil.rmtree(run)
    write_run(run, [("host1", SSH, "r" * (MAX_FIELD + 1), "fail")], started=day(5), run_id="run-bad", seal=False)


def _no_record(run: Path) -> None:
    (run / "record.jsonl").unlink()


def _bad_run_id(run: Path) -> None:
    shutil.rmtree(run)
    write_run(run, [("host1", SSH, "sshd", "fail")], started=day(5), run_id="../../etc x", seal=False)


@pytest.mark.parametrize("corrupt, message", [
    (_tamper, "NOT INTACT"),
    (_bad_line, "the run record is corrupt"),
    (_long_resource, f"a resource of {MAX_FIELD + 1} characters"),
    (_no_record, "not a run directory"),
    (_bad_run_id, "is not a gxpscan run id"),
], ids=["tampered-sealed", "bad-bytes-unsealed", "oversized-field", "no-record", "hostile-run-id"])
def test_a_corrupted_run_is_refused_with_its_path_and_nothing_of_it_is_stored(spec, results, corrupt, message,
                                                                             capsys):
    good, bad = write_run(results / "a", [("host1", SSH, "sshd", "pass")], started=day(0), run_id="run-good"), \
        write_run(results / "b", [("host1", SSH, "sshd", "fail")], started=day(1), run_id="run-b",
                  seal=corrupt is not _bad_line)
    corrupt(bad)
    with open_history(spec, results) as h:
        with pytest.raises(HistoryError) as err:
            h.add_run(bad)
        assert str(bad) in str(err.value) and message in str(err.value)
        assert h.runs() == []
    # import goes on with the other runs, names the refused one, and exits 2
    assert cli.main(["history", "import", str(good), str(bad), *history_args(spec, results)]) == 2
    captured = capsys.readouterr()
    assert str(bad) in captured.err and "1 run(s) indexed" in captured.out and "1 refused" in captured.out
    with open_history(spec, results) as h:
        assert [r.run_id for r in h.runs()] == ["run-good"]
        assert [(f.target, f.status) for f in h.findings()] == [("host1", Status.PASS)]


def test_hostile_text_is_stored_escaped_and_shown_escaped(spec, results, capsys):
    hostile = "web\x00\ud800\x1b]52;c;ZXZpbA==\x07"
    run = write_run(results / "r0", [(hostile, SSH, "=cmd|' /C calc'!A0", "fail")], started=day(0), run_id="r0")
    with open_history(spec, results) as h:
        h.add_run(run)
        [f] = h.findings()
        assert f.target == "web\\x00\\ud800\x1b]52;c;ZXZpbA==\x07"  # NUL and the lone surrogate escaped
        assert h.runs()[0].per_target.keys() == {f.target}
    assert cli.main(["history", *history_args(spec, results)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b]52" in out


def test_resolve_latest_previous_and_run_ids(spec, results):
    dirs = four_runs(results)
    with open_history(spec, results) as h:
        with pytest.raises(HistoryError, match="no latest run"):
            h.resolve("latest")
        for d in dirs:
            h.add_run(d)
        assert (h.resolve("latest"), h.resolve("previous"), h.resolve("run-1")) == (
            dirs[3].resolve(), dirs[2].resolve(), dirs[1].resolve())
        with pytest.raises(HistoryError, match="no run 'run-9'"):
            h.resolve("run-9")
        shutil.rmtree(dirs[1])
        with pytest.raises(HistoryError, match=f"the directory of run 'run-1' is gone: {dirs[1].resolve()}"):
            h.resolve("run-1")


def test_diff_takes_run_ids_and_latest_previous_from_the_history(spec, results, capsys):
    dirs = four_runs(results)
    with open_history(spec, results) as h:
        for d in dirs:
            h.add_run(d)
    assert cli.main(["diff", "previous", "latest", "--format", "json", *history_args(spec, results)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert (doc["old"]["id"], doc["new"]["id"]) == ("run-2", "run-3")
    assert [(c["target"], c["check"], c["before"], c["after"]) for c in doc["new_failures"]] == [
        ("host1", NTP, "pass", "fail")]
    assert cli.main(["diff", "run-0", str(dirs[1]), "--format", "json", *history_args(spec, results)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert (doc["old"]["id"], doc["new"]["id"]) == ("run-0", "run-1")
    assert cli.main(["diff", "run-7", "latest", *history_args(spec, results)]) == 2
    assert "no run 'run-7'" in capsys.readouterr().err


def test_expiring_waivers_of_the_latest_run(spec, results):
    rows = [("host1", SSH, "sshd", "waived", waiver(SSH, "host1", "2026-01-20")),
            ("host2", SSH, "sshd", "waived", waiver(SSH, "host2", "2026-06-30")),
            ("host3", SSH, "sshd", "waived", waiver(SSH, "host3", "2025-12-31"))]
    old = write_run(results / "r0", [*rows, ("host4", SSH, "sshd", "waived", waiver(SSH, "host4", "2026-01-02"))],
                    started=day(0), run_id="r0")
    new = write_run(results / "r1", rows, started=day(1), run_id="r1")
    with open_history(spec, results) as h:
        h.add_run(old)
        h.add_run(new)
        soon = h.expiring_waivers(30, today=date(2026, 1, 2))
        assert [(w.target, w.expires, w.days_left, w.run_id, w.approved_by) for w in soon] == [
            ("host3", "2025-12-31", -2, "r1", "QA lead"), ("host1", "2026-01-20", 18, "r1", "QA lead")]
        assert len(h.expiring_waivers(365, today=date(2026, 1, 2))) == 3


def test_a_version_1_database_is_migrated_and_keeps_its_runs(spec, results):
    """A history written by a gxpscan at schema version 1 (no waivers table, no inventory column) opens, migrates
    to the current version, keeps its run, and takes new runs with waivers."""
    db = connect(spec, results)
    try:
        assert migrate(db, upto=1) == 1
        with db.transaction():  # what version 1 wrote for a run
            db.run("INSERT INTO runs (run_id, started, finished, run_dir, manifest_sha256, sealed, interrupted, added) "
                   "VALUES ('old-run', '2025-12-01T00:00:00.000000Z', NULL, '/gone', NULL, 0, 0, "
                   "'2025-12-01T00:00:00.000000Z')")
            db.run("INSERT INTO run_targets (run_seq, target, status, count) "
                   "SELECT seq, 'host1', 'fail', 3 FROM runs WHERE run_id = 'old-run'")
    finally:
        db.close()
    new = write_run(results / "r1", [("host1", SSH, "sshd", "waived", waiver(SSH, "host1", "2026-01-05"))],
                    started=day(1), run_id="r1")
    with open_history(spec, results) as h:
        assert h.schema_version() == SCHEMA_VERSION == 3
        h.add_run(new)
        assert [(r.run_id, dict(r.counts)["fail"], dict(r.counts)["waived"]) for r in h.runs()] == [
            ("r1", 0, 1), ("old-run", 3, 0)]
        assert [w.target for w in h.expiring_waivers(10, today=date(2026, 1, 1))] == ["host1"]
    db = connect(spec, results)
    try:
        assert schema_version(db) == 3
        assert [tuple(r) for r in db.run("SELECT version FROM schema_version ORDER BY version").fetchall()] == [
            (1,), (2,), (3,)]
    finally:
        db.close()


def test_a_database_newer_than_this_gxpscan_is_refused(spec, results):
    db = connect(spec, results)
    try:
        migrate(db)
        with db.transaction():
            db.run("INSERT INTO schema_version (version, applied) VALUES (99, 'later')")
    finally:
        db.close()
    with pytest.raises(HistoryError, match="schema version 99 is newer than this gxpscan knows"):
        open_history(spec, results)


def test_history_command_console_and_json(spec, results, capsys):
    for d in four_runs(results):
        with open_history(spec, results) as h:
            h.add_run(d)
    assert cli.main(["history", "--format", "json", *history_args(spec, results)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "gxpscan-history/1"
    assert [(r["run_id"], r["counts"]["fail"]) for r in doc["runs"]] == [
        ("run-3", 2), ("run-2", 1), ("run-1", 3), ("run-0", 1)]
    assert [(f["target"], f["check"], f["failing_since"], f["fixed_on"], f["flapping"]) for f in doc["findings"]] == [
        ("host1", SSH, day(1).isoformat(), None, False), ("host1", NTP, day(3).isoformat(), None, True),
        ("host2", SSH, None, day(2).isoformat(), False), ("host2", NTP, None, None, False)]
    assert cli.main(["history", "--target", "host2", "--since", "2026-01-02", *history_args(spec, results)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "3 run(s)" in lines[0]
    assert any(line.split()[:6] == ["run-3", "2026-01-04", "06:00", "1", "0", "="] for line in lines), out
    assert any(line.split()[:5] == ["host2", NTP, "chrony", "error", "-"] for line in lines), out
    assert any(line.split()[:8] == ["host2", SSH, "sshd", "pass", "-", "2026-01-03", "06:00", "0"] for line in lines)
    assert cli.main(["history", "--since", "last tuesday", *history_args(spec, results)]) == 2
    assert "--since 'last tuesday'" in capsys.readouterr().err


# --- the scan hook -----------------------------------------------------------------------------------------------

def _scan_args(spec, **kw):
    return argparse.Namespace(history=spec, no_history=False, **kw)


def test_every_scan_is_added_and_a_history_failure_never_loses_the_scan(spec, results, capsys):
    from scanner.cli_history import PENDING_NAME, after_scan

    first = write_run(results / "r0", [("host1", SSH, "sshd", "fail")], started=day(0), run_id="run-0")
    broken = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens on port 1
    message = after_scan(_scan_args(broken), first)
    assert message is not None and "NOT added to the history" in message and str(first) in message
    assert "NOT added to the history" in capsys.readouterr().err
    assert (results / PENDING_NAME).read_text() == "r0\n"
    assert (first / "record.jsonl").is_file()  # the run is intact and complete
    second = write_run(results / "r1", [("host1", SSH, "sshd", "pass")], started=day(1), run_id="run-1")
    assert after_scan(_scan_args(spec), second) is None
    assert not (results / PENDING_NAME).exists()
    with open_history(spec, results) as h:
        assert [r.run_id for r in h.runs()] == ["run-1", "run-0"]  # the pending run caught up
        assert h.findings()[0].fixed_on == day(1)
    third = write_run(results / "r2", [("host1", SSH, "sshd", "pass")], started=day(2), run_id="run-2")
    assert after_scan(argparse.Namespace(history=spec, no_history=True), third) is None
    with open_history(spec, results) as h:
        assert len(h.runs()) == 2


def test_scan_adds_its_run_to_the_default_history(tmp_path, capsys):
    out = tmp_path / "results" / "one"
    assert cli.main(["scan", "--check", "linux.time.*", "-o", str(out), "--quiet"]) in (0, 1, 3)
    capsys.readouterr()
    with open_history(None, tmp_path / "results") as h:
        [run] = h.runs()
        assert run.run_dir == str(out.resolve()) and run.sealed
        assert sum(run.counts.values()) > 0
    assert oct(os.stat(tmp_path / "results" / "history.sqlite").st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("setup, message", [
    (lambda p: p.symlink_to("/etc/passwd"), "not a regular file of yours"),
    (lambda p: (p.write_bytes(b""), p.chmod(0o666)), "not a regular file of yours"),
    (lambda p: p.mkdir(), "not a regular file of yours"),
])
def test_the_sqlite_file_is_never_a_link_or_a_file_others_can_write(tmp_path, setup, message):
    results = tmp_path / "results"
    results.mkdir(mode=0o700)
    setup(results / "history.sqlite")
    with pytest.raises(HistoryError, match=message):
        open_history(None, results)


def test_history_specs_that_are_not_understood_are_refused(tmp_path):
    with pytest.raises(HistoryError, match="unknown history 'mysql'"):
        open_history("mysql://x/y", tmp_path)
    with pytest.raises(HistoryError, match="password in the history URL"):
        open_history("postgresql://u:hunter2@127.0.0.1:1/db", tmp_path)
    with pytest.raises(HistoryError, match="password_env must name an environment variable"):
        open_history("postgresql://u@127.0.0.1:1/db?password_env=a;b", tmp_path)
    with open_history(f"sqlite://{tmp_path / 'own.sqlite'}", tmp_path) as h:
        assert h.where == str(tmp_path / "own.sqlite") and h.runs() == []


def test_since_accepts_dates_times_and_days():
    from scanner.history import since_date

    assert since_date("2026-01-31") == datetime(2026, 1, 31, tzinfo=timezone.utc)
    assert since_date("2026-01-31T10:00:00+02:00") == datetime(2026, 1, 31, 8, tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - since_date("30d")).days - 30) <= 1


def test_readers_never_create_a_history(tmp_path, capsys):
    results = tmp_path / "results"
    assert cli.main(["history", "--results", str(results)]) == 2
    assert cli.main(["diff", "previous", "latest", "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert err.count(f"no history at {results / 'history.sqlite'}: nothing was indexed there yet") == 2
    assert not results.exists()


def test_each_name_of_a_run_is_checked_once_not_once_per_result(tmp_path, monkeypatch):
    """The checks of one resource repeat its name (and every result its target's and check's): each distinct
    name is checked for the history once; the row is the same."""
    from scanner import history
    from scanner.history import read_run
    from tests.factories import count_calls

    rows = [("host1", check, f"file{i % 4}", "fail" if i % 3 else "pass") for i in range(24) for check in (SSH, NTP)]
    run = write_run(tmp_path / "r0", rows, started=day(0), run_id="run-0")
    expected = read_run(run)
    calls = count_calls(monkeypatch, history, "_field")
    row = read_run(run)
    assert row == expected and len(row.results) == 48
    # + the run's target list and its inventory hash (checked once each, as before)
    assert calls[0] == len({"host1", SSH, NTP, "file0", "file1", "file2", "file3"}) + 2


def test_the_scans_own_run_is_indexed_from_memory_as_it_reads_from_disk(tmp_path):
    from scanner.history import read_run
    from scanner.store import read_record

    run = write_run(tmp_path / "r0", [("host1", SSH, "sshd\x00", "fail"), ("host1", SSH, "sshd\x00", "pass"),
                                      ("host2", NTP, "chrony", "waived", waiver(NTP, "host2", "2026-02-01"))],
                    started=day(0), run_id="run-0")
    assert read_run(run, written=read_record(run)) == read_run(run)
    other = write_run(tmp_path / "r1", [("host1", SSH, "sshd", "fail")], started=day(1), run_id="run-1")
    with pytest.raises(HistoryError, match=f"{run}: refused: its manifest is not of run run-1"):
        read_run(run, written=read_record(other))
