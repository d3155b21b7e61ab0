"""Backups: scheduled jobs (cron, systemd timers, agents) and the last successful backup."""
from __future__ import annotations

import re
import shlex
from datetime import datetime, timezone

from scanner.collectors.linux_common import ParseError, Probe, Section, config_lines, lines
from scanner.facts.linux import BackupJob, BackupJobs, BackupStatus
from scanner.model import Target

#: Backup tools and agents: name -> words that identify it in a cron line, unit or process name.
BACKUP_TOOLS = {
    "restic": ("restic",), "borg": ("borg", "borgmatic"), "bacula": ("bacula", "bareos"),
    "amanda": ("amdump", "amanda"), "veeam": ("veeam",), "commvault": ("commvault", "cvd", "cvlaunchd"),
    "duplicity": ("duplicity", "duply"), "rsnapshot": ("rsnapshot",), "tsm": ("dsmc", "dsmcad"),
    "networker": ("nsrexecd", "networker"), "rdiff-backup": ("rdiff-backup",), "duplicati": ("duplicati",),
    "kopia": ("kopia",), "urbackup": ("urbackup",), "generic": ("backup",),
}
#: Agents whose running daemon means a central server schedules this host's backups.
BACKUP_DAEMONS = {"bacula-fd": "bacula", "bareos-fd": "bacula", "dsmcad": "tsm", "nsrexecd": "networker",
                  "veeamservice": "veeam", "cvd": "commvault", "urbackupclientbackend": "urbackup"}
#: Scheduled housekeeping that says "backup" but does not back the system up.
NOT_BACKUPS = ("dpkg-db-backup", "/var/backups", "cron.daily/passwd")
BACKUP_WORDS = "|".join(sorted({w for words in BACKUP_TOOLS.values() for w in words}))
CRON_DIRS = "/etc/cron.hourly/* /etc/cron.daily/* /etc/cron.weekly/* /etc/cron.monthly/*"
UNIT_DIRS = "/etc/systemd/system/*.service /usr/lib/systemd/system/*.service /lib/systemd/system/*.service"
CRON_FILES = ("/etc/crontab", "/etc/anacrontab", "/etc/cron.d/", "/var/spool/cron/")


def backup_tool(text: str) -> str | None:
    low = text.lower()
    if any(x in low for x in NOT_BACKUPS):
        return None
    for tool, words in BACKUP_TOOLS.items():
        if any(re.search(rf"(?<![a-z0-9]){re.escape(w)}", low) for w in words):
            return tool
    return None


def _cron_jobs(section: Section) -> list[BackupJob]:
    jobs = []
    for path in sorted(p for pre in CRON_FILES for p in section.present(pre)):
        for n, line in config_lines(section.text(path) or ""):
            if re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*=", line):
                continue  # variable assignment
            tool = backup_tool(line)
            if tool:
                jobs.append(BackupJob("cron", f"{path}:{n}", tool, line))
    for line in lines(section.probe("cron_scripts").text()):
        path, _, content = line.partition(":")
        tool = None if content.strip().startswith("#") else backup_tool(line)
        if tool and "/etc/cron." in path:
            jobs.append(BackupJob("cron", path, tool, content.strip() or path))
    return jobs


def _service_tools(section: Section) -> dict[str, str]:
    """Service units whose ExecStart runs a backup tool (``grep -H`` lines: path:ExecStart=...)."""
    services = {}
    for line in lines(section.probe("unit_matches").text()):
        path, _, content = line.partition(":")
        tool = backup_tool(content)
        if tool:
            services[path.rsplit("/", 1)[-1]] = tool
    return services


def _timer_jobs(section: Section) -> tuple[list[BackupJob], bool]:
    jobs: list[BackupJob] = []
    names: set[str] = set()
    listed = section.probe("timers")
    for line in lines(listed.text()) if listed.ok else ():
        names.update(tok for tok in line.split() if tok.endswith(".timer"))
    names.update(n.strip() for n in lines(section.probe("enabled_timers").text()) if n.strip())
    services = _service_tools(section)
    for timer in sorted(names):
        service = timer[: -len(".timer")] + ".service"
        tool = backup_tool(timer) or services.get(service)
        if tool:
            jobs.append(BackupJob("timer", timer, tool, service))
    return jobs, listed.ok


def parse_backup_jobs(section: Section, target: Target) -> BackupJobs:
    jobs = _cron_jobs(section)
    timer_jobs, listed = _timer_jobs(section)
    jobs += timer_jobs
    procs = section.probe("processes")
    if not procs.ok:
        raise ParseError(procs.reason("ps"))
    for name in sorted({p.strip() for p in lines(procs.text()) if p.strip()}):
        if name.lower() in BACKUP_DAEMONS:
            jobs.append(BackupJob("agent", name, BACKUP_DAEMONS[name.lower()], "running backup agent"))
    return BackupJobs(tuple(jobs), tuple(sorted(section.unreadable)), listed)


def backup_status_plan(target: Target) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    command, path = target.policy.get("backup_status_command"), target.policy.get("backup_status_file")
    probes: list[tuple[str, str]] = [("now", "date -u +%s")]
    if command:
        return (), (*probes, ("status", str(command)))
    if path:
        return (str(path),), (*probes, ("status_mtime", f"stat -c %Y -- {shlex.quote(str(path))}"))
    return (), ()


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")


def find_timestamp(text: str) -> datetime | None:
    """The first ISO-8601 (naive means UTC) or else epoch-seconds timestamp in a status text."""
    for m in _ISO.finditer(text):
        try:
            ts = datetime.fromisoformat(m.group(0).replace("Z", "+00:00"))
        except ValueError:
            continue
        return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
    epoch = re.search(r"(?<![\d.:-])(1\d{9}|2\d{9})(?![\d:-])", text)
    return datetime.fromtimestamp(int(epoch.group(1)), timezone.utc) if epoch else None


def _epoch(probe: Probe, label: str) -> datetime:
    if not probe.ok:
        raise ParseError(probe.reason(label))
    try:
        return datetime.fromtimestamp(int(probe.text().strip()), timezone.utc)
    except ValueError:
        raise ParseError(f"{label}: not a number of seconds: {probe.text()[:40]!r}") from None


def parse_backup_status(section: Section, target: Target) -> BackupStatus:
    command, path = target.policy.get("backup_status_command"), target.policy.get("backup_status_file")
    if not command and not path:
        return BackupStatus(None, "", None, None, "neither backup_status_command nor backup_status_file is declared")
    now = _epoch(section.probe("now"), "date +%s")
    if command:
        status = section.probe("status")
        if not status.ok:
            raise ParseError(status.reason(f"backup status command {command!r}"))
        last = find_timestamp(status.text())
        if last is None:
            raise ParseError(f"backup status command printed no timestamp: {status.text()[:120]!r}")
        return BackupStatus("command", str(command), last, now, status.text()[:500])
    section.require_readable(str(path))
    if section.files.get(str(path)) is None:
        raise ParseError(f"backup status file {path} does not exist")
    text = section.text(str(path)) or ""
    last = find_timestamp(text) or _epoch(section.probe("status_mtime"), f"stat {path}")
    return BackupStatus("file", str(path), last, now, text[:500])
