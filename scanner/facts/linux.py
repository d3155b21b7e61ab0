"""The Linux facts: what the Linux collector found on a host, as meaning.

The collector (``scanner/collectors/linux*.py``) builds these values from files and command output; the
checks in ``checks/linux/`` receive them by parameter name (``login_defs`` -> ``linux.login_defs``). Nothing
here knows a wire format: parsing lives in the collector.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from types import MappingProxyType

from scanner.facts.backup import BackupStatus as BackupStatus  # re-exported: the Linux backup facts' type
from scanner.facts.backup import BackupStatusFormat as BackupStatusFormat
from scanner.model import Location
from scanner.value import frozen


def _empty() -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({})


def _no_locations() -> Mapping[str, Location]:
    return MappingProxyType({})


# ---------------------------------------------------------------- sshd


@frozen
class SshdConfig:
    """The effective OpenSSH server configuration (``sshd -T``); keys are lower case."""

    installed: bool
    options: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)

    def get(self, key: str, default: str = "") -> str:
        values = self.options.get(key.lower())
        return values[0] if values else default

    def list(self, key: str) -> tuple[str, ...]:
        return tuple(v for value in self.options.get(key.lower(), ()) for v in value.split(",") if v)


# ---------------------------------------------------------------- accounts


@frozen
class PasswdEntry:
    name: str
    password: str  # the passwd field: 'x' means the shadow file holds it
    uid: int
    gid: int
    home: str
    shell: str


@frozen
class Passwd:
    entries: tuple[PasswdEntry, ...]


@frozen
class GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...]


@frozen
class Groups:
    entries: tuple[GroupEntry, ...]


@frozen
class ShadowEntry:
    name: str
    state: str  # "hash" (usable password), "empty", "locked", "disabled" ('*' or '!!')
    scheme: str | None  # crypt scheme of the hash, also for a locked hash
    last_change: int | None
    min_days: int | None
    max_days: int | None
    warn_days: int | None
    inactive_days: int | None
    expire: int | None

    @property
    def usable(self) -> bool:
        return self.state == "hash"


@frozen
class Shadow:
    entries: tuple[ShadowEntry, ...]


@frozen
class LastLogon:
    """One /etc/passwd account's last logon as the host recorded it (None: never, per the record)."""

    name: str
    uid: int
    at: datetime | None


@frozen
class LastLogons:
    """Last logons from /var/log/lastlog (written by sshd for terminal sessions and by login): the first ``cap``
    /etc/passwd accounts; ``accounts`` is how many lines /etc/passwd has."""

    source: str
    logons: tuple[LastLogon, ...]
    accounts: int
    cap: int

    def of(self, name: str) -> LastLogon | None:
        """The record of the account, None when it was not read (beyond the cap)."""
        return next((x for x in self.logons if x.name == name), None)


# ---------------------------------------------------------------- login.defs, PAM


@frozen
class LoginDefs:
    values: Mapping[str, str]
    useradd: Mapping[str, str]  # /etc/default/useradd
    locations: Mapping[str, Location] = field(default_factory=_no_locations)  # login.defs key -> file and line
    useradd_locations: Mapping[str, Location] = field(default_factory=_no_locations)

    def location(self, key: str) -> Location:
        """Where ``key`` is set in /etc/login.defs (the file alone when it is not set)."""
        return self.locations.get(key) or Location("/etc/login.defs")

    def int(self, key: str) -> int | None:
        """The setting as an integer; None when unset. A value that is no integer raises ValueError."""
        value = self.values.get(key)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{key} is not an integer: {value!r}") from None


@frozen
class AtLine:
    """A value read from one line of a file on the host; its ``location`` is that file and line."""

    file: str
    line: int

    @property
    def location(self) -> Location:
        return Location(self.file, self.line)


@frozen
class PamRule(AtLine):
    type: str  # auth, account, password, session
    control: str
    module: str  # e.g. pam_unix.so
    args: Mapping[str, str]  # 'remember=5' -> {'remember': '5'}; flags map to ''

    @property
    def name(self) -> str:
        """The module's file name (``pam_unix.so``), also when the rule gives a path."""
        return self.module.rsplit("/", 1)[-1]


