"""OpenLDAP server configuration: default password policy, password storage, audit overlay."""
from __future__ import annotations

from typing import Any

from checks.ldap.common import flavor_gate, fmt_days, missing
from scanner.facts.ldap import DirectoryInfo, Overlay, PasswordStorage, PPolicyRules, PPolicyState
from scanner.model import Area, Finding, Severity, error, failed, passed
from scanner.registry import check

AUDIT_OVERLAYS = frozenset({"accesslog", "auditlog"})


def _ppolicy_gaps(rules: PPolicyRules, password_min_length: int, password_max_age_days: int, password_history: int,
                  lockout_threshold: int) -> list[str]:
    gaps = []
    if rules.min_length < password_min_length:
        gaps.append(f"pwdMinLength {rules.min_length} < {password_min_length}")
    elif not rules.min_length_enforced:
        gaps.append(f"pwdMinLength {rules.min_length} is not enforced (pwdCheckQuality 0 or unset: no quality check)")
    if rules.max_age_days is None or rules.max_age_days > password_max_age_days:
        gaps.append(f"pwdMaxAge {fmt_days(rules.max_age_days)} > {password_max_age_days} days")
    if rules.in_history < password_history:
        gaps.append(f"pwdInHistory {rules.in_history} < {password_history}")
    if not rules.lockout:
        gaps.append("pwdLockout is off")
    elif not 0 < rules.max_failure <= lockout_threshold:
        gaps.append(f"pwdMaxFailure {rules.max_failure} not in 1..{lockout_threshold}")
    return gaps


@check(id="ldap.ppolicy", title="A default password policy enforces the password rules",
       severity=Severity.HIGH, area=Area.PASSWORD_POLICY,
       criterion="The ppolicy overlay is enabled on the database holding the base DN with a default policy whose "
                 "pwdMinLength (enforced by pwdCheckQuality), pwdMaxAge and pwdInHistory meet the policy, with "
                 "pwdLockout on and pwdMaxFailure at most lockout_threshold; every policy that entries name for "
                 "themselves (pwdPolicySubentry) meets the same rules.",
       remediation="Load the ppolicy module and add the ppolicy overlay to the database that holds your accounts, "
                   "point olcPPolicyDefault at a pwdPolicy entry, and set on it (and on any policy entry that "
                   "accounts name in pwdPolicySubentry) pwdCheckQuality 2, pwdMinLength, pwdMaxAge, pwdInHistory, "
                   "pwdLockout TRUE and pwdMaxFailure to the values the policy requires.")
def ppolicy(root_dse: DirectoryInfo, ppolicy: PPolicyState | None, password_min_length: int = 12,
            password_max_age_days: int = 90, password_history: int = 12, lockout_threshold: int = 5) -> Finding:
    resource = f"ppolicy on {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "openldap", resource):
        return na
    if ppolicy is None:
        return missing(resource, "ldap.ppolicy")
    if not ppolicy.overlay_enabled:
        return failed(resource, "the ppolicy overlay is not enabled on the database holding the base DN: no "
                      "password policy is enforced")
    rules = ppolicy.default
    if rules is None:
        return failed(resource, "no default password policy entry (olcPPolicyDefault: "
                      f"{ppolicy.default_dn or 'unset'})", default_dn=ppolicy.default_dn)
    limits = (password_min_length, password_max_age_days, password_history, lockout_threshold)
    gaps = _ppolicy_gaps(rules, *limits)
    overrides: list[dict[str, Any]] = []
    for o in ppolicy.overrides:
        named = f"policy {o.policy_dn} (pwdPolicySubentry of {len(o.entries)} entries)"
        o_gaps = ["entry missing or not readable"] if o.rules is None else _ppolicy_gaps(o.rules, *limits)
        overrides.append({"policy": o.policy_dn, "entries": list(o.entries), "gaps": o_gaps})
        gaps += [f"{named}: {g}" for g in o_gaps]
    obs: dict[str, Any] = {k: getattr(rules, k) for k in rules.__dataclass_fields__}
    obs["overrides"] = overrides
    if gaps:
        return failed(rules.dn, "password policy is weaker than required: " + "; ".join(gaps), **obs)
    return passed(rules.dn, "default password policy meets the length, age, history and lockout rules"
                  + (f" (and {len(overrides)} per-entry policies)" if overrides else ""), **obs)


