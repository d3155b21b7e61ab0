"""The AWS IAM access list: policy judgments on facts built by factories, then the whole list from moto's server.

The lab part runs moto in server mode (tests/lab/motolab.py) over HTTP through the runner (``access=True``); a
botocore hook stands in only for what moto cannot do (a credential report that never becomes ready, a policy
document IAM does not return).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

import pytest

from scanner.access.aws import build, trust_summary
from scanner.access.extract import system_access
from scanner.access.model import Account, AccountType, SystemAccess, system_to_dict
from scanner.facts.aws import (
    GLOBAL,
    AccessKey,
    AccountSummary,
    AttachedPolicy,
    AwsResources,
    CredentialUser,
    IamGroup,
    IamRole,
    IamUser,
    InlinePolicy,
    Scope,
)
from scanner.model import Fact, Platform, Target
from tests.factories import make_fact

ACCOUNT = "111111111111"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def row(user: str, *, password: bool = True, mfa: bool = False, used: datetime | None = None,
        key_used: datetime | None = None, unknown_use: bool = False, created: datetime | None = T0) -> CredentialUser:
    arn = ROOT_ARN if user == "<root_account>" else f"arn:aws:iam::{ACCOUNT}:user/{user}"
    return CredentialUser(account=ACCOUNT, user=user, arn=arn, created=created, password_enabled=password,
                          password_last_used=used, password_last_changed=T0, mfa_active=mfa,
                          keys=(AccessKey(1, key_used is not None, T0, key_used), AccessKey(2, False, None, None)),
                          is_root=user == "<root_account>", password_use_unknown=unknown_use)


def user(name: str, *, attached: tuple[AttachedPolicy, ...] = (), inline: tuple[dict[str, Any], ...] = (),
         groups: tuple[str, ...] = (), errors: dict[str, str] | None = None) -> IamUser:
    return IamUser(ACCOUNT, name, f"arn:aws:iam::{ACCOUNT}:user/{name}", attached,
                   tuple(InlinePolicy(f"p{i}", d) for i, d in enumerate(inline)),
                   MappingProxyType(errors or {}), groups=groups)


def group(name: str, *, attached: tuple[AttachedPolicy, ...] = (),
          inline: tuple[dict[str, Any], ...] = ()) -> IamGroup:
    return IamGroup(ACCOUNT, name, f"arn:aws:iam::{ACCOUNT}:group/{name}", attached,
                    tuple(InlinePolicy(f"g{i}", d) for i, d in enumerate(inline)))


def role(name: str, trust: dict[str, Any] | None, *, attached: tuple[AttachedPolicy, ...] = (),
         path: str = "/", last_used: datetime | None = None) -> IamRole:
    return IamRole(ACCOUNT, name, f"arn:aws:iam::{ACCOUNT}:role/{name}", path, trust, attached, (), last_used)


def managed(name: str, partition: str = "aws") -> AttachedPolicy:
    return AttachedPolicy(f"arn:{partition}:iam::aws:policy/{name}", name, None, aws_managed=True)


def resources(*items: Any) -> AwsResources[Any]:
    return AwsResources((Scope(ACCOUNT, GLOBAL, "aws", ROOT_ARN),), tuple(items))


def facts(report: tuple[CredentialUser, ...], users: tuple[IamUser, ...], groups: tuple[IamGroup, ...] = (),
          roles: tuple[IamRole, ...] = (), summary: AccountSummary | None = None) -> dict[str, Fact]:
    out = {"aws.iam_credential_report": make_fact("aws.iam_credential_report", resources(*report)),
           "aws.iam_users": make_fact("aws.iam_users", resources(*users)),
           "aws.iam_groups": make_fact("aws.iam_groups", resources(*groups)),
           "aws.iam_roles": make_fact("aws.iam_roles", resources(*roles))}
    if summary is not None:
        out["aws.account_summary"] = make_fact("aws.account_summary", resources(summary))
    return out


def target(**policy: Any) -> Target:
    return Target(name="prod", type=Platform.AWS, options={}, policy=policy)


def accounts(f: dict[str, Fact], t: Target | None = None) -> dict[str, Account]:
    return {a.name: a for a in build(t or target(), f).accounts}


def privileges(a: Account) -> list[str]:
    return [g.privilege for g in a.grants]


def one_user(*, inline: tuple[dict[str, Any], ...] = (), attached: tuple[AttachedPolicy, ...] = (),
             **kw: Any) -> Account:
    return accounts(facts((row("u"),), (user("u", inline=inline, attached=attached, **kw),)))["u"]


# ------------------------------------------------------------------------------ the policy language
IAM_USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/u"


@pytest.mark.parametrize("policy, expected", [
    (doc(allow("*")), ["IAM admin"]),
    (doc(allow("*:*")), ["IAM admin"]),
    (doc(allow(["s3:GetObject", "*"])), ["IAM admin"]),
    ({"Statement": allow("*")}, ["IAM admin"]),  # one statement, not a list
    (doc({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::x"}), ["IAM admin"]),
    (doc(allow("s3:*")), []),
    (doc(allow(["iam:Get*", "iam:List*"])), []),
    (doc(allow("iam:*")), ["IAM full access"]),
    (doc(allow("IAM:*")), ["IAM full access"]),
    (doc(allow("i*")), ["IAM full access"]),
    (doc(allow("iam:Attach*", IAM_USER_ARN)), ["IAM privilege escalation"]),
    (doc(allow("iam:?utUserPolicy", IAM_USER_ARN)), ["IAM privilege escalation"]),
    (doc(allow("*Policy", IAM_USER_ARN)), ["IAM privilege escalation"]),  # matches iam:PutUserPolicy
    (doc(allow("*:Put*", IAM_USER_ARN)), ["IAM privilege escalation"]),
    (doc(allow("iam:PassRole")), []),
    (doc(allow("iam:*", "arn:aws:s3:::bucket")), []),
    (doc(allow("*", "arn:aws:s3:::bucket/*")), []),
    (doc(allow("*", IAM_USER_ARN)), ["IAM privilege escalation"]),
    (doc(allow("*", "arn:aws:i*")), ["IAM privilege escalation"]),
    (doc(allow("*", "arn:aws:s*")), []),
    (doc(allow("iam:Put*", "arn:*")), ["IAM privilege escalation"]),
    (doc({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}), ["power user"]),
    (doc({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}), ["IAM admin"]),
    (doc({"Effect": "Allow", "NotAction": "*", "Resource": "*"}), []),
    (doc(allow("*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})), ["IAM admin (unverified)"]),
    (doc(allow("*"), deny("*")), []),
    (doc(allow("*"), deny("*:*")), []),
    (doc(allow("*"), deny("*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), ["IAM admin"]),
    (doc(allow("*"), deny("*", "arn:aws:s3:::x")), ["IAM admin"]),
    (doc(allow("*"), deny("iam:*")), ["IAM admin"]),
    (doc(allow("*"), {"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}), ["IAM admin"]),
    (doc(allow("iam:*"), deny("iam:*")), []),
    (doc(allow("iam:PutUserPolicy", IAM_USER_ARN), deny("iam:Put*")), []),
    (doc(allow(["iam:PutUserPolicy", "iam:CreateAccessKey"], IAM_USER_ARN), deny("iam:Put*")),
     ["IAM privilege escalation"]),
    (doc(allow("iam:*"), allow("*")), ["IAM full access", "IAM admin"]),
])
def test_each_statement_is_judged_by_what_it_allows_and_only_a_full_deny_removes_it(
        policy: dict[str, Any], expected: list[str]) -> None:
    assert privileges(one_user(inline=(policy,))) == expected


def test_the_why_names_the_policy_how_it_is_attached_and_the_statement() -> None:
    got = one_user(inline=(doc(allow("iam:*")),)).grants
    assert [(g.privilege, g.why, g.source) for g in got] == [(
        "IAM full access",
        'inline policy p0 attached directly: statement {"Action": "iam:*", "Effect": "Allow", "Resource": "*"}',
        "aws.iam_users")]
    cond = one_user(inline=(doc(allow("*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})),)).grants
    assert [g.why for g in cond] == [
        'may grant IAM admin: inline policy p0 attached directly, only under a condition not evaluated: statement '
        '{"Action": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}, "Effect": "Allow", '
        '"Resource": "*"}']


@pytest.mark.parametrize("policy, expected", [
    (managed("AdministratorAccess"), [(
        "IAM admin", f"AWS managed policy AdministratorAccess ({ADMIN_ARN}) attached directly: judged by its ARN")]),
    (managed("IAMFullAccess", "aws-us-gov"), [(
        "IAM full access", "AWS managed policy IAMFullAccess (arn:aws-us-gov:iam::aws:policy/IAMFullAccess) attached "
        "directly: judged by its ARN")]),
    (managed("PowerUserAccess"), [(
        "power user", "AWS managed policy PowerUserAccess (arn:aws:iam::aws:policy/PowerUserAccess) attached "
        "directly: judged by its ARN")]),
    (managed("ReadOnlyAccess"), []),
    (AttachedPolicy("arn:aws:iam::aws:policy/job-function/AdministratorAccess", "AdministratorAccess", None,
                    aws_managed=True), []),  # another path: not the policy of that name
    # a customer managed policy that borrows the name is judged by its document
    (AttachedPolicy(f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess", "AdministratorAccess",
                    doc(allow("s3:GetObject"))), []),
    (AttachedPolicy(f"arn:aws:iam::{ACCOUNT}:policy/ops", "ops", None), [(
        "IAM admin (unverified)", "may grant IAM admin: customer managed policy ops "
        f"(arn:aws:iam::{ACCOUNT}:policy/ops) attached directly: its document was not collected")]),
])
def test_managed_policies_are_judged_by_arn_and_a_document_not_read_may_grant_admin(
        policy: AttachedPolicy, expected: list[tuple[str, str]]) -> None:
    assert [(g.privilege, g.why) for g in one_user(attached=(policy,)).grants] == expected


def test_a_policy_document_iam_did_not_return_is_an_unverified_grant_with_the_reason() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/ops"
    got = one_user(attached=(AttachedPolicy(arn, "ops", None),),
                   errors={f"policy {arn}": f"iam:GetAccountAuthorizationDetails returned no document for {arn}"})
    assert [(g.privilege, g.why) for g in got.grants] == [(
        "IAM admin (unverified)", f"may grant IAM admin: customer managed policy ops ({arn}) attached directly: "
        f"iam:GetAccountAuthorizationDetails returned no document for {arn}")]


def test_a_full_deny_anywhere_on_the_principal_removes_an_aws_managed_grant() -> None:
    assert privileges(one_user(attached=(managed("AdministratorAccess"),), inline=(doc(deny("*")),))) == []
    assert privileges(one_user(attached=(managed("IAMFullAccess"),), inline=(doc(deny("iam:*")),))) == []
    assert privileges(one_user(attached=(managed("AdministratorAccess"),), inline=(doc(deny("iam:*")),))) \
        == ["IAM admin"]


# ------------------------------------------------------------------------------ groups
def test_a_user_is_privileged_through_its_groups_and_a_group_not_read_may_grant_admin() -> None:
    f = facts((row("ann"), row("ben"), row("cy")),
              (user("ann", groups=("admins", "readers")), user("ben", groups=("gone",)),
               user("cy", groups=("ops",), inline=(doc(deny("iam:*")),))),
              (group("admins", attached=(managed("AdministratorAccess"),)),
               group("readers", inline=(doc(allow("s3:Get*")),)),
               group("ops", inline=(doc(allow("iam:*")),))))
    got = accounts(f)
    assert [(g.privilege, g.why, g.source) for g in got["ann"].grants] == [(
        "IAM admin", f"AWS managed policy AdministratorAccess ({ADMIN_ARN}) via group admins: judged by its ARN",
        "aws.iam_groups")]
    assert got["ann"].groups == ("admins", "readers")
    assert got["ann"].evidence == ("aws.iam_credential_report", "aws.iam_users", "aws.iam_groups")
    assert [(g.privilege, g.why) for g in got["ben"].grants] == [
        ("IAM admin (unverified)", "may grant IAM admin: the policies of group gone were not read")]
    assert got["cy"].grants == ()  # the user's own full deny of iam:* beats the group's allow


# ------------------------------------------------------------------------------ users and root
def test_enabled_mfa_last_logon_and_password_change_come_from_the_credential_report() -> None:
    later = datetime(2026, 3, 1, tzinfo=timezone.utc)
    f = facts((row("pw", used=T0, key_used=later, mfa=True), row("keyless", password=False),
               row("old", unknown_use=True, created=datetime(2013, 5, 1, tzinfo=timezone.utc)),
               row("new", unknown_use=True)),
              tuple(user(n) for n in ("pw", "keyless", "old", "new")))
    got = accounts(f)
    assert [(a.name, a.enabled, a.mfa, a.last_logon, a.last_logon_known, a.password_changed, a.locked)
            for a in got.values()] == [
        ("<root_account>", None, None, None, False, None, None),
        ("pw", True, True, later, True, T0, None),  # the key's use is later than the password's
        ("keyless", False, False, None, True, T0, None),
        ("old", True, False, None, False, T0, None),  # created before IAM tracked sign-ins: may have been used
        ("new", True, False, None, True, T0, None),  # created since: "no_information" means never used
    ]


def test_the_root_user_is_listed_from_its_report_row_or_from_the_account() -> None:
    root = row("<root_account>", password=False, mfa=True, used=T0)
    with_row = accounts(facts((root,), ()))["<root_account>"]
    assert (with_row.id, with_row.type, with_row.type_reason, with_row.mfa, with_row.last_logon,
            privileges(with_row)) == (ROOT_ARN, AccountType.BUILTIN, "the AWS account root user", True, T0,
                                      ["account root"])
    summary = AccountSummary(ACCOUNT, ROOT_ARN, root_mfa_enabled=False, root_access_keys_present=True, users=0)
    built = build(target(), facts((), (), summary=summary))
    (alone,) = built.accounts
    assert (alone.name, alone.id, alone.enabled, alone.mfa, alone.evidence) == (
        "<root_account>", ROOT_ARN, True, False, ("aws.iam_credential_report", "aws.account_summary"))
    assert built.notes[-1] == (f"account {ACCOUNT}: the credential report has no root user row; the root user is "
                               "listed from the account (root MFA from the account summary when collected)")


def test_a_user_the_two_sources_disagree_on_is_listed_and_never_silently_unprivileged() -> None:
    got = accounts(facts((row("reported"),), (user("detailed", attached=(managed("AdministratorAccess"),)),)))
    assert [(g.privilege, g.why) for g in got["reported"].grants] == [(
        "IAM admin (unverified)",
        "may grant IAM admin: the user's policies and groups were not read (not in the authorization details)")]
    assert (got["detailed"].enabled, got["detailed"].mfa, privileges(got["detailed"])) == (None, None, ["IAM admin"])


def test_site_policy_classifies_users() -> None:
    f = facts((row("ci-bot"), row("shared-qa"), row("dana")), (user("ci-bot"), user("shared-qa"), user("dana")))
    got = accounts(f, target(service_accounts=["ci-bot"]))
    assert [(a.name, a.type, a.type_reason) for a in got.values()][1:] == [
        ("ci-bot", AccountType.SERVICE, "listed in policy service_accounts"),
        ("shared-qa", AccountType.SHARED, "name matches shared_account_patterns 'shared*'"),
        ("dana", AccountType.PERSON, "a named account not listed as service, shared or built-in")]


# ------------------------------------------------------------------------------ roles
def trust(principal: Any, **extra: Any) -> dict[str, Any]:
    return doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra})


@pytest.mark.parametrize("policy, expected", [
    (trust({"AWS": "arn:aws:iam::333333333333:root"}), "account 333333333333"),
    (trust({"AWS": ["444444444444", "arn:aws:iam::444444444444:role/ci"]}),
     "account 444444444444; arn:aws:iam::444444444444:role/ci"),
    (trust({"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]}),
     "service ec2.amazonaws.com; service lambda.amazonaws.com"),
    (trust({"Federated": "cognito-identity.amazonaws.com"}, Condition={"StringEquals": {"x": "y"}}),
     "federated cognito-identity.amazonaws.com (with conditions)"),
    (trust("*"), "anyone (*)"),
    (trust({"AWS": "*"}), "any AWS principal (*)"),
    (doc({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}), "nobody (no Allow in the trust policy)"),
    (None, "unknown (the trust policy was not read)"),
    (trust({"AWS": [f"{n:012d}" for n in range(14)]}),
     "; ".join(f"account {n:012d}" for n in range(12)) + " and 2 more"),
])
def test_trust_policies_are_summarised_as_who_may_assume_the_role(policy: Any, expected: str) -> None:
    assert trust_summary(policy) == expected


def test_roles_are_service_accounts_with_their_grants_and_who_may_assume_them() -> None:
    used = datetime(2026, 2, 2, tzinfo=timezone.utc)
    f = facts((), (), roles=(
        role("deploy", trust({"AWS": "arn:aws:iam::333333333333:root"}), attached=(managed("AdministratorAccess"),),
             last_used=used),
        role("AWSServiceRoleForSupport", trust({"Service": "support.amazonaws.com"}), path="/aws-service-role/"),
        role("locked-out", doc({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}))))
    got = accounts(f)
    deploy = got["deploy"]
    assert (deploy.type, deploy.type_reason, deploy.enabled, deploy.last_logon, deploy.last_logon_known,
            deploy.mfa, deploy.evidence) == (AccountType.SERVICE, "IAM role", True, used, True, None,
                                             ("aws.iam_roles",))
    assert [(g.privilege, g.why, g.source) for g in deploy.grants] == [(
        "IAM admin", f"AWS managed policy AdministratorAccess ({ADMIN_ARN}) attached to the role: judged by its ARN; "
        "may be assumed by: account 333333333333", "aws.iam_roles")]
    linked = got["AWSServiceRoleForSupport"]
    assert (linked.type, linked.type_reason) == (
        AccountType.BUILTIN, "an AWS service-linked role (AWS creates and manages it)")
    assert (got["locked-out"].enabled, got["locked-out"].last_logon_known) == (False, False)


def test_a_role_whose_trust_policy_was_not_read_is_neither_enabled_nor_disabled() -> None:
    unread = IamRole(ACCOUNT, "r", f"arn:aws:iam::{ACCOUNT}:role/r", "/", None, (managed("PowerUserAccess"),),
                     errors=MappingProxyType({"trust": "iam:GetAccountAuthorizationDetails returned no trust policy"}))
    got = accounts(facts((), (), roles=(unread,)))["r"]
    assert got.enabled is None
    assert [g.why for g in got.grants] == [
        "AWS managed policy PowerUserAccess (arn:aws:iam::aws:policy/PowerUserAccess) attached to the role: judged "
        "by its ARN; may be assumed by: unknown (the trust policy was not read)"]


def test_every_scanned_account_is_listed_with_its_own_root_and_same_named_users_apart() -> None:
    other = "222222222222"
    scopes = (Scope(ACCOUNT, GLOBAL, "aws", ROOT_ARN), Scope(other, GLOBAL, "aws", f"arn:aws:iam::{other}:root"))
    twin = CredentialUser(account=other, user="ann", arn=f"arn:aws:iam::{other}:user/ann", created=T0,
                          password_enabled=False, password_last_used=None, password_last_changed=None,
                          mfa_active=False, keys=())
    f = facts((), ())
    f["aws.iam_credential_report"] = make_fact("aws.iam_credential_report",
                                               AwsResources(scopes, (row("ann"), twin)))
    f["aws.iam_users"] = make_fact("aws.iam_users", AwsResources(scopes, (
        user("ann"), IamUser(other, "ann", twin.arn, (managed("AdministratorAccess"),)))))
    got = build(target(), f).accounts
    assert [(a.name, a.id, [g.privilege for g in a.grants]) for a in got] == [
        ("<root_account>", ROOT_ARN, ["account root"]), ("ann", f"arn:aws:iam::{ACCOUNT}:user/ann", []),
        ("<root_account>", f"arn:aws:iam::{other}:root", ["account root"]), ("ann", twin.arn, ["IAM admin"])]


# ------------------------------------------------------------------------------ fail closed through the engine
@pytest.mark.parametrize("broken", ["aws.iam_credential_report", "aws.iam_users", "aws.iam_groups",
                                    "aws.iam_roles"])
def test_any_required_iam_fact_broken_makes_the_system_error(broken: str) -> None:
    f = facts((row("u"),), (user("u"),))
    f[broken] = Fact.failed(broken, "iam:GetAccountAuthorizationDetails denied")
    got = system_access(target(), f)
    assert got is not None and got.accounts == ()
    assert got.error == f"{broken}: iam:GetAccountAuthorizationDetails denied"


# ------------------------------------------------------------------------------ moto over HTTP
LAB_ACCOUNT = "555555555555"
OTHER_ACCOUNT = "333333333333"
HOSTILE = ("=cmd", "+SUM@1", "@foo", "-2+3,x.y")


def _populate(lab: Any) -> None:
    from tests.lab import motolab

    iam = lab.client(lab.session(LAB_ACCOUNT), "iam")
    s3_only = iam.create_policy(PolicyName="s3-only", PolicyDocument=json.dumps(doc(allow("s3:*"))))["Policy"]["Arn"]
    escalate = iam.create_policy(PolicyName="escalate", PolicyDocument=json.dumps(
        doc(allow("iam:AttachUserPolicy", f"arn:aws:iam::{LAB_ACCOUNT}:user/@foo"))))["Policy"]["Arn"]
    # alice: console password with MFA, an access key, reads S3: not privileged
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-Battery-9")
    mfa = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]
    iam.enable_mfa_device(UserName="alice", SerialNumber=mfa["SerialNumber"], AuthenticationCode1="123456",
                          AuthenticationCode2="654321")
    iam.create_access_key(UserName="alice")
    iam.attach_user_policy(UserName="alice", PolicyArn=s3_only)
    # bob: console password without MFA, admin through the group admins
    iam.create_user(UserName="bob")
    iam.create_login_profile(UserName="bob", Password="Correct-Horse-Battery-9")
    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn=ADMIN_ARN)
    iam.add_user_to_group(GroupName="admins", UserName="bob")
    # hostile names: a conditional admin, an escalation, a group's iam:* fully denied, and nothing
    for name in HOSTILE:
        iam.create_user(UserName=name)
    iam.put_user_policy(UserName="=cmd", PolicyName="=HYPERLINK", PolicyDocument=json.dumps(doc(
        allow("*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))))
    iam.attach_user_policy(UserName="@foo", PolicyArn=escalate)
    iam.create_group(GroupName="@ops")
    iam.put_group_policy(GroupName="@ops", PolicyName="iam-all", PolicyDocument=json.dumps(doc(allow("iam:*"))))
    iam.add_user_to_group(GroupName="@ops", UserName="+SUM@1")
    iam.put_user_policy(UserName="+SUM@1", PolicyName="no-iam", PolicyDocument=json.dumps(doc(deny("iam:*"))))
    # roles: admin for another account, power user for Lambda
    iam.create_role(RoleName="cross-admin", AssumeRolePolicyDocument=json.dumps(
        trust({"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"})))
    iam.attach_role_policy(RoleName="cross-admin", PolicyArn=ADMIN_ARN)
    iam.create_role(RoleName="lambda-exec", AssumeRolePolicyDocument=json.dumps(
        trust({"Service": "lambda.amazonaws.com"})))
    iam.attach_role_policy(RoleName="lambda-exec", PolicyArn="arn:aws:iam::aws:policy/PowerUserAccess")
    assert motolab.ROLE_NAME not in {r["RoleName"] for r in iam.list_roles()["Roles"]}


@pytest.fixture(scope="module")
def iam_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.conftest import lab_unavailable
    from tests.lab import motolab

    try:
        lab = motolab.start_moto(str(tmp_path_factory.mktemp("moto-access")))
    except RuntimeError as exc:
        lab_unavailable(str(exc))
        raise
    try:
        _populate(lab)
        yield lab
    finally:
        lab.stop()


def lab_target(lab: Any) -> Target:
    from tests.lab import motolab

    return Target(name="moto-iam", type=Platform.AWS, policy={}, options={
        "endpoint_url": lab.endpoint, "regions": [motolab.REGIONS[0]], "accounts": [LAB_ACCOUNT],
        "role_name": motolab.ROLE_NAME, "max_attempts": 2})


def lab_scan(lab: Any, hooks: tuple[tuple[str, Any], ...] = ()) -> SystemAccess:
    from scanner.collectors import aws
    from scanner.connectors.aws import AWSConnector
    from scanner.runner import scan_target
    from tests.lab import motolab

    def collector(t: Target, names: Any) -> dict[str, Fact]:
        with AWSConnector(t) as conn:
            for event, handler in hooks:
                conn.on(event, handler)
            return aws.collect(conn, t, names)

    with motolab.lab_credentials():
        got = scan_target(lab_target(lab), [], {}, collector=collector if hooks else None, access=True).access
    assert got is not None
    return got


def _arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{LAB_ACCOUNT}:{kind}/{name}"


@pytest.mark.lab
def test_moto_account_access_list_is_complete_with_privileges_and_why(iam_lab: Any) -> None:
    from tests.lab import motolab

    got = lab_scan(iam_lab)
    assert got.ok, got.error
    rows = [(a.name, a.id, a.type.value, a.enabled, a.mfa, a.groups, [g.privilege for g in a.grants])
            for a in got.accounts]
    assert rows == [
        ("<root_account>", f"arn:aws:iam::{LAB_ACCOUNT}:root", "builtin", None, False, (), ["account root"]),
        ("alice", _arn("user", "alice"), "person", True, True, (), []),
        ("bob", _arn("user", "bob"), "person", True, False, ("admins",), ["IAM admin"]),
        ("=cmd", _arn("user", "=cmd"), "person", False, False, (), ["IAM admin (unverified)"]),
        ("+SUM@1", _arn("user", "+SUM@1"), "person", False, False, ("@ops",), []),
        ("@foo", _arn("user", "@foo"), "person", False, False, (), ["IAM privilege escalation"]),
        ("-2+3,x.y", _arn("user", "-2+3,x.y"), "person", False, False, (), []),
        ("cross-admin", _arn("role", "cross-admin"), "service", True, None, (), ["IAM admin"]),
        ("lambda-exec", _arn("role", "lambda-exec"), "service", True, None, (), ["power user"]),
    ]
    by = {a.name: a for a in got.accounts}
    assert [g.why for g in by["bob"].grants] == [
        f"AWS managed policy AdministratorAccess ({ADMIN_ARN}) via group admins: judged by its ARN"]
    assert [g.why for g in by["cross-admin"].grants] == [
        f"AWS managed policy AdministratorAccess ({ADMIN_ARN}) attached to the role: judged by its ARN; "
        f"may be assumed by: account {OTHER_ACCOUNT}"]
    assert [g.why for g in by["@foo"].grants] == [
        f"customer managed policy escalate (arn:aws:iam::{LAB_ACCOUNT}:policy/escalate) attached directly: "
        f'statement {{"Action": "iam:AttachUserPolicy", "Effect": "Allow", "Resource": "{_arn("user", "@foo")}"}}']
    assert by["=cmd"].grants[0].why.startswith("may grant IAM admin: inline policy =HYPERLINK attached directly, "
                                               "only under a condition not evaluated")
    assert by["alice"].password_changed is not None and by["lambda-exec"].type_reason == "IAM role"
    assert motolab.PLANTED_SECRET not in json.dumps(system_to_dict(got))


@pytest.mark.lab
def test_moto_policy_document_not_returned_is_an_unverified_grant(iam_lab: Any) -> None:
    def strip(parsed: dict[str, Any], **_: Any) -> None:
        for p in parsed.get("Policies", []):
            if str(p.get("Arn")).endswith(":policy/escalate"):
                for v in p.get("PolicyVersionList", []):
                    v.pop("Document", None)

    got = lab_scan(iam_lab, (("after-call.iam.GetAccountAuthorizationDetails", strip),))
    arn = f"arn:aws:iam::{LAB_ACCOUNT}:policy/escalate"
    assert got.ok
    assert [(g.privilege, g.why) for a in got.accounts if a.name == "@foo" for g in a.grants] == [(
        "IAM admin (unverified)", f"may grant IAM admin: customer managed policy escalate ({arn}) attached directly: "
        f"iam:GetAccountAuthorizationDetails returned no document for {arn}")]


@pytest.mark.lab
def test_moto_credential_report_never_ready_makes_the_system_error(iam_lab: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.collectors.aws import iam

    def started(parsed: dict[str, Any], **_: Any) -> None:
        parsed["State"] = "STARTED"

    monkeypatch.setattr(iam, "CREDENTIAL_REPORT_WAIT_S", 0.5)
    got = lab_scan(iam_lab, (("after-call.iam.GenerateCredentialReport", started),))
    assert got.accounts == ()
    assert got.error == ("aws.iam_credential_report: iam:GenerateCredentialReport: the credential report was not "
                         "ready within 0 s")


@pytest.mark.lab
def test_moto_credential_report_denied_makes_the_system_error(tmp_path_factory: pytest.TempPathFactory) -> None:
    from scanner.runner import scan_target
    from tests.conftest import lab_unavailable
    from tests.lab import motolab

    try:
        lab = motolab.start_moto(str(tmp_path_factory.mktemp("moto-denied")), managed_policies=False)
    except RuntimeError as exc:
        lab_unavailable(str(exc))
        raise
    try:
        iam = lab.client(lab.session(), "iam")
        iam.create_user(UserName="auditor")
        iam.put_user_policy(UserName="auditor", PolicyName="no-report", PolicyDocument=json.dumps(doc(
            allow(["iam:Get*", "iam:List*", "sts:GetCallerIdentity"]), deny("iam:GenerateCredentialReport"))))
        key = iam.create_access_key(UserName="auditor")["AccessKey"]
        lab.enforce_iam()
        t = Target(name="denied", type=Platform.AWS, policy={},
                   options={"endpoint_url": lab.endpoint, "regions": [motolab.REGIONS[0]], "max_attempts": 2})
        with motolab.lab_credentials(key["AccessKeyId"], key["SecretAccessKey"]):
            got = scan_target(t, [], {}, access=True).access
    finally:
        lab.stop()
    assert got is not None and got.accounts == ()
    assert got.error is not None and got.error.startswith(
        "aws.iam_credential_report: iam:GenerateCredentialReport denied (GenerateCredentialReport in account ")
    assert key["SecretAccessKey"] not in got.error


# ------------------------------------------------------------------------------ the report's rows
HEADER = ["user", "arn", "user_creation_time", "mfa_active"]


@pytest.mark.parametrize("fields, expected", [
    (["a", "arn:aws:iam::1:user/a", "t", "true"], {"user": "a", "arn": "arn:aws:iam::1:user/a"}),
    (["a", "b", "arn:aws:iam::1:user/x/a", "b", "t", "true"], {"user": "a,b", "arn": "arn:aws:iam::1:user/x/a,b"}),
    (",,arn:aws:iam::1:user/,,t,true".split(","), {"user": ",", "arn": "arn:aws:iam::1:user/,"}),
])
def test_report_rows_split_by_unquoted_commas_in_names_are_joined_back(fields: list[str],
                                                                        expected: dict[str, str]) -> None:
    from scanner.collectors.aws.iam import _aligned

    got = _aligned(HEADER, fields)
    assert {k: got[k] for k in ("user", "arn")} == expected and got["mfa_active"] == "true"


@pytest.mark.parametrize("fields", [
    ["a", "arn:aws:iam::1:user/a", "t"],  # too few
    ["a", "b", "arn:aws:iam::1:user/c", "t", "true"],  # no split gives an ARN ending in the name
])
def test_report_rows_that_cannot_be_aligned_refuse_the_report(fields: list[str]) -> None:
    from scanner.collectors.aws._api import ApiError
    from scanner.collectors.aws.iam import _aligned

    with pytest.raises(ApiError, match="cannot be aligned"):
        _aligned(HEADER, fields)
