"""Issue 14 part A: the SSH server, accounts and access checks on recorded Debian 12, Ubuntu 22.04 and 24.04,
RHEL 9, hardened and weak hosts (see tests/fixtures/linux/README.md for which files were recorded on a real
machine), with the values each finding says it saw, where it points, policy overrides, and broken evidence.
"""
from __future__ import annotations

from functools import cache

import pytest

from scanner.model import Fact, Finding, Location, Status
from scanner.runner import evaluate
from tests.checks.linux.recorded import FIXTURES, case_target, changed_copy, recorded_facts
from tests.checks.linux.test_cases import registry, worst

CASES_A = ("debian12", "ubuntu2204", "ubuntu2404", "rhel9", "hardened", "weak")
NA = "not_applicable"

#: Worst status per check and case, in the order of CASES_A.
EXPECTED_ACCESS = {
    #  check                              debian12 ubuntu2204 ubuntu2404 rhel9  hardened weak
    "linux.ssh.x11_forwarding":          ("fail", "fail",    "fail",    "fail", "pass", "fail"),
    "linux.ssh.forwarding":              ("fail", "fail",    "fail",    "fail", "pass", "fail"),
    "linux.ssh.user_environment":        ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.ssh.host_based":              ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.ssh.strict_modes":            ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.ssh.login_grace_time":        ("fail", "fail",    "fail",    "fail", "pass", "fail"),
    "linux.ssh.max_sessions":            ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.ssh.max_startups":            ("fail", "fail",    "fail",    "fail", "pass", "fail"),
    "linux.ssh.access_lists":            ("fail", "fail",    "fail",    "fail", "pass", "fail"),
    "linux.ssh.log_level":               ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.ssh.banner":                  ("fail", "fail",    "fail",    "fail", "pass", "fail"),
    "linux.ssh.gssapi":                  ("pass", "pass",    "pass",    "fail", "pass", "fail"),  # RHEL turns it on
    "linux.ssh.rekey_limit":             ("fail", "fail",    "fail",    "fail", "pass", "fail"),
    "linux.ssh.host_key_perms":          ("pass", "pass",    "pass",    "pass", "pass", "fail"),  # RHEL 0640 ssh_keys
    "linux.ssh.config_files":            ("fail", "fail",    "fail",    "pass", "pass", "fail"),  # Debian: 0644
    "linux.accounts.gid0":               ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.accounts.shadowed":           ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.accounts.system_shells":      ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.accounts.system_locked":      ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.accounts.expiry":             ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.accounts.umask":              ("fail", "fail",    "fail",    "fail", "pass", "fail"),  # 022 everywhere
    "linux.accounts.root_path":          ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.accounts.home_dirs":          ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.accounts.dot_files":          ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.accounts.securetty":          (NA,     NA,        NA,        NA,     "pass", "fail"),
    "linux.accounts.su_restricted":      ("fail", "fail",    "fail",    "fail", "pass", "fail"),  # pam_wheel commented
    "linux.accounts.pam_succeed_if":     ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.password.warn_age":           ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.password.faillock":           ("fail", "fail",    "fail",    "fail", "pass", "fail"),
    "linux.password.hash_rounds":        ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.sudo.use_pty":                ("pass", "pass",    "pass",    "fail", "pass", "fail"),  # RHEL sudo 1.9.5
    "linux.sudo.logfile":                ("fail", "fail",    "fail",    "fail", "pass", "fail"),
    "linux.sudo.file_modes":             ("pass", "pass",    "pass",    "pass", "pass", "fail"),
    "linux.sudo.command_lists":          ("pass", "fail",    "fail",    "pass", "pass", "fail"),  # cloud-init NOPASSWD
    # issue 17: lastlog; RHEL's root has a password and no recorded logon
    "linux.accounts.stale":              ("pass", "pass",    "pass",    "fail", "pass", "fail"),
}


@cache
def facts_of(case: str) -> dict[str, Fact]:
    return recorded_facts(case)


def run(check_id: str, case: str, **policy: object) -> list[Finding]:
    return evaluate(registry().checks[check_id], facts_of(case), case_target(case, **policy))


