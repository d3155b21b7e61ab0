"""Linux facts, gathered in one batched shell script per privilege level.

The script is built from the ``SECTIONS`` table: one section per fact, each showing files and running
probes. Every piece of output is framed by markers that start with a random per-run nonce, so no file
content can forge a section boundary. Each probe that runs a program, and each read of a file that is not a
regular file (a FIFO, a device), runs under coreutils ``timeout`` with the fact timeout and reports its own exit
code; a regular file's read ends at its size, under the batch's output bound and host timeout, and probes of shell
builtins only cannot block. A file or probe that two sections plan is read or run once, in a frame of its own, and
given to both (its output is in both facts' evidence). The collector only reads: no file is written on the target,
and the output goes back through the shell's own pipes.

Works unchanged over any ShellConnector (local, SSH): it only uses ``connector.run`` and ``is_root``.
"""
from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from scanner.collectors import FactSpec
from scanner.collectors import batch_failure as _batch_failure
from scanner.collectors.linux_accounts import (
    DOT_FILE_CAP,
    HOME_CAP,
    HOMES_PROBE,
    LOGIN_ENV_PROBE,
    PATH_DIRS_PROBE,
    SHADOW_REDACTED,
    parse_clock,
    parse_group,
    parse_homes,
    parse_login_env,
    parse_passwd,
    parse_shadow,
)
from scanner.collectors.linux_audit import (
    AUDIT_RULE_FILES,
    AUDITD_CONF,
    JOURNALD_DROPINS,
    parse_audit_config,
    parse_audit_log_modes,
    parse_audit_rule_files,
    parse_auditd,
    parse_auditd_conf,
    parse_journald,
    parse_kernel_cmdline,
    parse_setuid_programs,
    setuid_plan,
)
from scanner.collectors.linux_backup import (
    BACKUP_WORDS,
    CRON_DIRS,
    CRON_FILES,
    CRON_SCRIPT_NAMES,
    CRON_STAT,
    ENABLED_TIMERS_PROBE,
    TIMER_FILES,
    UNIT_DIRS,
    backup_status_plan,
    parse_backup_jobs,
    parse_backup_status,
    parse_restore_test,
    restore_test_plan,
)
from scanner.collectors.linux_common import PROCESSES_BY_EXE, UNITS_PROBE, ParseError, Probe, Section
from scanner.collectors.linux_crypto import (
    CRYPTO_POLICY_CONFIG,
    CRYPTO_POLICY_STATE,
    LSBLK_PROBE,
    SSH_CLIENT_PROBE,
    parse_block_devices,
    parse_crypto_policy,
    parse_mounts,
    parse_ssh_client,
    parse_swaps,
)
from scanner.collectors.linux_files import parse_file_modes, stat_each
from scanner.collectors.linux_logons import LASTLOG_CAP, LASTLOG_PROBE, parse_last_logons
from scanner.collectors.linux_logs import (
    LOGROTATE_PROBE,
    SYSLOG_BINARIES_PROBE,
    SYSLOG_FILES,
    VAR_LOG_PROBE,
    parse_logrotate,
    parse_syslog,
    parse_var_log,
)
from scanner.collectors.linux_password import (
    PAM_MODULES_PROBE,
    PAM_SERVICES_PROBE,
    PAM_STACKS,
    parse_login_defs,
    parse_pam,
    parse_pam_services,
)
from scanner.collectors.linux_ssh import (
    SSHD_CONFIG,
    SSHD_DROPINS,
    SSHD_HOSTKEYS_PROBE,
    SSHD_INCLUDES_PROBE,
    parse_sshd,
    parse_sshd_files,
)
from scanner.collectors.linux_sudo import parse_sudoers
from scanner.collectors.linux_system import parse_system
from scanner.collectors.linux_time import TIME_CLIENTS_PROBE, parse_time_sync
from scanner.connectors import CommandResult, ConnectorError
from scanner.model import Evidence, Fact, Target

