"""Every Linux check on every recorded case: Debian 12, Ubuntu 22.04 and RHEL 9 defaults, a hardened and a weak host.

Facts come from the recorded files and command outputs under tests/fixtures/linux/<case>/, parsed by the
collector itself; checks run through the engine's own ``evaluate`` (so failed facts become ``error``).
"""
from __future__ import annotations

from functools import cache

import pytest

from scanner.model import Finding, Status
from scanner.registry import Registry
from scanner.runner import evaluate
from tests.checks.linux.recorded import CASES, case_target, recorded_facts

#: Worst status per check and case, in the order of CASES.
EXPECTED = {
    #  check                             debian12   ubuntu2204  rhel9   hardened  weak
    "linux.accounts.uid0":              ("pass",   "pass",     "pass",  "pass",   "fail"),
    "linux.accounts.unique_ids":        ("pass",   "pass",     "pass",  "pass",   "fail"),
    "linux.accounts.empty_password":    ("fail",   "fail",     "fail",  "pass",   "fail"),  # nullok
    "linux.audit.auditd_active":        ("fail",   "fail",     "pass",  "pass",   "fail"),
    "linux.audit.rules":                ("fail",   "fail",     "fail",  "pass",   "fail"),
    "linux.audit.log_perms":            ("not_applicable", "not_applicable", "pass", "pass", "fail"),
    "linux.audit.remote_forwarding":    ("fail",   "fail",     "fail",  "pass",   "fail"),
    "linux.audit.journald_persistent":  ("pass",   "pass",     "fail",  "pass",   "fail"),
    "linux.backup.scheduled":           ("fail",   "fail",     "fail",  "pass",   "fail"),
    "linux.backup.recent":              ("manual", "manual",   "manual", "pass",  "fail"),
    "linux.crypto.disk_encryption":     ("manual", "fail",     "fail",  "pass",   "fail"),
    "linux.files.shadow_perms":         ("pass",   "pass",     "pass",  "pass",   "fail"),
    "linux.files.passwd_perms":         ("pass",   "pass",     "pass",  "pass",   "fail"),
    "linux.password.max_age":           ("fail",   "fail",     "fail",  "pass",   "fail"),
    "linux.password.min_age":           ("fail",   "fail",     "fail",  "pass",   "fail"),
    "linux.password.inactive":          ("fail",   "fail",     "fail",  "pass",   "fail"),
    "linux.password.min_length":        ("fail",   "fail",     "fail",  "pass",   "fail"),
    "linux.password.complexity":        ("fail",   "fail",     "fail",  "pass",   "fail"),
    "linux.password.history":           ("fail",   "fail",     "fail",  "pass",   "fail"),
    "linux.password.lockout":           ("fail",   "fail",     "fail",  "pass",   "fail"),
    "linux.password.hashing":           ("pass",   "pass",     "pass",  "pass",   "fail"),
    "linux.ssh.root_login":             ("fail",   "fail",     "fail",  "pass",   "fail"),
    "linux.ssh.password_auth":          ("fail",   "pass",     "fail",  "pass",   "fail"),
    "linux.ssh.empty_passwords":        ("pass",   "pass",     "pass",  "pass",   "fail"),
    "linux.ssh.max_auth_tries":         ("fail",   "fail",     "fail",  "pass",   "fail"),
    "linux.ssh.idle_timeout":           ("fail",   "fail",     "fail",  "pass",   "fail"),
    "linux.ssh.crypto":                 ("fail",   "fail",     "pass",  "pass",   "fail"),
    "linux.sudo.nopasswd":              ("pass",   "fail",     "pass",  "pass",   "fail"),
    "linux.time.synchronized":          ("pass",   "pass",     "pass",  "pass",   "fail"),
}
SEVERITY_ORDER = (Status.ERROR, Status.FAIL, Status.MANUAL, Status.PASS, Status.NOT_APPLICABLE)


