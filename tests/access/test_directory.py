"""Directory access lists (scanner/access/directory.py): Active Directory and OpenLDAP.

Unit tests build the lists from fact values; lab tests scan a real slapd (ppolicy, olcAccess rules granting write
to a group and to a bind identity) and a real Samba AD domain controller (a nested chain up to Domain Admins, a
group cycle, a primary group at the end of a chain, a disabled and a locked-out user) with ``access=True`` and
assert the complete list. Both servers are this module's own (copies of the session labs' compliant profiles,
with the session's CA), so the session servers other tests judge stay as they are.
"""
from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from scanner.access.directory import EXTRACTOR, LAST_LOGON_NOTE, NO_LAST_BIND_NOTE, UNREADABLE_ACL_NOTE, build
from scanner.access.extract import Unavailable, system_access
from scanner.access.model import AccountType, system_to_dict
from scanner.collectors.ldap.openldap import acl_rule
from scanner.facts.ldap import (
    AccessRules,
    DatabaseAccess,
    DirectoryInfo,
    DirectoryUser,
    GroupMember,
    LdapAccount,
    LdapAccounts,
    LdapGroup,
    MemberPath,
    PrivilegedGroup,
)
from scanner.model import Fact, Platform, Target
from scanner.runner import scan_target

HOSTILE = '=HYPERLINK("http://x","y"), \'q\' \x1b[31m'
BASE = "dc=ex,dc=test"
TARGET = Target(name="dir1", type=Platform.LDAP, options={}, policy={})


def info(flavor: str) -> DirectoryInfo:
    return DirectoryInfo(url="ldaps://dir", flavor=flavor, flavor_source="root DSE", tls="ldaps",  # type: ignore
                         certificate_validated=True, plaintext_allowed=False, bound_as="cn=scan", base_dn=BASE,
                         naming_contexts=(BASE,), vendor="x")


def facts(flavor: str, **values: object) -> dict[str, Fact]:
    out = {"ldap.root_dse": Fact("ldap.root_dse", info(flavor))}
    out.update({f"ldap.{k}": v if isinstance(v, Fact) else Fact(f"ldap.{k}", v) for k, v in values.items()})
    return out


def ad_user(sam: str, sid: str | None = None, **kw: object) -> DirectoryUser:
    values: dict[str, object] = dict(sam=sam, dn=f"CN={sam},CN=Users,{BASE}", disabled=False,
                                     password_never_expires=False, password_not_required=False,
                                     reversible_encryption=False, last_logon=None, pwd_last_set=None, created=None,
                                     sid=sid)
    values.update(kw)
    return DirectoryUser(**values)  # type: ignore[arg-type]


def ldap_account(name: str, **kw: object) -> LdapAccount:
    values: dict[str, object] = dict(dn=f"uid={name},ou=people,{BASE}", name=name, person=True, locked=False,
                                     locked_permanently=False, password_changed=None, last_success=None)
    values.update(kw)
    return LdapAccount(**values)  # type: ignore[arg-type]


def rules(*texts: str, root_dn: str | None = f"cn=admin,{BASE}") -> AccessRules:
    db = "olcDatabase={1}mdb,cn=config"
    return AccessRules((DatabaseAccess(db, (BASE,), root_dn),), tuple(acl_rule(db, i, t) for i, t in enumerate(texts)))


# -- olcAccess parsing ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("{0}to attrs=userPassword by self write by anonymous auth by * none", [("self", "", "", "write")]),
    ('{1}to * by dn.exact="cn=x,dc=a" write by group.exact="cn=g,dc=a" manage by users read',
     [("dn", "exact", "cn=x,dc=a", "write"), ("group", "exact", "cn=g,dc=a", "manage")]),
    ('{2}to * by group/groupOfUniqueNames/uniqueMember="cn=g, dc=a" =wrsc by dn="cn=y" +a by * -w',
     [("group", "exact", "cn=g, dc=a", "=wrsc"), ("dn", "base", "cn=y", "+a")]),
    ('{3}to * by set="user/x & [cn=a]" write by dn.regex="^uid=[^,]+,ou=p$" selfwrite by ssf=128 add',
     [("other", "", "set=user/x & [cn=a]", "write"), ("dn", "regex", "^uid=[^,]+,ou=p$", "selfwrite"),
      ("anyone", "", "", "add")]),
    ("{4}to * by users read by * none", []),
])
def test_olcaccess_rules_yield_their_write_clauses(text, expected):
    rule = acl_rule("db", 0, text)
    assert rule.parsed
    assert [(w.who, w.style, w.pattern, w.level) for w in rule.writers] == expected


