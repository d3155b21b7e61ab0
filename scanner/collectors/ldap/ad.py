"""Active Directory facts: domain and fine-grained password policy, user accounts, privileged groups, krbtgt.

The userAccountControl and pwdProperties bits, FILETIME and interval encodings, SIDs and the msDS-* attribute
names live here and nowhere else.
"""
from __future__ import annotations

import re
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from scanner.collectors.ldap.common import (
    Directory,
    Members,
    Recorder,
    ad_bool,
    base_dn,
    count,
    generalized_time,
    integer,
    normalize_dn,
    render,
    required,
)
from scanner.facts.ldap import (
    DirectoryUser,
    GroupMember,
    Krbtgt,
    MemberPath,
    PasswordRules,
    PasswordSettingsObject,
    PrivilegedGroup,
)

if TYPE_CHECKING:
    from scanner.connectors.ldap import Entry

# userAccountControl bits ([MS-ADTS] 2.2.16)
UF_ACCOUNTDISABLE = 0x2
UF_PASSWD_NOTREQD = 0x20
UF_ENCRYPTED_TEXT_PWD_ALLOWED = 0x80
UF_DONT_EXPIRE_PASSWD = 0x10000
UF_LOCKOUT = 0x10  # in msDS-User-Account-Control-Computed: locked out now
# pwdProperties bits
DOMAIN_PASSWORD_COMPLEX = 0x1
DOMAIN_PASSWORD_STORE_CLEARTEXT = 0x10
#: AD's "never" for an interval attribute (maxPwdAge, lockoutDuration).
AD_NEVER = -0x8000000000000000
#: FILETIME values at or above this mean "never" (accountExpires and friends).
FILETIME_NEVER = 0x7FFFFFFFFFFFFFFF
#: Privileged groups by well-known RID (domain-relative) or builtin SID.
PRIVILEGED_DOMAIN_RIDS = {512: "Domain Admins", 518: "Schema Admins", 519: "Enterprise Admins"}
#: Groups that exist only in the forest root domain.
FOREST_ROOT_RIDS = frozenset({518, 519})
PRIVILEGED_BUILTIN_SIDS = {
    "S-1-5-32-544": "Administrators",
    "S-1-5-32-548": "Account Operators",
    "S-1-5-32-549": "Server Operators",
    "S-1-5-32-551": "Backup Operators",
}
USER_FILTER = "(&(objectCategory=person)(objectClass=user))"
USER_ATTRS = ["sAMAccountName", "userAccountControl", "lastLogonTimestamp", "pwdLastSet", "whenCreated", "memberOf",
              "description", "objectSid", "lockoutTime", "msDS-User-Account-Control-Computed"]
#: how many ways (nested paths) to one account are kept per privileged group
MAX_MEMBER_PATHS = 8
MEMBER_ATTRS = ["objectClass", "objectSid", "sAMAccountName", "userAccountControl", "member"]
RANGE_RE = re.compile(r"^member;range=(\d+)-(\d+|\*)$")
DOMAIN_POLICY_ATTRS = {  # attribute -> what it is, every one required
    "minPwdLength": "minimum length", "pwdProperties": "complexity and reversible-encryption flags",
    "maxPwdAge": "maximum age", "minPwdAge": "minimum age", "pwdHistoryLength": "history",
    "lockoutThreshold": "lockout threshold", "lockoutDuration": "lockout duration",
    "lockOutObservationWindow": "lockout window",
}
PSO_RULE_ATTRS = ["msDS-PasswordSettingsPrecedence", "msDS-MinimumPasswordLength", "msDS-PasswordComplexityEnabled",
                  "msDS-PasswordReversibleEncryptionEnabled", "msDS-MaximumPasswordAge", "msDS-MinimumPasswordAge",
                  "msDS-PasswordHistoryLength", "msDS-LockoutThreshold", "msDS-LockoutDuration",
                  "msDS-LockoutObservationWindow"]  # all mandatory on msDS-PasswordSettings

