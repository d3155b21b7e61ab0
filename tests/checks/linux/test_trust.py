"""No false pass: PAM lines whose module is missing, nullok, a journal that does not run, no time client at all;
weak SSH algorithms as site policy; every finding about a host file says where; every check says how to fix it."""
from __future__ import annotations

import pytest

from checks.linux import accounts, audit, password, ssh, time
from scanner.collectors.linux_audit import parse_journald
from scanner.collectors.linux_common import ParseError, Probe, Section
from scanner.collectors.linux_password import parse_pam
from scanner.collectors.linux_time import parse_time_sync
from scanner.facts.linux import Passwd, PasswdEntry, Shadow, ShadowEntry
from scanner.model import Location, Status
from scanner.registry import Registry
from scanner.runner import evaluate
from tests.checks.linux import factories as f
from tests.checks.linux.recorded import case_target, recorded_facts
from tests.factories import make_fact, make_target

QUALITY_LINE = "password requisite pam_pwquality.so retry=3 minlen=14 minclass=4 dcredit=-1 ucredit=-1 lcredit=-1"
HARDENED = (QUALITY_LINE, "password required pam_pwhistory.so remember=24 use_authtok",
            "password [success=1] pam_unix.so use_authtok yescrypt", "auth required pam_faillock.so preauth deny=5")
ALL_INSTALLED = ("pam_unix.so", "pam_pwquality.so", "pam_pwhistory.so", "pam_faillock.so")


def test_hardened_pam_passes_when_its_modules_are_installed():
    p = f.pam(*HARDENED, installed=ALL_INSTALLED)
    assert {c(p).status for c in (password.min_length, password.complexity, password.history,
                                  password.lockout)} == {Status.PASS}


@pytest.mark.parametrize(("missing", "check"), [
    ("pam_pwquality.so", "min_length"), ("pam_pwquality.so", "complexity"),
    ("pam_pwhistory.so", "history"), ("pam_faillock.so", "lockout"),
])
def test_a_pam_line_whose_module_is_not_installed_is_not_judged(missing, check):
    installed = tuple(m for m in ALL_INSTALLED if m != missing)
    p = f.pam(*HARDENED, installed=installed)
    finding = {"min_length": password.min_length, "complexity": password.complexity, "history": password.history,
               "lockout": password.lockout}[check](p)
    assert finding.status is Status.FAIL
    assert f"{missing} is named but not installed" in finding.message


def test_min_length_without_the_quality_module_falls_back_to_pam_unix():
    finding = password.min_length(f.pam(*HARDENED, installed=("pam_unix.so",)))
    assert (finding.observed["minlen"], finding.observed["source"]) == (6, "pam_unix default (no quality module)")
    assert finding.observed["not_installed"] == (f"/etc/pam.d/common-password:1: {QUALITY_LINE}",)


def test_the_collector_lists_the_module_files_it_found():
    section = Section(files={"/etc/pam.d/common-password": QUALITY_LINE.encode() + b"\n"}, probes={"modules": Probe(
        0, b"/usr/lib64/security/pam_unix.so\n/usr/lib64/security/pam_faillock.so\n")})
    value = parse_pam(section, make_target())
    assert value.module_files == {"/usr/lib64/security/pam_unix.so", "/usr/lib64/security/pam_faillock.so"}
    assert value.missing("password", "pam_pwquality") == value.rules
    with pytest.raises(ParseError, match="list PAM modules: exit 2"):
        parse_pam(Section(files={"/etc/pam.d/common-password": b""}, probes={"modules": Probe(2, b"")}),
                  make_target())


def test_nullok_on_pam_unix_is_a_finding():
    passwd = Passwd((PasswdEntry("root", "x", 0, 0, "/root", "/bin/bash"),))
    shadow = Shadow((ShadowEntry("root", "hash", "yescrypt", 20000, 0, 99999, 7, None, None),))
    clean = accounts.empty_password(passwd, shadow, f.pam("auth required pam_unix.so"))
    assert [x.status for x in clean] == [Status.PASS, Status.PASS]
    with_nullok = accounts.empty_password(passwd, shadow, f.pam("auth required pam_unix.so", "auth [success=1] "
                                                                "pam_unix.so nullok"))
    assert [x.status for x in with_nullok] == [Status.PASS, Status.FAIL]
    assert with_nullok[1].location == Location("/etc/pam.d/common-password", 2)
    assert "nullok" in with_nullok[1].message