def one(check_id: str, case: str, resource: str | None = None) -> Finding:
    found = [f for f in run(check_id, case) if resource is None or f.resource == resource]
    assert len(found) == 1, [(f.resource, f.message) for f in found]
    return found[0]


def test_every_new_check_is_in_the_table_and_the_old_table_has_none_of_them():
    from tests.checks.linux.test_cases import EXPECTED
    from tests.checks.linux.test_cases_14b import EXPECTED_B

    new = {c for c in registry().checks if c not in EXPECTED and c not in EXPECTED_B}
    assert new == set(EXPECTED_ACCESS)
    assert len(EXPECTED_ACCESS) == 35  # 34 of issue 14 part A and linux.accounts.stale (issue 17)


@pytest.mark.parametrize("case", CASES_A)
def test_every_fact_of_every_case_parses(case):
    assert {n: f.error for n, f in facts_of(case).items() if not f.ok} == {}


@pytest.mark.parametrize(("check_id", "case"), [(c, k) for c in EXPECTED_ACCESS for k in CASES_A])
def test_expected_status(check_id, case):
    findings = run(check_id, case)
    assert worst(findings) == EXPECTED_ACCESS[check_id][CASES_A.index(case)], [f.message for f in findings]
    assert all(f.message for f in findings)
    spec = registry().checks[check_id]
    assert spec.remediation and spec.criterion


@pytest.mark.parametrize("check_id", sorted(EXPECTED_ACCESS))
def test_a_failure_says_where(check_id):
    failures = [f for case in CASES_A for f in run(check_id, case) if f.status is Status.FAIL]
    assert failures
    assert all(f.location is not None and f.location.path.startswith("/") for f in failures), \
        [(f.resource, f.location) for f in failures if f.location is None]


# ---- SSH: where each setting comes from, following Include


def test_ssh_locations_follow_includes_and_skip_match_blocks():
    assert one("linux.ssh.x11_forwarding", "debian12").location == Location("/etc/ssh/sshd_config", 90)
    gss = one("linux.ssh.gssapi", "rhel9")
    assert gss.location == Location("/etc/ssh/sshd_config.d/50-redhat.conf", 11)
    assert gss.observed["set_in"] == {"gssapiauthentication": "/etc/ssh/sshd_config.d/50-redhat.conf:11"}
    hardened = facts_of("hardened")["linux.sshd_files"].value
    assert hardened.files == ("/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/10-gxp.conf")
    # the drop-in is read at the Include on line 2, before the main file's own settings, and a Match block's
    # AllowTcpForwarding (line 20) is not the global one (line 9)
    assert hardened.where("allowtcpforwarding") == Location("/etc/ssh/sshd_config.d/10-gxp.conf", 9)
    assert hardened.where("x11forwarding") == Location("/etc/ssh/sshd_config", 7)
    ubuntu = facts_of("ubuntu2204")["linux.sshd_files"].value
    assert ubuntu.where("passwordauthentication") == Location("/etc/ssh/sshd_config.d/50-cloudimg-settings.conf", 1)
    assert one("linux.ssh.login_grace_time", "debian12").observed["set_in"] == {"logingracetime": "compiled-in default"}


def test_ssh_drop_ins_are_reported_in_the_evidence():
    main = one("linux.ssh.config_files", "rhel9", "/etc/ssh/sshd_config").observed
    assert main["read_in_order"] == ("/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/50-redhat.conf",
                                     "/etc/crypto-policies/back-ends/opensshserver.config")
    assert main["includes"] == (
        "/etc/ssh/sshd_config:5: Include /etc/ssh/sshd_config.d/*.conf -> /etc/ssh/sshd_config.d/50-redhat.conf",
        "/etc/ssh/sshd_config.d/50-redhat.conf:5: Include /etc/crypto-policies/back-ends/opensshserver.config -> "
        "/etc/crypto-policies/back-ends/opensshserver.config")
    assert main["not_collected"] == ("/etc/crypto-policies/back-ends/opensshserver.config",)
    weak = {f.resource: f for f in run("linux.ssh.config_files", "weak")}
    assert set(weak) == {"/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/50-lab.conf"}  # relative Include pattern
    assert weak["/etc/ssh/sshd_config.d/50-lab.conf"].message.endswith("mode 0666 is wider than 0600; owner alice is "
                                                                      "not root")
    evidence = facts_of("ubuntu2404")["linux.sshd_files"].evidence[0]
    assert "60-cloudimg-settings.conf" in evidence.raw


