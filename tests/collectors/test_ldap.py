# ruff: noqa: F811  (pytest fixtures are imported from tests/lab and used as parameters)
"""Directory facts collected from real slapd and Samba AD servers: observed values, flavor gating, fail closed."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from scanner.collectors import ldap as collector
from scanner.collectors.ldap import ad, common, openldap
from scanner.connectors.ldap import LDAPConnector
from scanner.facts.ldap import StoredPassword
from tests.lab.sambalab import ADMIN_PASSWORD as AD_PASSWORD
from tests.lab.slapdlab import ADMIN_PASSWORD

pytestmark = pytest.mark.lab
ALL = sorted(collector.FACTS)


def collect(target) -> dict:
    with LDAPConnector(target) as conn:
        return collector.collect(conn, target, ALL)


@pytest.fixture(scope="module")
def slapd_facts(slapd_lab):
    return {which: collect(slapd_lab.target(which)) for which in ("good", "weak")}


@pytest.fixture(scope="module")
def ad_facts(samba_lab):
    return {which: collect(samba_lab.target(which)) for which in ("good", "weak")}


def test_root_dse_records_how_the_directory_was_reached(slapd_facts, ad_facts):
    s, a = slapd_facts["good"]["ldap.root_dse"].value, ad_facts["weak"]["ldap.root_dse"].value
    assert (s.flavor, s.tls, s.certificate_validated, s.plaintext_allowed) == ("openldap", "starttls", True, False)
    assert s.bound_as == "cn=admin,dc=good,dc=test"
    assert (a.flavor, a.tls, a.base_dn, a.bound_as) == ("ad", "ldaps", "DC=weakad,DC=test", "Administrator@WEAKAD.TEST")


def test_root_dse_shows_a_plaintext_scan(slapd_lab):
    weak = slapd_lab.servers["weak"]
    facts = collect(slapd_lab.target("weak", url=weak.ldap_url, starttls=False, allow_plaintext=True))
    dse = facts["ldap.root_dse"].value
    assert (dse.tls, dse.plaintext_allowed, dse.certificate_validated) == ("none", True, False)


def test_openldap_facts_observed_values(slapd_facts):
    good, weak = slapd_facts["good"], slapd_facts["weak"]
    g, w = good["ldap.ppolicy"].value, weak["ldap.ppolicy"].value
    assert g.default_dn == "cn=default,ou=policies,dc=good,dc=test"
    assert (g.default.min_length, g.default.max_age_days, g.default.in_history, g.default.lockout,
            g.default.max_failure) == (12, 90.0, 12, True, 5)
    assert (w.default.min_length, w.default.max_age_days, w.default.lockout) == (4, None, False)
    assert {(p.dn.split(",")[0], p.scheme) for p in weak["ldap.password_hashes"].value.stored} == {
        ("uid=alice", "SSHA"), ("uid=carol", "CLEARTEXT"), ("uid=dave", "MD5")}
    assert [o.name for o in good["ldap.overlays"].value] == ["ppolicy", "auditlog"]
    assert [o.name for o in weak["ldap.overlays"].value] == ["ppolicy"]
    assert good["ldap.anonymous_probe"].value.refused and not weak["ldap.anonymous_probe"].value.refused
    assert good["ldap.plaintext_bind_probe"].value.detail.startswith("confidentialityRequired (13)")
    assert weak["ldap.plaintext_bind_probe"].value.detail.startswith("invalidCredentials (49)")
    # the probe binds as a DN that does not exist: no real account collects a failed logon
    source = weak["ldap.plaintext_bind_probe"].evidence[0].source
    assert "as cn=gxpscan-tls-probe,dc=weak,dc=test (does not exist)" in source and "cn=admin" not in source


def test_password_hash_evidence_holds_schemes_never_values(slapd_facts):
    raw = "".join(e.raw for e in slapd_facts["weak"]["ldap.password_hashes"].evidence)
    assert "uid=carol,ou=people,dc=weak,dc=test: CLEARTEXT" in raw
    assert "carol-cleartext" not in raw and "{SSHA}" not in raw and "{MD5}" not in raw


def test_ad_domain_policy_and_psos(ad_facts):
    good, weak = ad_facts["good"], ad_facts["weak"]
    g, w = good["ldap.domain_policy"].value, weak["ldap.domain_policy"].value
    assert (g.min_length, g.complexity, g.max_age_days, g.min_age_days, g.history) == (14, True, 90.0, 1.0, 24)
    assert (g.lockout_threshold, g.lockout_duration_minutes, g.lockout_window_minutes) == (5, 30.0, 30.0)
    assert (w.min_length, w.complexity, w.reversible_encryption, w.max_age_days, w.lockout_threshold) == (
        5, False, True, None, 0)
    (pso,) = weak["ldap.password_settings_objects"].value
    assert (pso.name, pso.rules.min_length, pso.applies_to) == (
        "helpdesk-weak", 3, ("CN=Helpdesk,CN=Users,DC=weakad,DC=test",))


def test_ad_users_flags_and_last_logon(ad_facts):
    users = {u.sam: u for u in ad_facts["weak"]["ldap.users"].value}
    assert users["carl.never"].password_never_expires and users["nora.noreq"].password_not_required
    assert users["rita.rev"].reversible_encryption
    a = users["alice.smith"]
    assert not (a.password_never_expires or a.password_not_required or a.reversible_encryption or a.disabled)
    assert a.created is not None and a.created.tzinfo is not None
    idle = (datetime.now(timezone.utc) - users["sam.stale"].last_logon).days
    assert 399 <= idle <= 401
    assert not users["krbtgt"].enabled and users["alice.smith"].enabled


def test_ad_privileged_groups_resolve_nested_members(ad_facts):
    groups = {g.name: g for g in ad_facts["weak"]["ldap.privileged_groups"].value}
    assert set(groups) == {"Domain Admins", "Enterprise Admins", "Schema Admins", "Administrators",
                           "Account Operators", "Backup Operators", "Server Operators"}
    members = {m.sam: m.nested for m in groups["Domain Admins"].members}
    # peter via IT Ops, a member of Domain Admins; pam through her primaryGroupID, which ``member`` does not list
    assert members == {"Administrator": False, "peter.priv": True, "pam.primary": False}
    assert [m.sam for m in groups["Domain Admins"].members if m.primary_group] == ["pam.primary"]
    assert {m.sam for m in groups["Administrators"].members} == {"Administrator", "peter.priv", "pam.primary"}
    assert all(g.held_by is None for g in groups.values())  # the lab domains are forest roots


def test_ad_krbtgt_age(ad_facts):
    now = datetime.now(timezone.utc)
    assert (now - ad_facts["good"]["ldap.krbtgt"].value.pwd_last_set).days <= 1
    assert 399 <= (now - ad_facts["weak"]["ldap.krbtgt"].value.pwd_last_set).days <= 401


@pytest.mark.parametrize("fact", collector.AD_FACTS)
def test_ad_facts_on_openldap_are_empty_with_the_reason(slapd_facts, fact):
    got = slapd_facts["good"][f"ldap.{fact}"]
    assert got.ok and got.value is None
    assert "target flavor is openldap" in got.evidence[0].raw


@pytest.mark.parametrize("fact", collector.OPENLDAP_FACTS)
def test_openldap_facts_on_ad_are_empty_with_the_reason(ad_facts, fact):
    got = ad_facts["good"][f"ldap.{fact}"]
    assert got.ok and got.value is None
    assert "target flavor is ad" in got.evidence[0].raw


def test_unreadable_config_and_passwords_fail_closed(slapd_lab, monkeypatch):
    """A bind that cannot read cn=config or other users' userPassword gets errors, not empty answers."""
    monkeypatch.setenv("GXLAB_BOB_PASSWORD", "Bob-Long-Passw0rd!")
    target = slapd_lab.target("good", bind_dn="uid=bob,ou=people,dc=good,dc=test", password_env="GXLAB_BOB_PASSWORD")
    facts = collect(target)
    for name in ("ldap.ppolicy", "ldap.overlays"):
        assert not facts[name].ok and "cn=config is not readable" in facts[name].error
    hashes = facts["ldap.password_hashes"].value  # bob reads only his own userPassword
    assert [p.dn for p in hashes.stored] == ["uid=bob,ou=people,dc=good,dc=test"]
    assert hashes.unreadable == ("uid=alice,ou=people,dc=good,dc=test",)
    assert not hashes.bind_reads_all  # so alice's value may be hidden, not absent: the check says error


