"""The management review summary (issue 17) from a real history of sealed runs (tests/engine/history_factory.py):
known counts, mean time to fix and waiver expiry; a tampered run excluded; hostile values escaped in the HTML."""
from __future__ import annotations

import json
from pathlib import Path

from scanner import cli
from scanner.history import open_history
from scanner.model import Status
from tests.engine.history_factory import day, waiver, write_run

SSH, NTP = "linux.ssh.root_login", "linux.time.ntp"
EVIL = "<script>alert(1)</script>&\x1b[31m"


def _history(results: Path) -> None:
    write_run(results / "r0", [("h1", SSH, "sshd", "fail"), ("h1", NTP, "ntp", "pass")], started=day(0),
              run_id="run-0")
    write_run(results / "r1", [("h1", SSH, "sshd", "fail"), ("h1", NTP, "ntp", "fail")], started=day(10),
              run_id="run-1")
    write_run(results / "r2", [("h1", SSH, "sshd", "pass"), ("h1", NTP, "ntp", "fail"),
                               ("h1", "linux.audit.rules", EVIL, "waived", waiver("linux.audit.rules", "h1",
                                                                                 "2026-01-25"))],
              started=day(20), run_id="run-2")
    bad = write_run(results / "r3", [("h1", NTP, "ntp", "pass")], started=day(21), run_id="run-3")
    with open_history(None, results) as h:
        for d in ("r0", "r1", "r2", "r3"):
            h.add_run(results / d)
    record = bad / "record.jsonl"
    record.write_text(record.read_text().replace('"pass"', '"fail"'))  # tampered after sealing and indexing