@pytest.mark.parametrize("text", ['{0}to * by dn="cn=x write', "{0}by * write", "{0}to *", "{0}to * by"])
def test_an_unreadable_rule_is_marked_so_and_may_grant_write_to_everyone(text):
    rule = acl_rule("db", 0, text)
    assert not rule.parsed
    built = build(TARGET, facts("openldap", accounts=LdapAccounts((ldap_account("ann"),), (), False),
                                access_rules=AccessRules((), (rule,))))
    (ann,) = built.accounts
    assert [(g.privilege, g.why) for g in ann.grants] == [
        ("olcAccess write (unverified)", f"may grant write: olcAccess {{0}} of db: '{text}' could not be parsed")]


@pytest.mark.parametrize("dn, expected", [
    ("CN=Domain Admins,CN=Users,DC=ex", "cn=domain admins,cn=users,dc=ex"),
    (" CN = Ops , DC=ex ", "cn=ops,dc=ex"), ("cn=a\t,dc=x", "cn=a,dc=x"), ("uid=A B,ou=P", "uid=a b,ou=p"),
])
def test_dn_normalisation_ignores_case_and_spaces_around_separators_only(dn, expected):
    from scanner.collectors.ldap.common import normalize_dn
    assert normalize_dn(dn) == expected


# -- OpenLDAP --------------------------------------------------------------------------------------------------
def test_openldap_grants_name_the_rule_the_database_and_who():
    admins = LdapGroup(f"cn=admins,ou=groups,{BASE}", (f"uid=ann,ou=people,{BASE}",))
    accounts = LdapAccounts((ldap_account("ann"), ldap_account("ben"), ldap_account("cy"), ldap_account("dee")),
                            (admins,), False)
    acl = rules(f'{{0}}to * by group.exact="cn=admins,ou=groups,{BASE}" write by dn.one="ou=people,{BASE}" read',
                f'{{1}}to * by dn.regex="^uid=(ben|cy),ou=people,{BASE}$" manage by anonymous write',
                '{2}to * by set="[x]" write')
    built = build(TARGET, facts("openldap", accounts=accounts, access_rules=acl))
    got = {a.name: [(g.privilege, g.why) for g in a.grants] for a in built.accounts}
    db = "olcDatabase={1}mdb,cn=config"
    unverified = ("olcAccess write (unverified)", f"may grant write: olcAccess {{2}} of {db}: '{{2}}to * by "
                  "set=\"[x]\" write' names 'set=[x]', which is not resolved to accounts here")
    manage = ("olcAccess manage", f"olcAccess {{1}} of {db}: '{{1}}to * by dn.regex=\"^uid=(ben|cy),ou=people,"
              f"{BASE}$\" manage by anonymous write' grants manage to dn.regex=^uid=(ben|cy),ou=people,{BASE}$")
    assert got == {
        "ann": [("olcAccess write", f"olcAccess {{0}} of {db}: '{{0}}to * by group.exact=\"cn=admins,ou=groups,"
                 f"{BASE}\" write by dn.one=\"ou=people,{BASE}\" read' grants write to the members of group "
                 f"cn=admins,ou=groups,{BASE}"), unverified],
        "ben": [manage, unverified], "cy": [manage, unverified], "dee": [unverified],
        f"cn=admin,{BASE}": [("rootDN", f"rootDN (olcRootDN) of {db} (suffix {BASE}): every access control is "
                              "bypassed")],
    }
    root = next(a for a in built.accounts if a.name == f"cn=admin,{BASE}")
    assert (root.type, root.enabled, root.evidence) == (AccountType.BUILTIN, None, ("ldap.access_rules",))
    assert f"olcAccess {{1}} of {db}: '{{1}}to * by dn.regex=\"^uid=(ben|cy),ou=people,{BASE}$\" manage by " \
           "anonymous write' grants write to anonymous clients" in built.notes
    assert NO_LAST_BIND_NOTE in built.notes


