"""The whole Linux pack over SSH, through the real CLI, against a lab of real OpenSSH hosts.

Three differently configured hosts (hardened, default Debian, deliberately weak) with the expected status
of every Linux check; a fleet of 20 scanned concurrently next to hosts with every kind of fault; planted
secrets searched in every output; a scan killed with SIGKILL keeps its finished hosts.
"""
from __future__ import annotations

import glob
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from scanner.cli import FORMAT_NAMES, main
from scanner.registry import Registry
from scanner.store import load_record
from tests.conftest import lab_unavailable
from tests.lab.sshlab import NS_PREFIX, SSHLab, lab_namespaces, require_tools, sh

REPO = Path(__file__).resolve().parents[2]
SUDO_ENV = "GXP_FLEET_SUDO_PW"
PASS_ENV = "GXP_FLEET_KEY_PASSPHRASE"
FLEET = [f"fleet-{i:02d}" for i in range(20)]

#: check -> expected statuses (all findings of the check, joined) on (hardened, default, weak).
#: The lab hosts run no auditd and no time daemon, hence the same status on all three for those checks.
EXPECTED = {
    "linux.accounts.empty_password": ("pass", "pass", "fail"),  # weak: kiosk has an empty password
    "linux.accounts.uid0": ("pass", "pass", "fail"),  # weak: toor has UID 0
    "linux.accounts.unique_ids": ("pass", "pass", "fail+pass"),  # weak: toor shares UID 0
    "linux.audit.auditd_active": ("fail", "fail", "fail"),
    "linux.audit.journald_persistent": ("pass", "pass", "fail"),  # weak: Storage=volatile
    "linux.audit.log_perms": ("not_applicable", "not_applicable", "not_applicable"),
    "linux.audit.remote_forwarding": ("pass", "fail", "fail"),  # hardened: rsyslog @@logs.example.test
    "linux.audit.rules": ("fail", "fail", "fail"),
    "linux.backup.recent": ("manual", "manual", "manual"),
    "linux.backup.scheduled": ("pass", "fail", "fail"),  # hardened: restic in cron.d
    "linux.crypto.disk_encryption": ("manual", "manual", "manual"),
    "linux.files.passwd_perms": ("pass", "pass", "fail+pass"),  # weak: /etc/passwd 0666
    "linux.files.shadow_perms": ("pass", "pass", "fail+pass"),  # weak: /etc/shadow 0644
    "linux.password.complexity": ("pass", "fail", "fail"),
    "linux.password.hashing": ("pass", "pass", "fail"),  # weak: MD5 in login.defs and in shadow
    "linux.password.history": ("pass", "fail", "fail"),
    "linux.password.inactive": ("pass", "fail", "fail"),
    "linux.password.lockout": ("pass", "fail", "fail"),
    "linux.password.max_age": ("pass", "fail", "fail"),
    "linux.password.min_age": ("pass", "fail", "fail"),
    "linux.password.min_length": ("pass", "fail", "fail"),
    "linux.ssh.crypto": ("pass", "fail", "fail"),
    "linux.ssh.empty_passwords": ("pass", "pass", "fail"),
    "linux.ssh.idle_timeout": ("pass", "fail", "fail"),
    "linux.ssh.max_auth_tries": ("pass", "fail", "fail"),
    "linux.ssh.password_auth": ("pass", "fail", "fail"),
    "linux.ssh.root_login": ("pass", "fail", "fail"),
    "linux.sudo.nopasswd": ("pass", "fail", "fail"),
    "linux.time.synchronized": ("error", "error", "error"),
    # issue 14 part B: the lab hosts share this machine's kernel, /proc, /usr, /var/log and processes (no auditd,
    # no syslog daemon, no swap, /tmp on the root filesystem, Debian's ssh_config with umac-64), hence one status
    "linux.audit.auditd_conf": ("not_applicable", "not_applicable", "not_applicable"),
    "linux.audit.boot_params": ("fail", "fail", "fail"),
    "linux.audit.immutable": ("fail", "fail", "fail"),
    "linux.audit.privileged_commands": ("fail", "fail", "fail"),
    "linux.audit.rule_families": ("fail", "fail", "fail"),
    "linux.backup.restore_tested": ("manual", "manual", "manual"),
    "linux.crypto.ssh_client": ("fail", "fail", "fail"),
    "linux.crypto.swap": ("pass", "pass", "pass"),
    "linux.crypto.system_policy": ("not_applicable", "not_applicable", "not_applicable"),
    "linux.crypto.tmp": ("fail", "fail", "fail"),
    "linux.logs.forwarding_tls": ("not_applicable", "not_applicable", "not_applicable"),
    "linux.logs.rotation": ("not_applicable", "not_applicable", "not_applicable"),
    "linux.logs.syslog_file_mode": ("not_applicable", "not_applicable", "not_applicable"),
    "linux.logs.syslog_running": ("not_applicable", "not_applicable", "not_applicable"),
    "linux.logs.var_log_perms": ("fail", "fail", "fail"),
    # issue 14 part A: the new sshd options on real sshd (hardened and weak profiles), accounts and access
    "linux.ssh.x11_forwarding": ("pass", "fail", "fail"),
    "linux.ssh.forwarding": ("pass", "fail", "fail"),
    "linux.ssh.user_environment": ("pass", "pass", "fail"),
    "linux.ssh.host_based": ("pass", "pass", "fail"),  # weak: HostbasedAuthentication yes, IgnoreRhosts no
    "linux.ssh.strict_modes": ("pass", "pass", "fail"),
    "linux.ssh.login_grace_time": ("pass", "fail", "fail"),
    "linux.ssh.max_sessions": ("pass", "pass", "fail"),
    "linux.ssh.max_startups": ("pass", "fail", "fail"),  # hardened: 10:30:60 from its drop-in
    "linux.ssh.access_lists": ("pass", "fail", "fail"),  # hardened: AllowGroups gxpscan
    "linux.ssh.log_level": ("pass", "pass", "fail"),  # sshd -T reads the file: VERBOSE, INFO, QUIET
    "linux.ssh.banner": ("pass", "fail", "fail"),
    "linux.ssh.gssapi": ("pass", "pass", "fail"),
    "linux.ssh.rekey_limit": ("pass", "fail", "fail"),
    "linux.ssh.host_key_perms": ("pass", "fail+pass", "fail+pass"),  # default keys named that the lab lacks
    "linux.ssh.config_files": ("pass", "fail", "fail"),  # hardened: 0600 config and drop-in
    "linux.accounts.gid0": ("pass", "pass", "fail"),
    "linux.accounts.shadowed": ("pass", "pass", "pass"),
    "linux.accounts.system_shells": ("pass", "pass", "fail"),  # weak: toor
    "linux.accounts.system_locked": ("pass", "pass", "pass"),
    "linux.accounts.expiry": ("pass", "pass", "pass"),
    "linux.accounts.umask": ("pass", "fail", "fail"),
    "linux.accounts.root_path": ("pass", "pass", "pass"),
    "linux.accounts.home_dirs": ("pass", "pass", "fail+pass"),  # weak: kiosk's home does not exist
    "linux.accounts.dot_files": ("pass", "pass", "pass"),
    "linux.accounts.securetty": ("pass", "not_applicable", "fail"),
    "linux.accounts.su_restricted": ("pass", "fail", "fail"),  # hardened: pam_wheel group=sugroup; weak: trust
    "linux.accounts.pam_succeed_if": ("pass", "pass", "fail"),
    "linux.password.warn_age": ("pass", "pass", "pass"),
    "linux.password.faillock": ("pass", "fail", "fail"),
    "linux.password.hash_rounds": ("pass", "pass", "pass"),  # weak: MD5 is judged by linux.password.hashing
    "linux.sudo.use_pty": ("pass", "pass", "pass"),
    "linux.sudo.logfile": ("pass", "fail", "fail"),  # hardened: a logfile under the lab's root
    "linux.sudo.file_modes": ("pass", "pass", "pass"),
    "linux.sudo.command_lists": ("pass", "fail", "fail"),  # the lab's NOPASSWD: ALL rules
    # issue 17: weak's kiosk has an empty password set in 2024 and no recorded logon (its own empty lastlog)
    "linux.accounts.stale": ("pass", "pass", "fail"),
}
PROFILES = ("hardened", "default", "weak")

