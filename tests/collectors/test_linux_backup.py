"""Backups cannot be faked by an unprivileged user, and the last success is read only as declared.

Schedules count only when root owns them (system crontab, /etc/cron.d, root's crontab, run-parts scripts,
timers from system unit directories); an agent counts only by its executable (/proc/PID/exe) and a root owner.
The status of the last backup is read in the declared ``backup_status_format``; anything ambiguous is an error.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from checks.linux.backup import recent, scheduled
from scanner.collectors.linux_backup import parse_backup_jobs, parse_backup_status
from scanner.collectors.linux_common import ParseError, Probe, Section
from scanner.facts.linux import BackupStatusFormat
from scanner.model import Location, Status
from tests.factories import make_target

ROOT_CRON = "644|0|0|root|root|regular file|"
NOW = "1764565200"  # 2025-12-01T05:00:00Z


def jobs_section(files: dict[str, str] | None = None, stat: str = "", processes: bytes = b"",
                 timers: str = "", timer_files: str = "", unit_matches: str = "", scripts: str = "") -> Section:
    return Section(files={k: v.encode() for k, v in (files or {}).items()}, probes={
        "cron_stat": Probe(0, stat.encode()), "cron_scripts": Probe(0, scripts.encode()),
        "units": Probe(0, timers.encode()), "enabled_timers": Probe(0, b""),
        "timer_files": Probe(0, timer_files.encode()), "unit_matches": Probe(0, unit_matches.encode()),
        "processes": Probe(0, processes)})


SPOOFS = {
    # what an unprivileged user can do -> the section the collector would see
    "user crontab with the word backup": jobs_section(
        {"/var/spool/cron/crontabs/eve": "0 1 * * * /home/eve/backup.sh\n"},
        "600|1001|107|eve|crontab|regular file|/var/spool/cron/crontabs/eve\n"),
    "RHEL user crontab": jobs_section({"/var/spool/cron/eve": "0 1 * * * restic backup ~\n"}),
    "a process renamed cvd": jobs_section(processes=b"/proc/4242/exe 1001 /home/eve/.local/bin/cvd\0"),
    "the real agent binary run by a user": jobs_section(processes=b"/proc/4243/exe 1001 /usr/sbin/bacula-fd\0"),
    "a cron.d file owned by a user": jobs_section(
        {"/etc/cron.d/eve": "0 2 * * * eve restic backup /home/eve\n"},
        "644|1001|1001|eve|eve|regular file|/etc/cron.d/eve\n"),
    "a root-owned cron.d file others can write": jobs_section(
        {"/etc/cron.d/open": "0 2 * * * root restic backup /\n"},
        "666|0|0|root|root|regular file|/etc/cron.d/open\n"),
    "a cron.d file whose owner is unknown": jobs_section({"/etc/cron.d/x": "0 2 * * * root restic backup /\n"}),
    "a user's timer unit": jobs_section(
        timers="Id=backup.timer\nUnit=backup.service\n",
        timer_files="missing|/etc/systemd/system/*.timer\n"),
    "a run-parts script a user owns": jobs_section(
        scripts="/etc/cron.daily/eve:restic backup /home/eve\n",
        stat="755|1001|1001|eve|eve|regular file|/etc/cron.daily/eve\n"),
}


@pytest.mark.parametrize("section", SPOOFS.values(), ids=list(SPOOFS))
def test_what_a_user_can_plant_does_not_count(section):
    jobs = parse_backup_jobs(section, make_target())
    assert jobs.jobs == ()
    finding = scheduled(jobs)
    assert finding.status in (Status.FAIL, Status.ERROR)
    assert finding.observed.get("jobs", ()) == ()


def test_the_ignored_entries_say_why():
    jobs = parse_backup_jobs(jobs_section(
        {"/etc/cron.d/eve": "0 2 * * * eve restic backup /home/eve\n"},
        "644|1001|1001|eve|eve|regular file|/etc/cron.d/eve\n",
        processes=b"/proc/7/exe 1001 /usr/sbin/bacula-fd\0/proc/8/exe 0 /home/eve/cvd\0"), make_target())
    assert jobs.ignored == ("cron /etc/cron.d/eve:1: owned by eve (uid 1001), not root",
                            "agent /usr/sbin/bacula-fd (pid 7): runs as uid 1001, not root")
    finding = scheduled(jobs)
    assert finding.status is Status.FAIL
    assert "not counted: cron /etc/cron.d/eve:1: owned by eve" in finding.message


ROOT_SCHEDULES = {
    "system crontab": (jobs_section({"/etc/crontab": "30 1 * * * root /usr/bin/restic backup /srv\n"},
                                    ROOT_CRON + "/etc/crontab\n"),
                       "cron /etc/crontab:1", "system crontab /etc/crontab, owner root, mode 0644",
                       Location("/etc/crontab", 1)),
    "cron.d": (jobs_section({"/etc/cron.d/restic": "# nightly\n30 1 * * * root restic backup /srv\n"},
                            ROOT_CRON + "/etc/cron.d/restic\n"),
               "cron /etc/cron.d/restic:2", "system crontab /etc/cron.d/restic, owner root, mode 0644",
               Location("/etc/cron.d/restic", 2)),
    "root's crontab": (jobs_section({"/var/spool/cron/crontabs/root": "0 3 * * * borgmatic\n"},
                                    "600|0|107|root|crontab|regular file|/var/spool/cron/crontabs/root\n"),
                       "cron /var/spool/cron/crontabs/root:1",
                       "root's crontab /var/spool/cron/crontabs/root, owner root, mode 0600",
                       Location("/var/spool/cron/crontabs/root", 1)),
    "run-parts script": (jobs_section(scripts="/etc/cron.daily/restic:restic backup /srv\n",
                                      stat="755|0|0|root|root|regular file|/etc/cron.daily/restic\n"),
                         "cron /etc/cron.daily/restic",
                         "run-parts script /etc/cron.daily/restic, owner root, mode 0755",
                         Location("/etc/cron.daily/restic")),
    "system timer": (jobs_section(timers="Id=nightly.timer\nUnit=nightly.service\n",
                                  timer_files=ROOT_CRON + "/etc/systemd/system/nightly.timer\n",
                                  unit_matches="/etc/systemd/system/nightly.service:ExecStart=restic backup\n"),
                     "timer nightly.timer", "system timer /etc/systemd/system/nightly.timer, owner root; "
                                            "nightly.service runs restic (/etc/systemd/system/nightly.service)",
                     Location("/etc/systemd/system/nightly.timer")),
    "agent": (jobs_section(processes=b"/proc/1/exe 0 /usr/lib/systemd/systemd\0/proc/812/exe 0 /usr/sbin/bacula-fd\0"),
              "agent /usr/sbin/bacula-fd (pid 812)",
              "process 812 runs /usr/sbin/bacula-fd as root (from /proc/812/exe)",
              None),
}


@pytest.mark.parametrize(("section", "where", "why", "location"), ROOT_SCHEDULES.values(), ids=list(ROOT_SCHEDULES))
def test_a_root_schedule_counts_and_the_finding_says_which_and_why(section, where, why, location):
    finding = scheduled(parse_backup_jobs(section, make_target()))
    assert finding.status is Status.PASS
    assert f"{where} runs" in finding.message and f"accepted as {why}" in finding.message
    assert finding.location == location


# ---- recency: the declared format, and nothing else


def status_section(text: str, mtime: str = "") -> tuple[Section, Section]:
    """The same status as a command's output and as a file's content."""
    command = Section(probes={"now": Probe(0, NOW.encode()), "status": Probe(0, text.encode())})
    file = Section(files={"/var/lib/backup/status": text.encode()},
                   probes={"now": Probe(0, NOW.encode()), "status_mtime": Probe(0, mtime.encode())})
    return command, file


def status_of(text: str, fmt: str | None, *, file: bool = False, mtime: str = ""):
    policy = {"backup_status_file": "/var/lib/backup/status"} if file else {"backup_status_command": "report"}
    if fmt is not None:
        policy["backup_status_format"] = fmt
    command, as_file = status_section(text, mtime)
    return parse_backup_status(as_file if file else command, make_target(policy=policy))


FAILED_BACKUP = "2026-12-01T05:00Z ERROR backup failed ... last successful 2025-01-01\n"


def test_the_audit_example_cannot_pass():
    """A failure line that starts with today's date: the old "first timestamp" rule read it as a success."""
    with pytest.raises(ParseError, match="without backup_status_format"):
        status_of(FAILED_BACKUP, None)
    declared = status_of(FAILED_BACKUP, r"regex:last successful (?P<ts>\S+)")
    assert declared.last_success == datetime(2025, 1, 1, tzinfo=timezone.utc)
    finding = recent(declared)
    assert finding.status is Status.FAIL
    assert finding.observed["matched"] == "2025-01-01"


