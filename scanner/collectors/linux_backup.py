"""Backups: scheduled jobs (cron, systemd timers, agents) and the last successful backup."""
from __future__ import annotations

import functools
import json
import re
import shlex
from datetime import datetime, timezone

from scanner.collectors.linux_common import (
    ParseError,
    Probe,
    Section,
    config_lines,
    lines,
    processes,
    systemd_units,
)
from scanner.collectors.linux_files import stat_lines
from scanner.facts.linux import BackupJob, BackupJobs, BackupStatus, BackupStatusFormat, FileStat, RestoreTest
from scanner.model import Location, Target

#: Backup tools: name -> words that identify it in a cron line or a unit.
BACKUP_TOOLS = {
    "restic": ("restic",), "borg": ("borg", "borgmatic"), "bacula": ("bacula", "bareos"),
    "amanda": ("amdump", "amanda"), "veeam": ("veeam",), "commvault": ("commvault", "cvd", "cvlaunchd"),
    "duplicity": ("duplicity", "duply"), "rsnapshot": ("rsnapshot",), "tsm": ("dsmc", "dsmcad"),
    "networker": ("nsrexecd", "networker"), "rdiff-backup": ("rdiff-backup",), "duplicati": ("duplicati",),
    "kopia": ("kopia",), "urbackup": ("urbackup",), "generic": ("backup",),
}
#: Backup agents by the absolute path of their executable: a process counts only when /proc/PID/exe is one of
#: these and it runs as root. A process name (``comm``) is never enough: any user can rename a process.
BACKUP_AGENTS = {
    "/usr/sbin/bacula-fd": "bacula", "/opt/bacula/bin/bacula-fd": "bacula", "/usr/sbin/bareos-fd": "bacula",
    "/opt/tivoli/tsm/client/ba/bin/dsmcad": "tsm", "/usr/bin/dsmcad": "tsm", "/usr/sbin/nsrexecd": "networker",
    "/usr/sbin/veeamservice": "veeam", "/opt/commvault/Base/cvd": "commvault",
    "/usr/sbin/urbackupclientbackend": "urbackup",
}
#: Scheduled housekeeping that says "backup" but does not back the system up.
NOT_BACKUPS = ("dpkg-db-backup", "/var/backups", "cron.daily/passwd")
BACKUP_WORDS = "|".join(sorted({w for words in BACKUP_TOOLS.values() for w in words}))
CRON_DIRS = "/etc/cron.hourly/* /etc/cron.daily/* /etc/cron.weekly/* /etc/cron.monthly/*"
#: The system unit directories (a unit elsewhere, e.g. a user's ~/.config/systemd/user, never counts).
SYSTEM_UNIT_DIRS = ("/etc/systemd/system/", "/usr/lib/systemd/system/", "/lib/systemd/system/")
UNIT_DIRS = " ".join(d + "*.service" for d in SYSTEM_UNIT_DIRS)
TIMER_FILES = " ".join(d + "*.timer" for d in SYSTEM_UNIT_DIRS)
#: Schedules only root can write: the system crontab, /etc/cron.d and root's own crontab (Debian, RHEL paths).
ROOT_CRONTABS = ("/var/spool/cron/crontabs/root", "/var/spool/cron/root")
CRON_FILES = ("/etc/crontab", "/etc/anacrontab", "/etc/cron.d/*", *ROOT_CRONTABS)
#: The cron scripts by name, one a line in byte order (as ``ls -1d`` would list them), by the shell alone.
CRON_SCRIPT_NAMES = ("for f in " + " ".join(sorted(CRON_DIRS.split())) + "; do if [ -e \"$f\" ] || [ -L \"$f\" ]; "
                     "then printf '%s\\n' \"$f\"; fi; done")
#: The timers enabled in timers.target.wants, by name (as ``ls -1`` would list them), by the shell alone.
ENABLED_TIMERS_PROBE = ("for f in /etc/systemd/system/timers.target.wants/*; do if [ -e \"$f\" ] || [ -L \"$f\" ]; "
                        "then printf '%s\\n' \"${f##*/}\"; fi; done; true")
