"""Audit trail: auditd running with the right rules, protected logs, a copy off the host, persistent journal."""
from __future__ import annotations

import re
from typing import Any

from checks.linux._common import mode_problems
from scanner.facts.linux import (
    AuditConfig,
    Auditd,
    AuditdConf,
    AuditLogModes,
    AuditRuleFiles,
    Journald,
    KernelCmdline,
    SetuidPrograms,
)
from scanner.facts.system import SystemUnderTest
from scanner.model import Finding, Location, error, failed, not_applicable, passed
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
       criterion="systemd-journald is running (systemctl show: ActiveState=active, or a root process running its "
                 "executable) and its Storage is persistent, or auto with /var/log/journal present.",
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


# ---------------------------------------------------------------- issue 14 part B: auditd.conf and the audit rules

#: The auditd.conf settings checked, each with the policy name of its accepted values. An unset key is a failure:
#: auditd's built-in default differs between versions, so the evidence has to be an explicit line.
ACTION_SETTINGS = (
    ("max_log_file_action", "audit_max_log_file_actions"),
    ("space_left_action", "audit_space_left_actions"),
    ("admin_space_left_action", "audit_admin_space_left_actions"),
    ("disk_full_action", "audit_disk_full_actions"),
    ("disk_error_action", "audit_disk_error_actions"),
    ("log_format", "audit_log_formats"),
    ("flush", "audit_flush_modes"),
)


