"""The steps the LDAP and Active Directory challenges share: finding the directory, locking out the test account
and unlocking it, and the test account's own password changes. The challenges in checks/ldap and checks/ad only
say which flavour they are for; the I/O is in scanner/probes/ldap.py."""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from scanner.challenge import ChallengeContext, Probe, TestAccount
from scanner.connectors.ldap import REFUSAL_CODES, Entry
from scanner.model import Finding, error, failed, not_applicable, passed, utcnow
from scanner.probes import ldap as probes
from scanner.probes.ldap import INVALID_CREDENTIALS, NO_SUCH_ATTRIBUTE, SUCCESS, Directory, Flavor, Kept

#: a bind refused for whatever reason (wrong password, locked, policy)
BIND_REFUSED = frozenset({INVALID_CREDENTIALS, *REFUSAL_CODES})
FLAVOR_NAMES = {Flavor.OPENLDAP: "OpenLDAP", Flavor.AD: "Active Directory"}


def url(ctx: ChallengeContext) -> str:
    return str(ctx.target.opt("url") or ctx.target.name)


def find_directory(ctx: ChallengeContext) -> Directory | None:
    """Step: read the root DSE with the scan's account. In plan mode: the inventory's base DN or a placeholder."""
    kept: Kept[Directory] = Kept()
    ctx.step(f"bind to {url(ctx)} with the scan's account and read the root DSE",
             "the base DN and the directory's flavour are read", lambda: kept.keep(probes.directory(ctx.target)))
    if ctx.plan:
        return Directory(str(ctx.target.opt("base_dn") or "(the base DN)"), None)
    return kept.value


def gate(ctx: ChallengeContext, found: Directory | None, flavor: Flavor, resource: str) -> Finding | None:
    """An error when the directory could not be read, not_applicable when it is not ``flavor`` (OpenLDAP stands
    for every directory that is not Active Directory: the ppolicy model)."""
    if found is None:
        return error(resource, f"could not read the root DSE of {url(ctx)}: {ctx.steps[-1].actual}")
    if ctx.plan or (flavor is Flavor.AD) == (found.flavor == Flavor.AD.value):
        return None
    return not_applicable(resource, f"applies to {FLAVOR_NAMES[flavor]}; this directory is "
                          f"{found.flavor or 'of unknown kind'}", flavor=found.flavor)


@dataclass(frozen=True)
class LockModel:
    """How a flavour records a lockout and how its administrator lifts one."""

    flavor: Flavor
    attributes: tuple[str, ...]
    is_locked: Callable[[Entry], bool]
    lock_text: str  # "pwdAccountLockedTime is set"
    unlock: dict[str, list[tuple[str, list[Any]]]]
    unlock_text: str
    unlock_tolerate: frozenset[int]
    restore_by_hand: str  # {dn} is the test account


def _observed(entry: Entry, attributes: tuple[str, ...]) -> str:
    return "; ".join(f"{a}={','.join(entry.texts(a))[:200]}" for a in attributes if entry.get(a)) or "none set"


def _wrong_password(account: TestAccount) -> str:
    while True:
        candidate = "gxpscan-wrong-" + secrets.token_hex(8)
        if candidate != account.password:
            return candidate