# ---- journald


def test_journald_that_is_not_running_is_not_a_pass():
    finding = audit.journald_persistent(f.journald(False, how="systemctl is-active systemd-journald: inactive"))
    assert finding.status is Status.FAIL
    assert "not running" in finding.message and "inactive" in finding.message
    assert audit.journald_persistent(f.journald(True)).status is Status.PASS


JOURNALD_FILES = {"/etc/systemd/journald.conf": b"[Journal]\nStorage=persistent\n"}


@pytest.mark.parametrize(("active", "processes", "running", "how"), [
    (Probe(0, b"Id=systemd-journald.service\nActiveState=active\n"), None, True,
     "systemctl show systemd-journald.service: ActiveState=active"),
    (Probe(0, b"Id=systemd-journald.service\nActiveState=inactive\n"), None, False,
     "systemctl show systemd-journald.service: ActiveState=inactive"),
    (Probe(1, b"", b"System has not been booted with systemd as init system (PID 1). Can't operate.\n"),
     Probe(0, b"/proc/1/exe 0 /sbin/init\0/proc/9/exe 1000 /usr/lib/systemd/systemd-journald\0"), False,
     "systemctl show: exit 1: System has not been booted with systemd"),
    (Probe(127, b""), Probe(0, b"/proc/1/exe 0 /sbin/init\0/proc/40/exe 0 /lib/systemd/systemd-journald\0"), True,
     "process 40 runs /lib/systemd/systemd-journald as root"),
])
def test_journald_is_judged_by_the_running_service(active, processes, running, how):
    probes = {"journald_binary": Probe(0, b""), "journal_dir": Probe(0, b""), "units": active}
    if processes is not None:
        probes["journald_process"] = processes
    value = parse_journald(Section(files=JOURNALD_FILES, probes=probes), make_target())
    assert value.running is running
    assert value.running_how.startswith(how)


def test_journald_state_that_cannot_be_found_out_is_an_error():
    probes = {"journald_binary": Probe(0, b""), "journal_dir": Probe(0, b""),
              "units": Probe(1, b"", b"Failed to connect to bus: Permission denied\n"),
              "journald_process": Probe(0, b"/proc/1/exe 0 \0", b"find: '/proc/1/exe': Permission denied\n")}
    with pytest.raises(ParseError, match="cannot tell whether systemd-journald runs"):
        parse_journald(Section(files=JOURNALD_FILES, probes=probes), make_target())


# ---- time


def _time_probes(clients: Probe) -> Section:
    return Section(probes={"timedatectl": Probe(1, b"", b"System has not been booted with systemd\n"),
                           "chronyc": Probe(127, b""), "ntpq": Probe(127, b""), "clients": clients})


def test_no_time_client_installed_is_a_fail():
    value = parse_time_sync(_time_probes(Probe(0, b"")), make_target())
    assert value.configured is False
    finding = time.synchronized(value)
    assert finding.status is Status.FAIL
    assert finding.message.startswith("no time synchronisation configured")


def test_a_client_that_cannot_be_queried_is_an_error():
    with pytest.raises(ParseError, match="installed: /usr/sbin/chronyd"):
        parse_time_sync(_time_probes(Probe(0, b"/usr/sbin/chronyd\n")), make_target())
    with pytest.raises(ParseError, match="no time synchronisation source could be queried"):
        parse_time_sync(_time_probes(Probe(124, b"")), make_target())


# ---- SSH algorithms as policy