DEFAULT_FACT_TIMEOUT = 10.0

Probes = tuple[tuple[str, str], ...]  # (label, shell command)

JOURNALD_BINARY_PROBE = "test -x /lib/systemd/systemd-journald || test -x /usr/lib/systemd/systemd-journald"
JOURNAL_DIR_PROBE = "test -d /var/log/journal"
LOGROTATE_BINARY_PROBE = "test -x /usr/sbin/logrotate || test -x /sbin/logrotate"
#: Probes made of shell builtins only: they run as ``quick`` (a subshell, no timeout process, no second shell).
BUILTIN_PROBES = frozenset({JOURNALD_BINARY_PROBE, JOURNAL_DIR_PROBE, LOGROTATE_BINARY_PROBE, PAM_MODULES_PROBE,
                            TIME_CLIENTS_PROBE, SYSLOG_BINARIES_PROBE, ENABLED_TIMERS_PROBE})


@dataclass(frozen=True)
class SectionSpec:
    name: str
    description: str
    parse: Callable[[Section, Target], object]
    files: tuple[str, ...] = ()  # paths or globs whose content is shown
    probes: Probes = ()
    needs_root: bool = False
    dynamic: Callable[[Target], tuple[tuple[str, ...], Probes]] | None = None  # files/probes from the inventory

    def plan(self, target: Target) -> tuple[tuple[str, ...], Probes]:
        return self.dynamic(target) if self.dynamic else (self.files, self.probes)


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("linux.system", "the system under test: host name, OS and version (os-release), kernel release and "
                "machine (uname)", parse_system, files=("/etc/os-release", "/usr/lib/os-release"),
                probes=(("uname", "@{uname} -n -r -m"),)),
    SectionSpec("linux.sshd_effective", "effective sshd configuration (sshd -T)", parse_sshd,
                probes=(("sshd_T", "@{sshd} -T"),), needs_root=True),
    SectionSpec("linux.passwd", "local accounts (/etc/passwd)", parse_passwd, files=("/etc/passwd",)),
    SectionSpec("linux.shadow", "password state and ageing per account (/etc/shadow, hashes redacted on the host)",
                parse_shadow, probes=(("shadow", SHADOW_REDACTED),), needs_root=True),
    SectionSpec("linux.group", "local groups (/etc/group)", parse_group, files=("/etc/group",)),
    SectionSpec("linux.login_defs", "login.defs and useradd defaults", parse_login_defs,
                files=("/etc/login.defs", "/etc/default/useradd")),
    SectionSpec("linux.pam", "PAM password/auth stacks, pwquality, faillock, pwhistory", parse_pam,
                files=(*PAM_STACKS, "/etc/security/pwquality.conf", "/etc/security/pwquality.conf.d/*.conf",
                       "/etc/security/faillock.conf", "/etc/security/pwhistory.conf"),
                probes=(("modules", PAM_MODULES_PROBE),)),
    SectionSpec("linux.sudoers", "sudoers and sudoers.d", parse_sudoers,
                files=("/etc/sudoers", "/etc/sudoers.d/*"), needs_root=True),
    SectionSpec("linux.file_modes", "owner and mode of the account files", parse_file_modes,
                probes=(("stat", stat_each("/etc/passwd /etc/passwd- /etc/group /etc/group- /etc/shadow "
                                            "/etc/shadow- /etc/gshadow /etc/gshadow-")),)),
    SectionSpec("linux.audit_log_modes", "owner and mode of /var/log/audit and its files", parse_audit_log_modes,
                probes=(("stat", stat_each("/var/log/audit /var/log/audit/*")),), needs_root=True),
    SectionSpec("linux.auditd", "auditd running (a root process of its executable), audit enabled, loaded audit "
                "rules", parse_auditd,
                probes=(("processes", PROCESSES_BY_EXE), ("auditctl_s", "@{auditctl} -s"),
                        ("auditctl_l", "@{auditctl} -l")), needs_root=True),
    SectionSpec("linux.audit_config", "auditd.conf, audisp remote plugins, syslog and journal forwarding",
                parse_audit_config, needs_root=True,
                files=("/etc/audit/auditd.conf", "/etc/audit/audisp-remote.conf", "/etc/audisp/audisp-remote.conf",
                       "/etc/audit/plugins.d/*.conf", "/etc/audisp/plugins.d/*.conf", "/etc/rsyslog.conf",
                       "/etc/rsyslog.d/*.conf", "/etc/syslog-ng/syslog-ng.conf", "/etc/syslog-ng/conf.d/*.conf",
                       "/etc/systemd/journal-upload.conf")),
    SectionSpec("linux.journald", "journald running, its storage settings and /var/log/journal", parse_journald,
                files=("/etc/systemd/journald.conf", *(d + "*.conf" for d in JOURNALD_DROPINS)),
                probes=(("journald_binary", JOURNALD_BINARY_PROBE), ("journal_dir", JOURNAL_DIR_PROBE),
                        ("units", UNITS_PROBE),
                        ("journald_process", PROCESSES_BY_EXE))),
    SectionSpec("linux.time_sync", "clock synchronisation (timedatectl, chronyc, ntpq)", parse_time_sync,
                probes=(("timedatectl", "@{timedatectl} show"), ("chronyc", "@{chronyc} -n tracking"),
                        ("ntpq", "@{ntpq} -pn"), ("clients", TIME_CLIENTS_PROBE))),
    SectionSpec("linux.block_devices", "block device tree (lsblk -J)", parse_block_devices,
                probes=(("lsblk", LSBLK_PROBE),)),
    SectionSpec("linux.mounts", "mounted filesystems (findmnt -J)", parse_mounts,
                probes=(("findmnt", "@{findmnt} -J -o TARGET,SOURCE,FSTYPE,OPTIONS"),)),
    SectionSpec("linux.backup_jobs", "backups root scheduled: system and root crontabs, cron scripts, system "
                "timers (systemctl show), backup agents by executable", parse_backup_jobs, files=CRON_FILES,
                needs_root=True,
                probes=(("cron_stat", stat_each(CRON_STAT)),
                        ("cron_scripts", f"@{{grep}} -H -I -i -E '{BACKUP_WORDS}' {CRON_DIRS} 2>/dev/null; "
                                         f"{CRON_SCRIPT_NAMES}; true"),
                        ("units", UNITS_PROBE),
                        ("enabled_timers", ENABLED_TIMERS_PROBE),
                        ("timer_files", stat_each(TIMER_FILES)),
                        ("unit_matches", f"@{{grep}} -H -i -E '^ExecStart.*({BACKUP_WORDS})' {UNIT_DIRS} "
                                         "2>/dev/null; true"),
                        ("processes", PROCESSES_BY_EXE))),
    SectionSpec("linux.backup_status", "last successful backup, from the status command or file the policy declares",
                parse_backup_status, dynamic=backup_status_plan),
    # issue 14 part B: audit logging, encryption, restore tests
    SectionSpec("linux.auditd_conf", "auditd.conf settings with their lines", parse_auditd_conf,
                files=(AUDITD_CONF,), needs_root=True),
    SectionSpec("linux.audit_rule_files", "persistent audit rules (rules.d, audit.rules)", parse_audit_rule_files,
                files=AUDIT_RULE_FILES, needs_root=True),
    SectionSpec("linux.kernel_cmdline", "kernel command line of the running kernel", parse_kernel_cmdline,
                files=("/proc/cmdline",)),
    SectionSpec("linux.setuid_programs", "setuid/setgid programs (bounded find -xdev over the search roots)",
                parse_setuid_programs, dynamic=setuid_plan, needs_root=True),
    SectionSpec("linux.syslog", "syslog daemons, the modes they create files with, log forwarding and its TLS",
                parse_syslog, files=SYSLOG_FILES, needs_root=True,
                probes=(("binaries", SYSLOG_BINARIES_PROBE), ("processes", PROCESSES_BY_EXE),
                        ("units", UNITS_PROBE))),
    SectionSpec("linux.var_log", "owner and mode of /var/log and what is under it (bounded)", parse_var_log,
                probes=(("find", VAR_LOG_PROBE),), needs_root=True),
    SectionSpec("linux.logrotate", "logrotate configuration: rotation and retention per log", parse_logrotate,
                probes=(("files", LOGROTATE_PROBE), ("logrotate_binary", LOGROTATE_BINARY_PROBE))),
    SectionSpec("linux.swaps", "active swap areas (/proc/swaps)", parse_swaps, files=("/proc/swaps",),
                probes=(("lsblk", LSBLK_PROBE),)),
    SectionSpec("linux.crypto_policy", "system-wide crypto policy (RHEL family)", parse_crypto_policy,
                files=(CRYPTO_POLICY_CONFIG, CRYPTO_POLICY_STATE)),
    SectionSpec("linux.ssh_client", "effective OpenSSH client configuration from the system files (ssh -G)",
                parse_ssh_client, probes=(("ssh_G", SSH_CLIENT_PROBE),)),
    SectionSpec("linux.restore_test", "last restore test, from the record the policy declares", parse_restore_test,
                dynamic=restore_test_plan),
    # issue 14 part A: SSH server files, accounts and access
    SectionSpec("linux.sshd_files", "sshd_config and its Include drop-ins (where each setting is made), owner and "
                "mode of those files and of the private host keys", parse_sshd_files, needs_root=True,
                files=(SSHD_CONFIG, SSHD_DROPINS),
                probes=(("includes", SSHD_INCLUDES_PROBE), ("hostkeys", SSHD_HOSTKEYS_PROBE))),
    SectionSpec("linux.homes", f"home directories and the dot files directly in them (first {HOME_CAP} accounts, "
                f"{DOT_FILE_CAP} dot files each; symlinks not followed)", parse_homes, needs_root=True,
                probes=(("homes", HOMES_PROBE),)),
    SectionSpec("linux.login_env", "umask and PATH of the shell start-up files (all users and root), ENV_SUPATH, "
                "sudo secure_path, the PATH directories, /etc/securetty", parse_login_env, needs_root=True,
                probes=(("files", LOGIN_ENV_PROBE), ("path_dirs", PATH_DIRS_PROBE))),
    SectionSpec("linux.pam_services", "every PAM service file in /etc/pam.d", parse_pam_services,
                probes=(("files", PAM_SERVICES_PROBE),)),
    SectionSpec("linux.sudo_files", "owner and mode of /etc/sudoers, /etc/sudoers.d and its files", parse_file_modes,
                probes=(("stat", stat_each("/etc/sudoers /etc/sudoers.d /etc/sudoers.d/*")),), needs_root=True),
    SectionSpec("linux.clock", "the host's clock (date +%s)", parse_clock, probes=(("now", "@{date} +%s"),)),
    # issue 17: the access review's last logon
    SectionSpec("linux.last_logons", f"last logon of each account from /var/log/lastlog (first {LASTLOG_CAP} "
                "accounts; terminal sessions of sshd and login, not command-only SSH sessions)", parse_last_logons,
                probes=(("lastlog", LASTLOG_PROBE),)),
)

