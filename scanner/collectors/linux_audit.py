"""Audit trail: auditd state and rules, audit log modes, forwarding configuration, journald."""
from __future__ import annotations

import re
import shlex

from scanner.collectors.linux_common import (
    NOT_FOUND,
    TIMEOUT_CODES,
    ParseError,
    Section,
    config_lines,
    fields,
    key_values,
    lines,
    processes,
    runs_as_root,
    settings,
    unit_state,
)
from scanner.collectors.linux_files import stat_lines
from scanner.facts.linux import (
    AuditConfig,
    Auditd,
    AuditdConf,
    AuditLogModes,
    AuditRuleFiles,
    AuditRuleLine,
    Journald,
    KernelCmdline,
    SetuidProgram,
    SetuidPrograms,
)
from scanner.model import Location, Target, freeze

JOURNALD_DROPINS = ("/usr/lib/systemd/journald.conf.d/", "/etc/systemd/journald.conf.d/",
                    "/run/systemd/journald.conf.d/")


def parse_audit_log_modes(section: Section, target: Target) -> AuditLogModes:
    probe = section.probe("stat")
    if not probe.ok:
        raise ParseError(probe.reason("stat /var/log/audit"))
    stats = stat_lines(probe.text())
    if "/var/log/audit" not in stats:
        raise ParseError("stat output does not mention /var/log/audit")
    directory = stats.pop("/var/log/audit")
    return AuditLogModes(directory, tuple(s for s in stats.values() if s is not None and s.kind != "directory"))


#: Where the audit daemon is installed (Debian: /sbin, merged /usr: /usr/sbin).
AUDITD_EXES = ("/sbin/auditd", "/usr/sbin/auditd")


def parse_auditd(section: Section, target: Target) -> Auditd:
    status, rules = section.probe("auditctl_s"), section.probe("auditctl_l")
    if status.rc == NOT_FOUND:
        return Auditd(installed=False, running=False, enabled=None, rules=())
    running = runs_as_root(section.probe("processes"), AUDITD_EXES, "auditd") is not None
    enabled = None
    if status.ok:
        found = [int(m.group(1)) for line in lines(status.text()) if (m := re.match(r"enabled (\d)", line))]
        if not found:
            raise ParseError("auditctl -s printed no 'enabled' line")
        enabled = found[0]
    if not rules.ok and running:
        raise ParseError(rules.reason("auditctl -l"))
    loaded = tuple(line.strip() for line in lines(rules.text())
                   if line.strip() and line.strip() != "No rules") if rules.ok else ()
    return Auditd(installed=True, running=running, enabled=enabled, rules=loaded)


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


#: Where systemd installs the journal daemon.
JOURNALD_EXES = ("/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald")


def journald_running(section: Section) -> tuple[bool, str]:
    """Whether systemd-journald runs, and how that is known. Raises ParseError when it cannot be found out."""
    state, how = unit_state(section, "systemd-journald.service")
    if state == "active":
        return True, how
    if state in ("inactive", "failed", "deactivating", "activating", "reloading"):
        return False, how
    found, partial = processes(section.probe("journald_process"))
    runs = [p for p in found if p.exe in JOURNALD_EXES and p.uid == "0"]
    if runs:
        return True, f"process {runs[0].pid} runs {runs[0].exe} as root"
    units = section.probe("units")
    if partial and "not been booted with systemd" not in (units.err + units.out).decode("utf-8", "replace"):
        raise ParseError(f"cannot tell whether systemd-journald runs: {how}, and some processes could not be "
                         "inspected")
    return False, f"{how}; no root process runs {' or '.join(JOURNALD_EXES)}"


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
    running, how = journald_running(section)
    return Journald(True, settings.get("Storage", "auto").lower(), journal_dir.ok, freeze(settings), running, how)


# ------------------------------------------------------------- issue 14 part B: auditd.conf, rule files, boot, setuid

AUDITD_CONF = "/etc/audit/auditd.conf"
AUDIT_RULE_FILES = ("/etc/audit/audit.rules", "/etc/audit/rules.d/*.rules")


def parse_auditd_conf(section: Section, target: Target) -> AuditdConf:
    """auditd.conf: ``key = value``; auditd compares keys case-insensitively and takes values as written."""
    section.require_readable("/etc/audit")
    text = section.text(AUDITD_CONF)
    if text is None:
        return AuditdConf(False)
    found = settings(text, sep="=", lower=True)
    for key, (_value, n) in found.items():
        if not re.fullmatch(r"[a-z0-9_]+", key):
            raise ParseError(f"{AUDITD_CONF}:{n}: not a 'key = value' line: {key[:60]!r}")
    return AuditdConf(True, freeze({k: v for k, (v, _) in found.items()}),
                      freeze({k: Location(AUDITD_CONF, n) for k, (_, n) in found.items()}))


def parse_audit_rule_files(section: Section, target: Target) -> AuditRuleFiles:
    """The persistent rules in the order augenrules loads them: rules.d by file name, then audit.rules itself when
    rules.d is empty (augenrules writes audit.rules from rules.d)."""
    section.require_readable("/etc/audit")
    ruled = sorted((p for p in section.present("/etc/audit/rules.d/") if p.endswith(".rules")),
                   key=lambda p: p.rsplit("/", 1)[-1])
    files = ruled or [p for p in ("/etc/audit/audit.rules",) if section.text(p) is not None]
    out = []
    for path in files:
        for n, line in config_lines(section.text(path) or ""):
            if not line.startswith("-"):
                raise ParseError(f"{path}:{n}: not an audit rule or control line: {line[:60]!r}")
            out.append(AuditRuleLine(path, n, line))
    return AuditRuleFiles(tuple(out), tuple(files))