def test_the_rootdn_reads_every_password(slapd_facts):
    for which in ("good", "weak"):
        hashes = slapd_facts[which]["ldap.password_hashes"].value
        assert (hashes.unreadable, hashes.bind_reads_all) == ((), True)


def test_overlays_act_on_the_base_database(slapd_facts):
    got = {o.name: o for o in slapd_facts["good"]["ldap.overlays"].value}
    assert got["auditlog"].covers_base and got["auditlog"].logs_writes and got["ppolicy"].covers_base
    assert got["auditlog"].database == "olcDatabase={1}mdb,cn=config"
    assert slapd_facts["good"]["ldap.ppolicy"].value.default.min_length_enforced
    assert not slapd_facts["weak"]["ldap.ppolicy"].value.default.min_length_enforced  # no pwdCheckQuality


def test_unknown_flavor_fails_every_fact(slapd_lab):
    target = slapd_lab.target("good")
    with LDAPConnector(target) as conn:
        conn.flavor = None  # as if the root DSE named neither AD nor OpenLDAP and the inventory set no flavor
        facts = collector.collect(conn, target, ALL)
    assert all(not f.ok and "flavor not recognised" in f.error for f in facts.values())


def test_no_fact_or_evidence_contains_a_bind_password(slapd_facts, ad_facts):
    for facts in (*slapd_facts.values(), *ad_facts.values()):
        for fact in facts.values():
            text = repr(fact.value) + (fact.error or "") + "".join(e.raw + e.source for e in fact.evidence)
            assert ADMIN_PASSWORD not in text and AD_PASSWORD not in text


