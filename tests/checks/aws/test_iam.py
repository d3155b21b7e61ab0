"""IAM checks: the cases mutation testing (docs/mutation.md) showed untested: the default thresholds, a user the
check skips before one it judges, the fallback dates of never-used credentials, the names of the credentials."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest

from checks.aws import iam
from scanner.facts.aws import AnalyzerRegion, AttachedPolicy, AwsResources, IamUser, InlinePolicy, PasswordPolicy, Scope
from scanner.model import Finding, freeze
from tests.checks.aws.test_checks import ACCOUNT, REGION, ROOT, res, user


def _judged(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.resource.rsplit("/", 1)[-1], f.status.value) for f in findings]


def test_a_skipped_user_does_not_end_the_loop() -> None:
    """A user without a console password, or without an active key or credentials, is skipped: the next is judged."""
    skipped, judged = user("none", password=False), user("u2", mfa=False, keys=((True, 200, 1),))
    assert _judged(iam.user_mfa(res(skipped, judged))) == [("u2", "fail")]
    assert _judged(iam.access_key_rotation(res(skipped, judged))) == [("u2", "fail")]
    no_credentials = user("none", password=False, keys=((False, 1, 1),))
    assert _judged(iam.unused_credentials(res(no_credentials, user("u2", pw_used=100)))) == [("u2", "fail")]


def test_access_key_rotation_defaults_to_90_days() -> None:
    assert _judged(iam.access_key_rotation(res(user("u1", keys=((True, 90, 1),)), user("u2", keys=((True, 91, 1),)))))\
        == [("u1", "pass"), ("u2", "fail")]
    (f,) = iam.access_key_rotation(res(user("u2", keys=((True, 91, 1),))))
    assert f.observed["max_age_days"] == 90 and f.observed["key_age_days"] == {"key_1": 91}


def test_never_used_credentials_count_from_their_change_rotation_or_creation() -> None:
    # a password never used: from its last change, else from the user's creation
    never = replace(user("u1", pw_used=None, created=100), password_last_changed=None)
    (f,) = iam.unused_credentials(res(never))
    assert (f.status.value, f.observed["idle_days"]) == ("fail", {"password": 100})
    # a key never used: from its rotation, else from the user's creation
    key = replace(user("u1", password=False, keys=((True, None, None),), created=100))
    (f,) = iam.unused_credentials(res(key))
    assert (f.status.value, f.observed["idle_days"]) == ("fail", {"key_1": 100})
    # a key used 10 days ago counts from its use, not from its rotation 100 days ago
    used = user("u1", password=False, keys=((True, 100, 10),), created=200)
    (f,) = iam.unused_credentials(res(used))
    assert (f.status.value, f.observed["idle_days"], f.observed["account"]) == ("pass", {"key_1": 10}, ACCOUNT)


def test_unused_credentials_names_each_credential() -> None:
    u = user("u1", pw_used=50, keys=((True, 100, 60), (False, 100, 1), (True, 100, 5)))
    (f,) = iam.unused_credentials(res(u))
    assert f.status.value == "fail" and f.observed["idle_days"] == {"password": 50, "key_1": 60, "key_3": 5}
    assert f.message == "u1: password, key_1 unused for 45 days or more"


STRONG = dict(present=True, min_length=14, require_symbols=True, require_numbers=True, require_uppercase=True,
              require_lowercase=True, max_age_days=90, reuse_prevention=24)


def policy(account: str = ACCOUNT, **change: object) -> PasswordPolicy:
    return PasswordPolicy(account, f"arn:aws:iam::{account}:root", **{**STRONG, **change})  # type: ignore[arg-type]


def test_password_policy_defaults_and_every_account() -> None:
    """No policy in one account does not end the loop; the default maximum age is 90 days."""
    got = iam.password_policy(res(policy("111111111111", present=False), policy(max_age_days=91), policy()))
    assert [(f.status.value, f.message) for f in got] == [
        ("fail", "no IAM password policy is set (AWS defaults apply)"),
        ("fail", "password policy: maximum age 91 > 90 days"),
        ("pass", "password policy meets the policy thresholds")]


def test_password_policy_names_each_gap() -> None:
    (f,) = iam.password_policy(res(policy(require_uppercase=False, require_symbols=False, max_age_days=None)))
    assert f.message == ("password policy: complexity not required for uppercase, symbols; maximum age unlimited > "
                         "90 days")
    assert {k: v for k, v in f.observed.items() if k.startswith("require_")} == {
        "require_uppercase": False, "require_lowercase": True, "require_numbers": True, "require_symbols": False}
    for missing in ("lowercase", "numbers"):
        (f,) = iam.password_policy(res(policy(ACCOUNT, **{f"require_{missing}": False})))
        assert f.message == f"password policy: complexity not required for {missing}"


def test_an_unset_length_or_history_counts_as_zero() -> None:
    (f,) = iam.password_policy(res(policy(min_length=None, reuse_prevention=None)), password_min_length=1,
                               password_history=1)
    assert f.message == "password policy: minimum length None < 1; reuse prevention None < 1"


EVERYTHING = freeze({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
READ = freeze({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})


def iam_user(name: str, *, attached: tuple[AttachedPolicy, ...] = (), inline: tuple[InlinePolicy, ...] = (),
             errors: dict[str, str] | None = None) -> IamUser:
    return IamUser(ACCOUNT, name, f"arn:aws:iam::{ACCOUNT}:user/{name}", attached=attached, inline=inline,
                   errors=MappingProxyType(errors or {}))


def managed(name: str) -> AttachedPolicy:
    return AttachedPolicy(f"arn:aws:iam::aws:policy/{name}", name, None, aws_managed=True)


def test_admin_policies_by_managed_name_and_by_inline_document() -> None:
    """An AWS managed policy counts by its name, an inline one by its document; an unread user does not end the
    loop."""
    users = res(iam_user("broken", errors={"policies": "iam:ListAttachedUserPolicies denied"}),
                iam_user("admin", attached=(managed("AdministratorAccess"), managed("ReadOnlyAccess"))),
                iam_user("reader", attached=(managed("ReadOnlyAccess"),), inline=(InlinePolicy("r", READ),)),
                iam_user("inline", inline=(InlinePolicy("all", EVERYTHING), InlinePolicy("r", READ))))
    got = iam.user_admin_policies(users)
    assert [(f.status.value, f.message) for f in got] == [
        ("error", f"evidence incomplete for arn:aws:iam::{ACCOUNT}:user/broken: iam:ListAttachedUserPolicies denied"),
        ("fail", "admin has administrator policies: AdministratorAccess"),
        ("pass", "reader has no administrator policy attached directly"),
        ("fail", "inline has administrator policies: all (inline)")]
    assert got[1].observed["admin_policies"] == ("AdministratorAccess",)
    assert got[3].observed["admin_policies"] == ("all (inline)",) and got[3].observed["inline"] == ("all", "r")


def test_access_analyzer_per_region() -> None:
    regions = res(AnalyzerRegion(ACCOUNT, REGION, f"arn:aws:access-analyzer:{REGION}:{ACCOUNT}", ("a1", "a2")),
                  AnalyzerRegion(ACCOUNT, "eu-west-1", f"arn:aws:access-analyzer:eu-west-1:{ACCOUNT}", ()))
    got = iam.access_analyzer(regions)
    assert [(f.status.value, f.message, f.observed["analyzers"]) for f in got] == [
        ("pass", f"active analyzer in {REGION}: a1, a2", ("a1", "a2")),
        ("fail", "no active IAM Access Analyzer in eu-west-1", ())]


@pytest.mark.parametrize("check, what", [
    (iam.root_mfa, "account summary"), (iam.root_access_keys, "account summary"),
    (iam.user_mfa, "IAM users with a console password"), (iam.access_key_rotation, "active access keys"),
    (iam.unused_credentials, "IAM users with credentials"), (iam.user_admin_policies, "IAM users"),
    (iam.password_policy, "password policy"), (iam.access_analyzer, "regions")])
def test_every_iam_check_with_nothing_to_judge_is_not_applicable_per_scope(check: Callable[..., Any],
                                                                           what: str) -> None:
    nothing: AwsResources[Any] = AwsResources(scopes=(Scope(ACCOUNT, REGION, "aws", ROOT),
                                                      Scope("210987654321", "global", "aws", "arn:r2")), items=())
    assert [(f.status.value, f.resource, f.message, f.observed) for f in check(nothing)] == [
        ("not_applicable", ROOT, f"no {what} in account {ACCOUNT} ({REGION})", {"account": ACCOUNT, "region": REGION}),
        ("not_applicable", "arn:r2", f"no {what} in account 210987654321 (global)",
         {"account": "210987654321", "region": "global"})]
    assert [(f.status.value, f.message) for f in check(AwsResources(scopes=(), items=()))] == [
        ("error", f"no account was scanned for {what}")]