def lockout(ctx: ChallengeContext, model: LockModel, lockout_threshold: int) -> list[Finding]:
    """``lockout_threshold`` wrong binds on the test account, then its right password must be refused and the
    lock attribute set; then unlock (the scan's account) and verify. Never more than threshold + 1 attempts."""
    account = ctx.test_account()
    dn = account.name
    found = find_directory(ctx)
    if na := gate(ctx, found, model.flavor, dn):
        return [na]
    if lockout_threshold < 1:
        return [error(dn, f"lockout_threshold {lockout_threshold} is not a number of attempts")]

    def state(entry: Entry, want_locked: bool) -> tuple[bool, str]:
        locked = model.is_locked(entry)
        return locked is want_locked, ("locked: " if locked else "not locked: ") + _observed(entry, model.attributes)

    read = list(model.attributes)
    before = ctx.step(f"read {', '.join(read)} of {dn} with the scan's account", "the test account is not locked",
                      lambda: probes.read_entry(ctx.target, dn, read, lambda e: state(e, False))[0])
    if before.ok is not True:
        why = "is already locked; nothing was tried" if before.ok is False else "could not be read"
        return [error(dn, f"the test account {why} ({before.actual})")]
    wrong = _wrong_password(account)
    try:
        attempts: list[Probe] = []
        for i in range(lockout_threshold):
            attempts.append(ctx.step(
                f"simple bind as {dn} with a wrong password (attempt {i + 1} of {lockout_threshold})",
                "refused: invalidCredentials (49)",
                lambda: probes.bind(ctx.target, dn, wrong, expect=frozenset({INVALID_CREDENTIALS}))))
            if attempts[-1].ok is not True:
                break
        if any(a.ok is not True for a in attempts):
            return [error(dn, f"wrong bind {len(attempts)} did not give invalidCredentials "
                          f"({attempts[-1].actual}); the lockout was not tested", attempts=len(attempts))]
        right = ctx.step(f"simple bind as {dn} with its right password", "refused: the account is locked",
                         lambda: probes.bind(ctx.target, dn, account.password, expect=BIND_REFUSED))
        obs: dict[str, Any] = {"wrong_attempts": len(attempts), "lockout_threshold": lockout_threshold,
                               "right_password_bind": right.actual}
        if right.ok is False:
            return [failed(dn, f"the test account still binds with its password after {len(attempts)} wrong "
                           "passwords: no lockout", **obs)]
        lock = ctx.step(f"read {', '.join(read)} of {dn} with the scan's account", model.lock_text,
                        lambda: probes.read_entry(ctx.target, dn, read, lambda e: state(e, True))[0])
        obs["lock_state"] = lock.actual
        if right.ok and lock.ok:
            return [passed(dn, f"locked after {len(attempts)} wrong passwords: the right password is refused and "
                           f"{model.lock_text}", **obs)]
        if right.ok and lock.ok is False:
            return [error(dn, "the right password was refused but the directory records no lockout "
                          f"({lock.actual}); the refusal has another cause", **obs)]
        return [error(dn, "the lockout could not be determined", **obs)]
    finally:
        by_hand = model.restore_by_hand.format(dn=dn)
        ctx.step(f"as the scan's account: {model.unlock_text} on {dn}", "the account is unlocked",
                 lambda: probes.modify(ctx.target, dn, model.unlock, f"{model.unlock_text} on {dn}",
                                       tolerate=model.unlock_tolerate),
                 cleanup=True, restore_by_hand=by_hand)
        ctx.step(f"read {', '.join(read)} of {dn} with the scan's account", "the test account is not locked",
                 lambda: probes.read_entry(ctx.target, dn, read, lambda e: state(e, False))[0],
                 cleanup=True, restore_by_hand=by_hand)
        ctx.step(f"simple bind as {dn} with its right password", "accepted: the account works again",
                 lambda: probes.bind(ctx.target, dn, account.password, expect=frozenset({SUCCESS})),
                 cleanup=True, restore_by_hand=by_hand)


OPENLDAP_LOCK = LockModel(
    flavor=Flavor.OPENLDAP, attributes=("pwdAccountLockedTime", "pwdFailureTime"),
    is_locked=lambda e: bool(e.get("pwdAccountLockedTime")), lock_text="pwdAccountLockedTime is set",
    unlock={"pwdAccountLockedTime": [("MODIFY_DELETE", [])]}, unlock_text="delete pwdAccountLockedTime",
    unlock_tolerate=frozenset({NO_SUCH_ATTRIBUTE}),
    restore_by_hand="as the directory administrator: ldapmodify 'dn: {dn}' 'changetype: modify' "
                    "'delete: pwdAccountLockedTime'")
AD_LOCK = LockModel(
    flavor=Flavor.AD, attributes=("lockoutTime", "badPwdCount"),
    is_locked=lambda e: (e.integer("lockoutTime") or 0) > 0, lock_text="lockoutTime is greater than 0",
    unlock={"lockoutTime": [("MODIFY_REPLACE", ["0"])]}, unlock_text="set lockoutTime to 0",
    unlock_tolerate=frozenset(),
    restore_by_hand="unlock {dn} as a domain administrator: set lockoutTime to 0 (Active Directory Users and "
                    "Computers: Account > Unlock account)")


def short_password(length: int) -> str:
    """A password of exactly ``length`` characters with upper and lower case, a digit and a symbol (so that a
    refusal is about the length, not complexity)."""
    return ("Gx9!" + "qwertzuiopasdfghjklyxcvbnm" * 8)[:length]


RESTORE_PASSWORD = {
    Flavor.OPENLDAP: "as the directory administrator, set the password of {dn} back to the test account's "
                     "password (ldappasswd -S '{dn}')",
    Flavor.AD: "as a domain administrator, reset the password of {dn} to the test account's password "
               "(samba-tool user setpassword, or Active Directory Users and Computers)",
}


#: why a flavour's change attempts cannot be looked up over LDAP
NO_AUDIT_LOG = {
    Flavor.OPENLDAP: f"the directory serves no {probes.ACCESS_LOG_BASE} naming context (accesslog overlay): the "
                     "change attempts could not be looked up in an audit log over LDAP",
    Flavor.AD: "Active Directory records password change attempts in the domain controller's Security event log "
               "(event 4723), which is not readable over LDAP; LDAP shows only the account's pwdLastSet and "
               "badPwdCount",
}


def _has_access_log(ctx: ChallengeContext, found: Directory | None) -> bool:
    return ctx.plan or (found is not None and any(
        c.replace(" ", "").casefold() == probes.ACCESS_LOG_BASE for c in found.contexts))


def _log_action(dn: str) -> str:
    return f"read the access log ({probes.ACCESS_LOG_BASE}) for modify requests on {dn} with the scan's account"