class _Directory:
    """A few entries in memory, answering base searches like a server that pages ``member`` (as AD does above
    1500 values). Samba returns every value at once, so AD's ranged retrieval cannot be produced in the lab."""

    def __init__(self, entries: dict[str, dict[str, list[bytes]]], page: int = 2):
        self.entries, self.page, self.asked = entries, page, []

    def search_one(self, dn: str, attributes: list[str]):
        from scanner.connectors.ldap import Entry

        self.asked.append((dn, tuple(attributes)))
        attrs = self.entries.get(dn.lower())
        if attrs is None:
            return None
        start = next((int(a.split("=")[1].split("-")[0]) for a in attributes if a.startswith("member;range=")), 0)
        out = {k: v for k, v in attrs.items() if k != "member"} if not start else {}
        members = attrs.get("member", [])
        if members:
            chunk = members[start:start + self.page]
            end = "*" if start + self.page >= len(members) else str(start + self.page - 1)
            out[f"member;range={start}-{end}"] = chunk
        return Entry(dn, out)


def _group(*members: str) -> dict[str, list[bytes]]:
    return {"objectclass": [b"top", b"group"], "member": [m.encode() for m in members]}


def _user(sam: str, uac: int = 512) -> dict[str, list[bytes]]:
    return {"objectclass": [b"top", b"person", b"user"], "samaccountname": [sam.encode()],
            "useraccountcontrol": [str(uac).encode()]}


def test_group_expansion_follows_ranges_nesting_and_cycles():
    from scanner.connectors.ldap import Entry

    d = _Directory({"cn=ops": _group("cn=u3", "cn=admins"),  # cycle back to the top group
                    "cn=u1": _user("u1"), "cn=u2": _user("u2", 514), "cn=u3": _user("u3"), "cn=u4": _user("u4")})
    top = d.entries["cn=admins"] = _group("cn=u1", "cn=u2", "cn=ops", "cn=u4")
    first = Entry("cn=admins", {"member;range=0-1": top["member"][:2]})
    got = ad.expand_members(d, first, {})
    assert [(m.sam, m.nested, m.enabled) for m in got] == [
        ("u1", False, True), ("u2", False, False), ("u3", True, True), ("u4", False, True)]


def test_unreadable_member_fails_closed():
    d = _Directory({"cn=u1": _user("u1")})
    from scanner.connectors.ldap import Entry

    with pytest.raises(ValueError, match="cn=hidden-group of cn=admins is not readable"):
        ad.expand_members(d, Entry("cn=admins", {"member": [b"cn=u1", b"cn=hidden-group"]}), {})


