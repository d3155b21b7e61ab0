"""Windows backups: a schedule (Windows Server Backup, VSS, a declared agent) and the last successful backup."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from scanner.facts.windows import BackupState, Services
from scanner.model import Area, Finding, Severity, error, failed, passed
from scanner.registry import check


@check(id="windows.backup.scheduled", title="A backup is scheduled", severity=Severity.HIGH, area=Area.BACKUP,
       criterion="Windows Server Backup has a scheduled policy, a VSS snapshot task is enabled, or a backup agent "
                 "service named in backup_agent_services runs.",
       remediation="Configure a scheduled backup (wbadmin enable backup, or Windows Server Backup > Backup "
                   "Schedule), or install your backup agent and name its service in backup_agent_services.")
def scheduled(backup: BackupState, services: Services, backup_agent_services: tuple[str, ...] = ()) -> Finding:
    agents = [n for n in backup_agent_services if (s := services.get(n)) is not None and s.running]
    obs: dict[str, Any] = {"wsb_schedule": list(backup.schedule), "vss_tasks": list(backup.vss_tasks),
                           "agents": agents}
    how = ([f"Windows Server Backup at {', '.join(backup.schedule)}"] if backup.schedule else []) + \
        ([f"VSS snapshot task(s) {', '.join(backup.vss_tasks)}"] if backup.vss_tasks else []) + \
        [f"agent {a}" for a in agents]
    if how:
        return passed("backup schedule", "scheduled: " + "; ".join(how), **obs)
    return failed("backup schedule", "no Windows Server Backup schedule, VSS snapshot task or running backup agent",
                  **obs)


@check(id="windows.backup.recent", title="The last backup is recent", severity=Severity.HIGH, area=Area.BACKUP,
       criterion="The last successful backup is at most backup_rpo_hours old: read from the status file the policy "
                 "declares (backup_status_file, in backup_status_format, as on Linux), else from Windows Server "
                 "Backup's history; without either the age cannot be shown (error).",
       remediation="Find why backups fail (Get-WBJob -Previous 1, the Microsoft-Windows-Backup log, your agent's "
                   "console) and run one now; with another backup tool declare backup_status_file and "
                   "backup_status_format in the inventory policy.")
def recent(backup: BackupState, backup_rpo_hours: float = 24) -> Finding:
    if backup.status is not None:  # the inventory declared where the last success is written: as on Linux
        from checks.linux.backup import recent as linux_recent  # only then: a Windows scan loads no Linux check

        declared: Finding = linux_recent(backup.status, backup_rpo_hours)
        return declared
    obs: dict[str, Any] = {"last_success": backup.last_success.isoformat() if backup.last_success else None,
                           "last_result_hr": backup.last_result_hr, "rpo_hours": backup_rpo_hours}
    if not backup.wsb_installed:
        return error("last backup", "Windows Server Backup is not installed and no backup_status_file is declared: "
                     "no backup history to read", **obs)
    last = backup.last_success
    if last is None:
        return failed("last backup", "Windows Server Backup has no successful backup", **obs)
    now = datetime.now(timezone.utc)
    if last > now + timedelta(hours=1):
        return error("last backup", f"the last backup time {last:%Y-%m-%d %H:%M} lies in the future", **obs)
    hours = (now - last).total_seconds() / 3600
    if hours > backup_rpo_hours:
        return failed("last backup", f"last successful backup {hours:.1f} h ago (> {backup_rpo_hours} h)", **obs)
    return passed("last backup", f"last successful backup {hours:.1f} h ago", **obs)
