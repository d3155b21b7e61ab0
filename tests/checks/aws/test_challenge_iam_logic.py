"""The IAM simulation challenges' verdict logic without a server: every verdict with its message and observed
values, the principals chosen (named, break-glass, missing), the steps, the calls each probe gets, fail closed.

The probes (sign_in, list_principals, simulate) are replaced in the challenge module by fakes that answer from
recorded observations (tests/checks/aws/fake_link.py); plan mode runs the real ones, which make no request in a
plan. test_challenge_iam.py (moto: the listings, and the simulator's answers judged by simulation_probe) and
test_challenge_real_account.py (AWS, opt-in) prove the probes against real servers.
"""
from __future__ import annotations

from typing import Any

import pytest

from checks.aws import challenge_iam
from scanner.challenge import PLANNED, Probe
from scanner.model import Status
from scanner.probes.aws import Principal
from tests.checks.aws.fake_link import FakeLink, Recorder, account, context, probe, seen, steps

A, B = "222222222222", "333333333333"


def user(acct: str, name: str, kind: str = "user") -> Principal:
    return Principal(acct, f"arn:aws:iam::{acct}:{kind}/{name}", kind, name)


ALICE, BOB, APP, CAROL = user(A, "alice"), user(A, "bob"), user(A, "app", "role"), user(B, "carol")
DANGEROUS = ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "kms:ScheduleKeyDeletion", "s3:DeleteBucket"]


