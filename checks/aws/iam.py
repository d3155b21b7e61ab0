"""IAM: root account, users' MFA, access keys, unused credentials, admin policies, password policy."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from checks.aws._common import ADMIN_MANAGED_POLICIES, age_days, grants_everything, incomplete, none_found, where
from scanner.facts.aws import (
    AccountSummary,
    AnalyzerRegion,
    AttachedPolicy,
    AwsResources,
    CredentialUser,
    IamUser,
    PasswordPolicy,
)
from scanner.model import Finding, error, failed, passed
from scanner.registry import check

#: CIS AWS Foundations Benchmark v3.0.0, recommendation 1.12: credentials unused for 45 days or more are disabled.
CIS_UNUSED_CREDENTIAL_DAYS = 45


@check(id="aws.iam.root_mfa", title="Root user has MFA", severity="critical", area="access_control",
       criterion="IAM account summary shows AccountMFAEnabled = 1 in every scanned account",
       remediation="Sign in as the root user, open Security credentials and assign an MFA device (a hardware key "
                   "for production accounts); keep the device and its recovery procedure under dual control.")
def root_mfa(account_summary: AwsResources[AccountSummary]) -> list[Finding]:
    out = []
    for s in account_summary.items:
        if s.root_mfa_enabled:
            out.append(passed(s.arn, "root user has MFA enabled", **where(s), root_mfa=True))
        else:
            out.append(failed(s.arn, "root user has no MFA device", **where(s), root_mfa=False))
    return out or none_found(account_summary, "account summary")


@check(id="aws.iam.root_access_keys", title="Root user has no access keys", severity="critical",
       area="access_control", criterion="IAM account summary shows AccountAccessKeysPresent = 0",
       remediation="Delete the root user's access keys (Security credentials, as root) and give automation its "
                   "own IAM role or user with only the permissions it needs.")
def root_access_keys(account_summary: AwsResources[AccountSummary]) -> list[Finding]:
    out = []
    for s in account_summary.items:
        arn, obs = s.arn, dict(**where(s), root_access_keys_present=s.root_access_keys_present)
        if s.root_access_keys_present:
            out.append(failed(arn, "root user has access keys", **obs))
        else:
            out.append(passed(arn, "root user has no access keys", **obs))
    return out or none_found(account_summary, "account summary")


def _users(report: AwsResources[CredentialUser]) -> list[CredentialUser]:
    return [u for u in report.items if not u.is_root]


@check(id="aws.iam.user_mfa", title="Console users have MFA", severity="high", area="access_control",
       criterion="every IAM user with a console password has an active MFA device (credential report)",
       remediation="Assign an MFA device to each listed console user, or enforce MFA through an IAM policy that "
                   "denies actions without aws:MultiFactorAuthPresent; prefer IAM Identity Center sign-in with "
                   "MFA over IAM user passwords.")
def user_mfa(iam_credential_report: AwsResources[CredentialUser]) -> list[Finding]:
    out = []
    for u in _users(iam_credential_report):
        if not u.password_enabled:
            continue
        obs: dict[str, Any] = dict(**where(u), user=u.user, password_enabled=True, mfa_active=u.mfa_active)
        if u.mfa_active:
            out.append(passed(u.arn, f"console user {u.user} has MFA", **obs))
        else:
            out.append(failed(u.arn, f"console user {u.user} has no MFA device", **obs))
    return out or none_found(iam_credential_report, "IAM users with a console password")


@check(id="aws.iam.access_key_rotation", title="Access keys are rotated", severity="medium",
       area="access_control",
       criterion="every active access key was rotated within access_key_max_age_days (credential report)",
       remediation="Create a second access key for the user, move its consumers to the new key, then deactivate "
                   "and delete the old one; better, replace long-lived keys with roles and temporary "
                   "credentials.")
def access_key_rotation(iam_credential_report: AwsResources[CredentialUser],
                        access_key_max_age_days: int = 90) -> list[Finding]:
    out = []
    for u in _users(iam_credential_report):
        active = [k for k in u.keys if k.active]
        if not active:
            continue
        ages = {f"key_{k.index}": age_days(k.last_rotated) for k in active}
        obs: dict[str, Any] = dict(**where(u), user=u.user, key_age_days=ages, max_age_days=access_key_max_age_days)
        unknown = [k for k, v in ages.items() if v is None]
        old = [k for k, v in ages.items() if v is not None and v > access_key_max_age_days]
        if unknown:
            out.append(error(u.arn, f"rotation date of {', '.join(unknown)} of {u.user} unknown", **obs))
        elif old:
            out.append(failed(u.arn, f"{u.user}: {', '.join(old)} older than {access_key_max_age_days} days", **obs))
        else:
            out.append(passed(u.arn, f"{u.user}: active keys rotated within {access_key_max_age_days} days", **obs))
    return out or none_found(iam_credential_report, "active access keys")


def _idle_days(last_used: datetime | None, fallback: datetime | None) -> int | None:
    return age_days(last_used if last_used is not None else fallback)


@check(id="aws.iam.unused_credentials", title="No unused credentials", severity="medium", area="access_control",
       criterion="no console password or active access key unused for stale_account_days or more "
                 f"(default {CIS_UNUSED_CREDENTIAL_DAYS}: CIS AWS Foundations Benchmark v3.0.0, recommendation 1.12; "
                 "never-used credentials count from their creation or rotation)",
       remediation="Deactivate access keys and remove console passwords that have not been used within the "
                   "threshold; delete them once nobody claims them, and review the user's need for access.")
def unused_credentials(iam_credential_report: AwsResources[CredentialUser],
                       stale_account_days: int = CIS_UNUSED_CREDENTIAL_DAYS) -> list[Finding]:
    """Console passwords and active access keys nobody has used lately.

    Default: 45 days, the figure of the CIS AWS Foundations Benchmark v3.0.0 (recommendation 1.12,
    "credentials unused for 45 days or more are disabled"), also used by AWS Security Hub's CIS standard. It is
    stricter than the 90 days this check used before and than the 90-day rotation of access keys
    (``aws.iam.access_key_rotation``, CIS 1.14): a credential idle for six weeks belongs to someone who left or to
    a job that stopped, and each idle day is a day a leaked key works unnoticed. A site with a documented reason
    (e.g. a quarterly batch account) sets ``stale_account_days`` in its policy. As in the benchmark, a credential
    unused for exactly the threshold fails (45 whole days or more).
    """
    out = []
    for u in _users(iam_credential_report):
        idle: dict[str, int | None] = {}
        if u.password_enabled:
            idle["password"] = _idle_days(u.password_last_used, u.password_last_changed or u.created)
        for k in u.keys:
            if k.active:
                idle[f"key_{k.index}"] = _idle_days(k.last_used, k.last_rotated or u.created)
        if not idle:
            continue
        obs: dict[str, Any] = dict(**where(u), user=u.user, idle_days=idle, max_idle_days=stale_account_days)
        unknown = [c for c, d in idle.items() if d is None]
        stale = [c for c, d in idle.items() if d is not None and d >= stale_account_days]
        if stale:
            out.append(failed(u.arn, f"{u.user}: {', '.join(stale)} unused for {stale_account_days} days or more",
                              **obs))
        elif unknown:
            out.append(error(u.arn, f"{u.user}: last use of {', '.join(unknown)} unknown", **obs))
        else:
            out.append(passed(u.arn, f"{u.user}: credentials used within the last {stale_account_days} days", **obs))
    return out or none_found(iam_credential_report, "IAM users with credentials")


def _admin(policy: AttachedPolicy) -> bool:
    if policy.aws_managed:
        return policy.name in ADMIN_MANAGED_POLICIES
    return grants_everything(policy.document)


@check(id="aws.iam.user_admin_policies", title="No administrator policy attached directly to users",
       severity="high", area="access_control",
       criterion="no IAM user has AdministratorAccess or a policy allowing * on * attached or inline",
       remediation="Detach administrator policies from the user; grant administration through a role (or group) "
                   "that is assumed on demand with MFA and whose use is logged and reviewed.")
def user_admin_policies(iam_users: AwsResources[IamUser]) -> list[Finding]:
    out = []
    for u in iam_users.items:
        bad = incomplete(u)
        if bad:
            out.append(bad)
            continue
        admin = [p.name for p in u.attached if _admin(p)]
        admin += [f"{p.name} (inline)" for p in u.inline if grants_everything(p.document)]
        obs: dict[str, Any] = dict(**where(u), user=u.name, admin_policies=admin,
                   attached=[p.name for p in u.attached], inline=[p.name for p in u.inline])
        if admin:
            out.append(failed(u.arn, f"{u.name} has administrator policies: {', '.join(admin)}", **obs))
        else:
            out.append(passed(u.arn, f"{u.name} has no administrator policy attached directly", **obs))
    return out or none_found(iam_users, "IAM users")


@check(id="aws.iam.password_policy", title="IAM password policy meets the policy", severity="high",
       area="password_policy",
       criterion="minimum length >= password_min_length, upper/lower/number/symbol required when "
                 "password_complexity, reuse prevention >= password_history, maximum age <= password_max_age_days",
       remediation="Set the account password policy (IAM, Account settings) to at least the required length, "
                   "character classes, reuse prevention and maximum age.")
def password_policy(password_policy: AwsResources[PasswordPolicy], password_min_length: int = 14,
                    password_max_age_days: int = 90, password_history: int = 24,
                    password_complexity: bool = True) -> list[Finding]:
    out = []
    for p in password_policy.items:
        arn = p.arn
        if not p.present:
            out.append(failed(arn, "no IAM password policy is set (AWS defaults apply)", **where(p), present=False))
            continue
        gaps = []
        if (p.min_length or 0) < password_min_length:
            gaps.append(f"minimum length {p.min_length} < {password_min_length}")
        classes = dict(uppercase=p.require_uppercase, lowercase=p.require_lowercase, numbers=p.require_numbers,
                       symbols=p.require_symbols)
        if password_complexity and not all(classes.values()):
            gaps.append("complexity not required for " + ", ".join(k for k, v in classes.items() if not v))
        if (p.reuse_prevention or 0) < password_history:
            gaps.append(f"reuse prevention {p.reuse_prevention} < {password_history}")
        if p.max_age_days is None or p.max_age_days > password_max_age_days:
            gaps.append(f"maximum age {p.max_age_days or 'unlimited'} > {password_max_age_days} days")
        obs: dict[str, Any] = dict(**where(p), min_length=p.min_length, reuse_prevention=p.reuse_prevention,
                   max_age_days=p.max_age_days, **{f"require_{k}": v for k, v in classes.items()})
        if gaps:
            out.append(failed(arn, "password policy: " + "; ".join(gaps), **obs))
        else:
            out.append(passed(arn, "password policy meets the policy thresholds", **obs))
    return out or none_found(password_policy, "password policy")


@check(id="aws.iam.access_analyzer", title="IAM Access Analyzer is active in every region", severity="medium",
       area="access_control",
       criterion="every scanned region has at least one ACTIVE IAM Access Analyzer for external access (account or "
                 "organization zone of trust; unused-access analyzers do not count)",
       remediation="Create an IAM Access Analyzer (account or organization zone of trust) in every listed region "
                   "and review its findings regularly.")
def access_analyzer(access_analyzers: AwsResources[AnalyzerRegion]) -> list[Finding]:
    out = []
    for r in access_analyzers.items:
        obs: dict[str, Any] = dict(**where(r), analyzers=list(r.active))
        if r.active:
            out.append(passed(r.arn, f"active analyzer in {r.region}: {', '.join(r.active)}", **obs))
        else:
            out.append(failed(r.arn, f"no active IAM Access Analyzer in {r.region}", **obs))
    return out or none_found(access_analyzers, "regions")