def test_weak_ssh_algorithms_default_to_the_cis_lists():
    weak = f.sshd(ciphers="aes256-gcm@openssh.com,aes128-cbc", macs="hmac-sha2-256-etm@openssh.com,hmac-md5",
                  kexalgorithms="curve25519-sha256,diffie-hellman-group14-sha1")
    finding = ssh.crypto(weak)
    assert finding.status is Status.FAIL
    assert dict(finding.observed["weak"]) == {"ciphers": ("aes128-cbc",), "macs": ("hmac-md5",),
                                              "kexalgorithms": ("diffie-hellman-group14-sha1",)}
    benchmark = "CIS Distribution Independent Linux Benchmark v2.0.0"
    assert benchmark in (ssh.crypto.__doc__ or "")
    assert benchmark in Registry.load(["checks.linux"]).checks["linux.ssh.crypto"].criterion


def test_a_site_policy_replaces_the_default_lists():
    """A site following a stricter standard also bans hmac-sha1 and the NIST curves; another allows a CBC cipher."""
    spec = Registry.load(["checks.linux"]).checks["linux.ssh.crypto"]
    assert set(spec.params) == {"ssh_weak_ciphers", "ssh_weak_macs", "ssh_weak_kex"}
    config = f.sshd(ciphers="aes256-ctr,aes256-cbc", macs="hmac-sha1", kexalgorithms="ecdh-sha2-nistp256")
    facts = {"linux.sshd_effective": make_fact("linux.sshd_effective", config)}
    default = evaluate(spec, facts, make_target())
    assert dict(default[0].observed["weak"]) == {"ciphers": ("aes256-cbc",)}
    strict = evaluate(spec, facts, make_target(policy={"ssh_weak_ciphers": ["*-cbc"],
                                                       "ssh_weak_macs": ["hmac-sha1*", "*md5*"],
                                                       "ssh_weak_kex": ["ecdh-sha2-nistp*"]}))
    assert dict(strict[0].observed["weak"]) == {"ciphers": ("aes256-cbc",), "macs": ("hmac-sha1",),
                                                "kexalgorithms": ("ecdh-sha2-nistp256",)}
    lenient = evaluate(spec, facts, make_target(policy={"ssh_weak_ciphers": "3des-cbc, arcfour"}))
    assert lenient[0].status is Status.PASS


# ---- locations and remediation


def _findings(check_id: str, case: str) -> list:
    spec = Registry.load(["checks.linux"]).checks[check_id]
    return evaluate(spec, recorded_facts(case), case_target(case))


@pytest.mark.parametrize(("check_id", "case", "resource", "location"), [
    ("linux.password.max_age", "debian12", "/etc/login.defs", Location("/etc/login.defs", 27)),
    ("linux.password.hashing", "weak", "password hashing", Location("/etc/pam.d/common-password", 1)),
    ("linux.password.min_length", "hardened", "pam", Location("/etc/security/pwquality.conf.d/50-gxp.conf", 2)),
    ("linux.password.lockout", "hardened", "pam", Location("/etc/security/faillock.conf", 3)),
    ("linux.password.history", "hardened", "pam", Location("/etc/pam.d/common-password", 6)),
    ("linux.password.inactive", "rhel9", "/etc/default/useradd", Location("/etc/default/useradd", 4)),
    ("linux.sudo.nopasswd", "ubuntu2204", "sudoers", Location("/etc/sudoers.d/90-cloud-init-users", 4)),
    ("linux.backup.scheduled", "hardened", "backup schedule", Location("/etc/cron.d/restic-backup", 3)),
    ("linux.ssh.root_login", "debian12", "sshd", Location("/etc/ssh/sshd_config")),
    ("linux.files.passwd_perms", "weak", "/etc/passwd", Location("/etc/passwd")),
])
def test_findings_about_host_files_carry_their_location(check_id, case, resource, location):
    found = [x for x in _findings(check_id, case) if x.resource == resource]
    assert [x.location for x in found] == [location]


def test_every_linux_check_has_a_remediation():
    checks = Registry.load(["checks.linux"]).checks
    assert {cid: spec.remediation for cid, spec in checks.items() if len(spec.remediation) < 40} == {}


def test_no_check_signature_uses_any():
    import inspect

    for spec in Registry.load(["checks.linux"]).checks.values():
        hints = inspect.signature(spec.func)
        assert "Any" not in str(hints), (spec.id, hints)
