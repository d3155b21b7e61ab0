"""The audit checks (checks/linux/audit.py) on small facts, asserting status, message and observed values at their
boundaries and defaults (issue 15 fifth session, docs/mutation.md: written ahead of the mutmut run of the module)."""
from __future__ import annotations

from typing import Any

import pytest

from checks.linux import audit
from scanner.facts.linux import (
    AuditConfig,
    Auditd,
    AuditdConf,
    AuditLogModes,
    AuditRuleFiles,
    AuditRuleLine,
    FileStat,
    Journald,
    KernelCmdline,
    SetuidProgram,
    SetuidPrograms,
)
from scanner.facts.system import SystemUnderTest
from scanner.model import Finding, Location, Status, freeze, thaw

CMDLINE = Location("/proc/cmdline")


def seen(f: Finding) -> tuple[Status, str, dict[str, Any]]:
    return f.status, f.message, thaw(f.observed)


def running(*rules: str, enabled: int | None = 1) -> Auditd:
    return Auditd(True, True, enabled, rules)


@pytest.mark.parametrize(("auditd", "status", "message"), [
    (Auditd(False, False, None, ()), Status.FAIL, "auditd is not installed (auditctl not found)"),
    (Auditd(True, False, 1, ()), Status.FAIL, "auditd is not running"),
    (Auditd(True, True, None, ()), Status.ERROR, "auditd runs but the kernel audit status could not be read"),
    (Auditd(True, True, 0, ()), Status.FAIL, "auditd runs but kernel auditing is disabled (enabled 0)"),
    (Auditd(True, True, 1, ()), Status.PASS, "auditd running, auditing enabled (1)"),
    (Auditd(True, True, 2, ()), Status.PASS, "auditd running, auditing enabled (2)"),
])
def test_auditd_active_needs_the_daemon_and_kernel_auditing(auditd: Auditd, status: Status, message: str) -> None:
    assert seen(audit.auditd_active(auditd)) == (
        status, message, {"installed": auditd.installed, "running": auditd.running, "enabled": auditd.enabled})


COVERING = ("-w /etc/passwd -p wa -k identity", "-w /etc/group -p wa -k identity", "-w /etc/shadow -p wa -k identity",
            "-w /etc/sudoers -p wa -k scope", "-a always,exit -F arch=b64 -S adjtimex,settimeofday -k time",
            "-w /var/log/lastlog -p wa -k logins", "-a always,exit -F path=/usr/bin/sudo -F perm=x -k priv")


def test_audit_rules_cover_every_category_and_identity_needs_all_three_files() -> None:
    every = dict.fromkeys(audit.AUDIT_COVERAGE, True)
    assert seen(audit.rules(running(*COVERING))) == (
        Status.PASS, "7 rules cover all required events", {"rules": 7, "covered": every})
    without_shadow = [r for r in COVERING if "shadow" not in r and "lastlog" not in r]
    assert seen(audit.rules(running(*without_shadow))) == (
        Status.FAIL, "audit rules do not cover: identity files, logins",
        {"rules": 5, "covered": {**every, "identity files": False, "logins": False}})
    assert seen(audit.rules(Auditd(True, False, None, COVERING))) == (
        Status.FAIL, "no audit rules are loaded: auditd is not running", {"installed": True, "running": False})


def stat(path: str, mode: int, owner: str = "root", group: str = "root") -> FileStat:
    return FileStat(path, mode, 0, 0, owner, group, "directory" if path == "/var/log/audit" else "file")