@check(id="ldap.password_hashing", title="Stored passwords are salted hashes",
       severity=Severity.HIGH, area=Area.ENCRYPTION,
       criterion="Every userPassword value uses a salted, current hash scheme ({SSHA*}, {ARGON2}, {PBKDF2*}, "
                 "{CRYPT} with SHA-crypt, bcrypt or yescrypt); none is cleartext, an unsalted hash or DES/MD5 "
                 "crypt; and every account's value could be read (or the bind is the rootdn, which reads all).",
       remediation="Set password-hash (olcPasswordHash) to a salted scheme such as {SSHA512}, {PBKDF2-SHA512} or "
                   "{ARGON2}, then have the listed accounts change their passwords (the stored form only changes "
                   "on the next password change). Scan with a bind DN that may read userPassword.")
def password_hashing(root_dse: DirectoryInfo, password_hashes: PasswordStorage | None) -> list[Finding]:
    resource = f"userPassword under {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "openldap", resource):
        return [na]
    if password_hashes is None:
        return [missing(resource, "ldap.password_hashes")]
    stored = password_hashes.stored
    out = [failed(p.dn, "password stored in cleartext" if p.scheme == "CLEARTEXT"
                  else f"password stored with unsalted or weak scheme {{{p.scheme}}}", scheme=p.scheme)
           for p in stored if not p.salted]
    if out:
        return out
    schemes = sorted({p.scheme for p in stored})
    hidden = list(password_hashes.unreadable)
    obs: dict[str, Any] = {"schemes": schemes, "count": len(stored), "accounts": password_hashes.accounts,
           "without_readable_password": hidden}
    if hidden and not password_hashes.bind_reads_all:
        return [error(resource, f"{len(hidden)} account(s) without a userPassword this bind can read (none set, or "
                      f"hidden from {root_dse.bound_as}): their storage cannot be judged; scan as the rootdn or a DN "
                      "allowed to read userPassword", **obs)]
    note = f"; {len(hidden)} account(s) hold no password" if hidden else ""
    return [passed(resource, f"{len(stored)} stored password(s), all salted ({', '.join(schemes)})" + note, **obs)]


def _audits(o: Overlay) -> bool:
    return o.name in AUDIT_OVERLAYS and o.covers_base and o.logs_writes


@check(id="ldap.audit_overlay", title="Directory changes are audited",
       severity=Severity.MEDIUM, area=Area.AUDIT_LOGGING,
       criterion="The accesslog overlay (logging the write operations) or the auditlog overlay is enabled on the "
                 "database holding the base DN, or globally on the frontend (read from cn=config).",
       remediation="Add the auditlog overlay (olcAuditlogFile) or the accesslog overlay with olcAccessLogOps: writes "
                   "to the database that holds your entries, not to another database, and make sure it is not "
                   "disabled (olcDisabled).")
def audit_overlay(root_dse: DirectoryInfo, overlays: tuple[Overlay, ...] | None) -> Finding:
    resource = f"overlays on {root_dse.url}"
    if na := flavor_gate(root_dse, "openldap", resource):
        return na
    if overlays is None:
        return missing(resource, "ldap.overlays")
    found = [f"{o.name} on {o.database}" for o in overlays if _audits(o)]
    names = sorted({o.name for o in overlays})
    if found:
        return passed(resource, "audit overlay enabled: " + ", ".join(found), overlays=names)
    elsewhere = [f"{o.name} on {o.database}" + ("" if o.covers_base else " (not the base DN's database)")
                 + ("" if o.logs_writes else " (olcAccessLogOps does not include writes)")
                 for o in overlays if o.name in AUDIT_OVERLAYS]
    return failed(resource, "no accesslog or auditlog overlay records changes to the base DN's data: changes leave "
                  "no audit trail" + (f" ({'; '.join(elsewhere)})" if elsewhere else ""), overlays=names)