def test_host_keys():
    rhel = {f.resource: f.observed for f in run("linux.ssh.host_key_perms", "rhel9")}
    assert rhel["/etc/ssh/ssh_host_ed25519_key"] == {"mode": "0640", "owner": "root", "group": "ssh_keys",
                                                      "kind": "regular file"}
    weak = {f.resource: (f.status.value, f.message) for f in run("linux.ssh.host_key_perms", "weak")}
    assert weak == {
        "/etc/ssh/ssh_host_rsa_key": ("fail", "the host key /etc/ssh/ssh_host_rsa_key does not exist"),
        "/etc/ssh/ssh_host_ecdsa_key": ("pass", "/etc/ssh/ssh_host_ecdsa_key is 0600 root:root"),
        "/etc/ssh/ssh_host_ed25519_key": ("fail", "/etc/ssh/ssh_host_ed25519_key: mode 0644 is wider than 0600; "
                                                  "owner alice is not root"),
    }


def test_weak_ssh_values():
    assert one("linux.ssh.max_startups", "weak").observed["maxstartups"] == "100"
    assert one("linux.ssh.login_grace_time", "weak").location == Location("/etc/ssh/sshd_config.d/50-lab.conf", 4)
    assert one("linux.ssh.log_level", "weak").observed["loglevel"] == "QUIET"
    assert one("linux.ssh.host_based", "weak").message == (
        "host-based or rhosts authentication is possible: hostbasedauthentication yes, ignorerhosts no")
    rekey = one("linux.ssh.rekey_limit", "hardened").observed
    assert (rekey["bytes"], rekey["seconds"]) == (1 << 30, 3600)


# ---- accounts and access


def test_accounts_observed():
    assert one("linux.accounts.gid0", "weak").observed["gid0_accounts"] == ("root", "toor")
    assert one("linux.accounts.shadowed", "weak").observed["accounts"] == ("kiosk",)
    assert dict(one("linux.accounts.system_shells", "weak").observed["accounts"]) == {"news": "/bin/sh",
                                                                                       "toor": "/bin/bash"}
    assert one("linux.accounts.system_locked", "weak").observed["accounts"] == ("daemon", "toor")
    expiry = one("linux.accounts.expiry", "weak").observed
    assert expiry["today"] == "2025-12-06"
    assert dict(expiry["changed_in_future"]) == {"qa": "2027-07-01"}
    assert dict(expiry["expired_with_password"]) == {"alice": "2024-10-04"}


def test_umask_findings_per_setting():
    rhel = {f.resource: f.observed["umask"] for f in run("linux.accounts.umask", "rhel9")}
    assert rhel == {"/etc/login.defs UMASK": "022", "/etc/profile:57": "002", "/etc/profile:59": "022",
                    "/etc/bashrc:14": "002", "/etc/bashrc:16": "022"}
    hardened = {f.resource for f in run("linux.accounts.umask", "hardened")}
    assert hardened == {"/etc/login.defs UMASK", "/etc/profile:10", "/etc/bash.bashrc:60",
                        "/etc/profile.d/gxp-umask.sh:2"}


def test_root_path():
    weak = one("linux.accounts.root_path", "weak", "/root/.profile:10")
    assert weak.observed["problems"] == (". is relative to the working directory", "/opt/lab/bin is owned by lab",
                                         "/opt/lab/bin is writable by group or others (0777)")
    rhel = {f.resource: f.observed for f in run("linux.accounts.root_path", "rhel9")}
    assert rhel["/etc/profile:14"]["unresolved"] == ("$1",)  # pathmunge: listed, not judged
    assert rhel["/etc/sudoers:13"]["path"] == "/sbin:/bin:/usr/sbin:/usr/bin"