def test_log_perms_judges_the_directory_and_each_file_against_its_own_mode() -> None:
    modes = AuditLogModes(stat("/var/log/audit", 0o750), (stat("/var/log/audit/audit.log", 0o640, group="adm"),
                                                         stat("/var/log/audit/audit.log.1", 0o644)))
    assert [(f.resource, *seen(f)) for f in audit.log_perms(modes)] == [
        ("/var/log/audit", Status.PASS, "/var/log/audit is 0750 root:root",
         {"mode": "0750", "owner": "root", "group": "root"}),
        ("/var/log/audit/audit.log", Status.PASS, "/var/log/audit/audit.log is 0640 root:adm",
         {"mode": "0640", "owner": "root", "group": "adm"}),
        ("/var/log/audit/audit.log.1", Status.FAIL, "/var/log/audit/audit.log.1: mode 0644 is wider than 0640",
         {"mode": "0644", "owner": "root", "group": "root"})]
    wide = AuditLogModes(stat("/var/log/audit", 0o755, "syslog", "staff"), ())
    assert [seen(f)[:2] for f in audit.log_perms(wide)] == [
        (Status.FAIL, "/var/log/audit: mode 0755 is wider than 0750; owner syslog is not root; group staff is not "
                      "root or adm")]
    assert [seen(f)[:2] for f in audit.log_perms(AuditLogModes(None, ()))] == [
        (Status.NOT_APPLICABLE, "/var/log/audit does not exist (auditd not installed; see linux.audit.auditd_active)")]


@pytest.mark.parametrize(("plugins", "syslog", "upload", "status"), [
    (("/etc/audit/plugins.d/au-remote.conf",), (), None, Status.PASS),
    ((), ("/etc/rsyslog.conf:3: *.* @@logs",), None, Status.PASS),
    ((), (), "https://logs:19532", Status.PASS),
    ((), (), None, Status.FAIL),
    ((), (), "", Status.FAIL),
])
def test_remote_forwarding_any_one_way_off_the_host(plugins: tuple[str, ...], syslog: tuple[str, ...],
                                                    upload: str | None, status: Status) -> None:
    got = audit.remote_forwarding(AuditConfig(freeze({}), plugins, syslog, upload))
    message = "logs are forwarded to a remote collector" if status is Status.PASS else \
        "no remote log forwarding is configured"
    assert seen(got) == (status, message, {"audisp_remote": list(plugins), "syslog_forwarding": list(syslog),
                                           "journal_upload": upload})


@pytest.mark.parametrize(("storage", "directory", "running", "status", "message"), [
    ("persistent", False, True, Status.PASS, "journal is persistent (Storage=persistent)"),
    ("auto", True, True, Status.PASS, "journal is persistent (Storage=auto)"),
    ("auto", False, True, Status.FAIL, "journal is lost on reboot (no /var/log/journal)"),
    ("volatile", True, True, Status.FAIL, "journal is lost on reboot (Storage=volatile)"),
    ("persistent", True, False, Status.FAIL, "systemd-journald is not running, so nothing is journalled (ps: none)"),
])
def test_journald_persistent_storage_and_running(storage: str, directory: bool, running: bool, status: Status,
                                                 message: str) -> None:
    journal = Journald(True, storage, directory, freeze({}), running, "ps: none")
    assert seen(audit.journald_persistent(journal)) == (
        status, message, {"Storage": storage, "var_log_journal": directory, "running": running, "how": "ps: none"})
    absent = audit.journald_persistent(Journald(False, storage, directory, freeze({})))
    assert (absent.status, absent.message) == (Status.NOT_APPLICABLE, "systemd-journald is not installed")


GOOD_CONF = {"max_log_file": "8", "max_log_file_action": "keep_logs", "space_left_action": "email",
             "admin_space_left_action": "single", "disk_full_action": "HALT", "disk_error_action": "syslog",
             "log_format": "ENRICHED", "flush": "incremental_async"}


def conf(**settings: str) -> AuditdConf:
    values = {**GOOD_CONF, **settings}
    return AuditdConf(True, freeze(values), freeze({k: Location("/etc/audit/auditd.conf", n)
                                                    for n, k in enumerate(values, 1)}))


