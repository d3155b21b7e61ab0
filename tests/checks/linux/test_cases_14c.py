"""Issue 14, the last gaps: rsyslog's process umask, 32-bit audit rules, ssh_config Include files.

Each on the recorded cases (Debian 12 recorded on a real machine; Ubuntu 22.04/24.04 and RHEL 9 built from the
distributions' documented defaults, see tests/fixtures/linux/README.md) and on a copy of a case changed to be weak.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from scanner.model import Finding, Status
from scanner.registry import Registry
from scanner.runner import evaluate
from tests.checks.linux.recorded import FIXTURES, case_target, changed_copy, recorded_facts


@cache
def registry() -> Registry:
    return Registry.load(["checks.linux"])


def run(check_id: str, case: str, tmp_path: Path | None = None,
        changes: dict[str, str | None] | None = None) -> list[Finding]:
    """The check on a recorded case, or on a copy of it with ``changes`` (relative path: content, None deletes)."""
    fixtures = FIXTURES
    if changes:
        assert tmp_path is not None
        fixtures = changed_copy(case, tmp_path, changes)
    target = case_target(case, fixtures)
    return evaluate(registry().checks[check_id], recorded_facts(case, target, fixtures), target)


def fixture(case: str, rel: str) -> str:
    return (FIXTURES / case / rel).read_text()


# ---- rsyslog creates files with FileCreateMode less its process umask

@pytest.mark.parametrize(("case", "status", "mode", "umask", "how"), [
    ("debian12", Status.NOT_APPLICABLE, None, None, ""),  # no rsyslog on the recorded Debian 12 machine
    ("ubuntu2204", Status.PASS, "0640", "0022", "$umask 0022 at /etc/rsyslog.conf:9"),
    ("ubuntu2404", Status.PASS, "0640", "0022", "$umask 0022 at /etc/rsyslog.conf:9"),
    ("rhel9", Status.PASS, "0600", "0066", "rsyslog.service UMask=0066, systemctl show"),
    ("weak", Status.FAIL, "0644", "0022", "rsyslog.service UMask=0022, systemctl show"),
])
def test_rsyslog_file_mode_is_the_mode_the_daemon_creates(case, status, mode, umask, how):
    [finding] = run("linux.logs.syslog_file_mode", case)
    assert finding.status is status, finding.message
    if mode:
        assert (finding.observed["mode"], finding.observed["umask"]) == (mode, umask)
        assert how in finding.message


def test_rhel9_with_umask_0000_in_rsyslog_conf_creates_0644(tmp_path):
    conf = "$umask 0000\n" + fixture("rhel9", "files/etc/rsyslog.conf")
    [finding] = run("linux.logs.syslog_file_mode", "rhel9", tmp_path, {"files/etc/rsyslog.conf": conf})
    assert finding.status is Status.FAIL
    assert finding.observed["mode"] == "0644" and "$umask 0000 at /etc/rsyslog.conf:1" in finding.message


def test_two_umask_lines_mask_only_the_bits_both_mask(tmp_path):
    conf = "$umask 0077\n" + fixture("rhel9", "files/etc/rsyslog.conf") + "$umask 0022\n"
    [finding] = run("linux.logs.syslog_file_mode", "rhel9", tmp_path, {"files/etc/rsyslog.conf": conf})
    assert finding.status is Status.FAIL and finding.observed["umask"] == "0022"


def test_rsyslog_umask_unknown_masks_nothing(tmp_path):
    """systemd could not be asked: the configured mode stands, so a weak mode is never hidden by a guess."""
    changes = {"probes/syslog/units.out": "", "probes/syslog/units.rc": "1",
               "probes/syslog/units.err": "Failed to connect to bus: No such file or directory\n"}
    [finding] = run("linux.logs.syslog_file_mode", "rhel9", tmp_path, changes)
    assert finding.status is Status.FAIL and finding.observed["mode"] == "0644"
    assert "umask unknown (systemctl show: exit 1: Failed to connect to bus" in finding.message


def test_rsyslog_umask_that_is_not_octal_is_an_error(tmp_path):
    conf = "$umask 0o22\n" + fixture("rhel9", "files/etc/rsyslog.conf")
    [finding] = run("linux.logs.syslog_file_mode", "rhel9", tmp_path, {"files/etc/rsyslog.conf": conf})
    assert finding.status is Status.ERROR and "is not an octal mode" in finding.message


# ---- syscall rule families on hosts that run 32-bit programs need arch=b32 rules too

HARDENED_RULES = fixture("hardened", "probes/auditd/auditctl_l.out")
B64_ONLY = "\n".join(line for line in HARDENED_RULES.split("\n") if "arch=b32" not in line)
SYSCALL_FAMILIES = {"permission changes", "deletions", "failed access", "kernel modules", "network configuration",
                    "mounts"}


def auditd_running(rules: str) -> dict[str, str | None]:
    return {"probes/auditd/auditctl_l.out": rules, "probes/auditd/auditctl_s.out": "enabled 1\n",
            "probes/auditd/auditctl_s.rc": "0",
            "probes/auditd/processes.out": "/proc/1/exe 0 /usr/lib/systemd/systemd\0/proc/611/exe 0 /usr/sbin/auditd\0"}


@pytest.mark.parametrize("case", ["debian12", "ubuntu2204", "ubuntu2404", "rhel9"])
def test_b64_only_syscall_rules_fail_on_an_x86_64_host(tmp_path, case):
    found = {f.resource.split(": ", 1)[1]: f for f in run("linux.audit.rule_families", case, tmp_path,
                                                           auditd_running(B64_ONLY))}
    failing = {name for name, f in found.items() if f.status is Status.FAIL}
    assert failing == SYSCALL_FAMILIES
    assert "part 1 (arch=b32)" in found["mounts"].observed["missing"][0]
    assert "x86_64 runs 32-bit programs too" in found["mounts"].message


@pytest.mark.parametrize("case", ["debian12", "ubuntu2204", "ubuntu2404", "rhel9"])
def test_rules_for_both_arches_pass(tmp_path, case):
    findings = run("linux.audit.rule_families", case, tmp_path, auditd_running(HARDENED_RULES))
    assert {f.status for f in findings} == {Status.PASS}, [f.message for f in findings if f.status is not Status.PASS]
    mounts = next(f for f in findings if f.resource.endswith("mounts"))
    assert [r.split(" -S ")[0] for r in mounts.observed["matched"]] == [
        "-a always,exit -F arch=b64", "-a always,exit -F arch=b32"]


def test_booted_without_ia32_emulation_needs_b64_only(tmp_path):
    cmdline = fixture("rhel9", "files/proc/cmdline").rstrip("\n") + " ia32_emulation=0\n"
    findings = run("linux.audit.rule_families", "rhel9", tmp_path,
                   {**auditd_running(B64_ONLY), "files/proc/cmdline": cmdline})
    assert {f.status for f in findings} == {Status.PASS}


def test_b32_rules_alone_do_not_cover_the_native_calls(tmp_path):
    b32_only = "\n".join(line for line in HARDENED_RULES.split("\n") if "arch=b64" not in line)
    found = {f.resource.split(": ", 1)[1]: f for f in run("linux.audit.rule_families", "rhel9", tmp_path,
                                                           auditd_running(b32_only))}
    assert found["mounts"].status is Status.FAIL and "part 1 (arch=b64)" in found["mounts"].observed["missing"][0]


@pytest.mark.parametrize(("machine", "cmdline", "arches"), [
    ("x86_64", "ro quiet", ("b64", "b32")),
    ("x86_64", "ro ia32_emulation=off", ("b64",)),
    ("x86_64", "ro ia32_emulation=1", ("b64", "b32")),
    ("s390x", "", ("b64", "b32")),
    ("aarch64", "", ("b64",)),  # many arm64 server CPUs cannot run 32-bit code: not assumed
    ("i686", "", ("b32",)),
])
def test_which_arches_a_host_audits(machine, cmdline, arches):
    from checks.linux.audit import audit_arches
    from scanner.facts.linux import KernelCmdline
    from scanner.facts.system import SystemUnderTest

    params = tuple((w.partition("=")[0], w.partition("=")[2] if "=" in w else None) for w in cmdline.split())
    got, why = audit_arches(SystemUnderTest.of(machine=machine), KernelCmdline(params))
    assert got == arches and machine in why


# ---- sudo: aliases stand for their commands, and '!authenticate' is NOPASSWD for everything

@pytest.mark.parametrize("case", ["debian12", "rhel9", "hardened"])
@pytest.mark.parametrize(("rules", "why"), [
    ("Cmnd_Alias EVERYTHING = ALL\n%ops ALL=(ALL) NOPASSWD: EVERYTHING\n", "NOPASSWD: ALL"),
    ("Cmnd_Alias SHELLS = /bin/sh, /bin/bash : NOSHELL = !SHELLS\neve ALL = ALL, NOSHELL\n", "negated command"),
    ("Cmnd_Alias SHELLS = /bin/sh, /bin/bash\neve ALL = ALL, !SHELLS\n", "negated command"),
    ("Defaults:eve !authenticate\n", "authentication off"),
    ("Defaults\tenv_reset, !authenticate\n", "authentication off"),
])
def test_sudo_aliases_and_authenticate_off_are_seen_through(tmp_path, case, rules, why):
    assert run("linux.sudo.command_lists", case)[0].status is Status.PASS
    [finding] = run("linux.sudo.command_lists", case, tmp_path, {"files/etc/sudoers.d/50-ops": rules})
    assert finding.status is Status.FAIL
    assert any(r.startswith("/etc/sudoers.d/50-ops:") and r.endswith(f"({why})") for r in finding.observed["rules"])


def test_an_alias_of_explicit_commands_passes(tmp_path):
    rules = "Cmnd_Alias RESTART = /usr/bin/systemctl restart app\n%ops ALL=(root) NOPASSWD: RESTART\n"
    [finding] = run("linux.sudo.command_lists", "rhel9", tmp_path, {"files/etc/sudoers.d/50-ops": rules})
    assert finding.status is Status.PASS


# ---- su: a pam_wheel rule restricts only when its failure ends the su

@pytest.mark.parametrize("case", ["debian12", "ubuntu2204", "rhel9"])
@pytest.mark.parametrize(("rule", "status", "words"), [
    ("auth required pam_wheel.so use_uid group=root", Status.PASS, "su is limited to group root"),
    ("auth requisite pam_wheel.so use_uid group=root", Status.PASS, "su is limited to group root"),
    ("auth sufficient pam_wheel.so use_uid group=root", Status.FAIL, "is not stopped"),
    ("auth optional pam_wheel.so use_uid group=root", Status.FAIL, "is not stopped"),
    ("auth required pam_wheel.so group=root", Status.FAIL, "without use_uid"),
])
def test_su_pam_wheel_control_decides(tmp_path, case, rule, status, words):
    su = rule + "\n" + fixture(case, "files/etc/pam.d/su")
    [finding] = run("linux.accounts.su_restricted", case, tmp_path, {"files/etc/pam.d/su": su})
    assert finding.status is status and words in finding.message, finding.message


def test_rhel9_with_a_global_umask_0000_creates_0644(tmp_path):
    conf = 'global(workDirectory="/var/lib/rsyslog" umask="0000")\n' + fixture("rhel9", "files/etc/rsyslog.conf")
    [finding] = run("linux.logs.syslog_file_mode", "rhel9", tmp_path, {"files/etc/rsyslog.conf": conf})
    assert finding.status is Status.FAIL and finding.observed["mode"] == "0644"
    assert "global(umask=0000) at /etc/rsyslog.conf:1" in finding.message