def _log_step(ctx: ChallengeContext, dn: str, since: str, expected: str) -> tuple[Probe, tuple[Entry, ...]]:
    kept: Kept[tuple[Entry, ...]] = Kept()
    seen = ctx.step(_log_action(dn), expected, lambda: kept.keep(probes.access_log(ctx.target, dn, since)))
    return seen, kept.value or ()


def password_change(ctx: ChallengeContext, flavor: Flavor, password_min_length: int) -> list[Finding]:
    """The test account tries to change its own password to its current one (reuse, history) and to one shorter
    than ``password_min_length``: both must be refused. A change that was accepted is undone by the scan's
    account, and a bind with the original password proves it. On OpenLDAP with the accesslog overlay served over
    LDAP, the attempts must appear in the access log (a second finding)."""
    account = ctx.test_account()
    dn = account.name
    found = find_directory(ctx)
    if na := gate(ctx, found, flavor, dn):
        return [na]
    if password_min_length < 2:
        return [not_applicable(dn, f"password_min_length {password_min_length}: no shorter password to try")]
    short = short_password(password_min_length - 1)
    audited = flavor is Flavor.OPENLDAP and _has_access_log(ctx, found)
    since = (utcnow() - timedelta(days=1)).strftime("%Y%m%d%H%M%SZ")
    baseline, earlier = _log_step(ctx, dn, since, "read (the records before the attempts)") if audited else (None, ())
    changes: list[Probe] = []
    try:
        changes.append(ctx.step(f"as {dn}: change its own password to its current password",
                                "refused: the password is in the history",
                                lambda: probes.change_own_password(ctx.target, flavor, dn, account.password,
                                                                   account.password, "its current password")))
        if short != account.password:
            changes.append(ctx.step(
                f"as {dn}: change its own password to one of {len(short)} characters "
                f"(the policy asks for {password_min_length})", "refused: the password is too short",
                lambda: probes.change_own_password(ctx.target, flavor, dn, account.password, short,
                                                   f"{len(short)} characters")))
        findings = [_change_finding(dn, changes, short, password_min_length)]
        if baseline is not None:
            findings.append(_audit_finding(ctx, dn, since, len(changes), baseline, earlier))
        else:
            findings.append(not_applicable(f"access log of {url(ctx)}", NO_AUDIT_LOG[flavor]))
        return findings
    finally:
        by_hand = RESTORE_PASSWORD[flavor].format(dn=dn)
        if len(changes) > 1 and changes[1].ok is not True:  # the short password may now be the account's
            ctx.step(f"as the scan's account: set the password of {dn} back to the original",
                     "done", lambda: probes.reset_password(ctx.target, flavor, dn, account.password),
                     cleanup=True, restore_by_hand=by_hand)
        ctx.step(f"simple bind as {dn} with its original password", "accepted: the password is unchanged",
                 lambda: probes.bind(ctx.target, dn, account.password, expect=frozenset({SUCCESS})),
                 cleanup=True, restore_by_hand=by_hand)


def _change_finding(dn: str, changes: list[Probe], short: str, password_min_length: int) -> Finding:
    obs: dict[str, Any] = {"reuse": changes[0].actual, "password_min_length": password_min_length,
                           "short": changes[-1].actual if len(changes) > 1 else "not tried"}
    names = ("its current password", f"a password of {len(short)} characters")
    accepted = [what for what, p in zip(names, changes, strict=False) if p.ok is False]
    if accepted:
        return failed(dn, "the directory accepted a password change to " + " and to ".join(accepted), **obs)
    return passed(dn, "the directory refused both the reuse of the current password and a password shorter than "
                  f"{password_min_length} characters", **obs)


def _audit_finding(ctx: ChallengeContext, dn: str, since: str, attempts: int, baseline: Probe,
                   earlier: tuple[Entry, ...]) -> Finding:
    resource = f"access log of {url(ctx)}"
    known = {e.text("reqStart") for e in earlier}

    def judge() -> Probe:
        seen, entries = probes.access_log(ctx.target, dn, since)
        if seen.ok is not True:
            return seen
        new = [e for e in entries or () if e.text("reqStart") not in known
               and (e.text("reqAuthzID") or "").casefold() == dn.casefold()]
        results = ", ".join(f"{e.text('reqStart')} result {e.text('reqResult')}" for e in new)
        return Probe(len(new) >= attempts, f"{len(new)} new modify records by the test account: {results or 'none'}",
                     sent=seen.sent, received=seen.received)

    after = ctx.step(_log_action(dn), f"{attempts} new records by the test account, with their results", judge)
    obs: dict[str, Any] = {"access_log": after.actual}
    if baseline.ok is not True or after.ok is None:
        return error(resource, f"the access log could not be read ({baseline.actual}; {after.actual})", **obs)
    if after.ok:
        return passed(resource, f"the {attempts} password change attempts appear in the access log "
                      f"({after.actual})", **obs)
    return failed(resource, f"not every password change attempt appears in the access log ({after.actual})", **obs)