# -- fail closed: answers that must not read as a compliant directory ----------------------------------
OVERRIDE_LDIF = """dn: cn=lenient,ou=policies,dc=good,dc=test
objectClass: device
objectClass: pwdPolicy
cn: lenient
pwdAttribute: userPassword
pwdMinLength: 4
pwdCheckQuality: 2
pwdMaxAge: 0
pwdLockout: FALSE

dn: uid=svc,ou=people,dc=good,dc=test
objectClass: inetOrgPerson
uid: svc
cn: svc
sn: svc
userPassword: {SSHA}c3ZjLXNlcnZpY2UtaGFzaC1zYWx0ZWQ=
pwdPolicySubentry: cn=lenient,ou=policies,dc=good,dc=test

dn: uid=ghost,ou=people,dc=good,dc=test
objectClass: inetOrgPerson
uid: ghost
cn: ghost
sn: ghost
userPassword: {SSHA}Z2hvc3Qtc2VydmljZS1oYXNoLXNhbHRlZA==
pwdPolicySubentry: cn=missing,ou=policies,dc=good,dc=test
"""


@pytest.fixture(scope="module")
def override_slapd(slapd_lab, tmp_path_factory):
    """The compliant slapd plus two accounts that name their own policy: a lenient one and one that is missing."""
    from tests.lab import slapdlab

    root = tmp_path_factory.mktemp("slapd-override")
    with slapdlab.good_with(slapd_lab.ca, root, "override", OVERRIDE_LDIF) as server:
        yield server


def test_policies_named_by_entries_are_collected_and_judged(slapd_lab, override_slapd):
    from checks.ldap.openldap import ppolicy
    from scanner.model import Platform, Target
    from tests.lab.slapdlab import PASSWORD_ENV

    target = Target("slapd-override", Platform.LDAP, {
        "url": override_slapd.ldap_url, "starttls": True, "ca_file": str(slapd_lab.ca.cert),
        "bind_dn": override_slapd.admin_dn, "password_env": PASSWORD_ENV, "timeout": 10}, {})
    facts = collect(target)
    state = facts["ldap.ppolicy"].value
    assert state.default.dn == "cn=default,ou=policies,dc=good,dc=test"  # the default policy is the strong one
    got = {o.policy_dn: o for o in state.overrides}
    lenient = got["cn=lenient,ou=policies,dc=good,dc=test"]
    assert lenient.entries == ("uid=svc,ou=people,dc=good,dc=test",)
    assert (lenient.rules.min_length, lenient.rules.max_age_days, lenient.rules.lockout) == (4, None, False)
    assert got["cn=missing,ou=policies,dc=good,dc=test"].rules is None
    finding = ppolicy(facts["ldap.root_dse"].value, state)
    assert finding.status.value == "fail"
    assert "policy cn=lenient,ou=policies,dc=good,dc=test (pwdPolicySubentry of 1 entries): pwdMinLength 4 < 12" \
        in finding.message
    assert "cn=missing,ou=policies,dc=good,dc=test (pwdPolicySubentry of 1 entries): entry missing" in finding.message


def test_ldap3_decoded_entry_shape_is_what_the_connector_reads(slapd_lab):
    """ldap3 2.9.1 is unmaintained; the connector's fast decoder (``_raw_entries``) reads its undecoded BER
    structure by position. A real search here shows that structure and that the connector's entries equal
    ldap3's own decoding: if an ldap3 release changes either, this fails before a scan reads garbage."""
    import ldap3

    weak = slapd_lab.servers["weak"]
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=weak.ldap_port, get_info=ldap3.NONE),
                            user=weak.admin_dn, password=ADMIN_PASSWORD, auto_bind=True, read_only=True,
                            raise_exceptions=True)
    seen = []
    decode = conn.strategy.decode_response_fast

    def spy(message):
        seen.append(message)
        return decode(message)

    conn.strategy.decode_response_fast = spy
    base = "ou=people,dc=weak,dc=test"
    attrs = ["uid", "objectClass", "userPassword"]
    conn.search(base, "(uid=alice)", attributes=attrs)
    theirs = {(r["dn"], k.lower()): list(v) for r in conn.response if r["type"] == "searchResEntry"
              for k, v in r["raw_attributes"].items()}
    conn.unbind()

    entry_messages = [m for m in seen if m["protocolOp"] == 4]
    assert [m["protocolOp"] for m in seen] == [4, 5]  # searchResEntry, searchResDone
    payload = entry_messages[0]["payload"]
    assert payload[0][3] == b"uid=alice,ou=people,dc=weak,dc=test"  # the DN, raw bytes
    by_name = {a[3][0][3]: [v[3] for v in a[3][1][3]] for a in payload[1][3]}  # name bytes -> raw value bytes
    assert set(by_name) == {b"uid", b"objectClass", b"userPassword"}
    assert by_name[b"uid"] == [b"alice"] and by_name[b"objectClass"] == [b"inetOrgPerson"]
    assert by_name[b"userPassword"][0].startswith(b"{SSHA}")
    assert all(isinstance(v, bytes) for values in by_name.values() for v in values)

    # without TLS, so that this test says something on every Python, whatever its TLS stack does
    with LDAPConnector(slapd_lab.target("weak", url=weak.ldap_url, starttls=False, allow_plaintext=True)) as c:
        ours = {(e.dn, k): v for e in c.search(base, "(uid=alice)", attrs) for k, v in e.attrs.items()}
    assert ours == theirs and len(ours) == 3


