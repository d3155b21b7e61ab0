"""The local account checks on small facts, asserting status, message and observed values: logic survivors of
checks/linux/accounts.py under mutmut (docs/mutation.md, issue 15 fourth session)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from checks.linux import accounts
from scanner.facts.linux import (
    DotFile,
    FileStat,
    GroupEntry,
    Groups,
    HomeDir,
    Homes,
    HostClock,
    LoginEnv,
    PamServices,
    Passwd,
    PasswdEntry,
    PathSetting,
    Shadow,
    ShadowEntry,
)
from scanner.model import Finding, Location, Status, thaw
from tests.checks.linux.factories import login_defs, pam, pam_rule


def user(name: str, uid: int, gid: int = 100, shell: str = "/bin/bash", password: str = "x") -> PasswdEntry:
    return PasswdEntry(name=name, password=password, uid=uid, gid=gid, home=f"/home/{name}", shell=shell)


def shadow(name: str, state: str = "hash", last_change: int | None = None, expire: int | None = None) -> ShadowEntry:
    return ShadowEntry(name=name, state=state, scheme="yescrypt" if state == "hash" else None,
                       last_change=last_change, min_days=None, max_days=None, warn_days=None, inactive_days=None,
                       expire=expire)


def seen(f: Finding) -> tuple[Status, str, dict[str, Any]]:
    return f.status, f.message, thaw(f.observed)


def test_unique_ids_names_each_repeated_name_and_shared_id() -> None:
    passwd = Passwd((user("root", 0), user("alice", 10), user("bob", 10), user("carol", 9), user("dave", 9),
                     user("erin", 1001)))
    group = Groups((GroupEntry("staff", 50, ()), GroupEntry("staff", 51, ()), GroupEntry("web", 52, ())))
    got = [seen(f) for f in accounts.unique_ids(passwd, group)]
    assert got == [
        (Status.FAIL, "identities are not unique: UID 10 shared by alice, bob; UID 9 shared by carol, dave",
         {"duplicate_names": [], "duplicate_uids": [10, 9]}),  # sorted as text, as the check sorts them
        (Status.FAIL, "identities are not unique: name staff repeated",  # a repeated name alone fails
         {"duplicate_names": ["staff"], "duplicate_gids": []}),
    ]
    clean = [seen(f) for f in accounts.unique_ids(Passwd((user("root", 0),)), Groups((GroupEntry("root", 0, ()),)))]
    assert clean == [
        (Status.PASS, "1 entries, all names and UIDs unique", {"duplicate_names": [], "duplicate_uids": []}),
        (Status.PASS, "1 entries, all names and GIDs unique", {"duplicate_names": [], "duplicate_gids": []})]
    shared_gid = accounts.unique_ids(Passwd(()), Groups((GroupEntry("a", 7, ()), GroupEntry("b", 7, ()))))[1]
    assert shared_gid.message == "identities are not unique: GID 7 shared by a, b"


def test_a_group_other_than_root_with_gid_0_fails() -> None:
    got = accounts.gid0(Passwd((user("root", 0, gid=0),)), Groups((GroupEntry("root", 0, ()),
                                                                    GroupEntry("wheel", 0, ()))))
    assert seen(got) == (Status.FAIL, "groups other than root with GID 0: wheel",
                         {"gid0_accounts": ["root"], "gid0_groups": ["root", "wheel"]})


#: login.defs settings, the account's UID -> whether it counts as a system account (below UID_MIN, default 1000)
@pytest.mark.parametrize(("defs", "uid", "system"), [
    ({}, 999, True), ({}, 1000, False), ({"UID_MIN": "500"}, 600, False), ({"UID_MIN": "500"}, 499, True),
])
def test_system_accounts_are_those_below_uid_min(defs: dict[str, str], uid: int, system: bool) -> None:
    passwd = Passwd((user("root", 0), user("svc", uid)))
    uid_min = int(defs.get("UID_MIN", "1000"))
    shells = accounts.system_shells(passwd, login_defs(**defs))
    locked = accounts.system_locked(passwd, Shadow((shadow("root"), shadow("svc"))), login_defs(**defs))
    if system:
        assert seen(shells) == (Status.FAIL, "system accounts with a login shell: svc (/bin/bash)",
                                {"uid_min": uid_min, "accounts": {"svc": "/bin/bash"}})
        assert seen(locked) == (Status.FAIL, "system accounts with a usable password: svc",
                                {"uid_min": uid_min, "accounts": ["svc"]})
    else:
        assert seen(shells) == (Status.PASS, f"no system account below UID {uid_min} has a login shell",
                                {"uid_min": uid_min, "accounts": {}})
        assert seen(locked) == (Status.PASS, "all 0 system accounts are locked", {"uid_min": uid_min, "accounts": []})


@pytest.mark.parametrize(("state", "status"), [("hash", Status.FAIL), ("empty", Status.FAIL), ("locked", Status.PASS),
                                               ("disabled", Status.PASS)])
def test_a_system_account_with_an_empty_password_is_not_locked(state: str, status: Status) -> None:
    got = accounts.system_locked(Passwd((user("daemon", 1),)), Shadow((shadow("daemon", state),)), login_defs())
    assert (got.status, thaw(got.observed)["accounts"]) == (status, ["daemon"] if status is Status.FAIL else [])


def test_an_empty_password_field_in_passwd_or_nullok_in_the_password_stack_fails() -> None:
    got = accounts.empty_password(Passwd((user("alice", 1000, password=""),)), Shadow((shadow("alice"),)),
                                  pam("password required pam_unix.so nullok yescrypt"))
    assert [seen(f) for f in got] == [
        (Status.FAIL, "accounts with an empty password: alice", {"empty": ["alice"]}),
        (Status.FAIL, "pam_unix accepts an empty password (nullok): "
                      "/etc/pam.d/common-password:1: password required pam_unix.so nullok yescrypt",
         {"rules": ["/etc/pam.d/common-password:1: password required pam_unix.so nullok yescrypt"]}),
    ]


DAY = 20000  # 2024-10-04


def clock(day: float) -> HostClock:
    return HostClock(datetime.fromtimestamp(day * 86400, tz=timezone.utc))


@pytest.mark.parametrize(("entries", "today", "status", "message", "observed"), [
    ((shadow("a", last_change=DAY), shadow("b", expire=DAY + 1)), DAY + 0.5, Status.PASS,
     "all account dates are consistent with 2024-10-04",  # changed today: not in the future; expires tomorrow
     {"today": "2024-10-04", "changed_in_future": {}, "expired_with_password": {},
      "expiry_dates": {"b": "2024-10-05"}}),
    ((shadow("a", last_change=DAY + 1), shadow("b", last_change=DAY + 2)), DAY + 0.5, Status.FAIL,
     "last password change in the future: a, b",
     {"today": "2024-10-04", "changed_in_future": {"a": "2024-10-05", "b": "2024-10-06"},
      "expired_with_password": {}, "expiry_dates": {}}),
    ((shadow("a", expire=DAY), shadow("b", expire=DAY - 1), shadow("c", "locked", expire=DAY - 1)), DAY + 0.5,
     Status.FAIL, "expired but with a usable password: a, b",  # expiring today counts; a locked one does not
     {"today": "2024-10-04", "changed_in_future": {}, "expired_with_password": {"a": "2024-10-04", "b": "2024-10-03"},
      "expiry_dates": {}}),
    ((shadow("a", last_change=0),), -0.5, Status.FAIL, "last password change in the future: a",  # a clock in 1969
     {"today": "1969-12-31", "changed_in_future": {"a": "1970-01-01"}, "expired_with_password": {},
      "expiry_dates": {}}),
])
def test_expiry_bounds_and_words(entries: tuple[ShadowEntry, ...], today: float, status: Status, message: str,
                                 observed: dict[str, Any]) -> None:
    assert seen(accounts.expiry(Shadow(entries), clock(today))) == (status, message, observed)


def home(name: str, uid: int, mode: int | None, kind: str = "directory", owner_uid: int | None = None,
         dots: tuple[DotFile, ...] = ()) -> HomeDir:
    owner = uid if owner_uid is None else owner_uid
    st = None if mode is None else FileStat(f"/home/{name}", mode, owner, 100, "root" if owner == 0 else
                                            f"u{owner}", "users", kind)
    return HomeDir(name, uid, f"/home/{name}", st, dots)


def test_home_dirs_judges_root_and_people_with_kind_owner_and_mode() -> None:
    passwd = Passwd((user("daemon", 2), user("root", 0), user("alice", 1000), user("bob", 1001), user("dave", 1003),
                     user("carol", 1002)))
    homes = Homes((home("daemon", 2, 0o755), home("root", 0, 0o751), home("alice", 1000, 0o750),
                   home("bob", 1001, 0o777, "symbolic link", owner_uid=0), home("dave", 1003, None),
                   home("carol", 1002, 0o751)), 6, 500, 200)
    got = [(f.resource, f.status, f.message) for f in accounts.home_dirs(homes, passwd, login_defs())]
    assert got == [  # daemon is no person: skipped, the loop goes on
        ("root", Status.FAIL, "/home/root: mode 0751 is wider than 0750"),
        ("alice", Status.PASS, "/home/alice is 0750 u1000"),
        ("bob", Status.FAIL, "/home/bob: it is a symbolic link, not a directory; owner root is not bob"),
        ("dave", Status.FAIL, "the home /home/dave of dave does not exist"),  # and the loop goes on
        ("carol", Status.FAIL, "/home/carol: mode 0751 is wider than 0750"),
    ]


def test_dot_files_bans_trust_files_and_writable_ones_only() -> None:
    def dot(name: str, mode: int, kind: str = "file") -> DotFile:
        return DotFile(f"/home/a/{name}", name, mode, "a", kind)

    homes = Homes((home("a", 1000, 0o700, dots=(dot(".shosts", 0o600), dot(".profile", 0o601),
                                                  dot(".bashrc", 0o620), dot(".cache", 0o777, "directory"))),),
                  1, 500, 200)
    got = [(f.resource, f.status, f.message) for f in accounts.dot_files(homes)]
    assert got == [("/home/a/.shosts", Status.FAIL, "/home/a/.shosts exists (.shosts owned by a)"),
                   ("/home/a/.bashrc", Status.FAIL, "/home/a/.bashrc is writable by group or others (0620)")]
    only_banned = Homes((home("a", 1000, 0o700, dots=(dot(".netrc", 0o600),)),), 1, 500, 200)
    assert [f.status for f in accounts.dot_files(only_banned)] == [Status.FAIL]  # no pass beside the failure


@pytest.mark.parametrize(("defs", "status", "message", "umask"), [
    ({"UMASK": "027"}, Status.PASS, "umask 027 masks 027", "027"),
    ({}, Status.FAIL, "umask 022 leaves 005 open, expected at least 027 (UMASK unset: 022)", "022"),
])
def test_login_defs_umask_default_and_its_line(defs: dict[str, str], status: Status, message: str,
                                               umask: str) -> None:
    env = LoginEnv((), (), {}, ())
    got = accounts.umask(login_defs(PASS_MAX_DAYS="90", **defs), env)
    assert [(*seen(f), f.location) for f in got] == [
        (status, message, {"umask": umask, "required": "027"},
         Location("/etc/login.defs", 2) if defs else Location("/etc/login.defs"))]


def test_root_path_names_each_relative_element() -> None:
    env = LoginEnv((), (PathSetting("/etc/profile", 3, ("/usr/bin", "", "bin", "$PATH")),),
                   {"/usr/bin": FileStat("/usr/bin", 0o755, 0, 0, "root", "root", "directory")}, ("/etc/profile",))
    problems = ["an empty element is relative to the working directory", "bin is relative to the working directory"]
    assert [seen(f) for f in accounts.root_path(env)] == [
        (Status.FAIL, f"PATH is unsafe for root: {'; '.join(problems)}",
         {"problems": problems, "path": "/usr/bin::bin:$PATH", "unresolved": []})]


def test_a_sufficient_pam_permit_is_a_bypass_like_pam_succeed_if() -> None:
    rules = (pam_rule("auth sufficient pam_permit.so", "/etc/pam.d/sshd", 4),
             pam_rule("auth sufficient pam_succeed_if.so quiet", "/etc/pam.d/su", 2),
             pam_rule("auth required pam_permit.so", "/etc/pam.d/sshd", 5))  # can only deny: no bypass
    got = accounts.pam_succeed_if(PamServices({"/etc/pam.d/sshd": rules[::2], "/etc/pam.d/su": rules[1:2]}))
    assert [(f.resource, f.status, f.message) for f in got] == [
        ("/etc/pam.d/sshd", Status.FAIL, "authentication can be skipped: /etc/pam.d/sshd:4: auth sufficient "
                                         "pam_permit.so"),
        ("/etc/pam.d/su", Status.FAIL, "authentication can be skipped: /etc/pam.d/su:2: auth sufficient "
                                       "pam_succeed_if.so quiet")]


# ---------------------------------------------------------------- issue 15, fifth session: su_restricted (the 149
# mutants the fourth session's run did not reach) and the survivors of the full run

SU = "/etc/pam.d/su"


def su_services(*lines: str) -> PamServices:
    return PamServices({SU: tuple(pam_rule(line, SU, n) for n, line in enumerate(lines, 1))})


def su_text(n: int, line: str) -> str:
    return f"{SU}:{n}: {line}"


WHEEL_INSTALLED = ("pam_unix.so", "pam_wheel.so")
STAFF = (GroupEntry("root", 0, ()), GroupEntry("staff", 50, ("ann", "ben")), GroupEntry("wheel", 10, ("cy",)))


#: /etc/pam.d/su lines, the groups -> verdict, message, the rule judged (its line), the group named, its members
@pytest.mark.parametrize(("lines", "groups", "status", "message", "line", "name", "members"), [
    (("auth sufficient pam_rootok.so", "auth required pam_wheel.so use_uid group=staff"), STAFF, Status.PASS,
     "su is limited to group staff", 2, "staff", ["ann", "ben"]),
    # no group= : wheel when it exists, else the group with GID 0, else root
    (("auth requisite pam_wheel.so use_uid",), STAFF, Status.PASS, "su is limited to group wheel", 1, "wheel",
     ["cy"]),
    (("auth required pam_wheel.so use_uid",), (GroupEntry("sys", 3, ()), GroupEntry("adm0", 0, ("dee",))),
     Status.PASS, "su is limited to group adm0", 1, "adm0", ["dee"]),
    (("auth required pam_wheel.so use_uid",), (GroupEntry("sys", 3, ()),), Status.FAIL,
     "pam_wheel names group root, which does not exist", 1, "root", None),
    (("auth required pam_wheel.so use_uid trust group=staff",), STAFF, Status.FAIL,
     "members of staff su without a password (pam_wheel trust)", 1, "staff", ["ann", "ben"]),
    (("auth sufficient pam_wheel.so use_uid group=staff",), STAFF, Status.FAIL,
     "pam_wheel is 'sufficient': a user outside staff is not stopped", 1, "staff", ["ann", "ben"]),
    (("auth [default=die] pam_wheel.so use_uid group=staff",), STAFF, Status.FAIL,
     "pam_wheel is '[default=die]': a user outside staff is not stopped", 1, "staff", ["ann", "ben"]),
    (("auth required pam_wheel.so group=staff",), STAFF, Status.FAIL,
     "pam_wheel without use_uid judges the login name, not the user running su", 1, "staff", ["ann", "ben"]),
    (("auth required pam_wheel.so use_uid group=nogroup",), STAFF, Status.FAIL,
     "pam_wheel names group nogroup, which does not exist", 1, "nogroup", None),
    # a deny rule or another type does not restrict; the first restricting rule is judged
    (("auth required pam_wheel.so deny group=staff", "account required pam_wheel.so use_uid group=wheel",
      "auth required pam_wheel.so use_uid group=staff", "auth required pam_wheel.so trust"), STAFF, Status.PASS,
     "su is limited to group staff", 3, "staff", ["ann", "ben"]),
])
def test_su_restricted_judges_the_first_pam_wheel_auth_rule(
        lines: tuple[str, ...], groups: tuple[GroupEntry, ...], status: Status, message: str, line: int, name: str,
        members: list[str] | None) -> None:
    got = accounts.su_restricted(su_services(*lines), pam(installed=WHEEL_INSTALLED), Groups(groups))
    assert (*seen(got), got.resource, got.location) == (
        status, message, {"rule": su_text(line, lines[line - 1]), "group": name, "members": members}, SU,
        Location(SU, line))


@pytest.mark.parametrize(("lines", "installed", "extra", "rules"), [
    (("auth sufficient pam_rootok.so", "auth required pam_wheel.so deny group=staff"), WHEEL_INSTALLED, "", []),
    (("auth required pam_wheel.so use_uid",), ("pam_unix.so",), " (pam_wheel.so is named but not installed)",
     [su_text(1, "auth required pam_wheel.so use_uid")]),
])
def test_su_without_an_installed_pam_wheel_rule_fails(lines: tuple[str, ...], installed: tuple[str, ...],
                                                      extra: str, rules: list[str]) -> None:
    got = accounts.su_restricted(su_services(*lines), pam(installed=installed), Groups(STAFF))
    assert (*seen(got), got.resource, got.location) == (
        Status.FAIL, f"any user who knows root's password can su: no pam_wheel rule{extra}", {"rules": rules}, SU,
        Location(SU))


def test_su_without_a_pam_file_is_not_applicable_or_an_error_when_unreadable() -> None:
    none = accounts.su_restricted(PamServices({}), pam(), Groups(STAFF))
    assert (none.status, none.resource, none.message) == (
        Status.NOT_APPLICABLE, SU, "su has no PAM configuration (su is not installed)")
    broken = accounts.su_restricted(PamServices({}, {SU: "line 3 is not a PAM rule"}), pam(), Groups(STAFF))
    assert (broken.status, broken.resource, broken.message) == (Status.ERROR, SU, "line 3 is not a PAM rule")
    other = accounts.su_restricted(PamServices({}, {"/etc/pam.d/sshd": "bad"}), pam(), Groups(STAFF))
    assert other.status is Status.NOT_APPLICABLE
