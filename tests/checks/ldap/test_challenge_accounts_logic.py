"""The OpenLDAP intrusive challenges (checks/ldap/challenge_accounts.py) hand the shared flows
(checks/ldap/challenge_flows.py, whose logic tests are test_challenge_flows_logic.py) the OpenLDAP lock model and
flavour and their own defaults. Without a server: the probes are the in-memory directory of
tests/checks/ldap/fake_directory.py; tests/checks/ldap/test_challenge_directory.py proves them against slapd.
"""
from __future__ import annotations

from typing import Any

import pytest

from checks.ldap.challenge_accounts import ldap_lockout, ldap_password_change
from scanner.challenge import ChallengeContext
from scanner.model import Platform, Status, Target, freeze
from scanner.probes.ldap import Flavor
from tests.checks.ldap.fake_directory import FakeDirectory

DN = "uid=gxptest,ou=people,dc=lab,dc=test"


def context(monkeypatch: pytest.MonkeyPatch) -> ChallengeContext:
    monkeypatch.setenv("GXP_ACCOUNTS_LOGIC_PW", "Right-Pw-1234")
    return ChallengeContext(Target(name="dir-01", type=Platform.LDAP, policy=freeze({}), options=freeze({
        "url": "ldaps://dir.lab.test", "challenge_account": DN, "challenge_password_env": "GXP_ACCOUNTS_LOGIC_PW"})))


def test_the_lockout_defaults_to_five_wrong_binds_and_deletes_pwd_account_locked_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    d = FakeDirectory(account=DN, lock_after=5).install(monkeypatch)
    ctx = context(monkeypatch)
    (finding,) = ldap_lockout(ctx)
    assert (finding.status, finding.observed["wrong_attempts"]) == (Status.PASS, 5)
    assert finding.message.endswith("pwdAccountLockedTime is set")
    assert ctx.steps[-3].action == f"as the scan's account: delete pwdAccountLockedTime on {DN}"
    assert [c[0] for c in d.calls].count("bind") == 7 and not d.locked()


def test_the_password_change_defaults_to_twelve_characters_the_openldap_way(monkeypatch: pytest.MonkeyPatch) -> None:
    d = FakeDirectory(account=DN, contexts=()).install(monkeypatch)
    ctx = context(monkeypatch)
    findings: list[Any] = ldap_password_change(ctx)
    assert [f.status for f in findings] == [Status.PASS, Status.NOT_APPLICABLE]
    assert findings[0].observed["password_min_length"] == 12
    assert [(c[2], c[5]) for c in d.calls if c[0] == "change_own_password"] == [
        (Flavor.OPENLDAP, "Right-Pw-1234"), (Flavor.OPENLDAP, "Gx9!qwertzu")]