SECTIONS_BY_NAME = {s.name: s for s in SECTIONS}
FACTS = {s.name: FactSpec(s.name, s.description, s.needs_root) for s in SECTIONS}

# ---------------------------------------------------------------- the batched script

#: Shell helpers. ``show`` prints files framed by markers: a regular file by ``cat`` alone (its read ends at its
#: size, and the batch's output bound and host timeout hold), anything else (a FIFO, a device) under timeout;
#: ``probe`` runs a shell command under timeout, with its stdout streamed, its exit code, then its stderr
#: (bounded); ``run`` is ``probe`` for one tool with fixed arguments, exec'd by timeout without a second shell
#: (a tool ``resolve`` did not find is "not found", exit 127, with nothing started);
#: ``quick`` is ``probe`` for a command of shell builtins only (``test``, ``printf``, ``for`` over fixed paths),
#: which cannot block on what it reads, run in a subshell without a timeout process; ``resolve`` finds a tool in
#: TOOL_DIRS only and sets ``X_<tool>`` to its absolute path (or to a path that does not exist, so the probe fails
#: as "not found"). Nothing reads the script's own stdin.
HELPERS = r"""
mark() { printf '\n%s %s %s\n' "$N" "$1" "$2"; }
show() {
  for f in "$@"; do
    case $f in *'*'*)
      d=${f%/*}
      if [ -d "$d" ] && { [ ! -r "$d" ] || [ ! -x "$d" ]; }; then mark UNREADABLE "$d"; fi
      continue;;
    esac
    if [ -d "$f" ]; then continue
    elif [ ! -e "$f" ]; then
      d=${f%/*}
      if [ -d "$d" ] && [ ! -x "$d" ]; then mark UNREADABLE "$f"; else mark MISSING "$f"; fi
    elif [ ! -r "$f" ]; then mark UNREADABLE "$f"
    else
      mark FILE "$f"
      if [ -f "$f" ]; then "$X_cat" -- "$f" </dev/null 2>/dev/null || mark FAILED "$f"
      else "$X_timeout" -k 2 "$T" "$X_cat" -- "$f" </dev/null 2>/dev/null || mark FAILED "$f"; fi
    fi
  done
}
resolve() {
  for d in $TOOL_DIRS; do
    if [ -f "$d/$1" ] && [ -x "$d/$1" ]; then eval "X_$1=\$d/\$1"; export "X_$1"; mark TOOL "$1 $d/$1"; return 0; fi
  done
  eval "X_$1=/nonexistent/gxpscan-refused/$1"; export "X_$1"; mark TOOL "$1 -"
}
probe() {
  mark PROBE "$1"
  { e=$("$X_timeout" -k 2 "$T" "$X_sh" -c "$2" </dev/null 2>&1 1>&3 3>&-); r=$?; } 3>&1
  mark RC "$1 $r"
  printf '%.4000s' "$e"
}
run() {
  pl=$1; shift
  mark PROBE "$pl"
  case $1 in /nonexistent/gxpscan-refused/*) mark RC "$pl 127"; printf '%s: not found' "${1##*/}"; return;; esac
  { e=$("$X_timeout" -k 2 "$T" "$@" </dev/null 2>&1 1>&3 3>&-); r=$?; } 3>&1
  mark RC "$pl $r"
  printf '%.4000s' "$e"
}
quick() {
  mark PROBE "$1"
  { e=$(eval "$2" </dev/null 2>&1 1>&3 3>&-); r=$?; } 3>&1
  mark RC "$1 $r"
  printf '%.4000s' "$e"
}
"""

