"""IAM simulation challenges.

moto 5.2 does not implement iam:SimulatePrincipalPolicy (its server answers HTTP 500, read in moto/iam/responses.py
and tried): against moto the listing steps run for real and every simulation step is undetermined, so the challenge
says error for every principal, never pass. The verdict on a simulator answer is tested on answers in the shape
IAM's API reference documents (one EvaluationResult per action, per-resource decisions in ResourceSpecificResults,
and the older one result per action and resource); allowed/denied cases against IAM itself are in
test_challenge_real_account.py (opt-in).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from checks.aws import challenge_iam
from scanner.challenge import PLANNED
from scanner.model import Status
from scanner.probes.aws import Principal, simulation_probe
from tests.checks.aws.challenge_lab import GOOD, assert_no_secret, moto_server, plan, run, verdicts
from tests.lab import motolab

ADMIN = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
READER = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                             "Resource": "arn:aws:s3:::records/*"}]})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                            "Principal": {"Service": "ec2.amazonaws.com"}}]})


def populate(lab: motolab.MotoServer) -> None:
    iam = lab.client(lab.session(GOOD), "iam")
    iam.create_user(UserName="admin")
    iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=ADMIN)
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=READER)
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=TRUST)
    iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")


pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[motolab.MotoServer]:
    yield from moto_server(tmp_path_factory, populate)


ARN = f"arn:aws:iam::{GOOD}:user"


def test_moto_has_no_simulator_so_every_principal_is_an_error_never_a_pass(lab, caplog):
    caplog.set_level(logging.DEBUG)
    out = run(challenge_iam.iam_dangerous_actions_denied, lab, GOOD, max_attempts=0)
    assert {r: s for r, (s, _) in verdicts(out).items()} == {
        f"{ARN}/admin": Status.ERROR, f"{ARN}/reader": Status.ERROR, f"arn:aws:iam::{GOOD}:role/app": Status.ERROR}
    assert [(s.action, s.ok) for s in out.steps[:3]] == [
        ("sign in to AWS with the scan's credentials (sts:GetCallerIdentity)", True),
        (f"list the IAM users of account {GOOD} with the scan's credentials", True),
        (f"list the IAM roles of account {GOOD} with the scan's credentials", True)]
    assert out.steps[2].actual == "1 role(s)"  # the service-linked role is AWS's, not challenged
    sims = out.steps[3:]
    assert len(sims) == 3 and all(s.ok is None and s.actual.startswith("could not run") for s in sims)
    assert sims[0].action == (f"simulate cloudtrail:StopLogging, cloudtrail:DeleteTrail, kms:ScheduleKeyDeletion, "
                              f"s3:DeleteBucket for {ARN}/admin with MFA present")
    assert_no_secret(out, caplog=caplog)


def test_named_principals_break_glass_and_unknown_names(lab):
    out = run(challenge_iam.iam_dangerous_actions_denied, lab, GOOD, max_attempts=0,
              policy={"challenge_principals": ["admin", "reader", f"{ARN}/nobody"], "break_glass_principals":
                      [f"{ARN}/admin"]})
    assert verdicts(out) == {
        f"{ARN}/reader": (Status.ERROR, verdicts(out)[f"{ARN}/reader"][1]),
        f"{ARN}/nobody": (Status.ERROR, "challenge_principals names a principal no scanned account has")}
    assert [s.action.split(" for ")[-1] for s in out.steps[3:]] == [f"{ARN}/reader with MFA present"]


def test_mfa_challenge_needs_actions_named_in_policy(lab):
    out = run(challenge_iam.iam_mfa_required, lab, GOOD)
    assert [(f.status, f.message) for f in out.findings] == [
        (Status.NOT_APPLICABLE, "policy names no challenge_mfa_actions (actions MFA must guard)")]
    assert out.steps == ()


PRINCIPAL = Principal(GOOD, f"{ARN}/x", "user", "x")
ACTIONS = ["cloudtrail:StopLogging", "s3:DeleteBucket"]
RECORDS = "arn:aws:s3:::records"


def result(action: str, decision: str, per_resource: dict[str, str] | None = None,
           missing: tuple[str, ...] = ()) -> dict[str, Any]:
    """An EvaluationResult as IAM returns it (boto3's parsed shape)."""
    r: dict[str, Any] = {"EvalActionName": action, "EvalResourceName": "*", "EvalDecision": decision}
    if per_resource:
        r["ResourceSpecificResults"] = [{"EvalResourceName": k, "EvalResourceDecision": v}
                                        for k, v in per_resource.items()]
    if missing:
        r["MissingContextValues"] = list(missing)
    return r


@pytest.mark.parametrize("results, resources, expect_allowed, ok, actual", [
    ([result(a, "implicitDeny") for a in ACTIONS], ["*"], False, True, "every action denied"),
    ([result(ACTIONS[0], "allowed"), result(ACTIONS[1], "explicitDeny")], ["*"], False, False,
     "allowed: cloudtrail:StopLogging on *; denied: s3:DeleteBucket on *"),
    # today's shape: one result per action, the aggregate is the most restrictive, per resource in the list
    ([result(a, "implicitDeny", {"*": "implicitDeny", RECORDS: "allowed" if a == ACTIONS[1] else "implicitDeny"})
      for a in ACTIONS], ["*", RECORDS], False, False,
     "allowed: s3:DeleteBucket on arn:aws:s3:::records; denied: cloudtrail:StopLogging on *, "
     "cloudtrail:StopLogging on arn:aws:s3:::records, s3:DeleteBucket on *"),
    # an aggregate only, for two resources: no decision per resource, so nothing is proven
    ([result(a, "implicitDeny") for a in ACTIONS], ["*", RECORDS], False, None,
     "the simulation gave no decision for cloudtrail:StopLogging on arn:aws:s3:::records"),
    ([result(ACTIONS[0], "implicitDeny")], ["*"], False, None,
     "the simulation gave no decision for s3:DeleteBucket on *"),
    ([result(ACTIONS[0], "implicitDeny", missing=("aws:SourceIp",)), result(ACTIONS[1], "implicitDeny")], ["*"],
     False, None, "cloudtrail:StopLogging on * depends on context not simulated (aws:SourceIp)"),
    ([result(a, "allowed") for a in ACTIONS], ["*"], True, True,
     "allowed: cloudtrail:StopLogging on *, s3:DeleteBucket on *"),
    ([result(ACTIONS[0], "allowed"), result(ACTIONS[1], "implicitDeny")], ["*"], True, False,
     "allowed: cloudtrail:StopLogging on *; denied: s3:DeleteBucket on *"),
])
def test_simulator_answers_are_judged_fail_closed(results, resources, expect_allowed, ok, actual):
    got = simulation_probe(PRINCIPAL, ACTIONS, resources, results, mfa=True, expect_allowed=expect_allowed)
    assert (got.ok, got.actual) == (ok, actual)
    assert "aws:MultiFactorAuthPresent=true" in str(got.sent)


@pytest.mark.parametrize("check, policy, actions", [
    (challenge_iam.iam_dangerous_actions_denied, {}, [
        "sign in to AWS with the scan's credentials (sts:GetCallerIdentity)",
        "list the IAM users of account <each account> with the scan's credentials",
        "list the IAM roles of account <each account> with the scan's credentials",
        "simulate cloudtrail:StopLogging, cloudtrail:DeleteTrail, kms:ScheduleKeyDeletion, s3:DeleteBucket for "
        "<each IAM user and role> with MFA present"]),
    (challenge_iam.iam_mfa_required, {"challenge_mfa_actions": ["s3:PutBucketPolicy"]}, [
        "sign in to AWS with the scan's credentials (sts:GetCallerIdentity)",
        "list the IAM users of account <each account> with the scan's credentials",
        "list the IAM roles of account <each account> with the scan's credentials",
        "simulate s3:PutBucketPolicy for <each IAM user and role> without MFA",
        "simulate the same for <each IAM user and role> with MFA present"]),
])
def test_plan_lists_the_steps_without_any_request(check, policy, actions):
    out = plan(check, policy=policy)
    assert out.findings == () and [s.action for s in out.steps] == actions
    assert {s.actual for s in out.steps} == {PLANNED}
