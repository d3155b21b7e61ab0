"""Issue 14 part B: every new audit, logging, encryption and restore-test check on the recorded cases.

debian12 holds outputs recorded on a real Debian 12 machine (this one: /proc/cmdline, /proc/swaps, logrotate, the
setuid search, /var/log, ssh -G); ubuntu2204, ubuntu2404 and rhel9 are built from the distributions' documented
defaults; hardened is compliant and weak non-compliant (see tests/fixtures/linux/README.md).
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from scanner.model import Finding, Status
from scanner.registry import Registry
from scanner.runner import evaluate
from tests.checks.linux.recorded import case_target, recorded_facts

CASES_B = ("debian12", "ubuntu2204", "ubuntu2404", "rhel9", "hardened", "weak")
NA = "not_applicable"
EXPECTED_B = {
    #  check                              debian12  ubuntu2204 ubuntu2404 rhel9   hardened  weak
    "linux.audit.auditd_conf":           (NA,      NA,        NA,        "fail", "pass",   "fail"),
    "linux.audit.immutable":             ("fail",  "fail",    "fail",    "fail", "pass",   "fail"),
    "linux.audit.rule_families":         ("fail",  "fail",    "fail",    "fail", "pass",   "fail"),
    "linux.audit.privileged_commands":   ("fail",  "fail",    "fail",    "fail", "pass",   "fail"),
    "linux.audit.boot_params":           ("fail",  "fail",    "fail",    "fail", "pass",   "fail"),
    "linux.logs.syslog_running":         (NA,      "pass",    "pass",    "pass", "pass",   "pass"),
    "linux.logs.syslog_file_mode":       (NA,      "pass",    "pass",    "pass", "pass",   "fail"),
    "linux.logs.var_log_perms":          ("fail",  "fail",    "fail",    "fail", "pass",   "fail"),
    "linux.logs.rotation":               (NA,      "fail",    "fail",    "fail", "pass",   "fail"),
    "linux.logs.forwarding_tls":         (NA,      NA,        NA,        NA,     "pass",   NA),
    "linux.crypto.swap":                 ("pass",  "fail",    "fail",    "fail", "pass",   "fail"),
    "linux.crypto.tmp":                  ("fail",  "fail",    "fail",    "fail", "pass",   "fail"),
    "linux.crypto.system_policy":        (NA,      NA,        NA,        "pass", NA,       "fail"),
    "linux.crypto.ssh_client":           ("fail",  "fail",    "fail",    "pass", "pass",   "fail"),
    "linux.backup.restore_tested":       ("manual", "manual", "manual",  "manual", "pass", "fail"),
}
NEW_MODULES = ("checks.linux.logs",)
ORDER = (Status.ERROR, Status.FAIL, Status.MANUAL, Status.PASS, Status.NOT_APPLICABLE)


@cache
def registry() -> Registry:
    return Registry.load(["checks.linux"])


@cache
def facts(case: str):
    return recorded_facts(case)


def run(check_id: str, case: str, **policy) -> list[Finding]:
    return evaluate(registry().checks[check_id], facts(case) if not policy else recorded_facts(
        case, case_target(case, **policy)), case_target(case, **policy))


def worst(findings: list[Finding]) -> str:
    return min((f.status for f in findings), key=ORDER.index).value


def test_every_check_of_part_b_is_in_the_table():
    mine = {c for c, s in registry().checks.items() if s.module in NEW_MODULES}
    assert mine <= set(EXPECTED_B)
    assert set(EXPECTED_B) <= set(registry().checks)


@pytest.mark.parametrize(("check_id", "case"), [(c, k) for c in EXPECTED_B for k in CASES_B])
def test_expected_status(check_id, case):
    findings = run(check_id, case)
    assert worst(findings) == EXPECTED_B[check_id][CASES_B.index(case)], [f.message for f in findings]
    assert all(f.message for f in findings)


def test_every_check_has_a_remediation():
    assert all(registry().checks[c].remediation for c in EXPECTED_B)


def _by(check_id: str, case: str) -> dict[str, Finding]:
    return {f.resource: f for f in run(check_id, case)}


def test_rhel_auditd_conf_defaults_observed():
    found = _by("linux.audit.auditd_conf", "rhel9")
    assert found["auditd.conf max_log_file_action"].observed["max_log_file_action"] == "ROTATE"
    assert found["auditd.conf max_log_file_action"].location.start_line == 17
    assert found["auditd.conf admin_space_left_action"].status is Status.FAIL  # SUSPEND
    assert found["auditd.conf disk_full_action"].observed["disk_full_action"] == "SUSPEND"
    assert found["auditd.conf log_format"].status is Status.PASS  # ENRICHED
    num_logs = found["auditd.conf num_logs"]
    assert (num_logs.observed["num_logs"], num_logs.status) == (5, Status.PASS)


def test_hardened_immutable_location_and_families():
    imm = run("linux.audit.immutable", "hardened")[0]
    assert (imm.location.path, imm.location.start_line) == ("/etc/audit/rules.d/99-finalize.rules", 2)
    assert len(run("linux.audit.rule_families", "hardened")) == 11


def test_privileged_commands_names_the_unaudited_program():
    found = _by("linux.audit.privileged_commands", "rhel9")
    assert found["/usr/bin/sudo"].observed["mode"] == "4111"
    assert found["/usr/bin/sudo"].status is Status.FAIL
    assert len(found) == 16
    hardened = _by("linux.audit.privileged_commands", "hardened")
    assert hardened["/usr/bin/passwd"].observed["rule"].startswith("-a always,exit -F path=/usr/bin/passwd")


def test_debian12_recorded_setuid_programs():
    progs = facts("debian12")["linux.setuid_programs"].value
    assert progs.complete and progs.roots == ("/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/libexec",
                                             "/usr/local", "/opt")
    assert "/usr/bin/sudo" in {p.path for p in progs.programs}


def test_plaintext_forwarding_channels():
    """A case of its own, so that the weak case keeps having no forwarding for linux.audit.remote_forwarding."""
    found = {f.observed["destination"]: f for f in run("linux.logs.forwarding_tls", "plaintext-forwarding")}
    assert worst(list(found.values())) == "fail" and len(found) == 3
    assert found["loghost.example.com"].observed["protocol"] == "udp"
    assert "not verified" in found["10.0.0.9"].message  # TLS with StreamDriverAuthMode anon
    assert found["http://logs.example.com:19532"].observed["tls"] is False


def test_rotation_days_observed():
    found = _by("linux.logs.rotation", "ubuntu2204")
    assert found["/var/log/syslog"].observed["days"] == 28
    assert found["/var/log/syslog"].location.path == "/etc/logrotate.d/rsyslog"
    assert _by("linux.logs.rotation", "hardened")["/var/log/auth.log"].observed["days"] == 91


def test_crypto_policy_pending_and_weak():
    f = run("linux.crypto.system_policy", "weak")[0]
    assert (f.observed["configured"], f.observed["applied"]) == ("DEFAULT:SHA1", "LEGACY")


def test_swap_names_device_mapper_by_mapper_name():
    assert {f.resource for f in run("linux.crypto.swap", "hardened")} == {"/dev/mapper/vg0-swap", "/dev/zram0"}


def test_restore_test_age():
    f = run("linux.backup.restore_tested", "hardened")[0]
    assert (f.observed["last_test"], f.observed["age_days"]) == ("2025-03-14T09:30:00+00:00", 81.0)
    assert run("linux.backup.restore_tested", "hardened", restore_test_days=30)[0].status is Status.FAIL


@pytest.mark.parametrize("policy", [{"audit_backlog_min": 16384}, {"audit_max_log_file_mb": 64}])
def test_thresholds_from_policy(policy):
    check_id = "linux.audit.boot_params" if "audit_backlog_min" in policy else "linux.audit.auditd_conf"
    assert worst(run(check_id, "hardened", **policy)) == "fail"


def test_unknown_rule_family_is_an_error():
    assert worst(run("linux.audit.rule_families", "hardened", audit_rule_families=["bogus"])) == "error"


def test_collector_default_roots_match_the_check_default():
    from scanner.collectors.linux_audit import SETUID_SEARCH_DEPTH, SETUID_SEARCH_ROOTS

    params = registry().checks["linux.audit.privileged_commands"].params
    assert params["setuid_search_roots"] == SETUID_SEARCH_ROOTS and params["setuid_search_depth"] == SETUID_SEARCH_DEPTH


def test_fixtures_exist():
    assert (Path(__file__).resolve().parents[2] / "fixtures/linux/ubuntu2404").is_dir()


# ---- fail closed: a damaged recording makes the check an error, never a pass

BROKEN_B = [
    # (case, check, {relative path: new content or None to delete}, words expected in the error)
    ("hardened", "linux.audit.auditd_conf", {"files/etc/audit/auditd.conf": "disk_full_action halt\n"},
     "not a 'key = value' line"),
    ("hardened", "linux.audit.immutable", {"files/etc/audit/rules.d/99-finalize.rules": "e 2\n"}, "not an audit rule"),
    ("hardened", "linux.audit.boot_params", {"files/proc/cmdline": None}, "/proc/cmdline does not exist"),
    ("hardened", "linux.audit.privileged_commands", {"probes/setuid_programs/find.rc": "124"}, "timed out"),
    ("hardened", "linux.logs.syslog_running", {"probes/syslog/processes.rc": "1"}, "list processes: exit 1"),
    ("hardened", "linux.logs.forwarding_tls", {"files/etc/rsyslog.d/90-forward.conf": '*.* action(type="omfwd"\n'},
     "unterminated action("),
    ("hardened", "linux.logs.var_log_perms", {"probes/var_log/find.out": "garbage"}, "unexpected find output"),
    ("hardened", "linux.logs.rotation", {"files/etc/logrotate.d/rsyslog": "/var/log/syslog {\nrotate x\n}\n"},
     "rotate needs a number"),
    ("hardened", "linux.crypto.swap", {"files/proc/swaps": "nothing\n"}, "no 'Filename' header"),
    ("weak", "linux.crypto.system_policy", {"files/etc/crypto-policies/config": "DEFAULT LEGACY\n"},
     "expected one policy name"),
    ("hardened", "linux.crypto.ssh_client", {"probes/ssh_client/ssh_G.rc": "3", "probes/ssh_client/ssh_G.out": "",
                                             "probes/ssh_client/ssh_G.err": "refused: Match exec\n"}, "Match exec"),
    ("hardened", "linux.backup.restore_tested", {"files/var/lib/gxp/restore-test": "last week\n"},
     "not one ISO-8601 timestamp"),
    ("hardened", "linux.backup.restore_tested", {"files/var/lib/gxp/restore-test": None}, "does not exist"),
]


@pytest.mark.parametrize(("case", "check_id", "changes", "reason"), BROKEN_B,
                         ids=[f"{k}-{r[:30]}" for _, k, _, r in BROKEN_B])
def test_broken_evidence_is_an_error(tmp_path, case, check_id, changes, reason):
    from tests.checks.linux.recorded import changed_copy

    changed_copy(case, tmp_path, changes)
    target = case_target(case, tmp_path)
    findings = evaluate(registry().checks[check_id], recorded_facts(case, target, tmp_path), target)
    assert [f.status for f in findings] == [Status.ERROR], [f.message for f in findings]
    assert reason in findings[0].message


def test_a_never_rule_records_nothing():
    from checks.linux.audit import privileged_commands, rule_families
    from scanner.facts.linux import Auditd, KernelCmdline, SetuidProgram, SetuidPrograms
    from scanner.facts.system import SystemUnderTest

    never = Auditd(True, True, 1, ("-a never,exit -F arch=b64 -S execve", "-a never,exit -F arch=b64 -S mount"))
    progs = SetuidPrograms((SetuidProgram("/usr/bin/su", 0o4755, "root", "root"),), ("/usr",), True)
    assert [f.status for f in privileged_commands(never, progs)] == [Status.FAIL]
    x86 = (SystemUnderTest.of(machine="x86_64"), KernelCmdline(()))
    mounts = [f for f in rule_families(never, *x86, ("mounts",))]
    assert [f.status for f in mounts] == [Status.FAIL]
    always = Auditd(True, True, 1, ("-a always,exit -F arch=b64 -S execve",))
    assert [f.status for f in privileged_commands(always, progs)] == [Status.PASS]


def test_syslog_ng_tls_needs_transport_tls():
    from scanner.collectors.linux_common import Probe, Section
    from scanner.collectors.linux_logs import parse_syslog

    conf = (b'destination d_plain { network("loghost" port(514) tls(ca-dir("/etc/ca"))); };\n'
            b'destination d_tls { network("loghost" port(6514) transport("tls") tls(ca-dir("/etc/ca"))); };\n'
            b'destination d_anon { syslog("10.0.0.1" transport("tls") tls(peer-verify(optional-untrusted))); };\n')
    section = Section({"/etc/syslog-ng/syslog-ng.conf": conf},
                      probes={"binaries": Probe(0, b"/usr/sbin/syslog-ng\n"),
                              "processes": Probe(0, b"/proc/7/exe 0 /usr/sbin/syslog-ng\0"),
                              "units": Probe(0, b"Id=systemd-journal-upload.service\nActiveState=inactive\n")})
    channels = parse_syslog(section, case_target("weak")).channels
    got = [(c.destination, c.protocol, c.tls, c.authenticated) for c in channels]
    assert got == [("loghost", "tcp", False, False), ("loghost", "tls", True, True), ("10.0.0.1", "tls", True, False)]