@pytest.mark.parametrize(("text", "fmt", "file", "expected"), [
    ("2025-11-30T23:00:00Z\n", "iso8601", False, datetime(2025, 11, 30, 23, tzinfo=timezone.utc)),
    ("1764540000\n", "epoch", True, datetime(2025, 11, 30, 22, tzinfo=timezone.utc)),
    ('[{"time": "2025-11-30T23:00:00.123456789+01:00", "hostname": "db1"}]', "json:0.time", False,  # restic
     datetime(2025, 11, 30, 22, 0, 0, 123456, tzinfo=timezone.utc)),
    ('{"last": {"success": "2025-11-30T23:00:00+01:00"}, "bytes": 1764540000}', "json:last.success", False,
     datetime(2025, 11, 30, 22, tzinfo=timezone.utc)),
    ("job nightly OK at 2025-11-30 23:00\njob nightly FAILED at 2025-12-01 04:00\n",
     r"regex:OK at (?P<ts>[\d-]+ [\d:]+)", False, datetime(2025, 11, 30, 23, tzinfo=timezone.utc)),
    ("ok since=1764540000 size=2000000000\n", r"regex:since=(?P<epoch>\d+)", False,
     datetime(2025, 11, 30, 22, tzinfo=timezone.utc)),
    ("anything at all", "mtime", True, datetime(2025, 11, 30, 22, tzinfo=timezone.utc)),
    ("anything at all", None, True, datetime(2025, 11, 30, 22, tzinfo=timezone.utc)),  # a file: mtime by default
])
def test_declared_formats(text, fmt, file, expected):
    status = status_of(text, fmt, file=file, mtime="1764540000")
    assert status.last_success == expected
    assert status.format is BackupStatusFormat((fmt or "mtime").split(":")[0])