def test_psos_the_bind_cannot_read_are_an_error_not_none(samba_lab, monkeypatch):
    """Samba (like AD) shows a plain user the Password Settings Container but none of the PSOs in it. Before, that
    read as 'no fine-grained policies' and ad.fine_grained_policies passed; the PSO still shows on its targets."""
    from tests.lab.sambalab import USER_PASSWORD

    monkeypatch.setenv("GXLAB_AD_USER_PASSWORD", USER_PASSWORD)
    target = samba_lab.target("weak", bind_dn="helen.help@WEAKAD.TEST", password_env="GXLAB_AD_USER_PASSWORD")
    got = collect(target)["ldap.password_settings_objects"]
    assert not got.ok
    assert got.error == ("ldap.password_settings_objects: password settings objects applied to accounts but not "
                         "readable by helen.help@WEAKAD.TEST: CN=helpdesk-weak,CN=Password Settings Container,"
                         "CN=System,DC=weakad,DC=test")


def _entry(dn: str, **attrs: str | list[str]):
    from scanner.connectors.ldap import Entry

    return Entry(dn, {k.lower(): [x.encode() for x in (v if isinstance(v, list) else [v])]
                      for k, v in attrs.items()})


DOMAIN_HEAD = {"minPwdLength": "14", "pwdProperties": "1", "maxPwdAge": "-77760000000000", "minPwdAge": "-864000000000",
               "pwdHistoryLength": "24", "lockoutThreshold": "5", "lockoutDuration": "-18000000000",
               "lockOutObservationWindow": "-18000000000"}


def test_domain_head_parses_to_meaning():
    got = ad.domain_rules(_entry("DC=ex,DC=test", **DOMAIN_HEAD))
    assert (got.min_length, got.complexity, got.reversible_encryption, got.max_age_days, got.min_age_days) == (
        14, True, False, 90.0, 1.0)
    assert (got.lockout_threshold, got.lockout_duration_minutes, got.lockout_window_minutes) == (5, 30.0, 30.0)


@pytest.mark.parametrize("attr", sorted(DOMAIN_HEAD))
def test_a_domain_policy_attribute_the_bind_cannot_read_is_an_error(attr):
    """Before, an unreadable lockoutDuration read as 'locked until an administrator unlocks' (the strictest value)
    and an unreadable pwdProperties as 'no reversible encryption': both passed."""
    head = {k: v for k, v in DOMAIN_HEAD.items() if k != attr}
    with pytest.raises(ValueError, match=f"{attr} not returned"):
        ad.domain_rules(_entry("DC=ex,DC=test", **head))


@pytest.mark.parametrize("attr", ["minPwdLength", "pwdHistoryLength", "lockoutThreshold"])
def test_a_negative_count_is_an_error(attr):
    """Before, lockoutThreshold -1 was neither 0 ('never locks') nor above the limit: a pass."""
    with pytest.raises(ValueError, match=f"{attr} is -1, outside its range"):
        ad.domain_rules(_entry("DC=ex,DC=test", **{**DOMAIN_HEAD, attr: "-1"}))


