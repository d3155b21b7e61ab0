"""Audit trail: auditd state and rules, audit log modes, forwarding configuration, journald."""
from __future__ import annotations

import re

from scanner.collectors.linux_common import NOT_FOUND, ParseError, Section, config_lines, key_values, lines, processes
from scanner.collectors.linux_files import stat_lines
from scanner.facts.linux import AuditConfig, Auditd, AuditLogModes, Journald
from scanner.model import Target, freeze

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


def parse_auditd(section: Section, target: Target) -> Auditd:
    status, rules = section.probe("auditctl_s"), section.probe("auditctl_l")
    running = section.probe("auditd_running")
    if status.rc == NOT_FOUND:
        return Auditd(installed=False, running=False, enabled=None, rules=())
    if not running.ok and running.rc not in (1, 3):
        raise ParseError(running.reason("auditd process state"))
    enabled = None
    if status.ok:
        found = [int(m.group(1)) for line in lines(status.text()) if (m := re.match(r"enabled (\d)", line))]
        if not found:
            raise ParseError("auditctl -s printed no 'enabled' line")
        enabled = found[0]
    if not rules.ok and running.ok:
        raise ParseError(rules.reason("auditctl -l"))
    loaded = tuple(line.strip() for line in lines(rules.text())
                   if line.strip() and line.strip() != "No rules") if rules.ok else ()
    return Auditd(installed=True, running=running.ok, enabled=enabled, rules=loaded)


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
    active = section.probe("journald_active")
    state = active.text().strip()
    if active.ok and state == "active":
        return True, "systemctl is-active systemd-journald: active"
    if active.rc == 3 or state in ("inactive", "failed", "deactivating", "activating", "reloading"):
        return False, f"systemctl is-active systemd-journald: {state or 'exit ' + str(active.rc)}"
    found, partial = processes(section.probe("journald_process"))
    runs = [p for p in found if p.exe in JOURNALD_EXES and p.uid == "0"]
    if runs:
        return True, f"process {runs[0].pid} runs {runs[0].exe} as root"
    why = active.reason("systemctl is-active systemd-journald")
    if partial and "not been booted with systemd" not in (active.err + active.out).decode("utf-8", "replace"):
        raise ParseError(f"cannot tell whether systemd-journald runs: {why}, and some processes could not be "
                         "inspected")
    return False, f"{why}; no root process runs {' or '.join(JOURNALD_EXES)}"


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