# Issue 8 (no false pass): a PAM line counts only when its module file is installed, and the journal only when
# systemd-journald runs. The lab hosts share this machine's /lib and process table, so the hardened profile's
# pam_pwquality.so line and the journal are judged by what this machine has.
PWQUALITY_INSTALLED = any(glob.glob(d + "/pam_pwquality.so") for d in (
    "/lib/security", "/lib64/security", "/usr/lib/security", "/usr/lib64/security", "/lib/*/security",
    "/usr/lib/*/security"))
JOURNALD_RUNS = subprocess.run(["systemctl", "is-active", "--quiet", "systemd-journald.service"],
                               capture_output=True).returncode == 0
_QUALITY = "pass" if PWQUALITY_INSTALLED else "fail"  # hardened's pam_pwquality line, judged only when installed
EXPECTED["linux.password.complexity"] = (_QUALITY, "fail", "fail")
EXPECTED["linux.password.min_length"] = (_QUALITY, "fail", "fail")
EXPECTED["linux.audit.journald_persistent"] = ("pass", "pass", "fail") if JOURNALD_RUNS else ("fail",) * 3
EXPECTED["linux.accounts.empty_password"] = ("pass", "fail+pass", "fail")  # default: pam_unix nullok (Debian's)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = require_tools()
    if reason:
        lab_unavailable(reason)
    lab = SSHLab(tmp_path_factory.mktemp("sshlab-fleet"))
    try:
        for name in PROFILES:
            lab.add(name, name)
        for name in FLEET:
            lab.add(name, "default")
        lab.add("nosudo", "nosudo")
        lab.add("hang", "default", sshd_options=("ForceCommand /bin/sleep 600",))
        lab.add("flood", "default", sshd_options=("ForceCommand /usr/bin/yes gxpscan-flood-line",))
        lab.wait_ready()
        lab.write_known_hosts()
        lab.changed_known_hosts = lab.write_known_hosts(
            lab.root / "known_hosts.changed", override={"fleet-02": lab.hosts["hardened"].key_pub})
        yield lab
    finally:
        lab.close()