@pytest.mark.parametrize(("text", "fmt", "reason"), [
    ("backup ok\n", r"regex:OK at (?P<ts>\S+)", "does not match the declared pattern"),
    ("OK at 2025-11-30T23:00Z\nOK at 2025-11-29T23:00Z\n", r"regex:OK at (?P<ts>\S+)", "2 different timestamps"),
    ("OK at 1764540000\n", r"regex:OK at (?P<ts>\S+)", "not an ISO-8601 timestamp"),  # a number: bytes? seconds?
    ('{"last_success": 1764540000}', "json:last_success", "a number could be seconds, milliseconds or a size"),
    ('{"size": 10}', "json:last_success", "has no field 'last_success'"),
    ("not json", "json:last_success", "not JSON"),
    ("2025-11-30T23:00:00Z and more\n", "iso8601", "not one ISO-8601 timestamp"),
    ("2025-13-45T99:00:00Z\n", "iso8601", "not one ISO-8601 timestamp"),
    ("1764540000 bytes\n", "epoch", "not a number of seconds"),
    ("x", r"regex:(?P<when>\S+)", "no named group"),
    ("x", r"regex:(?P<ts>[", "does not compile"),
    ("x", "first-timestamp", "expected mtime, iso8601, epoch"),
    ("x", "mtime", "needs a backup_status_file"),
])
def test_ambiguous_or_unparseable_status_is_an_error(text, fmt, reason):
    with pytest.raises(ParseError, match=None) as exc:
        status_of(text, fmt)
    assert reason in str(exc.value)


def test_a_success_in_the_future_is_an_error_not_a_pass():
    finding = recent(status_of("2026-01-01T00:00:00Z\n", "iso8601"))
    assert finding.status is Status.ERROR and "in the target's future" in finding.message