CRON_STAT = " ".join(("/etc/crontab", "/etc/anacrontab", "/etc/cron.d/*", CRON_DIRS, *ROOT_CRONTABS))


@functools.cache
def _tool_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Per backup tool, one pattern for all its words, each at the start of a word (as one search per word)."""
    return tuple((tool, re.compile("(?<![a-z0-9])(?:" + "|".join(re.escape(w) for w in words) + ")"))
                 for tool, words in BACKUP_TOOLS.items())


def backup_tool(text: str) -> str | None:
    low = text.lower()
    if any(x in low for x in NOT_BACKUPS):
        return None
    for tool, pattern in _tool_patterns():
        if pattern.search(low):
            return tool
    return None


def _root_owned(st: FileStat | None, executable: bool = False) -> str | None:
    """Why a schedule file does not count, or None when only root can have written it."""
    if st is None:
        return "its owner could not be read"
    if st.uid != 0:
        return f"owned by {st.owner} (uid {st.uid}), not root"
    if st.mode & 0o022:
        return f"mode {st.octal} lets others than root change it"
    if executable and not st.mode & 0o100:
        return f"mode {st.octal} is not executable: run-parts skips it"
    return None


def _cron_why(path: str, st: FileStat) -> str:
    what = "root's crontab" if path in ROOT_CRONTABS else "system crontab" if path.startswith("/etc/cron") \
        else "anacrontab" if path == "/etc/anacrontab" else "cron file"
    return f"{what} {path}, owner root, mode {st.octal}"


def _cron_jobs(section: Section, stats: dict[str, FileStat | None],
               ignored: list[str], unreadable: list[str]) -> list[BackupJob]:
    jobs = []
    paths = sorted(p for p in section.present() if p in CRON_FILES or p.startswith("/etc/cron.d/"))
    for path in paths:
        found = []
        for n, line in config_lines(section.text(path) or ""):
            if re.match(r"^[A-Za-z_][A-Za-z0-9_]*[ \t]*=", line):
                continue  # variable assignment
            tool = backup_tool(line)
            if tool:
                found.append((n, line, tool))
        if not found:
            continue
        problem = _root_owned(stats.get(path))
        if path not in stats:
            unreadable.append(f"{path} (owner)")
        if problem:
            ignored += [f"cron {path}:{n}: {problem}" for n, _, _ in found]
            continue
        st = stats[path]
        assert st is not None
        jobs += [BackupJob("cron", f"{path}:{n}", tool, line, _cron_why(path, st), Location(path, n))
                 for n, line, tool in found]
    for line in lines(section.probe("cron_scripts").text()):
        path, _, content = line.partition(":")
        tool = None if content.strip().startswith("#") else backup_tool(line)
        if not tool or not re.fullmatch(r"/etc/cron\.(hourly|daily|weekly|monthly)/[^/]+", path):
            continue
        problem = _root_owned(stats.get(path), executable=True)
        if problem:
            ignored.append(f"cron {path}: {problem}")
            continue
        st = stats[path]
        assert st is not None
        if not any(j.where == path for j in jobs):
            jobs.append(BackupJob("cron", path, tool, content.strip() or path,
                                  f"run-parts script {path}, owner root, mode {st.octal}", Location(path)))
    return jobs


def _service_tools(section: Section) -> dict[str, tuple[str, str]]:
    """Service units in the system unit directories whose ExecStart runs a backup tool: name -> (tool, path)."""
    services: dict[str, tuple[str, str]] = {}
    for line in lines(section.probe("unit_matches").text()):
        path, _, content = line.partition(":")
        tool = backup_tool(content)
        if tool and path.startswith(SYSTEM_UNIT_DIRS):
            services.setdefault(path.rsplit("/", 1)[-1], (tool, path))
    return services


def _timer_jobs(section: Section, ignored: list[str]) -> tuple[list[BackupJob], bool]:
    jobs: list[BackupJob] = []
    names: dict[str, str] = {}  # timer -> the service it activates
    try:
        units = systemd_units(section.probe("units"))
        listed = True
    except ParseError:
        units, listed = {}, False
    for unit, props in units.items():
        if unit.endswith(".timer"):
            activates = props.get("Unit", "")
            names[unit] = activates if "." in activates else ""
    for name in lines(section.probe("enabled_timers").text()):
        if name.endswith(".timer") and "/" not in name:
            names.setdefault(name, "")
    files_probe = section.probe("timer_files")
    timer_files = stat_lines(files_probe.text()) if files_probe.ok else {}
    services = _service_tools(section)
    for timer in sorted(names):
        service = names[timer] or timer[: -len(".timer")] + ".service"
        by_unit = services.get(service)
        tool = backup_tool(timer) or (by_unit[0] if by_unit else None)
        if not tool:
            continue
        homes = [d + timer for d in SYSTEM_UNIT_DIRS if timer_files.get(d + timer) is not None]
        if not homes:
            ignored.append(f"timer {timer}: its unit file is in no system unit directory")
            continue
        st = timer_files[homes[0]]
        problem = _root_owned(st)
        if problem:
            ignored.append(f"timer {timer}: {homes[0]} {problem}")
            continue
        runs = f"; {service} runs {tool} ({by_unit[1]})" if by_unit else ""
        jobs.append(BackupJob("timer", timer, tool, service,
                              f"system timer {homes[0]}, owner root{runs}", Location(homes[0])))
    return jobs, listed


def _agent_jobs(section: Section, ignored: list[str]) -> list[BackupJob]:
    found, _ = processes(section.probe("processes"))
    jobs = []
    for proc in found:
        pid, uid, exe = proc.pid, proc.uid, proc.exe
        tool = BACKUP_AGENTS.get(exe)
        if tool is None:
            continue
        if uid != "0":
            ignored.append(f"agent {exe} (pid {pid}): runs as uid {uid}, not root")
            continue
        jobs.append(BackupJob("agent", f"{exe} (pid {pid})", tool, "running backup agent",
                              f"process {pid} runs {exe} as root (from /proc/{pid}/exe)"))
    return jobs


def parse_backup_jobs(section: Section, target: Target) -> BackupJobs:
    ignored: list[str] = []
    unreadable = sorted(section.unreadable)
    stat_probe = section.probe("cron_stat")
    if not stat_probe.ok:
        raise ParseError(stat_probe.reason("stat cron files"))
    jobs = _cron_jobs(section, stat_lines(stat_probe.text()), ignored, unreadable)
    timer_jobs, listed = _timer_jobs(section, ignored)
    jobs += timer_jobs
    jobs += _agent_jobs(section, ignored)
    return BackupJobs(tuple(jobs), tuple(unreadable), listed, tuple(ignored))


def backup_status_plan(target: Target) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    command, path = target.policy.get("backup_status_command"), target.policy.get("backup_status_file")
    probes: list[tuple[str, str]] = [("now", "@{date} -u +%s")]
    if command:
        return (), (*probes, ("status", str(command)))
    if path:
        return (str(path),), (*probes, ("status_mtime", f"@{{stat}} -c %Y -- {shlex.quote(str(path))}"))
    return (), ()


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")


def iso_timestamp(text: str) -> datetime | None:
    """``text`` as one ISO-8601 date or date-time (naive means UTC), or None when it is anything else."""
    text = text.strip()
    if not _ISO.fullmatch(text):
        return None
    try:
        # restic and Go tools print nanoseconds; datetime takes at most microseconds
        ts = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00").replace(" ", "T")))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def epoch_seconds(text: str) -> datetime:
    text = text.strip()
    if not re.fullmatch(r"\d{1,12}", text):
        raise ParseError(f"not a number of seconds since 1970: {text[:40]!r}")
    return datetime.fromtimestamp(int(text), timezone.utc)


def parse_format(declared: object) -> tuple[BackupStatusFormat, str]:
    """``backup_status_format``: mtime, iso8601, epoch, ``json:<dotted.field>`` (a number indexes a list, as in
    ``json:0.time`` for ``restic snapshots --latest 1 --json``) or ``regex:<pattern>``."""
    kind, _, arg = str(declared).partition(":")
    try:
        fmt = BackupStatusFormat(kind)
    except ValueError:
        raise ParseError(f"backup_status_format {declared!r}: expected mtime, iso8601, epoch, json:<field> "
                         "or regex:<pattern>") from None
    if fmt in (BackupStatusFormat.JSON, BackupStatusFormat.REGEX) and not arg:
        raise ParseError(f"backup_status_format {declared!r}: {fmt.value} needs a field or pattern after ':'")
    return fmt, arg


def _from_json(text: str, field: str) -> tuple[datetime, str]:
    try:
        value: object = json.loads(text)
    except ValueError as exc:
        raise ParseError(f"backup status is not JSON ({exc})") from None
    for key in field.split("."):  # a number indexes a list: "0.time" is the first element's "time"
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        elif isinstance(value, dict) and key in value:
            value = value[key]
        else:
            raise ParseError(f"backup status JSON has no field {field!r}")
    if not isinstance(value, str):
        raise ParseError(f"backup status field {field!r} is {type(value).__name__} {value!r}, not an ISO-8601 "
                         "timestamp (a number could be seconds, milliseconds or a size)")
    ts = iso_timestamp(value)
    if ts is None:
        raise ParseError(f"backup status field {field!r} is not an ISO-8601 timestamp: {value[:60]!r}")
    return ts, value


def _from_regex(text: str, pattern: str) -> tuple[datetime, str]:
    try:
        rx = re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise ParseError(f"backup_status_format regex does not compile: {exc}") from None
    group = "ts" if "ts" in rx.groupindex else "epoch" if "epoch" in rx.groupindex else None
    if group is None:
        raise ParseError("backup_status_format regex has no named group (?P<ts>...) or (?P<epoch>...)")
    found = {m.group(group) for m in rx.finditer(text) if m.group(group) is not None}
    if not found:
        raise ParseError(f"backup status does not match the declared pattern {pattern!r}")
    if len(found) > 1:
        raise ParseError(f"backup status matches the declared pattern with {len(found)} different timestamps "
                         f"({', '.join(sorted(found)[:3])}): ambiguous")
    value = found.pop()
    if group == "epoch":
        return epoch_seconds(value), value
    ts = iso_timestamp(value)
    if ts is None:
        raise ParseError(f"the (?P<ts>...) group matched {value[:60]!r}, which is not an ISO-8601 timestamp")
    return ts, value


def read_timestamp(text: str, fmt: BackupStatusFormat, arg: str) -> tuple[datetime, str]:
    """The last success by the declared format, and the text it was read from. Ambiguity is a ParseError."""
    if fmt is BackupStatusFormat.ISO8601:
        ts = iso_timestamp(text)
        if ts is None:
            raise ParseError(f"backup status is not one ISO-8601 timestamp: {text.strip()[:80]!r}")
        return ts, text.strip()
    if fmt is BackupStatusFormat.EPOCH:
        return epoch_seconds(text), text.strip()
    if fmt is BackupStatusFormat.JSON:
        return _from_json(text, arg)
    return _from_regex(text, arg)


def _epoch(probe: Probe, label: str) -> datetime:
    if not probe.ok:
        raise ParseError(probe.reason(label))
    try:
        return epoch_seconds(probe.text())
    except ParseError as exc:
        raise ParseError(f"{label}: {exc}") from None


def parse_backup_status(section: Section, target: Target) -> BackupStatus:
    """The last successful backup, read only as the policy's ``backup_status_format`` declares.

    A status file without a declared format is judged by its modification time (a file touched on success); a
    status command's output must declare its format: picking "the first timestamp" of free text would read
    "failed at 05:00, last success 2025-01-01" as a success at 05:00.
    """
    command, path = target.policy.get("backup_status_command"), target.policy.get("backup_status_file")
    if not command and not path:
        return BackupStatus(None, "", None, None, "neither backup_status_command nor backup_status_file is declared")
    declared = target.policy.get("backup_status_format")
    if declared is None and command:
        raise ParseError("backup_status_command is declared without backup_status_format: declare how its output "
                         "gives the last success (iso8601, epoch, json:<field> or regex:<pattern with (?P<ts>...)>)")
    fmt, arg = parse_format(declared) if declared is not None else (BackupStatusFormat.MTIME, "")
    now = _epoch(section.probe("now"), "date +%s")
    if command:
        if fmt is BackupStatusFormat.MTIME:
            raise ParseError("backup_status_format mtime needs a backup_status_file, not a command")
        status = section.probe("status")
        if not status.ok:
            raise ParseError(status.reason(f"backup status command {command!r}"))
        last, matched = read_timestamp(status.text(), fmt, arg)
        return BackupStatus("command", str(command), last, now, status.text()[:500], fmt, matched)
    section.require_readable(str(path))
    if section.files.get(str(path)) is None:
        raise ParseError(f"backup status file {path} does not exist")
    text = section.text(str(path)) or ""
    if fmt is BackupStatusFormat.MTIME:
        last = _epoch(section.probe("status_mtime"), f"stat {path}")
        return BackupStatus("file", str(path), last, now, text[:500], fmt, f"mtime {last.isoformat()}")
    last, matched = read_timestamp(text, fmt, arg)
    return BackupStatus("file", str(path), last, now, text[:500], fmt, matched)


# ---------------------------------------------------------------- issue 14 part B: restore tests

#: Policy names of the restore-test record (a file on the target, or a command printing the record).
RESTORE_FILE, RESTORE_COMMAND, RESTORE_FORMAT = "restore_test_record", "restore_test_command", "restore_test_format"


def restore_test_plan(target: Target) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    command, path = target.policy.get(RESTORE_COMMAND), target.policy.get(RESTORE_FILE)
    probes: list[tuple[str, str]] = [("now", "@{date} -u +%s")]
    if command:
        return (), (*probes, ("record", str(command)))
    if path:
        return (str(path),), (*probes, ("record_mtime", f"@{{stat}} -c %Y -- {shlex.quote(str(path))}"))
    return (), ()


def parse_restore_test(section: Section, target: Target) -> RestoreTest:
    """When a restore was last tested, read from the declared record exactly as ``restore_test_format`` says (the
    same formats as the backup status: mtime for a file by default, iso8601, epoch, json:<field>, regex:<pattern>).
    """
    command, path = target.policy.get(RESTORE_COMMAND), target.policy.get(RESTORE_FILE)
    if not command and not path:
        return RestoreTest(None, "", None, None, detail=f"neither {RESTORE_FILE} nor {RESTORE_COMMAND} is declared")
    declared = target.policy.get(RESTORE_FORMAT)
    if declared is None and command:
        raise ParseError(f"{RESTORE_COMMAND} is declared without {RESTORE_FORMAT}: declare how its output gives "
                         "the date of the last restore test (iso8601, epoch, json:<field> or regex:<pattern>)")
    fmt, arg = parse_format(declared) if declared is not None else (BackupStatusFormat.MTIME, "")
    now = _epoch(section.probe("now"), "date +%s")
    if command:
        if fmt is BackupStatusFormat.MTIME:
            raise ParseError(f"{RESTORE_FORMAT} mtime needs a {RESTORE_FILE}, not a command")
        record = section.probe("record")
        if not record.ok:
            raise ParseError(record.reason(f"restore test command {command!r}"))
        last, matched = read_timestamp(record.text(), fmt, arg)
        return RestoreTest("command", str(command), last, now, fmt, matched, record.text()[:500])
    section.require_readable(str(path))
    if section.files.get(str(path)) is None:
        raise ParseError(f"restore test record {path} does not exist")
    text = section.text(str(path)) or ""
    if fmt is BackupStatusFormat.MTIME:
        last = _epoch(section.probe("record_mtime"), f"stat {path}")
        return RestoreTest("file", str(path), last, now, fmt, f"mtime {last.isoformat()}", text[:500])
    last, matched = read_timestamp(text, fmt, arg)
    return RestoreTest("file", str(path), last, now, fmt, matched, text[:500])