_SAFE_PATH = re.compile(r"[A-Za-z0-9_./*+-]+")
#: Probes name the tools they run as ``@{tool}``; the script runs each by the absolute path ``resolve`` found in
#: these directories, never through root's (or anyone's) PATH.
TOOL_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
HELPER_TOOLS = ("timeout", "cat", "sh")
_TOOL = re.compile(r"@\{([a-z0-9]+)\}")
#: One tool with fixed words for arguments: exec'd by ``run`` without ``sh -c``.
_SIMPLE = re.compile(r"@\{([a-z0-9]+)\}((?: [A-Za-z0-9_.,+=%/:-]+)*)")


def _path_arg(path: str) -> str:
    return path if _SAFE_PATH.fullmatch(path) else shlex.quote(path)


def tools_of(probes: Probes) -> list[str]:
    return sorted({t for _, command in probes for t in _TOOL.findall(command)})


def section_template(files: Iterable[str], probes: Probes) -> str:
    """The section as the evidence source shows it: tools as ``@{tool}`` until their paths are known."""
    out = []
    files = tuple(files)
    if files:
        out.append("show " + " ".join(_path_arg(f) for f in files))
    out += [f"probe {label} {shlex.quote(command)}" for label, command in probes]
    return "\n".join(out)


def _probe_line(label: str, command: str) -> str:
    if command in BUILTIN_PROBES:
        return f"quick {label} {shlex.quote(command)}"
    simple = _SIMPLE.fullmatch(command)
    if simple:
        return f'run {label} "$X_{simple.group(1)}"{simple.group(2)}'
    if len(_TOOL.findall(command)) == 1:
        return f"quick {label} " + shlex.quote(_TOOL.sub(r'"$X_timeout" -k 2 "$T" "$X_\1"', command))
    return f"probe {label} " + shlex.quote(_TOOL.sub(r'"$X_\1"', command))