def test_openldap_every_user_writing_is_a_grant_for_everyone_and_self_write_is_none():
    accounts = LdapAccounts((ldap_account("ann"), ldap_account("ben")), (), True)
    built = build(TARGET, facts("openldap", accounts=accounts,
                                access_rules=rules("{0}to attrs=userPassword by self write",
                                                   "{1}to * by users write", root_dn=None)))
    assert {a.name: [g.why for g in a.grants] for a in built.accounts} == {
        n: ["olcAccess {1} of olcDatabase={1}mdb,cn=config: '{1}to * by users write' grants write to every "
            "authenticated user (by users)"] for n in ("ann", "ben")}
    assert all(a.last_logon_known for a in built.accounts) and NO_LAST_BIND_NOTE not in built.notes


def test_openldap_identities_that_may_write_but_are_no_entries_are_rows_and_costly_regexes_are_not_run():
    sasl = "uid=repl,cn=gssapi,cn=auth"
    admins = LdapGroup(f"cn=admins,{BASE}", (f"uid=ann,ou=people,{BASE}", "uid=ops,ou=people,dc=other"))
    accounts = LdapAccounts((ldap_account("ann"),), (admins,), False)
    acl = rules(f'{{0}}to * by dn.exact="{sasl}" write by group="cn=admins,{BASE}" write by dn="uid=ann,ou=people,'
                f'{BASE}" manage', '{1}to * by dn.regex="^(a+)+$" write', root_dn=None)
    built = build(TARGET, facts("openldap", accounts=accounts, access_rules=acl))
    got = {a.name: (a.type.value, [g.privilege for g in a.grants]) for a in built.accounts}
    assert got == {"ann": ("person", ["olcAccess manage", "olcAccess write", "olcAccess write (unverified)"]),
                   sasl: ("service", ["olcAccess write"]),
                   "uid=ops,ou=people,dc=other": ("service", ["olcAccess write"])}
    repl = next(a for a in built.accounts if a.name == sasl)
    assert repl.type_reason.startswith("an identity an olcAccess rule lets write that is no account entry")
    assert repl.grants[0].why.endswith(f"grants write to dn.exact={sasl}")


@pytest.mark.parametrize("rules_fact", [None, Fact.failed("ldap.access_rules", "cn=config is not readable")])
def test_unreadable_acls_grant_nothing_and_say_privilege_is_unverified(rules_fact):
    values: dict[str, object] = {"accounts": LdapAccounts((ldap_account("ann"),), (), False)}
    if rules_fact is not None:
        values["access_rules"] = rules_fact
    built = build(TARGET, facts("openldap", **values))
    assert [(a.name, a.grants) for a in built.accounts] == [("ann", ())]
    assert UNREADABLE_ACL_NOTE in built.notes


@pytest.mark.parametrize("locked_at, duration, overlay, expected", [
    (None, 1800, True, False),
    ("20261201115000Z", 1800, True, True),  # ten minutes ago, locks for thirty
    ("20261201110000Z", 1800, True, False),  # an hour ago: run out
    ("20261101000000Z", 0, True, True),  # a duration of 0: until an administrator unlocks
    ("000001010000Z", None, None, True),  # the administrative lock needs no policy to be read
    ("20261201115000Z", None, None, None),  # policy not readable: unknown, never "unlocked"
    ("20261201115000Z", 1800, False, False),  # no ppolicy overlay: slapd ignores the attribute
])
def test_an_openldap_lock_holds_for_its_policys_duration(locked_at, duration, overlay, expected):
    from scanner.collectors.ldap.openldap import lock_state
    from scanner.facts.ldap import PPolicyRules

    rules = None if duration is None else PPolicyRules("cn=p", 12, True, None, 5, True, 5, duration)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    assert lock_state(locked_at, rules, overlay, now) is expected


