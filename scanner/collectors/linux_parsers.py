"""Typed values of the Linux facts and the parsers that build them from one section of collector output.

Every parser takes a ``Section`` (the files shown and the probes run for one fact) and returns a frozen
value, or raises ``ParseError`` with the reason. Parsers never guess: what they cannot read is an error.
"""
from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from scanner.model import Target, freeze

TIMEOUT_CODES = (124, 137)
NOT_FOUND = 127


class ParseError(ValueError):
    """The section's output could not be turned into the fact's value."""


# ---------------------------------------------------------------- section output


@dataclass(frozen=True)
class Probe:
    rc: int
    out: bytes
    err: bytes = b""

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def text(self) -> str:
        return self.out.decode("utf-8", "replace")

    def reason(self, label: str) -> str:
        if self.rc in TIMEOUT_CODES:
            return f"{label}: timed out"
        if self.rc == NOT_FOUND:
            return f"{label}: command not found"
        detail = (self.err or self.out).decode("utf-8", "replace").strip().splitlines()
        return f"{label}: exit {self.rc}" + (f": {detail[0][:200]}" if detail else "")


@dataclass(frozen=True)
class Section:
    """What the collector saw for one fact. ``files`` maps a path to its content (None: absent)."""

    files: Mapping[str, bytes | None] = field(default_factory=dict)
    unreadable: frozenset[str] = frozenset()
    probes: Mapping[str, Probe] = field(default_factory=dict)

    def text(self, path: str) -> str | None:
        data = self.files.get(path)
        return None if data is None else data.decode("utf-8", "replace")

    def present(self, prefix: str = "") -> list[str]:
        return sorted(p for p, d in self.files.items() if d is not None and p.startswith(prefix))

    def probe(self, label: str) -> Probe:
        try:
            return self.probes[label]
        except KeyError:
            raise ParseError(f"probe {label!r} produced no output") from None

    def require_readable(self, *prefixes: str) -> None:
        bad = sorted(p for p in self.unreadable if any(p.startswith(x) for x in prefixes))
        if bad:
            raise ParseError(f"cannot read {', '.join(bad)} (permission denied or failed)")


# ---------------------------------------------------------------- shared small parsers


def config_lines(text: str, comment: str = "#") -> list[tuple[int, str]]:
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line and not line.startswith(comment):
            out.append((n, line))
    return out


def key_values(text: str, sep: str | None = None, lower: bool = False) -> dict[str, str]:
    """``KEY VALUE`` (sep None) or ``key = value`` lines; the last occurrence wins."""
    out: dict[str, str] = {}
    for _, line in config_lines(text):
        if sep is None:
            parts = line.split(None, 1)
        elif sep in line:
            parts = [p.strip() for p in line.split(sep, 1)]
        else:
            parts = [line]
        key = parts[0].lower() if lower else parts[0]
        out[key] = parts[1].strip().strip('"') if len(parts) > 1 else ""
    return out


def to_int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ParseError(f"not an integer: {value!r}") from None


# ---------------------------------------------------------------- sshd


@dataclass(frozen=True)
class SshdConfig:
    installed: bool
    options: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, key: str, default: str = "") -> str:
        values = self.options.get(key.lower())
        return values[0] if values else default

    def list(self, key: str) -> tuple[str, ...]:
        return tuple(v for value in self.options.get(key.lower(), ()) for v in value.split(",") if v)


def parse_sshd(section: Section, target: Target) -> SshdConfig:
    probe = section.probe("sshd_T")
    if probe.rc == NOT_FOUND:
        return SshdConfig(installed=False)
    if not probe.ok:
        raise ParseError(probe.reason("sshd -T"))
    options: dict[str, list[str]] = {}
    for line in probe.text().splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and re.fullmatch(r"[a-z0-9]+", parts[0]):
            options.setdefault(parts[0], []).append(parts[1])
    for required in ("permitrootlogin", "passwordauthentication", "ciphers"):
        if required not in options:
            raise ParseError(f"sshd -T output has no {required!r}: not an sshd configuration dump")
    return SshdConfig(installed=True, options=freeze(options))


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


