"""OpenLDAP and transport check logic on facts built by small factories."""
from __future__ import annotations

from dataclasses import replace

import pytest

from checks.ldap import openldap, transport
from scanner.facts.ldap import (
    DirectoryInfo,
    Overlay,
    PasswordStorage,
    PolicyOverride,
    PPolicyRules,
    PPolicyState,
    Probe,
    StoredPassword,
)

RULES = PPolicyRules(dn="cn=default,ou=policies,dc=ex,dc=test", min_length=12, max_age_days=90, in_history=12,
                     lockout=True, max_failure=5, lockout_duration_seconds=900, min_length_enforced=True)


def dse(flavor: str = "openldap", tls: str = "starttls") -> DirectoryInfo:
    return DirectoryInfo(url="ldap://ldap1:389", flavor=flavor, flavor_source="root DSE", tls=tls,
                         certificate_validated=tls != "none", plaintext_allowed=tls == "none",
                         bound_as="cn=admin,dc=ex,dc=test", base_dn="dc=ex,dc=test", naming_contexts=(),
                         vendor="OpenLDAP")


@pytest.mark.parametrize("state, status, words", [
    (PPolicyState(True, RULES.dn, RULES), "pass", "meets"),
    (PPolicyState(False, None, None), "fail", "overlay is not enabled"),
    (PPolicyState(True, None, None), "fail", "olcPPolicyDefault: unset"),
    (PPolicyState(True, RULES.dn, None), "fail", "no default password policy entry"),
    (PPolicyState(True, RULES.dn, replace(RULES, min_length=6)), "fail", "pwdMinLength 6 < 12"),
    (PPolicyState(True, RULES.dn, replace(RULES, max_age_days=None)), "fail", "pwdMaxAge never"),
    (PPolicyState(True, RULES.dn, replace(RULES, in_history=0)), "fail", "pwdInHistory 0 < 12"),
    (PPolicyState(True, RULES.dn, replace(RULES, lockout=False)), "fail", "pwdLockout is off"),
    (PPolicyState(True, RULES.dn, replace(RULES, max_failure=0)), "fail", "pwdMaxFailure 0 not in 1..5"),
    (PPolicyState(True, RULES.dn, replace(RULES, max_failure=10)), "fail", "pwdMaxFailure 10 not in 1..5"),
])
def test_ppolicy(state, status, words):
    got = openldap.ppolicy(dse(), state)
    assert (got.status.value, words in got.message) == (status, True), got.message


@pytest.mark.parametrize("stored, failing", [
    ((("SSHA", True), ("SSHA512", True), ("ARGON2", True), ("PBKDF2-SHA512", True), ("CRYPT-SHA512", True)), []),
    ((("SSHA", True), ("CLEARTEXT", False)), ["uid=u1"]),
    ((("MD5", False), ("SHA", False), ("SSHA", True)), ["uid=u0", "uid=u1"]),
    ((("CRYPT-DES", False), ("CRYPT-MD5", False)), ["uid=u0", "uid=u1"]),
])
def test_password_hashing(stored, failing):
    values = tuple(StoredPassword(f"uid=u{i}", scheme, salted) for i, (scheme, salted) in enumerate(stored))
    got = openldap.password_hashing(dse(), PasswordStorage(values, len(values), (), True))
    assert sorted(f.resource for f in got if f.status.value == "fail") == failing
    if not failing:
        assert [f.status.value for f in got] == ["pass"]


@pytest.mark.parametrize("bind_reads_all, status, words", [
    (True, "pass", "2 account(s) hold no password"),
    # a value the bind cannot read may be cleartext: that is not a pass (it was one before)
    (False, "error", "2 account(s) without a userPassword this bind can read"),
])
def test_password_hashing_with_accounts_it_could_not_read(bind_reads_all, status, words):
    storage = PasswordStorage((StoredPassword("uid=a", "SSHA", True),), 3, ("uid=b", "uid=c"), bind_reads_all)
    got = openldap.password_hashing(dse(), storage)
    assert [f.status.value for f in got] == [status]
    assert words in got[0].message
    assert got[0].observed["without_readable_password"] == ("uid=b", "uid=c")


@pytest.mark.parametrize("names, status", [
    (("ppolicy", "auditlog"), "pass"), (("accesslog",), "pass"), (("ppolicy", "memberof"), "fail"), ((), "fail"),
])
def test_audit_overlay(names, status):
    overlays = tuple(Overlay("olcDatabase={1}mdb,cn=config", n, True, True) for n in names)
    assert openldap.audit_overlay(dse(), overlays).status.value == status