def filetime(value: int | None) -> datetime | None:
    """AD FILETIME (100 ns since 1601) -> UTC datetime; 0 and 'never' are None; a negative value is an error."""
    if not value or value >= FILETIME_NEVER:
        return None
    if value < 0:
        raise ValueError(f"invalid FILETIME {value}")
    return datetime(1601, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=value // 10)


def interval_minutes(value: int | None) -> float | None:
    """AD negative 100 ns interval -> minutes; AD_NEVER -> None."""
    if value is None or value == AD_NEVER:
        return None
    return abs(value) / 600_000_000


def interval_days(value: int | None) -> float | None:
    minutes = interval_minutes(value)
    return None if minutes is None else minutes / 1440


def _never_if_zero(days: float | None) -> float | None:
    return None if not days else days


def sid_to_str(raw: bytes) -> str:
    revision, count = raw[0], raw[1]
    authority = int.from_bytes(raw[2:8], "big")
    if len(raw) != 8 + 4 * count:
        raise ValueError(f"malformed SID of {len(raw)} bytes")
    subs = struct.unpack(f"<{count}I", raw[8:8 + 4 * count])
    return f"S-{revision}-{authority}" + "".join(f"-{s}" for s in subs)


def domain_rules(e: Entry) -> PasswordRules:
    """The domain head's password and lockout attributes; every one must be there."""
    required(e, DOMAIN_POLICY_ATTRS)
    props = integer(e, "pwdProperties")
    return PasswordRules(
        min_length=count(e, "minPwdLength"),
        complexity=bool(props & DOMAIN_PASSWORD_COMPLEX),
        reversible_encryption=bool(props & DOMAIN_PASSWORD_STORE_CLEARTEXT),
        max_age_days=_never_if_zero(interval_days(integer(e, "maxPwdAge"))),
        min_age_days=interval_days(integer(e, "minPwdAge")) or 0.0,
        history=count(e, "pwdHistoryLength"),
        lockout_threshold=count(e, "lockoutThreshold"),
        lockout_duration_minutes=interval_minutes(integer(e, "lockoutDuration")),
        lockout_window_minutes=interval_minutes(integer(e, "lockOutObservationWindow")) or 0.0,
    )


def domain_policy(conn: Directory, rec: Recorder) -> PasswordRules:
    base = base_dn(conn)
    found = rec.search(base, "(objectClass=domain)", list(DOMAIN_POLICY_ATTRS), scope="BASE")
    if not found:
        raise ValueError(f"domain head {base} not found (is base_dn the domain's naming context?)")
    return domain_rules(found[0])


def pso(e: Entry) -> PasswordSettingsObject:
    """One msDS-PasswordSettings entry; its rule attributes are mandatory, so a missing one is unreadable."""
    required(e, PSO_RULE_ATTRS)
    return PasswordSettingsObject(
        name=e.text("cn") or e.dn, dn=e.dn, precedence=integer(e, "msDS-PasswordSettingsPrecedence"),
        applies_to=e.texts("msDS-PSOAppliesTo"),
        rules=PasswordRules(
            min_length=count(e, "msDS-MinimumPasswordLength"),
            complexity=ad_bool(e.text("msDS-PasswordComplexityEnabled")),
            reversible_encryption=ad_bool(e.text("msDS-PasswordReversibleEncryptionEnabled")),
            max_age_days=_never_if_zero(interval_days(integer(e, "msDS-MaximumPasswordAge"))),
            min_age_days=interval_days(integer(e, "msDS-MinimumPasswordAge")) or 0.0,
            history=count(e, "msDS-PasswordHistoryLength"),
            lockout_threshold=count(e, "msDS-LockoutThreshold"),
            lockout_duration_minutes=interval_minutes(integer(e, "msDS-LockoutDuration")),
            lockout_window_minutes=interval_minutes(integer(e, "msDS-LockoutObservationWindow")) or 0.0,
        ))


def password_settings_objects(conn: Directory, rec: Recorder) -> tuple[PasswordSettingsObject, ...]:
    base = base_dn(conn)
    container = f"CN=Password Settings Container,CN=System,{base}"
    if conn.search_one(container, ["cn"]) is None:
        raise ValueError(f"{container} is not readable by {conn.bound_as}: cannot tell whether fine-grained "
                         "password policies exist")
    found = tuple(pso(e) for e in rec.search(container, "(objectClass=msDS-PasswordSettings)",
                                             ["cn", *PSO_RULE_ATTRS, "msDS-PSOAppliesTo"], scope="LEVEL"))
    # A PSO this bind cannot see still shows as msDS-PSOApplied on the users and groups it applies to.
    applied = rec.search(base, "(msDS-PSOApplied=*)", ["msDS-PSOApplied"])
    seen = {normalize_dn(p.dn) for p in found}
    hidden = sorted({dn for e in applied for dn in e.texts("msDS-PSOApplied") if normalize_dn(dn) not in seen})
    if hidden:
        raise ValueError(f"password settings objects applied to accounts but not readable by {conn.bound_as}: "
                         + "; ".join(hidden))
    return tuple(sorted(found, key=lambda p: (p.precedence, p.name)))


def user(e: Entry) -> DirectoryUser:
    uac = e.integer("userAccountControl")
    if uac is None:
        raise ValueError(f"{e.dn} has no readable userAccountControl")
    return DirectoryUser(
        sam=e.text("sAMAccountName") or e.dn, dn=e.dn,
        disabled=bool(uac & UF_ACCOUNTDISABLE), password_never_expires=bool(uac & UF_DONT_EXPIRE_PASSWD),
        password_not_required=bool(uac & UF_PASSWD_NOTREQD),
        reversible_encryption=bool(uac & UF_ENCRYPTED_TEXT_PWD_ALLOWED),
        last_logon=filetime(e.integer("lastLogonTimestamp")), pwd_last_set=filetime(e.integer("pwdLastSet")),
        created=generalized_time(e.text("whenCreated")), member_of=e.texts("memberOf"),
        description=e.text("description") or "",
        sid=sid_to_str(e.get("objectSid")[0]) if e.get("objectSid") else None, locked=_locked(e),
    )


def _locked(e: Entry) -> bool | None:
    """Locked out now: the DC's computed flag (a lockout that has expired is not one), else lockoutTime > 0."""
    computed = e.integer("msDS-User-Account-Control-Computed")
    if computed is not None:
        return bool(computed & UF_LOCKOUT)
    since = e.integer("lockoutTime")
    return None if since is None else since > 0


def users(conn: Directory, rec: Recorder) -> tuple[DirectoryUser, ...]:
    base = base_dn(conn)
    entries = rec.search(base, USER_FILTER, USER_ATTRS)
    if not entries:
        raise ValueError(f"no user accounts visible under {base} to {conn.bound_as}")
    return tuple(user(e) for e in entries)


def member_values(conn: Members, entry: Entry) -> tuple[str, ...]:
    """All values of ``member``, following AD's ranged retrieval (member;range=0-1499) to the end."""
    def ranged_key(e: Entry) -> tuple[str, re.Match[str]] | None:
        return next(((k, m) for k in e.attrs if (m := RANGE_RE.match(k))), None)

    values = list(entry.texts("member"))
    ranged = ranged_key(entry)
    while ranged:
        key, m = ranged
        values += [v.decode("utf-8", "replace") for v in entry.attrs[key]]
        if m.group(2) == "*":
            break
        dn = entry.dn
        follow = conn.search_one(dn, [f"member;range={int(m.group(2)) + 1}-*"])
        if follow is None:
            raise ValueError(f"member range retrieval on {dn} failed")
        entry = follow
        ranged = ranged_key(entry)
        if ranged is None:
            raise ValueError("member range retrieval returned no range")
    return tuple(values)


def _is_group(entry: Entry) -> bool:
    classes = {c.lower() for c in entry.texts("objectClass")}
    if not classes:
        raise ValueError(f"objectClass of {entry.dn} is not readable: cannot tell whether it is a group")
    return "group" in classes


def _no_primary(group: Entry) -> list[Entry]:
    return []


def _member(entry: Entry, path: tuple[str, ...], primary: bool = False) -> GroupMember:
    # a member whose userAccountControl is not readable cannot be shown to be disabled: it counts as enabled
    return GroupMember(sam=entry.text("sAMAccountName") or entry.dn, dn=entry.dn, nested=bool(path),
                       enabled=not (entry.integer("userAccountControl") or 0) & UF_ACCOUNTDISABLE,
                       primary_group=primary, paths=(MemberPath(path, primary),))


def expand_members(conn: Members, group: Entry, cache: dict[str, Entry | None],
                   primary_members: Callable[[Entry], list[Entry]] = _no_primary) -> tuple[GroupMember, ...]:
    """Every non-group member of ``group``, nested groups expanded breadth-first (direct members first, cycles cut:
    each group is expanded once), each with the group paths that lead to it (shortest first, at most
    ``MAX_MEMBER_PATHS``).

    ``primary_members(g)`` gives the accounts whose primary group is ``g``: AD does not list them in ``member``.
    A member that cannot be read is an error: an unreadable nested group could hide privileged users.
    """
    found: dict[str, GroupMember] = {}
    expanded = {group.dn.lower()}
    queue: deque[tuple[str, tuple[str, ...]]] = deque()

    def add(member: GroupMember) -> None:
        key = member.dn.lower()
        had = found.get(key)
        if had is None:
            found[key] = member
            return
        paths = had.paths + tuple(p for p in member.paths if p not in had.paths)
        best = min(paths[:MAX_MEMBER_PATHS], key=lambda p: len(p.groups))  # direct beats nested
        found[key] = replace(had, nested=bool(best.groups), primary_group=best.primary_group,
                             paths=tuple(sorted(paths[:MAX_MEMBER_PATHS], key=lambda p: len(p.groups))))

    def visit_group(g: Entry, path: tuple[str, ...]) -> None:
        queue.extend((m, path) for m in member_values(conn, g))
        for p in primary_members(g):
            add(_member(p, path, primary=True))

    visit_group(group, ())
    while queue:
        dn, path = queue.popleft()
        key = dn.lower()
        if key in expanded:
            continue
        if key not in cache:
            cache[key] = conn.search_one(dn, MEMBER_ATTRS)
        entry = cache[key]
        if entry is None:
            raise ValueError(f"member {dn} of {group.dn} is not readable")
        if _is_group(entry):
            expanded.add(key)
            visit_group(entry, (*path, entry.dn))
        else:
            add(_member(entry, path))
    return tuple(sorted(found.values(), key=lambda m: m.sam.lower()))


def privileged_groups(conn: Directory, rec: Recorder) -> tuple[PrivilegedGroup, ...]:
    base = base_dn(conn)
    head = rec.search(base, "(objectClass=*)", ["objectSid"], scope="BASE")
    raw_sid = head[0].get("objectSid") if head else []
    if not raw_sid:
        raise ValueError(f"domain SID not readable on {base}")
    domain_sid = sid_to_str(raw_sid[0])
    wanted = {f"{domain_sid}-{rid}": name for rid, name in PRIVILEGED_DOMAIN_RIDS.items()}
    wanted.update(PRIVILEGED_BUILTIN_SIDS)
    flt = "(&(objectClass=group)(|" + "".join(f"(objectSid={sid})" for sid in wanted) + "))"
    by_sid = {sid_to_str(g.get("objectSid")[0]): g for g in rec.search(base, flt, ["objectSid", "cn", "member"])}
    forest_root = (conn.root_dse.text("rootDomainNamingContext") if conn.root_dse else None) or base
    cache: dict[str, Entry | None] = {}
    primaries: dict[str, list[Entry]] = {}

    def primary_members(group: Entry) -> list[Entry]:
        """Accounts whose primaryGroupID is this group's RID (only groups of this domain can be primary)."""
        sid = sid_to_str(group.get("objectSid")[0]) if group.get("objectSid") else ""
        if not sid.startswith(f"{domain_sid}-"):
            return []
        if sid not in primaries:
            rid = sid.rsplit("-", 1)[1]
            primaries[sid] = conn.search(base, f"(primaryGroupID={rid})", MEMBER_ATTRS)
        return primaries[sid]

    out = []
    for sid, name in wanted.items():
        g = by_sid.get(sid)
        rid = int(sid.rsplit("-", 1)[1])
        if g is None and sid.startswith(f"{domain_sid}-") and rid in FOREST_ROOT_RIDS \
                and normalize_dn(forest_root) != normalize_dn(base):
            out.append(PrivilegedGroup(name=name, sid=sid, dn="", members=(), held_by=forest_root))
            continue
        if g is None:
            raise ValueError(f"{name} ({sid}) not found under {base}: privileged groups are not readable by "
                             f"{conn.bound_as}")
        out.append(PrivilegedGroup(name=name, sid=sid, dn=g.dn,
                                   members=expand_members(conn, g, cache, primary_members)))
    rec.note(f"ldap base searches attrs={','.join(MEMBER_ATTRS)} for {len(cache)} members of privileged groups "
             "(nested groups expanded)", render(e for e in cache.values() if e is not None))
    rec.note(f"ldap searches base={base!r} filter=(primaryGroupID=<rid>) for {len(primaries)} groups "
             "(members through their primary group)",
             "\n".join(f"{sid}: {', '.join(e.dn for e in entries) or '(none)'}" for sid, entries in primaries.items()))
    return tuple(sorted(out, key=lambda g: g.name))


def krbtgt(conn: Directory, rec: Recorder) -> Krbtgt:
    found = rec.search(base_dn(conn), "(&(objectClass=user)(sAMAccountName=krbtgt))", ["pwdLastSet"])
    if len(found) != 1:
        raise ValueError(f"expected one krbtgt account, found {len(found)}")
    return Krbtgt(dn=found[0].dn, pwd_last_set=filetime(found[0].integer("pwdLastSet")))