@frozen
class Pam:
    rules: tuple[PamRule, ...]
    pwquality: Mapping[str, str]
    faillock: Mapping[str, str]
    pwhistory: Mapping[str, str]
    files: tuple[str, ...]  # the PAM stack files that exist
    module_files: frozenset[str] = frozenset()  # every PAM module file found in the security directories
    conf_locations: Mapping[str, Location] = field(default_factory=_no_locations)  # "pwquality:minlen" -> where

    def installed(self, rule: PamRule) -> bool:
        """The rule's module file exists: PAM skips (``-type``) or fails a line whose module is missing."""
        if rule.module.startswith("/"):
            return rule.module in self.module_files
        return any(f.rsplit("/", 1)[-1] == rule.module for f in self.module_files)

    def configured(self, type_: str, *modules: str) -> tuple[PamRule, ...]:
        """Every rule of ``type_`` that names one of ``modules``, installed or not."""
        names = {m if m.endswith(".so") else m + ".so" for m in modules}
        return tuple(r for r in self.rules if r.type == type_ and r.name in names)

    def find(self, type_: str, *modules: str) -> tuple[PamRule, ...]:
        """The rules of ``type_`` naming one of ``modules`` whose module is installed: the ones PAM runs."""
        return tuple(r for r in self.configured(type_, *modules) if self.installed(r))

    def missing(self, type_: str, *modules: str) -> tuple[PamRule, ...]:
        """The rules naming one of ``modules`` whose module file does not exist."""
        return tuple(r for r in self.configured(type_, *modules) if not self.installed(r))

    def conf_location(self, conf: str, key: str) -> Location | None:
        return self.conf_locations.get(f"{conf}:{key}")


# ---------------------------------------------------------------- sudoers


@frozen
class SudoLine(AtLine):
    text: str


@frozen
class Sudoers:
    installed: bool
    lines: tuple[SudoLine, ...] = ()


# ---------------------------------------------------------------- file modes


@frozen
class FileStat:
    path: str
    mode: int
    uid: int
    gid: int
    owner: str
    group: str
    kind: str

    @property
    def octal(self) -> str:
        return f"{self.mode:04o}"


@frozen
class FileModes:
    files: Mapping[str, FileStat | None]  # None: the path does not exist


@frozen
class AuditLogModes:
    directory: FileStat | None  # None: /var/log/audit does not exist
    files: tuple[FileStat, ...]


# ---------------------------------------------------------------- audit


@frozen
class Auditd:
    installed: bool
    running: bool
    enabled: int | None  # auditctl -s 'enabled': 0 off, 1 on, 2 on and locked
    rules: tuple[str, ...]


@frozen
class AuditConfig:
    auditd_conf: Mapping[str, str]
    remote_plugins: tuple[str, ...]  # active audisp-remote / au-remote plugins with a remote server
    syslog_forwarding: tuple[str, ...]  # rsyslog / syslog-ng forwarding lines, "file:line: text"
    journal_upload: str | None  # systemd-journal-upload URL


@frozen
class Journald:
    installed: bool
    storage: str  # effective Storage= setting ("auto" when unset)
    persistent_dir: bool  # /var/log/journal exists
    settings: Mapping[str, str]
    running: bool = False  # systemd-journald runs (systemd says so, or a root process runs its executable)
    running_how: str = ""  # how that was found out


# ---------------------------------------------------------------- time


@frozen
class TimeSync:
    synchronized: bool
    source: str  # which tool answered
    service: str  # the NTP client seen, or ""
    detail: Mapping[str, str]
    configured: bool = True  # False: no time synchronisation client is installed at all


# ---------------------------------------------------------------- storage


@frozen
class BlockDevice:
    name: str
    type: str
    fstype: str
    mountpoints: tuple[str, ...]
    ancestors: tuple[str, ...]  # names of the devices below this one, nearest first

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.ancestors)


@frozen
class BlockDevices:
    devices: tuple[BlockDevice, ...]

    def by_name(self, name: str) -> list[BlockDevice]:
        return [d for d in self.devices if d.name == name]

    def type_of(self, name: str) -> str:
        found = self.by_name(name)
        return found[0].type if found else ""


@frozen
class Mount:
    target: str
    source: str
    fstype: str
    options: str


@frozen
class Mounts:
    mounts: tuple[Mount, ...]

    def at(self, path: str) -> Mount | None:
        found = [m for m in self.mounts if m.target == path]
        return found[-1] if found else None


# ---------------------------------------------------------------- backups


@frozen
class BackupJob:
    """A backup that root scheduled: only root-owned schedules and root-run agents become a BackupJob."""

    kind: str  # cron, timer, agent
    where: str  # file:line, unit name or process
    tool: str
    text: str
    why: str = ""  # why it counts: who owns the schedule or runs the agent
    location: Location | None = None


@frozen
class BackupJobs:
    jobs: tuple[BackupJob, ...]
    unreadable: tuple[str, ...]  # places that could not be searched
    timers_listed: bool  # systemctl show answered for the timers
    ignored: tuple[str, ...] = ()  # backup-like entries that do not count, each with the reason


# ---------------------------------------------------------------- issue 14 part B: audit, encryption, restore tests


@frozen
class AuditdConf:
    """/etc/audit/auditd.conf as auditd reads it: ``key = value`` lines, keys lower case, the last one wins."""

    present: bool  # False: the file does not exist (auditd not installed)
    settings: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    locations: Mapping[str, Location] = field(default_factory=_no_locations)

    def location(self, key: str) -> Location:
        return self.locations.get(key) or Location("/etc/audit/auditd.conf")