def test_auditd_conf_passes_every_setting_in_its_words() -> None:
    got = audit.auditd_conf(conf())
    assert [(f.resource, f.status, f.message) for f in got] == [
        ("auditd.conf max_log_file", Status.PASS, "max_log_file = 8 MB (at least 8 MB)"),
        *[(f"auditd.conf {k}", Status.PASS, f"{k} = {GOOD_CONF[k]}") for k, _ in audit.ACTION_SETTINGS],
        ("auditd.conf num_logs", Status.PASS, "num_logs does not apply: logs are not rotated away by auditd")]
    assert thaw(got[0].observed) == {"max_log_file": 8, "minimum": 8}
    assert thaw(got[1].observed) == {"max_log_file_action": "keep_logs", "allowed": ["keep_logs"]}
    assert [f.location for f in got[:2]] == [Location("/etc/audit/auditd.conf", 1),
                                             Location("/etc/audit/auditd.conf", 2)]
    assert (got[-1].location, thaw(got[-1].observed)) == (Location("/etc/audit/auditd.conf"), {"num_logs": None})


@pytest.mark.parametrize(("key", "value", "status", "message", "observed"), [
    ("max_log_file", "7", Status.FAIL, "max_log_file = 7 MB is below 8 MB", {"max_log_file": 7, "minimum": 8}),
    ("max_log_file", "", Status.FAIL, "max_log_file is not set in auditd.conf (at least 8 MB wanted)",
     {"max_log_file": None, "minimum": 8}),
    ("max_log_file", "8M", Status.ERROR, "max_log_file = '8M' is not a whole number", {"max_log_file": "8M"}),
    ("disk_full_action", "suspend", Status.FAIL, "disk_full_action = suspend, expected halt or single",
     {"disk_full_action": "suspend", "allowed": ["halt", "single"]}),
    ("disk_full_action", "", Status.FAIL, "disk_full_action is not set in auditd.conf (expected halt or single)",
     {"disk_full_action": "", "allowed": ["halt", "single"]}),
    ("flush", " Sync ", Status.PASS, "flush =  Sync ",  # compared trimmed and in lower case
     {"flush": " Sync ", "allowed": ["incremental_async", "incremental", "data", "sync"]}),
])
def test_auditd_conf_each_setting_unset_wrong_or_unreadable(key: str, value: str, status: Status, message: str,
                                                            observed: dict[str, Any]) -> None:
    found = {f.resource: f for f in audit.auditd_conf(conf(**{key: value}))}
    assert seen(found[f"auditd.conf {key}"]) == (status, message, observed)


@pytest.mark.parametrize(("num_logs", "status", "message"), [
    ("5", Status.PASS, "num_logs = 5 (at least 5)"),
    ("4", Status.FAIL, "num_logs = 4 is below 5"),
    (None, Status.FAIL, "num_logs is not set in auditd.conf (at least 5 wanted)"),
])
def test_auditd_conf_counts_num_logs_only_when_logs_rotate(num_logs: str | None, status: Status,
                                                            message: str) -> None:
    settings = {"max_log_file_action": "ROTATE", **({} if num_logs is None else {"num_logs": num_logs})}
    got = audit.auditd_conf(conf(**settings), audit_max_log_file_actions=("rotate",))
    assert [(f.resource, f.status) for f in got[1:2]] == [("auditd.conf max_log_file_action", Status.PASS)]
    assert (got[-1].resource, got[-1].status, got[-1].message) == ("auditd.conf num_logs", status, message)


def test_auditd_conf_policy_lists_may_be_comma_separated_text_and_a_missing_file_is_not_applicable() -> None:
    got = audit.auditd_conf(conf(flush="data"), audit_flush_modes="Sync, ,DATA")
    flush = next(f for f in got if f.resource == "auditd.conf flush")
    assert seen(flush) == (Status.PASS, "flush = data", {"flush": "data", "allowed": ["sync", "data"]})
    [absent] = audit.auditd_conf(AuditdConf(False))
    assert (absent.status, absent.message) == (
        Status.NOT_APPLICABLE, "auditd.conf does not exist (auditd is not installed; see linux.audit.auditd_active)")