def section_body(files: Iterable[str], probes: Probes) -> str:
    """The section as the shell runs it: every ``@{tool}`` becomes the resolved absolute path ``"$X_tool"``; a
    probe of builtins only runs as ``quick``, one tool with fixed arguments as ``run``, builtins around one program
    as ``quick`` with that program under timeout (no second shell), any other as ``probe``."""
    files = tuple(files)
    out = ["show " + " ".join(_path_arg(f) for f in files)] if files else []
    return "\n".join(out + [_probe_line(label, command) for label, command in probes])


def with_tools(template: str, tools: dict[str, str]) -> str:
    """The evidence source with each tool's resolved absolute path (or why it was refused)."""
    return _TOOL.sub(lambda m: tools.get(m.group(1)) or f"<{m.group(1)}: not in {' '.join(TOOL_DIRS)}>", template)


SharedItem = tuple[str, str]  # ("file", path or glob) or ("probe", command)


def _items(plan: tuple[tuple[str, ...], Probes]) -> list[SharedItem]:
    files, probes = plan
    return [("file", f) for f in files] + [("probe", command) for _, command in probes]


def shared_items(plans: dict[str, tuple[tuple[str, ...], Probes]]) -> dict[SharedItem, str]:
    """The files and probes two or more sections of one batch would read or run: each is read or run once, in its
    own frame ``@shared.N`` ahead of the sections, and given to every section that plans it. Item -> frame name."""
    count: dict[SharedItem, int] = {}
    for plan in plans.values():
        for item in dict.fromkeys(_items(plan)):
            count[item] = count.get(item, 0) + 1
    return {item: f"@shared.{i}" for i, item in enumerate(i for i, n in count.items() if n > 1)}