def test_management_review_from_the_history(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _history(results)
    out = tmp_path / "review"
    code = cli.main(["management-review", "--since", "2026-01-01", "--until", "2026-01-31", "--results", str(results),
                     "-o", str(out), "--format", "html", "--format", "pdf"])
    assert code == cli.EXIT_NOT_INTACT  # written, but a tampered run was excluded
    page = (out / "management-review.html").read_text()
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;&amp;\\x1b[31m" in page
    assert "r3" in page and "NOT INTACT" in page
    from tests.reports.test_pdf import pages_text, squash

    pdf = squash(" ".join(pages_text((out / "management-review.pdf").read_bytes())))
    for shown in ("Runs excluded (1)", "NOT INTACT", "Mean time to fix", "critical 1 20.0",
                  "<script>alert(1)</script>&\\x1b[31m"):  # the escape shown as text, never a control
        assert squash(shown) in pdf, shown
    assert "\x1b" not in pdf


def test_summary_counts_mttf_and_waivers(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from scanner.management import summarise
    from scanner.risk import default_matrix

    results = tmp_path / "results"
    _history(results)
    s = summarise(sorted(results.glob("r*")), since=datetime(2026, 1, 1, tzinfo=timezone.utc),
                  until=datetime(2026, 1, 31, tzinfo=timezone.utc), risk_matrix=default_matrix(), source="t")
    assert [r.run_id for r in s.runs] == ["run-0", "run-1", "run-2"]
    assert [(e.run_dir.endswith("r3"), e.tampered) for e in s.excluded] == [(True, True)]
    assert [(p.run_id, p.scope, p.passed, p.failed, p.waived) for p in s.by_system] == [
        ("run-0", "h1", 1, 1, 0), ("run-1", "h1", 0, 2, 0), ("run-2", "h1", 1, 1, 1)]
    assert [p.share for p in s.by_system] == [0.5, 0.0, 1 / 3]
    assert [(f.check, f.days) for f in s.fixes] == [(SSH, 20.0)]
    assert s.mean_time_to_fix()["critical"] == (1, 20.0)  # high severity, impact not declared: critical
    assert [(f.check, f.status, f.age_days, f.risk.level.value) for f in s.open_findings] == [
        (NTP, Status.FAIL, 19, "critical")]  # failing since day 10 (2026-01-11 06:00) to 2026-01-31 00:00
    assert [(w.check, w.state, w.days_left) for w in s.waivers] == [("linux.audit.rules", "expired", -6)]
    assert json.dumps(s.open_by_risk_and_age()["critical"]) == '{"0-30 days": 1, "31-90 days": 0, ' \
        '"91-180 days": 0, "over 180 days": 0}'


def _summary(results: Path, since: int, until: int, **kw: object):
    from scanner.management import summarise
    from scanner.risk import default_matrix

    return summarise(sorted(p for p in results.iterdir() if p.is_dir()), since=day(since), until=day(until),
                     risk_matrix=default_matrix(), source="test", **kw)


def test_mean_time_to_fix_per_risk_counts_fixes_in_the_period_from_the_first_failing_run(tmp_path: Path) -> None:
    """An error within a failing stretch does not restart the clock; a fix before the period is not counted, but a
    failure that began before the period counts from its true start."""
    r = tmp_path / "results"
    plan = {0: "fail", 3: "pass", 5: "fail", 7: "error", 13: "pass", 20: "fail", 23: "pass"}  # SSH: 3 fixes
    for n, status in plan.items():
        write_run(r / f"d{n:02d}", [("h1", SSH, "sshd", status), ("h2", NTP, "ntp", "fail")], started=day(n),
                  run_id=f"run-{n}")
    s = _summary(r, 4, 30)
    assert [(f.check, f.failing_since, f.fixed_on, f.days) for f in s.fixes] == [
        (SSH, day(5), day(13), 8.0), (SSH, day(20), day(23), 3.0)]  # the fix on day 3 is before the period
    assert s.mean_time_to_fix()["critical"] == (2, 5.5) and s.mean_time_to_fix()["low"] == (0, None)
    [ntp] = s.open_findings  # failing since the first run (day 0), before the period
    assert (ntp.target, ntp.first_seen, ntp.age_days, ntp.age_bucket) == ("h2", day(0), 30, "0-30 days")
    assert [p.run_id for p in s.by_framework if p.scope == "part11"] == [f"run-{n}" for n in (5, 7, 13, 20, 23)]


def test_runs_given_as_directories_exclude_an_unsealed_run_without_failing(tmp_path: Path, capsys) -> None:
    r = tmp_path / "results"
    write_run(r / "a", [("h1", SSH, "sshd", "fail")], started=day(1), run_id="run-a")
    write_run(r / "b", [("h1", SSH, "sshd", "pass")], started=day(2), run_id="run-b", seal=False)
    out = tmp_path / "o"
    assert cli.main(["management-review", "--since", "2026-01-01", "--runs", str(r), "-o", str(out)]) == cli.EXIT_OK
    assert "run " + str(r / "b") + " is excluded from the review: not sealed" in capsys.readouterr().err
    s = _summary(r, 0, 5)
    assert [r.run_id for r in s.runs] == ["run-a"] and [e.tampered for e in s.excluded] == [False]
    assert [(f.check, f.status) for f in s.deviations] == [(SSH, Status.FAIL)]


def test_usage_faults_are_input_errors(tmp_path: Path, capsys) -> None:
    assert cli.main(["management-review", "--since", "soon", "--runs", str(tmp_path)]) == cli.EXIT_INPUT
    assert "--since/--until 'soon'" in capsys.readouterr().err
    assert cli.main(["management-review", "--since", "2026-02-01", "--until", "2026-01-01",
                     "--runs", str(tmp_path)]) == cli.EXIT_INPUT
    assert "--until is before --since" in capsys.readouterr().err
    assert cli.main(["management-review", "--since", "30d", "--results", str(tmp_path / "none")]) == cli.EXIT_INPUT


def test_a_real_scan_history_is_summarised(tmp_path: Path, capsys) -> None:
    """Two real scans of this machine (the default history of their results directory), summarised."""
    from scanner.store import read_record

    results = tmp_path / "results"
    for name in ("one", "two"):
        assert cli.main(["scan", "--check", "linux.time.*", "-o", str(results / name), "-q"]) in (0, 1, 3)
    capsys.readouterr()
    out = tmp_path / "review"
    assert cli.main(["management-review", "--since", "1d", "--results", str(results), "-o", str(out)]) == cli.EXIT_OK
    s = _summary(results, -10000, 100000)
    assert [u.run_id for u in s.runs] == [read_record(results / n).run.info.id for n in ("one", "two")]
    counts = read_record(results / "two").run.counts()
    [last] = [p for p in s.by_system if p.run_id == s.runs[-1].run_id]
    assert (last.passed, last.failed, last.errors) == (counts["pass"], counts["fail"], counts["error"])
    assert s.runs[-1].run_id in (out / "management-review.html").read_text()
