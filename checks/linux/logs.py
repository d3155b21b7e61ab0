"""System logs beside auditd: a syslog daemon runs, log files are not readable by everyone, rotation keeps enough,
and what leaves the host travels over TLS to a server whose identity is checked."""
from __future__ import annotations

import re
from typing import Any

from scanner.facts.linux import Logrotate, Syslog, VarLog
from scanner.model import Finding, Location, error, failed, not_applicable, passed
from scanner.registry import check

#: Most findings listed one by one; the rest are counted in one summary finding.
MAX_LISTED = 50


def _mode(value: Any) -> int | None:
    text = str(value).strip()
    return int(text, 8) if re.fullmatch(r"0?[0-7]{3,4}", text) else None


@check(id="linux.logs.syslog_running", title="A syslog daemon runs", severity="medium", area="audit_logging",
       criterion="Where rsyslog or syslog-ng is installed, it runs (a process of its executable as root or a system "
                 "account). Hosts without either are judged by linux.audit.journald_persistent.",
       remediation="Enable and start the installed daemon (systemctl enable --now rsyslog, or syslog-ng).")
def syslog_running(syslog: Syslog) -> Finding:
    observed: dict[str, Any] = {d.name: {"installed": d.installed, "running": d.running, "how": d.how}
                                for d in syslog.daemons}
    if syslog.running:
        d = syslog.running[0]
        return passed("syslog", f"{d.name} runs ({d.how})", **observed)
    if not syslog.installed:
        return not_applicable("syslog", "neither rsyslog nor syslog-ng is installed (the journal is judged by "
                                        "linux.audit.journald_persistent)", **observed)
    names = ", ".join(d.name for d in syslog.installed)
    return failed("syslog", f"{names} is installed but not running: {syslog.installed[0].how}", **observed)


@check(id="linux.logs.syslog_file_mode", title="The syslog daemon creates private log files", severity="low",
       area="audit_logging",
       criterion="The mode the running syslog daemon creates log files with grants no more than log_file_max_mode "
                 "(0640): for rsyslog, $FileCreateMode or omfile fileCreateMode (default 0644) less the daemon's "
                 "umask ($umask or global(umask=), else the UMask= of rsyslog.service, e.g. 0066 on RHEL; "
                 "unknown: none); for syslog-ng, perm() (default 0600).",
       remediation="Set '$FileCreateMode 0640' near the top of /etc/rsyslog.conf (or module(load=\"builtin:omfile\" "
                   "fileCreateMode=\"0640\")), or perm(0640) in the syslog-ng options, and restart the daemon.")
def syslog_file_mode(syslog: Syslog, log_file_max_mode: str = "0640") -> Finding:
    limit = _mode(log_file_max_mode)
    if limit is None:
        return error("syslog", f"log_file_max_mode {log_file_max_mode!r} is not an octal mode")
    mode = syslog.created_mode
    if not syslog.running or syslog.file_create_mode is None or mode is None:
        return not_applicable("syslog", "no syslog daemon runs (see linux.logs.syslog_running)")
    where = syslog.file_create_mode_where
    how = f"{syslog.file_create_mode:04o} set at {where.path}:{where.start_line}" if where else \
        f"{syslog.file_create_mode:04o}, the daemon's default (not set)"
    if syslog.umask_how:
        how += f", less umask {syslog.umask:04o} ({syslog.umask_how})"
    observed: dict[str, Any] = {"mode": f"{mode:04o}", "max_mode": f"{limit:04o}", "daemon": syslog.running[0].name,
                                "configured_mode": f"{syslog.file_create_mode:04o}", "umask": f"{syslog.umask:04o}"}
    if mode & ~limit & 0o7777:
        return failed("syslog", f"new log files get mode {mode:04o} ({how}), wider than {limit:04o}",
                      location=where, **observed)
    return passed("syslog", f"new log files get mode {mode:04o} ({how})", location=where, **observed)


@check(id="linux.logs.var_log_perms", title="Log files are not open to everyone", severity="medium",
       area="audit_logging",
       criterion="Under /var/log (three levels, at most 5000 entries): no directory is writable by others; every "
                 "file is owned by root or a system account and grants no more than log_file_max_mode (0640); the "
                 "files in var_log_exempt (lastlog, wtmp, btmp, faillog: read by login tools) only must not be "
                 "writable by others. A listing that hit its cap is an error.",
       remediation="chmod o-rwx,g-wx the log files (e.g. find /var/log -type f -perm /g+wx,o+rwx -exec chmod "
                   "g-wx,o-rwx {} +), chmod o-w the directories, and fix the creating program's mode (logrotate "
                   "'create 0640', rsyslog $FileCreateMode) so new files stay private.")
def var_log_perms(var_log: VarLog, log_file_max_mode: str = "0640",
                  var_log_exempt: tuple[str, ...] = ("/var/log/lastlog", "/var/log/wtmp", "/var/log/btmp",
                                                     "/var/log/faillog")) -> list[Finding]:
    limit = _mode(log_file_max_mode)
    if limit is None:
        return [error("/var/log", f"log_file_max_mode {log_file_max_mode!r} is not an octal mode")]
    bad = []
    for st in var_log.entries:
        problems = []
        if st.mode & 0o002:
            problems.append(f"mode {st.octal} is writable by others")
        elif st.kind == "regular file" and st.path not in var_log_exempt and st.mode & ~limit & 0o7777:
            problems.append(f"mode {st.octal} is wider than {limit:04o}")
        if st.kind == "regular file" and st.uid >= 1000:
            problems.append(f"owned by {st.owner} (uid {st.uid}), not root or a system account")
        if problems:
            bad.append((st, problems))
    findings = [failed(st.path, f"{st.path}: {'; '.join(p)}", location=Location(st.path), mode=st.octal,
                       owner=st.owner, group=st.group) for st, p in bad[:MAX_LISTED]]
    if len(bad) > MAX_LISTED:
        findings.append(failed("/var/log", f"{len(bad) - MAX_LISTED} more entries under /var/log are too open",
                               more=len(bad) - MAX_LISTED))
    if not var_log.complete:
        findings.append(error("/var/log", f"the /var/log listing is incomplete: {var_log.incomplete_why}"))
    if not findings:
        findings.append(passed("/var/log", f"{len(var_log.entries)} entries under /var/log are private enough",
                               entries=len(var_log.entries), max_mode=f"{limit:04o}"))
    return findings