PSO = {"cn": "p", "msDS-PasswordSettingsPrecedence": "1", "msDS-MinimumPasswordLength": "14",
       "msDS-PasswordComplexityEnabled": "TRUE", "msDS-PasswordReversibleEncryptionEnabled": "FALSE",
       "msDS-MaximumPasswordAge": "-77760000000000", "msDS-MinimumPasswordAge": "-864000000000",
       "msDS-PasswordHistoryLength": "24", "msDS-LockoutThreshold": "5", "msDS-LockoutDuration": "-18000000000",
       "msDS-LockoutObservationWindow": "-18000000000"}


@pytest.mark.parametrize("attr", sorted(set(PSO) - {"cn"}))
def test_a_pso_attribute_the_bind_cannot_read_is_an_error(attr):
    assert ad.pso(_entry("CN=p", **PSO)).rules.min_length == 14
    with pytest.raises(ValueError, match=f"{attr} not returned"):
        ad.pso(_entry("CN=p", **{k: v for k, v in PSO.items() if k != attr}))


@pytest.mark.parametrize("call, value", [
    (ad.filetime, -5),  # before: a date before 1601 and an OverflowError that no one caught
    (common.generalized_time, "2026120107300"),
    (common.generalized_time, "20261201073000+0200"),  # a local time cannot be placed
    (common.ad_bool, "yes"),  # before: anything but TRUE read as FALSE
])
def test_malformed_values_are_errors_not_defaults(call, value):
    with pytest.raises(ValueError):
        call(value)


def test_user_flags_and_times_parse_to_meaning():
    u = ad.user(_entry("CN=u", sAMAccountName="u", userAccountControl=str(0x10000 | 0x20 | 0x80 | 0x2),
                              whenCreated="20261201073000.0Z", lastLogonTimestamp="134088912000000000"))
    assert (u.disabled, u.password_never_expires, u.password_not_required, u.reversible_encryption) == (
        True, True, True, True)
    assert u.created == datetime(2026, 12, 1, 7, 30, tzinfo=timezone.utc)
    assert u.last_logon == datetime(2025, 11, 29, 12, 0, tzinfo=timezone.utc)
    plain = ad.user(_entry("CN=p", sAMAccountName="p", userAccountControl="512"))
    assert (plain.enabled, plain.created, plain.last_logon) == (True, None, None)


@pytest.mark.parametrize("value, scheme, salted", [
    (b"{SSHA512}abc", "SSHA512", True),
    (b"{CRYPT}$6$salt$hash", "CRYPT-SHA512", True),
    (b"{CRYPT}$y$j9T$salt$hash", "CRYPT-YESCRYPT", True),
    (b"{CRYPT}$2b$12$hash", "CRYPT-BCRYPT", True),
    (b"{CRYPT}abJnggxhB/yWI", "CRYPT-DES", False),  # before: {CRYPT} of any kind was "salted"
    (b"{CRYPT}$1$salt$hash", "CRYPT-MD5", False),
    (b"{MD5}abc", "MD5", False),
    (b"{SHA512}abc", "SHA512", False),  # unsalted, though crypt's $6$ (also SHA-512) is fine
    (b"{SHA256}abc", "SHA256", False),
    (b"secret", "CLEARTEXT", False),
])
def test_password_storage_schemes(value, scheme, salted):
    assert openldap.stored_password("uid=x", value) == StoredPassword("uid=x", scheme, salted)


def test_ppolicy_without_quality_checking_does_not_enforce_a_minimum_length():
    rules = {"pwdMinLength": "12", "pwdMaxAge": "7776000", "pwdInHistory": "12", "pwdLockout": "TRUE",
             "pwdMaxFailure": "5"}
    assert not openldap.ppolicy_rules(_entry("cn=p", **rules)).min_length_enforced
    # slapd expires nothing when pwdMaxAge is not positive; before, -1 read as a maximum age of -0.00001 days
    assert openldap.ppolicy_rules(_entry("cn=p", **{**rules, "pwdMaxAge": "-1"})).max_age_days is None
    assert openldap.ppolicy_rules(_entry("cn=p", **rules, pwdCheckQuality="2")).min_length_enforced


CONFIG_DBS = [_entry("olcDatabase={-1}frontend,cn=config"), _entry("olcDatabase={0}config,cn=config"),
              _entry("olcDatabase={1}mdb,cn=config", olcSuffix="dc=ex,dc=test", olcRootDN="cn=admin,dc=ex,dc=test"),
              _entry("olcDatabase={2}mdb,cn=config", olcSuffix="cn=accesslog")]