def _colon_rows(text: str, fields: int, what: str) -> list[list[str]]:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#") or line[:1] in "+-":
            continue  # NIS compat lines are not local accounts
        parts = line.split(":")
        if len(parts) != fields:
            raise ParseError(f"{what} line {n}: expected {fields} colon-separated fields, got {len(parts)}")
        rows.append(parts)
    return rows


def _file(section: Section, path: str) -> str:
    section.require_readable(path)
    text = section.text(path)
    if text is None:
        raise ParseError(f"{path} does not exist")
    return text


def parse_passwd(section: Section, target: Target) -> Passwd:
    rows = _colon_rows(_file(section, "/etc/passwd"), 7, "/etc/passwd")
    try:
        return Passwd(tuple(PasswdEntry(r[0], r[1], int(r[2]), int(r[3]), r[5], r[6]) for r in rows))
    except ValueError as exc:
        raise ParseError(f"/etc/passwd: bad uid or gid ({exc})") from None


def parse_group(section: Section, target: Target) -> Groups:
    rows = _colon_rows(_file(section, "/etc/group"), 4, "/etc/group")
    try:
        return Groups(tuple(GroupEntry(r[0], int(r[2]), tuple(m for m in r[3].split(",") if m)) for r in rows))
    except ValueError as exc:
        raise ParseError(f"/etc/group: bad gid ({exc})") from None


#: crypt(3) prefix -> scheme name. No prefix (13 characters) is traditional DES.
HASH_SCHEMES = {"1": "md5", "2a": "bcrypt", "2b": "bcrypt", "2y": "bcrypt", "5": "sha256", "6": "sha512",
                "7": "scrypt", "y": "yescrypt", "gy": "gost-yescrypt", "sha1": "sha1crypt", "md5": "sunmd5"}


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


def _hash_state(field_: str) -> tuple[str, str | None]:
    """The collector redacts hashes on the target: '$6$HASH', '!$y$HASH', 'HASH', '*', '!', ''."""
    locked = field_.startswith("!")
    body = field_.lstrip("!")
    if body == "":
        return ("disabled" if locked else "empty"), None
    if body.startswith("*"):
        return "disabled", None
    m = re.fullmatch(r"\$([^$]+)\$HASH", body)
    if m:
        scheme = HASH_SCHEMES.get(m.group(1), f"unknown(${m.group(1)}$)")
    elif body == "HASH":
        scheme = "des"
    else:
        raise ParseError("shadow password field is not in the redacted form the collector produces")
    return ("locked" if locked else "hash"), scheme


def parse_shadow(section: Section, target: Target) -> Shadow:
    probe = section.probe("shadow")
    if not probe.ok:
        raise ParseError(probe.reason("read /etc/shadow"))
    entries = []
    for r in _colon_rows(probe.text(), 9, "/etc/shadow"):
        state, scheme = _hash_state(r[1])
        entries.append(ShadowEntry(r[0], state, scheme, *(to_int(v) for v in r[2:8])))
    if not entries:
        raise ParseError("/etc/shadow is empty")
    return Shadow(tuple(entries))


# ---------------------------------------------------------------- login.defs, PAM


@dataclass(frozen=True)
class LoginDefs:
    values: Mapping[str, str]
    useradd: Mapping[str, str]  # /etc/default/useradd

    def int(self, key: str) -> int | None:
        return to_int(self.values.get(key))


def parse_login_defs(section: Section, target: Target) -> LoginDefs:
    values = key_values(_file(section, "/etc/login.defs"))
    section.require_readable("/etc/default/useradd")
    useradd = key_values(section.text("/etc/default/useradd") or "", sep="=")
    return LoginDefs(freeze(values), freeze(useradd))


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


#: The PAM files that hold the password and auth stacks on Debian/Ubuntu and on RHEL-like systems.
PAM_STACKS = ("/etc/pam.d/common-password", "/etc/pam.d/common-auth", "/etc/pam.d/common-account",
              "/etc/pam.d/system-auth", "/etc/pam.d/password-auth")


