"""AD account checks: the cases mutation testing (docs/mutation.md) showed untested: the default and the boundary
of staleness, a user the check skips or cannot judge before one it judges, a clock a little ahead, each missing fact
of the reversible-encryption check on its own, and password settings objects."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from checks.ad import accounts
from scanner.facts.ldap import PasswordSettingsObject
from scanner.model import Finding
from tests.checks.ad.test_ad_checks import NOW, OFF, STRONG, dse, user


def _judged(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.resource, f.status.value) for f in findings]


@pytest.mark.parametrize("days, expected", [(90, "pass"), (91, "fail")])
def test_stale_accounts_default_to_90_days(days: int, expected: str) -> None:
    (f,) = accounts.stale_accounts(dse(), (user("u", last_logon_days=days),))
    assert f.status.value == expected
    assert f.observed.get("idle_days", "none") == (91 if expected == "fail" else "none")


def test_stale_accounts_limit_is_a_strict_bound() -> None:
    assert _judged(accounts.stale_accounts(dse(), (user("u", last_logon_days=30),), stale_account_days=30))[0][1] \
        == "pass"
    assert _judged(accounts.stale_accounts(dse(), (user("u", last_logon_days=31),), stale_account_days=30)) \
        == [("u", "fail")]


def test_a_skipped_or_unjudgeable_user_does_not_end_the_loop() -> None:
    users = (user("off", OFF, last_logon_days=900), user("blind", last_logon_days=None, created_days=None),
             user("ahead", last_logon_days=-30), user("stale", last_logon_days=200))
    assert _judged(accounts.stale_accounts(dse(), users)) == [("blind", "error"), ("ahead", "error"),
                                                             ("stale", "fail")]


def test_a_clock_a_little_ahead_is_recent_use() -> None:
    """Up to a day ahead (FUTURE_SLACK) is clock skew, read as just now; beyond it the timestamp is an error."""
    slightly = replace(user("skew"), last_logon=NOW + timedelta(hours=12))
    assert _judged(accounts.stale_accounts(dse(), (slightly,))) == [("users under DC=ex,DC=test", "pass")]


@pytest.mark.parametrize("missing", ["domain_policy", "password_settings_objects", "users"])
def test_reversible_encryption_is_an_error_when_any_fact_is_missing(missing: str) -> None:
    facts = {"domain_policy": STRONG, "password_settings_objects": (), "users": (user("a"),), missing: None}
    (f,) = accounts.reversible_encryption(dse(), **facts)
    assert f.status.value == "error" and "no value was collected" in f.message


def test_reversible_encryption_in_a_password_settings_object_fails() -> None:
    weak = PasswordSettingsObject("weak", "CN=weak", 1, replace(STRONG, reversible_encryption=True), ("CN=lab",))
    strong = PasswordSettingsObject("strong", "CN=strong", 2, STRONG, ("CN=admins",))
    got = accounts.reversible_encryption(dse(), STRONG, (strong, weak), (user("a"),))
    assert _judged(got) == [("PSO weak", "fail")] and got[0].observed["applies_to"] == ("CN=lab",)