class FakeDirectory:
    """Entries by DN for ``expand_members`` (a base read per member), counting the reads."""

    def __init__(self, groups: dict[str, list[str]], users: list[str]):
        from scanner.connectors.ldap import Entry

        self.entries = {dn.lower(): Entry(dn, {"objectclass": [b"group"], "member": [m.encode() for m in members]})
                        for dn, members in groups.items()}
        self.entries.update({dn.lower(): Entry(dn, {"objectclass": [b"user"], "samaccountname": [dn[3:].encode()],
                                                    "useraccountcontrol": [b"512"]}) for dn in users})
        self.reads = 0

    def search_one(self, base: str, attributes: list[str]):
        self.reads += 1
        return self.entries.get(base.lower())


def test_member_paths_are_bounded_and_a_group_cycle_ends():
    from scanner.collectors.ldap.ad import MAX_MEMBER_PATHS, expand_members

    fan = [f"CN=F{i}" for i in range(12)]  # twelve groups, each holding the user: twelve ways in
    groups = {"CN=DA": ["CN=A", *fan], "CN=A": ["CN=B", "CN=u"], "CN=B": ["CN=A", "CN=u"],  # A and B hold each other
              **{f: ["CN=u"] for f in fan}}
    d = FakeDirectory(groups, ["CN=u"])
    (m,) = expand_members(d, d.entries["cn=da"], {})
    assert (m.sam, m.nested, len(m.paths)) == ("u", True, MAX_MEMBER_PATHS)
    assert [p.groups for p in m.paths[:2]] == [("CN=A",), ("CN=F0",)]  # shortest first, in the order found
    assert d.reads == 15  # every group and the user read once, the cycle cut


# -- Active Directory --------------------------------------------------------------------------------------------
def test_ad_grants_name_every_hop_and_every_path():
    da = PrivilegedGroup("Domain Admins", "S-1-5-21-1-512", f"CN=Domain Admins,CN=Users,{BASE}", (
        GroupMember("eve", f"CN=eve,CN=Users,{BASE}", True, True, paths=(
            MemberPath(("CN=G2", "CN=G1")), MemberPath(("CN=G3",), primary_group=True))),
        GroupMember("pam", f"CN=pam,CN=Users,{BASE}", False, True, True, paths=(MemberPath((), True),)),
        GroupMember("SRV1$", f"CN=SRV1,CN=Computers,{BASE}", False, False, paths=(MemberPath(()),))))
    ea = PrivilegedGroup("Enterprise Admins", "S-1-5-21-1-519", "", (), held_by="DC=root,DC=test")
    users = (ad_user("eve", "S-1-5-21-1-1105"), ad_user("pam"), ad_user("Guest"),
             ad_user("root", "S-1-5-21-1-500", locked=True))
    built = build(TARGET, facts("ad", users=users, privileged_groups=(da, ea)))
    got = {a.name: (a.id, a.type, a.type_reason, a.locked, a.enabled, [g.why for g in a.grants])
           for a in built.accounts}
    dn = f"CN=Domain Admins,CN=Users,{BASE}"
    assert got == {
        "eve": ("S-1-5-21-1-1105", AccountType.PERSON, "a named account not listed as service, shared or built-in",
                None, True, [f"member of Domain Admins ({dn}) through nested groups Domain Admins > CN=G2 > CN=G1 > "
                             "the account; also through nested groups Domain Admins > CN=G3 > the account (the last "
                             "one its primary group, primaryGroupID)"]),
        "pam": (f"CN=pam,CN=Users,{BASE}", AccountType.PERSON,
                "a named account not listed as service, shared or built-in", None, True,
                [f"member of Domain Admins ({dn}) through its primary group (primaryGroupID)"]),
        "Guest": (f"CN=Guest,CN=Users,{BASE}", AccountType.BUILTIN, "the domain's built-in Guest (RID 501)", None,
                  True, []),
        "root": ("S-1-5-21-1-500", AccountType.BUILTIN, "the domain's built-in Administrator (RID 500)", True, True,
                 []),
        "SRV1$": (f"CN=SRV1,CN=Computers,{BASE}", AccountType.SERVICE,
                  "not a user account: a computer, managed service account or other principal that is a member of "
                  "a privileged group", None, False, [f"member of Domain Admins ({dn}) directly"]),
    }
    assert built.notes == (LAST_LOGON_NOTE, "Enterprise Admins lives in the forest root domain DC=root,DC=test: "
                           "its members are not read here (review that domain as its own target)")