@frozen
class AuditRuleLine(AtLine):
    text: str


@frozen
class AuditRuleFiles:
    """The persistent audit rules: /etc/audit/rules.d/*.rules (augenrules) and /etc/audit/audit.rules."""

    lines: tuple[AuditRuleLine, ...]
    files: tuple[str, ...]  # the rule files that exist

    def control(self, flag: str) -> tuple[AuditRuleLine, ...]:
        """The lines setting a control option such as ``-e``, in load order."""
        return tuple(r for r in self.lines if r.text.split()[:1] == [flag])


@frozen
class KernelCmdline:
    """The running kernel's command line (/proc/cmdline): parameters in order, ``name=value`` split."""

    params: tuple[tuple[str, str | None], ...]  # (name, value or None for a bare flag)

    def get(self, name: str) -> str | None:
        """The last value given for ``name`` (the kernel takes the last), "" for a bare flag, None if absent."""
        found = [v for n, v in self.params if n == name]
        if not found:
            return None
        return found[-1] if found[-1] is not None else ""


@frozen
class SetuidProgram:
    path: str
    mode: int
    owner: str
    group: str

    @property
    def octal(self) -> str:
        return f"{self.mode:04o}"


@frozen
class SetuidPrograms:
    """Setuid/setgid files found by a bounded ``find -xdev`` over the search roots."""

    programs: tuple[SetuidProgram, ...]
    roots: tuple[str, ...]  # the directories searched
    complete: bool  # False: the search hit its time or result cap, or some directories could not be read
    incomplete_why: str = ""
    cap_results: int = 0
    cap_seconds: float = 0.0
    depth: int = 0  # levels searched below each root


@frozen
class LogChannel:
    """One way logs leave the host: an rsyslog action, a syslog-ng destination, journal upload or audisp-remote."""

    kind: str  # rsyslog, syslog-ng, journal-upload, audisp-remote
    destination: str
    protocol: str  # udp, tcp, relp, https, http, krb5, ...
    tls: bool  # the transport is encrypted
    authenticated: bool  # the server's certificate (or Kerberos principal) is verified
    detail: str
    location: Location | None = None


@frozen
class SyslogDaemon:
    name: str  # rsyslog, syslog-ng
    installed: bool
    running: bool
    how: str


@frozen
class Syslog:
    """System logging: which syslog daemons exist and run, the modes they create files with, and forwarding."""

    daemons: tuple[SyslogDaemon, ...]
    file_create_mode: int | None  # rsyslog $FileCreateMode / module(... fileCreateMode=) / syslog-ng perm()
    file_create_mode_where: Location | None
    channels: tuple[LogChannel, ...]
    umask: int = 0  # the process umask rsyslog creates files under ($umask, else its unit's UMask; 0 when unknown)
    umask_how: str = ""  # where that umask comes from

    @property
    def created_mode(self) -> int | None:
        """The mode new log files get: the configured creation mode less the daemon's umask."""
        return None if self.file_create_mode is None else self.file_create_mode & ~self.umask

    @property
    def running(self) -> tuple[SyslogDaemon, ...]:
        return tuple(d for d in self.daemons if d.running)

    @property
    def installed(self) -> tuple[SyslogDaemon, ...]:
        return tuple(d for d in self.daemons if d.installed)


@frozen
class VarLog:
    """Owner and mode of /var/log and what lies under it (bounded depth and count)."""

    entries: tuple[FileStat, ...]
    complete: bool
    incomplete_why: str = ""


@frozen
class LogrotateRule:
    """What logrotate does with one log path: how often it rotates and how many old files it keeps."""

    path: str  # the path or glob as written
    rotate: int | None  # rotate N (None: logrotate's default of 0, old files are removed)
    period: str  # daily, weekly, monthly, yearly, size (rotated by size only) or "" (the global default)
    maxage: int | None
    location: Location

    @property
    def forever(self) -> bool:
        """``rotate -1`` without ``maxage``: old files are never removed."""
        return self.rotate == -1 and self.maxage is None

    @property
    def days(self) -> int | None:
        """How many days of old files are kept (rotate x period, capped by maxage); None when rotation is by size
        only (the age of the oldest file then depends on the log volume)."""
        if self.rotate == -1:
            return self.maxage
        per = {"hourly": 1 / 24, "daily": 1, "weekly": 7, "monthly": 30, "yearly": 365}.get(self.period)
        if per is None:
            return self.maxage
        kept = int((self.rotate or 0) * per)
        return min(kept, self.maxage) if self.maxage is not None else kept


@frozen
class Logrotate:
    installed: bool
    rules: tuple[LogrotateRule, ...]

    def for_path(self, path: str) -> LogrotateRule | None:
        import fnmatch

        found = [r for r in self.rules if r.path == path or fnmatch.fnmatchcase(path, r.path)]
        return found[-1] if found else None


