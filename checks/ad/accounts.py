"""Active Directory user account flags, staleness and generic (shared) accounts."""
from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from checks.ldap.common import FUTURE_SLACK, flavor_gate, missing
from scanner.access.classify import DEFAULT_SHARED_PATTERNS
from scanner.facts.ldap import DirectoryInfo, DirectoryUser, PasswordRules, PasswordSettingsObject
from scanner.model import Area, Finding, Severity, error, failed, passed
from scanner.registry import check

Users = tuple[DirectoryUser, ...]


def _fold(names: Iterable[str]) -> set[str]:
    return {str(n).lower() for n in names or ()}


def flagged_users(users: Users, resource: str, predicate: Callable[[DirectoryUser], bool], what: str, ok: str,
                  allowed: Iterable[str] = (), flag: str = "") -> list[Finding]:
    """One failure per enabled user matching ``predicate`` (unless allowed), else one pass."""
    allow = _fold(allowed)
    hits = [u for u in users if u.enabled and predicate(u)]
    bad = [u for u in hits if u.sam.lower() not in allow]
    flags: dict[str, Any] = {flag: True} if flag else {}
    out = [failed(u.sam, f"enabled account {u.sam} {what}", dn=u.dn, **flags) for u in bad]
    if not out:
        excused = sorted(u.sam for u in hits)
        out.append(passed(resource, ok + (f" (allowed: {', '.join(excused)})" if excused else ""),
                          enabled_users=sum(1 for u in users if u.enabled), allowed=excused))
    return out


@check(id="ad.password_never_expires", title="Enabled users' passwords expire",
       severity=Severity.MEDIUM, area=Area.PASSWORD_POLICY,
       criterion="No enabled user account has DONT_EXPIRE_PASSWORD set, except service accounts named in the "
                 "policy's service_accounts allow-list.",
       remediation="Clear 'Password never expires' on the listed accounts (userAccountControl flag "
                   "DONT_EXPIRE_PASSWORD). For a service account that cannot follow password ageing, move it to a "
                   "group managed service account (gMSA), or name it in service_accounts with the reason.")
def password_never_expires(root_dse: DirectoryInfo, users: Users | None,
                           service_accounts: tuple[str, ...] = ()) -> list[Finding]:
    resource = f"users under {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "ad", resource):
        return [na]
    if users is None:
        return [missing(resource, "ldap.users")]
    return flagged_users(users, resource, lambda u: u.password_never_expires,
                         "has a password that never expires (DONT_EXPIRE_PASSWORD)",
                         "no enabled account outside the allow-list has a non-expiring password", service_accounts,
                         "password_never_expires")


@check(id="ad.password_not_required", title="Every enabled user needs a password",
       severity=Severity.HIGH, area=Area.ACCESS_CONTROL,
       criterion="No enabled user account has PASSWD_NOTREQD set (which allows an empty password).",
       remediation="Clear PASSWD_NOTREQD on the listed accounts (e.g. Set-ADUser -PasswordNotRequired $false) and "
                   "set each a password that meets the domain policy; find who set the flag, as provisioning tools "
                   "often do.")
def password_not_required(root_dse: DirectoryInfo, users: Users | None) -> list[Finding]:
    resource = f"users under {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "ad", resource):
        return [na]
    if users is None:
        return [missing(resource, "ldap.users")]
    return flagged_users(users, resource, lambda u: u.password_not_required,
                         "may have an empty password (PASSWD_NOTREQD)", "every enabled account requires a password",
                         flag="password_not_required")


@check(id="ad.reversible_encryption", title="Passwords are not stored with reversible encryption",
       severity=Severity.HIGH, area=Area.ENCRYPTION,
       criterion="Neither the domain policy, nor any password settings object, nor any enabled user stores "
                 "passwords with reversible encryption.",
       remediation="Turn off 'Store passwords using reversible encryption' in the domain policy and in every "
                   "password settings object, clear ENCRYPTED_TEXT_PWD_ALLOWED on the listed accounts, then have "
                   "those accounts change their passwords so the reversible copy is discarded.")
def reversible_encryption(root_dse: DirectoryInfo, domain_policy: PasswordRules | None,
                          password_settings_objects: tuple[PasswordSettingsObject, ...] | None,
                          users: Users | None) -> list[Finding]:
    resource = f"domain {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "ad", resource):
        return [na]
    if domain_policy is None or password_settings_objects is None or users is None:
        return [missing(resource, "ldap.domain_policy, ldap.password_settings_objects or ldap.users")]
    out = []
    if domain_policy.reversible_encryption:
        out.append(failed(resource, "domain policy stores passwords with reversible encryption (pwdProperties "
                          "DOMAIN_PASSWORD_STORE_CLEARTEXT)", reversible_encryption=True))
    out += [failed(f"PSO {p.name}", f"password settings object {p.name} enables reversible encryption",
                   applies_to=list(p.applies_to)) for p in password_settings_objects if p.rules.reversible_encryption]
    out += [failed(u.sam, f"enabled account {u.sam} stores its password with reversible encryption "
                   "(ENCRYPTED_TEXT_PWD_ALLOWED)", dn=u.dn, reversible_encryption=True)
            for u in users if u.enabled and u.reversible_encryption]
    return out or [passed(resource, "no policy or account stores passwords with reversible encryption")]


@check(id="ad.stale_accounts", title="No enabled account is unused for too long",
       severity=Severity.MEDIUM, area=Area.ACCESS_CONTROL,
       criterion="Every enabled user logged on (lastLogonTimestamp) within the policy's stale_account_days; an "
                 "account that never logged on counts from its creation; an account with neither date readable "
                 "is an error.",
       remediation="Disable (and after your retention period, delete) the listed accounts, or confirm with their "
                   "owners that they are still needed and have them log on; review joiners/leavers so that accounts "
                   "are disabled when people leave.")
def stale_accounts(root_dse: DirectoryInfo, users: Users | None, stale_account_days: int = 90) -> list[Finding]:
    resource = f"users under {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "ad", resource):
        return [na]
    if users is None:
        return [missing(resource, "ldap.users")]
    now = datetime.now(timezone.utc)
    out = []
    for u in users:
        if not u.enabled:
            continue
        since = u.last_logon or u.created
        if since is None:
            out.append(error(u.sam, "neither lastLogonTimestamp nor whenCreated is readable: cannot tell how long "
                             "the account has been unused", dn=u.dn))
            continue
        if since > now + FUTURE_SLACK:
            out.append(error(u.sam, f"last use {since:%Y-%m-%d} lies in the future: the timestamp cannot be "
                             "trusted", dn=u.dn))
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
                 "unless named in shared_account_exceptions: one person, one ID.",
       remediation="Replace each shared account with personal accounts for the people who use it and disable it; "
                   "where a shared account must stay (a kiosk, a lab instrument), restrict where it can log on and "
                   "name it in shared_account_exceptions with the reason.")
def shared_accounts(root_dse: DirectoryInfo, users: Users | None,
                    shared_account_patterns: tuple[str, ...] = DEFAULT_SHARED_PATTERNS,
                    shared_account_exceptions: tuple[str, ...] = ()) -> list[Finding]:
    resource = f"users under {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "ad", resource):
        return [na]
    if users is None:
        return [missing(resource, "ldap.users")]
    patterns = [p.lower() for p in shared_account_patterns]

    def generic(u: DirectoryUser) -> bool:
        return any(fnmatch.fnmatchcase(u.sam.lower(), p) for p in patterns)

    return flagged_users(users, resource, generic, "has a generic name (shared_account_patterns)",
                         "no enabled account has a generic name", shared_account_exceptions)
