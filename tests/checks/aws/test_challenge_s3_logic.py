"""The S3 challenges' verdict logic without a server: every verdict with its message and observed values, the steps,
the calls each probe gets, and the fail-closed paths.

The probes (sign_in, buckets, first_key, anonymous_get, anonymous_list, signed_head) are replaced in the challenge
module by fakes that answer from recorded observations (tests.checks.aws.fake_link.py); plan mode runs the real
ones, which make no request in a plan. test_challenge_s3.py (moto over HTTP and a TLS front) and
test_challenge_real_account.py (AWS, opt-in) prove the probes against real servers.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from checks.aws import challenge_s3
from scanner.challenge import PLANNED, Probe
from scanner.model import Status
from scanner.probes.aws import Bucket
from tests.checks.aws.fake_link import FakeLink, Recorder, account, context, probe, seen, steps

A, B = "222222222222", "333333333333"
KEY = "batch/rec\n1.json"  # shown in step text as batch/rec\x0a1.json
SHOWN = "batch/rec\\x0a1.json"
B1, B2, B3 = Bucket(A, "eu-west-1", "b-one"), Bucket(B, "us-east-1", "b-two"), Bucket(A, "eu-west-1", "b-three")


def install(monkeypatch: pytest.MonkeyPatch, *, signed_in: bool = True, found: tuple[Bucket, ...] = (B1, B2),
            complete: bool = True, keys: dict[str, tuple[Probe, tuple[str, ...]]] | None = None,
            answers: dict[tuple[str, str], Probe] | None = None) -> tuple[FakeLink, Recorder]:
    """Replace every probe the module imported; ``keys``: per bucket the listing step and the keys it found;
    ``answers``: per (probe, bucket name) the probe's answer (signed_head as 'https' or 'http')."""
    link = FakeLink((account(A), account(B)))
    listing = keys or {}
    got = answers or {}

    def answer(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if name == "sign_in":
            return link if signed_in else None
        if name == "buckets":
            return list(found), complete
        bucket = args[2]
        if name == "first_key":
            step, names = listing.get(bucket.name, (probe(True), (KEY,)))
            args[3].extend(names)
            return step
        if name == "signed_head":
            return got[("http" if kwargs["plain"] else "https", bucket.name)]
        return got[(name, bucket.name)]

    rec = Recorder(answer)
    for name in ("sign_in", "buckets", "first_key", "anonymous_get", "anonymous_list", "signed_head"):
        monkeypatch.setattr(challenge_s3, name, rec.fake(name))
    return link, rec


ALL = [challenge_s3.s3_anonymous_read_denied, challenge_s3.s3_anonymous_list_denied,
       challenge_s3.s3_plain_http_denied]


@pytest.mark.parametrize("check", ALL)
def test_a_failed_sign_in_is_an_error_and_nothing_else_is_asked(monkeypatch, check):
    link, rec = install(monkeypatch, signed_in=False)
    ctx = context()
    assert seen(check(ctx)) == [(Status.ERROR, "acme", "could not sign in to AWS", {})]
    assert rec.named("sign_in") == [(ctx,)] and len(rec.calls) == 1 and link.closed == []


def test_anonymous_read_each_verdict_with_its_words_and_observed_values(monkeypatch):
    b4, b5 = Bucket(B, "us-east-1", "b-empty"), Bucket(A, "eu-west-1", "b-unlisted")
    link, rec = install(monkeypatch, found=(B1, B2, B3, b4, b5), keys={
        "b-empty": (probe(True, "0 keys"), ()), "b-unlisted": (probe(False, "AccessDenied"), ()),
        "b-two": (probe(True), ("k2", "k3"))}, answers={
        ("anonymous_get", "b-one"): probe(True, "AccessDenied"), ("anonymous_get", "b-two"): probe(False, "200 OK"),
        ("anonymous_get", "b-three"): probe(None, "timed out")})
    ctx = context()
    out = challenge_s3.s3_anonymous_read_denied(ctx)
    assert seen(out) == [
        (Status.PASS, "s3://b-one", "an anonymous read of an object is refused",
         {"observed": "AccessDenied", "account": A, "region": "eu-west-1", "key": KEY}),
        (Status.FAIL, "s3://b-two", "anyone on the internet can read objects of this bucket",
         {"observed": "200 OK", "account": B, "region": "us-east-1", "key": "k2"}),
        (Status.ERROR, "s3://b-three", "could not tell: timed out",
         {"observed": "timed out", "account": A, "region": "eu-west-1", "key": KEY}),
        (Status.NOT_APPLICABLE, "s3://b-empty", "the bucket is empty: there is no object to request", {"account": B}),
        (Status.ERROR, "s3://b-unlisted", "could not list an object: AccessDenied", {"account": A})]
    assert steps(ctx) == [
        ("list one object of s3://b-one with the scan's credentials", "an object key", "met", True),
        (f"GET s3://b-one/{SHOWN} without credentials (unsigned), one byte", "refused (AccessDenied)",
         "AccessDenied", True),
        ("list one object of s3://b-two with the scan's credentials", "an object key", "met", True),
        ("GET s3://b-two/k2 without credentials (unsigned), one byte", "refused (AccessDenied)", "200 OK", False),
        ("list one object of s3://b-three with the scan's credentials", "an object key", "met", True),
        (f"GET s3://b-three/{SHOWN} without credentials (unsigned), one byte", "refused (AccessDenied)",
         "timed out", None),
        ("list one object of s3://b-empty with the scan's credentials", "an object key", "0 keys", True),
        ("list one object of s3://b-unlisted with the scan's credentials", "an object key", "AccessDenied", False)]
    assert rec.named("sign_in") == [(ctx,)] and rec.named("buckets") == [(ctx, link)]
    assert rec.named("first_key") == [(link, account(A), B1, [KEY]), (link, account(B), B2, ["k2", "k3"]),
                                      (link, account(A), B3, [KEY]), (link, account(B), b4, []),
                                      (link, account(A), b5, [])]
    assert rec.named("anonymous_get") == [(link, account(A), B1, KEY), (link, account(B), B2, "k2"),
                                          (link, account(A), B3, KEY)]
    assert link.closed == [1]


@pytest.mark.parametrize("complete, first", [
    (False, [(Status.ERROR, "acme", "a bucket listing failed: buckets may be missing from this challenge", {})]),
    (True, [])])
@pytest.mark.parametrize("check", ALL)
def test_a_failed_bucket_listing_is_one_error_before_the_buckets(monkeypatch, check, complete, first):
    install(monkeypatch, found=(), complete=complete)
    assert seen(check(context())) == first


def test_a_key_probe_that_raises_is_an_error_and_the_link_is_closed(monkeypatch):
    link, rec = install(monkeypatch, found=(B1,))

    def broken(*args: Any) -> Probe:
        raise ConnectionError("reset")

    monkeypatch.setattr(challenge_s3, "first_key", broken)
    ctx = context()
    assert seen(challenge_s3.s3_anonymous_read_denied(ctx)) == [
        (Status.ERROR, "s3://b-one", "could not list an object: could not run: ConnectionError: reset",
         {"account": A})]
    assert link.closed == [1]


@pytest.mark.parametrize("check", ALL)
def test_the_link_is_closed_when_the_challenge_raises(monkeypatch, check):
    link, rec = install(monkeypatch)

    def broken(*args: Any) -> Any:
        raise RuntimeError("listing broke")

    monkeypatch.setattr(challenge_s3, "buckets", broken)
    with pytest.raises(RuntimeError, match="listing broke"):
        check(context())
    assert link.closed == [1]


def test_anonymous_list_needs_no_key_and_judges_each_bucket(monkeypatch):
    link, rec = install(monkeypatch, found=(B1, B2, B3), answers={
        ("anonymous_list", "b-one"): probe(True, "AccessDenied"), ("anonymous_list", "b-two"): probe(False, "3 keys"),
        ("anonymous_list", "b-three"): probe(None, "reset")})
    ctx = context()
    assert seen(challenge_s3.s3_anonymous_list_denied(ctx)) == [
        (Status.PASS, "s3://b-one", "an anonymous listing is refused",
         {"observed": "AccessDenied", "account": A, "region": "eu-west-1"}),
        (Status.FAIL, "s3://b-two", "anyone on the internet can list this bucket's objects",
         {"observed": "3 keys", "account": B, "region": "us-east-1"}),
        (Status.ERROR, "s3://b-three", "could not tell: reset",
         {"observed": "reset", "account": A, "region": "eu-west-1"})]
    assert steps(ctx) == [
        ("list s3://b-one without credentials (unsigned ListObjectsV2, one key)", "refused (AccessDenied)",
         "AccessDenied", True),
        ("list s3://b-two without credentials (unsigned ListObjectsV2, one key)", "refused (AccessDenied)",
         "3 keys", False),
        ("list s3://b-three without credentials (unsigned ListObjectsV2, one key)", "refused (AccessDenied)",
         "reset", None)]
    assert rec.named("first_key") == []
    assert rec.named("anonymous_list") == [(link, account(A), B1), (link, account(B), B2), (link, account(A), B3)]
    assert rec.named("buckets") == [(ctx, link)] and link.closed == [1]


def test_plain_http_needs_https_allowed_first_then_http_refused(monkeypatch):
    b4 = Bucket(B, "us-east-1", "b-four")
    link, rec = install(monkeypatch, found=(B1, B2, B3, b4), answers={
        ("https", "b-one"): probe(True, "200"), ("http", "b-one"): probe(True, "403"),
        ("https", "b-two"): probe(True, "200"), ("http", "b-two"): probe(False, "200 over http"),
        ("https", "b-three"): probe(False, "403 over https"),
        ("https", "b-four"): probe(True, "200"), ("http", "b-four"): probe(None, "reset")})
    ctx = context()
    assert seen(challenge_s3.s3_plain_http_denied(ctx)) == [
        (Status.PASS, "s3://b-one", "allowed over HTTPS and refused over plain HTTP",
         {"observed": "403", "account": A, "region": "eu-west-1", "key": KEY}),
        (Status.FAIL, "s3://b-two", "the bucket answers a signed request over plain HTTP",
         {"observed": "200 over http", "account": B, "region": "us-east-1", "key": KEY}),
        (Status.ERROR, "s3://b-three", "the same request over HTTPS was not allowed (403 over https): a refusal "
                                       "over HTTP would prove nothing", {"account": A, "key": KEY}),
        (Status.ERROR, "s3://b-four", "could not tell: reset",
         {"observed": "reset", "account": B, "region": "us-east-1", "key": KEY})]
    head = f"HEAD s3://b-one/{SHOWN} signed by the scan principal over HTTPS (control)"
    assert steps(ctx)[:3] == [
        ("list one object of s3://b-one with the scan's credentials", "an object key", "met", True),
        (head, "allowed", "200", True),
        (f"the same HEAD of s3://b-one/{SHOWN} over plain HTTP", "refused (AccessDenied)", "403", True)]
    assert [s[0].split(" ")[:3] for s in steps(ctx)[3:]] == [
        ["list", "one", "object"], ["HEAD", f"s3://b-two/{SHOWN}", "signed"], ["the", "same", "HEAD"],
        ["list", "one", "object"], ["HEAD", f"s3://b-three/{SHOWN}", "signed"],
        ["list", "one", "object"], ["HEAD", f"s3://b-four/{SHOWN}", "signed"], ["the", "same", "HEAD"]]
    assert rec.named("signed_head") == [
        (link, account(A), B1, KEY, ("plain", False)), (link, account(A), B1, KEY, ("plain", True)),
        (link, account(B), B2, KEY, ("plain", False)), (link, account(B), B2, KEY, ("plain", True)),
        (link, account(A), B3, KEY, ("plain", False)),
        (link, account(B), b4, KEY, ("plain", False)), (link, account(B), b4, KEY, ("plain", True))]
    assert link.closed == [1]


def test_plain_http_on_an_empty_bucket_is_not_applicable_without_a_request(monkeypatch):
    link, rec = install(monkeypatch, found=(B1,), keys={"b-one": (probe(True), ())})
    assert seen(challenge_s3.s3_plain_http_denied(context())) == [
        (Status.NOT_APPLICABLE, "s3://b-one", "the bucket is empty: there is no object to request", {"account": A})]
    assert rec.named("signed_head") == []


EACH = "s3://<each bucket>"
LISTING = ("list the S3 buckets of account <each account> in <each region> with the scan's credentials",
           "the bucket list", PLANNED, None)
SIGN_IN = ("sign in to AWS with the scan's credentials (sts:GetCallerIdentity)",
           "the scan principal's identity and accounts", PLANNED, None)
ONE_OBJECT = ("list one object of s3://<each bucket> with the scan's credentials", "an object key", PLANNED, None)
PLANNED_OBS = {"observed": PLANNED, "account": "<each account>", "region": "<each region>"}


@pytest.mark.parametrize("check, expect_steps, finding", [
    (challenge_s3.s3_anonymous_read_denied, [
        SIGN_IN, LISTING, ONE_OBJECT,
        ("GET s3://<each bucket>/<first object> without credentials (unsigned), one byte", "refused (AccessDenied)",
         PLANNED, None)],
     (Status.PASS, EACH, "an anonymous read of an object is refused", {**PLANNED_OBS, "key": "<first object>"})),
    (challenge_s3.s3_anonymous_list_denied, [
        SIGN_IN, LISTING,
        ("list s3://<each bucket> without credentials (unsigned ListObjectsV2, one key)", "refused (AccessDenied)",
         PLANNED, None)],
     (Status.PASS, EACH, "an anonymous listing is refused", PLANNED_OBS)),
    (challenge_s3.s3_plain_http_denied, [
        SIGN_IN, LISTING, ONE_OBJECT,
        ("HEAD s3://<each bucket>/<first object> signed by the scan principal over HTTPS (control)", "allowed",
         PLANNED, None),
        ("the same HEAD of s3://<each bucket>/<first object> over plain HTTP", "refused (AccessDenied)", PLANNED,
         None)],
     (Status.PASS, EACH, "allowed over HTTPS and refused over plain HTTP", {**PLANNED_OBS, "key": "<first object>"})),
])
def test_plan_runs_the_real_steps_without_a_request(check: Callable[..., Any], expect_steps, finding):
    ctx = context(plan=True, endpoint_url="http://127.0.0.1:9")
    assert seen(check(ctx)) == [finding]
    assert steps(ctx) == expect_steps
    assert all(s.planned for s in ctx.steps)
