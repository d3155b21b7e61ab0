"""The history's status changes (schema version 3, scanner/history.py): what a run writes, what "absent" means, runs
added out of time order, and the migration of a version-2 history with its observations. Over SQLite and the
PostgreSQL lab server (tests/lab/pglab.py; that parameter is a lab test)."""
from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

import pytest

from scanner.history import (
    ABSENT,
    SCHEMA_VERSION,
    FindingHistory,
    FindingKey,
    RunRow,
    Segment,
    connect,
    migrate,
    open_history,
    schema_version,
    summarise,
)
from scanner.model import Status
from tests.engine.history_factory import day
from tests.engine.history_factory import history_spec as _spec
from tests.lab.pglab import pg_lab  # noqa: F401  (the session fixture of the PostgreSQL parameter)

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.lab)]
SSH, NTP = "linux.ssh.root_login", "linux.time.ntp"
Plan = dict[str, list[tuple[str, str, str]]]  # target -> [(check, resource, status)]; [] = scanned, no result


@pytest.fixture(params=BACKENDS)
def spec(request, monkeypatch):
    return _spec(request, request.param, monkeypatch)


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def run_row(run_id: str, started: datetime, plan: Plan) -> RunRow:
    """A run as read_run reads it: one result per planned row, duplicates numbered."""
    results: list[tuple[FindingKey, str]] = []
    per_target: dict[str, dict[str, int]] = {}
    seen: Counter[tuple[str, str, str]] = Counter()
    for target, rows in plan.items():
        per_target[target] = dict(Counter(status for _, _, status in rows))
        for check, resource, status in rows:
            results.append(((target, check, resource, seen[(target, check, resource)]), status))
            seen[(target, check, resource)] += 1
    return RunRow(run_id=run_id, started=stamp(started), finished=None, run_dir=f"/runs/{run_id}",
                  manifest_sha256=None, interrupted=False, inventory_sha256="0" * 64, results=tuple(results),
                  per_target=per_target, waivers=())


def table(spec, results, sql: str) -> list[tuple]:
    db = connect(spec, results)
    try:
        return [tuple(r) for r in db.run(sql).fetchall()]
    finally:
        db.close()


def observed(f: FindingHistory) -> tuple:
    return (f.target, f.check_id, f.resource, f.status.value, f.first_seen, f.last_seen, f.failing_since,
            f.fixed_on, f.flaps, f.runs)


# --- what a run writes ------------------------------------------------------------------------------------------

def test_a_run_writes_a_change_row_only_where_a_finding_changed(spec, tmp_path):
    """Run 0: 3 findings (3 changes). Run 1: the same statuses (no finding or change row). Run 2: one fails, one
    is not reported although its target ran (absent: one change each), the third target is not scanned (no
    change). Run 3: the absent one is back (one change)."""
    both = {"host1": [(SSH, "sshd", "pass"), (NTP, "chrony", "pass")], "host2": [(SSH, "sshd", "fail")]}
    plans: list[Plan] = [both, both, {"host1": [(SSH, "sshd", "fail")]}, {"host1": [(SSH, "sshd", "fail"),
                                                                                     (NTP, "chrony", "pass")]}]
    counts = []
    with open_history(spec, tmp_path) as h:
        for i, plan in enumerate(plans):
            h.store(run_row(f"run-{i}", day(i), plan))
            counts.append((table(spec, tmp_path, "SELECT COUNT(*) FROM changes")[0][0],
                           table(spec, tmp_path, "SELECT COUNT(*) FROM findings")[0][0]))
        assert counts == [(3, 3), (3, 3), (5, 3), (6, 3)]
        assert table(spec, tmp_path, "SELECT f.target, f.check_id, r.run_id, c.status FROM changes c JOIN findings f "
                                     "ON f.id = c.finding_id JOIN runs r ON r.seq = c.run_seq "
                                     "ORDER BY r.run_id, f.target, f.check_id") == [
            ("host1", SSH, "run-0", "pass"), ("host1", NTP, "run-0", "pass"), ("host2", SSH, "run-0", "fail"),
            ("host1", SSH, "run-2", "fail"), ("host1", NTP, "run-2", ABSENT), ("host1", NTP, "run-3", "pass")]
        assert table(spec, tmp_path, "SELECT target, check_id, status FROM findings ORDER BY target, check_id") == [
            ("host1", SSH, "fail"), ("host1", NTP, "pass"), ("host2", SSH, "fail")]
        assert [observed(f) for f in h.findings()] == [
            ("host1", SSH, "sshd", "fail", day(0), day(3), day(2), None, 0, 4),
            ("host1", NTP, "chrony", "pass", day(0), day(3), None, None, 0, 3),  # absent in run 2: not a run of it
            ("host2", SSH, "sshd", "fail", day(0), day(1), day(0), None, 0, 2),  # not scanned in 2 and 3: not fixed
        ]