def _pam_rules(path: str, text: str) -> list[PamRule]:
    rules = []
    joined = re.sub(r"\\\n", " ", text)
    for n, line in config_lines(joined):
        if line.startswith("@include"):
            continue
        m = re.match(r"-?(\w+)\s+(\[[^\]]*\]|\S+)\s+(\S+)\s*(.*)$", line)
        if not m:
            raise ParseError(f"{path} line {n}: not a PAM rule: {line[:80]!r}")
        args = {}
        for tok in shlex.split(m.group(4), comments=True):
            k, _, v = tok.partition("=")
            args[k] = v
        rules.append(PamRule(path, n, m.group(1).lower(), m.group(2), m.group(3), freeze(args)))
    return rules


def _conf_dir(section: Section, main: str, dropins: str) -> dict[str, str]:
    values = key_values(section.text(main) or "", sep="=")
    for path in section.present(dropins):
        values.update(key_values(section.text(path) or "", sep="="))
    return values


def parse_pam(section: Section, target: Target) -> Pam:
    section.require_readable("/etc/pam.d", "/etc/security")
    files = tuple(p for p in PAM_STACKS if section.files.get(p) is not None)
    if not files:
        raise ParseError("none of the PAM stack files exists: " + ", ".join(PAM_STACKS))
    rules = [r for p in files for r in _pam_rules(p, section.text(p) or "")]
    return Pam(
        rules=tuple(rules),
        pwquality=freeze(_conf_dir(section, "/etc/security/pwquality.conf", "/etc/security/pwquality.conf.d/")),
        faillock=freeze(key_values(section.text("/etc/security/faillock.conf") or "", sep="=")),
        pwhistory=freeze(key_values(section.text("/etc/security/pwhistory.conf") or "", sep="=")),
        files=files,
    )


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


