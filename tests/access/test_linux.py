"""The Linux access list from facts the real collector parsers make out of hand-written files: types, password
state, uid 0, sudo rules (direct, %group primary and supplementary, User_Alias, negation, ALL), the "(unverified)"
grant for what cannot be read, and fail closed on a broken required fact."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from checks.linux.logons import stale
from scanner.access.extract import system_access
from scanner.access.linux import EXTRACTOR, UNVERIFIED
from scanner.access.model import Account, AccountType
from scanner.collectors.linux_accounts import parse_group, parse_passwd, parse_shadow
from scanner.collectors.linux_common import ParseError, Probe, Section
from scanner.collectors.linux_logons import parse_last_logons
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


# ---- last logons: the lastlog fact, its use in the list, the stale check


def lastlog(out: str, rc: int = 0) -> Fact:
    try:
        return Fact("linux.last_logons", parse_last_logons(Section(probes={"lastlog": Probe(rc, out.encode())}),
                                                           make_target()))
    except ParseError as exc:
        return Fact.failed("linux.last_logons", str(exc))


LASTLOG_OUT = ("S|600000\nL|          0|0|root\nL|  1796160551|0|toor\nN|1|daemon\nN|105|sshd\nN|65534|nobody\n"
               "L|  1796160551|1001|alice\nL|  1790000000|1002|bob\nN|1003|carol\nN|1004|svcapp\nN|1005|old\nT|10\n")


def test_last_logons_are_read_per_account_and_never_is_known():
    fs = {**facts(), "linux.last_logons": lastlog(LASTLOG_OUT)}
    got = system_access(make_target(), fs)
    assert got is not None and got.ok
    rows = {a.name: (a.last_logon, a.last_logon_known) for a in got.accounts}
    assert rows["alice"] == (datetime(2026, 12, 1, 21, 29, 11, tzinfo=timezone.utc), True)
    assert rows["bob"] == (datetime(2026, 9, 21, 14, 13, 20, tzinfo=timezone.utc), True)
    assert rows["carol"] == (None, True) and rows["root"] == (None, True)
    assert "linux.last_logons" in got.accounts[0].evidence
    assert got.notes == ("last logons from /var/log/lastlog: terminal sessions (sshd with a terminal, login) only; "
                         "command-only SSH sessions, scp and sftp are not recorded there",
                         "accounts root, toor share uid 0 and so one last-logon record")


def test_accounts_beyond_the_cap_have_an_unknown_last_logon_and_a_note():
    fs = {**facts(), "linux.last_logons": lastlog("S|0\nN|0|root\nT|1500\n")}
    got = system_access(make_target(), fs)
    assert got is not None and got.ok
    assert [(a.name, a.last_logon_known) for a in got.accounts[:2]] == [("root", True), ("daemon", False)]
    assert "last logon read for the first 1000 of 1500 /etc/passwd lines only" in got.notes


@pytest.mark.parametrize("out, rc, error", [
    ("M\n", 0, "/var/log/lastlog does not exist: no last logons are recorded on this host (Debian 13 and later keep "
               "them in lastlog2's database, which this version does not read)"),
    ("R\n", 0, "cannot read /var/log/lastlog (permission denied or not a regular file)"),
    ("S|10\nL|x|0|root\nT|1\n", 0, "/var/log/lastlog: a record's time is not a number of seconds: 'x'"),
    ("S|10\nL|-5|0|root\nT|1\n", 0, "/var/log/lastlog: a record's time is not a number of seconds: '-5'"),
    ("S|10\nN|0|root\n", 0, "the /var/log/lastlog listing is incomplete (no file size or account count)"),
    ("S|10\nQ|0|root\nT|1\n", 0, "unexpected lastlog listing line: 'Q|0|root'"),
    ("S|10\nN|root\nT|1\n", 0, "unexpected lastlog listing line: 'root'"),
    ("S|10\n", 124, "read /var/log/lastlog: timed out"),
    ("S|10\nFAILED\nT|1\n", 0, "od could not read /var/log/lastlog"),
    ("S|10\nL||0|root\nT|1\n", 0, "/var/log/lastlog: a record's time is not a number of seconds: ''"),
])
def test_an_unreadable_or_garbled_lastlog_is_a_fact_error_and_the_list_notes_it(out, rc, error):
    fact = lastlog(out, rc)
    assert fact.error == error
    got = system_access(make_target(), {**facts(), "linux.last_logons": fact})
    assert got is not None and got.ok and f"linux.last_logons not available ({error})" in got.notes
    assert {a.last_logon_known for a in got.accounts} == {False}


def stale_findings(out: str, days: int = 90, shadow: str = SHADOW):
    fs = facts(shadow=shadow)
    return stale(fs["linux.passwd"].value, fs["linux.shadow"].value, lastlog(out).value, HostClock(NOW),
                 stale_account_days=days)


def test_stale_lists_password_accounts_not_used_within_the_policy_days():
    got = stale_findings(LASTLOG_OUT)
    assert got.status.value == "fail"
    # alice used today; bob 71 days ago; svcapp never, and its password must be changed (no date): stale;
    # carol and toor are locked, old expired, root/daemon have no password
    assert got.observed["stale"] == {"svcapp": "no logon recorded"}
    assert got.message == ("1 account(s) with a usable password not used for more than 90 days: svcapp "
                           "(no logon recorded)")
    tight = stale_findings(LASTLOG_OUT, days=30)
    assert tight.observed["stale"] == {"bob": "last logon 2026-09-21", "svcapp": "no logon recorded"}
    never = stale_findings(LASTLOG_OUT.replace("L|  1796160551|1001|alice", "N|1001|alice"), days=400)
    assert never.observed["stale"] == {"alice": "no logon recorded, password set 2025-07-31",
                                       "svcapp": "no logon recorded"}


def test_stale_passes_when_every_password_account_was_used_and_errors_when_one_was_not_read():
    out = LASTLOG_OUT.replace("N|1004|svcapp", "L|  1796160551|1004|svcapp")
    assert stale_findings(out).status.value == "pass"
    assert stale_findings(out).message == "all 3 account(s) with a usable password were used within 90 days"
    unread = stale_findings(out.replace("L|  1796160551|1004|svcapp\n", ""))
    assert unread.status.value == "error"
    assert unread.message == ("the last logon of 1 account(s) with a usable password was not read (beyond the "
                              "first 1000 accounts): svcapp")


def test_a_forged_record_after_a_carriage_return_does_not_make_a_stale_account_recent():
    """Output is split on \\n only: a \\r (or NUL) in a line cannot start a second record claiming svcapp's logon."""
    for sep in ("\r", "\x00", "\x1e"):
        forged = f"L|  1796160551|1001|alice{sep}L|  1796160551|1003|svcapp"
        out = LASTLOG_OUT.replace("L|  1796160551|1001|alice", forged)
        got = stale_findings(out)
        assert got.observed["stale"] == {"svcapp": "no logon recorded"}, sep