RULES_D = "/etc/audit/rules.d/99-finalize.rules"


@pytest.mark.parametrize(("auditd", "lines", "status", "message", "location"), [
    (running(enabled=2), ("-e 2",), Status.PASS, "audit configuration is immutable (enabled 2)", Location(RULES_D, 1)),
    (running(enabled=1), ("-e 2", "-e 1"), Status.FAIL,
     "audit rules can be changed at run time (enabled 1); the rule files end with '-e 1'", Location(RULES_D, 2)),
    (running(enabled=1), (), Status.FAIL, "audit rules can be changed at run time (enabled 1); no rule file sets -e",
     Location(RULES_D)),
    (running(enabled=None), ("-e 2",), Status.ERROR, "the kernel audit status could not be read (auditctl -s)",
     Location(RULES_D, 1)),
    (Auditd(True, False, 2, ()), ("-e 2",), Status.FAIL,
     "auditd is not running, so no rules are loaded, locked or not", Location(RULES_D, 1)),
    (Auditd(False, True, 2, ()), ("-w /etc/passwd -p wa",), Status.FAIL,
     "auditd is not running, so no rules are loaded, locked or not", Location(RULES_D)),
])
def test_immutable_needs_enabled_2_and_names_the_last_e_line(auditd: Auditd, lines: tuple[str, ...],
                                                            status: Status, message: str, location: Location) -> None:
    files = AuditRuleFiles(tuple(AuditRuleLine(RULES_D, n, t) for n, t in enumerate(lines, 1)),
                           ("/etc/audit/rules.d/10-base.rules", RULES_D))
    last = next((t for t in reversed(lines) if t.startswith("-e")), None)
    got = audit.immutable(auditd, files)
    assert (*seen(got), got.location) == (status, message, {"enabled": auditd.enabled, "persistent": last}, location)
    assert audit.immutable(running(enabled=1), AuditRuleFiles((), ())).location is None


@pytest.mark.parametrize(("params", "audit_status", "audit_message", "backlog_status", "backlog_message"), [
    ((("audit", "1"), ("audit_backlog_limit", "8192")), Status.PASS, "booted with audit=1", Status.PASS,
     "audit_backlog_limit=8192"),
    ((("audit", "0"), ("audit_backlog_limit", "8191")), Status.FAIL,
     "booted with audit=0: processes started before auditd are not audited", Status.FAIL,
     "audit_backlog_limit=8191 is below 8192"),
    ((("quiet", None),), Status.FAIL, "booted with no audit=: processes started before auditd are not audited",
     Status.FAIL, "no audit_backlog_limit on the kernel command line (the kernel default of 64 loses events at boot; "
                  "at least 8192 wanted)"),
    ((("audit", None), ("audit_backlog_limit", None)), Status.FAIL,
     "booted with audit=: processes started before auditd are not audited", Status.FAIL,
     "no audit_backlog_limit on the kernel command line (the kernel default of 64 loses events at boot; at least "
     "8192 wanted)"),
    ((("audit", "1"), ("audit_backlog_limit", "8k")), Status.PASS, "booted with audit=1", Status.ERROR,
     "audit_backlog_limit='8k' is not a number"),
])
def test_boot_params_audit_1_and_a_backlog_of_at_least_the_minimum(
        params: tuple[tuple[str, str | None], ...], audit_status: Status, audit_message: str, backlog_status: Status,
        backlog_message: str) -> None:
    cmdline = KernelCmdline(params)
    got = audit.boot_params(cmdline)
    backlog = cmdline.get("audit_backlog_limit")
    assert [(f.resource, *seen(f), f.location) for f in got] == [
        ("kernel audit=", audit_status, audit_message, {"audit": cmdline.get("audit")}, CMDLINE),
        ("kernel audit_backlog_limit=", backlog_status, backlog_message,
         {"audit_backlog_limit": backlog, "minimum": 8192}, CMDLINE)]


