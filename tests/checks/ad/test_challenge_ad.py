"""The LDAP and Active Directory challenges against real Samba domain controllers (tests/lab/sambalab.py).

Safe challenges on the session's compliant and weak domains. The intrusive ones, and the unsigned-bind case, on a
domain controller of this module's own: a copy of the compliant domain (from the lab's cache) started with
``ldap server require strong auth = no``, with test accounts under two Password Settings Objects (strict: the
domain's rules without a minimum age; weak: no lockout, no history, 4 characters), and a plain user as a scan
account without write rights. Every intrusive test proves no other account's state changed.
"""
from __future__ import annotations

import logging

import ldap3
import pytest

from checks.ad.challenge_accounts import ad_lockout, ad_password_change
from checks.ad.challenge_signing import ldap_signing_required
from checks.ldap.challenge_accounts import ldap_lockout
from checks.ldap.challenge_transport import anonymous_refused, plaintext_bind_refused
from scanner.challenge import ChallengeOutcome, challenge_spec_of, run_challenge
from scanner.connectors.ldap import verified_tls
from scanner.model import Platform, Status, Target
from tests.checks.ldap.test_challenge_directory import lockout_compliant
from tests.lab import sambalab, slapdlab

pytestmark = pytest.mark.lab

TEST_PW = "Chall3nge-AD-Pw-91c3e"  # planted: the tests prove it appears in no step, finding or log
READER_PW = "Read3r-Only-AD-Pw-2b77"
PW_ENV = "GXP_C12DIR_AD_TEST_PW"
READER_ENV = "GXP_C12DIR_AD_READER_PW"
#: the account state compared before and after, for every account but the test account
STATE = ["badPwdCount", "badPasswordTime", "lockoutTime", "pwdLastSet", "userAccountControl",
         "msDS-User-Account-Control-Computed"]


def _interval(minutes: int) -> str:
    return str(sambalab.interval(minutes))


def _pso(name: str, precedence: int, min_len: int, history: int, lockout: int, complexity: bool,
         applies_to: list[str]) -> dict:
    return {"objectClass": "msDS-PasswordSettings", "msDS-PasswordSettingsPrecedence": str(precedence),
            "msDS-PasswordReversibleEncryptionEnabled": "FALSE", "msDS-PasswordHistoryLength": str(history),
            "msDS-PasswordComplexityEnabled": "TRUE" if complexity else "FALSE",
            "msDS-MinimumPasswordLength": str(min_len), "msDS-MinimumPasswordAge": "0",
            "msDS-MaximumPasswordAge": _interval(90 * 1440), "msDS-LockoutThreshold": str(lockout),
            "msDS-LockoutObservationWindow": _interval(30), "msDS-LockoutDuration": _interval(30),
            "msDS-PSOAppliesTo": applies_to}


class DC:
    """This module's domain controller and an administrator connection to it."""

    def __init__(self, dc: sambalab.SambaDC, ca: slapdlab.CA):
        self.dc, self.ca = dc, ca
        base = dc.profile.base_dn
        self.base = base
        self.users = f"CN=Users,{base}"
        self.strict, self.weak, self.failing, self.reader = (
            f"CN={n},CN=Users,{base}" for n in ("gxptest", "gxpweak", "gxpfail", "gxpreader"))

    def admin(self) -> ldap3.Connection:
        tls = verified_tls(self.dc.ip, str(self.ca.cert))  # ldap3's own name check refuses IP SANs from 3.12 on
        conn = ldap3.Connection(ldap3.Server(self.dc.ip, port=636, use_ssl=True, tls=tls),
                                user=self.dc.admin_upn, password=sambalab.ADMIN_PASSWORD)
        assert conn.bind(), conn.result
        return conn

    def populate(self) -> None:
        conn = self.admin()
        try:
            for dn, pw in ((self.strict, TEST_PW), (self.weak, TEST_PW), (self.failing, TEST_PW),
                           (self.reader, READER_PW)):
                name = dn.split(",")[0][3:]
                assert conn.add(dn, "user", {"sAMAccountName": name, "userPrincipalName": f"{name}@c12.test",
                                             "unicodePwd": f'"{pw}"'.encode("utf-16-le"),
                                             "userAccountControl": "512"}), conn.result
            container = f"CN=Password Settings Container,CN=System,{self.base}"
            for name, args in (("gxp-strict", (1, 14, 24, 5, True, [self.strict, self.failing])),
                               ("gxp-weak", (2, 4, 0, 0, False, [self.weak]))):
                assert conn.add(f"CN={name},{container}", attributes=_pso(name, *args)), conn.result
        finally:
            conn.unbind()

    def accounts(self) -> dict[str, dict]:
        conn = self.admin()
        try:
            conn.search(self.users, "(objectClass=user)", attributes=STATE)
            return {e.entry_dn: dict(e.entry_raw_attributes) for e in conn.entries}
        finally:
            conn.unbind()

    def target(self, account: str, *, reader: bool = False, **policy) -> Target:
        opts = {"url": self.dc.ldaps_url, "ca_file": str(self.ca.cert), "timeout": 10,
                "bind_dn": self.reader if reader else self.dc.admin_upn,
                "password_env": READER_ENV if reader else sambalab.PASSWORD_ENV,
                "challenge_account": account, "challenge_password_env": PW_ENV}
        return Target(name="ad-c12dir", type=Platform.LDAP, options=opts, policy=policy)


