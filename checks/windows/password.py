"""Windows password policy (the SAM account domain's rules) and authentication protocol settings."""
from __future__ import annotations

from typing import Any

from checks.ad.rules import lockout_gaps, observed_rules
from checks.windows._common import expect, settings_finding
from scanner.facts.windows import LANMAN_SERVER, LSA, PasswordRules, Registry
from scanner.model import Area, Finding, Severity, failed, passed
from scanner.registry import check

RESOURCE = "local password policy"


def _rule(ok: bool, good: str, bad: str, rules: PasswordRules) -> Finding:
    return passed(RESOURCE, good, **observed_rules(rules)) if ok else failed(RESOURCE, bad, **observed_rules(rules))


@check(id="windows.password.min_length", title="Minimum password length", severity=Severity.HIGH,
       area=Area.PASSWORD_POLICY, criterion="The minimum password length is at least password_min_length.",
       remediation="Account Policies > Password Policy > 'Minimum password length' = the required length.")
def min_length(password_policy: PasswordRules, password_min_length: int = 12) -> Finding:
    n = password_policy.min_length
    return _rule(n >= password_min_length, f"minimum length {n} >= {password_min_length}",
                 f"minimum length {n} < {password_min_length}", password_policy)


@check(id="windows.password.max_age", title="Maximum password age", severity=Severity.MEDIUM,
       area=Area.PASSWORD_POLICY, criterion="Passwords expire after at most password_max_age_days.",
       remediation="Account Policies > Password Policy > 'Maximum password age' = at most the required days (not 0).")
def max_age(password_policy: PasswordRules, password_max_age_days: int = 90) -> Finding:
    age = password_policy.max_age_days
    return _rule(age is not None and age <= password_max_age_days, f"passwords expire after {age} days",
                 f"maximum age {'never' if age is None else age} > {password_max_age_days} days", password_policy)


@check(id="windows.password.min_age", title="Minimum password age", severity=Severity.LOW,
       area=Area.PASSWORD_POLICY,
       criterion="A password is kept at least password_min_age_days before it may change (history cannot be cycled).",
       remediation="Account Policies > Password Policy > 'Minimum password age' = at least 1 day.")
def min_age(password_policy: PasswordRules, password_min_age_days: int = 1) -> Finding:
    age = password_policy.min_age_days
    return _rule(age >= password_min_age_days, f"minimum age {age} days", f"minimum age {age} < "
                 f"{password_min_age_days} days", password_policy)


@check(id="windows.password.history", title="Password history", severity=Severity.MEDIUM,
       area=Area.PASSWORD_POLICY, criterion="At least password_history previous passwords are remembered.",
       remediation="Account Policies > Password Policy > 'Enforce password history' = the required number (24 max).")
def history(password_policy: PasswordRules, password_history: int = 12) -> Finding:
    n = password_policy.history
    return _rule(n >= password_history, f"{n} passwords remembered", f"history {n} < {password_history}",
                 password_policy)


@check(id="windows.password.complexity", title="Passwords must meet complexity requirements",
       severity=Severity.MEDIUM, area=Area.PASSWORD_POLICY,
       criterion="The SAM's DOMAIN_PASSWORD_COMPLEX flag is set (when password_complexity is required).",
       remediation="Account Policies > Password Policy > 'Password must meet complexity requirements' = Enabled.")
def complexity(password_policy: PasswordRules, password_complexity: bool = True) -> Finding:
    ok = password_policy.complexity or not password_complexity
    return _rule(ok, "complexity " + ("required" if password_policy.complexity else "not required by policy"),
                 "complexity not required", password_policy)


@check(id="windows.password.reversible_encryption", title="Passwords are not stored with reversible encryption",
       severity=Severity.HIGH, area=Area.PASSWORD_POLICY,
       criterion="The SAM's DOMAIN_PASSWORD_STORE_CLEARTEXT flag is off.",
       remediation="Account Policies > Password Policy > 'Store passwords using reversible encryption' = Disabled, "
                   "then have affected users change their passwords.")