@cache
def registry() -> Registry:
    return Registry.load(["checks.linux"])


@cache
def case_facts(case: str):
    return recorded_facts(case)


def run_check(check_id: str, case: str) -> list[Finding]:
    return evaluate(registry().checks[check_id], case_facts(case), case_target(case))


def worst(findings: list[Finding]) -> str:
    return min((f.status for f in findings), key=SEVERITY_ORDER.index).value


def test_the_table_covers_every_linux_check():
    from tests.checks.linux.test_access import EXPECTED_ACCESS  # issue 14 part A: the access checks' own table
    from tests.checks.linux.test_cases_14b import EXPECTED_B  # issue 14 part B keeps its own table

    tables = (EXPECTED, EXPECTED_ACCESS, EXPECTED_B)
    assert sum(len(t) for t in tables) == len(set().union(*tables)) == len(registry().checks)
    assert set().union(*tables) == set(registry().checks)
    assert len(EXPECTED) == 29


@pytest.mark.parametrize("case", CASES)
def test_every_fact_of_every_case_parses(case):
    broken = {n: f.error for n, f in case_facts(case).items() if not f.ok}
    assert broken == {}


@pytest.mark.parametrize(("check_id", "case"), [(c, k) for c in EXPECTED for k in CASES])
def test_expected_status(check_id, case):
    findings = run_check(check_id, case)
    assert worst(findings) == EXPECTED[check_id][CASES.index(case)], [f.message for f in findings]
    assert all(f.message for f in findings)


def _one(check_id: str, case: str, resource: str | None = None) -> Finding:
    found = [f for f in run_check(check_id, case) if resource is None or f.resource == resource]
    assert len(found) == 1, found
    return found[0]


# ---- observed values: what the finding says it saw is what the recorded host had


def test_debian_defaults_observed():
    assert _one("linux.password.max_age", "debian12", "/etc/login.defs").observed["PASS_MAX_DAYS"] == 99999
    assert _one("linux.ssh.root_login", "debian12").observed["permitrootlogin"] == "without-password"
    assert _one("linux.ssh.crypto", "debian12").observed["weak"] == {
        "macs": ("umac-64-etm@openssh.com", "umac-64@openssh.com")}
    scheduled = _one("linux.backup.scheduled", "debian12")
    assert scheduled.observed["jobs"] == ()  # dpkg-db-backup is housekeeping, not a backup
    assert _one("linux.password.min_length", "debian12").observed["minlen"] == 6


def test_ubuntu_cloud_image_observed():
    sudo = _one("linux.sudo.nopasswd", "ubuntu2204")
    assert sudo.observed["rules"] == ("/etc/sudoers.d/90-cloud-init-users:4: ubuntu ALL=(ALL) NOPASSWD:ALL",)
    assert _one("linux.ssh.password_auth", "ubuntu2204").observed["passwordauthentication"] == "no"
    enc = _one("linux.crypto.disk_encryption", "ubuntu2204")
    assert (enc.resource, enc.observed["source"]) == ("/", "/dev/vda1")


def test_rhel_defaults_observed():
    assert _one("linux.sudo.nopasswd", "rhel9").status is Status.PASS  # the NOPASSWD example is commented out
    assert _one("linux.password.min_length", "rhel9").observed["minlen"] == 8  # pwquality default
    assert _one("linux.audit.rules", "rhel9").observed["rules"] == 0
    enc = _one("linux.crypto.disk_encryption", "rhel9")
    assert (enc.observed["mount"], enc.observed["source"]) == ("/", "/dev/mapper/rhel-root")
    assert dict(_one("linux.audit.journald_persistent", "rhel9").observed) == {
        "Storage": "auto", "var_log_journal": False, "running": True,
        "how": "systemctl show systemd-journald.service: ActiveState=active"}
    assert _one("linux.password.inactive", "rhel9", "/etc/default/useradd").observed["INACTIVE"] == -1


