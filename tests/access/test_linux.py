"""The Linux access list from facts the real collector parsers make out of hand-written files: types, password
state, uid 0, sudo rules (direct, %group primary and supplementary, User_Alias, negation, ALL), the "(unverified)"
grant for what cannot be read, and fail closed on a broken required fact."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from scanner.access.extract import system_access
from scanner.access.linux import EXTRACTOR, UNVERIFIED
from scanner.access.model import Account, AccountType
from scanner.collectors.linux_accounts import parse_group, parse_passwd, parse_shadow
from scanner.collectors.linux_common import Probe, Section
from scanner.collectors.linux_password import parse_login_defs
from scanner.collectors.linux_sudo import parse_sudoers
from scanner.facts.linux import HostClock
from scanner.model import Fact
from tests.factories import make_target

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
TODAY = int(NOW.timestamp() // 86400)

PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
sshd:x:105:65534::/run/sshd:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
alice:x:1001:1001:Alice:/home/alice:/bin/bash
bob:x:1002:100:Bob:/home/bob:/bin/bash
carol:x:1003:1003:Carol:/home/carol:/bin/bash
toor:x:0:0:second root:/root:/bin/sh
svcapp:x:1004:1004:app:/srv/app:/bin/sh
old:x:1005:1005:expired:/home/old:/bin/bash
"""
SHADOW = """root:*:20000:0:99999:7:::
daemon:*:20000:0:99999:7:::
sshd:!:20000::::::
nobody:*:20000:0:99999:7:::
alice:$6$HASH:20300:0:99999:7:::
bob:$y$HASH:20400:0:99999:7:::
carol:!$6$HASH:20100:0:99999:7:::
toor:!:20000:0:99999:7:::
svcapp:$6$HASH:0:0:99999:7:::
old:$6$HASH:19000:0:99999:7::19500:
"""
GROUP = """root:x:0:
sudo:x:27:alice
wheel:x:10:
users:x:100:
alice:x:1001:
carol:x:1003:
admins:x:2000:carol
svcapp:x:1004:
old:x:1005:
"""
SUDOERS = """Defaults use_pty
User_Alias OPS = carol, svcapp : NOBODY = nobody
root ALL=(ALL:ALL) ALL
%sudo ALL=(ALL:ALL) ALL
%users ALL=(root) /usr/bin/systemctl restart app
OPS ALL=(ALL) NOPASSWD: ALL
@includedir /etc/sudoers.d
"""


def section(files: dict[str, str]) -> Section:
    return Section(files={p: t.encode() for p, t in files.items()})


def facts(passwd: str = PASSWD, shadow: str = SHADOW, group: str = GROUP, sudoers: str | None = SUDOERS,
          dropins: dict[str, str] | None = None, login_defs: str | None = "UID_MIN 1000\n",
          clock: bool = True) -> dict[str, Fact]:
    t = make_target()
    files = {"/etc/sudoers": sudoers} if sudoers is not None else {}
    sudo_section = Section(files={p: (v.encode() if v is not None else None)
                                  for p, v in {**files, **(dropins or {})}.items()} or {"/etc/sudoers": None})
    out = {
        "linux.passwd": Fact("linux.passwd", parse_passwd(section({"/etc/passwd": passwd}), t)),
        "linux.shadow": Fact("linux.shadow", parse_shadow(Section(probes={"shadow": Probe(0, shadow.encode())}), t)),
        "linux.group": Fact("linux.group", parse_group(section({"/etc/group": group}), t)),
        "linux.sudoers": Fact("linux.sudoers", parse_sudoers(sudo_section, t)),
    }
    if login_defs is not None:
        out["linux.login_defs"] = Fact("linux.login_defs", parse_login_defs(
            section({"/etc/login.defs": login_defs}), t))
    if clock:
        out["linux.clock"] = Fact("linux.clock", HostClock(NOW))
    return out


def access(fs: dict[str, Fact], **policy: object) -> dict[str, Account]:
    got = system_access(make_target(policy=dict(policy)), fs)
    assert got is not None and got.ok, got and got.error
    return {a.name: a for a in got.accounts}


def whys(a: Account) -> list[tuple[str, str]]:
    return [(g.privilege, g.why) for g in a.grants]