@pytest.mark.parametrize("flavor, values, error", [
    ("ad", {"privileged_groups": ()}, "ldap.users: not collected (the ad access list needs it)"),
    ("ad", {"users": Fact.failed("ldap.users", "ldap.users: no user accounts visible"), "privileged_groups": ()},
     "ldap.users: ldap.users: no user accounts visible"),
    ("ad", {"users": (), "privileged_groups": Fact.failed("ldap.privileged_groups", "x")}, "ldap.privileged_groups: x"),
    ("openldap", {"accounts": Fact.failed("ldap.accounts", "boom")}, "ldap.accounts: boom"),
    ("openldap", {"accounts": Fact("ldap.accounts", None)}, "ldap.accounts: no value"),
])
def test_a_broken_account_fact_of_the_flavour_makes_the_system_error(flavor, values, error):
    with pytest.raises(Unavailable, match="^" + error.replace("(", r"\(").replace(")", r"\)") + "$"):
        build(TARGET, facts(flavor, **values))
    listed = system_access(TARGET, facts(flavor, **values))
    assert listed is not None and (listed.error, listed.accounts) == (error, ())


def test_the_extractor_needs_only_what_both_flavours_have():
    assert EXTRACTOR.facts == ("ldap.root_dse",)
    assert set(EXTRACTOR.optional) == {"ldap.users", "ldap.privileged_groups", "ldap.accounts", "ldap.access_rules"}


# -- real servers ------------------------------------------------------------------------------------------------
SUFFIX = "dc=good,dc=test"
CAROL_PW = "Carol-Long-Passw0rd-91"
CAROL_ENV = "GXLAB_ACCDIR_CAROL_PW"


def _slapd_ldif() -> str:
    hostile = base64.b64encode(HOSTILE.encode()).decode()
    from tests.lab.slapdlab import ssha
    return f"""dn: ou=groups,{SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: ou=services,{SUFFIX}
objectClass: organizationalUnit
ou: services

dn: uid=carol,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: carol
cn: carol
sn: carol
userPassword: {ssha(CAROL_PW)}
pwdChangedTime: 20261101120000Z

dn: uid=dave,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: dave
cn: dave
sn: dave
pwdAccountLockedTime: 000001010000Z

dn: uid=erin,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: erin
cn: erin
sn: erin
pwdAccountLockedTime: 20261130100000Z

dn: uid=frank,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: frank
cn: frank
sn: frank
pwdAccountLockedTime: {datetime.now(timezone.utc).strftime("%Y%m%d%H%M%SZ")}

dn: cn=hostile,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid:: {hostile}
cn: hostile
sn: hostile

dn: cn=app,ou=services,{SUFFIX}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: app
userPassword: {ssha("App-Long-Passw0rd-5")}

dn: cn=ldapadmins,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: ldapadmins
member: uid=carol,ou=people,{SUFFIX}

dn: cn=staff,ou=groups,{SUFFIX}
objectClass: posixGroup
cn: staff
gidNumber: 5000
memberUid: alice
"""


#: the rule this module's slapd adds before the lab's "access to *" rule
WRITE_RULE = (f'access to dn.subtree="ou=people,{SUFFIX}" by group.exact="cn=ldapadmins,ou=groups,{SUFFIX}" write '
              f'by dn.exact="cn=app,ou=services,{SUFFIX}" manage by users read by * none')


@pytest.fixture(scope="module")
def slapd(slapd_lab, tmp_path_factory):
    from tests.lab import slapdlab

    root = tmp_path_factory.mktemp("accdir-slapd")
    cert = slapdlab.issue_cert(slapd_lab.ca, root / "tls", "localhost", ("localhost",), ("127.0.0.1",))
    server = slapdlab.build(replace(slapdlab.GOOD, name="accdir", extra_ldif=_slapd_ldif()), root, slapd_lab.ca, cert)
    conf = server.directory / "slapd.conf"
    anchor = "access to * by users read"
    conf.write_text(conf.read_text().replace(anchor, WRITE_RULE + "\n" + anchor))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _slapd_target(slapd_lab, server, **options) -> Target:
    opts = {"url": server.ldap_url, "starttls": True, "ca_file": str(slapd_lab.ca.cert), "bind_dn": server.admin_dn,
            "password_env": "GXLAB_SLAPD_PASSWORD", "timeout": 10, **options}
    return Target(name="slapd-accdir", type=Platform.LDAP, options=opts, policy={})


