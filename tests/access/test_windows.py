"""The Windows access list: from values the collector's own parsers make of collect.ps1's JSON, and through a whole
scan (``access=True``) of the WS-Management responder replaying the recorded host profiles (tests/fixtures/windows;
written by hand from the documented formats, not recorded on Windows: the responder replays PowerShell output)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from scanner.access.extract import system_access
from scanner.access.model import Account, SystemAccess
from scanner.collectors.windows import BY_NAME
from scanner.model import Fact, Platform, Target, freeze
from scanner.runner import scan_target
from tests.fixtures.windows.replay import reply_for
from tests.lab.test_winrm import PASSWORD, PASSWORD_ENV, USER, Pki, pki  # noqa: F401 (pki is a fixture)
from tests.lab.wsman import WSManResponder

SID = "S-1-5-21-1004336348-1177238915-682003330-"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def when(days: int) -> str:
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(name: str, rid: int, enabled: bool = True, last: str | None = None, set_: str | None = None) -> dict:
    return {"name": name, "sid": f"{SID}{rid}", "rid": rid, "enabled": enabled, "password_required": True,
            "password_expires": True, "last_logon": last, "password_last_set": set_}


def member(name: str, sid: str, kind: str = "user", is_local: bool = True) -> dict:
    return {"name": name, "sid": sid, "kind": kind, "local": is_local}


def facts(accounts: list[dict], members: list[dict], group: str = "Administrators") -> dict[str, Fact]:
    t = Target("win", Platform.WINDOWS, freeze({}), freeze({}))
    return {"windows.local_accounts": Fact("windows.local_accounts", BY_NAME["windows.local_accounts"].parse(
                {"accounts": accounts}, t)),
            "windows.admin_group": Fact("windows.admin_group", BY_NAME["windows.admin_group"].parse(
                {"name": group, "members": members}, t))}


def access(fs: dict[str, Fact], **policy: Any) -> SystemAccess:
    got = system_access(Target("win", Platform.WINDOWS, freeze({}), freeze(policy)), fs)
    assert got is not None
    return got


def row(a: Account) -> tuple:
    return (a.type.value, a.type_reason, a.enabled, a.locked, [(g.privilege, g.why) for g in a.grants], a.groups,
            a.last_logon_known)


ACCOUNTS = [local("Admin-Renamed", 500, last=when(1), set_=when(30)), local("Guest", 501, enabled=False),
            local("DefaultAccount", 503, enabled=False), local("WDAGUtilityAccount", 504, enabled=False),
            local("jdoe", 1001, last=when(200), set_=when(400)), local("svc-hplc", 1002, set_=when(10)),
            local("training1", 1003)]
MEMBERS = [member("PC\\Admin-Renamed", f"{SID}500"), member("PC\\jdoe", f"{SID}1001"),
           member("EX\\Lab-Admins", "S-1-5-21-1-2-3-1607", "group", False),
           member("EX\\alice", "S-1-5-21-1-2-3-1105", "user", False),
           member("PC\\Helpdesk", f"{SID}1010", "group", True)]
ADMIN = "direct member of the local Administrators group Administrators (S-1-5-32-544) as "


def test_every_local_account_builtins_by_rid_and_who_is_administrator_and_why():
    got = access(facts(ACCOUNTS, MEMBERS), service_accounts=["svc-hplc"])
    assert got.ok, got.error
    rows = {a.name: row(a) for a in got.accounts}
    assert rows == {
        "Admin-Renamed": ("builtin", "the built-in Administrator (RID 500)", True, None,
                          [("local Administrators", ADMIN + "PC\\Admin-Renamed")], ("Administrators",), True),
        "Guest": ("builtin", "the built-in Guest (RID 501)", False, None, [], (), True),
        "DefaultAccount": ("builtin", "DefaultAccount, managed by Windows (RID 503)", False, None, [], (), True),
        "WDAGUtilityAccount": ("builtin", "WDAGUtilityAccount, used by Windows Defender Application Guard "
                               "(RID 504)", False, None, [], (), True),
        "jdoe": ("person", "a named account not listed as service, shared or built-in", True, None,
                 [("local Administrators", ADMIN + "PC\\jdoe")], ("Administrators",), True),
        "svc-hplc": ("service", "listed in policy service_accounts", True, None, [], (), True),
        "training1": ("shared", "name matches shared_account_patterns 'training*'", True, None, [], (), True),
        "EX\\Lab-Admins": ("shared", "a domain group: every one of its members holds its rights", None, None,
                           [("local Administrators", "domain group EX\\Lab-Admins is a member of the local "
                             "Administrators group Administrators (S-1-5-32-544): each of its members is an "
                             "administrator of this host")], ("Administrators",), False),
        "EX\\alice": ("person", "a named account not listed as service, shared or built-in", None, None,
                      [("local Administrators", "direct member of the local Administrators group Administrators "
                        "(S-1-5-32-544) as EX\\alice")], ("Administrators",), False),
        "PC\\Helpdesk": ("shared", "a local group: every one of its members holds its rights", None, None,
                         [("local Administrators", "group PC\\Helpdesk is a member of the local Administrators "
                           "group Administrators (S-1-5-32-544): each of its members is an administrator of this "
                           "host")], ("Administrators",), False),
    }
    by = {a.name: a for a in got.accounts}
    assert by["jdoe"].id == f"{SID}1001" and by["EX\\Lab-Admins"].id == "S-1-5-21-1-2-3-1607"
    assert by["jdoe"].last_logon == NOW - timedelta(days=200)
    assert by["jdoe"].password_changed == NOW - timedelta(days=400)
    assert (by["svc-hplc"].last_logon, by["svc-hplc"].last_logon_known) == (None, True)  # never logged on
    assert by["jdoe"].evidence == ("windows.local_accounts", "windows.admin_group")
    assert got.notes == (
        "EX\\Lab-Admins (S-1-5-21-1-2-3-1607) is a group in the local Administrators group: its members are not "
        "listed here (for a domain group, see the directory's access list)",
        f"PC\\Helpdesk ({SID}1010) is a group in the local Administrators group: its members are not listed here "
        "(for a domain group, see the directory's access list)")


def test_a_localised_administrators_group_and_renamed_guest_are_found_by_sid_and_rid():
    got = access(facts([local("Gast", 501), local("Verwalter", 500)], [member("PC\\Verwalter", f"{SID}500")],
                       group="Administratoren"))
    rows = {a.name: (a.type_reason, [g.why for g in a.grants]) for a in got.accounts}
    assert rows == {"Gast": ("the built-in Guest (RID 501)", []),
                    "Verwalter": ("the built-in Administrator (RID 500)", [
                        "direct member of the local Administrators group Administratoren (S-1-5-32-544) as "
                        "PC\\Verwalter"])}


HOSTILE = ["=cmd|' /C calc'!A0", 'say"hi', "com,ma", "\x1b[31mred\x1b[0m", "new\nline", "@SUM(1)", "+x", "-y"]


def test_hostile_names_survive_unchanged():
    accounts = [local(n, 2000 + i) for i, n in enumerate(HOSTILE)]
    got = access(facts(accounts, [member(f"PC\\{HOSTILE[0]}", f"{SID}2000")]))
    assert [a.name for a in got.accounts] == HOSTILE
    assert got.accounts[0].grants[0].why == ADMIN + "PC\\" + HOSTILE[0]


def test_shared_sids_are_noted():
    got = access(facts([local("lab", 1001), local("LAB", 1001)], []))
    assert got.notes == (f"accounts lab, LAB share the SID {SID.upper()}1001",)


@pytest.mark.parametrize("broken", ["windows.local_accounts", "windows.admin_group"])
def test_a_broken_required_fact_makes_the_system_error(broken):
    fs = facts(ACCOUNTS, MEMBERS)
    fs[broken] = Fact.failed(broken, "Access is denied")
    got = access(fs)
    assert (got.error, got.accounts) == (f"{broken}: Access is denied", ())


# ---- a whole scan of the WS-Management responder replaying the recorded profiles


@pytest.fixture()
def password_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


@pytest.fixture()
def responder_of(pki: Pki, password_env: None) -> Iterator[Any]:  # noqa: F811
    started: list[WSManResponder] = []

    def start(profile: str) -> Target:
        r = WSManResponder(reply_for(profile), tls=True, users={USER: PASSWORD}, directory=pki.directory,
                           ca=pki.ca, cert=pki.cert)
        started.append(r.__enter__())
        return Target(name=profile, type=Platform.WINDOWS, policy=freeze({}), options=freeze({
            "host": r.host, "port": r.port, "user": USER, "password_env": PASSWORD_ENV, "scheme": "https",
            "ca_file": str(pki.ca.cert)}))
    yield start
    for r in started:
        r.__exit__(None, None, None)


@pytest.mark.lab
def test_the_weak_and_hardened_profiles_through_a_real_winrm_scan(responder_of):
    weak = scan_target(responder_of("weak"), [], {}, access=True).access
    assert weak is not None and weak.ok, weak and weak.error
    admin = "direct member of the local Administrators group Administrators (S-1-5-32-544) as HPLC-PC07\\"
    assert {a.name: (a.type.value, a.enabled, [g.why for g in a.grants]) for a in weak.accounts} == {
        "Administrator": ("builtin", True, [admin + "Administrator"]),
        "Guest": ("builtin", True, []),
        "lab": ("shared", True, [admin + "lab"]),
        "LAB": ("shared", True, [admin + "lab"]),
        "EX\\Domain Users": ("shared", None, [
            "domain group EX\\Domain Users is a member of the local Administrators group Administrators "
            "(S-1-5-32-544): each of its members is an administrator of this host"]),
    }
    lab = next(a for a in weak.accounts if a.name == "LAB")
    assert lab.last_logon is not None and 499 <= (datetime.now(timezone.utc) - lab.last_logon).days <= 500
    hardened = scan_target(responder_of("hardened-2022"), [], {}, access=True).access
    assert hardened is not None and hardened.ok
    assert {a.name: (a.type.value, a.enabled, [g.privilege for g in a.grants]) for a in hardened.accounts} == {
        "lims-admin-7f3": ("builtin", False, ["local Administrators"]), "Guest": ("builtin", False, []),
        "svc-backup": ("person", True, []), "DefaultAccount": ("builtin", False, []),
        "EX\\LIMS-Server-Admins": ("shared", None, ["local Administrators"])}