def test_homes_and_dot_files():
    weak = {f.resource: f.message for f in run("linux.accounts.home_dirs", "weak") if f.status is Status.FAIL}
    assert weak == {"alice": "/home/alice: mode 0755 is wider than 0750",
                    "lab": "/home/lab: owner root is not lab; mode 0755 is wider than 0750",
                    "kiosk": "/home/kiosk: mode 0777 is wider than 0750",
                    "legacy": "the home /home/legacy of legacy does not exist"}
    dots = sorted(f.resource for f in run("linux.accounts.dot_files", "weak"))
    assert dots == ["/home/alice/.forward", "/home/alice/.netrc", "/home/lab/.rhosts", "/home/qa/.bashrc",
                    "/root/.rhosts"]  # a symlinked ~/.ssh and a group-writable directory are not dot *files*


def test_pam_su_bypass_and_faillock():
    assert one("linux.accounts.su_restricted", "hardened").observed["group"] == "sugroup"
    assert "pam_wheel trust" in one("linux.accounts.su_restricted", "weak").message
    bypass = one("linux.accounts.pam_succeed_if", "weak")
    assert bypass.location == Location("/etc/pam.d/sshd", 2)
    faillock = one("linux.password.faillock", "hardened").observed
    assert (faillock["deny"], faillock["unlock_time"], faillock["even_deny_root"], faillock["audit"],
            faillock["dir"]) == (5, "900", True, True, "/var/run/faillock")
    rounds = one("linux.password.hash_rounds", "weak")
    assert (rounds.observed["scheme"], rounds.observed["rounds"]) == ("sha256", 1000)
    assert rounds.location == Location("/etc/login.defs", 46)


def test_sudo_observed():
    rules = one("linux.sudo.command_lists", "weak").observed["rules"]
    assert rules == ("/etc/sudoers.d/devs:2: %devs\tALL=(ALL) NOPASSWD: ALL (NOPASSWD: ALL)",
                     "/etc/sudoers.d/devs:3: Defaults:lab\t!authenticate (authentication off)",
                     "/etc/sudoers.d/devs:4: alice\tALL=(ALL) ALL, !/bin/su, !/usr/bin/passwd root (negated command)")
    assert one("linux.sudo.use_pty", "weak").observed["off"] == ("/etc/sudoers.d/devs:5: Defaults:lab\t!use_pty",)
    assert one("linux.sudo.logfile", "hardened").observed["logfile"] == "/var/log/sudo.log"
    modes = {f.resource: f.status.value for f in run("linux.sudo.file_modes", "weak")}
    assert modes == {"/etc/sudoers": "pass", "/etc/sudoers.d": "fail", "/etc/sudoers.d/README": "pass",
                     "/etc/sudoers.d/devs": "fail", "/etc/sudoers.d/old.bak": "pass"}


@pytest.mark.parametrize(("check_id", "case", "policy", "expected"), [
    ("linux.ssh.login_grace_time", "debian12", {"ssh_login_grace_time_seconds": 120}, "pass"),
    ("linux.ssh.max_startups", "debian12", {"ssh_max_startups": "10:30:100"}, "pass"),
    ("linux.ssh.max_sessions", "hardened", {"ssh_max_sessions": 2}, "fail"),
    ("linux.ssh.gssapi", "rhel9", {"ssh_allow_gssapi": True}, "pass"),
    ("linux.ssh.forwarding", "hardened", {"ssh_allow_agent_forwarding": True}, "pass"),
    ("linux.ssh.log_level", "hardened", {"ssh_log_levels": ["INFO"]}, "fail"),
    ("linux.ssh.rekey_limit", "hardened", {"ssh_rekey_max_seconds": 600}, "fail"),
    ("linux.ssh.config_files", "debian12", {"ssh_config_max_mode": 0o644}, "pass"),
    ("linux.accounts.umask", "debian12", {"umask_min": 0o022}, "pass"),
    ("linux.accounts.home_dirs", "ubuntu2204", {"home_max_mode": 0o700}, "fail"),
    ("linux.password.warn_age", "debian12", {"password_warn_days": 14}, "fail"),
    ("linux.password.faillock", "hardened", {"lockout_unlock_seconds": 1800}, "fail"),
    ("linux.password.hash_rounds", "rhel9", {"sha_crypt_min_rounds": 10000}, "fail"),
    ("linux.password.hash_rounds", "debian12", {"yescrypt_min_cost": 6}, "fail"),
])
def test_thresholds_are_policy(check_id, case, policy, expected):
    assert worst(run(check_id, case, **policy)) == expected


