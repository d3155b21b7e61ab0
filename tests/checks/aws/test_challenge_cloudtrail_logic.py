"""The CloudTrail challenge's verdict logic without a server: pass / fail / error with their messages and observed
values, the refusals, the poll schedule with its waits (a fake clock), the steps and the calls each probe gets.

The probes (sign_in, identify, audited_read, lookup_events) are replaced in the challenge module by fakes that answer
from recorded observations (tests/checks/aws/fake_link.py), the clock by a fake one and boto3's Session by a recorder
(the test principal's session is only made, never used); plan mode runs the real probes, which make no request in a
plan. test_challenge_cloudtrail.py (moto: identify, the audited read, the look-up's refusal) and
test_challenge_real_account.py (AWS, opt-in: the read found in CloudTrail) prove the probes against real servers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import boto3.session
import pytest

from checks.aws import challenge_cloudtrail
from checks.aws.challenge_cloudtrail import poll_offsets
from scanner.challenge import PLANNED, ChallengeRefused, Probe
from scanner.model import Status
from scanner.probes.aws import Event, Identity
from tests.checks.aws.fake_link import SCAN_ARN, FakeLink, Recorder, account, context, probe, seen, steps
from tests.factories import FakeClock

A, B = "222222222222", "333333333333"
ME = Identity(A, f"arn:aws:iam::{A}:user/tester", "AKIATESTER")
KEY_ID, SECRET_ENV, SECRET = "AKIATESTER", "GXP_TEST_CT_SECRET", "planted-ct-secret-0001"
SINCE = datetime(2026, 12, 1, 18, 0, tzinfo=timezone.utc)
EVENT = Event("ListKeys", "kms.amazonaws.com", datetime(2026, 12, 1, 18, 0, 7, tzinfo=timezone.utc), "tester",
              ME.arn, "ev-1")
SESSION = object()


@pytest.mark.parametrize("bound, offsets", [
    (900, [15, 45, 105, 225, 345, 465, 585, 705, 825, 900]), (1200, [15, 45, 105, 225, 345, 465, 585, 705, 825,
                                                                     945, 1065, 1185, 1200]),
    (60, [15, 45, 60]), (45, [15, 45]), (46, [15, 45, 46]), (16, [15, 16]), (15, [15]), (1, [1]), (0, [0])])
def test_polls_start_at_15_s_and_double_the_gap_up_to_2_minutes_ending_at_the_bound(bound, offsets):
    got = poll_offsets(bound)
    assert got == offsets and all(isinstance(x, float) for x in got)


@dataclass
class Sessions:
    made: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, **kwargs: Any) -> str:
        self.made.append(kwargs)
        return "session"


def install(monkeypatch: pytest.MonkeyPatch, *, signed_in: bool = True, who: tuple[Identity, ...] = (ME,),
            identified: Probe | None = None, read: Probe | None = None, polls: tuple[tuple[Probe, bool], ...] = (),
            lookup_takes: float = 0.0, accounts: tuple[str, ...] = (A, B)) -> tuple[FakeLink, Recorder, FakeClock]:
    """``polls``: per look-up its step and whether it found the event (further look-ups: undetermined)."""
    link = FakeLink(tuple(account(a) for a in accounts), homes=("eu-central-1", "us-east-1")[:len(accounts)])
    clock = FakeClock()
    answers = list(polls)

    def answer(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if name == "sign_in":
            return link if signed_in else None
        if name == "identify":
            args[3].extend(who)
            args[4].append(SESSION)
            return identified or probe(True, f"{ME.arn} (access key id {KEY_ID})")
        if name == "audited_read":
            return read or probe(True, "allowed (HTTP 200)")
        clock.now += lookup_takes
        step, found = answers.pop(0) if answers else (probe(None, "could not run: throttled"), False)
        if found:
            args[5].append(EVENT)
        return step

    rec = Recorder(answer)
    for name in ("sign_in", "identify", "audited_read", "lookup_events"):
        monkeypatch.setattr(challenge_cloudtrail, name, rec.fake(name))
    monkeypatch.setattr(challenge_cloudtrail, "time", clock)
    monkeypatch.setattr(challenge_cloudtrail, "utcnow", lambda: SINCE)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return link, rec, clock


def ctx_with_key(**opts: Any) -> Any:
    return context(**{"challenge_account": KEY_ID, "challenge_password_env": SECRET_ENV, **opts})


def lookup(n: int, offset: str, actual: str, ok: bool | None, region: str = "eu-central-1") -> tuple[Any, ...]:
    return (f"look up CloudTrail events of access key {KEY_ID} in {region} (poll {n}, {offset} s after the read)",
            "the ListKeys event of the test principal", actual, ok)


FRONT = [(f"identify the test principal (access key {KEY_ID}) with sts:GetCallerIdentity",
          "an identity other than the scan principal's", f"{ME.arn} (access key id {KEY_ID})", True),
         ("as the test principal, call kms:ListKeys in eu-central-1 (the audited read)",
          "AWS answers (allowed or refused: both are logged)", "allowed (HTTP 200)", True)]


def test_the_read_found_at_the_second_poll_passes_with_the_event(monkeypatch):
    link, rec, clock = install(monkeypatch, polls=((probe(False, "0 event(s)"), False),
                                                   (probe(True, "1 event(s), including the read"), True)))
    ctx = ctx_with_key(endpoint_url="https://aws.example:4566")
    out = challenge_cloudtrail.cloudtrail_records_reads(ctx, audit_trail_bound_seconds=60)
    assert seen(out) == [(Status.PASS, ME.arn, "the read was in CloudTrail 45 s after it was made (bound 60 s)", {
        "event_time": "2026-12-01T18:00:07+00:00", "event_id": "ev-1", "username": "tester",
        "event_principal": ME.arn, "found_after_seconds": 45.0})]
    assert steps(ctx) == [*FRONT, lookup(1, "15", "0 event(s)", False),
                          lookup(2, "45", "1 event(s), including the read", True)]
    assert clock.slept == [15.0, 30.0]
    [(make_session, region, endpoint, who, sessions)] = rec.named("identify")
    assert (region, endpoint, who, sessions) == ("eu-central-1", "https://aws.example:4566", [ME], [SESSION])
    made = Sessions()
    monkeypatch.setattr(boto3.session, "Session", made)
    assert make_session() == "session" and made.made == [  # the test principal's own session, in the home region
        {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET, "region_name": "eu-central-1"}]
    assert rec.named("audited_read") == [(SESSION, "eu-central-1", "https://aws.example:4566")]
    hits: list[Event] = []
    assert rec.named("lookup_events") == [(link, account(A), "eu-central-1", ME, SINCE, hits),
                                          (link, account(A), "eu-central-1", ME, SINCE, [EVENT])]
    assert rec.named("sign_in") == [(ctx,)] and link.closed == [1]
    assert SECRET not in repr(out) + repr(ctx.steps)  # the planted secret key reaches no finding or step


def test_the_read_never_found_fails_after_every_poll_and_a_slow_look_up_shortens_the_next_wait(monkeypatch):
    link, rec, clock = install(monkeypatch, lookup_takes=20.0, accounts=(B, A), polls=tuple(
        (probe(False, "0 event(s)"), False) for _ in range(3)))
    ctx = ctx_with_key()
    out = challenge_cloudtrail.cloudtrail_records_reads(ctx, audit_trail_bound_seconds=50)
    assert seen(out) == [(Status.FAIL, ME.arn, "the read did not appear in CloudTrail within 50 s", {"polls": 3})]
    assert clock.slept == [15.0, 10.0, 0.0]  # at 15, 45 (the look-up took 20 s), 50 (already 65 s: no wait)
    assert [s[0] for s in steps(ctx)[2:]] == [lookup(n, o, "", None, "eu-central-1")[0]
                                              for n, o in ((1, "15"), (2, "45"), (3, "50"))]
    [(make_session, region, endpoint, *_)] = rec.named("identify")
    assert (region, endpoint) == ("eu-central-1", None)  # the first scanned account's home region; no endpoint
    assert [c[1] for c in rec.named("lookup_events")] == [account(A)] * 3  # the test principal's own account


def test_look_ups_that_could_not_be_made_are_an_error_never_a_fail(monkeypatch):
    link, rec, clock = install(monkeypatch, polls=((probe(None, "throttled"), False), (probe(False, "0"), False)))
    ctx = ctx_with_key()
    out = challenge_cloudtrail.cloudtrail_records_reads(ctx, audit_trail_bound_seconds=60)
    assert seen(out) == [(Status.ERROR, ME.arn, "2 of 3 CloudTrail look-ups could not be made; the read was not "
                                                "seen within 60 s", {"polls": 3})]
    assert link.closed == [1]


def test_a_bound_of_a_fraction_is_shown_as_given(monkeypatch):
    install(monkeypatch, polls=((probe(False, "0"), False),))
    out = challenge_cloudtrail.cloudtrail_records_reads(ctx_with_key(), audit_trail_bound_seconds=2.5)
    assert seen(out) == [(Status.FAIL, ME.arn, "the read did not appear in CloudTrail within 2.5 s", {"polls": 1})]


def test_a_failed_sign_in_is_an_error_and_nothing_else_is_asked(monkeypatch):
    link, rec, clock = install(monkeypatch, signed_in=False)
    ctx = ctx_with_key()
    assert seen(challenge_cloudtrail.cloudtrail_records_reads(ctx)) == [
        (Status.ERROR, "acme", "could not sign in to AWS", {})]
    assert rec.named("sign_in") == [(ctx,)] and len(rec.calls) == 1 and link.closed == []


@pytest.mark.parametrize("kwargs, message", [
    ({"identified": probe(None, "could not run: InvalidClientTokenId")},
     "could not identify the test principal: could not run: InvalidClientTokenId"),
    ({"identified": probe(False, "no")}, "could not identify the test principal: no"),
    ({"who": ()}, f"could not identify the test principal: {ME.arn} (access key id {KEY_ID})")])
def test_an_unidentified_test_principal_is_an_error_and_no_read_is_made(monkeypatch, kwargs, message):
    link, rec, clock = install(monkeypatch, **kwargs)
    assert seen(challenge_cloudtrail.cloudtrail_records_reads(ctx_with_key())) == [(Status.ERROR, "acme", message, {})]
    assert rec.named("audited_read") == [] and link.closed == [1]


@pytest.mark.parametrize("who, message", [
    (Identity(A, SCAN_ARN, "AKIASCAN"), "refused: the test principal is the scan principal; name a separate test "
                                        "principal"),
    (Identity("999999999999", "arn:aws:iam::999999999999:user/t", KEY_ID), "the test principal's account "
     "999999999999 is not among the scanned accounts: its CloudTrail cannot be read")])
def test_a_test_principal_that_is_the_scanner_or_outside_the_accounts_is_refused_before_the_read(monkeypatch, who,
                                                                                                    message):
    link, rec, clock = install(monkeypatch, who=(who,))
    assert seen(challenge_cloudtrail.cloudtrail_records_reads(ctx_with_key())) == [(Status.ERROR, who.arn, message, {})]
    assert rec.named("audited_read") == [] and link.closed == [1]


@pytest.mark.parametrize("ok", [False, None])
def test_a_read_that_did_not_reach_aws_is_an_error_and_nothing_is_looked_up(monkeypatch, ok):
    link, rec, clock = install(monkeypatch, read=probe(ok, "could not connect"))
    assert seen(challenge_cloudtrail.cloudtrail_records_reads(ctx_with_key())) == [
        (Status.ERROR, ME.arn, "the audited read did not reach AWS: could not connect", {})]
    assert rec.named("lookup_events") == [] and clock.slept == []


def test_the_default_bound_is_900_s(monkeypatch):
    link, rec, clock = install(monkeypatch)
    out = challenge_cloudtrail.cloudtrail_records_reads(ctx_with_key())
    assert seen(out) == [(Status.ERROR, ME.arn, "10 of 10 CloudTrail look-ups could not be made; the read was not "
                                                "seen within 900 s", {"polls": 10})]
    assert clock.slept == [15.0, 30.0, 60.0] + [120.0] * 6 + [75.0]


def test_the_link_is_closed_when_the_challenge_raises(monkeypatch):
    link, rec, clock = install(monkeypatch)
    monkeypatch.setattr(challenge_cloudtrail, "account_of", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        challenge_cloudtrail.cloudtrail_records_reads(ctx_with_key())
    assert link.closed == [1]


def test_the_test_principal_by_access_key_or_by_profile(monkeypatch):
    made = Sessions()
    monkeypatch.setattr(boto3.session, "Session", made)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    label, make = challenge_cloudtrail._test_session(ctx_with_key(profile="scan"), "eu-west-3")
    assert label == f"access key {KEY_ID}" and make() == "session"
    label, make = challenge_cloudtrail._test_session(context(challenge_profile="tester", profile="scan",
                                                             challenge_account=KEY_ID), "ap-south-1")
    assert label == "profile tester" and make() == "session"
    assert made.made == [
        {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET, "region_name": "eu-west-3"},
        {"profile_name": "tester", "region_name": "ap-south-1"}]
    assert SECRET not in repr(make) + label


@pytest.mark.parametrize("opts, message", [
    ({"challenge_profile": "scan", "profile": "scan"},
     "challenge_profile scan is the profile the scan uses; name a test principal"),
    ({}, "target acme names neither challenge_profile nor challenge_account (an access key id) with "
         "challenge_password_env (its secret access key)"),
    ({"challenge_account": KEY_ID, "challenge_password_env": "GXP_TEST_CT_UNSET"},
     "target acme: environment variable GXP_TEST_CT_UNSET (challenge_password_env) is not set")])
def test_refusals_name_what_is_missing(monkeypatch, opts, message):
    monkeypatch.delenv("GXP_TEST_CT_UNSET", raising=False)
    with pytest.raises(ChallengeRefused) as caught:
        challenge_cloudtrail._test_session(context(**opts), "eu-west-1")
    assert str(caught.value) == message


def test_a_refusal_reaches_no_probe_after_sign_in(monkeypatch):
    link, rec, clock = install(monkeypatch)
    with pytest.raises(ChallengeRefused):
        challenge_cloudtrail.cloudtrail_records_reads(context())
    assert [c[0] for c in rec.calls] == ["sign_in"] and link.closed == [1]


def test_plan_runs_the_real_steps_without_a_request():
    ctx = context(plan=True, endpoint_url="http://127.0.0.1:9", challenge_account=KEY_ID,
                  challenge_password_env="GXP_TEST_CT_UNSET")
    assert challenge_cloudtrail.cloudtrail_records_reads(ctx) == []
    assert steps(ctx) == [
        ("sign in to AWS with the scan's credentials (sts:GetCallerIdentity)",
         "the scan principal's identity and accounts", PLANNED, None),
        (f"identify the test principal (access key {KEY_ID}) with sts:GetCallerIdentity",
         "an identity other than the scan principal's", PLANNED, None),
        ("as the test principal, call kms:ListKeys in <home region> (the audited read)",
         "AWS answers (allowed or refused: both are logged)", PLANNED, None),
        ("look up CloudTrail events of access key <its access key id> in <home region> (poll 1, 15 s after the "
         "read)", "the ListKeys event of the test principal", PLANNED, None)]
    assert all(s.planned for s in ctx.steps)