def test_absent_neither_fixes_nor_breaks_a_streak_and_a_target_without_results_is_still_scanned(spec, tmp_path):
    plans: list[Plan] = [
        {"host1": [(SSH, "sshd", "fail"), (NTP, "chrony", "pass")]},
        {"host1": [(NTP, "chrony", "pass")]},  # sshd absent
        {"host1": []},  # host1 ran and reported nothing: both absent
        {"host2": [(SSH, "sshd", "pass")]},  # host1 not scanned
        {"host1": [(SSH, "sshd", "fail"), (NTP, "chrony", "fail")]},
    ]
    with open_history(spec, tmp_path) as h:
        for i, plan in enumerate(plans):
            h.store(run_row(f"run-{i}", day(i), plan))
        [sshd] = h.findings(target="host1", check=SSH)
        assert (sshd.failing_since, sshd.first_seen, sshd.last_seen, sshd.runs) == (day(0), day(0), day(4), 2)
        [ntp] = h.findings(target="host1", check=NTP)
        assert (ntp.failing_since, ntp.last_seen, ntp.runs) == (day(4), day(4), 3)
        # the run in which host1 reported nothing is not one of its runs in the trend (as before version 3)
        assert [r.run_id for r in h.runs(target="host1")] == ["run-4", "run-1", "run-0"]
        assert [(r.run_id, dict(r.per_target)) for r in h.runs(since=day(2))][1:] == [("run-3", {
            "host2": {"pass": 1}}), ("run-2", {})]


# --- the same answers as from every observation, whatever the order runs are added in -----------------------------