@pytest.fixture(scope="module")
def dc(samba_lab, tmp_path_factory):
    own = sambalab.SambaDC(sambalab.GOOD, tmp_path_factory.mktemp("c12dir-dc") / "good", sambalab.claim_net(),
                           claimed=True)
    try:
        own.provision(samba_lab.ca, cache=sambalab.cache_root())
        conf = own.directory / "etc" / "smb.conf"
        lines = conf.read_text().splitlines()
        lines.insert(lines.index("[global]") + 1, "\tldap server require strong auth = no")
        conf.write_text("\n".join(lines) + "\n")
        own.start()
        lab = DC(own, samba_lab.ca)
        lab.populate()
        yield lab
    finally:
        own.stop()


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv(PW_ENV, TEST_PW)
    monkeypatch.setenv(READER_ENV, READER_PW)


def run(func, tgt: Target, plan: bool = False) -> ChallengeOutcome:
    return run_challenge(challenge_spec_of(func), tgt, plan=plan)


def assert_secret_absent(out: ChallengeOutcome, caplog) -> None:
    text = repr(out.steps) + repr(out.findings) + caplog.text
    assert TEST_PW not in text and READER_PW not in text and sambalab.ADMIN_PASSWORD not in text


def others(accounts: dict[str, dict], test_account: str) -> dict[str, dict]:
    return {dn: a for dn, a in accounts.items() if dn != test_account}


# -- safe ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["good", "weak"])
def test_safe_challenges_pass_on_both_lab_domains(samba_lab, which):
    """Samba refuses anonymous searches and unsigned cleartext binds by default, on both domains."""
    tgt = samba_lab.target(which)
    anon = run(anonymous_refused, tgt)
    assert [f.status for f in anon.findings] == [Status.PASS]
    assert [s.ok for s in anon.steps] == [True, False, True]  # AD accepts the anonymous bind, then shows nothing
    assert anon.findings[0].message.startswith("the anonymous bind is accepted but gives no access")
    for func in (plaintext_bind_refused, ldap_signing_required):
        out = run(func, tgt)
        assert [f.status for f in out.findings] == [Status.PASS]
        assert [s.ok for s in out.steps] == [True, True] and "strongerAuthRequired (8)" in out.steps[1].actual
        assert f"ldap://{samba_lab.dcs[which].ip}:389 (no TLS)" in out.steps[1].sent


def test_signing_not_required_fails(dc):
    tgt = dc.target(dc.strict)
    for func in (plaintext_bind_refused, ldap_signing_required):
        out = run(func, tgt)
        assert [f.status for f in out.findings] == [Status.FAIL]
        assert [s.ok for s in out.steps] == [True, False] and "invalidCredentials (49)" in out.steps[1].actual


def test_the_signing_challenge_is_not_applicable_on_openldap(slapd_lab):
    out = run(ldap_signing_required, slapd_lab.target("good"))
    assert [f.status for f in out.findings] == [Status.NOT_APPLICABLE] and len(out.steps) == 1
    assert out.findings[0].message == "applies to Active Directory; this directory is openldap"


def test_the_openldap_lockout_is_not_applicable_on_ad_and_touches_nothing(dc):
    before = dc.accounts()
    out = run(ldap_lockout, dc.target(dc.strict))
    assert [f.status for f in out.findings] == [Status.NOT_APPLICABLE] and len(out.steps) == 1
    assert dc.accounts() == before


# -- intrusive -----------------------------------------------------------------------------------------------------
def test_lockout_locks_then_unlocks_and_touches_no_other_account(dc, caplog):
    caplog.set_level(logging.DEBUG)
    before = dc.accounts()
    out = run(ad_lockout, dc.target(dc.strict, lockout_threshold=5))
    assert [f.status for f in out.findings] == [Status.PASS], out.findings
    assert [(s.action, s.ok, s.cleanup) for s in out.steps] == lockout_compliant(
        dc.dc.ldaps_url, dc.strict, "lockoutTime, badPwdCount", "set lockoutTime to 0")
    assert out.steps[8].actual.startswith("locked: lockoutTime=") and "badPwdCount=5" in out.steps[8].actual
    after = dc.accounts()
    assert others(after, dc.strict) == others(before, dc.strict)
    assert after[dc.strict]["lockoutTime"] == [b"0"]
    assert_secret_absent(out, caplog)


