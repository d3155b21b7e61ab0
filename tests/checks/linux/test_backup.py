"""The backup-age checks on small facts at their bounds, asserting status, message and observed values: logic
survivors of checks/linux/backup.py under mutmut (docs/mutation.md, issue 15 fifth session)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from checks.linux import backup
from scanner.facts.linux import BackupStatus, BackupStatusFormat, RestoreTest
from scanner.model import Finding, Location, Status, thaw

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
STATUS_FILE = "/var/lib/backup/last-success"
RECORD = "/var/lib/gxp/restore-test-ok"


def seen(f: Finding) -> tuple[Status, str, dict[str, Any], Location | None]:
    return f.status, f.message, thaw(f.observed), f.location


def last_backup(age: timedelta | None, now: datetime | None = NOW) -> BackupStatus:
    return BackupStatus("file", STATUS_FILE, None if age is None else NOW - age, now, format=BackupStatusFormat.MTIME)


def last_restore(age: timedelta | None, now: datetime | None = NOW, declared: str = "file") -> RestoreTest:
    return RestoreTest(declared, RECORD, None if age is None else NOW - age, now, BackupStatusFormat.MTIME)


#: the backup's age -> status, message and age_hours, under the default RPO of 24 h
@pytest.mark.parametrize(("age", "status", "message", "hours"), [
    (timedelta(hours=24), Status.PASS, "last successful backup 24.0 h ago", 24.0),  # the RPO itself
    (timedelta(hours=24, seconds=1), Status.FAIL, "last successful backup 24.0 h ago exceeds the RPO of 24 h", 24.0),
    (timedelta(minutes=30), Status.PASS, "last successful backup 0.5 h ago", 0.5),
    (timedelta(hours=-1), Status.PASS, "last successful backup -1.0 h ago", -1.0),  # an hour of clock skew
    (timedelta(hours=-1, seconds=-1), Status.ERROR, "the last success (2026-12-01T13:00:01+00:00) is 1.0 h in the "
     "target's future: the status or the clock is wrong", -1.0),
    (timedelta(hours=-3), Status.ERROR, "the last success (2026-12-01T15:00:00+00:00) is 3.0 h in the target's "
     "future: the status or the clock is wrong", -3.0),
])
def test_recent_backup_bounds_under_the_default_rpo(age: timedelta, status: Status, message: str,
                                                    hours: float) -> None:
    got = backup.recent(last_backup(age))
    assert seen(got) == (status, message, {
        "declared": "file", "source": STATUS_FILE, "format": "mtime", "matched": "",
        "last_success": (NOW - age).isoformat(), "age_hours": hours, "rpo_hours": 24}, None)


#: the restore test's age -> status and message, under the default limit of 365 days
@pytest.mark.parametrize(("age", "status", "message"), [
    (timedelta(days=365), Status.PASS, "last restore test 365 days ago"),  # the limit itself
    (timedelta(days=365, seconds=1), Status.FAIL, "last restore test 365 days ago, more than 365"),
    (timedelta(0), Status.PASS, "last restore test 0 days ago"),
    (timedelta(minutes=-59), Status.PASS, "last restore test -0 days ago"),  # clock skew under an hour
    (timedelta(hours=-1), Status.PASS, "last restore test -0 days ago"),
    (timedelta(hours=-1, seconds=-1), Status.ERROR, "the last restore test (2026-12-01T13:00:01+00:00) lies in "
     "the target's future: the record or the clock is wrong"),
    (timedelta(days=-1), Status.ERROR, "the last restore test (2026-12-02T12:00:00+00:00) lies in the target's "
     "future: the record or the clock is wrong"),
])
def test_restore_test_bounds_under_the_default_limit(age: timedelta, status: Status, message: str) -> None:
    got = backup.restore_tested(last_restore(age))
    days = age.total_seconds() / 86400
    assert seen(got) == (status, message, {
        "declared": "file", "source": RECORD, "format": "mtime", "matched": "",
        "last_test": (NOW - age).isoformat(), "age_days": round(days, 1), "max_days": 365}, Location(RECORD))
    by_command = backup.restore_tested(last_restore(age, declared="command"))
    assert (by_command.status, by_command.location) == (status, None)  # a command has no file to point at


@pytest.mark.parametrize(("age", "now"), [(None, NOW), (timedelta(hours=1), None), (None, None)])
def test_an_unknown_time_or_clock_is_an_error(age: timedelta | None, now: datetime | None) -> None:
    assert seen(backup.recent(last_backup(age, now))) == (
        Status.ERROR, "the last successful backup time is unknown", {}, None)
    assert seen(backup.restore_tested(last_restore(age, now))) == (
        Status.ERROR, "the date of the last restore test is unknown", {}, None)
