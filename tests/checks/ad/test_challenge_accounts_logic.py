"""The Active Directory intrusive challenges (checks/ad/challenge_accounts.py) hand the shared flows
(checks/ldap/challenge_flows.py, whose logic tests are tests/checks/ldap/test_challenge_flows_logic.py) the AD lock
model and flavour and their own defaults. Without a server: the probes are the in-memory directory of
tests/checks/ldap/fake_directory.py; tests/checks/ad/test_challenge_ad.py proves them against Samba AD.
"""
from __future__ import annotations

from typing import Any

import pytest

from checks.ad.challenge_accounts import ad_lockout, ad_password_change
from scanner.challenge import ChallengeContext
from scanner.model import Platform, Status, Target, freeze
from scanner.probes.ldap import Flavor
from tests.checks.ldap.fake_directory import FakeDirectory

DN = "CN=gxptest,CN=Users,DC=ad,DC=lab,DC=test"


def context(monkeypatch: pytest.MonkeyPatch) -> ChallengeContext:
    monkeypatch.setenv("GXP_AD_ACCOUNTS_LOGIC_PW", "Right-Pw-1234")
    return ChallengeContext(Target(name="dc-01", type=Platform.LDAP, policy=freeze({}), options=freeze({
        "url": "ldaps://dc1.ad.lab.test", "challenge_account": DN,
        "challenge_password_env": "GXP_AD_ACCOUNTS_LOGIC_PW"})))


def test_the_lockout_defaults_to_five_wrong_binds_and_sets_lockout_time_to_zero(
        monkeypatch: pytest.MonkeyPatch) -> None:
    d = FakeDirectory(flavor="ad", account=DN, lock_after=5).install(monkeypatch)
    ctx = context(monkeypatch)
    (finding,) = ad_lockout(ctx)
    assert (finding.status, finding.observed["wrong_attempts"]) == (Status.PASS, 5)
    assert finding.message.endswith("lockoutTime is greater than 0")
    assert ctx.steps[-3].action == f"as the scan's account: set lockoutTime to 0 on {DN}"
    assert [c[0] for c in d.calls].count("bind") == 7 and not d.locked()


def test_the_password_change_defaults_to_twelve_characters_the_ad_way(monkeypatch: pytest.MonkeyPatch) -> None:
    d = FakeDirectory(flavor="ad", account=DN).install(monkeypatch)
    ctx = context(monkeypatch)
    findings: list[Any] = ad_password_change(ctx)
    assert [f.status for f in findings] == [Status.PASS, Status.NOT_APPLICABLE]
    assert findings[0].observed["password_min_length"] == 12
    assert findings[1].message.endswith("LDAP shows only the account's pwdLastSet and badPwdCount")
    assert [(c[2], c[5]) for c in d.calls if c[0] == "change_own_password"] == [
        (Flavor.AD, "Right-Pw-1234"), (Flavor.AD, "Gx9!qwertzu")]