def reversible_encryption(password_policy: PasswordRules) -> Finding:
    return _rule(not password_policy.reversible_encryption, "passwords are not stored reversibly",
                 "passwords are stored with reversible encryption", password_policy)


@check(id="windows.password.lockout", title="Account lockout limits password guessing", severity=Severity.HIGH,
       area=Area.PASSWORD_POLICY,
       criterion="Accounts lock after at most lockout_threshold failures (never 0), for at least "
                 "lockout_duration_minutes, counting failures over at least lockout_window_minutes.",
       remediation="Account Policies > Account Lockout Policy: threshold, duration and reset counter as required.")
def lockout(password_policy: PasswordRules, lockout_threshold: int = 5, lockout_duration_minutes: int = 15,
            lockout_window_minutes: int = 15) -> Finding:
    gaps = lockout_gaps(password_policy, threshold=lockout_threshold, duration_minutes=lockout_duration_minutes,
                        window_minutes=lockout_window_minutes)
    return _rule(not gaps, "accounts lock out after repeated failed logons as required",
                 "account lockout is weaker than required: " + "; ".join(gaps), password_policy)


@check(id="windows.auth.lm_hash", title="LM hashes are not stored", severity=Severity.HIGH,
       area=Area.PASSWORD_POLICY, criterion="NoLMHash = 1 under the LSA key.",
       remediation="Security option 'Network security: Do not store LAN Manager hash value on next password change' "
                   "= Enabled; then change passwords so old LM hashes are gone.")
def lm_hash(registry: Registry) -> Finding:
    problems: list[str] = []
    obs: dict[str, Any] = {}
    expect(registry, LSA, "NoLMHash", lambda v: v == 1, "1", problems, obs)
    return settings_finding("LSA", problems, "LM hashes are not stored", **obs)


@check(id="windows.auth.ntlm_level", title="Only NTLMv2 is sent and LM/NTLMv1 refused", severity=Severity.HIGH,
       area=Area.PASSWORD_POLICY,
       criterion="LmCompatibilityLevel is at least ntlm_min_level (5: send NTLMv2 only, refuse LM and NTLM).",
       remediation="Security option 'Network security: LAN Manager authentication level' = 'Send NTLMv2 response "
                   "only. Refuse LM & NTLM'.")
def ntlm_level(registry: Registry, ntlm_min_level: int = 5) -> Finding:
    problems: list[str] = []
    obs: dict[str, Any] = {}
    expect(registry, LSA, "LmCompatibilityLevel", lambda v: ntlm_min_level <= v <= 5, f">= {ntlm_min_level}",
           problems, obs)
    return settings_finding("LSA", problems, "only NTLMv2 is used", **obs)


@check(id="windows.auth.anonymous_restrictions", title="Anonymous access is restricted", severity=Severity.HIGH,
       area=Area.ACCESS_CONTROL,
       criterion="RestrictAnonymousSAM = 1, RestrictAnonymous >= 1, EveryoneIncludesAnonymous = 0 and "
                 "RestrictNullSessAccess = 1: no anonymous enumeration of accounts and shares.",
       remediation="Security options 'Network access: Do not allow anonymous enumeration of SAM accounts (and "
                   "shares)' = Enabled, 'Let Everyone permissions apply to anonymous users' = Disabled, 'Restrict "
                   "anonymous access to Named Pipes and Shares' = Enabled.")
def anonymous_restrictions(registry: Registry) -> Finding:
    problems: list[str] = []
    obs: dict[str, Any] = {}
    expect(registry, LSA, "RestrictAnonymousSAM", lambda v: v == 1, "1", problems, obs)
    expect(registry, LSA, "RestrictAnonymous", lambda v: v >= 1, ">= 1", problems, obs)
    expect(registry, LSA, "EveryoneIncludesAnonymous", lambda v: v == 0, "0", problems, obs)
    expect(registry, LANMAN_SERVER, "RestrictNullSessAccess", lambda v: v == 1, "1", problems, obs)
    return settings_finding("anonymous access", problems, "anonymous enumeration and null sessions are refused",
                            **obs)