def install(monkeypatch: pytest.MonkeyPatch, *, signed_in: bool = True,
            listed: dict[tuple[str, str], tuple[Probe, tuple[Principal, ...]]] | None = None,
            sims: dict[tuple[str, bool], Probe] | None = None) -> tuple[FakeLink, Recorder]:
    """``listed``: per (account, kind) the listing step and what it found (default: ALICE, BOB, APP in A and CAROL in
    B); ``sims``: per (principal name, mfa) the simulation's answer."""
    link = FakeLink((account(A), account(B)), homes=("eu-west-1", "us-east-1"))
    listing = listed if listed is not None else {
        (A, "user"): (probe(True, "2 user(s)"), (ALICE, BOB)), (A, "role"): (probe(True, "1 role(s)"), (APP,)),
        (B, "user"): (probe(True, "1 user(s)"), (CAROL,)), (B, "role"): (probe(True, "0 role(s)"), ())}
    answers = sims or {}

    def answer(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if name == "sign_in":
            return link if signed_in else None
        if name == "list_principals":
            step, found = listing.get((args[1].id, args[2]), (probe(True), ()))
            args[3].extend(found)
            return step
        return answers.get((args[2].name, kwargs["mfa"]), probe(True, "every action denied"))

    rec = Recorder(answer)
    for name in ("sign_in", "list_principals", "simulate"):
        monkeypatch.setattr(challenge_iam, name, rec.fake(name))
    return link, rec


def listing_steps(*listed: tuple[str, str, str, bool | None]) -> list[tuple[str, str, str, bool | None]]:
    return [(f"list the IAM {kind}s of account {acct} with the scan's credentials", f"the {kind} list", actual, ok)
            for acct, kind, actual, ok in listed]


DEFAULT_LISTING = listing_steps((A, "user", "2 user(s)", True), (A, "role", "1 role(s)", True),
                                (B, "user", "1 user(s)", True), (B, "role", "0 role(s)", True))


def test_dangerous_actions_each_verdict_with_its_words_and_observed_values(monkeypatch):
    link, rec = install(monkeypatch, sims={("alice", True): probe(False, "allowed: s3:DeleteBucket on *"),
                                           ("bob", True): probe(None, "throttled"),
                                           ("app", True): probe(False, "allowed: kms:ScheduleKeyDeletion on *")})
    ctx = context()
    out = challenge_iam.iam_dangerous_actions_denied(ctx)
    obs = {"actions": tuple(DANGEROUS), "resources": ("*",)}
    assert seen(out) == [
        (Status.FAIL, ALICE.arn, "the user may perform actions policy forbids",
         {"observed": "allowed: s3:DeleteBucket on *", "account": A, **obs}),
        (Status.ERROR, BOB.arn, "could not tell: throttled", {"observed": "throttled", "account": A, **obs}),
        (Status.FAIL, APP.arn, "the role may perform actions policy forbids",
         {"observed": "allowed: kms:ScheduleKeyDeletion on *", "account": A, **obs}),
        (Status.PASS, CAROL.arn, "the simulator denies every dangerous action",
         {"observed": "every action denied", "account": B, **obs})]
    sim = ("simulate cloudtrail:StopLogging, cloudtrail:DeleteTrail, kms:ScheduleKeyDeletion, s3:DeleteBucket for "
           "{} with MFA present")
    assert steps(ctx) == DEFAULT_LISTING + [
        (sim.format(ALICE.arn), "every action denied", "allowed: s3:DeleteBucket on *", False),
        (sim.format(BOB.arn), "every action denied", "throttled", None),
        (sim.format(APP.arn), "every action denied", "allowed: kms:ScheduleKeyDeletion on *", False),
        (sim.format(CAROL.arn), "every action denied", "every action denied", True)]
    assert rec.named("sign_in") == [(ctx,)]
    found = [ALICE, BOB, APP, CAROL]  # one list gathers every listing
    assert rec.named("list_principals") == [(link, account(A), "user", found), (link, account(A), "role", found),
                                            (link, account(B), "user", found), (link, account(B), "role", found)]
    assert rec.named("simulate") == [(link, account(p.account), p, DANGEROUS, ["*"], ("mfa", True))
                                     for p in (ALICE, BOB, APP, CAROL)]
    assert link.closed == [1]


def test_named_and_break_glass_principals_by_name_or_arn(monkeypatch):
    link, rec = install(monkeypatch)
    ctx = context()
    out = challenge_iam.iam_dangerous_actions_denied(
        ctx, challenge_principals=["alice", BOB.arn, "carol", "nobody", "arn:aws:iam::1:user/ghost"],
        break_glass_principals=[ALICE.arn, "carol"], challenge_denied_actions=["iam:CreateUser"],
        challenge_resource_arns=["arn:aws:s3:::records", "arn:aws:s3:::audit"])
    resources = ("*", "arn:aws:s3:::records", "arn:aws:s3:::audit")
    assert seen(out) == [
        (Status.ERROR, "nobody", "challenge_principals names a principal no scanned account has", {}),
        (Status.ERROR, "arn:aws:iam::1:user/ghost", "challenge_principals names a principal no scanned account has",
         {}),
        (Status.PASS, BOB.arn, "the simulator denies every dangerous action",
         {"observed": "every action denied", "account": A, "actions": ("iam:CreateUser",), "resources": resources})]
    assert steps(ctx)[4:] == [(f"simulate iam:CreateUser for {BOB.arn} with MFA present", "every action denied",
                               "every action denied", True)]
    assert rec.named("simulate") == [(link, account(A), BOB, ["iam:CreateUser"], list(resources), ("mfa", True))]


def test_break_glass_alone_leaves_the_others(monkeypatch):
    link, rec = install(monkeypatch)
    out = challenge_iam.iam_dangerous_actions_denied(context(), break_glass_principals=["app", BOB.arn])
    assert [f.resource for f in out] == [ALICE.arn, CAROL.arn]


@pytest.mark.parametrize("check, kwargs, message", [
    (challenge_iam.iam_dangerous_actions_denied, {"challenge_denied_actions": ()}, "challenge_denied_actions is empty"),
    (challenge_iam.iam_mfa_required, {}, "policy names no challenge_mfa_actions (actions MFA must guard)")])
def test_no_actions_is_not_applicable_before_signing_in(monkeypatch, check, kwargs, message):
    link, rec = install(monkeypatch)
    ctx = context()
    assert seen(check(ctx, **kwargs)) == [(Status.NOT_APPLICABLE, "acme", message, {})]
    assert rec.calls == [] and ctx.steps == []


@pytest.mark.parametrize("check, kwargs", [
    (challenge_iam.iam_dangerous_actions_denied, {}),
    (challenge_iam.iam_mfa_required, {"challenge_mfa_actions": ["s3:PutBucketPolicy"]})])
def test_a_failed_sign_in_is_an_error_and_nothing_else_is_asked(monkeypatch, check, kwargs):
    link, rec = install(monkeypatch, signed_in=False)
    ctx = context()
    assert seen(check(ctx, **kwargs)) == [(Status.ERROR, "acme", "could not sign in to AWS", {})]
    assert rec.named("sign_in") == [(ctx,)] and len(rec.calls) == 1 and link.closed == []


@pytest.mark.parametrize("check, kwargs", [
    (challenge_iam.iam_dangerous_actions_denied, {}),
    (challenge_iam.iam_mfa_required, {"challenge_mfa_actions": ["s3:PutBucketPolicy"]})])
def test_no_principal_is_not_applicable_and_a_failed_listing_an_error(monkeypatch, check, kwargs):
    link, rec = install(monkeypatch, listed={})
    assert seen(check(context(), **kwargs)) == [
        (Status.NOT_APPLICABLE, "acme", "no IAM user or role to challenge", {})]
    assert link.closed == [1]
    link, rec = install(monkeypatch, listed={(B, "role"): (probe(None, "could not run: throttled"), ()),
                                             (A, "user"): (probe(False, "AccessDenied"), ())})
    assert seen(check(context(), **kwargs)) == [
        (Status.ERROR, f"aws:{A}", "could not list IAM users: AccessDenied", {}),
        (Status.ERROR, f"aws:{B}", "could not list IAM roles: could not run: throttled", {})]


@pytest.mark.parametrize("named, resources", [
    ((), [f"aws:{A}", APP.arn]),
    (("app", "ghost"), [f"aws:{A}", "ghost", APP.arn])])  # named principals keep the listing's error
def test_a_failed_listing_does_not_hide_the_principals_found(monkeypatch, named, resources):
    link, rec = install(monkeypatch, listed={(A, "user"): (probe(False, "AccessDenied"), ()),
                                             (A, "role"): (probe(True), (APP,))})
    out = challenge_iam.iam_dangerous_actions_denied(context(), challenge_principals=named)
    assert [f.resource for f in out] == resources
    assert [f.status for f in out] == [Status.ERROR] * (len(resources) - 1) + [Status.PASS]


@pytest.mark.parametrize("check, kwargs", [
    (challenge_iam.iam_dangerous_actions_denied, {}),
    (challenge_iam.iam_mfa_required, {"challenge_mfa_actions": ["s3:PutBucketPolicy"]})])
def test_the_link_is_closed_when_the_challenge_raises(monkeypatch, check, kwargs):
    link, rec = install(monkeypatch)

    def broken(*args: Any, **kwargs: Any) -> Probe:
        raise RuntimeError("simulator broke")

    monkeypatch.setattr(challenge_iam, "_account", broken)
    with pytest.raises(RuntimeError, match="simulator broke"):
        check(context(), **kwargs)
    assert link.closed == [1]


def test_mfa_each_verdict_with_its_words_and_observed_values(monkeypatch):
    link, rec = install(monkeypatch, sims={
        ("alice", False): probe(True, "every action denied"), ("alice", True): probe(True, "allowed: x"),
        ("bob", False): probe(False, "allowed: s3:PutBucketPolicy on *"),
        ("app", False): probe(None, "throttled"),
        ("carol", False): probe(True, "every action denied"), ("carol", True): probe(False, "denied: y")})
    ctx = context()
    actions = ["s3:PutBucketPolicy", "kms:Decrypt"]
    out = challenge_iam.iam_mfa_required(ctx, challenge_mfa_actions=actions,
                                         challenge_resource_arns=["arn:aws:kms:eu-west-1:2:key/k"])
    acts = tuple(actions)
    assert seen(out) == [
        (Status.PASS, ALICE.arn, "refused without MFA, allowed with it",
         {"account": A, "actions": acts, "without_mfa": "every action denied", "with_mfa": "allowed: x"}),
        (Status.FAIL, BOB.arn, "the actions are allowed without MFA",
         {"observed": "allowed: s3:PutBucketPolicy on *", "account": A, "actions": acts}),
        (Status.ERROR, APP.arn, "could not tell: throttled", {"observed": "throttled", "account": A, "actions": acts}),
        (Status.PASS, CAROL.arn, "refused without MFA (and with it: denied: y)",
         {"account": B, "actions": acts, "without_mfa": "every action denied", "with_mfa": "denied: y"})]
    without = "simulate s3:PutBucketPolicy, kms:Decrypt for {} without MFA"
    same = "simulate the same for {} with MFA present"
    assert steps(ctx)[4:] == [
        (without.format(ALICE.arn), "every action denied", "every action denied", True),
        (same.format(ALICE.arn), "allowed (MFA is what the policy asks for)", "allowed: x", True),
        (without.format(BOB.arn), "every action denied", "allowed: s3:PutBucketPolicy on *", False),
        (without.format(APP.arn), "every action denied", "throttled", None),
        (without.format(CAROL.arn), "every action denied", "every action denied", True),
        (same.format(CAROL.arn), "allowed (MFA is what the policy asks for)", "denied: y", False)]
    res = ["*", "arn:aws:kms:eu-west-1:2:key/k"]
    assert rec.named("simulate") == [
        (link, account(A), ALICE, actions, res, ("mfa", False)),
        (link, account(A), ALICE, actions, res, ("expect_allowed", True), ("mfa", True)),
        (link, account(A), BOB, actions, res, ("mfa", False)),
        (link, account(A), APP, actions, res, ("mfa", False)),
        (link, account(B), CAROL, actions, res, ("mfa", False)),
        (link, account(B), CAROL, actions, res, ("expect_allowed", True), ("mfa", True))]
    assert link.closed == [1]


SIGN_IN = ("sign in to AWS with the scan's credentials (sts:GetCallerIdentity)",
           "the scan principal's identity and accounts", PLANNED, None)
PLAN_LISTING = [(f"list the IAM {k}s of account <each account> with the scan's credentials", f"the {k} list", PLANNED,
                 None) for k in ("user", "role")]
EACH = "<each IAM user and role>"


def test_plan_of_the_dangerous_actions_runs_the_real_steps_without_a_request():
    ctx = context(plan=True, endpoint_url="http://127.0.0.1:9")
    out = challenge_iam.iam_dangerous_actions_denied(ctx, challenge_principals=["alice"],
                                                     break_glass_principals=[EACH])
    assert seen(out) == [(Status.PASS, EACH, "the simulator denies every dangerous action",
                          {"observed": PLANNED, "account": "<each account>", "actions": tuple(DANGEROUS),
                           "resources": ("*",)})]
    assert steps(ctx) == [SIGN_IN, *PLAN_LISTING, (
        f"simulate {', '.join(DANGEROUS)} for {EACH} with MFA present", "every action denied", PLANNED, None)]


def test_plan_of_the_mfa_challenge_runs_the_real_steps_without_a_request():
    ctx = context(plan=True, endpoint_url="http://127.0.0.1:9")
    out = challenge_iam.iam_mfa_required(ctx, challenge_mfa_actions=["s3:PutBucketPolicy"])
    assert seen(out) == [(Status.PASS, EACH, "refused without MFA, allowed with it",
                          {"account": "<each account>", "actions": ("s3:PutBucketPolicy",), "without_mfa": PLANNED,
                           "with_mfa": PLANNED})]
    assert steps(ctx) == [SIGN_IN, *PLAN_LISTING,
                          (f"simulate s3:PutBucketPolicy for {EACH} without MFA", "every action denied", PLANNED, None),
                          (f"simulate the same for {EACH} with MFA present",
                           "allowed (MFA is what the policy asks for)", PLANNED, None)]


def test_the_mfa_challenge_takes_named_and_break_glass_principals(monkeypatch):
    link, rec = install(monkeypatch)
    out = challenge_iam.iam_mfa_required(context(), challenge_principals=["alice", "app", "ghost"],
                                         break_glass_principals=[APP.arn], challenge_mfa_actions=["kms:Decrypt"],
                                         challenge_resource_arns=["arn:aws:kms:eu-west-1:2:key/k"])
    assert [(f.status, f.resource) for f in out] == [(Status.ERROR, "ghost"), (Status.PASS, ALICE.arn)]
    assert [c[2:5] for c in rec.named("simulate")] == [
        (ALICE, ["kms:Decrypt"], ["*", "arn:aws:kms:eu-west-1:2:key/k"])] * 2  # without MFA, then with it
