"""The Linux access list of a real OpenSSH host of the SSH lab (tests/lab/sshlab.py; its own /etc, /home and
/var/log), scanned through the runner with ``access=True``: known users, a sudo rule through a group and one
direct, a second uid-0 account, a locked account, a quoted sudoers user the reader leaves unverified, hostile
names in /etc/passwd, and the last logon a real terminal logon over SSH left in the host's own lastlog."""
from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from scanner.access.model import Account, SystemAccess
from scanner.registry import Registry
from scanner.runner import scan_target
from tests.conftest import lab_unavailable
from tests.factories import make_target
from tests.lab.sshlab import SSHLab, require_tools

HASH = "$6$accesslabsalt01$" + "A" * 86  # a well-formed hash nobody knows the password of
HOSTILE = ["=cmd|' /C calc'!A0", 'say"hi', "com,ma", "\x1b[31mred\x1b[0m", "back\\nslash", "@SUM(1)"]
#: (passwd, shadow, group) lines added to the lab profile
ACCOUNTS = [
    ("alice:x:3001:3001:Alice:/home/alice:/bin/sh", f"alice:{HASH}:20000:0:99999:7:::", "alice:x:3001:"),
    ("bob:x:3002:3002:Bob:/home/bob:/bin/sh", f"bob:{HASH}:20000:0:99999:7:::", "bob:x:3002:"),
    ("carol:x:3003:3003:Carol:/home/carol:/bin/sh", f"carol:!{HASH}:20000:0:99999:7:::", "carol:x:3003:"),
    ("toor:x:0:0:second root:/root:/bin/sh", "toor:!:20000:0:99999:7:::", None),
    (None, None, "admins:x:3100:alice"),
    *[(f"{n}:x:{3200 + i}:{3200 + i}::/nonexistent:/bin/sh", f"{n}:{HASH}:20000:0:99999:7:::", None)
      for i, n in enumerate(HOSTILE)],
]
SUDOERS = {
    "gxpscan": "gxpscan ALL=(ALL:ALL) NOPASSWD: ALL\n",
    "ops": "# the operators\n%admins ALL=(ALL) ALL\nbob ALL=(root) /usr/bin/systemctl restart app\n"
           "\"carol\" ALL=(ALL) /usr/bin/id\n",
}


def _append(path: Path, line: str) -> None:
    with open(path, "a") as f:
        f.write(line + "\n")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = require_tools()
    if reason:
        lab_unavailable(reason)
    lab = SSHLab(tmp_path_factory.mktemp("sshlab-access"))
    try:
        base = lab.profile("access")
        etc = base / "etc"
        for passwd, shadow, group in ACCOUNTS:
            for name, line in (("passwd", passwd), ("shadow", shadow), ("group", group)):
                if line:
                    _append(etc / name, line)
        for name, text in SUDOERS.items():
            (etc / "sudoers.d" / name).write_text(text)
            (etc / "sudoers.d" / name).chmod(0o440)
        ssh = base / "home" / "alice" / ".ssh"
        ssh.mkdir(parents=True)
        (ssh / "authorized_keys").write_text(lab.authorized)
        for p, mode in ((base / "home" / "alice", 0o700), (ssh, 0o700), (ssh / "authorized_keys", 0o600)):
            p.chmod(mode)
            os.chown(p, 3001, 3001)
        lab.add("acc", "access")
        lab.wait_ready()
        lab.write_known_hosts()
        yield lab
    finally:
        lab.close()


def target(lab: SSHLab, **opts: object):
    base = {"connection": "ssh", "host": lab.hosts["acc"].address, "user": "gxpscan", "become": "sudo",
            "key_file": str(lab.user_key), "known_hosts": str(lab.known_hosts), "connect_timeout": 5}
    return make_target("acc", **{**base, **opts})


def access_list(lab: SSHLab, **opts: object) -> SystemAccess:
    got = scan_target(target(lab, **opts), [], {}, access=True).access
    assert got is not None
    return got


