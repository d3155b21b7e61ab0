"""OpenLDAP server configuration: default password policy, password storage, audit overlay."""
from __future__ import annotations

from typing import Any

from checks.ldap.common import flavor_gate, fmt_days
from scanner.model import Area, Finding, Severity, failed, passed
from scanner.registry import check

AUDIT_OVERLAYS = frozenset({"accesslog", "auditlog"})


@check(id="ldap.ppolicy", title="A default password policy enforces the password rules",
       severity=Severity.HIGH, area=Area.PASSWORD_POLICY,
       criterion="The ppolicy overlay is enabled with a default policy whose pwdMinLength, pwdMaxAge and "
                 "pwdInHistory meet the policy, with pwdLockout on and pwdMaxFailure at most lockout_threshold.")
def ppolicy(root_dse: Any, ppolicy: Any, password_min_length: int = 12, password_max_age_days: int = 90,
            password_history: int = 12, lockout_threshold: int = 5) -> Finding:
    resource = f"ppolicy on {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "openldap", resource):
        return na
    if not ppolicy.overlay_enabled:
        return failed(resource, "the ppolicy overlay is not enabled: no password policy is enforced")
    rules = ppolicy.default
    if rules is None:
        return failed(resource, "no default password policy entry (olcPPolicyDefault: "
                      f"{ppolicy.default_dn or 'unset'})", default_dn=ppolicy.default_dn)
    gaps = []
    if rules.min_length < password_min_length:
        gaps.append(f"pwdMinLength {rules.min_length} < {password_min_length}")
    if rules.max_age_days is None or rules.max_age_days > password_max_age_days:
        gaps.append(f"pwdMaxAge {fmt_days(rules.max_age_days)} > {password_max_age_days} days")
    if rules.in_history < password_history:
        gaps.append(f"pwdInHistory {rules.in_history} < {password_history}")
    if not rules.lockout:
        gaps.append("pwdLockout is off")
    elif not 0 < rules.max_failure <= lockout_threshold:
        gaps.append(f"pwdMaxFailure {rules.max_failure} not in 1..{lockout_threshold}")
    obs = {k: getattr(rules, k) for k in rules.__dataclass_fields__}
    if gaps:
        return failed(rules.dn, "default password policy is weaker than required: " + "; ".join(gaps), **obs)
    return passed(rules.dn, "default password policy meets the length, age, history and lockout rules", **obs)


@check(id="ldap.password_hashing", title="Stored passwords are salted hashes",
       severity=Severity.HIGH, area=Area.ENCRYPTION,
       criterion="Every userPassword value uses a salted hash scheme ({SSHA*}, {CRYPT}, {ARGON2}, {PBKDF2*}); none "
                 "is cleartext or an unsalted hash.")
def password_hashing(root_dse: Any, password_hashes: Any) -> list[Finding]:
    resource = f"userPassword under {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "openldap", resource):
        return [na]
    stored = password_hashes.stored
    out = [failed(p.dn, "password stored in cleartext" if p.scheme == "CLEARTEXT"
                  else f"password stored with unsalted scheme {{{p.scheme}}}", scheme=p.scheme)
           for p in stored if not p.salted]
    if out:
        return out
    schemes = sorted({p.scheme for p in stored})
    hidden = len(password_hashes.unreadable)
    note = f"; {hidden} account(s) without a readable userPassword (none set, or hidden from the bind DN)" \
        if hidden else ""
    return [passed(resource, f"{len(stored)} stored password(s), all salted ({', '.join(schemes) or 'none stored'})"
                   + note, schemes=schemes, count=len(stored), accounts=password_hashes.accounts,
                   without_readable_password=list(password_hashes.unreadable))]


@check(id="ldap.audit_overlay", title="Directory changes are audited",
       severity=Severity.MEDIUM, area=Area.AUDIT_LOGGING,
       criterion="The accesslog or auditlog overlay is enabled on a database (read from cn=config).")
def audit_overlay(root_dse: Any, overlays: Any) -> Finding:
    resource = f"overlays on {root_dse.url}"
    if na := flavor_gate(root_dse, "openldap", resource):
        return na
    found = [f"{o.name} on {o.database}" for o in overlays if o.name in AUDIT_OVERLAYS]
    names = sorted({o.name for o in overlays})
    if found:
        return passed(resource, "audit overlay enabled: " + ", ".join(found), overlays=names)
    return failed(resource, "neither accesslog nor auditlog overlay is enabled: changes leave no audit trail",
                  overlays=names)