@pytest.mark.parametrize(("machine", "params", "arches", "why"), [
    ("x86_64", (), ("b64", "b32"), "x86_64 runs 32-bit programs too: syscall rules are needed for arch=b64 and "
                                   "arch=b32"),
    ("x86_64", (("ia32_emulation", "0"),), ("b64",), "x86_64 booted with ia32_emulation=0: no 32-bit programs run"),
    ("x86_64", (("ia32_emulation", "Off"),), ("b64",),
     "x86_64 booted with ia32_emulation=Off: no 32-bit programs run"),
    ("x86_64", (("ia32_emulation", "1"),), ("b64", "b32"),
     "x86_64 runs 32-bit programs too: syscall rules are needed for arch=b64 and arch=b32"),
    ("s390x", (("ia32_emulation", "0"),), ("b64", "b32"),
     "s390x runs 32-bit programs too: syscall rules are needed for arch=b64 and arch=b32"),
    # s390x has no switch: a parameter with an empty name is not one
    ("s390x", (("", "0"),), ("b64", "b32"), "s390x runs 32-bit programs too: syscall rules are needed for arch=b64 "
                                            "and arch=b32"),
    *[("x86_64", (("ia32_emulation", v),), ("b64",), f"x86_64 booted with ia32_emulation={v}: no 32-bit programs run")
      for v in ("n", "N", "no", "f", "F", "false", "off")],
    *[("x86_64", (("ia32_emulation", v),), ("b64", "b32"),
       "x86_64 runs 32-bit programs too: syscall rules are needed for arch=b64 and arch=b32") for v in ("y", "on", "")],
    ("aarch64", (), ("b64",), "aarch64: system calls audited as arch=b64 only"),
    # 64-bit machines whose name does not end in 64 (the check read them as 32-bit, so arch=b32 rules alone passed)
    ("ppc64le", (), ("b64",), "ppc64le: system calls audited as arch=b64 only"),
    ("aarch64_be", (), ("b64",), "aarch64_be: system calls audited as arch=b64 only"),
    ("i686", (), ("b32",), "i686: system calls audited as arch=b32 only"),
    ("", (), ("b32",), "machine unknown: system calls audited as arch=b32 only"),
])
def test_audit_arches_and_the_reason(machine: str, params: tuple[tuple[str, str | None], ...],
                                     arches: tuple[str, ...], why: str) -> None:
    system = SystemUnderTest.of(machine=machine) if machine else SystemUnderTest.of()
    assert audit.audit_arches(system, KernelCmdline(params)) == (arches, why)


X86 = SystemUnderTest.of(machine="x86_64")


def test_rule_families_need_a_rule_per_arch_and_name_each_missing_part() -> None:
    rules = ("-a always,exit -F arch=b64 -S unlink,unlinkat -k delete",
             "-a always,exit -S rename,renameat -k delete",  # no arch: the native one, b64
             "-a never,exit -F arch=b32 -S unlink -k quiet",  # a never rule records nothing
             "-w /etc/gshadow -p wa -k identity")
    got = audit.rule_families(running(*rules), X86, KernelCmdline(()),
                              audit_rule_families=("deletions", "/etc/gshadow"))
    why = "x86_64 runs 32-bit programs too: syscall rules are needed for arch=b64 and arch=b32"
    assert [(f.resource, *seen(f)) for f in got] == [
        ("audit rules: deletions", Status.FAIL,
         f"no loaded rule covers deletions (2 missing: part 1 (arch=b32); part 2 (arch=b32); {why})",
         {"matched": [rules[0], rules[1]],
          "missing": [f"part 1 (arch=b32): {audit.RULE_FAMILIES['deletions'][0][0]}",
                      f"part 2 (arch=b32): {audit.RULE_FAMILIES['deletions'][1][0]}"],
          "arches": ["b64", "b32"]}),
        ("audit rules: /etc/gshadow", Status.PASS, f"/etc/gshadow audited by: {rules[3]}",
         {"matched": [rules[3]], "missing": [], "arches": ["b64", "b32"]})]