@pytest.fixture(autouse=True)
def secrets_env(lab, monkeypatch):
    monkeypatch.setenv(SUDO_ENV, lab.sudo_password)
    monkeypatch.setenv(PASS_ENV, lab.passphrase)


def ssh_target(lab: SSHLab, name: str, like: str | None = None, **opts) -> dict:
    """A target for lab host ``name`` (or for host ``like``, under another name), options overridden."""
    t = {"name": name, "type": "linux", "connection": "ssh", "host": lab.hosts[like or name].address,
         "user": "gxpscan", "key_file": str(lab.user_key), "known_hosts": str(lab.known_hosts),
         "become": "sudo", "connect_timeout": 3}
    t.update(opts)
    return t


def configured_targets(lab: SSHLab) -> list[dict]:
    return [
        ssh_target(lab, "hardened", become_password_env=SUDO_ENV),  # sudo asks: the password goes on stdin
        ssh_target(lab, "default"),
        ssh_target(lab, "weak", key_file=str(lab.user_key_enc), passphrase_env=PASS_ENV),
    ]


def fault_targets(lab: SSHLab) -> list[dict]:
    return [
        ssh_target(lab, "unreachable", "fleet-00", host=lab.unreachable(), connect_timeout=2),
        ssh_target(lab, "closed-port", "fleet-00", port=2222),
        ssh_target(lab, "wrong-key", "fleet-01", key_file=str(lab.wrong_key)),
        ssh_target(lab, "changed-key", "fleet-02", known_hosts=str(lab.changed_known_hosts)),
        ssh_target(lab, "hang", host_timeout=4),
        ssh_target(lab, "flood"),
        ssh_target(lab, "nosudo", become_password_env=SUDO_ENV),
    ]


def write_inventory(path: Path, targets: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"version": 1, "targets": targets}))
    return path


def scan(tmp_path: Path, targets: list[dict], *extra: str, pre: tuple[str, ...] = ()) -> tuple[int, dict, Path]:
    inventory = write_inventory(tmp_path / "inventory.yml", targets)
    out = tmp_path / "out"
    rc = main([*pre, "scan", "--inventory", str(inventory), "--format", "json", "--output", str(out), *extra])
    return rc, json.loads((out / "report.json").read_text()), out


def statuses(report: dict) -> dict[str, dict[str, str]]:
    """target -> check -> its findings' statuses, sorted and joined with '+'."""
    seen: dict[str, dict[str, set[str]]] = {}
    for f in report["findings"]:
        seen.setdefault(f["target"], {}).setdefault(f["check"], set()).add(f["status"])
    return {t: {c: "+".join(sorted(s)) for c, s in checks.items()} for t, checks in seen.items()}


def messages(report: dict, target: str) -> list[str]:
    return [f["message"] for f in report["findings"] if f["target"] == target]


