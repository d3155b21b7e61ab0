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


def _norm(dn: str) -> str:
    """Case and the spaces around separators do not change a DN."""
    return ",".join("=".join(p.strip() for p in rdn.split("=", 1)) for rdn in dn.lower().split(","))


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
    known = {_norm(u.dn) for u in users}
    for g in groups:
        if g.held_by is not None:
            notes.append(f"{g.name} lives in the forest root domain {g.held_by}: its members are not read here "
                         "(review that domain as its own target)")
            continue
        for m in g.members:
            key = _norm(m.dn)
            grants.setdefault(key, []).append(Grant(g.name, ad_why(g, m), "ldap.privileged_groups"))
            if key not in known:
                others.setdefault(key, m)
    accounts = [_ad_user(target, u, grants.get(_norm(u.dn), [])) for u in users]
    for key, m in others.items():
        kind, reason = account_type(target, m.sam, service="not a user account: a computer, managed service "
                                    "account or other principal that is a member of a privileged group")
        accounts.append(Account(system=target.name, platform=PLATFORM, name=m.sam, id=m.dn, type=kind,
                                type_reason=reason, enabled=m.enabled, locked=None,
                                grants=tuple(sorted(grants[key], key=lambda x: x.privilege)),
                                evidence=("ldap.privileged_groups",)))
    return Built(tuple(sorted(accounts, key=lambda a: (a.name.lower(), a.id))), tuple(notes), "ad")


def _ad_user(target: Target, u: DirectoryUser, grants: list[Grant]) -> Account:
    kind, reason = account_type(target, u.sam, builtin=_ad_builtin(u))
    return Account(
        system=target.name, platform=PLATFORM, name=u.sam, id=u.sid or u.dn, type=kind, type_reason=reason,
        enabled=u.enabled, locked=u.locked, grants=tuple(sorted(grants, key=lambda g: g.privilege)),
        last_logon=u.last_logon, last_logon_known=True, password_changed=u.pwd_last_set, groups=u.member_of,
        evidence=("ldap.users", "ldap.privileged_groups") if grants else ("ldap.users",))


# -- OpenLDAP -----------------------------------------------------------------------------------------
UNVERIFIED = " (unverified)"


def _dn_matches(w: AclWriter, dn: str) -> bool | None:
    """Whether a dn/realdn clause names ``dn``; None when it cannot be told (a regex with substitutions)."""
    pattern, target = _norm(w.pattern), _norm(dn)
    style = w.style.lower()
    if style in ("base", "exact", "baseobject"):
        return target == pattern
    if style in ("one", "onelevel"):
        return target.split(",", 1)[-1] == pattern and target != pattern
    if style in ("sub", "subtree"):
        return target == pattern or target.endswith("," + pattern)
    if style == "children":
        return target.endswith("," + pattern)
    if style == "regex" and not re.search(r"\$\d|\$\{", w.pattern):
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
    """The accounts (normalised DNs) a write clause names and how to say it; None when not resolvable here."""
    if w.who in ("users", "anyone"):
        return [_norm(a.dn) for a in accounts.accounts], ("every authenticated user (by users)" if w.who == "users"
                                                          else "everyone (by *)")
    if w.who == "group":
        g = groups.get(_norm(w.pattern)) if w.style.lower() == "exact" else None
        return ([_norm(m) for m in g.members], f"the members of group {g.dn}") if g else None
    if w.who == "dn":
        matches = [(a.dn, _dn_matches(w, a.dn)) for a in accounts.accounts]
        if any(yes is None for _, yes in matches):
            return None
        return [_norm(dn) for dn, yes in matches if yes], f"dn.{w.style}={w.pattern}"
    return None  # other: set=, dnattr=, ...