def test_rule_families_unknown_family_or_no_auditd() -> None:
    [unknown] = audit.rule_families(running(), X86, KernelCmdline(()), audit_rule_families=("mounts", "boats"))
    assert (unknown.status, unknown.message) == (
        Status.ERROR, f"unknown audit rule families in audit_rule_families: boats; known: "
                      f"{', '.join(audit.RULE_FAMILIES)}")
    [stopped] = audit.rule_families(Auditd(True, False, 1, ()), X86, KernelCmdline(()))
    assert seen(stopped) == (Status.FAIL, "no audit rules are loaded: auditd is not running",
                             {"installed": True, "running": False})


SUDO = "/usr/bin/sudo"


@pytest.mark.parametrize(("rule", "recorded"), [
    (f"-a always,exit -F path={SUDO} -F perm=x -F auid>=1000 -k priv", True),
    (f"-a always,exit -F path={SUDO}x -F perm=x -k priv", False),  # another file
    (f"-a always,exit -F path={SUDO} -F perm=wa -k priv", False),  # not execution
    (f"-a never,exit -F path={SUDO} -F perm=x", False),  # suppresses
    (f"-w {SUDO} -p x -k priv", True),
    (f"-w {SUDO} -p wa -k priv", False),
    ("-a always,exit -F dir=/usr/bin/ -F perm=x -k priv", True),
    ("-a always,exit -F dir=/usr/sbin -F perm=x -k priv", False),
    ("-a always,exit -F dir=/usr/binX -F perm=x -k priv", False),  # another directory, not /usr/bin
    ("-a always,exit -F dir=/usr/bin -F perm=w -k priv", False),
    ("-a always,exit -F arch=b64 -S execve -k exec", True),
    ("-a always,exit -F arch=b64 -S execve -F exe=/usr/bin/bash -k exec", False),  # only one program's calls
    ("-a always,exit -F arch=b64 -S execveat -k exec", False),
])
def test_a_privileged_program_is_audited_by_its_path_a_watch_its_directory_or_every_execve(
        rule: str, recorded: bool) -> None:
    prog = SetuidProgram(SUDO, 0o4755, "root", "root")
    found = SetuidPrograms((prog,), ("/usr/bin",), True, "", 2000, 5.0, 3)
    [got] = audit.privileged_commands(running(rule), found)
    if recorded:
        assert (*seen(got), got.location) == (
            Status.PASS, f"{SUDO} (4755) is audited: {rule}",
            {"mode": "4755", "owner": "root", "group": "root", "rule": rule}, Location(SUDO))
    else:
        assert (*seen(got), got.location) == (
            Status.FAIL, f"{SUDO} (4755 root:root) runs with raised privileges but no audit rule records its "
                         "execution", {"mode": "4755", "owner": "root", "group": "root", "rule": None},
            Location(SUDO))


def test_privileged_commands_incomplete_search_none_found_and_no_auditd() -> None:
    caps = {"roots": ["/usr/bin", "/opt"], "depth": 3, "cap_results": 2000, "cap_seconds": 5.0}
    incomplete = SetuidPrograms((), ("/usr/bin", "/opt"), False, "the time cap was hit", 2000, 5.0, 3)
    assert [seen(f) for f in audit.privileged_commands(running(), incomplete)] == [
        (Status.ERROR, "the search for setuid/setgid programs is incomplete: the time cap was hit", caps)]
    none = SetuidPrograms((), ("/usr/bin", "/opt"), True, "", 2000, 5.0, 3)
    assert [seen(f) for f in audit.privileged_commands(running(), none)] == [
        (Status.PASS, "no setuid/setgid program under /usr/bin, /opt", caps)]
    nothing = SetuidPrograms((), (), True, "", 2000, 5.0, 3)
    assert [f.message for f in audit.privileged_commands(running(), nothing)] == [
        "no setuid/setgid program under (no search root exists)"]
    prog = SetuidProgram(SUDO, 0o4755, "root", "root")
    stopped = audit.privileged_commands(Auditd(True, False, 1, ()), SetuidPrograms((prog,), ("/usr/bin",), True))
    assert [seen(f) for f in stopped] == [
        (Status.FAIL, "no audit rules are loaded: auditd is not running",
         {"programs": [SUDO], "roots": ["/usr/bin"], "depth": 0, "cap_results": 0, "cap_seconds": 0.0})]


