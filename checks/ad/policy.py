"""Active Directory password and lockout policy: the domain's, fine-grained ones, and krbtgt's age."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from checks.ad.rules import lockout_gaps, observed_rules, password_gaps
from checks.ldap.common import FUTURE_SLACK, flavor_gate, missing
from scanner.facts.ldap import DirectoryInfo, Krbtgt, PasswordRules, PasswordSettingsObject
from scanner.model import Area, Finding, Severity, error, failed, passed
from scanner.registry import check


@check(id="ad.password_policy", title="Domain password policy meets the password rules",
       severity=Severity.HIGH, area=Area.PASSWORD_POLICY,
       criterion="The default domain policy requires at least the policy's minimum length, complexity, a maximum "
                 "and minimum age, and remembers enough previous passwords.",
       remediation="Set the Default Domain Policy's password settings (Computer Configuration > Policies > Windows "
                   "Settings > Security Settings > Account Policies > Password Policy) to at least the required "
                   "length, complexity, maximum and minimum age and history, with reversible encryption off; the "
                   "domain head takes them at the next policy refresh.")
def password_policy(root_dse: DirectoryInfo, domain_policy: PasswordRules | None, password_min_length: int = 12,
                    password_max_age_days: int = 90, password_min_age_days: int = 1, password_history: int = 12,
                    password_complexity: bool = True) -> Finding:
    resource = f"domain {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "ad", resource):
        return na
    if domain_policy is None:
        return missing(resource, "ldap.domain_policy")
    gaps = password_gaps(domain_policy, min_length=password_min_length, max_age_days=password_max_age_days,
                         min_age_days=password_min_age_days, history=password_history,
                         complexity=password_complexity)
    obs = observed_rules(domain_policy)
    if gaps:
        return failed(resource, "domain password policy is weaker than required: " + "; ".join(gaps), **obs)
    return passed(resource, "domain password policy meets the required length, complexity, age and history", **obs)


@check(id="ad.lockout_policy", title="Domain account lockout policy limits password guessing",
       severity=Severity.HIGH, area=Area.PASSWORD_POLICY,
       criterion="Accounts lock after no more than the policy's number of failed logons, stay locked long enough, "
                 "and failures are counted over a long enough window.",
       remediation="In the Default Domain Policy's Account Lockout Policy set the threshold to at most the allowed "
                   "number of failed logons (never 0), and the lockout duration and the counter reset window to at "
                   "least the required minutes.")
def lockout_policy(root_dse: DirectoryInfo, domain_policy: PasswordRules | None,
                   lockout_threshold: int = 5, lockout_duration_minutes: int = 15,
                   lockout_window_minutes: int = 15) -> Finding:
    resource = f"domain {root_dse.base_dn}"
    if na := flavor_gate(root_dse, "ad", resource):
        return na
    if domain_policy is None:
        return missing(resource, "ldap.domain_policy")
    gaps = lockout_gaps(domain_policy, threshold=lockout_threshold, duration_minutes=lockout_duration_minutes,
                        window_minutes=lockout_window_minutes)
    obs: dict[str, Any] = {"lockout_threshold": domain_policy.lockout_threshold,
           "lockout_duration_minutes": domain_policy.lockout_duration_minutes,
           "lockout_window_minutes": domain_policy.lockout_window_minutes}
    if gaps:
        return failed(resource, "account lockout is weaker than required: " + "; ".join(gaps), **obs)
    return passed(resource, "accounts lock out after repeated failed logons as required", **obs)


@check(id="ad.fine_grained_policies", title="Fine-grained password policies are not weaker than the policy",
       severity=Severity.HIGH, area=Area.PASSWORD_POLICY,
       criterion="Every password settings object (PSO) meets the same password and lockout rules as the domain "
                 "policy must; a weaker PSO is reported with the users and groups it applies to.",
       remediation="Raise the listed password settings objects to the required password and lockout values "
                   "(Active Directory Administrative Center > System > Password Settings Container, or "
                   "Set-ADFineGrainedPasswordPolicy), or remove them so the domain policy applies to their users.")
def fine_grained_policies(root_dse: DirectoryInfo,
                          password_settings_objects: tuple[PasswordSettingsObject, ...] | None,
                          password_min_length: int = 12,
                          password_max_age_days: int = 90, password_min_age_days: int = 1,
                          password_history: int = 12, password_complexity: bool = True, lockout_threshold: int = 5,
                          lockout_duration_minutes: int = 15, lockout_window_minutes: int = 15) -> list[Finding]:
    if na := flavor_gate(root_dse, "ad", f"domain {root_dse.base_dn}"):
        return [na]
    if password_settings_objects is None:
        return [missing(f"domain {root_dse.base_dn}", "ldap.password_settings_objects")]
    if not password_settings_objects:
        return [passed(f"domain {root_dse.base_dn}", "no fine-grained password policies: the domain policy applies "
                       "to every account", count=0)]
    out: list[Finding] = []
    for pso in password_settings_objects:
        gaps = password_gaps(pso.rules, min_length=password_min_length, max_age_days=password_max_age_days,
                             min_age_days=password_min_age_days, history=password_history,
                             complexity=password_complexity)
        gaps += lockout_gaps(pso.rules, threshold=lockout_threshold, duration_minutes=lockout_duration_minutes,
                             window_minutes=lockout_window_minutes)
        obs: dict[str, Any] = {**observed_rules(pso.rules), "precedence": pso.precedence,
                               "applies_to": list(pso.applies_to)}
        resource = f"PSO {pso.name}"
        if gaps:
            out.append(failed(resource, f"weaker than required ({'; '.join(gaps)}); applies to "
                              f"{', '.join(pso.applies_to) or 'nobody'}", **obs))
        else:
            out.append(passed(resource, "meets the password and lockout rules", **obs))
    return out


@check(id="ad.krbtgt_password_age", title="krbtgt account password is rotated",
       severity=Severity.MEDIUM, area=Area.ACCESS_CONTROL,
       criterion="The krbtgt account's password (the key that signs every Kerberos ticket) was changed within the "
                 "policy's number of days.",
       remediation="Reset the krbtgt password twice, with at least the maximum ticket lifetime (10 hours by "
                   "default) and full replication between the two resets, e.g. with Microsoft's published "
                   "New-KrbtgtKeys script; repeat on a schedule shorter than krbtgt_max_age_days.")
def krbtgt_password_age(root_dse: DirectoryInfo, krbtgt: Krbtgt | None, krbtgt_max_age_days: int = 180) -> Finding:
    if na := flavor_gate(root_dse, "ad", "krbtgt"):
        return na
    if krbtgt is None:
        return missing("krbtgt", "ldap.krbtgt")
    if krbtgt.pwd_last_set is None:
        return error(krbtgt.dn, "krbtgt pwdLastSet is not set or not readable")
    if krbtgt.pwd_last_set > datetime.now(timezone.utc) + FUTURE_SLACK:
        return error(krbtgt.dn, f"krbtgt pwdLastSet {krbtgt.pwd_last_set:%Y-%m-%d} lies in the future: it cannot be "
                     "trusted", pwd_last_set=krbtgt.pwd_last_set.isoformat())
    age = (datetime.now(timezone.utc) - krbtgt.pwd_last_set).days
    obs: dict[str, Any] = {"pwd_last_set": krbtgt.pwd_last_set.isoformat(), "age_days": age,
                           "max_age_days": krbtgt_max_age_days}
    if age > krbtgt_max_age_days:
        return failed(krbtgt.dn, f"krbtgt password is {age} days old (> {krbtgt_max_age_days})", **obs)
    return passed(krbtgt.dn, f"krbtgt password is {age} days old", **obs)