def test_every_account_with_its_type_state_groups_and_grants():
    got = access(facts())
    assert list(got) == ["root", "daemon", "sshd", "nobody", "alice", "bob", "carol", "toor", "svcapp", "old"]
    assert {n: (a.type.value, a.type_reason) for n, a in got.items()} == {
        "root": ("builtin", "root, the superuser (uid 0)"),
        "daemon": ("builtin", "static system account (uid 1 below SYS_UID_MIN 100)"),
        "sshd": ("service", "system account (uid 105 below UID_MIN 1000) with no login shell (/usr/sbin/nologin)"),
        "nobody": ("builtin", "the unprivileged placeholder account (uid 65534)"),
        "alice": ("person", "a named account not listed as service, shared or built-in"),
        "bob": ("person", "a named account not listed as service, shared or built-in"),
        "carol": ("person", "a named account not listed as service, shared or built-in"),
        "toor": ("person", "a named account not listed as service, shared or built-in"),
        "svcapp": ("person", "a named account not listed as service, shared or built-in"),
        "old": ("person", "a named account not listed as service, shared or built-in"),
    }
    assert {n: (a.enabled, a.locked) for n, a in got.items()} == {
        "root": (True, True), "daemon": (True, True), "sshd": (True, True), "nobody": (True, True),
        "alice": (True, False), "bob": (True, False), "carol": (True, True), "toor": (True, True),
        "svcapp": (True, False), "old": (False, False)}
    assert {n: a.id for n, a in got.items()}["toor"] == "uid:0:toor"
    assert got["alice"].groups == ("alice", "sudo") and got["bob"].groups == ("users",)
    assert got["carol"].groups == ("carol", "admins")
    assert got["alice"].password_changed == datetime(2025, 7, 31, tzinfo=timezone.utc)
    assert got["carol"].password_changed == datetime(2025, 1, 12, tzinfo=timezone.utc)  # locked hash keeps its age
    assert got["root"].password_changed is None and got["svcapp"].password_changed is None  # '*'; must change
    assert got["alice"].evidence == ("linux.passwd", "linux.shadow", "linux.group", "linux.sudoers",
                                     "linux.login_defs", "linux.clock")
    assert {n: whys(a) for n, a in got.items() if a.privileged} == {
        "root": [("uid 0", "uid 0 in /etc/passwd: the superuser's rights"),
                 ("sudo", "sudo rule 'root ALL=(ALL:ALL) ALL' (/etc/sudoers:3) names the user")],
        "alice": [("sudo", "sudo rule '%sudo ALL=(ALL:ALL) ALL' (/etc/sudoers:4) via group sudo")],
        "bob": [("sudo", "sudo rule '%users ALL=(root) /usr/bin/systemctl restart app' (/etc/sudoers:5) via group "
                         "users (primary group)")],
        "carol": [("sudo", "sudo rule 'OPS ALL=(ALL) NOPASSWD: ALL' (/etc/sudoers:6) via User_Alias OPS")],
        "svcapp": [("sudo", "sudo rule 'OPS ALL=(ALL) NOPASSWD: ALL' (/etc/sudoers:6) via User_Alias OPS")],
        "toor": [("uid 0", "uid 0 in /etc/passwd: the superuser's rights")],
    }


def test_policy_and_platform_classify_through_the_shared_function():
    got = access(facts(), service_accounts=["svcapp"], shared_account_patterns=["ca*"])
    assert (got["svcapp"].type, got["svcapp"].type_reason) == (AccountType.SERVICE,
                                                               "listed in policy service_accounts")
    assert (got["carol"].type, got["carol"].type_reason) == (AccountType.SHARED,
                                                             "name matches shared_account_patterns 'ca*'")
    assert got["root"].type is AccountType.BUILTIN


def test_uid_min_from_login_defs_and_defaults_without_it():
    moved = access(facts(login_defs="UID_MIN 1002\nSYS_UID_MIN 101\n"))
    assert moved["alice"].type_reason == "a named account not listed as service, shared or built-in"  # bash shell
    assert moved["sshd"].type_reason.startswith("system account (uid 105 below UID_MIN 1002)")
    assert moved["daemon"].type_reason == "static system account (uid 1 below SYS_UID_MIN 101)"
    fs = facts(login_defs=None)
    got = system_access(make_target(), fs)
    assert got is not None and got.ok and "linux.login_defs not collected" in got.notes
    assert {a.name: a.type_reason for a in got.accounts}["sshd"].endswith("below UID_MIN 1000) with no login "
                                                                          "shell (/usr/sbin/nologin)")


def test_without_the_clock_an_account_with_an_expiry_date_is_of_unknown_state():
    got = access(facts(clock=False))
    assert (got["old"].enabled, got["alice"].enabled) == (None, True)


@pytest.mark.parametrize("rule, who, why", [
    ("alice, bob ALL=(ALL) ALL", ["alice", "bob"], "names the user"),
    ("%wheel,!alice ALL=(ALL) ALL", [], ""),
    ("ALL,!bob ALL=(ALL) /usr/bin/id", ["root", "daemon", "sshd", "nobody", "alice", "carol", "toor", "svcapp",
                                       "old"], "via ALL users"),
    ("%#100 ALL=(ALL) ALL", ["bob"], "via group users (primary group)"),
    ("#1003 ALL=(ALL) ALL", ["carol"], "via uid 1003"),
    ("ADM ALL=(ALL) ALL", ["carol"], "via User_Alias ADM, group admins"),
])
def test_sudo_user_lists(rule, who, why):
    sudoers = f"User_Alias ADM = %admins, !alice\n{rule}\n"
    got = access(facts(sudoers=sudoers))
    holders = [n for n, a in got.items() if any(g.privilege == "sudo" for g in a.grants)]
    assert holders == who
    for n in who:
        assert [g.why for g in got[n].grants if g.privilege == "sudo"] == [
            f"sudo rule '{rule}' (/etc/sudoers:2) {why}" if why == "names the user" else
            f"sudo rule '{rule}' (/etc/sudoers:2) {why}"]