def test_hardened_observed():
    assert _one("linux.password.min_length", "hardened").observed["minlen"] == 14  # from pwquality.conf.d
    assert _one("linux.password.history", "hardened").observed["remember"] == 24
    lockout = _one("linux.password.lockout", "hardened").observed
    assert (lockout["module"], lockout["deny"], lockout["unlock_time"]) == ("pam_faillock.so", 5, "900")
    assert {f.resource: f.observed["crypt_device"] for f in run_check("linux.crypto.disk_encryption", "hardened")} \
        == {"/": "/dev/mapper/sda3_crypt", "/srv/gxp": "/dev/mapper/sda3_crypt"}
    recent = _one("linux.backup.recent", "hardened").observed
    assert (recent["last_success"], recent["age_hours"]) == ("2025-06-03T01:42:10+00:00", 7.53)
    assert _one("linux.backup.scheduled", "hardened").observed["jobs"] == (
        "cron /etc/cron.d/restic-backup:3: restic",)
    assert _one("linux.ssh.idle_timeout", "hardened").observed["channeltimeout_session"] == 900
    remote = _one("linux.audit.remote_forwarding", "hardened").observed
    assert remote["audisp_remote"] == ("/etc/audit/plugins.d/au-remote.conf: remote_server=loghost.gxp.example.com",)


def test_weak_observed():
    assert _one("linux.accounts.uid0", "weak").observed["uid0"] == ("root", "toor")
    unique = {f.resource: f.observed for f in run_check("linux.accounts.unique_ids", "weak")}
    assert unique["/etc/passwd"]["duplicate_uids"] == (0, 1001)  # toor shares root's UID 0
    assert unique["/etc/group"]["duplicate_names"] == ("lab",)
    assert _one("linux.accounts.empty_password", "weak", "/etc/shadow").observed["empty"] == ("kiosk", "lab")
    sudo = _one("linux.sudo.nopasswd", "weak").observed["rules"]
    assert sudo == ("/etc/sudoers.d/devs:2: %devs\tALL=(ALL) NOPASSWD: ALL",
                    "/etc/sudoers.d/devs:3: Defaults:lab\t!authenticate")  # old.bak is skipped by sudo too
    weak = _one("linux.ssh.crypto", "weak").observed["weak"]
    assert weak["ciphers"] == ("aes128-cbc", "3des-cbc")
    assert weak["kexalgorithms"] == ("diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1")
    assert weak["hostkeyalgorithms"] == ("ssh-dss",)
    hashing = {f.resource: f.observed for f in run_check("linux.password.hashing", "weak")}
    assert hashing["/etc/shadow"]["accounts"] == {"toor": "md5", "legacy": "des"}
    lockout = _one("linux.password.lockout", "weak").observed
    assert (lockout["module"], lockout["deny"]) == ("pam_tally2.so", 0)
    perms = {f.resource: f.message for f in run_check("linux.files.passwd_perms", "weak")}
    assert "mode 0666 is wider than 0644" in perms["/etc/passwd"]
    assert "group alice is not root" in perms["/etc/group"]
    recent = _one("linux.backup.recent", "weak").observed
    assert recent["last_success"] == "2025-05-20T02:00:00+00:00"  # the first timestamp: the last success
    assert recent["age_hours"] > 24 * 14


@pytest.mark.parametrize(("policy", "expected"), [
    ({"password_max_age_days": 365}, "fail"),  # 99999 still exceeds a year
    ({"password_min_length": 8}, "pass"),  # RHEL's pwquality default of 8 meets a policy of 8
])
def test_policy_thresholds_override_defaults(policy, expected):
    check_id = "linux.password.max_age" if "password_max_age_days" in policy else "linux.password.min_length"
    findings = evaluate(registry().checks[check_id], case_facts("rhel9"), case_target("rhel9", **policy))
    assert worst(findings) == expected