def _rows(listed):
    return {a.name: (a.type.value, a.enabled, a.locked, a.groups, [(g.privilege, g.why) for g in a.grants])
            for a in listed.accounts}


def test_openldap_access_list_against_a_real_slapd(slapd_lab, slapd):
    from tests.lab.slapdlab import ADMIN_PASSWORD

    out = scan_target(_slapd_target(slapd_lab, slapd), [], {}, access=True)
    listed = out.access
    assert listed is not None and listed.error is None, listed
    assert (listed.flavor, listed.notes) == ("openldap", (NO_LAST_BIND_NOTE,))
    db = "olcDatabase={1}mdb,cn=config"
    rule = (f"olcAccess {{1}} of {db}: '{{1}}to dn.subtree=\"ou=people,{SUFFIX}\"  by group/groupOfNames/member."
            f"exact=\"cn=ldapadmins,ou=groups,{SUFFIX}\" write  by dn.base=\"cn=app,ou=services,{SUFFIX}\" manage  "
            "by users read  by * none'")
    person, service, builtin = "person", "service", "builtin"
    assert _rows(listed) == {
        "alice": (person, True, False, (f"cn=staff,ou=groups,{SUFFIX}",), []),
        "bob": (person, True, False, (), []),
        "carol": (person, True, False, (f"cn=ldapadmins,ou=groups,{SUFFIX}",), [
            ("olcAccess write", f"{rule} grants write to the members of group cn=ldapadmins,ou=groups,{SUFFIX}")]),
        "dave": (person, False, True, (), []),  # locked until an administrator unlocks: disabled
        "erin": (person, True, False, (), []),  # locked yesterday, the policy's 30 minutes have run out
        "frank": (person, True, True, (), []),  # locked now
        HOSTILE: (person, True, False, (), []),
        "app": (service, True, False, (), [
            ("olcAccess manage", f"{rule} grants manage to dn.base=cn=app,ou=services,{SUFFIX}")]),
        f"cn=admin,{SUFFIX}": (builtin, None, None, (), [
            ("rootDN", f"rootDN (olcRootDN) of {db} (suffix {SUFFIX}): every access control is bypassed")]),
        "cn=config": (builtin, None, None, (), [
            ("rootDN", "rootDN (olcRootDN) of olcDatabase={0}config,cn=config: every access control is bypassed")]),
    }
    carol = next(a for a in listed.accounts if a.name == "carol")
    assert (carol.id, carol.password_changed) == (f"uid=carol,ou=people,{SUFFIX}",
                                                   datetime(2026, 11, 1, 12, tzinfo=timezone.utc))
    assert carol.evidence == ("ldap.accounts", "ldap.access_rules")
    assert ADMIN_PASSWORD not in json.dumps(system_to_dict(listed)) + repr(out.evidence)


def test_openldap_without_cn_config_lists_accounts_and_says_privilege_is_unverified(slapd_lab, slapd, monkeypatch):
    monkeypatch.setenv(CAROL_ENV, CAROL_PW)
    target = _slapd_target(slapd_lab, slapd, bind_dn=f"uid=carol,ou=people,{SUFFIX}", password_env=CAROL_ENV)
    listed = scan_target(target, [], {}, access=True).access
    assert listed is not None and listed.error is None, listed
    assert {a.name: a.locked for a in listed.accounts} == {
        "alice": False, "bob": False, "carol": False, "dave": True, "erin": None, "frank": None, HOSTILE: False,
        "app": False}  # a timed lock's policy is in cn=config: whether it still holds is unknown
    assert all(not a.grants for a in listed.accounts)
    assert UNREADABLE_ACL_NOTE in listed.notes
    assert any(n.startswith("ldap.access_rules not available (ldap.access_rules: cn=config is not readable")
               for n in listed.notes)
    assert CAROL_PW not in json.dumps(system_to_dict(listed))


