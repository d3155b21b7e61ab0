"""Backups: a job root scheduled, and the last successful backup within the recovery point objective."""
from __future__ import annotations

from typing import Any

from scanner.facts.linux import BackupJobs, BackupStatus, RestoreTest
from scanner.model import Finding, Location, error, failed, manual, passed
from scanner.registry import check


@check(id="linux.backup.scheduled", title="A backup job is scheduled", severity="high", area="backup",
       criterion="A backup job only root can have scheduled runs on this host: an entry in the system crontab, "
                 "/etc/cron.d or root's crontab (root-owned, not writable by others), a root-owned run-parts script, "
                 "a timer from a system unit directory, or a backup agent running as root, known by its executable "
                 "path. User crontabs, user units and process names never count.",
       remediation="Schedule the backup as root: a file in /etc/cron.d owned by root with mode 0644, a systemd timer "
                   "in /etc/systemd/system, or the backup vendor's agent installed at its standard path.")
def scheduled(backup_jobs: BackupJobs) -> Finding:
    jobs = [f"{j.kind} {j.where}: {j.tool}" for j in backup_jobs.jobs]
    accepted = [f"{j.kind} {j.where} ({j.tool}): {j.why}" for j in backup_jobs.jobs]
    ignored = list(backup_jobs.ignored)
    if backup_jobs.jobs:
        first = backup_jobs.jobs[0]
        more = f" and {len(jobs) - 1} more" if len(jobs) > 1 else ""
        return passed("backup schedule", f"{len(jobs)} backup job(s) found: {first.kind} {first.where} runs "
                                         f"{first.tool}, accepted as {first.why}{more}",
                      location=first.location, jobs=jobs, accepted=accepted, ignored=ignored)
    if backup_jobs.unreadable:
        return error("backup schedule", "no backup job found, but some places could not be searched: "
                     + ", ".join(backup_jobs.unreadable), unreadable=list(backup_jobs.unreadable), ignored=ignored)
    why = f"; not counted: {'; '.join(ignored)}" if ignored else ""
    return failed("backup schedule", "no backup job in root's cron, system timers or backup agents running as root"
                  + why, jobs=[], ignored=ignored)


@check(id="linux.backup.recent", title="The last backup is recent", severity="high", area="backup",
       criterion="The last successful backup, read from the declared status command or file in the declared "
                 "backup_status_format (the file's mtime, one ISO-8601 or epoch timestamp, a JSON field, or a regular "
                 "expression with a named group), is at most backup_rpo_hours (24) old; an ambiguous status is an "
                 "error.",
       remediation="Find out why the backup has not succeeded within the RPO (the backup log, the backup server) and "
                   "run it; declare backup_status_file or backup_status_command with backup_status_format in the "
                   "inventory policy so the scan can read the result.")
def recent(backup_status: BackupStatus, backup_rpo_hours: float = 24) -> Finding:
    if backup_status.declared is None:
        return manual("backup status", "no backup_status_command or backup_status_file is declared in the policy: "
                                       "show the last successful backup from the backup system's records")
    if backup_status.last_success is None or backup_status.now is None:
        return error("backup status", "the last successful backup time is unknown")
    age = (backup_status.now - backup_status.last_success).total_seconds() / 3600
    observed: dict[str, Any] = {
        "declared": backup_status.declared, "source": backup_status.source,
        "format": backup_status.format.value if backup_status.format else None, "matched": backup_status.matched,
        "last_success": backup_status.last_success.isoformat(), "age_hours": round(age, 2),
        "rpo_hours": backup_rpo_hours}
    if age < -1:
        return error("backup status", f"the last success ({backup_status.last_success.isoformat()}) is "
                                      f"{-age:.1f} h in the target's future: the status or the clock is wrong",
                     **observed)
    if age <= backup_rpo_hours:
        return passed("backup status", f"last successful backup {age:.1f} h ago", **observed)
    return failed("backup status", f"last successful backup {age:.1f} h ago exceeds the RPO of "
                                   f"{backup_rpo_hours} h", **observed)


@check(id="linux.backup.restore_tested", title="A restore from backup was tested recently", severity="medium",
       area="backup",
       criterion="The restore-test record the policy declares (restore_test_record: a file, or restore_test_command) "
                 "read in restore_test_format (the file's mtime by default, or iso8601, epoch, json:<field>, "
                 "regex:<pattern>) dates the last successful restore test at most restore_test_days (365) ago. "
                 "Annex 11 7.2 asks that the ability to restore is checked periodically.",
       remediation="Restore a sample of the backed-up data to a scratch location, verify it (checksums, the "
                   "application opening it), record the date in the declared record (e.g. touch "
                   "/var/lib/gxp/restore-test-ok after a verified restore), and schedule the test.")
def restore_tested(restore_test: RestoreTest, restore_test_days: int = 365, restore_test_record: str = "",
                   restore_test_command: str = "", restore_test_format: str = "") -> Finding:
    rt = restore_test
    if rt.declared is None:
        return manual("restore test", "no restore_test_record or restore_test_command is declared in the policy: "
                                      "show the last restore test from the backup records")
    if rt.last_test is None or rt.now is None:
        return error("restore test", "the date of the last restore test is unknown")
    age = (rt.now - rt.last_test).total_seconds() / 86400
    observed: dict[str, Any] = {"declared": rt.declared, "source": rt.source,
                                "format": rt.format.value if rt.format else None, "matched": rt.matched,
                                "last_test": rt.last_test.isoformat(), "age_days": round(age, 1),
                                "max_days": restore_test_days}
    where = Location(rt.source) if rt.declared == "file" else None
    if age < -1 / 24:
        return error("restore test", f"the last restore test ({rt.last_test.isoformat()}) lies in the target's "
                                     "future: the record or the clock is wrong", location=where, **observed)
    if age <= restore_test_days:
        return passed("restore test", f"last restore test {age:.0f} days ago", location=where, **observed)
    return failed("restore test", f"last restore test {age:.0f} days ago, more than {restore_test_days}",
                  location=where, **observed)