def _words(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    return tuple(str(v).strip().lower() for v in items if str(v).strip())


def _minimum(conf: AuditdConf, key: str, minimum: int, unit: str = "") -> Finding:
    value = conf.settings.get(key)
    where = conf.location(key)
    resource = f"auditd.conf {key}"
    if value is None or value == "":
        return failed(resource, f"{key} is not set in auditd.conf (at least {minimum}{unit} wanted)", location=where,
                      **{key: None, "minimum": minimum})
    if not value.isdigit():
        return error(resource, f"{key} = {value!r} is not a whole number", location=where, **{key: value})
    observed: dict[str, Any] = {key: int(value), "minimum": minimum}
    if int(value) >= minimum:
        return passed(resource, f"{key} = {value}{unit} (at least {minimum}{unit})", location=where, **observed)
    return failed(resource, f"{key} = {value}{unit} is below {minimum}{unit}", location=where, **observed)


@check(id="linux.audit.auditd_conf", title="auditd keeps its trail when the disk fills", severity="medium",
       area="audit_logging",
       criterion="auditd.conf sets explicitly: max_log_file of at least audit_max_log_file_mb (8) MB; "
                 "max_log_file_action in audit_max_log_file_actions (keep_logs); space_left_action in "
                 "audit_space_left_actions (email, exec, single, halt); admin_space_left_action in "
                 "audit_admin_space_left_actions (single, halt); disk_full_action in audit_disk_full_actions (halt, "
                 "single); disk_error_action in audit_disk_error_actions (syslog, single, halt); num_logs of at least "
                 "audit_num_logs_min (5) when logs rotate; log_format in audit_log_formats (ENRICHED, RAW); flush in "
                 "audit_flush_modes (incremental_async, incremental, data, sync). An unset key fails: the built-in "
                 "default differs between auditd versions.",
       remediation="Edit /etc/audit/auditd.conf: max_log_file = 32 (or the site's size), max_log_file_action = "
                   "keep_logs, space_left_action = email with action_mail_acct set, admin_space_left_action = single, "
                   "disk_full_action = halt, disk_error_action = halt, log_format = ENRICHED, flush = "
                   "incremental_async; then restart auditd (service auditd restart).")
def auditd_conf(auditd_conf: AuditdConf, audit_max_log_file_mb: int = 8,
                audit_max_log_file_actions: tuple[str, ...] = ("keep_logs",),
                audit_space_left_actions: tuple[str, ...] = ("email", "exec", "single", "halt"),
                audit_admin_space_left_actions: tuple[str, ...] = ("single", "halt"),
                audit_disk_full_actions: tuple[str, ...] = ("halt", "single"),
                audit_disk_error_actions: tuple[str, ...] = ("syslog", "single", "halt"),
                audit_num_logs_min: int = 5,
                audit_log_formats: tuple[str, ...] = ("enriched", "raw"),
                audit_flush_modes: tuple[str, ...] = ("incremental_async", "incremental", "data", "sync"),
                ) -> list[Finding]:
    if not auditd_conf.present:
        return [not_applicable("/etc/audit/auditd.conf", "auditd.conf does not exist (auditd is not installed; see "
                                                        "linux.audit.auditd_active)")]
    allowed = {"audit_max_log_file_actions": audit_max_log_file_actions,
               "audit_space_left_actions": audit_space_left_actions,
               "audit_admin_space_left_actions": audit_admin_space_left_actions,
               "audit_disk_full_actions": audit_disk_full_actions, "audit_disk_error_actions": audit_disk_error_actions,
               "audit_log_formats": audit_log_formats, "audit_flush_modes": audit_flush_modes}
    findings = [_minimum(auditd_conf, "max_log_file", audit_max_log_file_mb, " MB")]
    for key, policy in ACTION_SETTINGS:
        wanted = _words(allowed[policy])
        value = auditd_conf.settings.get(key)
        where = auditd_conf.location(key)
        observed: dict[str, Any] = {key: value, "allowed": wanted}
        if not value:
            findings.append(failed(f"auditd.conf {key}", f"{key} is not set in auditd.conf (expected "
                                   f"{' or '.join(wanted)})", location=where, **observed))
        elif value.strip().lower() in wanted:
            findings.append(passed(f"auditd.conf {key}", f"{key} = {value}", location=where, **observed))
        else:
            findings.append(failed(f"auditd.conf {key}", f"{key} = {value}, expected {' or '.join(wanted)}",
                                   location=where, **observed))
    if (auditd_conf.settings.get("max_log_file_action") or "").lower() == "rotate":
        findings.append(_minimum(auditd_conf, "num_logs", audit_num_logs_min))
    else:
        findings.append(passed("auditd.conf num_logs", "num_logs does not apply: logs are not rotated away by auditd",
                               location=auditd_conf.location("num_logs"),
                               num_logs=auditd_conf.settings.get("num_logs")))
    return findings


@check(id="linux.audit.immutable", title="Audit rules are locked until reboot", severity="medium",
       area="audit_logging",
       criterion="The kernel reports the audit configuration as immutable (auditctl -s: enabled 2), so the rules "
                 "cannot be changed or auditing switched off without a reboot, which is itself recorded.",
       remediation="Add '-e 2' as the last line of the last file in /etc/audit/rules.d/ (e.g. 99-finalize.rules), "
                   "run augenrules --load and reboot when the rules have to change.")
def immutable(auditd: Auditd, audit_rule_files: AuditRuleFiles) -> Finding:
    lines = audit_rule_files.control("-e")
    last = lines[-1] if lines else None
    where = last.location if last else (Location(audit_rule_files.files[-1]) if audit_rule_files.files else None)
    observed: dict[str, Any] = {"enabled": auditd.enabled, "persistent": last.text if last else None}
    if not auditd.installed or not auditd.running:
        return failed("audit rules", "auditd is not running, so no rules are loaded, locked or not", location=where,
                      **observed)
    if auditd.enabled is None:
        return error("audit rules", "the kernel audit status could not be read (auditctl -s)", location=where,
                     **observed)
    if auditd.enabled == 2:
        return passed("audit rules", "audit configuration is immutable (enabled 2)", location=where, **observed)
    persistent = f"; the rule files end with {last.text!r}" if last else "; no rule file sets -e"
    return failed("audit rules", f"audit rules can be changed at run time (enabled {auditd.enabled}){persistent}",
                  location=where, **observed)


#: The rule families of the public baselines (CIS Benchmarks section 'Configure auditd rules', the SCAP Security
#: Guide and ANSSI BP-028 audit rules) beyond the five of linux.audit.rules, in auditctl -l syntax. Each family is a
#: tuple of groups; every group must match one loaded rule (any of its patterns).
RULE_FAMILIES: dict[str, tuple[tuple[str, ...], ...]] = {
    "permission changes": ((r"-S [\w,]*\b(chmod|fchmod|fchmodat2?)\b",),
                           (r"-S [\w,]*\b(chown|fchown|lchown|fchownat)\b",),
                           (r"-S [\w,]*\b(setxattr|lsetxattr|fsetxattr|removexattr|lremovexattr|fremovexattr)\b",)),
    "deletions": ((r"-S [\w,]*\b(unlink|unlinkat)\b",), (r"-S [\w,]*\b(rename|renameat2?)\b",)),
    "failed access": ((r"-S [\w,]*\b(open|openat|creat|truncate|ftruncate|open_by_handle_at)\b.*-F exit=-EACCES",),
                      (r"-S [\w,]*\b(open|openat|creat|truncate|ftruncate|open_by_handle_at)\b.*-F exit=-EPERM",)),
    "kernel modules": ((r"-S [\w,]*\b(init_module|finit_module)\b",), (r"-S [\w,]*\bdelete_module\b",)),
    "MAC policy": ((r"(-w |dir=|path=)/etc/selinux\b", r"(-w |dir=|path=)/etc/apparmor(\.d)?\b"),),
    "network configuration": ((r"-S [\w,]*\b(sethostname|setdomainname)\b",),
                              (r"(-w |path=)/etc/hosts\b",),
                              (r"(-w |dir=|path=)/etc/(network|sysconfig/network|NetworkManager|netplan)\b",
                               r"(-w |path=)/etc/(hostname|issue)\b")),
    "mounts": ((r"-S [\w,]*\bmount\b",),),
    "sessions": ((r"(-w |path=)(/var)?/run/utmp\b",), (r"(-w |path=)/var/log/wtmp\b",),
                 (r"(-w |path=)/var/log/btmp\b",)),
    "/etc/gshadow": ((r"(-w |path=)/etc/gshadow\b",),),
    "/etc/security/opasswd": ((r"(-w |path=)/etc/security/opasswd\b",),),
    "reads of /var/log/audit": ((r"-w /var/log/audit/? -p [wax]*r", r"dir=/var/log/audit/? .*perm=[wax]*r"),),
}


#: 64-bit machines whose kernels also run 32-bit programs, whose system calls audit sees as arch=b32 (a rule for
#: arch=b64 does not record them), and the boot parameter that can turn that off: x86_64 runs i386 programs unless
#: booted with ia32_emulation=0 (kernel 6.7 and later); s390x runs 31-bit s390 ones. aarch64 is not counted: many
#: arm64 server CPUs have no 32-bit execution state at all.
RUNS_32BIT = {"x86_64": "ia32_emulation", "s390x": ""}


def audit_arches(system: SystemUnderTest, kernel_cmdline: KernelCmdline) -> tuple[tuple[str, ...], str]:
    """The audit arches a syscall rule family must be recorded for on this host, and why."""
    machine = system.as_dict().get("machine", "")
    # uname -m of a 64-bit kernel names 64 somewhere (x86_64, aarch64, aarch64_be, ppc64le, riscv64), except s390x
    native = "b64" if "64" in machine or machine == "s390x" else "b32"
    if machine not in RUNS_32BIT:
        return (native,), f"{machine or 'machine unknown'}: system calls audited as arch={native} only"
    flag = RUNS_32BIT[machine]
    value = kernel_cmdline.get(flag) if flag else None
    if value is not None and (value[:1] in ("0", "n", "N", "f", "F") or value.lower() == "off"):
        return (native,), f"{machine} booted with {flag}={value}: no 32-bit programs run"
    return ("b64", "b32"), f"{machine} runs 32-bit programs too: syscall rules are needed for arch=b64 and arch=b32"


def _arch_of(rule: str, native: str) -> str:
    m = re.search(r"-F arch=(b32|b64)\b", rule)
    return m.group(1) if m else native


def _family_hits(rules: list[str], group: tuple[str, ...], arches: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """(arch or "", the first rule that covers the group for it, or None): a group of system calls needs a rule per
    arch the host audits; a watch (-w, path=, dir=) is the same for every arch."""
    matching = [r for r in rules if any(re.search(p, r) for p in group)]
    if not all(p.startswith("-S ") for p in group):
        return [("", matching[0] if matching else None)]
    return [(arch, next((r for r in matching if _arch_of(r, arches[0]) == arch), None)) for arch in arches]


@check(id="linux.audit.rule_families", title="Audit rules cover the baseline event families", severity="medium",
       area="audit_logging",
       criterion="For each family in audit_rule_families (default: all) a loaded rule exists: permission changes "
                 "(chmod, chown and xattr calls), deletions (unlink, rename), failed access (EACCES and EPERM), "
                 "kernel modules (load and unload), MAC policy (/etc/selinux or /etc/apparmor), network configuration "
                 "(sethostname/setdomainname, /etc/hosts, network files), mounts, sessions (utmp, wtmp, btmp), "
                 "/etc/gshadow, /etc/security/opasswd and reads of /var/log/audit. A system-call rule counts for "
                 "arch=b64 and, where the host runs 32-bit programs (x86_64 unless booted with ia32_emulation=0, "
                 "s390x), arch=b32 too: a family audited for one of them only is not covered.",
       remediation="Add the missing rules to a file in /etc/audit/rules.d/ (for 64-bit hosts, for both arch=b64 and "
                   "arch=b32), e.g. '-a always,exit -F arch=b64 -S unlink,unlinkat,rename,renameat -F auid>=1000 -F "
                   "auid!=unset -k delete', then run augenrules --load.")
def rule_families(auditd: Auditd, system: SystemUnderTest, kernel_cmdline: KernelCmdline,
                  audit_rule_families: tuple[str, ...] = tuple(RULE_FAMILIES)) -> list[Finding]:
    unknown = [f for f in audit_rule_families if f not in RULE_FAMILIES]
    if unknown:
        return [error("audit rules", f"unknown audit rule families in audit_rule_families: {', '.join(unknown)}; "
                                     f"known: {', '.join(RULE_FAMILIES)}")]
    if not auditd.installed or not auditd.running:
        return [failed("audit rules", "no audit rules are loaded: auditd is not running",
                       installed=auditd.installed, running=auditd.running)]
    arches, why = audit_arches(system, kernel_cmdline)
    recording = _recording(auditd.rules)
    findings = []
    for family in audit_rule_families:
        matched: list[str] = []
        missing: list[str] = []
        for n, group in enumerate(RULE_FAMILIES[family], 1):
            for arch, hit in _family_hits(recording, group, arches):
                label = f"part {n}" + (f" (arch={arch})" if arch else "")
                (matched if hit else missing).append(hit or f"{label}: {' or '.join(group)}")
        observed: dict[str, Any] = {"matched": matched, "missing": missing, "arches": list(arches)}
        if missing:
            findings.append(failed(f"audit rules: {family}", f"no loaded rule covers {family} ({len(missing)} "
                                   f"missing: {'; '.join(m.split(':', 1)[0] for m in missing)}; {why})",
                                   **observed))
        else:
            findings.append(passed(f"audit rules: {family}", f"{family} audited by: {'; '.join(matched)}",
                                   **observed))
    return findings


def _recording(rules: tuple[str, ...]) -> list[str]:
    """The rules that record: watches, and syscall rules whose action is always (a 'never' rule suppresses)."""
    return [r for r in rules if not re.match(r"-[aA] (never,|\w+,never\b)", r)]


def _execve_rule(rules: tuple[str, ...], path: str) -> str | None:
    """The loaded rule that records the execution of ``path``, or None."""
    for rule in _recording(rules):
        if re.search(rf"(-F path={re.escape(path)}(\s|$).*perm=[rwa]*x)", rule):
            return rule
        if re.match(rf"-w {re.escape(path)} -p [rwa]*x", rule):
            return rule
        parent = re.search(r"-F dir=(\S+).*perm=[rwa]*x", rule)
        if parent and path.startswith(parent.group(1).rstrip("/") + "/"):
            return rule
        if re.search(r"-S [\w,]*\bexecve\b", rule) and not re.search(r"-F (path|dir|exe)=", rule):
            return rule
    return None


@check(id="linux.audit.privileged_commands", title="Every setuid/setgid program is audited when run",
       severity="medium", area="audit_logging",
       criterion="Each setuid or setgid program found by a bounded search (find -xdev over setuid_search_roots, "
                 "default /usr/bin /usr/sbin /usr/lib /usr/lib64 /usr/libexec /usr/local /bin /sbin /opt, "
                 "setuid_search_depth levels deep, default 3; at most 2000 results "
                 "and 5 seconds) has a loaded execution rule: "
                 "'-F path=PROGRAM -F perm=x', a watch with x, a directory rule with perm=x, or an execve rule "
                 "without a path filter. A search that hit a cap is an error.",
       remediation="Generate one rule per privileged program, e.g. for each file of 'find /usr -xdev -perm /6000 "
                   "-type f': '-a always,exit -F path=FILE -F perm=x -F auid>=1000 -F auid!=unset -k privileged', "
                   "in /etc/audit/rules.d/50-privileged.rules, then augenrules --load.")
def privileged_commands(auditd: Auditd, setuid_programs: SetuidPrograms,
                        setuid_search_roots: tuple[str, ...] = ("/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64",
                                                                "/usr/libexec", "/usr/local", "/bin", "/sbin",
                                                                "/opt"),
                        setuid_search_depth: int = 3) -> list[Finding]:
    progs = setuid_programs
    caps: dict[str, Any] = {"roots": list(progs.roots), "depth": progs.depth, "cap_results": progs.cap_results,
                            "cap_seconds": progs.cap_seconds}
    if not auditd.installed or not auditd.running:
        return [failed("privileged commands", "no audit rules are loaded: auditd is not running",
                       programs=[p.path for p in progs.programs], **caps)]
    findings = []
    for prog in progs.programs:
        rule = _execve_rule(auditd.rules, prog.path)
        observed: dict[str, Any] = {"mode": prog.octal, "owner": prog.owner, "group": prog.group, "rule": rule}
        if rule:
            findings.append(passed(prog.path, f"{prog.path} ({prog.octal}) is audited: {rule}",
                                   location=Location(prog.path), **observed))
        else:
            findings.append(failed(prog.path, f"{prog.path} ({prog.octal} {prog.owner}:{prog.group}) runs with "
                                   "raised privileges but no audit rule records its execution",
                                   location=Location(prog.path), **observed))
    if not progs.complete:
        findings.append(error("privileged commands", f"the search for setuid/setgid programs is incomplete: "
                              f"{progs.incomplete_why}", **caps))
    if not findings:
        findings.append(passed("privileged commands", "no setuid/setgid program under "
                               f"{', '.join(progs.roots) or '(no search root exists)'}", **caps))
    return findings


@check(id="linux.audit.boot_params", title="Auditing starts with the kernel", severity="medium",
       area="audit_logging",
       criterion="The running kernel was booted with audit=1 (processes started before auditd are auditable) and "
                 "audit_backlog_limit of at least audit_backlog_min (8192), so events at boot are not lost.",
       remediation="Add 'audit=1 audit_backlog_limit=8192' to GRUB_CMDLINE_LINUX in /etc/default/grub, run "
                   "update-grub (Debian/Ubuntu) or grub2-mkconfig -o /boot/grub2/grub.cfg (RHEL; or grubby "
                   "--update-kernel ALL --args ...) and reboot.")
def boot_params(kernel_cmdline: KernelCmdline, audit_backlog_min: int = 8192) -> list[Finding]:
    where = Location("/proc/cmdline")
    audit = kernel_cmdline.get("audit")
    out = []
    if audit == "1":
        out.append(passed("kernel audit=", "booted with audit=1", location=where, audit=audit))
    else:
        out.append(failed("kernel audit=", f"booted with {'audit=' + audit if audit is not None else 'no audit='}: "
                          "processes started before auditd are not audited", location=where, audit=audit))
    backlog = kernel_cmdline.get("audit_backlog_limit")
    observed: dict[str, Any] = {"audit_backlog_limit": backlog, "minimum": audit_backlog_min}
    if backlog is None or backlog == "":
        out.append(failed("kernel audit_backlog_limit=", "no audit_backlog_limit on the kernel command line (the "
                          f"kernel default of 64 loses events at boot; at least {audit_backlog_min} wanted)",
                          location=where, **observed))
    elif not backlog.isdigit():
        out.append(error("kernel audit_backlog_limit=", f"audit_backlog_limit={backlog!r} is not a number",
                         location=where, **observed))
    elif int(backlog) >= audit_backlog_min:
        out.append(passed("kernel audit_backlog_limit=", f"audit_backlog_limit={backlog}", location=where,
                          **observed))
    else:
        out.append(failed("kernel audit_backlog_limit=", f"audit_backlog_limit={backlog} is below "
                          f"{audit_backlog_min}", location=where, **observed))
    return out