class ADLab:
    """This module's domain controller (a copy of the compliant lab domain) and what the test added to it."""

    def __init__(self, dc, ca):
        self.dc, self.ca = dc, ca
        self.users = f"CN=Users,{dc.profile.base_dn}"

    def admin(self):
        import ldap3

        from scanner.connectors.ldap import verified_tls
        from tests.lab import sambalab
        tls = verified_tls(self.dc.ip, str(self.ca.cert))  # ldap3's own name check refuses IP SANs from 3.12 on
        conn = ldap3.Connection(ldap3.Server(self.dc.ip, port=636, use_ssl=True, tls=tls),
                                user=self.dc.admin_upn, password=sambalab.ADMIN_PASSWORD)
        assert conn.bind(), conn.result
        return conn

    def populate(self) -> None:
        import ldap3
        from ldap3.utils.dn import escape_rdn

        from scanner.collectors.ldap.ad import sid_to_str
        from scanner.connectors.ldap import verified_tls
        from tests.lab import sambalab
        conn = self.admin()

        def add(cn: str, kind: str, **attrs: str) -> str:
            dn = f"CN={escape_rdn(cn)},{self.users}"
            if kind == "user":
                attrs["unicodePwd"] = f'"{sambalab.USER_PASSWORD}"'.encode("utf-16-le")  # type: ignore
            assert conn.add(dn, kind, attrs), conn.result
            return dn

        def member(group: str, dn: str) -> None:
            assert conn.modify(group, {"member": [(ldap3.MODIFY_ADD, [dn])]}), conn.result

        try:
            da = f"CN=Domain Admins,{self.users}"
            g2, g1 = add("G2 Tier", "group", sAMAccountName="g2tier"), add(HOSTILE, "group", sAMAccountName="g1")
            c1, c2 = add("Cycle One", "group", sAMAccountName="cycle1"), add("Cycle Two", "group",
                                                                               sAMAccountName="cycle2")
            member(da, g2), member(g2, g1), member(da, c1), member(c1, c2), member(c2, c1)
            member(g1, add("chain.user", "user", sAMAccountName="chain.user", userAccountControl="512"))
            member(c2, add("cyc.user", "user", sAMAccountName="cyc.user", userAccountControl="512"))
            add(HOSTILE + " user", "user", sAMAccountName="@HYPERLINK('x')-q", userAccountControl="512")
            add("dis.user", "user", sAMAccountName="dis.user", userAccountControl="514")
            add("lock.user", "user", sAMAccountName="lock.user", userAccountControl="512")
            prim = add("prim.user", "user", sAMAccountName="prim.user", userAccountControl="512")
            member(g1, prim)
            conn.search(g1, "(objectClass=*)", ldap3.BASE, attributes=["objectSid"])
            rid = sid_to_str(conn.entries[0].entry_raw_attributes["objectSid"][0]).rsplit("-", 1)[1]
            assert conn.modify(prim, {"primaryGroupID": [(ldap3.MODIFY_REPLACE, [rid])]}), conn.result
        finally:
            conn.unbind()
        tls_server = ldap3.Server(self.dc.ip, port=636, use_ssl=True, tls=verified_tls(self.dc.ip, str(self.ca.cert)))
        for _ in range(6):  # the domain locks an account after 5 bad passwords
            assert not ldap3.Connection(tls_server, user=f"lock.user@{self.dc.profile.realm}",
                                        password="not-the-password").bind()


@pytest.fixture(scope="module")
def ad(samba_lab, tmp_path_factory):
    from tests.lab import sambalab

    own = sambalab.SambaDC(sambalab.GOOD, tmp_path_factory.mktemp("accdir-dc") / "good", sambalab.claim_net(),
                           claimed=True)
    try:
        own.provision(samba_lab.ca, cache=sambalab.cache_root())
        own.start()
        lab = ADLab(own, samba_lab.ca)
        lab.populate()
        yield lab
    finally:
        own.stop()


def _ad_target(lab: ADLab) -> Target:
    from tests.lab import sambalab
    opts = {"url": lab.dc.ldaps_url, "ca_file": str(lab.ca.cert), "bind_dn": lab.dc.admin_upn,
            "password_env": sambalab.PASSWORD_ENV, "timeout": 10}
    return Target(name="ad-accdir", type=Platform.LDAP, options=opts, policy={})