def _own(plan: tuple[tuple[str, ...], Probes], shared: dict[SharedItem, str]) -> tuple[tuple[str, ...], Probes]:
    files, probes = plan
    return (tuple(f for f in files if ("file", f) not in shared),
            tuple((label, c) for label, c in probes if ("probe", c) not in shared))


def build_script(specs: Iterable[SectionSpec], target: Target, nonce: str,
                 fact_timeout: float) -> tuple[str, dict[str, str]]:
    """The whole batch script and, per fact, the section template that becomes its evidence source."""
    specs = list(specs)
    plans = {spec.name: spec.plan(target) for spec in specs}
    shared = shared_items(plans)
    tools = sorted(set(HELPER_TOOLS) | {t for _, probes in plans.values() for t in tools_of(probes)})
    parts = [
        # A fixed PATH, never the caller's: only a declared backup status command runs through it.
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH",
        "LC_ALL=C; export LC_ALL",
        f"N={nonce}; T={fact_timeout:g}; TOOL_DIRS='{' '.join(TOOL_DIRS)}'",
        HELPERS,
        "".join(f"resolve {t}; " for t in tools).strip(),
    ]
    labels = {("probe", c): label for plan in plans.values() for label, c in plan[1]}
    for (kind, what), frame in shared.items():
        body = section_body((what,), ()) if kind == "file" else section_body((), ((labels[kind, what], what),))
        parts += [f"mark BEGIN {frame}", body, f"mark END {frame}"]
    sources = {}
    for spec in specs:
        sources[spec.name] = section_template(*plans[spec.name])
        parts += [f"mark BEGIN {spec.name}", section_body(*_own(plans[spec.name], shared)), f"mark END {spec.name}"]
    return "\n".join(parts) + "\n", sources


