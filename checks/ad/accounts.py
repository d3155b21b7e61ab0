"""Active Directory user account flags, staleness and generic (shared) accounts."""
from __future__ import annotations

import fnmatch
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from checks.ldap.common import flavor_gate
from scanner.model import Area, Finding, Severity, failed, passed
from scanner.registry import check

# userAccountControl bits ([MS-ADTS] 2.2.16)
PASSWD_NOTREQD = 0x20
ENCRYPTED_TEXT_PWD_ALLOWED = 0x80
DONT_EXPIRE_PASSWORD = 0x10000
DEFAULT_SHARED_PATTERNS = ("shared*", "generic*", "test*", "temp*", "training*", "team*", "dept*", "guest*",
                           "lab*", "user[0-9]*", "admin[0-9]*")


def _fold(names: Any) -> set[str]:
    return {str(n).lower() for n in names or ()}


def flagged_users(users: Any, resource: str, predicate: Callable[[Any], bool], what: str, ok: str,
                  allowed: Any = ()) -> list[Finding]:
    """One failure per enabled user matching ``predicate`` (unless allowed), else one pass."""
    allow = _fold(allowed)
    hits = [u for u in users if u.enabled and predicate(u)]
    bad = [u for u in hits if u.sam.lower() not in allow]
    out = [failed(u.sam, f"enabled account {u.sam} {what}", dn=u.dn, userAccountControl=u.uac) for u in bad]
    if not out:
        excused = sorted(u.sam for u in hits)
        out.append(passed(resource, ok + (f" (allowed: {', '.join(excused)})" if excused else ""),
                          enabled_users=sum(1 for u in users if u.enabled), allowed=excused))
    return out


@check(id="ad.password_never_expires", title="Enabled users' passwords expire",
       severity=Severity.MEDIUM, area=Area.PASSWORD_POLICY,
       criterion="No enabled user account has DONT_EXPIRE_PASSWORD set, except service accounts named in the "
                 "policy's service_accounts allow-list.")
def password_never_expires(root_dse: Any, users: Any, service_accounts: tuple[str, ...] = ()) -> list[Finding]:
    resource = f"users under {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "ad", resource):
        return [na]
    return flagged_users(users, resource, lambda u: u.has(DONT_EXPIRE_PASSWORD),
                         "has a password that never expires (DONT_EXPIRE_PASSWORD)",
                         "no enabled account outside the allow-list has a non-expiring password", service_accounts)


@check(id="ad.password_not_required", title="Every enabled user needs a password",
       severity=Severity.HIGH, area=Area.ACCESS_CONTROL,
       criterion="No enabled user account has PASSWD_NOTREQD set (which allows an empty password).")
def password_not_required(root_dse: Any, users: Any) -> list[Finding]:
    resource = f"users under {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "ad", resource):
        return [na]
    return flagged_users(users, resource, lambda u: u.has(PASSWD_NOTREQD),
                         "may have an empty password (PASSWD_NOTREQD)", "every enabled account requires a password")


@check(id="ad.reversible_encryption", title="Passwords are not stored with reversible encryption",
       severity=Severity.HIGH, area=Area.ENCRYPTION,
       criterion="Neither the domain policy, nor any password settings object, nor any enabled user stores "
                 "passwords with reversible encryption.")
def reversible_encryption(root_dse: Any, domain_policy: Any, password_settings_objects: Any,
                          users: Any) -> list[Finding]:
    resource = f"domain {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "ad", resource):
        return [na]
    out = []
    if domain_policy.reversible_encryption:
        out.append(failed(resource, "domain policy stores passwords with reversible encryption (pwdProperties "
                          "DOMAIN_PASSWORD_STORE_CLEARTEXT)", reversible_encryption=True))
    out += [failed(f"PSO {p.name}", f"password settings object {p.name} enables reversible encryption",
                   applies_to=list(p.applies_to)) for p in password_settings_objects if p.rules.reversible_encryption]
    out += [failed(u.sam, f"enabled account {u.sam} stores its password with reversible encryption "
                   "(ENCRYPTED_TEXT_PWD_ALLOWED)", dn=u.dn, userAccountControl=u.uac)
            for u in users if u.enabled and u.has(ENCRYPTED_TEXT_PWD_ALLOWED)]
    return out or [passed(resource, "no policy or account stores passwords with reversible encryption")]


@check(id="ad.stale_accounts", title="No enabled account is unused for too long",
       severity=Severity.MEDIUM, area=Area.ACCESS_CONTROL,
       criterion="Every enabled user logged on (lastLogonTimestamp) within the policy's stale_account_days; an "
                 "account that never logged on counts from its creation.")
def stale_accounts(root_dse: Any, users: Any, stale_account_days: int = 90) -> list[Finding]:
    resource = f"users under {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "ad", resource):
        return [na]
    now = datetime.now(timezone.utc)
    out = []
    for u in users:
        since = u.last_logon or u.created
        if not u.enabled or since is None:
            continue
        idle = (now - since).days
        if idle > stale_account_days:
            how = (f"last logon {u.last_logon:%Y-%m-%d}" if u.last_logon
                   else f"never logged on, created {since:%Y-%m-%d}")
            out.append(failed(u.sam, f"enabled account unused for {idle} days ({how})", dn=u.dn, idle_days=idle,
                              last_logon=u.last_logon.isoformat() if u.last_logon else None))
    return out or [passed(resource, f"every enabled account was used in the last {stale_account_days} days",
                          enabled_users=sum(1 for u in users if u.enabled))]


@check(id="ad.shared_accounts", title="No generic or shared user accounts",
       severity=Severity.MEDIUM, area=Area.ACCESS_CONTROL,
       criterion="No enabled user account's name matches a generic-account pattern (shared_account_patterns) "
                 "unless named in shared_account_exceptions: one person, one ID.")
def shared_accounts(root_dse: Any, users: Any, shared_account_patterns: tuple[str, ...] = DEFAULT_SHARED_PATTERNS,
                    shared_account_exceptions: tuple[str, ...] = ()) -> list[Finding]:
    resource = f"users under {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "ad", resource):
        return [na]
    patterns = [p.lower() for p in shared_account_patterns]

    def generic(u: Any) -> bool:
        return any(fnmatch.fnmatchcase(u.sam.lower(), p) for p in patterns)

    return flagged_users(users, resource, generic, "has a generic name (shared_account_patterns)",
                         "no enabled account has a generic name", shared_account_exceptions)