def random_runs(rng: random.Random, count: int) -> list[tuple[str, datetime, Plan]]:
    targets, checks, statuses = ["host1", "host2", "host3"], [SSH, NTP], ["pass", "fail", "error", "waived"]
    runs = []
    for i in range(count):
        plan: Plan = {}
        for target in targets:
            if rng.random() < 0.2:
                continue  # not scanned
            rows = [] if rng.random() < 0.1 else [
                (check, resource, rng.choice(statuses)) for check in checks for resource in ("a", "b")
                for _ in range(2 if resource == "b" and rng.random() < 0.3 else 1) if rng.random() < 0.8]
            plan[target] = rows
        # some runs start at the same time (ordered by the order they were added in)
        runs.append((f"run-{i:02d}", day(rng.randrange(count // 2)) + timedelta(hours=rng.choice((0, 0, 3))), plan))
    return runs


def expected(runs: list[tuple[str, datetime, Plan]], added: list[int], since: datetime | None = None,
             check: str | None = None, target: str | None = None) -> tuple[dict[FindingKey, tuple], list[tuple]]:
    """From every observation, as schema version 2 answered: the findings (in order) and the runs (id, per
    target counts, newest first)."""
    order = sorted(added, key=lambda i: (runs[i][1], added.index(i)))
    observations: dict[FindingKey, list[tuple[datetime, Status]]] = {}
    counts: dict[str, dict[str, Counter[str]]] = {}
    for i in order:
        run_id, started, plan = runs[i]
        for (key, status) in run_row(run_id, started, plan).results:
            if (check is None or key[1] == check) and (target is None or key[0] == target):
                counts.setdefault(run_id, {}).setdefault(key[0], Counter())[status] += 1
                if since is None or started >= since:
                    observations.setdefault(key, []).append((started, Status(status)))
    findings = {key: observed(summarise(key, [Segment(first=d, last=d, status=s, runs=1) for d, s in seen]))
                for key, seen in sorted(observations.items())}
    every = check is None and target is None  # every run, also one without results
    trend = [(runs[i][0], {t: dict(c) for t, c in counts.get(runs[i][0], {}).items()}) for i in reversed(order)
             if (every or runs[i][0] in counts) and (since is None or runs[i][1] >= since)]
    return findings, trend


@pytest.mark.parametrize("seed", range(6))
def test_answers_equal_those_from_every_observation_in_any_order_of_adding(spec, tmp_path, seed):
    rng = random.Random(seed)
    runs = random_runs(rng, 14)
    added = list(range(len(runs)))
    rng.shuffle(added)  # older runs imported late
    with open_history(spec, tmp_path) as h:
        for i in added:
            h.store(run_row(*runs[i]))
        for since in (None, day(3)):
            findings, trend = expected(runs, added, since=since)
            assert [observed(f) for f in h.findings(since=since)] == list(findings.values())
            assert [(r.run_id, {t: dict(c) for t, c in r.per_target.items()}) for r in h.runs(since=since)] == trend
        for check, target in ((SSH, None), (NTP, "host2"), (SSH, "host3")):
            findings, trend = expected(runs, added, check=check, target=target)
            assert [observed(f) for f in h.findings(check=check, target=target)] == list(findings.values())
            assert [(r.run_id, {t: dict(c) for t, c in r.per_target.items()})
                    for r in h.runs(check=check, target=target)] == trend
        findings, _ = expected(runs, added)
        assert len(findings) >= 12
        for key, want in findings.items():
            assert observed(h.finding(*key)) == want
        assert [observed(f) for f in h.findings(target="host3", check=SSH, resource="b")] == [
            want for key, want in findings.items() if key[:3] == ("host3", SSH, "b")]


# --- migrating a version-2 history ------------------------------------------------------------------------------

def store_v2(db, run_id: str, started: datetime, plan: Plan) -> None:
    """What schema version 2 wrote for a run: one observation row per finding, counts per target with results."""
    row = run_row(run_id, started, plan)
    with db.transaction():
        db.run("INSERT INTO runs (run_id, started, finished, run_dir, manifest_sha256, sealed, interrupted, added, "
               "inventory_sha256) VALUES (?, ?, NULL, ?, NULL, 0, 0, ?, ?)",
               (run_id, row.started, row.run_dir, row.started, row.inventory_sha256))
        seq = db.run("SELECT seq FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
        db.many("INSERT INTO findings (target, check_id, resource, n) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [key for key, _ in row.results])
        db.many("INSERT INTO observations (finding_id, run_seq, status) SELECT id, ?, ? FROM findings "
                "WHERE target = ? AND check_id = ? AND resource = ? AND n = ?",
                [(seq, status, *key) for key, status in row.results])
        db.many("INSERT INTO run_targets (run_seq, target, status, count) VALUES (?, ?, ?, ?)",
                [(seq, t, s, n) for t, counts in row.per_target.items() for s, n in counts.items()])


def test_a_version_2_history_with_observations_migrates_to_its_status_changes(spec, tmp_path):
    plans: list[Plan] = [
        {"host1": [(SSH, "sshd", "pass"), (NTP, "chrony", "fail")], "host2": [(SSH, "sshd", "fail")]},
        {"host1": [(SSH, "sshd", "pass")], "host2": [(SSH, "sshd", "fail")]},  # host1 ntp absent
        {"host1": [(SSH, "sshd", "fail"), (NTP, "chrony", "fail")]},  # host2 not scanned
    ]
    db = connect(spec, tmp_path)
    try:
        assert migrate(db, upto=2) == 2
        for i, plan in enumerate(plans):
            store_v2(db, f"run-{i}", day(i), plan)
    finally:
        db.close()
    with open_history(spec, tmp_path) as h:
        assert h.schema_version() == SCHEMA_VERSION == 3
        assert table(spec, tmp_path, "SELECT f.target, f.check_id, r.run_id, c.status FROM changes c JOIN findings "
                                     "f ON f.id = c.finding_id JOIN runs r ON r.seq = c.run_seq "
                                     "ORDER BY r.run_id, f.target, f.check_id") == [
            ("host1", SSH, "run-0", "pass"), ("host1", NTP, "run-0", "fail"), ("host2", SSH, "run-0", "fail"),
            ("host1", NTP, "run-1", ABSENT), ("host1", SSH, "run-2", "fail"), ("host1", NTP, "run-2", "fail")]
        assert table(spec, tmp_path, "SELECT target, check_id, status FROM findings ORDER BY target, check_id") == [
            ("host1", SSH, "fail"), ("host1", NTP, "fail"), ("host2", SSH, "fail")]
        assert [observed(f) for f in h.findings()] == [
            ("host1", SSH, "sshd", "fail", day(0), day(2), day(2), None, 0, 3),
            ("host1", NTP, "chrony", "fail", day(0), day(2), day(0), None, 0, 2),
            ("host2", SSH, "sshd", "fail", day(0), day(1), day(0), None, 0, 2)]
        h.store(run_row("run-3", day(3), {"host1": [(SSH, "sshd", "fail"), (NTP, "chrony", "pass")]}))
        assert observed(h.finding("host1", NTP, "chrony")) == (
            "host1", NTP, "chrony", "pass", day(0), day(3), None, day(3), 0, 3)
    db = connect(spec, tmp_path)
    try:
        assert schema_version(db) == 3
        assert [tuple(r) for r in db.run("SELECT version FROM schema_version ORDER BY version").fetchall()] == [
            (1,), (2,), (3,)]
        with pytest.raises(Exception, match="observations"):
            db.run("SELECT COUNT(*) FROM observations")
    finally:
        db.close()


@pytest.mark.parametrize("seed", range(3))
def test_a_migrated_version_2_history_answers_as_before_and_takes_runs_in_any_order(spec, tmp_path, seed):
    rng = random.Random(seed)
    runs = random_runs(rng, 16)
    added = list(range(len(runs)))
    rng.shuffle(added)
    db = connect(spec, tmp_path)
    try:
        migrate(db, upto=2)
        for i in added[:10]:
            store_v2(db, *runs[i])
    finally:
        db.close()
    with open_history(spec, tmp_path) as h:
        for part in (added[:10], added):  # as migrated, then with the other runs added after the migration
            for i in part[len(h.runs()):]:
                h.store(run_row(*runs[i]))
            for since in (None, day(3)):
                findings, _ = expected(runs, part, since=since)
                assert [observed(f) for f in h.findings(since=since)] == list(findings.values())
            _, trend = expected(runs, part, check=NTP)
            assert [(r.run_id, {t: dict(c) for t, c in r.per_target.items()}) for r in h.runs(check=NTP)] == trend