# ---- fail closed: broken or missing evidence is an error


BROKEN = [
    ("hardened", "linux.ssh.x11_forwarding", {"files/etc/ssh/sshd_config.d/10-gxp.conf": "AllowGroups\n"},
     "not a 'Keyword value' line"),
    ("hardened", "linux.ssh.host_key_perms", {"probes/sshd_files/hostkeys.out": "600 root /etc/ssh/k\n"},
     "unexpected stat output"),
    ("hardened", "linux.ssh.host_key_perms", {"probes/sshd_files/hostkeys.out": ""}, "was not examined"),
    ("hardened", "linux.ssh.config_files", {"probes/sshd_files/includes.out": ""}, "were not collected"),
    ("hardened", "linux.ssh.config_files", {"unreadable.txt": "/etc/ssh/sshd_config.d\n"},
     "cannot read /etc/ssh/sshd_config.d"),
    ("hardened", "linux.ssh.rekey_limit", {"probes/sshd_effective/sshd_T.out": "permitrootlogin no\n"
                                           "passwordauthentication no\nciphers aes256-ctr\nrekeylimit lots\n"},
     "is not '<bytes> <seconds>'"),
    ("hardened", "linux.ssh.max_startups", {"probes/sshd_effective/sshd_T.out": "permitrootlogin no\n"
                                            "passwordauthentication no\nciphers aes256-ctr\nmaxstartups 10:x\n"},
     "is not start:rate:full"),
    ("hardened", "linux.accounts.home_dirs", {"probes/homes/homes.out": "U|root|0|/root\n"},
     "no account count"),
    ("hardened", "linux.accounts.dot_files", {"probes/homes/homes.out": "U|root|0|/root\nF|7x7|root|f|/root|.x\n"
                                              "T|1\n"}, "unexpected find output"),
    ("hardened", "linux.accounts.dot_files", {"probes/homes/homes.out": "U|root|0|/root\nF|600|root|f|/tmp|.rhosts\n"
                                              "T|1\n"}, "no known home"),
    ("hardened", "linux.accounts.dot_files", {"probes/homes/homes.rc": "124"}, "timed out"),
    ("hardened", "linux.accounts.umask", {"files/etc/profile.d/gxp-umask.sh": "umask u=rwx,g=rx,o=zz\n"},
     "only octal or 'who=perms'"),
    ("hardened", "linux.accounts.umask", {"files/etc/login.defs": "UMASK 09x\n"}, "ValueError"),
    ("hardened", "linux.accounts.root_path", {"probes/login_env/path_dirs.out": ""}, "was not examined"),
    ("hardened", "linux.accounts.root_path", {"unreadable.txt": "/root/.profile\n"}, "cannot read /root/.profile"),
    ("weak", "linux.accounts.pam_succeed_if", {"files/etc/pam.d/login": "auth\n"}, "not a PAM rule"),
    ("hardened", "linux.accounts.su_restricted", {"files/etc/pam.d/su": "auth required\n"}, "not a PAM rule"),
    ("hardened", "linux.accounts.expiry", {"probes/clock/now.out": "Tue Dec  2 10:00:00 UTC 2025\n"},
     "not a number of seconds"),
    ("hardened", "linux.accounts.securetty", {"unreadable.txt": "/etc/securetty\n"}, "cannot read /etc/securetty"),
    ("hardened", "linux.password.faillock", {"files/etc/security/faillock.conf": "deny = five\n"}, "ValueError"),
    ("hardened", "linux.password.hash_rounds", {"files/etc/login.defs": "ENCRYPT_METHOD SHA512\n"
                                                "SHA_CRYPT_MIN_ROUNDS lots\n"}, "not an integer"),
    ("hardened", "linux.sudo.use_pty", {"unreadable.txt": "/etc/sudoers\n"}, "cannot read /etc/sudoers"),
    ("hardened", "linux.accounts.system_locked", {"probes/shadow/shadow.out": "root:$y$HASH:x:0:99999:7:::\n"},
     "not an integer"),
    ("hardened", "linux.sudo.file_modes", {"probes/sudo_files/stat.rc": "1", "probes/sudo_files/stat.out": "",
                                           "probes/sudo_files/stat.err": "stat: Permission denied\n"},
     "Permission denied"),
]