def _rule_grants(rule: AclRule, accounts: LdapAccounts) -> tuple[dict[str, Grant], list[str]]:
    """Account DN (normalised) -> the grant this rule gives it; and notes (anonymous write)."""
    where = f"olcAccess {{{rule.index}}} of {rule.database}: '{rule.text}'"
    everyone = [_norm(a.dn) for a in accounts.accounts]
    if not rule.parsed:
        g = Grant("olcAccess write" + UNVERIFIED, f"may grant write: {where} could not be parsed", "ldap.access_rules")
        return dict.fromkeys(everyone, g), []
    out: dict[str, Grant] = {}
    notes: list[str] = []
    groups = {_norm(g.dn): g for g in accounts.groups}
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
            for key in everyone:
                out.setdefault(key, unverified)
            continue
        hit, whom = found
        for key in hit:
            out[key] = Grant(f"olcAccess {level}", f"{where} grants {w.level} to {whom}{only}", "ldap.access_rules")
    return out, notes


def _ldap_account(target: Target, a: LdapAccount, grants: Iterable[Grant], tracks_last_bind: bool) -> Account:
    kind, reason = account_type(target, a.name, service=None if a.person else
                                "a bind identity without a person object class (simpleSecurityObject, application)")
    got = tuple(sorted(grants, key=lambda g: (g.privilege, g.why)))
    return Account(
        system=target.name, platform=PLATFORM, name=a.name, id=a.dn, type=kind, type_reason=reason,
        enabled=not a.locked_permanently, locked=a.locked, grants=got, last_logon=a.last_success,
        last_logon_known=tracks_last_bind, password_changed=a.password_changed, groups=a.groups,
        evidence=("ldap.accounts", "ldap.access_rules") if got else ("ldap.accounts",))


def _openldap(target: Target, facts: Mapping[str, Fact]) -> Built:
    accounts: LdapAccounts = _fact(facts, "ldap.accounts", "openldap")  # type: ignore[assignment]
    rules_fact = facts.get("ldap.access_rules")
    notes: list[str] = [] if accounts.tracks_last_bind else [NO_LAST_BIND_NOTE]
    grants: dict[str, list[Grant]] = {}
    roots: dict[str, tuple[str, list[Grant]]] = {}
    if rules_fact is None or not rules_fact.ok or not isinstance(rules_fact.value, AccessRules):
        notes.append(UNREADABLE_ACL_NOTE)
    else:
        known = {_norm(a.dn) for a in accounts.accounts}
        for db in rules_fact.value.databases:
            if not db.root_dn:
                continue
            suffix = f" (suffix {', '.join(db.suffixes)})" if db.suffixes else ""
            g = Grant("rootDN", f"rootDN (olcRootDN) of {db.database}{suffix}: every access control is bypassed",
                      "ldap.access_rules")
            key = _norm(db.root_dn)
            if key in known:
                grants.setdefault(key, []).append(g)
            else:
                roots.setdefault(key, (db.root_dn, []))[1].append(g)
        for rule in rules_fact.value.rules:
            by_account, rule_notes = _rule_grants(rule, accounts)
            notes += rule_notes
            for key, g in by_account.items():
                grants.setdefault(key, []).append(g)
    rows = [_ldap_account(target, a, grants.get(_norm(a.dn), ()), accounts.tracks_last_bind)
            for a in accounts.accounts]
    for dn, got in roots.values():
        kind, reason = account_type(target, dn, builtin="a database's rootDN (olcRootDN): an identity defined in "
                                    "the server configuration, not an entry")
        rows.append(Account(system=target.name, platform=PLATFORM, name=dn, id=dn, type=kind, type_reason=reason,
                            enabled=None, locked=None, grants=tuple(got), evidence=("ldap.access_rules",)))
    return Built(tuple(sorted(rows, key=lambda a: (a.name.lower(), a.id))), tuple(dict.fromkeys(notes)), "openldap")


def build(target: Target, facts: Mapping[str, Fact]) -> Built:
    info = facts["ldap.root_dse"].value
    if not isinstance(info, DirectoryInfo):
        raise Unavailable("ldap.root_dse: no directory information")
    return _ad(target, facts) if info.flavor == "ad" else _openldap(target, facts)


EXTRACTOR = Extractor(facts=("ldap.root_dse",), build=build,
                      optional=("ldap.users", "ldap.privileged_groups", "ldap.accounts", "ldap.access_rules"))