# ---- three configured hosts -------------------------------------------------------------------------

def test_every_linux_check_on_hardened_default_and_weak_hosts(lab, tmp_path):
    rc, report, _ = scan(tmp_path, configured_targets(lab))
    got = statuses(report)
    for i, profile in enumerate(PROFILES):
        assert got[profile] == {check: expected[i] for check, expected in EXPECTED.items()}, profile
    assert rc == 1  # failures at or above the default --fail-on


def test_each_host_got_one_channel_per_privilege_level(lab, tmp_path):
    before = {n: lab.hosts[n].channels_opened() for n in PROFILES}
    scan(tmp_path, configured_targets(lab))
    time.sleep(0.3)
    assert {n: lab.hosts[n].channels_opened() - before[n] for n in PROFILES} == {n: 2 for n in PROFILES}


# ---- fleet and faults -----------------------------------------------------------------------------------

FAULT_MESSAGES = {
    "unreachable": r"cannot connect to 10\.200\.\d+\.\d+:22: timed out",
    "closed-port": r"cannot connect to 10\.200\.\d+\.\d+:2222: Connection refused",
    "wrong-key": r"authentication failed for gxpscan@10\.200\.\d+\.\d+:22 \(tried: key file .*id_wrong\)",
    "changed-key": r"HOST KEY CHANGED for 10\.200\.\d+\.\d+: known_hosts .* has ssh-ed25519 SHA256:\S+, "
                   r"the host presented ssh-ed25519 SHA256:\S+; no command was sent",
    "hang": r"the batched collection script timed out",
    # a flooding host: its output is cut at the bound; under load its sshd may also drop the connection, seen on
    # the channel in use or on the next one opened (the root channel: "Broken pipe", seen in a CI rehearsal)
    "flood": r"output bound reached before this fact's section \(output truncated\)|the server closed the connection"
             r"|the connection to flood was lost before this command"
             r"|cannot open a channel on gxpscan@10\.200\.\d+\.\d+:22: \[Errno 32\] Broken pipe",
}


def test_fleet_of_20_with_faulty_hosts_scanned_concurrently(lab, tmp_path):
    import re

    targets = [ssh_target(lab, n) for n in FLEET] + fault_targets(lab)
    start = time.monotonic()
    _, report, _ = scan(tmp_path, targets, "--concurrency", "32")
    took = time.monotonic() - start
    got = statuses(report)
    default = {check: expected[1] for check, expected in EXPECTED.items()}
    for name in FLEET:  # complete and correct, whatever happened to the faulty hosts
        assert got[name] == default, name
    for name, pattern in FAULT_MESSAGES.items():
        assert set(got[name].values()) == {"error"}, name
        for message in messages(report, name):
            assert re.search(pattern, message), (name, message)
    # sudo refused: the facts that need root are errors saying so; the others are complete and correct.
    root_only = {spec.id for spec in Registry.load().select(platform="linux") if spec.needs_root}
    assert {c for c, s in got["nosudo"].items() if s == "error"} == root_only | {"linux.time.synchronized"}
    for f in report["findings"]:
        if f["target"] == "nosudo" and f["check"] in root_only:
            assert "sudo refused on gxpscan@" in f["message"] and "not in the sudoers file" in f["message"]
    assert {c: s for c, s in got["nosudo"].items() if c not in root_only} == {
        c: s for c, s in default.items() if c not in root_only}
    assert took < 30  # the hanging host is cut at its 4 s host timeout, the unreachable one at 2 s


def test_fleet_hosts_each_show_their_own_hostname_in_evidence(lab, tmp_path):
    _, report, _ = scan(tmp_path, [ssh_target(lab, n) for n in FLEET[:5]], "--check", "linux.ssh.*")
    raw = {v["target"]: v["raw"] for v in report["evidence"].values() if v["fact"] == "linux.sshd_effective"}
    assert sorted(raw) == FLEET[:5]
    assert all("passwordauthentication yes" in text for text in raw.values())


# ---- secrets ------------------------------------------------------------------------------------------------