@pytest.mark.parametrize("probe, status", [
    (Probe("ldap://x", True, True, "bind refused", "inappropriateAuthentication (48)"), "pass"),
    (Probe("ldap://x", True, True, "search refused", "operationsError (1)"), "pass"),
    (Probe("ldap://x", True, False, "anonymous search answered", "success (0)", 5), "fail"),
])
def test_anonymous_bind(probe, status):
    assert transport.anonymous_bind(dse(), probe).status.value == status


@pytest.mark.parametrize("probe, status", [
    (Probe("ldap://x:389", True, True, "cleartext bind refused", "confidentialityRequired (13)"), "pass"),
    (Probe("ldap://x:389", False, True, "no cleartext listener", "Connection refused"), "pass"),
    (Probe("ldap://x:389", True, False, "cleartext bind evaluated", "invalidCredentials (49)"), "fail"),
    (Probe("ldap://x:389", False, False, "probe failed", "could not determine whether a cleartext listener "
           "answers: 10.0.0.1 port 389: timed out"), "error"),
    (Probe("ldap://x:389", True, False, "probe failed", "LDAPSocketReceiveError: timed out"), "error"),
    (Probe("ldap://x:389", False, True, "unreachable", "timed out"), "error"),  # refused, but not by a known answer
])
def test_tls_required_and_the_scan_transport_is_shown(probe, status):
    got = transport.tls_required(dse(tls="none"), probe)
    assert got.status.value == status
    assert (got.observed["scanner_transport"], got.observed["scanner_plaintext_allowed"]) == ("none", True)


@pytest.mark.parametrize("call", [
    lambda d: openldap.ppolicy(d, None), lambda d: openldap.password_hashing(d, None)[0],
    lambda d: openldap.audit_overlay(d, None),
])
def test_openldap_checks_are_not_applicable_on_ad(call):
    got = call(dse("ad"))
    assert got.status.value == "not_applicable" and "this target is Active Directory" in got.message


def test_ppolicy_without_quality_checking_fails_even_with_a_long_minimum_length():
    got = openldap.ppolicy(dse(), PPolicyState(True, RULES.dn, replace(RULES, min_length_enforced=False)))
    assert got.status.value == "fail" and "pwdMinLength 12 is not enforced (pwdCheckQuality 0" in got.message


@pytest.mark.parametrize("override, words", [
    (PolicyOverride("cn=lenient", replace(RULES, dn="cn=lenient", min_length=4), ("uid=svc",)),
     "policy cn=lenient (pwdPolicySubentry of 1 entries): pwdMinLength 4 < 12"),
    (PolicyOverride("cn=gone", None, ("uid=a", "uid=b")),
     "policy cn=gone (pwdPolicySubentry of 2 entries): entry missing or not readable"),
])
def test_ppolicy_judges_every_policy_entries_name_for_themselves(override, words):
    got = openldap.ppolicy(dse(), PPolicyState(True, RULES.dn, RULES, (override,)))
    assert got.status.value == "fail" and words in got.message
    assert got.observed["overrides"][0]["entries"] == override.entries
    strong = PolicyOverride("cn=strict", replace(RULES, dn="cn=strict"), ("uid=admin",))
    assert openldap.ppolicy(dse(), PPolicyState(True, RULES.dn, RULES, (strong,))).status.value == "pass"


@pytest.mark.parametrize("overlay, status", [
    (Overlay("olcDatabase={1}mdb,cn=config", "auditlog", True, True), "pass"),
    (Overlay("olcDatabase={2}mdb,cn=config", "auditlog", False, True), "fail"),  # on another database
    (Overlay("olcDatabase={1}mdb,cn=config", "accesslog", True, False), "fail"),  # logs no writes
])
def test_audit_overlay_must_record_changes_to_the_base_database(overlay, status):
    got = openldap.audit_overlay(dse(), (overlay,))
    assert got.status.value == status
    if status == "fail":
        assert "not the base DN's database" in got.message or "does not include writes" in got.message


@pytest.mark.parametrize("call", [
    lambda d: openldap.ppolicy(d, None), lambda d: openldap.password_hashing(d, None)[0],
    lambda d: openldap.audit_overlay(d, None),
])
def test_an_empty_fact_on_an_openldap_target_is_an_error(call):
    got = call(dse("openldap"))
    assert got.status.value == "error" and "no value was collected" in got.message


def test_every_directory_check_says_how_to_fix_it():
    from scanner.registry import Registry

    specs = Registry.load(["checks.ad", "checks.ldap"]).select()
    assert len(specs) == 15
    assert [s.id for s in specs if len(s.remediation) < 80] == []