@check(id="linux.logs.rotation", title="Log rotation keeps the audit trail long enough", severity="low",
       area="audit_logging",
       criterion="For each file in audit_trail_logs that logrotate rotates, the rotated copies it keeps (rotate x "
                 "period, capped by maxage) cover at least log_rotation_keep_days (90) days; 'rotate -1' keeps "
                 "them all. A file rotated by size only is an error (its reach depends on the log volume).",
       remediation="In the logrotate stanza of the file (/etc/logrotate.d/rsyslog, syslog-ng, audit...), raise "
                   "'rotate' so that rotate x period reaches the site's retention (e.g. weekly with rotate 13 for "
                   "90 days), and keep the long-term copy on the central log server.")
def rotation(logrotate: Logrotate, log_rotation_keep_days: int = 90,
             audit_trail_logs: tuple[str, ...] = ("/var/log/audit/audit.log", "/var/log/auth.log", "/var/log/secure",
                                                  "/var/log/syslog", "/var/log/messages")) -> list[Finding]:
    if not logrotate.installed:
        return [not_applicable("logrotate", "logrotate is not installed")]
    findings = []
    for path in audit_trail_logs:
        rule = logrotate.for_path(path)
        if rule is None:
            continue
        observed: dict[str, Any] = {"rotate": rule.rotate, "period": rule.period or "(logrotate default)",
                                    "maxage": rule.maxage, "minimum_days": log_rotation_keep_days}
        days = rule.days
        if rule.forever:
            findings.append(passed(path, f"{path}: rotate -1 keeps every rotated copy", location=rule.location,
                                   **observed))
        elif days is None:
            findings.append(error(path, f"{path} is rotated by size only: how many days it keeps depends on the "
                                        "log volume", location=rule.location, **observed))
        elif days >= log_rotation_keep_days:
            findings.append(passed(path, f"{path}: rotated copies cover {days} days", location=rule.location,
                                   days=days, **observed))
        else:
            findings.append(failed(path, f"{path}: rotated copies cover {days} days, fewer than "
                                         f"{log_rotation_keep_days}", location=rule.location, days=days, **observed))
    if not findings:
        return [not_applicable("logrotate", "logrotate rotates none of " + ", ".join(audit_trail_logs))]
    return findings


@check(id="linux.logs.forwarding_tls", title="Logs leave the host encrypted, to a verified server",
       severity="medium", area="audit_logging",
       criterion="Every active forwarding channel is encrypted: rsyslog omfwd over TCP with StreamDriver gtls/ossl "
                 "and StreamDriverMode 1 (or omrelp tls=\"on\"), syslog-ng transport(\"tls\"), systemd-journal-upload "
                 "to an https URL, audisp-remote with transport KRB5; with forwarding_require_server_auth (true) the "
                 "server's identity is verified too (x509/name or x509/fingerprint, peer-verify(required-trusted), "
                 "a TrustedCertificateFile other than 'all').",
       remediation="rsyslog: global(DefaultNetstreamDriverCAFile=\"/etc/pki/ca.pem\") and action(type=\"omfwd\" "
                   "protocol=\"tcp\" StreamDriver=\"gtls\" StreamDriverMode=\"1\" StreamDriverAuthMode=\"x509/name\" "
                   "StreamDriverPermittedPeers=\"loghost.example\" ...); syslog-ng: network(\"loghost\" "
                   "transport(\"tls\") tls(ca-dir(\"/etc/syslog-ng/ca.d\"))); journal-upload: URL=https://... with "
                   "TrustedCertificateFile; audisp-remote: transport = KRB5.")
def forwarding_tls(syslog: Syslog, forwarding_require_server_auth: bool = True) -> list[Finding]:
    if not syslog.channels:
        return [not_applicable("log forwarding", "no active forwarding channel (see linux.audit.remote_forwarding)")]
    findings = []
    for ch in syslog.channels:
        observed: dict[str, Any] = {"kind": ch.kind, "destination": ch.destination, "protocol": ch.protocol,
                                    "tls": ch.tls, "server_verified": ch.authenticated, "detail": ch.detail}
        name = f"{ch.kind} -> {ch.destination or '?'}"
        if not ch.tls:
            findings.append(failed(name, f"logs go to {ch.destination or '?'} unencrypted ({ch.protocol})",
                                   location=ch.location, **observed))
        elif forwarding_require_server_auth and not ch.authenticated:
            findings.append(failed(name, f"logs go to {ch.destination or '?'} over TLS, but the server's identity "
                                         "is not verified", location=ch.location, **observed))
        else:
            findings.append(passed(name, f"logs go to {ch.destination or '?'} over TLS"
                                   + (" with the server verified" if ch.authenticated else ""),
                                   location=ch.location, **observed))
    return findings