def test_planted_sudo_password_and_key_passphrase_appear_nowhere(lab, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    targets = configured_targets(lab) + [
        ssh_target(lab, "nosudo", become_password_env=SUDO_ENV),  # sudo refuses: its stderr is reported
        ssh_target(lab, "bad-passphrase", "default", key_file=str(lab.user_key_enc), passphrase_env=SUDO_ENV),
    ]
    formats = [a for f in FORMAT_NAMES for a in ("--format", f)]
    scan(tmp_path, targets, *formats, "--verbose", pre=("--log-level", "DEBUG"))
    captured = capsys.readouterr()
    outputs = {"stdout": captured.out, "stderr": captured.err, "logging": caplog.text}
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "inventory.yml"]
    assert {p.name for p in files} >= {"record.jsonl", "report.json"}
    outputs.update({str(p): p.read_text(errors="replace") for p in files})
    assert "cannot load key file" in outputs[str(tmp_path / "out" / "report.json")]
    for secret in (lab.sudo_password, lab.passphrase):
        assert [where for where, text in outputs.items() if secret in text] == []


# ---- interrupted scan ------------------------------------------------------------------------------------------

def test_scan_killed_with_sigkill_keeps_finished_hosts_in_the_record(lab, tmp_path):
    quick = FLEET[:6]
    targets = [ssh_target(lab, "hang", host_timeout=120),
               ssh_target(lab, "hang-2", "hang", host_timeout=120)] + [ssh_target(lab, n) for n in quick]
    inventory = write_inventory(tmp_path / "inventory.yml", targets)
    out = tmp_path / "out"
    record = out / "record.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "scanner", "scan", "--inventory", str(inventory),
                             "--format", "json", "--output", str(out), "--concurrency", "4"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, SUDO_ENV: lab.sudo_password})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = record.read_text().splitlines() if record.exists() else []
            if sum('"type":"target"' in line for line in lines) >= len(quick):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    run = load_record(out)
    assert run.info.interrupted
    done = {r.target for r in run.results}
    assert done == set(quick)  # the hanging hosts never finished; every finished one is there
    default = {check: expected[1] for check, expected in EXPECTED.items()}
    for name in quick:
        got = {}
        for r in run.results:
            if r.target == name:
                got.setdefault(r.check, set()).add(r.status.value)
        assert {c: "+".join(sorted(s)) for c, s in got.items()} == default
    assert not (out / "report.json").exists()


# ---- Ansible inventory -------------------------------------------------------------------------------------------

def test_scan_hosts_from_an_ansible_inventory_with_the_users_known_hosts(lab, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text(lab.known_hosts.read_text())
    monkeypatch.setenv("HOME", str(home))
    ansible = tmp_path / "hosts.ini"
    ansible.write_text(
        "[hardened_hosts]\n"
        f"hardened ansible_host={lab.hosts['hardened'].address}\n"
        "[plain]\n"
        f"fleet-03 ansible_host={lab.hosts['fleet-03'].address} ansible_become=yes\n"
        "[all:vars]\n"
        f"ansible_user=gxpscan\nansible_ssh_private_key_file={lab.user_key}\n")
    out = tmp_path / "out"
    rc = main(["scan", "--ansible-inventory", str(ansible), "--limit", "plain,hardened_hosts",
               "--format", "json", "--output", str(out)])
    got = statuses(json.loads((out / "report.json").read_text()))
    assert rc == 1
    assert got["fleet-03"] == {check: expected[1] for check, expected in EXPECTED.items()}
    # hardened has no become in the Ansible inventory: its root-only facts are errors that say so.
    assert got["hardened"]["linux.ssh.root_login"] == "error"
    assert got["hardened"]["linux.password.min_length"] == EXPECTED["linux.password.min_length"][0]


# ---- lab hygiene ------------------------------------------------------------------------------------------------

def test_lab_close_removes_namespaces_and_processes_and_sweeps_dead_runs(tmp_path):
    if require_tools():
        lab_unavailable(require_tools() or "")
    dead_pid = next(p for p in range(4_000_000, 4_100_000) if not Path(f"/proc/{p}").exists())
    stale = f"{NS_PREFIX}{dead_pid}-feed00-0"  # left behind by a crashed run
    sh("ip", "netns", "add", stale)
    before = set(lab_namespaces())
    small = SSHLab(tmp_path / "small")
    assert stale not in sh("ip", "netns", "list").stdout
    try:
        hosts = [small.add("a", "default"), small.add("b", "default", sshd_options=("ForceCommand sleep 600",))]
        small.wait_ready()
        pids = {h.proc.pid for h in hosts}
    finally:
        small.close()
    assert set(lab_namespaces()) == before
    assert not [p for p in pids if Path(f"/proc/{p}").exists()]