def parse_kernel_cmdline(section: Section, target: Target) -> KernelCmdline:
    text = section.file("/proc/cmdline")
    if "\n" in text.rstrip("\n") or "\0" in text:
        raise ParseError("/proc/cmdline holds more than one line")
    params: list[tuple[str, str | None]] = []
    for word in fields(text.rstrip("\n")):
        name, eq, value = word.partition("=")
        params.append((name, value if eq else None))
    if not params:
        raise ParseError("/proc/cmdline is empty")
    return KernelCmdline(tuple(params))


#: Where setuid/setgid programs are looked for by default: the directories packages and sites install programs
#: into (not /usr/share or /usr/include, which hold data and headers). A search of every local filesystem
#: (``setuid_search_roots: ["/"]`` with a larger ``setuid_search_depth``) can take many seconds on a large host.
SETUID_SEARCH_ROOTS = ("/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/local", "/bin", "/sbin",
                       "/opt")
#: How deep below each root the search goes by default (``setuid_search_depth``): package helpers sit at most
#: three levels below /usr/lib (/usr/lib/x86_64-linux-gnu/utempter/utempter). On the Debian 12 machine these
#: tests were written on this searches 8,300 of the 145,000 entries under /usr and finds the same 18 programs.
SETUID_SEARCH_DEPTH = 3
#: The caps of that search: at most this many results, and this many seconds.
SETUID_MAX_RESULTS = 2000
SETUID_MAX_SECONDS = 5


def setuid_plan(target: Target) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """One bounded ``find -xdev -maxdepth N`` over the search roots that exist (symlinked roots such as a merged /bin
    are the
    directory they point to and are skipped). Output: ``root PATH``, then ``MODE OWNER GROUP PATH`` per program,
    then ``find-exit RC``, all NUL-terminated, cut after SETUID_MAX_RESULTS programs."""
    roots = [str(r) for r in target.policy.get("setuid_search_roots", SETUID_SEARCH_ROOTS)]
    depth = target.policy.get("setuid_search_depth", SETUID_SEARCH_DEPTH)
    depth = depth if isinstance(depth, int) and not isinstance(depth, bool) and depth > 0 else SETUID_SEARCH_DEPTH
    quoted = " ".join(shlex.quote(r) for r in roots)
    command = (f"set --; for r in {quoted}; do if [ -d \"$r\" ] && [ ! -L \"$r\" ]; then set -- \"$@\" \"$r\"; fi; "
               "done; { printf 'root %s\\0' \"$@\"; if [ $# -gt 0 ]; then "
               f"@{{timeout}} -k 1 {SETUID_MAX_SECONDS} @{{find}} \"$@\" -xdev -maxdepth {depth} -type f -perm /6000 "
               "-printf '%m %u %g %p\\0' 2>/dev/null; printf 'find-exit %s\\0' \"$?\"; "
               "else printf 'find-exit 0\\0'; fi; } "
               f"| @{{head}} -z -n {SETUID_MAX_RESULTS + len(roots) + 1}")
    return (), (("find", command),)


def parse_setuid_programs(section: Section, target: Target) -> SetuidPrograms:
    roots = tuple(str(r) for r in target.policy.get("setuid_search_roots", SETUID_SEARCH_ROOTS))
    bad = [r for r in roots if not r.startswith("/")]
    if bad:
        raise ParseError(f"setuid_search_roots must be absolute paths: {', '.join(bad)}")
    depth = target.policy.get("setuid_search_depth", SETUID_SEARCH_DEPTH)
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ParseError(f"setuid_search_depth must be a whole number of levels, at least 1: {depth!r}")
    probe = section.probe("find")
    if not probe.ok:
        raise ParseError(probe.reason("find setuid/setgid programs"))
    searched: list[str] = []
    programs: list[SetuidProgram] = []
    exit_code: int | None = None
    for record in probe.out.split(b"\0"):
        text = record.decode("utf-8", "surrogateescape")
        if not text:
            continue
        if text.startswith("root "):
            searched.append(text[5:])
        elif text.startswith("find-exit "):
            exit_code = int(text[10:]) if text[10:].isdigit() else -1
        else:
            parts = text.split(" ", 3)
            if len(parts) != 4 or not re.fullmatch(r"[0-7]{1,5}", parts[0]) or not parts[3].startswith("/"):
                raise ParseError(f"unexpected find output: {text[:80]!r}")
            programs.append(SetuidProgram(parts[3], int(parts[0], 8), parts[1], parts[2]))
    why = ""
    if len(programs) > SETUID_MAX_RESULTS:
        programs = programs[:SETUID_MAX_RESULTS]
        why = f"more than {SETUID_MAX_RESULTS} setuid/setgid files (result cap)"
    elif exit_code is None:
        why = "the search output ended early"
    elif exit_code in TIMEOUT_CODES:
        why = f"the search took longer than {SETUID_MAX_SECONDS} s (time cap)"
    elif exit_code != 0:
        why = f"find exit {exit_code}: some directories could not be searched"
    return SetuidPrograms(tuple(programs), tuple(searched), not why, why, SETUID_MAX_RESULTS,
                          float(SETUID_MAX_SECONDS), depth)
