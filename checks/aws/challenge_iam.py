"""IAM challenges (safe): the IAM policy simulator asked whether named principals can do what policy forbids.

``iam:SimulatePrincipalPolicy`` evaluates a user's or role's identity policies, permissions boundary and the
organization's SCPs for an action and resource without performing it. The principals are every IAM user and role
of each scanned account (service-linked roles, owned by AWS, left out), or those ``challenge_principals`` names,
minus ``break_glass_principals``. Resource policies are not part of a principal simulation: the S3 and KMS checks
read those.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from scanner.challenge import ChallengeContext, challenge
from scanner.connectors.aws import Account
from scanner.model import Finding, error, not_applicable, passed
from scanner.probes.aws import (
    EACH_ACCOUNT,
    AwsLink,
    Principal,
    account_of,
    judge,
    list_principals,
    sign_in,
    simulate,
)

#: Actions that would silence or destroy the audit trail or the records (defaults of challenge_denied_actions).
DANGEROUS_ACTIONS = ("cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "kms:ScheduleKeyDeletion", "s3:DeleteBucket")
EACH_PRINCIPAL = "<each IAM user and role>"


def _matches(principal: Principal, names: Sequence[str]) -> bool:
    return principal.arn in names or principal.name in names


def _principals(ctx: ChallengeContext, link: AwsLink, named: Sequence[str],
                break_glass: Sequence[str]) -> tuple[list[Principal], list[Finding]]:
    """The principals to challenge, and error findings for listings that failed or named principals not found."""
    found: list[Principal] = []
    problems: list[Finding] = []
    for account in link.accounts:
        for kind in ("user", "role"):
            got = ctx.step(f"list the IAM {kind}s of account {account.id} with the scan's credentials",
                           f"the {kind} list", partial(list_principals, link, account, kind, found))
            if got.ok is not True:
                problems.append(error(f"aws:{account.id}", f"could not list IAM {kind}s: {got.actual}"))
    if ctx.plan:
        return [Principal(EACH_ACCOUNT, EACH_PRINCIPAL, "user", EACH_PRINCIPAL)], []
    if named:
        missing = [n for n in named if not any(_matches(p, [n]) for p in found)]
        problems += [error(n, "challenge_principals names a principal no scanned account has") for n in missing]
        found = [p for p in found if _matches(p, named)]
    return [p for p in found if not _matches(p, break_glass)], problems


def _account(link: AwsLink, principal: Principal) -> Account:
    return account_of(link, principal.account)


def _each_principal(ctx: ChallengeContext, actions: Sequence[str], when_none: str, named: Sequence[str],
                    break_glass: Sequence[str], resource_arns: Sequence[str],
                    one: Callable[[AwsLink, Principal, list[str], list[str]], Finding]) -> list[Finding]:
    """Sign in, list the principals to challenge and judge each with ``one`` (given the actions and the resources
    '*' plus ``resource_arns``); not applicable when there are no actions (``when_none`` says why) or principals."""
    acts, resources = list(actions), ["*", *resource_arns]
    if not acts:
        return [not_applicable(ctx.target.name, when_none)]
    link = sign_in(ctx)
    if link is None:
        return [error(ctx.target.name, "could not sign in to AWS")]
    try:
        principals, out = _principals(ctx, link, named, break_glass)
        out += [one(link, p, acts, resources) for p in principals]
        if not principals and not out:
            out.append(not_applicable(ctx.target.name, "no IAM user or role to challenge"))
        return out
    finally:
        link.close()


@challenge(id="aws.challenge.iam_dangerous_actions_denied",
           title="IAM: principals cannot stop the audit trail or destroy records (policy simulation)",
           severity="high", area="access_control", impact="safe",
           criterion="the IAM policy simulator denies every challenge_denied_actions action on '*' and on "
                     "challenge_resource_arns to every challenged user and role, even with MFA present",
           remediation="Remove the named actions from the principal's policies (or add an explicit Deny, a "
                       "permissions boundary or an SCP); keep them for break-glass roles only and name those in "
                       "break_glass_principals.")
def iam_dangerous_actions_denied(ctx: ChallengeContext, challenge_principals: Sequence[str] = (),
                                 break_glass_principals: Sequence[str] = (),
                                 challenge_denied_actions: Sequence[str] = DANGEROUS_ACTIONS,
                                 challenge_resource_arns: Sequence[str] = ()) -> list[Finding]:
    def one(link: AwsLink, p: Principal, actions: list[str], resources: list[str]) -> Finding:
        got = ctx.step(f"simulate {', '.join(actions)} for {p.arn} with MFA present", "every action denied",
                       partial(simulate, link, _account(link, p), p, actions, resources, mfa=True))
        return judge(p.arn, got, "the simulator denies every dangerous action",
                     f"the {p.kind} may perform actions policy forbids", account=p.account, actions=actions,
                     resources=resources)

    return _each_principal(ctx, challenge_denied_actions, "challenge_denied_actions is empty", challenge_principals,
                           break_glass_principals, challenge_resource_arns, one)


@challenge(id="aws.challenge.iam_mfa_required",
           title="IAM: the actions policy reserves for MFA are refused without it (policy simulation)",
           severity="high", area="access_control", impact="safe",
           criterion="the IAM policy simulator denies every challenge_mfa_actions action to every challenged user "
                     "and role when aws:MultiFactorAuthPresent is false",
           remediation="Allow the named actions only under a condition Bool aws:MultiFactorAuthPresent true (or "
                       "deny them when it is false or absent: BoolIfExists).")
def iam_mfa_required(ctx: ChallengeContext, challenge_principals: Sequence[str] = (),
                     break_glass_principals: Sequence[str] = (), challenge_mfa_actions: Sequence[str] = (),
                     challenge_resource_arns: Sequence[str] = ()) -> list[Finding]:
    def one(link: AwsLink, p: Principal, actions: list[str], resources: list[str]) -> Finding:
        without = ctx.step(f"simulate {', '.join(actions)} for {p.arn} without MFA", "every action denied",
                           partial(simulate, link, _account(link, p), p, actions, resources, mfa=False))
        if without.ok is not True:
            return judge(p.arn, without, "", "the actions are allowed without MFA", account=p.account,
                         actions=actions)
        with_mfa = ctx.step(f"simulate the same for {p.arn} with MFA present",
                            "allowed (MFA is what the policy asks for)",
                            partial(simulate, link, _account(link, p), p, actions, resources, mfa=True,
                                    expect_allowed=True))
        how = ("refused without MFA, allowed with it" if with_mfa.ok else
               f"refused without MFA (and with it: {with_mfa.actual})")
        return passed(p.arn, how, account=p.account, actions=actions, without_mfa=without.actual,
                      with_mfa=with_mfa.actual)

    return _each_principal(ctx, challenge_mfa_actions,
                           "policy names no challenge_mfa_actions (actions MFA must guard)", challenge_principals,
                           break_glass_principals, challenge_resource_arns, one)
