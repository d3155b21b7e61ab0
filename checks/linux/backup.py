"""Backups: a job is scheduled, and the last successful backup is within the recovery point objective."""
from __future__ import annotations

from typing import Any

from scanner.facts.linux import BackupJobs, BackupStatus
from scanner.model import Finding, error, failed, manual, passed
from scanner.registry import check


@check(id="linux.backup.scheduled", title="A backup job is scheduled", severity="high", area="backup",
       criterion="A cron entry, systemd timer or running backup agent performs backups of this host.")
def scheduled(backup_jobs: BackupJobs) -> Finding:
    jobs = [f"{j.kind} {j.where}: {j.tool}" for j in backup_jobs.jobs]
    if jobs:
        return passed("backup schedule", f"{len(jobs)} backup job(s) found", jobs=jobs)
    if backup_jobs.unreadable:
        return error("backup schedule", "no backup job found, but some places could not be searched: "
                     + ", ".join(backup_jobs.unreadable), unreadable=list(backup_jobs.unreadable))
    return failed("backup schedule", "no backup job in cron, systemd timers or running agents", jobs=[])


@check(id="linux.backup.recent", title="The last backup is recent", severity="high", area="backup",
       criterion="The last successful backup, read from the declared status command or file, is at most "
                 "backup_rpo_hours (24) old.")
def recent(backup_status: BackupStatus, backup_rpo_hours: float = 24) -> Finding:
    if backup_status.declared is None:
        return manual("backup status", "no backup_status_command or backup_status_file is declared in the policy: "
                                       "show the last successful backup from the backup system's records")
    if backup_status.last_success is None or backup_status.now is None:
        return error("backup status", "the last successful backup time is unknown")
    age = (backup_status.now - backup_status.last_success).total_seconds() / 3600
    observed: dict[str, Any] = {"declared": backup_status.declared, "source": backup_status.source,
                "last_success": backup_status.last_success.isoformat(), "age_hours": round(age, 2),
                "rpo_hours": backup_rpo_hours}
    if age <= backup_rpo_hours:
        return passed("backup status", f"last successful backup {age:.1f} h ago", **observed)
    return failed("backup status", f"last successful backup {age:.1f} h ago exceeds the RPO of "
                                   f"{backup_rpo_hours} h", **observed)
