"""checks.windows.accounts on small hand-built facts: every verdict with its exact words and observed values."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from checks.windows import accounts as ca
from scanner.facts import windows as wf
from scanner.facts.windows import RDP_TCP, SYSTEM_POLICIES, TERMINAL_SERVER, TS_POLICIES
from scanner.model import Finding
from tests.checks.windows.factories import NOW, account, accounts, registry, seen

SID = "S-1-5-21-7-8-9-"
ADMIN = account("Administrator", 500, enabled=False)
GUEST = account("Gast", 501, enabled=False)
ALICE = account("alice", 1001)


@pytest.mark.parametrize(("local", "want"), [
    (accounts(ADMIN, ALICE), ("error", "Guest (RID 501)",
                              "no local account with RID 501 in the account list: cannot judge", {})),
    (accounts(ADMIN, account("Gast", 501), ALICE), ("fail", "Gast", f"the Guest account Gast ({SID}501) is enabled",
                                                    {"sid": f"{SID}501"})),
    (accounts(ADMIN, GUEST, ALICE), ("pass", "Gast", "the Guest account is disabled", {"sid": f"{SID}501"})),
])
def test_guest_disabled_finds_rid_501_whatever_its_name(local: wf.LocalAccounts, want: tuple[Any, ...]) -> None:
    assert seen(ca.guest_disabled(local)) == want


def _admin(name: str, enabled: bool) -> dict[str, Any]:
    return {"name": name, "sid": f"{SID}500", "enabled": enabled}


@pytest.mark.parametrize(("admin", "names", "want"), [
    (None, None, ("error", "Administrator (RID 500)",
                  "no local account with RID 500 in the account list: cannot judge", {})),
    (ADMIN, None, ("pass", "Administrator", "the built-in Administrator is disabled", _admin("Administrator", False))),
    (account("ADMINISTRATEUR", 500), None, ("fail", "ADMINISTRATEUR", "the built-in Administrator is enabled under "
                                            "its default name ADMINISTRATEUR", _admin("ADMINISTRATEUR", True))),
    (account("Rendszergazda", 500), None, ("fail", "Rendszergazda", "the built-in Administrator is enabled under its "
                                           "default name Rendszergazda", _admin("Rendszergazda", True))),
    (account("lims-root", 500), None, ("pass", "lims-root", "the built-in Administrator is enabled but renamed to "
                                       "lims-root", _admin("lims-root", True))),
    # the policy's own list of default names replaces the built-in one, compared case-insensitively
    (account("Administrator", 500), ("Root",), ("pass", "Administrator", "the built-in Administrator is enabled but "
                                                "renamed to Administrator", _admin("Administrator", True))),
    (account("root", 500), ("Root",), ("fail", "root", "the built-in Administrator is enabled under its default name "
                                       "root", _admin("root", True))),
])
def test_builtin_admin_is_rid_500_disabled_or_renamed(admin: wf.LocalAccount | None, names: tuple[str, ...] | None,
                                                       want: tuple[Any, ...]) -> None:
    local = accounts(*([admin] if admin else []), GUEST, ALICE)
    got = ca.builtin_admin(local) if names is None else ca.builtin_admin(local, builtin_admin_default_names=names)
    assert seen(got) == want


BUILTIN = wf.AdminMember("PC\\Administrator", f"{SID}500", "user", True)
LAB = wf.AdminMember("PC\\lab", f"{SID}1001", "user", True)
DOMAIN_ADMINS = wf.AdminMember("EX\\Domain Admins", "S-1-5-21-4-5-6-512", "group", False)
DOMAIN_500 = wf.AdminMember("EX\\Administrator", "S-1-5-21-4-5-6-500", "user", False)  # a domain's RID 500
LIMS_ADMINS = wf.AdminMember("EX\\LIMS Admins", "S-1-5-21-4-5-6-1107", "group", False)
LOCAL_GROUP_500 = wf.AdminMember("PC\\odd", f"{SID}500", "group", True)  # only a local *user* 500 is built in
MEMBERS = ["PC\\Administrator (user)", "PC\\lab (user)", "EX\\Domain Admins (group, domain)",
           "EX\\Administrator (user, domain)"]


@pytest.mark.parametrize(("members", "approved", "want"), [
    ((BUILTIN, LAB, DOMAIN_ADMINS, DOMAIN_500), (), (
        "fail", "Administrators", "3 member(s) not approved: PC\\lab, EX\\Domain Admins, EX\\Administrator; groups "
        "whose members are administrators too: EX\\Domain Admins",
        {"not_allowed": ["PC\\lab", "EX\\Domain Admins", "EX\\Administrator"], "members": MEMBERS, "allowed": []})),
    # approved by name or by SID, case-insensitively; the built-in Administrator needs no approval
    ((BUILTIN, LAB, DOMAIN_ADMINS, DOMAIN_500), ("pc\\LAB", "s-1-5-21-4-5-6-512", "EX\\administrator"), (
        "pass", "Administrators", "all 4 member(s) are approved",
        {"members": MEMBERS, "allowed": ["pc\\LAB", "s-1-5-21-4-5-6-512", "EX\\administrator"]})),
    ((BUILTIN, LAB), ("PC\\lab",), ("pass", "Administrators", "all 2 member(s) are approved",
                                    {"members": MEMBERS[:2], "allowed": ["PC\\lab"]})),
    ((BUILTIN, LAB), (f"{SID}1001",), ("pass", "Administrators", "all 2 member(s) are approved",
                                       {"members": MEMBERS[:2], "allowed": [f"{SID}1001"]})),
    ((BUILTIN, LAB, DOMAIN_500), ("PC\\lab",), (
        "fail", "Administrators", "1 member(s) not approved: EX\\Administrator",
        {"not_allowed": ["EX\\Administrator"], "members": [MEMBERS[0], MEMBERS[1], MEMBERS[3]],
         "allowed": ["PC\\lab"]})),
    ((DOMAIN_ADMINS, LIMS_ADMINS), ("EX\\Domain Admins",), (
        "fail", "Administrators", "1 member(s) not approved: EX\\LIMS Admins; groups whose members are administrators "
        "too: EX\\LIMS Admins", {"not_allowed": ["EX\\LIMS Admins"], "members": [MEMBERS[2], "EX\\LIMS Admins (group, "
                                "domain)"], "allowed": ["EX\\Domain Admins"]})),
    ((DOMAIN_ADMINS, LIMS_ADMINS, LAB), (), (
        "fail", "Administrators", "3 member(s) not approved: EX\\Domain Admins, EX\\LIMS Admins, PC\\lab; groups "
        "whose members are administrators too: EX\\Domain Admins, EX\\LIMS Admins",
        {"not_allowed": ["EX\\Domain Admins", "EX\\LIMS Admins", "PC\\lab"],
         "members": [MEMBERS[2], "EX\\LIMS Admins (group, domain)", MEMBERS[1]], "allowed": []})),
    ((LOCAL_GROUP_500,), (), (
        "fail", "Administrators", "1 member(s) not approved: PC\\odd; groups whose members are administrators too: "
        "PC\\odd", {"not_allowed": ["PC\\odd"], "members": ["PC\\odd (group)"], "allowed": []})),
])
def test_local_admins_approval_by_name_or_sid_and_the_builtin_admin(
        members: tuple[wf.AdminMember, ...], approved: tuple[str, ...], want: tuple[Any, ...]) -> None:
    assert seen(ca.local_admins(wf.AdminGroup("Administrators", members), approved_privileged=approved)) == want


def test_local_admins_with_no_approval_list_by_default() -> None:
    assert seen(ca.local_admins(wf.AdminGroup("Administratoren", (BUILTIN,)))) == (
        "pass", "Administratoren", "all 1 member(s) are approved", {"members": MEMBERS[:1], "allowed": []})


NO_PASSWORD = accounts(account("zed", 1003, password_required=False), ALICE, account("bob", 1002,
                                                                                     password_required=False),
                       account("old", 1004, enabled=False, password_required=False))
NEVER_EXPIRE = accounts(account("svc-backup", 1003, password_expires=False), ALICE,
                        account("carol", 1002, password_expires=False),
                        account("old", 1004, enabled=False, password_expires=False))


@pytest.mark.parametrize(("check", "local", "allowed", "want"), [
    (ca.password_required, NO_PASSWORD, None, (
        "fail", "local accounts", "2 enabled local account(s) need no password: bob, zed",
        {"accounts": ["bob", "zed"]})),
    (ca.password_required, accounts(ALICE, account("old", 1004, enabled=False, password_required=False)), None, (
        "pass", "local accounts", "every enabled local account needs a password", {"accounts": [], "allowed": []})),
    (ca.password_never_expires, NEVER_EXPIRE, None, (
        "fail", "local accounts", "2 enabled local account(s) have passwords that never expire: carol, svc-backup",
        {"accounts": ["carol", "svc-backup"]})),
    (ca.password_never_expires, NEVER_EXPIRE, ("SVC-BACKUP",), (
        "fail", "local accounts", "1 enabled local account(s) have passwords that never expire: carol",
        {"accounts": ["carol"]})),
    (ca.password_never_expires, NEVER_EXPIRE, ("carol", "SVC-Backup"), (
        "pass", "local accounts", "every enabled local account's password expires",
        {"accounts": [], "allowed": ["SVC-Backup", "carol"]})),
])
def test_flagged_account_checks_name_enabled_accounts_less_the_allowed(
        check: Callable[..., Finding], local: wf.LocalAccounts, allowed: tuple[str, ...] | None,
        want: tuple[Any, ...]) -> None:
    got = check(local) if allowed is None else check(local, service_accounts=allowed)
    assert seen(got) == want


def _used(name: str, rid: int, logon_days: float | None, set_days: float | None) -> wf.LocalAccount:
    return account(name, rid, last_logon=None if logon_days is None else NOW - timedelta(days=logon_days),
                   password_last_set=None if set_days is None else NOW - timedelta(days=set_days))


@pytest.mark.parametrize(("account_days", "days", "stale"), [
    ((89.9, 400), None, False),  # the last logon counts, not the old password
    ((90.1, 1), None, True),  # an old last logon is stale even with a new password
    ((None, 89.9), None, False),  # never logged on: the password's age counts
    ((None, 90.1), None, True),
    ((None, None), None, True),  # nothing dates it
    ((29.9, 1), 30, False),
    ((30.1, 1), 30, True),
])
def test_stale_counts_the_last_logon_else_the_password_age(account_days: tuple[float | None, float | None],
                                                           days: int | None, stale: bool) -> None:
    local = accounts(ALICE, _used("dave", 1002, *account_days),
                     account("old", 1004, enabled=False, last_logon=None, password_last_set=None))
    got = ca.stale(local) if days is None else ca.stale(local, stale_account_days=days)
    limit = days or 90
    if stale:
        assert seen(got) == ("fail", "local accounts", f"1 enabled local account(s) not used for more than {limit} "
                             "days: dave", {"accounts": ["dave"]})
    else:
        assert seen(got) == ("pass", "local accounts", f"every enabled local account was used within {limit} days",
                             {"accounts": [], "allowed": []})


@pytest.mark.parametrize(("local", "want"), [
    (accounts(ADMIN, GUEST, ALICE), ("pass", "local accounts", "3 local accounts, all names and SIDs unique",
                                     {"duplicates": []})),
    (accounts(ADMIN, GUEST, ALICE, account("bob", 1002, sid=f"{SID.lower()}1001"), account("Alice", 1003),
              account("carol", 1004)), (
        "fail", "local accounts", f"duplicated: SID {SID}1001: alice, bob; name alice: {SID}1001, {SID}1003",
        {"duplicates": [f"SID {SID}1001: alice, bob", f"name alice: {SID}1001, {SID}1003"]})),
])
def test_unique_ids_compares_sids_and_names_ignoring_case(local: wf.LocalAccounts, want: tuple[Any, ...]) -> None:
    assert seen(ca.unique_ids(local)) == want


def _uac(lua: int | None, consent: int | None) -> wf.Registry:
    return registry({(SYSTEM_POLICIES, "EnableLUA"): lua, (SYSTEM_POLICIES, "ConsentPromptBehaviorAdmin"): consent})


UAC_OK = "UAC is on and prompts administrators on the secure desktop"


@pytest.mark.parametrize(("lua", "consent", "status", "message"), [
    (1, 1, "pass", UAC_OK),
    (1, 2, "pass", UAC_OK),
    (1, 0, "fail", "ConsentPromptBehaviorAdmin = 0 (want 1 or 2)"),
    (1, 3, "fail", "ConsentPromptBehaviorAdmin = 3 (want 1 or 2)"),
    (1, 5, "fail", "ConsentPromptBehaviorAdmin = 5 (want 1 or 2)"),
    (0, 2, "fail", "EnableLUA = 0 (want 1)"),
    (2, 2, "fail", "EnableLUA = 2 (want 1)"),
    (None, None, "fail", "EnableLUA is not set (want 1); ConsentPromptBehaviorAdmin is not set (want 1 or 2)"),
])
def test_uac_needs_admin_approval_mode_and_a_prompt(lua: int | None, consent: int | None, status: str,
                                                    message: str) -> None:
    assert seen(ca.uac(_uac(lua, consent))) == (status, "User Account Control", message,
                                                {"EnableLUA": lua, "ConsentPromptBehaviorAdmin": consent})


@pytest.mark.parametrize(("seconds", "limit", "status"), [
    (900, None, "pass"), (1, None, "pass"), (901, None, "fail"), (0, None, "fail"), (None, None, "fail"),
    (600, 600, "pass"), (601, 600, "fail"),
])
def test_idle_lock_is_set_and_at_most_the_limit(seconds: int | None, limit: int | None, status: str) -> None:
    reg = registry({(SYSTEM_POLICIES, "InactivityTimeoutSecs"): seconds})
    got = ca.idle_lock(reg) if limit is None else ca.idle_lock(reg, idle_timeout_seconds=limit)
    want = limit or 900
    message = "idle sessions lock in time" if status == "pass" else \
        f"InactivityTimeoutSecs {'is not set' if seconds is None else f'= {seconds}'} (want 1 to {want} seconds)"
    assert seen(got) == (status, "machine inactivity limit", message, {"limit": want, "InactivityTimeoutSecs": seconds})


def _rdp(**values: int | None) -> wf.Registry:
    """Remote Desktop settings: policy_X for the Group Policy key, local_X for RDP-Tcp, deny/policy_deny."""
    where = {"policy": TS_POLICIES, "local": RDP_TCP}
    given: dict[tuple[str, str], int | None] = {}
    for k, v in values.items():
        if k == "deny":
            given[(TERMINAL_SERVER, "fDenyTSConnections")] = v
        elif k == "policy_deny":
            given[(TS_POLICIES, "fDenyTSConnections")] = v
        else:
            scope, name = k.split("_", 1)
            given[(where[scope], name)] = v
    return registry(given)


@pytest.mark.parametrize(("values", "want"), [
    ({"policy_deny": 1, "local_UserAuthentication": 0}, (
        "not_applicable", "Remote Desktop", f"Remote Desktop connections are denied ({TS_POLICIES}\\fDenyTSConnections "
        "= 1)", {})),
    ({"deny": 1}, ("not_applicable", "Remote Desktop", "Remote Desktop connections are denied "
                   f"({TERMINAL_SERVER}\\fDenyTSConnections = 1)", {})),
    ({"policy_deny": 0, "deny": 1, "local_UserAuthentication": 1}, (  # the policy allows it: judged
        "pass", "Remote Desktop", f"Network Level Authentication is required ({RDP_TCP}\\UserAuthentication = 1)",
        {"value": 1})),
    ({"deny": 2, "policy_UserAuthentication": 1, "local_UserAuthentication": 0}, (
        "pass", "Remote Desktop", f"Network Level Authentication is required ({TS_POLICIES}\\UserAuthentication = 1)",
        {"value": 1})),
    ({"policy_UserAuthentication": 0, "local_UserAuthentication": 1}, (
        "fail", "Remote Desktop", "Network Level Authentication is not required "
        f"({TS_POLICIES}\\UserAuthentication = 0)", {"value": 0})),
    ({"local_UserAuthentication": 2}, (
        "fail", "Remote Desktop", f"Network Level Authentication is not required ({RDP_TCP}\\UserAuthentication = 2)",
        {"value": 2})),
    ({}, ("fail", "Remote Desktop", f"Network Level Authentication is not required ({RDP_TCP}\\UserAuthentication = "
          "None)", {"value": None})),
])
def test_nla_policy_first_and_not_applicable_when_rdp_is_denied(values: dict[str, int | None],
                                                                 want: tuple[Any, ...]) -> None:
    assert seen(ca.nla(_rdp(**values))) == want
