"""The Linux facts: what the Linux collector found on a host, as meaning.

The collector (``scanner/collectors/linux*.py``) builds these values from files and command output; the
checks in ``checks/linux/`` receive them by parameter name (``login_defs`` -> ``linux.login_defs``). Nothing
here knows a wire format: parsing lives in the collector.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType


def _empty() -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({})


# ---------------------------------------------------------------- sshd


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class PasswdEntry:
    name: str
    password: str  # the passwd field: 'x' means the shadow file holds it
    uid: int
    gid: int
    home: str
    shell: str


@dataclass(frozen=True)
class Passwd:
    entries: tuple[PasswdEntry, ...]


@dataclass(frozen=True)
class GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Groups:
    entries: tuple[GroupEntry, ...]


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Shadow:
    entries: tuple[ShadowEntry, ...]


# ---------------------------------------------------------------- login.defs, PAM


@dataclass(frozen=True)
class LoginDefs:
    values: Mapping[str, str]
    useradd: Mapping[str, str]  # /etc/default/useradd

    def int(self, key: str) -> int | None:
        """The setting as an integer; None when unset. A value that is no integer raises ValueError."""
        value = self.values.get(key)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{key} is not an integer: {value!r}") from None


@dataclass(frozen=True)
class PamRule:
    file: str
    line: int
    type: str  # auth, account, password, session
    control: str
    module: str  # e.g. pam_unix.so
    args: Mapping[str, str]  # 'remember=5' -> {'remember': '5'}; flags map to ''


@dataclass(frozen=True)
class Pam:
    rules: tuple[PamRule, ...]
    pwquality: Mapping[str, str]
    faillock: Mapping[str, str]
    pwhistory: Mapping[str, str]
    files: tuple[str, ...]  # the PAM stack files that exist

    def find(self, type_: str, *modules: str) -> tuple[PamRule, ...]:
        names = {m if m.endswith(".so") else m + ".so" for m in modules}
        return tuple(r for r in self.rules if r.type == type_ and r.module.rsplit("/", 1)[-1] in names)


# ---------------------------------------------------------------- sudoers


@dataclass(frozen=True)
class SudoLine:
    file: str
    line: int
    text: str


@dataclass(frozen=True)
class Sudoers:
    installed: bool
    lines: tuple[SudoLine, ...] = ()


# ---------------------------------------------------------------- file modes


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class FileModes:
    files: Mapping[str, FileStat | None]  # None: the path does not exist


@dataclass(frozen=True)
class AuditLogModes:
    directory: FileStat | None  # None: /var/log/audit does not exist
    files: tuple[FileStat, ...]


# ---------------------------------------------------------------- audit


@dataclass(frozen=True)
class Auditd:
    installed: bool
    running: bool
    enabled: int | None  # auditctl -s 'enabled': 0 off, 1 on, 2 on and locked
    rules: tuple[str, ...]


@dataclass(frozen=True)
class AuditConfig:
    auditd_conf: Mapping[str, str]
    remote_plugins: tuple[str, ...]  # active audisp-remote / au-remote plugins with a remote server
    syslog_forwarding: tuple[str, ...]  # rsyslog / syslog-ng forwarding lines, "file:line: text"
    journal_upload: str | None  # systemd-journal-upload URL


@dataclass(frozen=True)
class Journald:
    installed: bool
    storage: str  # effective Storage= setting ("auto" when unset)
    persistent_dir: bool  # /var/log/journal exists
    settings: Mapping[str, str]


# ---------------------------------------------------------------- time


@dataclass(frozen=True)
class TimeSync:
    synchronized: bool
    source: str  # which tool answered
    service: str  # the NTP client seen, or ""
    detail: Mapping[str, str]


# ---------------------------------------------------------------- storage


@dataclass(frozen=True)
class BlockDevice:
    name: str
    type: str
    fstype: str
    mountpoints: tuple[str, ...]
    ancestors: tuple[str, ...]  # names of the devices below this one, nearest first

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.ancestors)


@dataclass(frozen=True)
class BlockDevices:
    devices: tuple[BlockDevice, ...]

    def by_name(self, name: str) -> list[BlockDevice]:
        return [d for d in self.devices if d.name == name]

    def type_of(self, name: str) -> str:
        found = self.by_name(name)
        return found[0].type if found else ""


@dataclass(frozen=True)
class Mount:
    target: str
    source: str
    fstype: str
    options: str


@dataclass(frozen=True)
class Mounts:
    mounts: tuple[Mount, ...]

    def at(self, path: str) -> Mount | None:
        found = [m for m in self.mounts if m.target == path]
        return found[-1] if found else None


# ---------------------------------------------------------------- backups


@dataclass(frozen=True)
class BackupJob:
    kind: str  # cron, timer, agent
    where: str  # file:line, unit name or process
    tool: str
    text: str


@dataclass(frozen=True)
class BackupJobs:
    jobs: tuple[BackupJob, ...]
    unreadable: tuple[str, ...]  # places that could not be searched
    timers_listed: bool  # systemctl list-timers answered


@dataclass(frozen=True)
class BackupStatus:
    declared: str | None  # "command", "file" or None when the inventory declares neither
    source: str  # the command or path
    last_success: datetime | None
    now: datetime | None  # the target's clock when collected
    detail: str = ""