def terminal_logon(lab: SSHLab, user: str) -> None:
    """A real interactive logon: sshd records a session with a terminal in lastlog and wtmp."""
    proc = subprocess.run(["ssh", "-tt", "-i", str(lab.user_key), "-o", f"UserKnownHostsFile={lab.known_hosts}",
                           "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                           f"{user}@{lab.hosts['acc'].address}", "true"],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr


def row(a: Account) -> tuple:
    return (a.type.value, a.enabled, a.locked, [(g.privilege, g.why) for g in a.grants], a.groups)


UID0 = ("uid 0", "uid 0 in /etc/passwd: the superuser's rights")
PERSON = "a named account not listed as service, shared or built-in"


def test_the_complete_access_list_of_a_real_host_with_the_last_logon_of_a_real_ssh_logon(lab):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    terminal_logon(lab, "alice")
    after = datetime.now(timezone.utc)
    got = access_list(lab)
    assert got.ok, got.error
    accounts = {a.name: a for a in got.accounts}
    static = ["daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data",
              "backup", "list", "irc", "_apt"]
    assert list(accounts) == ["root", *static, "nobody", "sshd", "gxpscan", "alice", "bob", "carol", "toor",
                              *HOSTILE]
    assert {n: row(a) for n, a in accounts.items() if n not in static + HOSTILE} == {
        "root": ("builtin", True, True, [UID0, ("sudo", "sudo rule 'root\tALL=(ALL:ALL) ALL' (/etc/sudoers:47) "
                                                        "names the user")], ("root",)),
        "nobody": ("builtin", True, True, [], ("nogroup",)),
        "sshd": ("service", True, True, [], ("nogroup",)),
        "gxpscan": ("person", True, False, [("sudo", "sudo rule 'gxpscan ALL=(ALL:ALL) NOPASSWD: ALL' "
                                                     "(/etc/sudoers.d/gxpscan:1) names the user")], ("gxpscan",)),
        "alice": ("person", True, False, [("sudo", "sudo rule '%admins ALL=(ALL) ALL' (/etc/sudoers.d/ops:2) via "
                                                   "group admins")], ("alice", "admins")),
        "bob": ("person", True, False, [("sudo", "sudo rule 'bob ALL=(root) /usr/bin/systemctl restart app' "
                                                 "(/etc/sudoers.d/ops:3) names the user")], ("bob",)),
        "carol": ("person", True, True, [("sudo (unverified)", "may grant sudo: rule '\"carol\" ALL=(ALL) "
                                          "/usr/bin/id' (/etc/sudoers.d/ops:4) names the account: the line is not "
                                          "a user specification this reader understands")], ("carol",)),
        "toor": ("person", True, True, [UID0], ("root",)),
    }
    assert accounts["root"].type_reason == "root, the superuser (uid 0)"
    assert accounts["sshd"].type_reason == ("system account (uid 100 below UID_MIN 1000) with no login shell "
                                            "(/usr/sbin/nologin)")
    assert {(a.type.value, a.type_reason.split(" (")[0], a.locked, a.grants) for n, a in accounts.items()
            if n in static} == {("builtin", "static system account", True, ())}
    assert accounts["alice"].type_reason == PERSON and accounts["alice"].id == "uid:3001:alice"
    # the last logon: alice's terminal logon, in the host's own lastlog; nobody else has one (the scan's own
    # sessions have no terminal, so lastlog does not record them)
    alice = accounts["alice"]
    assert alice.last_logon_known and alice.last_logon is not None and before <= alice.last_logon <= after
    assert {n for n, a in accounts.items() if a.last_logon is not None} == {"alice"}
    assert all(a.last_logon_known for a in got.accounts)
    assert got.notes == ("last logons from /var/log/lastlog: terminal sessions (sshd with a terminal, login) only; "
                         "command-only SSH sessions, scp and sftp are not recorded there",
                         "accounts root, toor share uid 0 and so one last-logon record")
    assert "linux.last_logons" in alice.evidence


def test_hostile_names_in_passwd_survive_unchanged_into_the_values(lab):
    got = access_list(lab)
    assert got.ok, got.error
    by_id = {a.id: a for a in got.accounts}
    for i, name in enumerate(HOSTILE):
        a = by_id[f"uid:{3200 + i}:{name}"]
        assert (a.name, a.type.value, a.locked, a.grants, a.last_logon_known) == (name, "person", False, (), True)


def test_without_root_the_password_state_cannot_be_read_and_the_system_is_an_error(lab):
    got = access_list(lab, become=None)
    assert not got.ok and got.accounts == ()
    assert got.error is not None and got.error.startswith("linux.shadow: needs root: ")
    assert "linux.sudoers: needs root: " in got.error


def test_the_stale_check_on_the_real_host(lab):
    """A normal scan (no access=True) collects the last logons for linux.accounts.stale: alice logged on, the
    hostile accounts' passwords date from 2024 and they never did."""
    terminal_logon(lab, "alice")
    spec = next(s for s in Registry.load(["checks.linux"]).select(platform="linux")
                if s.id == "linux.accounts.stale")
    outcome = scan_target(target(lab), [spec], {})
    (result,) = [r for r in outcome.results if r.check == "linux.accounts.stale"]
    assert result.status.value == "fail"
    assert sorted(result.observed["stale"]) == sorted(["bob", *HOSTILE])
    assert result.observed["stale"]["bob"] == "no logon recorded, password set 2024-10-04"
