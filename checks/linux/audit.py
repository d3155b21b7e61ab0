"""Audit trail: auditd running with the right rules, protected logs, a copy off the host, persistent journal."""
from __future__ import annotations

import re
from typing import Any

from checks.linux._common import mode_problems
from scanner.facts.linux import AuditConfig, Auditd, AuditLogModes, Journald
from scanner.model import Finding, error, failed, not_applicable, passed
from scanner.registry import check

#: What the loaded rules must cover: name -> patterns, any of which is enough (auditctl -l syntax).
AUDIT_COVERAGE = {
    "identity files": (r"(-w |path=)/etc/passwd\b", r"(-w |path=)/etc/group\b", r"(-w |path=)/etc/shadow\b"),
    "sudoers": (r"(-w |path=|dir=)/etc/sudoers\b",),
    "time changes": (r"-S [\w,]*(adjtimex|settimeofday|clock_settime)",),
    "logins": (r"(-w |path=|dir=)(/var/log/lastlog|/var/run/faillock|/run/faillock|/var/log/faillog|"
               r"/var/log/wtmp|/var/log/btmp)",),
    "privileged commands": (r"perm=x", r"-w \S+ -p [rwa]*x", r"-S [\w,]*execve"),
}
#: Categories where every pattern must match (the others need any one).
ALL_REQUIRED = {"identity files"}


@check(id="linux.audit.auditd_active", title="The audit daemon is running", severity="high", area="audit_logging",
       criterion="auditd is running and kernel auditing is enabled (auditctl -s enabled 1 or 2).",
       remediation="Install auditd (the audit package), enable and start it (systemctl enable --now auditd) and "
                   "make sure the kernel is not booted with audit=0.")
def auditd_active(auditd: Auditd) -> Finding:
    observed: dict[str, Any] = {"installed": auditd.installed, "running": auditd.running, "enabled": auditd.enabled}
    if not auditd.installed:
        return failed("auditd", "auditd is not installed (auditctl not found)", **observed)
    if not auditd.running:
        return failed("auditd", "auditd is not running", **observed)
    if auditd.enabled is None:
        return error("auditd", "auditd runs but the kernel audit status could not be read", **observed)
    if auditd.enabled in (1, 2):
        return passed("auditd", f"auditd running, auditing enabled ({auditd.enabled})", **observed)
    return failed("auditd", "auditd runs but kernel auditing is disabled (enabled 0)", **observed)


def coverage(rules: tuple[str, ...]) -> dict[str, bool]:
    text = "\n".join(rules)
    out = {}
    for name, patterns in AUDIT_COVERAGE.items():
        hits = [bool(re.search(p, text)) for p in patterns]
        out[name] = all(hits) if name in ALL_REQUIRED else any(hits)
    return out


@check(id="linux.audit.rules", title="Audit rules cover security-relevant events", severity="high",
       area="audit_logging",
       criterion="Loaded audit rules watch identity files, sudoers, time changes, login records and the use of "
                 "privileged commands.",
       remediation="Add rules under /etc/audit/rules.d/ that watch /etc/passwd, /etc/group, /etc/shadow and "
                   "/etc/sudoers, the time-setting system calls, the login records and execution of privileged "
                   "programs, then load them with augenrules --load.")
def rules(auditd: Auditd) -> Finding:
    if not auditd.installed or not auditd.running:
        return failed("audit rules", "no audit rules are loaded: auditd is not running",
                      installed=auditd.installed, running=auditd.running)
    covered = coverage(auditd.rules)
    missing = [k for k, ok in covered.items() if not ok]
    observed: dict[str, Any] = {"rules": len(auditd.rules), "covered": covered}
    if missing:
        return failed("audit rules", f"audit rules do not cover: {', '.join(missing)}", **observed)
    return passed("audit rules", f"{len(auditd.rules)} rules cover all required events", **observed)


@check(id="linux.audit.log_perms", title="Audit logs are protected", severity="medium", area="audit_logging",
       criterion="/var/log/audit is root-owned mode 0750 or stricter; its files are root-owned, mode 0640 or "
                 "stricter, group root or adm.",
       remediation="chown root:root /var/log/audit; chmod 0750 /var/log/audit; chmod 0640 the files in it, and set "
                   "log_group in /etc/audit/auditd.conf to root or adm.")
def log_perms(audit_log_modes: AuditLogModes) -> list[Finding]:
    directory = audit_log_modes.directory
    if directory is None:
        return [not_applicable("/var/log/audit", "/var/log/audit does not exist (auditd not installed; "
                                                 "see linux.audit.auditd_active)")]
    findings = []
    for st, max_mode in [(directory, 0o750)] + [(f, 0o640) for f in audit_log_modes.files]:
        problems = mode_problems(st, max_mode, ("root", "adm"))
        observed: dict[str, Any] = {"mode": st.octal, "owner": st.owner, "group": st.group}
        if problems:
            findings.append(failed(st.path, f"{st.path}: {'; '.join(problems)}", **observed))
        else:
            findings.append(passed(st.path, f"{st.path} is {st.octal} {st.owner}:{st.group}", **observed))
    return findings


@check(id="linux.audit.remote_forwarding", title="Audit records leave the host", severity="medium",
       area="audit_logging",
       criterion="Audit or system logs are forwarded off the host (audisp-remote, rsyslog/syslog-ng forwarding or "
                 "systemd-journal-upload).",
       remediation="Send the audit trail to a central log server: enable the audisp-remote plugin with a "
                   "remote_server, or an rsyslog/syslog-ng forwarding rule, or systemd-journal-upload.")
def remote_forwarding(audit_config: AuditConfig) -> Finding:
    observed: dict[str, Any] = {"audisp_remote": list(audit_config.remote_plugins),
                "syslog_forwarding": list(audit_config.syslog_forwarding),
                "journal_upload": audit_config.journal_upload}
    if audit_config.remote_plugins or audit_config.syslog_forwarding or audit_config.journal_upload:
        return passed("log forwarding", "logs are forwarded to a remote collector", **observed)
    return failed("log forwarding", "no remote log forwarding is configured", **observed)


@check(id="linux.audit.journald_persistent", title="The systemd journal survives reboots", severity="medium",
       area="audit_logging",
       criterion="systemd-journald is running (systemctl is-active, or a root process running its executable) and "
                 "its Storage is persistent, or auto with /var/log/journal present.",
       remediation="Set Storage=persistent in /etc/systemd/journald.conf (or a drop-in), create /var/log/journal and "
                   "restart systemd-journald; where journald is installed but not running, start it or make sure "
                   "another persistent log takes its place.")
def journald_persistent(journald: Journald) -> Finding:
    if not journald.installed:
        return not_applicable("journald", "systemd-journald is not installed")
    observed: dict[str, Any] = {"Storage": journald.storage, "var_log_journal": journald.persistent_dir,
                                "running": journald.running, "how": journald.running_how}
    if not journald.running:
        return failed("journald", f"systemd-journald is not running, so nothing is journalled "
                                  f"({journald.running_how})", **observed)
    if journald.storage == "persistent" or (journald.storage == "auto" and journald.persistent_dir):
        return passed("journald", f"journal is persistent (Storage={journald.storage})", **observed)
    why = "no /var/log/journal" if journald.storage == "auto" else f"Storage={journald.storage}"
    return failed("journald", f"journal is lost on reboot ({why})", **observed)