@pytest.mark.parametrize("overlay, covers, logs", [
    (_entry("olcOverlay={0}auditlog,olcDatabase={1}mdb,cn=config", olcOverlay="{0}auditlog"), True, True),
    (_entry("olcOverlay={0}auditlog,olcDatabase={-1}frontend,cn=config", olcOverlay="{0}auditlog"), True, True),
    # before, each of these passed ldap.audit_overlay:
    (_entry("olcOverlay={0}auditlog,olcDatabase={2}mdb,cn=config", olcOverlay="{0}auditlog"), False, True),
    (_entry("olcOverlay={0}accesslog,olcDatabase={1}mdb,cn=config", olcOverlay="{0}accesslog",
            olcAccessLogOps=["bind", "session"]), True, False),
    (_entry("olcOverlay={0}accesslog,olcDatabase={1}mdb,cn=config", olcOverlay="{0}accesslog"), True, False),
    (_entry("olcOverlay={0}accesslog,olcDatabase={1}mdb,cn=config", olcOverlay="{0}accesslog",
            olcAccessLogOps="writes"), True, True),
    (_entry("olcOverlay={0}accesslog,olcDatabase={1}mdb,cn=config", olcOverlay="{0}accesslog",
            olcAccessLogOps=["add", "delete", "modify", "modrdn"]), True, True),
])
def test_overlays_say_where_they_act_and_what_they_log(overlay, covers, logs):
    (got,) = openldap.parse_overlays(CONFIG_DBS, [overlay], "ou=people,dc=ex,dc=test")
    assert (got.covers_base, got.logs_writes) == (covers, logs)


def test_a_disabled_overlay_is_not_an_overlay():
    off = _entry("olcOverlay={0}auditlog,olcDatabase={1}mdb,cn=config", olcOverlay="{0}auditlog", olcDisabled="TRUE")
    assert openldap.parse_overlays(CONFIG_DBS, [off], "dc=ex,dc=test") == ()


def test_primary_group_members_are_found_and_marked():
    """AD does not list a member in ``member`` when the group is its primary group (primaryGroupID)."""
    d = _Directory({"cn=ops": _group("cn=u2"), "cn=u1": _user("u1"), "cn=u2": _user("u2")})
    hidden = {"cn=admins": [_entry("cn=p1", objectClass=["user"], sAMAccountName="p1", userAccountControl="512")],
              "cn=ops": [_entry("cn=p2", objectClass=["user"], sAMAccountName="p2", userAccountControl="514")]}
    top = _entry("cn=admins", objectClass=["group"], member=["cn=u1", "cn=ops"])
    got = ad.expand_members(d, top, {}, lambda g: hidden.get(g.dn, []))
    assert [(m.sam, m.nested, m.enabled, m.primary_group) for m in got] == [
        ("p1", False, True, True), ("p2", True, False, True), ("u1", False, True, False), ("u2", True, True, False)]


def test_a_member_whose_object_class_is_unreadable_is_an_error():
    """A nested group read without objectClass would look like a user, and its members would go unseen."""
    d = _Directory({"cn=g2": {"member": [b"cn=u9"]}})
    with pytest.raises(ValueError, match="objectClass of cn=g2 is not readable"):
        ad.expand_members(d, _entry("cn=admins", member=["cn=g2"]), {})


def test_references_to_the_domains_own_partitions_are_left_out_and_shown_in_the_evidence(ad_facts):
    """Samba answers a subtree search of the domain root with searchResRefs to its other naming contexts
    (Configuration, DomainDnsZones, ForestDnsZones). They hold no accounts: the search completes and says so."""
    fact = ad_facts["weak"]["ldap.users"]
    assert fact.ok and len(fact.value) > 10
    raw = "".join(e.raw for e in fact.evidence)
    assert "# continuation references to this server's other naming contexts, not followed:" in raw
    for context in ("CN=Configuration", "DC=DomainDnsZones", "DC=ForestDnsZones"):
        assert f"# ref: 'ldaps://weakad.test/{context},DC=weakad,DC=test'" in raw
    base_only = "".join(e.raw for e in ad_facts["weak"]["ldap.domain_policy"].evidence)
    assert "# ref:" not in base_only  # a base search gets no reference