@pytest.mark.parametrize(("case", "check_id", "changes", "reason"), BROKEN,
                         ids=[f"{c}-{k}-{r[:30]}" for c, k, _, r in BROKEN])
def test_broken_evidence_is_an_error(tmp_path, case, check_id, changes, reason):
    changed_copy(case, tmp_path, changes)
    target = case_target(case, tmp_path)
    findings = evaluate(registry().checks[check_id], recorded_facts(case, target, tmp_path), target)
    assert Status.ERROR in {f.status for f in findings}, [f.message for f in findings]
    assert Status.PASS not in {f.status for f in findings}
    assert any(reason in f.message for f in findings if f.status is Status.ERROR), [f.message for f in findings]


# ---- RHEL 9 made compliant the documented way: authselect with-faillock, faillock.conf, pam_wheel, sudoers

RHEL9_AUTH_WITH_FAILLOCK = """# Generated by authselect (profile sssd, features: with-faillock)
# Do not modify this file manually.

auth        required                                     pam_env.so
auth        required                                     pam_faildelay.so delay=2000000
auth        required                                     pam_faillock.so preauth silent
auth        [default=1 ignore=ignore success=ok]         pam_usertype.so isregular
auth        [default=1 ignore=ignore success=ok]         pam_localuser.so
auth        sufficient                                   pam_unix.so
auth        [default=1 ignore=ignore success=ok]         pam_usertype.so isregular
auth        sufficient                                   pam_sss.so forward_pass
auth        required                                     pam_faillock.so authfail
auth        required                                     pam_deny.so

account     required                                     pam_faillock.so
account     required                                     pam_unix.so
account     required                                     pam_permit.so

password    requisite                                    pam_pwquality.so local_users_only
password    sufficient                                   pam_unix.so sha512 shadow use_authtok rounds=100000
password    required                                     pam_deny.so

session     required                                     pam_unix.so
"""
RHEL9_COMPLIANT = {
    "files/etc/pam.d/system-auth": RHEL9_AUTH_WITH_FAILLOCK,
    "files/etc/pam.d/password-auth": RHEL9_AUTH_WITH_FAILLOCK,
    "files/etc/security/faillock.conf": "# GxP\ndeny = 5\nunlock_time = 900\neven_deny_root\naudit\n",
    "files/etc/pam.d/su": (FIXTURES / "rhel9/files/etc/pam.d/su").read_text().replace(
        "#auth\t\trequired\tpam_wheel.so use_uid", "auth\t\trequired\tpam_wheel.so use_uid"),
    "files/etc/sudoers.d/10-gxp": "Defaults use_pty\nDefaults logfile=/var/log/sudo.log\n",
}


@pytest.mark.parametrize(("check_id", "before", "after"), [
    ("linux.password.faillock", "fail", "pass"),
    ("linux.accounts.su_restricted", "fail", "pass"),  # group wheel exists on RHEL
    ("linux.sudo.use_pty", "fail", "pass"),
    ("linux.sudo.logfile", "fail", "pass"),
    ("linux.password.hash_rounds", "pass", "pass"),
    ("linux.accounts.pam_succeed_if", "pass", "pass"),  # 'account sufficient pam_succeed_if uid = 0' is no bypass
])
def test_rhel9_made_compliant_with_authselect_and_its_files(tmp_path, check_id, before, after):
    changed_copy("rhel9", tmp_path, RHEL9_COMPLIANT)
    sudo_stat = tmp_path / "rhel9/probes/sudo_files/stat.out"
    sudo_stat.write_text(sudo_stat.read_text() + "440|0|0|root|root|regular file|/etc/sudoers.d/10-gxp\n")
    assert worst(run(check_id, "rhel9")) == before
    target = case_target("rhel9", tmp_path)
    findings = evaluate(registry().checks[check_id], recorded_facts("rhel9", target, tmp_path), target)
    assert worst(findings) == after, [f.message for f in findings]