@frozen
class Swap:
    name: str  # device or file
    type: str  # partition, file


@frozen
class Swaps:
    devices: tuple[Swap, ...]


@frozen
class CryptoPolicy:
    """The system-wide crypto policy of the RHEL family (/etc/crypto-policies)."""

    installed: bool
    configured: str  # /etc/crypto-policies/config, e.g. DEFAULT:SHA1
    applied: str  # /etc/crypto-policies/state/current: what update-crypto-policies last applied ("" if unknown)
    location: Location | None = None

    @property
    def effective(self) -> str:
        return self.applied or self.configured


@frozen
class SshClientConfig:
    """The effective OpenSSH client configuration for outbound connections (``ssh -G``, system files only)."""

    installed: bool
    options: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)

    def list(self, key: str) -> tuple[str, ...]:
        return tuple(v for value in self.options.get(key.lower(), ()) for v in value.split(",") if v)


@frozen
class RestoreTest:
    """When a restore from backup was last tested, from the record the policy declares (restore_test_record)."""

    declared: str | None  # "file", "command" or None
    source: str
    last_test: datetime | None
    now: datetime | None
    format: BackupStatusFormat | None = None
    matched: str = ""
    detail: str = ""


# ---------------------------------------------------------------- issue 14 part A: SSH files, accounts and access


@frozen
class SshdInclude(AtLine):
    """An ``Include`` directive of the sshd configuration and the files it matched on the host."""

    pattern: str  # as written (a relative pattern is relative to /etc/ssh)
    matched: tuple[str, ...]  # the files it matched, in the order sshd reads them


@frozen
class SshdFiles:
    """The files the sshd configuration is read from, where each keyword is first set, and the host private keys.

    ``sshd -T`` (``SshdConfig``) says what is in force; this says where it came from.
    """

    files: tuple[str, ...]  # sshd_config and every included file, in the order sshd reads them
    includes: tuple[SshdInclude, ...]
    set_at: Mapping[str, Location]  # keyword (lower case) -> where its first value outside a Match block is set
    file_stats: Mapping[str, FileStat]  # owner and mode of sshd_config and of every included file
    host_keys: Mapping[str, FileStat | None]  # private host key path (from sshd -T) -> owner and mode; None: missing
    not_collected: tuple[str, ...] = ()  # included files whose content the collector did not show

    def where(self, keyword: str) -> Location:
        """Where ``keyword`` is set (sshd_config alone when it is left at its compiled-in default)."""
        return self.set_at.get(keyword.lower()) or Location("/etc/ssh/sshd_config")


@frozen
class DotFile:
    path: str
    name: str  # the entry's name in the home directory
    mode: int
    owner: str
    kind: str  # "file", "directory", "symlink", ...


@frozen
class HomeDir:
    """One account's home directory, as ``stat`` shows it (never followed through a symlink)."""

    user: str
    uid: int
    path: str
    stat: FileStat | None  # None: the directory does not exist
    dot_files: tuple[DotFile, ...] = ()  # entries named .* directly in the home (capped per home)


@frozen
class Homes:
    homes: tuple[HomeDir, ...]
    accounts: int  # lines in /etc/passwd
    cap: int  # at most this many accounts were examined
    dot_file_cap: int  # at most this many dot files per home were listed

    @property
    def capped(self) -> bool:
        return self.accounts > len(self.homes)


@frozen
class UmaskSetting(AtLine):
    value: int  # the mask, e.g. 0o027


@frozen
class PathSetting(AtLine):
    """A PATH assignment (or sudo ``secure_path``, login.defs ``ENV_SUPATH``) and its directories, as written."""

    elements: tuple[str, ...]  # "$PATH" for a reference to the earlier value; "" for an empty element


@frozen
class LoginEnv:
    """Shell start-up files of all users and root: umask and PATH settings; /etc/securetty."""

    umasks: tuple[UmaskSetting, ...]
    paths: tuple[PathSetting, ...]
    dirs: Mapping[str, FileStat | None]  # every absolute PATH directory found -> its stat (followed); None: missing
    files: tuple[str, ...]  # the start-up files that exist
    securetty: tuple[tuple[int, str], ...] | None = None  # (line, tty) of /etc/securetty; None: no such file


@frozen
class PamServices:
    """Every file in /etc/pam.d, parsed into rules (a file that is no PAM configuration is kept with its error)."""

    rules: Mapping[str, tuple[PamRule, ...]]  # file -> its rules
    errors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # file -> why it did not parse

    def service(self, name: str) -> tuple[PamRule, ...] | None:
        return self.rules.get(f"/etc/pam.d/{name}")


@frozen
class HostClock:
    now: datetime  # the target's clock (UTC) when collected