def test_no_lockout_is_a_fail_with_at_most_threshold_plus_one_attempts(dc):
    before = dc.accounts()
    out = run(ad_lockout, dc.target(dc.weak, lockout_threshold=3))
    assert [f.status for f in out.findings] == [Status.FAIL]
    binds = [s.ok for s in out.steps if s.action.startswith(f"simple bind as {dc.weak}") and not s.cleanup]
    assert binds == [True, True, True, False] and [s.ok for s in out.steps if s.cleanup] == [True, True, True]
    assert others(dc.accounts(), dc.weak) == others(before, dc.weak)


def test_a_failed_unlock_is_an_error_that_says_what_to_restore(dc, caplog):
    """The scan's account is a plain user: it reads lockoutTime but may not write it; the account stays locked."""
    out = run(ad_lockout, dc.target(dc.failing, reader=True, lockout_threshold=5))
    try:
        assert [f.status for f in out.findings] == [Status.ERROR]
        assert out.findings[0].message.startswith(f"clean-up failed, restore by hand: unlock {dc.failing} as a "
                                                  "domain administrator: set lockoutTime to 0")
        assert [s.ok for s in out.steps if s.cleanup] == [False, False, False]
        assert "insufficientAccessRights (50)" in out.steps[-3].actual
        assert int(dc.accounts()[dc.failing]["lockoutTime"][0]) > 0  # still locked, for real
        assert_secret_absent(out, caplog)
    finally:
        conn = dc.admin()
        conn.modify(dc.failing, {"lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])]})
        conn.unbind()


def test_password_change_refused_under_the_strict_pso(dc, caplog):
    caplog.set_level(logging.DEBUG)
    before = dc.accounts()
    out = run(ad_password_change, dc.target(dc.strict, password_min_length=12))
    assert [f.status for f in out.findings] == [Status.PASS, Status.NOT_APPLICABLE], out.findings
    assert "event 4723" in out.findings[1].message
    assert [(s.ok, s.cleanup) for s in out.steps] == [(True, False), (True, False), (True, False), (True, True)]
    assert "constraintViolation (19)" in out.steps[1].actual and "constraintViolation (19)" in out.steps[2].actual
    after = dc.accounts()
    assert others(after, dc.strict) == others(before, dc.strict)
    assert after[dc.strict]["pwdLastSet"] == before[dc.strict]["pwdLastSet"]  # the password never changed
    assert_secret_absent(out, caplog)


def test_password_change_accepted_under_the_weak_pso_is_a_fail_and_restored(dc, caplog):
    before = dc.accounts()
    out = run(ad_password_change, dc.target(dc.weak, password_min_length=12))
    assert [f.status for f in out.findings] == [Status.FAIL, Status.NOT_APPLICABLE]
    assert "a password of 11 characters" in out.findings[0].message
    assert [(s.ok, s.cleanup) for s in out.steps][2:] == [(False, False), (True, True), (True, True)]
    assert others(dc.accounts(), dc.weak) == others(before, dc.weak)
    assert_secret_absent(out, caplog)


def test_a_failed_password_restore_is_an_error_that_says_what_to_restore(dc):
    out = run(ad_password_change, dc.target(dc.weak, reader=True, password_min_length=12))
    try:
        assert [f.status for f in out.findings] == [Status.ERROR, Status.ERROR]
        assert out.findings[0].message.startswith(f"clean-up failed, restore by hand: as a domain administrator, "
                                                  f"reset the password of {dc.weak}")
        assert [s.ok for s in out.steps if s.cleanup] == [False, False]
    finally:
        conn = dc.admin()
        assert conn.modify(dc.weak, {"unicodePwd": [(ldap3.MODIFY_REPLACE, [f'"{TEST_PW}"'.encode("utf-16-le")])]})
        conn.unbind()


def test_the_ad_challenges_are_planned_without_a_connection():
    dead = Target(name="nowhere", type=Platform.LDAP, options={
        "url": "ldaps://192.0.2.1:636", "bind_dn": "Administrator@X.TEST", "challenge_account": "CN=t,DC=x"},
        policy={"lockout_threshold": 4})
    assert len(run(ad_lockout, dead, plan=True).steps) == 2 + 4 + 2 + 3
    assert len(run(ad_password_change, dead, plan=True).steps) == 4
    assert [s.planned for s in run(ldap_signing_required, dead, plan=True).steps] == [True, True]