# ---------------------------------------------------------------- reading the output back


@dataclass(frozen=True)
class RawSection:
    raw: bytes
    section: Section
    complete: bool


def resolved_tools(stdout: bytes, nonce: str) -> dict[str, str]:
    """tool -> the absolute path the script ran it by ("" when no standard directory holds it)."""
    marker = re.compile(rb"\n" + re.escape(nonce.encode()) + rb" TOOL ([a-z0-9]+) ([^\n]*)\n")
    return {m.group(1).decode(): ("" if m.group(2) == b"-" else m.group(2).decode("utf-8", "replace"))
            for m in marker.finditer(stdout)}


def split_output(stdout: bytes, nonce: str) -> dict[str, RawSection]:
    marker = re.compile(rb"\n" + re.escape(nonce.encode()) +
                        rb" (BEGIN|END|FILE|MISSING|UNREADABLE|FAILED|PROBE|RC|TOOL) ([^\n]*)\n")
    out: dict[str, RawSection] = {}
    state: dict[str, Any] = {}
    item: tuple[str, str] | None = None
    pos = 0

    def close_item(end: int) -> None:
        if item is None or not state:
            return
        kind, arg = item
        content = stdout[pos:end]
        if kind == "FILE":
            state["files"][arg] = content
        elif kind == "PROBE":
            state["out"][arg] = content
        elif kind == "ERR":
            label, _, rc = arg.rpartition(" ")
            state["probes"][label] = Probe(int(rc) if rc.lstrip("-").isdigit() else -1,
                                             state["out"].pop(label, b""), content)

    def finish(end: int, complete: bool) -> None:
        for label, content in state["out"].items():  # a probe cut off before its RC line
            state["probes"][label] = Probe(-1, content, b"")
        out[state["name"]] = RawSection(
            stdout[state["start"]:end],
            Section(dict(state["files"]), frozenset(state["unreadable"]), dict(state["probes"])), complete)

    for m in marker.finditer(stdout):
        kind, arg = m.group(1).decode(), m.group(2).decode("utf-8", "surrogateescape")
        close_item(m.start())
        item, pos = None, m.end()
        if kind == "BEGIN":
            state = {"name": arg, "start": m.end(), "files": {}, "unreadable": set(), "probes": {}, "out": {}}
        elif not state:
            continue
        elif kind == "END":
            finish(m.start(), complete=True)
            state = {}
        elif kind == "FILE":
            item = ("FILE", arg)
        elif kind == "MISSING":
            state["files"][arg] = None
        elif kind in ("UNREADABLE", "FAILED"):
            state["files"].pop(arg, None)
            state["unreadable"].add(arg)
        elif kind == "PROBE":
            item = ("PROBE", arg)
        elif kind == "RC":
            item = ("ERR", arg)
    if state:
        close_item(len(stdout))
        finish(len(stdout), complete=False)
    return out


# ---------------------------------------------------------------- collect


def _exit_code(section: Section) -> int:
    codes = [pr.rc for pr in section.probes.values() if pr.rc != 0]
    return codes[0] if codes else 0