def test_ad_access_list_against_a_real_domain_controller(ad):
    from tests.lab import sambalab

    out = scan_target(_ad_target(ad), [], {}, access=True)
    listed = out.access
    assert listed is not None and listed.error is None, listed
    assert (listed.flavor, listed.notes) == ("ad", (LAST_LOGON_NOTE,))
    u, b = ad.users, f"CN=Builtin,{ad.dc.profile.base_dn}"
    da, adm = f"member of Domain Admins (CN=Domain Admins,{u})", f"member of Administrators (CN=Administrators,{b})"
    g1 = "CN=\\3DHYPERLINK(\\\"http://x\\\"\\,\\\"y\\\")\\, 'q' \x1b[31m," + u  # the DN as AD spells it
    chain = f"CN=G2 Tier,{u} > {g1}"
    cycle = f"CN=Cycle One,{u} > CN=Cycle Two,{u}"
    primary = " (the last one its primary group, primaryGroupID)"
    person, builtin = "person", "builtin"
    rows = _rows(listed)
    admin_groups = rows.pop("Administrator")[4]
    assert rows == {
        "@HYPERLINK('x')-q": (person, True, False, (), []),
        "alice.smith": (person, True, False, (f"CN=Finance,{u}",), []),
        "bob.jones": (person, True, False, (), []),
        "svc_backup": (person, True, False, (), []),
        "chain.user": (person, True, False, (g1,), [
            ("Administrators", f"{adm} through nested groups Administrators > CN=Domain Admins,{u} > {chain} > "
                               "the account"),
            ("Domain Admins", f"{da} through nested groups Domain Admins > {chain} > the account")]),
        "cyc.user": (person, True, False, (f"CN=Cycle Two,{u}",), [
            ("Administrators", f"{adm} through nested groups Administrators > CN=Domain Admins,{u} > {cycle} > "
                               "the account"),
            ("Domain Admins", f"{da} through nested groups Domain Admins > {cycle} > the account")]),
        "prim.user": (person, True, False, (f"CN=Domain Users,{u}",), [
            ("Administrators", f"{adm} through nested groups Administrators > CN=Domain Admins,{u} > {chain} > "
                               f"the account{primary}"),
            ("Domain Admins", f"{da} through nested groups Domain Admins > {chain} > the account{primary}")]),
        "dis.user": (person, False, False, (), []),
        "lock.user": (person, True, True, (), []),
        "Guest": (builtin, False, False, (f"CN=Guests,{b}",), []),
        "krbtgt": (builtin, False, False, (f"CN=Denied RODC Password Replication Group,{u}",), []),
    }
    assert [p for p, _ in admin_groups] == ["Administrators", "Domain Admins", "Enterprise Admins", "Schema Admins"]
    assert dict(admin_groups)["Domain Admins"] == f"{da} directly"
    by_name = {a.name: a for a in listed.accounts}
    assert by_name["Administrator"].type_reason == "the domain's built-in Administrator (RID 500)"
    assert all(a.id.startswith("S-1-5-21-") and a.last_logon_known for a in listed.accounts)
    assert by_name["Administrator"].last_logon is not None  # the scan itself logged on as Administrator
    text = json.dumps(system_to_dict(listed)) + repr(out.evidence)
    assert sambalab.ADMIN_PASSWORD not in text and sambalab.USER_PASSWORD not in text


def test_ad_with_the_users_fact_broken_is_an_error_not_a_partial_list(ad, monkeypatch):
    """Real facts from the lab DC, then the users fact as a failed search would leave it."""
    from scanner.runner import collect_facts

    target = _ad_target(ad)
    got = collect_facts(target, set(EXTRACTOR.all_facts))
    assert system_access(target, got).error is None  # type: ignore[union-attr]
    got["ldap.users"] = Fact.failed("ldap.users", "ldap.users: the search failed")
    listed = system_access(target, got)
    assert listed is not None and (listed.error, listed.accounts) == ("ldap.users: ldap.users: the search failed", ())