def _sudoers_included(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return "." not in name and not name.endswith("~")  # sudo skips such files in an includedir


def parse_sudoers(section: Section, target: Target) -> Sudoers:
    section.require_readable("/etc/sudoers")
    main = section.text("/etc/sudoers")
    if main is None:
        return Sudoers(installed=False)
    lines = []
    for path in ["/etc/sudoers"] + [p for p in section.present("/etc/sudoers.d/") if _sudoers_included(p)]:
        text = re.sub(r"\\\n", " ", section.text(path) or "")
        for n, line in config_lines(text, comment="\0"):
            if line.startswith("#") and not re.match(r"#include(dir)?\s", line):
                continue
            lines.append(SudoLine(path, n, line))
    return Sudoers(installed=True, lines=tuple(lines))


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


STAT_FORMAT = "%a|%u|%g|%U|%G|%F|%n"


def _stat_lines(text: str) -> dict[str, FileStat | None]:
    out: dict[str, FileStat | None] = {}
    for line in text.splitlines():
        if line.startswith("missing|"):
            out[line.split("|", 1)[1]] = None
            continue
        parts = line.split("|", 6)
        if len(parts) != 7:
            raise ParseError(f"unexpected stat output: {line[:80]!r}")
        try:
            out[parts[6]] = FileStat(parts[6], int(parts[0], 8), int(parts[1]), int(parts[2]),
                                     parts[3], parts[4], parts[5])
        except ValueError:
            raise ParseError(f"unexpected stat output: {line[:80]!r}") from None
    return out


def parse_file_modes(section: Section, target: Target) -> FileModes:
    probe = section.probe("stat")
    if not probe.ok:
        raise ParseError(probe.reason("stat"))
    files = _stat_lines(probe.text())
    if not files:
        raise ParseError("stat printed nothing")
    return FileModes(freeze(files))


@dataclass(frozen=True)
class AuditLogModes:
    directory: FileStat | None  # None: /var/log/audit does not exist
    files: tuple[FileStat, ...]


def parse_audit_log_modes(section: Section, target: Target) -> AuditLogModes:
    probe = section.probe("stat")
    if not probe.ok:
        raise ParseError(probe.reason("stat /var/log/audit"))
    stats = _stat_lines(probe.text())
    if "/var/log/audit" not in stats:
        raise ParseError("stat output does not mention /var/log/audit")
    directory = stats.pop("/var/log/audit")
    return AuditLogModes(directory, tuple(s for s in stats.values() if s is not None and s.kind != "directory"))


# ---------------------------------------------------------------- audit


@dataclass(frozen=True)
class Auditd:
    installed: bool
    running: bool
    enabled: int | None  # auditctl -s 'enabled': 0 off, 1 on, 2 on and locked
    rules: tuple[str, ...]


def parse_auditd(section: Section, target: Target) -> Auditd:
    status, rules = section.probe("auditctl_s"), section.probe("auditctl_l")
    running = section.probe("auditd_running")
    if status.rc == NOT_FOUND:
        return Auditd(installed=False, running=False, enabled=None, rules=())
    if not running.ok and running.rc not in (1, 3):
        raise ParseError(running.reason("auditd process state"))
    enabled = None
    if status.ok:
        m = re.search(r"^enabled (\d)", status.text(), re.M)
        if not m:
            raise ParseError("auditctl -s printed no 'enabled' line")
        enabled = int(m.group(1))
    if not rules.ok and running.ok:
        raise ParseError(rules.reason("auditctl -l"))
    lines = tuple(line.strip() for line in rules.text().splitlines()
                  if line.strip() and line.strip() != "No rules") if rules.ok else ()
    return Auditd(installed=True, running=running.ok, enabled=enabled, rules=lines)


@dataclass(frozen=True)
class AuditConfig:
    auditd_conf: Mapping[str, str]
    remote_plugins: tuple[str, ...]  # active audisp-remote / au-remote plugins with a remote server
    syslog_forwarding: tuple[str, ...]  # rsyslog / syslog-ng forwarding lines, "file:line: text"
    journal_upload: str | None  # systemd-journal-upload URL


_RSYSLOG_FORWARD = re.compile(
    r"""(^\S+\s+@@?\(?[\w\[\]:.-]+)|(type\s*=\s*"om(fwd|relp)")|(^\$ActionForward)|(:om(fwd|relp):)""")
_SYSLOG_NG_FORWARD = re.compile(r"\b(network|tcp6?|udp6?|syslog)\s*\(\s*\"?[\w.:-]+")


def parse_audit_config(section: Section, target: Target) -> AuditConfig:
    section.require_readable("/etc/audit", "/etc/audisp", "/etc/rsyslog", "/etc/syslog-ng")
    auditd_conf = key_values(section.text("/etc/audit/auditd.conf") or "", sep="=")
    remote_server = ""
    for path in ("/etc/audit/audisp-remote.conf", "/etc/audisp/audisp-remote.conf"):
        remote_server = key_values(section.text(path) or "", sep="=").get("remote_server", "") or remote_server
    plugins = []
    for path in section.present("/etc/audit/plugins.d/") + section.present("/etc/audisp/plugins.d/"):
        conf = key_values(section.text(path) or "", sep="=")
        if conf.get("active") == "yes" and "audisp-remote" in conf.get("path", "") and remote_server:
            plugins.append(f"{path}: remote_server={remote_server}")
    forwarding = []
    syslog_files = [p for p in section.present("/etc/rsyslog") if p.endswith(".conf")]
    for path in syslog_files:
        for n, line in config_lines(section.text(path) or ""):
            if _RSYSLOG_FORWARD.search(line):
                forwarding.append(f"{path}:{n}: {line}")
    for path in section.present("/etc/syslog-ng"):
        for n, line in config_lines(section.text(path) or ""):
            if line.startswith("destination") and _SYSLOG_NG_FORWARD.search(line):
                forwarding.append(f"{path}:{n}: {line}")
    upload = key_values(section.text("/etc/systemd/journal-upload.conf") or "", sep="=").get("URL") or None
    return AuditConfig(freeze(auditd_conf), tuple(plugins), tuple(forwarding), upload)


@dataclass(frozen=True)
class Journald:
    installed: bool
    storage: str  # effective Storage= setting ("auto" when unset)
    persistent_dir: bool  # /var/log/journal exists
    settings: Mapping[str, str]


JOURNALD_DROPINS = ("/usr/lib/systemd/journald.conf.d/", "/etc/systemd/journald.conf.d/",
                    "/run/systemd/journald.conf.d/")


def parse_journald(section: Section, target: Target) -> Journald:
    section.require_readable("/etc/systemd")
    installed = section.probe("journald_binary").ok or section.files.get("/etc/systemd/journald.conf") is not None
    if not installed:
        return Journald(False, "", False, freeze({}))
    settings = key_values(section.text("/etc/systemd/journald.conf") or "", sep="=")
    dropins = sorted((p for d in JOURNALD_DROPINS for p in section.present(d) if p.endswith(".conf")),
                     key=lambda p: p.rsplit("/", 1)[-1])
    for path in dropins:
        settings.update(key_values(section.text(path) or "", sep="="))
    settings.pop("[Journal]", None)
    journal_dir = section.probe("journal_dir")
    if journal_dir.rc not in (0, 1):
        raise ParseError(journal_dir.reason("test -d /var/log/journal"))
    return Journald(True, settings.get("Storage", "auto").lower(), journal_dir.ok, freeze(settings))


# ---------------------------------------------------------------- time


@dataclass(frozen=True)
class TimeSync:
    synchronized: bool
    source: str  # which tool answered
    service: str  # the NTP client seen, or ""
    detail: Mapping[str, str]


def parse_time_sync(section: Section, target: Target) -> TimeSync:
    reasons = []
    td = section.probe("timedatectl")
    if td.ok:
        values = key_values(td.text(), sep="=")
        if "NTPSynchronized" not in values:
            raise ParseError("timedatectl show printed no NTPSynchronized")
        return TimeSync(values["NTPSynchronized"] == "yes", "timedatectl", values.get("NTP", ""),
                        freeze({k: values.get(k, "") for k in ("NTP", "NTPSynchronized", "Timezone")}))
    reasons.append(td.reason("timedatectl show"))
    chrony = section.probe("chronyc")
    if chrony.ok:
        values = key_values(chrony.text(), sep=":")
        leap = values.get("Leap status", "")
        if not leap:
            raise ParseError("chronyc tracking printed no 'Leap status'")
        return TimeSync(leap == "Normal", "chronyc", "chronyd",
                        freeze({k: values.get(k, "") for k in ("Reference ID", "Leap status", "System time")}))
    reasons.append(chrony.reason("chronyc tracking"))
    ntpq = section.probe("ntpq")
    if ntpq.ok:
        peers = [line for line in ntpq.text().splitlines() if line[:1] in "*o"]
        return TimeSync(bool(peers), "ntpq", "ntpd", freeze({"system_peer": peers[0] if peers else ""}))
    reasons.append(ntpq.reason("ntpq -pn"))
    raise ParseError("no time synchronisation source could be queried: " + "; ".join(reasons))


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


def _json(probe: Probe, label: str) -> Any:
    if not probe.ok:
        raise ParseError(probe.reason(label))
    try:
        return json.loads(probe.out)
    except ValueError as exc:
        raise ParseError(f"{label}: not JSON ({exc})") from None


def parse_block_devices(section: Section, target: Target) -> BlockDevices:
    data = _json(section.probe("lsblk"), "lsblk -J")
    if not isinstance(data, dict) or not isinstance(data.get("blockdevices"), list):
        raise ParseError("lsblk -J: no 'blockdevices' list")
    out: list[BlockDevice] = []

    def walk(nodes: list[dict[str, Any]], parents: tuple[str, ...]) -> None:
        for node in nodes:
            mps = node.get("mountpoints") or ([node.get("mountpoint")] if "mountpoint" in node else [])
            name = str(node.get("name") or "")
            out.append(BlockDevice(name, str(node.get("type") or ""), str(node.get("fstype") or ""),
                                   tuple(m for m in mps if m), parents))
            walk(node.get("children") or [], (name, *parents))

    walk(data["blockdevices"], ())
    return BlockDevices(tuple(out))


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


def parse_mounts(section: Section, target: Target) -> Mounts:
    data = _json(section.probe("findmnt"), "findmnt -J")
    if not isinstance(data, dict) or not isinstance(data.get("filesystems"), list):
        raise ParseError("findmnt -J: no 'filesystems' list")
    out: list[Mount] = []

    def walk(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            out.append(Mount(str(node.get("target") or ""), str(node.get("source") or ""),
                             str(node.get("fstype") or ""), str(node.get("options") or "")))
            walk(node.get("children") or [])

    walk(data["filesystems"])
    return Mounts(tuple(out))


# ---------------------------------------------------------------- backups


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


def backup_tool(text: str) -> str | None:
    low = text.lower()
    if any(x in low for x in NOT_BACKUPS):
        return None
    for tool, words in BACKUP_TOOLS.items():
        if any(re.search(rf"(?<![a-z0-9]){re.escape(w)}", low) for w in words):
            return tool
    return None


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


CRON_FILES = ("/etc/crontab", "/etc/anacrontab", "/etc/cron.d/", "/var/spool/cron/")


def _cron_jobs(section: Section) -> list[BackupJob]:
    jobs = []
    for path in sorted(p for pre in CRON_FILES for p in section.present(pre)):
        for n, line in config_lines(section.text(path) or ""):
            if re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*=", line):
                continue  # variable assignment
            tool = backup_tool(line)
            if tool:
                jobs.append(BackupJob("cron", f"{path}:{n}", tool, line))
    for line in section.probe("cron_scripts").text().splitlines():
        path, _, content = line.partition(":")
        tool = None if content.strip().startswith("#") else backup_tool(line)
        if tool and "/etc/cron." in path:
            jobs.append(BackupJob("cron", path, tool, content.strip() or path))
    return jobs


def _service_tools(section: Section) -> dict[str, str]:
    """Service units whose ExecStart runs a backup tool (``grep -H`` lines: path:ExecStart=...)."""
    services = {}
    for line in section.probe("unit_matches").text().splitlines():
        path, _, content = line.partition(":")
        tool = backup_tool(content)
        if tool:
            services[path.rsplit("/", 1)[-1]] = tool
    return services


def _timer_jobs(section: Section) -> tuple[list[BackupJob], bool]:
    jobs, names = [], set()
    listed = section.probe("timers")
    for line in listed.text().splitlines() if listed.ok else ():
        names.update(tok for tok in line.split() if tok.endswith(".timer"))
    names.update(n.strip() for n in section.probe("enabled_timers").text().splitlines() if n.strip())
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
    for name in sorted({p.strip() for p in procs.text().splitlines()}):
        if name.lower() in BACKUP_DAEMONS:
            jobs.append(BackupJob("agent", name, BACKUP_DAEMONS[name.lower()], "running backup agent"))
    return BackupJobs(tuple(jobs), tuple(sorted(section.unreadable)), listed)


@dataclass(frozen=True)
class BackupStatus:
    declared: str | None  # "command", "file" or None when the inventory declares neither
    source: str  # the command or path
    last_success: datetime | None
    now: datetime | None  # the target's clock when collected
    detail: str = ""


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")


def find_timestamp(text: str) -> datetime | None:
    """The first ISO-8601 (naive means UTC) or else epoch-seconds timestamp in a status text."""
    for m in _ISO.finditer(text):
        try:
            ts = datetime.fromisoformat(m.group(0).replace("Z", "+00:00"))
        except ValueError:
            continue
        return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
    m = re.search(r"(?<![\d.:-])(1\d{9}|2\d{9})(?![\d:-])", text)
    return datetime.fromtimestamp(int(m.group(1)), timezone.utc) if m else None


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
