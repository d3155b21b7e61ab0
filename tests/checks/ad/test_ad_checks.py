"""AD check logic on facts built by small factories: thresholds, allow-lists, edge values, flavor gating."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from checks.ad import accounts, policy, privilege
from scanner.facts.ldap import (
    DirectoryInfo,
    DirectoryUser,
    GroupMember,
    Krbtgt,
    PasswordRules,
    PasswordSettingsObject,
    PrivilegedGroup,
)

NOW = datetime.now(timezone.utc)
NEVER, OFF = "password_never_expires", "disabled"
STRONG = PasswordRules(min_length=14, complexity=True, reversible_encryption=False, max_age_days=90, min_age_days=1,
                       history=24, lockout_threshold=5, lockout_duration_minutes=30, lockout_window_minutes=30)


def dse(flavor: str = "ad") -> DirectoryInfo:
    return DirectoryInfo(url="ldaps://dc1:636", flavor=flavor, flavor_source="root DSE", tls="ldaps",
                         certificate_validated=True, plaintext_allowed=False, bound_as="scanner@EX.TEST",
                         base_dn="DC=ex,DC=test", naming_contexts=("DC=ex,DC=test",), vendor="test")


def user(sam: str, *flags: str, last_logon_days: int | None = 1, created_days: int | None = 10) -> DirectoryUser:
    """An enabled user; ``flags`` names the DirectoryUser booleans to set (``disabled``, ...)."""
    return DirectoryUser(sam=sam, dn=f"CN={sam},CN=Users,DC=ex,DC=test", disabled="disabled" in flags,
                         password_never_expires="password_never_expires" in flags,
                         password_not_required="password_not_required" in flags,
                         reversible_encryption="reversible_encryption" in flags,
                         last_logon=NOW - timedelta(days=last_logon_days) if last_logon_days is not None else None,
                         pwd_last_set=NOW,
                         created=NOW - timedelta(days=created_days) if created_days is not None else None)


def statuses(findings) -> list[str]:
    findings = findings if isinstance(findings, list) else [findings]
    return [f.status.value for f in findings]


@pytest.mark.parametrize("change, status, words", [
    ({}, "pass", "meets"),
    ({"min_length": 8}, "fail", "minimum length 8 < 12"),
    ({"complexity": False}, "fail", "complexity not required"),
    ({"max_age_days": None}, "fail", "maximum age never > 90 days"),
    ({"max_age_days": 120}, "fail", "maximum age 120 days > 90 days"),
    ({"min_age_days": 0}, "fail", "minimum age 0 days < 1 days"),
    ({"history": 5}, "fail", "history 5 < 12"),
    ({"reversible_encryption": True}, "fail", "reversible encryption"),
])
def test_password_policy(change, status, words):
    got = policy.password_policy(dse(), replace(STRONG, **change))
    assert (got.status.value, words in got.message) == (status, True)


@pytest.mark.parametrize("change, status, words", [
    ({}, "pass", "lock out"),
    ({"lockout_threshold": 0}, "fail", "never lock out"),
    ({"lockout_threshold": 10}, "fail", "after 10 failures > 5"),
    ({"lockout_duration_minutes": 5}, "fail", "lasts 5 minutes < 15"),
    ({"lockout_duration_minutes": None}, "pass", "lock out"),  # locked until an administrator unlocks
    ({"lockout_window_minutes": 1}, "fail", "resets after 1 minutes < 15"),
])
def test_lockout_policy(change, status, words):
    got = policy.lockout_policy(dse(), replace(STRONG, **change))
    assert (got.status.value, words in got.message) == (status, True)


def test_thresholds_are_parameters():
    assert policy.password_policy(dse(), STRONG, password_min_length=16).status.value == "fail"
    assert policy.lockout_policy(dse(), replace(STRONG, lockout_threshold=10), lockout_threshold=10).status.value \
        == "pass"


def test_fine_grained_policies_one_finding_per_pso_with_targets():
    weak = PasswordSettingsObject("svc-weak", "CN=svc-weak", 5, replace(STRONG, min_length=4, lockout_threshold=0),
                                  ("CN=Service Accounts,CN=Users,DC=ex,DC=test",))
    strong = PasswordSettingsObject("admins", "CN=admins", 1, STRONG, ("CN=Domain Admins,CN=Users,DC=ex,DC=test",))
    got = policy.fine_grained_policies(dse(), (strong, weak))
    assert statuses(got) == ["pass", "fail"]
    assert "CN=Service Accounts" in got[1].message and "never lock out" in got[1].message
    assert statuses(policy.fine_grained_policies(dse(), ())) == ["pass"]


def test_krbtgt_age():
    old = Krbtgt("CN=krbtgt", NOW - timedelta(days=400))
    assert policy.krbtgt_password_age(dse(), old).status.value == "fail"
    assert policy.krbtgt_password_age(dse(), old, krbtgt_max_age_days=500).status.value == "pass"
    assert policy.krbtgt_password_age(dse(), Krbtgt("CN=krbtgt", None)).status.value == "error"


def test_never_expires_allow_list_and_disabled_accounts():
    users = (user("alice"), user("svc_sql", NEVER), user("bob", NEVER), user("old", NEVER, OFF))
    got = accounts.password_never_expires(dse(), users, service_accounts=("SVC_SQL",))
    assert [(f.status.value, f.resource) for f in got] == [("fail", "bob")]
    got = accounts.password_never_expires(dse(), users, service_accounts=("svc_sql", "bob"))
    assert statuses(got) == ["pass"] and got[0].observed["allowed"] == ("bob", "svc_sql")


def test_not_required_and_reversible():
    users = (user("alice"), user("nora", "password_not_required"), user("rita", "reversible_encryption"),
             user("gone", "password_not_required", OFF))
    assert [f.resource for f in accounts.password_not_required(dse(), users)] == ["nora"]
    got = accounts.reversible_encryption(dse(), STRONG, (), users)
    assert [(f.status.value, f.resource) for f in got] == [("fail", "rita")]
    got = accounts.reversible_encryption(dse(), replace(STRONG, reversible_encryption=True), (), (user("a"),))
    assert [(f.status.value, f.resource) for f in got] == [("fail", "domain DC=ex,DC=test")]
    assert statuses(accounts.reversible_encryption(dse(), STRONG, (), (user("a"),))) == ["pass"]


def test_stale_accounts_count_from_creation_when_never_used():
    users = (user("fresh"), user("stale", last_logon_days=200), user("never-new", last_logon_days=None),
             user("never-old", last_logon_days=None, created_days=365), user("off", OFF, last_logon_days=900))
    got = accounts.stale_accounts(dse(), users, stale_account_days=90)
    assert sorted(f.resource for f in got) == ["never-old", "stale"]
    assert statuses(accounts.stale_accounts(dse(), users, stale_account_days=400)) == ["pass"]


def test_shared_accounts_patterns_and_exceptions():
    users = (user("alice.smith"), user("Shared.Reception"), user("testuser1"), user("temp-off", OFF))
    got = accounts.shared_accounts(dse(), users)
    assert sorted(f.resource for f in got) == ["Shared.Reception", "testuser1"]
    got = accounts.shared_accounts(dse(), users, shared_account_exceptions=("shared.reception", "testuser1"))
    assert statuses(got) == ["pass"]
    assert statuses(accounts.shared_accounts(dse(), users, shared_account_patterns=("kiosk*",))) == ["pass"]


def test_privileged_groups_nested_members_against_approved_list():
    da = PrivilegedGroup("Domain Admins", "S-1-5-21-1-512", "CN=Domain Admins", (
        GroupMember("Administrator", "CN=Administrator", False, True),
        GroupMember("peter", "CN=peter", True, True)))
    empty = PrivilegedGroup("Backup Operators", "S-1-5-32-551", "CN=Backup Operators", ())
    got = privilege.privileged_groups(dse(), (da, empty), approved_privileged=("administrator",))
    assert statuses(got) == ["fail", "pass"]
    assert "peter (nested)" in got[0].message and got[0].observed["unapproved"] == ("peter",)
    assert statuses(privilege.privileged_groups(dse(), (da,), approved_privileged=("Administrator", "peter"))) == [
        "pass"]


#: Every AD check called with its directory facts left empty (None), as on a target where they were not collected.
EMPTY_FACT_CALLS = [
    lambda d: policy.password_policy(d, None),
    lambda d: policy.lockout_policy(d, None),
    lambda d: policy.fine_grained_policies(d, None),
    lambda d: policy.krbtgt_password_age(d, None),
    lambda d: accounts.password_never_expires(d, None),
    lambda d: accounts.password_not_required(d, None),
    lambda d: accounts.reversible_encryption(d, None, None, None),
    lambda d: accounts.stale_accounts(d, None),
    lambda d: accounts.shared_accounts(d, None),
    lambda d: privilege.privileged_groups(d, None),
]


@pytest.mark.parametrize("call", EMPTY_FACT_CALLS)
def test_ad_checks_are_not_applicable_on_openldap_with_the_reason(call):
    out = call(dse("openldap"))
    (got,) = out if isinstance(out, list) else [out]
    assert got.status.value == "not_applicable"
    assert "this target is OpenLDAP" in got.message


def test_stale_account_with_no_readable_date_is_an_error():
    """Before, an enabled account with neither lastLogonTimestamp nor whenCreated readable was skipped: a pass."""
    users = (user("fresh"), user("blind", last_logon_days=None, created_days=None),
             user("blind-off", OFF, last_logon_days=None, created_days=None))
    got = accounts.stale_accounts(dse(), users)
    assert [(f.status.value, f.resource) for f in got] == [("error", "blind")]
    assert "neither lastLogonTimestamp nor whenCreated is readable" in got[0].message


def test_privileged_group_members_through_their_primary_group_are_named_as_such():
    da = PrivilegedGroup("Domain Admins", "S-1-5-21-1-512", "CN=Domain Admins", (
        GroupMember("Administrator", "CN=Administrator", False, True),
        GroupMember("pam", "CN=pam", False, True, primary_group=True)))
    (got,) = privilege.privileged_groups(dse(), (da,), approved_privileged=("Administrator",))
    assert got.status.value == "fail" and "pam (direct, primary group)" in got.message


def test_forest_root_groups_seen_from_a_child_domain_are_not_applicable_with_the_reason():
    ea = PrivilegedGroup("Enterprise Admins", "S-1-5-21-1-519", "", (), held_by="DC=root,DC=test")
    (got,) = privilege.privileged_groups(dse(), (ea,))
    assert got.status.value == "not_applicable"
    assert got.message.startswith("Enterprise Admins lives in the forest root domain DC=root,DC=test")


@pytest.mark.parametrize("call", EMPTY_FACT_CALLS)
def test_an_empty_fact_on_an_ad_target_is_an_error(call):
    out = call(dse("ad"))
    (got,) = out if isinstance(out, list) else [out]
    assert got.status.value == "error" and "no value was collected" in got.message


def test_timestamps_in_the_future_are_errors_not_recent_use():
    """Before, a lastLogonTimestamp or krbtgt pwdLastSet ahead of now gave a negative age: a pass."""
    got = accounts.stale_accounts(dse(), (user("ahead", last_logon_days=-30),))
    assert [f.status.value for f in got] == ["error"] and "lies in the future" in got[0].message
    ahead = policy.krbtgt_password_age(dse(), Krbtgt("CN=krbtgt", NOW + timedelta(days=30)))
    assert ahead.status.value == "error" and "lies in the future" in ahead.message