def test_rules_in_drop_ins_carry_their_file_and_line():
    got = access(facts(dropins={"/etc/sudoers.d/ops": "# ops team\n\nbob ALL=(ALL) /usr/bin/journalctl\n",
                                "/etc/sudoers.d/x.disabled": "alice ALL=(ALL) ALL\n"}))
    assert whys(got["bob"])[-1] == ("sudo", "sudo rule 'bob ALL=(ALL) /usr/bin/journalctl' (/etc/sudoers.d/ops:3) "
                                            "names the user")
    assert whys(got["alice"]) == [("sudo", "sudo rule '%sudo ALL=(ALL:ALL) ALL' (/etc/sudoers:4) via group sudo")]


@pytest.mark.parametrize("line, who, reason", [
    ("+admins ALL=(ALL) ALL", None, "+admins is a non-Unix group or a netgroup, whose members are not collected"),
    ("%ldapops ALL=(ALL) ALL", None, "group ldapops is not in /etc/group (its members come from elsewhere)"),
    ('"bob" ALL=(ALL) ALL', ["bob"], "the line is not a user specification this reader understands"),
    ("alice ALL", ["alice"], "the line is not a user specification this reader understands"),
    ("bob carol ALL = ALL", ["bob", "carol"], "the line is not 'users hosts = commands'"),
    ("UNDEFINED ALL=(ALL) ALL", None, "UNDEFINED looks like a User_Alias that is not defined in the collected files"),
    ("#include /etc/sudoers.local", None, "/etc/sudoers.local is included but not collected"),
])
def test_a_line_that_cannot_be_read_is_an_unverified_grant_for_whom_it_may_name(line, who, reason):
    got = access(facts(sudoers=f"{line}\n"))
    holders = [n for n, a in got.items() if a.grants and a.grants[-1].privilege == UNVERIFIED]
    assert holders == (who if who is not None else list(got))
    how = "names no known account" if who is None else None
    for n in holders:
        text = got[n].grants[-1].why
        assert text.startswith(f"may grant sudo: rule '{line}' (/etc/sudoers:1) ")
        assert text.endswith(f": {reason}")
        if how:
            assert how in text


def test_no_sudo_installed_means_no_sudo_grants():
    got = access(facts(sudoers=None))
    assert {n: whys(a) for n, a in got.items() if a.privileged} == {
        "root": [("uid 0", "uid 0 in /etc/passwd: the superuser's rights")],
        "toor": [("uid 0", "uid 0 in /etc/passwd: the superuser's rights")]}


@pytest.mark.parametrize("broken, error", [
    ("linux.shadow", "linux.shadow: needs root: password state is readable by root only"),
    ("linux.sudoers", "linux.sudoers: cannot read /etc/sudoers (permission denied or failed)"),
    ("linux.group", "linux.group: /etc/group line 3: expected 4 colon-separated fields, got 3"),
])
def test_a_broken_required_fact_makes_the_system_error_with_no_accounts(broken, error):
    fs = facts()
    fs[broken] = Fact.failed(broken, error.split(": ", 1)[1])
    got = system_access(make_target(), fs)
    assert got is not None and got.error == error and got.accounts == ()


def test_an_account_without_a_shadow_entry_is_of_unknown_state_and_noted():
    fs = facts(shadow="\n".join(line for line in SHADOW.split("\n") if not line.startswith("bob:")))
    got = system_access(make_target(), fs)
    assert got is not None and got.ok
    bob = {a.name: a for a in got.accounts}["bob"]
    assert (bob.enabled, bob.locked, bob.password_changed) == (None, None, None)
    assert "bob: no /etc/shadow entry, password state unknown" in got.notes


HOSTILE = ["=cmd|' /C calc'!A0", 'quo"te', "com,ma", "\x1b[31mred\x1b[0m", "@at", "a\tb"]


def test_hostile_names_survive_unchanged():
    passwd = PASSWD + "".join(f"{n}:x:{3000 + i}:{3000 + i}::/home/x:/bin/sh\n" for i, n in enumerate(HOSTILE))
    shadow = SHADOW + "".join(f"{n}:$6$HASH:20000:0:99999:7:::\n" for n in HOSTILE)
    got = access(facts(passwd=passwd, shadow=shadow, sudoers="\"=cmd|' /C calc'!A0\" ALL=(ALL) ALL\n"))
    for n in HOSTILE:
        assert got[n].name == n and got[n].id.endswith(":" + n)
    # a quoted user list is not read: every account may be named, so every account gets the unverified grant
    assert {a.grants[-1].privilege for a in got.values()} == {UNVERIFIED}


def test_extractor_declares_its_facts():
    assert EXTRACTOR.facts == ("linux.passwd", "linux.shadow", "linux.group", "linux.sudoers")
