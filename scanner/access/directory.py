"""Directory access lists: every account of an Active Directory domain or an OpenLDAP tree, and why it may write.

Active Directory (``ldap.users``, ``ldap.privileged_groups``): every user account; privileged means a member of a
privileged group (Domain Admins, Administrators, the Operators groups, ...), directly, through nested groups (each
hop named) or through its primary group. OpenLDAP (``ldap.accounts``, ``ldap.access_rules``): every account entry;
privileged means a database's rootDN or a ``by`` clause of an olcAccess rule that grants write, add, delete or
manage. Both flavours' facts are optional for the engine (a directory has only one flavour); the build raises
``Unavailable`` when its own flavour's account fact is missing or broken.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from scanner.access.classify import account_type
from scanner.access.extract import Built, Extractor, Unavailable
from scanner.access.model import Account, Grant
from scanner.collectors.ldap.common import normalize_dn
from scanner.facts.ldap import (
    AccessRules,
    AclRule,
    AclWriter,
    DirectoryInfo,
    DirectoryUser,
    GroupMember,
    LdapAccount,
    LdapAccounts,
    LdapGroup,
    MemberPath,
    PrivilegedGroup,
)
from scanner.model import Fact, Target

PLATFORM = "ldap"
#: the domain's own accounts by RID (S-1-5-21-<domain>-<rid>)
BUILTIN_RIDS = {500: "the domain's built-in Administrator (RID 500)", 501: "the domain's built-in Guest (RID 501)",
                502: "the domain's Kerberos key account krbtgt (RID 502)",
                503: "the domain's built-in DefaultAccount (RID 503)"}
BUILTIN_NAMES = {"administrator": 500, "guest": 501, "krbtgt": 502, "defaultaccount": 503}
LAST_LOGON_NOTE = ("last logon is lastLogonTimestamp, which domain controllers replicate with up to ~14 days' "
                   "lag: an account used in the last two weeks may show an older logon")
UNREADABLE_ACL_NOTE = ("the olcAccess rules and rootDNs in cn=config were not readable by this bind: who may write "
                       "is unverified, so no account is shown as privileged and none is proven unprivileged")
NO_LAST_BIND_NOTE = ("last logon unknown: no entry carries pwdLastSuccess (slapd records it only with "
                     "olcLastBind on)")


def _fact(facts: Mapping[str, Fact], name: str, flavor: str) -> object:
    fact = facts.get(name)
    if fact is None:
        raise Unavailable(f"{name}: not collected (the {flavor} access list needs it)")
    if not fact.ok or fact.value is None:
        raise Unavailable(f"{name}: {fact.error or fact.inapplicable or 'no value'}")
    return fact.value


def _sorted(grants: Iterable[Grant]) -> tuple[Grant, ...]:
    """Each grant once, in a stable order (a diff between reviews compares them)."""
    return tuple(sorted(dict.fromkeys(grants), key=lambda g: (g.privilege, g.why)))


# -- Active Directory ---------------------------------------------------------------------------------
def _rid(sid: str | None) -> int | None:
    if not sid or not sid.startswith("S-1-5-21-"):
        return None
    tail = sid.rsplit("-", 1)[1]
    return int(tail) if tail.isdigit() else None


def _ad_builtin(u: DirectoryUser) -> str | None:
    rid = _rid(u.sid) if u.sid else BUILTIN_NAMES.get(u.sam.lower())
    return BUILTIN_RIDS.get(rid) if rid is not None else None


def _path_text(group: PrivilegedGroup, path: MemberPath) -> str:
    if not path.groups:
        return "through its primary group (primaryGroupID)" if path.primary_group else "directly"
    hops = " > ".join((group.name, *path.groups))
    last = " (the last one its primary group, primaryGroupID)" if path.primary_group else ""
    return f"through nested groups {hops} > the account{last}"


def ad_why(group: PrivilegedGroup, m: GroupMember) -> str:
    paths = m.paths or (MemberPath(("(path not recorded)",) if m.nested else (), m.primary_group),)
    return f"member of {group.name} ({group.dn}) " + "; also ".join(
        _path_text(group, p) for p in paths)


def _ad(target: Target, facts: Mapping[str, Fact]) -> Built:
    users: tuple[DirectoryUser, ...] = _fact(facts, "ldap.users", "ad")  # type: ignore[assignment]
    groups: tuple[PrivilegedGroup, ...] = _fact(facts, "ldap.privileged_groups", "ad")  # type: ignore[assignment]
    grants: dict[str, list[Grant]] = {}
    others: dict[str, GroupMember] = {}
    notes = [LAST_LOGON_NOTE]
    keys = [normalize_dn(u.dn) for u in users]
    known = set(keys)
    for g in groups:
        if g.held_by is not None:
            notes.append(f"{g.name} lives in the forest root domain {g.held_by}: its members are not read here "
                         "(review that domain as its own target)")
            continue
        for m in g.members:
            key = normalize_dn(m.dn)
            grants.setdefault(key, []).append(Grant(g.name, ad_why(g, m), "ldap.privileged_groups"))
            if key not in known:
                others.setdefault(key, m)
    accounts = [_ad_user(target, u, grants.get(key, [])) for u, key in zip(users, keys, strict=True)]
    for key, m in others.items():
        kind, reason = account_type(target, m.sam, service="not a user account: a computer, managed service "
                                    "account or other principal that is a member of a privileged group")
        accounts.append(Account(system=target.name, platform=PLATFORM, name=m.sam, id=m.dn, type=kind,
                                type_reason=reason, enabled=m.enabled, locked=None,
                                grants=_sorted(grants[key]),
                                evidence=("ldap.privileged_groups",)))
    return Built(tuple(sorted(accounts, key=lambda a: (a.name.lower(), a.id))), tuple(notes), "ad")


def _ad_user(target: Target, u: DirectoryUser, grants: list[Grant]) -> Account:
    kind, reason = account_type(target, u.sam, builtin=_ad_builtin(u))
    return Account(
        system=target.name, platform=PLATFORM, name=u.sam, id=u.sid or u.dn, type=kind, type_reason=reason,
        enabled=u.enabled, locked=u.locked, grants=_sorted(grants),
        last_logon=u.last_logon, last_logon_known=True, password_changed=u.pwd_last_set, groups=u.member_of,
        evidence=("ldap.users", "ldap.privileged_groups") if grants else ("ldap.users",))


# -- OpenLDAP -----------------------------------------------------------------------------------------
UNVERIFIED = " (unverified)"
EXACT_STYLES = frozenset({"base", "exact", "baseobject"})
#: a regex longer than this, or with a quantified group that holds a quantifier, is not run (catastrophic
#: backtracking over every account): the clause is unverified instead
MAX_REGEX = 512
NESTED_QUANTIFIER = re.compile(r"\([^)]*[+*}][^)]*\)[+*{?]")


def _dn_matches(w: AclWriter, dn: str) -> bool | None:
    """Whether a dn/realdn clause names ``dn``; None when it cannot be told (a regex with substitutions, or one
    too costly to run)."""
    pattern, target = normalize_dn(w.pattern), normalize_dn(dn)
    style = w.style.lower()
    if style in EXACT_STYLES:
        return target == pattern
    if style in ("one", "onelevel"):
        return target.split(",", 1)[-1] == pattern and target != pattern
    if style in ("sub", "subtree"):
        return target == pattern or target.endswith("," + pattern)
    if style == "children":
        return target.endswith("," + pattern)
    if style == "regex" and not re.search(r"\$\d|\$\{", w.pattern) and len(w.pattern) <= MAX_REGEX \
            and not NESTED_QUANTIFIER.search(w.pattern):
        try:
            return re.fullmatch(w.pattern, dn, re.IGNORECASE) is not None or \
                re.fullmatch(w.pattern, target, re.IGNORECASE) is not None
        except re.error:
            return None
    return None


def _level(w: AclWriter) -> str:
    word = w.level.lower()
    return "manage" if word.endswith("manage") or (word[:1] in "=+" and "m" in word) else "write"


def _whom(w: AclWriter, accounts: LdapAccounts, groups: Mapping[str, LdapGroup]) -> tuple[list[str], str] | None:
    """The DNs a write clause names (as spelled) and how to say it; None when not resolvable here. A DN that
    is no account entry (another database, a SASL identity, a group member elsewhere) is named all the same."""
    if w.who in ("users", "anyone"):
        return [a.dn for a in accounts.accounts], ("every authenticated user (by users)" if w.who == "users"
                                                   else "everyone (by *)")
    if w.who == "group":
        g = groups.get(normalize_dn(w.pattern)) if w.style.lower() == "exact" else None
        return (list(g.members), f"the members of group {g.dn}") if g else None
    if w.who == "dn":
        matches = [(a.dn, _dn_matches(w, a.dn)) for a in accounts.accounts]
        if any(yes is None for _, yes in matches):
            return None
        hit = [dn for dn, yes in matches if yes]
        if not hit and w.style.lower() in EXACT_STYLES:
            hit = [w.pattern]
        return hit, f"dn.{w.style}={w.pattern}"
    return None  # other: set=, dnattr=, ...


def _rule_grants(rule: AclRule, accounts: LdapAccounts) -> tuple[list[tuple[str, Grant]], list[str]]:
    """(DN, grant) for each identity this rule lets write; and notes (anonymous write)."""
    where = f"olcAccess {{{rule.index}}} of {rule.database}: '{rule.text}'"
    everyone = [a.dn for a in accounts.accounts]
    if not rule.parsed:
        g = Grant("olcAccess write" + UNVERIFIED, f"may grant write: {where} could not be parsed", "ldap.access_rules")
        return [(dn, g) for dn in everyone], []
    out: list[tuple[str, Grant]] = []
    notes: list[str] = []
    groups = {normalize_dn(g.dn): g for g in accounts.groups}
    for w in rule.writers:
        level = _level(w)
        only = f" (only when {' '.join(w.conditions)})" if w.conditions else ""
        if w.who in ("anonymous", "anyone"):
            notes.append(f"{where} grants {w.level} to anonymous clients{only}")
        if w.who in ("self", "anonymous"):
            continue  # an entry writing its own attributes is no privilege over others; anonymous is no account
        found = _whom(w, accounts, groups)
        if found is None:
            unverified = Grant(f"olcAccess {level}{UNVERIFIED}", f"may grant {w.level}: {where} names "
                               f"'{w.pattern}', which is not resolved to accounts here{only}", "ldap.access_rules")
            out += [(dn, unverified) for dn in everyone]
            continue
        hit, whom = found
        granted = Grant(f"olcAccess {level}", f"{where} grants {w.level} to {whom}{only}", "ldap.access_rules")
        out += [(dn, granted) for dn in hit]
    return out, notes


def _ldap_account(target: Target, a: LdapAccount, grants: Iterable[Grant], tracks_last_bind: bool) -> Account:
    kind, reason = account_type(target, a.name, service=None if a.person else
                                "a bind identity without a person object class (simpleSecurityObject, application)")
    got = _sorted(grants)
    return Account(
        system=target.name, platform=PLATFORM, name=a.name, id=a.dn, type=kind, type_reason=reason,
        enabled=not a.locked_permanently, locked=a.locked, grants=got, last_logon=a.last_success,
        last_logon_known=tracks_last_bind, password_changed=a.password_changed, groups=a.groups,
        evidence=("ldap.accounts", "ldap.access_rules") if got else ("ldap.accounts",))


def _identity(target: Target, dn: str, grants: list[Grant], root: bool) -> Account:
    """A DN that may write but is no account entry under the base DN: a rootDN, or one an olcAccess rule names."""
    kind, reason = account_type(target, dn, **(
        {"builtin": "a database's rootDN (olcRootDN): an identity defined in the server configuration, not an entry"}
        if root else {"service": "an identity an olcAccess rule lets write that is no account entry under the base "
                                 "DN (another database, a SASL identity, ...)"}))
    return Account(system=target.name, platform=PLATFORM, name=dn, id=dn, type=kind, type_reason=reason,
                   enabled=None, locked=None, grants=_sorted(grants), evidence=("ldap.access_rules",))


def _openldap(target: Target, facts: Mapping[str, Fact]) -> Built:
    accounts: LdapAccounts = _fact(facts, "ldap.accounts", "openldap")  # type: ignore[assignment]
    rules_fact = facts.get("ldap.access_rules")
    notes: list[str] = [] if accounts.tracks_last_bind else [NO_LAST_BIND_NOTE]
    grants: dict[str, list[Grant]] = {}
    spelled: dict[str, str] = {}  # normalised DN -> the DN as first written
    roots: set[str] = set()
    if rules_fact is None or not rules_fact.ok or not isinstance(rules_fact.value, AccessRules):
        notes.append(UNREADABLE_ACL_NOTE)
    else:
        given: list[tuple[str, Grant]] = []
        for db in rules_fact.value.databases:
            if db.root_dn:
                suffix = f" (suffix {', '.join(db.suffixes)})" if db.suffixes else ""
                given.append((db.root_dn, Grant("rootDN", f"rootDN (olcRootDN) of {db.database}{suffix}: every "
                                                "access control is bypassed", "ldap.access_rules")))
                roots.add(normalize_dn(db.root_dn))
        for rule in rules_fact.value.rules:
            by_rule, rule_notes = _rule_grants(rule, accounts)
            given += by_rule
            notes += rule_notes
        for dn, g in given:
            key = normalize_dn(dn)
            spelled.setdefault(key, dn)
            grants.setdefault(key, []).append(g)
    entries = {normalize_dn(a.dn) for a in accounts.accounts}
    rows = [_ldap_account(target, a, grants.get(normalize_dn(a.dn), ()), accounts.tracks_last_bind)
            for a in accounts.accounts]
    rows += [_identity(target, spelled[key], got, key in roots) for key, got in grants.items() if key not in entries]
    return Built(tuple(sorted(rows, key=lambda a: (a.name.lower(), a.id))), tuple(dict.fromkeys(notes)), "openldap")


def build(target: Target, facts: Mapping[str, Fact]) -> Built:
    info = facts["ldap.root_dse"].value
    if not isinstance(info, DirectoryInfo):
        raise Unavailable("ldap.root_dse: no directory information")
    return _ad(target, facts) if info.flavor == "ad" else _openldap(target, facts)


EXTRACTOR = Extractor(facts=("ldap.root_dse",), build=build,
                      optional=("ldap.users", "ldap.privileged_groups", "ldap.accounts", "ldap.access_rules"))
