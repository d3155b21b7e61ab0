"""S3 challenges (safe): requests a public bucket or a plain-HTTP client would make, which must be refused.

Buckets come from the scan principal's ListBuckets per scanned region; an object to request comes from its
ListObjectsV2 (one key). The challenges only read: an anonymous GET asks for one byte, the HTTP checks use HEAD.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

from scanner.challenge import ChallengeContext, challenge
from scanner.model import Finding, error, not_applicable
from scanner.probes.aws import (
    AwsLink,
    Bucket,
    account_of,
    anonymous_get,
    anonymous_list,
    buckets,
    first_key,
    judge,
    shown,
    sign_in,
    signed_head,
)

FIRST_OBJECT = "<first object>"


def _listing_errors(ctx: ChallengeContext, complete: bool) -> list[Finding]:
    if complete:
        return []
    return [error(ctx.target.name, "a bucket listing failed: buckets may be missing from this challenge")]


def _first_key(ctx: ChallengeContext, link: AwsLink, bucket: Bucket) -> str | Finding:
    """The key to request, or the finding that says why there is none."""
    keys: list[str] = []
    got = ctx.step(f"list one object of {bucket.uri} with the scan's credentials", "an object key",
                   partial(first_key, link, account_of(link, bucket.account), bucket, keys))
    if ctx.plan:
        return FIRST_OBJECT
    if got.ok is not True:
        return error(bucket.uri, f"could not list an object: {got.actual}", account=bucket.account)
    if not keys:
        return not_applicable(bucket.uri, "the bucket is empty: there is no object to request",
                              account=bucket.account)
    return keys[0]


def _each_bucket(ctx: ChallengeContext, one: Callable[[AwsLink, Bucket, str], Finding], *,
                 needs_key: bool) -> list[Finding]:
    """Sign in, list the buckets and judge each with ``one`` (given the bucket's first object key when
    ``needs_key``; a bucket without one gets the finding that says why)."""
    link = sign_in(ctx)
    if link is None:
        return [error(ctx.target.name, "could not sign in to AWS")]
    try:
        found, complete = buckets(ctx, link)
        out = _listing_errors(ctx, complete)
        for bucket in found:
            key = _first_key(ctx, link, bucket) if needs_key else ""
            out.append(key if isinstance(key, Finding) else one(link, bucket, key))
        return out
    finally:
        link.close()


@challenge(id="aws.challenge.s3_anonymous_read_denied", title="S3: an anonymous object read is refused",
           severity="critical", area="access_control", impact="safe",
           criterion="an unsigned GET of an object of every bucket is refused (AccessDenied)",
           remediation="Turn on S3 Block Public Access (account and bucket), remove public grants from bucket "
                       "policies and ACLs, and give readers access through named IAM principals.")
def s3_anonymous_read_denied(ctx: ChallengeContext) -> list[Finding]:
    def one(link: AwsLink, bucket: Bucket, key: str) -> Finding:
        got = ctx.step(f"GET {bucket.uri}/{shown(key)} without credentials (unsigned), one byte",
                       "refused (AccessDenied)",
                       partial(anonymous_get, link, account_of(link, bucket.account), bucket, key))
        return judge(bucket.uri, got, "an anonymous read of an object is refused",
                     "anyone on the internet can read objects of this bucket", account=bucket.account,
                     region=bucket.region, key=key)

    return _each_bucket(ctx, one, needs_key=True)


@challenge(id="aws.challenge.s3_anonymous_list_denied", title="S3: an anonymous bucket listing is refused",
           severity="high", area="access_control", impact="safe",
           criterion="an unsigned ListObjectsV2 of every bucket is refused (AccessDenied)",
           remediation="Turn on S3 Block Public Access and remove s3:ListBucket grants to everyone (\"*\", "
                       "AllUsers, AuthenticatedUsers) from bucket policies and ACLs.")
def s3_anonymous_list_denied(ctx: ChallengeContext) -> list[Finding]:
    def one(link: AwsLink, bucket: Bucket, _key: str) -> Finding:
        got = ctx.step(f"list {bucket.uri} without credentials (unsigned ListObjectsV2, one key)",
                       "refused (AccessDenied)",
                       partial(anonymous_list, link, account_of(link, bucket.account), bucket))
        return judge(bucket.uri, got, "an anonymous listing is refused",
                     "anyone on the internet can list this bucket's objects", account=bucket.account,
                     region=bucket.region)

    return _each_bucket(ctx, one, needs_key=False)


@challenge(id="aws.challenge.s3_plain_http_denied", title="S3: a request over plain HTTP is refused",
           severity="high", area="encryption", impact="safe",
           criterion="for every bucket, a signed HEAD of an object that succeeds over HTTPS is refused over plain "
                     "HTTP (a bucket policy denying aws:SecureTransport false)",
           remediation="Add a bucket policy statement that denies s3:* to every principal when "
                       "aws:SecureTransport is false.")
def s3_plain_http_denied(ctx: ChallengeContext) -> list[Finding]:
    def one(link: AwsLink, bucket: Bucket, key: str) -> Finding:
        account = account_of(link, bucket.account)
        control = ctx.step(f"HEAD {bucket.uri}/{shown(key)} signed by the scan principal over HTTPS (control)",
                           "allowed", partial(signed_head, link, account, bucket, key, plain=False))
        if control.ok is not True:
            return error(bucket.uri, f"the same request over HTTPS was not allowed ({control.actual}): a "
                                     "refusal over HTTP would prove nothing", account=bucket.account, key=key)
        got = ctx.step(f"the same HEAD of {bucket.uri}/{shown(key)} over plain HTTP", "refused (AccessDenied)",
                       partial(signed_head, link, account, bucket, key, plain=True))
        return judge(bucket.uri, got, "allowed over HTTPS and refused over plain HTTP",
                     "the bucket answers a signed request over plain HTTP", account=bucket.account,
                     region=bucket.region, key=key)

    return _each_bucket(ctx, one, needs_key=True)