def _with_shared(own: RawSection, plan: tuple[tuple[str, ...], Probes], shared: dict[SharedItem, str],
                 sections: dict[str, RawSection]) -> RawSection | None:
    """The section with the shared files and probes it planned; its raw output is theirs, then its own. The shared
    frames run before every section, so a section that is there has them all; output with none of them comes from a
    producer that did not share (a recording: each section shows its own), and is taken as it is; output with only
    some of them is refused (None)."""
    files: dict[str, bytes | None] = {}
    unreadable: set[str] = set()
    probes: dict[str, Probe] = {}
    planned = [("", ("file", f)) for f in plan[0]] + [(lb, ("probe", c)) for lb, c in plan[1]]
    planned = [(label, item) for label, item in planned if item in shared]
    present = [shared[item] in sections for _, item in planned]
    if not any(present):
        return own
    if not all(present):
        return None
    raws, complete = [], own.complete
    for label, item in planned:
        got = sections[shared[item]]
        files.update(got.section.files)
        unreadable |= got.section.unreadable
        if label:
            for probe in got.section.probes.values():
                probes[label] = probe
        raws.append(got.raw)
        complete = complete and got.complete
    files.update(own.section.files)
    unreadable |= own.section.unreadable
    probes.update(own.section.probes)
    return RawSection(b"".join([*raws, own.raw]), Section(files, frozenset(unreadable), probes), complete)


def facts_from_output(result: CommandResult, specs: list[SectionSpec], sources: dict[str, str],
                nonce: str, target: Target) -> dict[str, Fact]:
    sections = split_output(result.stdout, nonce)
    tools = resolved_tools(result.stdout, nonce)
    plans = {spec.name: spec.plan(target) for spec in specs}
    shared = shared_items(plans)
    facts = {}
    for spec in specs:
        got = sections.get(spec.name)
        if got is not None and shared:
            got = _with_shared(got, plans[spec.name], shared, sections)
        source = with_tools(sources[spec.name], tools)
        if got is None:
            facts[spec.name] = Fact.failed(spec.name, _batch_failure(result), (
                Evidence.of(source, result.stderr, exit_code=result.exit_code),))
            continue
        evidence = (Evidence.of(source, got.raw, exit_code=_exit_code(got.section)),)
        if not got.complete:
            facts[spec.name] = Fact.failed(spec.name, "section incomplete: " + _batch_failure(result), evidence)
            continue
        try:
            facts[spec.name] = Fact(spec.name, spec.parse(got.section, target), evidence)
        except ParseError as exc:
            facts[spec.name] = Fact.failed(spec.name, str(exc), evidence)
        except Exception as exc:  # a parser bug must fail closed too
            facts[spec.name] = Fact.failed(spec.name, f"parser failed: {type(exc).__name__}: {exc}", evidence)
    return facts


def run_batch(connector: Any, target: Target, specs: list[SectionSpec], *, become: bool) -> dict[str, Fact]:
    fact_timeout = float(target.opt("fact_timeout", DEFAULT_FACT_TIMEOUT))
    nonce = secrets.token_hex(16)
    script, sources = build_script(specs, target, nonce, fact_timeout)
    steps = sum(len(f) + len(pr) for f, pr in (s.plan(target) for s in specs))
    timeout = float(target.opt("host_timeout") or steps * (fact_timeout + 2) + 10)
    try:
        result = connector.run(script, timeout=timeout, become=become)
    except ConnectorError as exc:
        return {s.name: Fact.failed(s.name, f"connector error: {exc}") for s in specs}
    return facts_from_output(result, specs, sources, nonce, target)


def collect(connector: Any, target: Target, names: Iterable[str]) -> dict[str, Fact]:
    wanted = sorted(set(names))
    facts = {n: Fact.failed(n, "unknown Linux fact") for n in wanted if n not in SECTIONS_BY_NAME}
    specs = [SECTIONS_BY_NAME[n] for n in wanted if n in SECTIONS_BY_NAME]
    root = connector.is_root
    plain = [s for s in specs if root or not s.needs_root]
    rooted = [s for s in specs if not root and s.needs_root]
    if plain:
        facts.update(run_batch(connector, target, plain, become=False))
    if rooted and target.opt("become") == "sudo":
        facts.update(run_batch(connector, target, rooted, become=True))
    else:
        for s in rooted:
            facts[s.name] = Fact.failed(
                s.name, f"needs root: {s.description} is readable by root only; "
                        "scan as root or set 'become: sudo' on the target")
    return facts