def test_on_ppc64le_rules_for_arch_b32_alone_do_not_cover_a_family() -> None:
    rules = ("-a always,exit -F arch=b32 -S mount -k mounts",)
    ppc = SystemUnderTest.of(machine="ppc64le")
    [got] = audit.rule_families(running(*rules), ppc, KernelCmdline(()), audit_rule_families=("mounts",))
    assert seen(got) == (
        Status.FAIL, "no loaded rule covers mounts (1 missing: part 1 (arch=b64); ppc64le: system calls audited as "
                     "arch=b64 only)",
        {"matched": [], "missing": [f"part 1 (arch=b64): {audit.RULE_FAMILIES['mounts'][0][0]}"], "arches": ["b64"]})
    [fixed] = audit.rule_families(running("-a always,exit -F arch=b64 -S mount -k mounts"), ppc, KernelCmdline(()),
                                  audit_rule_families=("mounts",))
    assert fixed.status is Status.PASS


def test_a_family_needs_a_rule_per_arch_as_its_arch_field_names_it() -> None:
    """An explicit -F arch=b32 rule covers the b32 part only; a rule without arch covers the native one; a rule added
    with -A never suppresses like -a never."""
    b64, b32 = "-a always,exit -F arch=b64 -S mount -k mounts", "-a always,exit -F arch=b32 -S mount -k mounts"
    cases = [((b64, b32), Status.PASS, [b64, b32], []),
             (("-a always,exit -S mount -k mounts", b32), Status.PASS, ["-a always,exit -S mount -k mounts", b32], []),
             ((b32,), Status.FAIL, [b32], ["part 1 (arch=b64): -S [\\w,]*\\bmount\\b"]),
             (("-A never,exit -F arch=b64 -S mount", b32), Status.FAIL, [b32],
              ["part 1 (arch=b64): -S [\\w,]*\\bmount\\b"])]
    for rules, status, matched, missing in cases:
        [got] = audit.rule_families(running(*rules), X86, KernelCmdline(()), audit_rule_families=("mounts",))
        assert (got.status, thaw(got.observed)) == (
            status, {"matched": matched, "missing": missing, "arches": ["b64", "b32"]}), rules


def test_a_missing_watch_part_is_named_without_an_arch_and_with_every_alternative() -> None:
    [opasswd, mac] = audit.rule_families(running(), X86, KernelCmdline(()),
                                         audit_rule_families=("/etc/security/opasswd", "MAC policy"))
    assert (opasswd.status, opasswd.message, thaw(opasswd.observed)["missing"]) == (
        Status.FAIL, "no loaded rule covers /etc/security/opasswd (1 missing: part 1; x86_64 runs 32-bit programs "
                     "too: syscall rules are needed for arch=b64 and arch=b32)",
        ["part 1: (-w |path=)/etc/security/opasswd\\b"])
    assert thaw(mac.observed)["missing"] == [
        "part 1: (-w |dir=|path=)/etc/selinux\\b or (-w |dir=|path=)/etc/apparmor(\\.d)?\\b"]


def test_coverage_reads_each_rule_to_its_end() -> None:
    """Watches printed without permissions end the line: the file name's word boundary is the end of the rule."""
    assert audit.coverage(("-w /etc/passwd", "-w /etc/group", "-w /etc/shadow"))["identity files"] is True
    assert audit.coverage(("-w /etc/passwdx", "-w /etc/group", "-w /etc/shadow"))["identity files"] is False
