"""CloudTrail challenge (intrusive): a read by the test principal shows in the audit trail within a bound.

The test principal is the target's ``challenge_profile`` (a named AWS profile), or ``challenge_account`` (its
access key id) with ``challenge_password_env`` (the environment variable holding its secret access key). It must
not be the scan principal. It makes one read, ``kms:ListKeys`` in the home region (AWS logs a refused call
too), and the scan principal polls CloudTrail ``LookupEvents`` for that access key, with growing waits, until the
event appears or ``audit_trail_bound_seconds`` have passed (AWS documents delivery within about 15 minutes). The read
changes no state, so there is nothing to restore.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from scanner.challenge import ChallengeContext, ChallengeRefused, challenge
from scanner.model import Finding, error, failed, passed, utcnow
from scanner.probes.aws import (
    EACH_ACCOUNT,
    AwsLink,
    Event,
    Identity,
    account_of,
    audited_read,
    identify,
    lookup_events,
    sign_in,
)

FIRST_POLL_SECONDS = 15.0
MAX_POLL_GAP_SECONDS = 120.0


def poll_offsets(bound: float) -> list[float]:
    """Seconds after the read at which to look: 15, then gaps doubling up to 2 minutes, the last at the bound."""
    out: list[float] = []
    at, gap = min(FIRST_POLL_SECONDS, bound), FIRST_POLL_SECONDS
    while at < bound:
        out.append(at)
        gap = min(gap * 2, MAX_POLL_GAP_SECONDS)
        at += gap
    return [*out, float(bound)]


def _test_session(ctx: ChallengeContext, region: str) -> tuple[str, Callable[[], Any]]:
    """What the test principal is called in the steps, and a function that makes its boto3 session (a closure, so
    no repr shows the secret key)."""
    profile = ctx.target.opt("challenge_profile")
    if profile:
        if profile == ctx.target.opt("profile"):
            raise ChallengeRefused(f"challenge_profile {profile} is the profile the scan uses; name a test principal")

        def by_profile() -> Any:
            import boto3

            return boto3.session.Session(profile_name=str(profile), region_name=region)

        return f"profile {profile}", by_profile
    if not ctx.target.opt("challenge_account"):
        raise ChallengeRefused(f"target {ctx.target.name} names neither challenge_profile nor challenge_account "
                               "(an access key id) with challenge_password_env (its secret access key)")
    account = ctx.test_account()

    def by_key() -> Any:
        import boto3

        return boto3.session.Session(aws_access_key_id=account.name, aws_secret_access_key=account.password,
                                     region_name=region)

    return f"access key {account.name}", by_key


@challenge(id="aws.challenge.cloudtrail_records_reads",
           title="CloudTrail: a read by the test principal appears in the audit trail within the bound",
           severity="high", area="audit_logging", impact="intrusive",
           criterion="a kms:ListKeys call by the test principal is returned by CloudTrail LookupEvents "
                     "(by its access key id) within audit_trail_bound_seconds",
           remediation="Check that CloudTrail is enabled in the region and account (event history is on by default; "
                       "a trail keeps it beyond 90 days), that the scan principal may call cloudtrail:LookupEvents, "
                       "and that no SCP or policy blocks CloudTrail delivery.")
def cloudtrail_records_reads(ctx: ChallengeContext, audit_trail_bound_seconds: int = 900) -> list[Finding]:
    link = sign_in(ctx)
    if link is None:
        return [error(ctx.target.name, "could not sign in to AWS")]
    try:
        return _challenge(ctx, link, float(audit_trail_bound_seconds))
    finally:
        link.close()


def _challenge(ctx: ChallengeContext, link: AwsLink, bound: float) -> list[Finding]:
    home = link.home_region(link.accounts[0]) if not ctx.plan else "<home region>"
    endpoint = ctx.target.opt("endpoint_url") or None
    label, make_session = _test_session(ctx, home)
    who: list[Identity] = []
    sessions: list[Any] = []
    got = ctx.step(f"identify the test principal ({label}) with sts:GetCallerIdentity",
                   "an identity other than the scan principal's",
                   partial(identify, make_session, home, endpoint, who, sessions))
    session = sessions[0] if sessions else None
    if ctx.plan:
        who.append(Identity(EACH_ACCOUNT, "<test principal>", "<its access key id>"))
    if got.ok is not True or not who:
        return [error(ctx.target.name, f"could not identify the test principal: {got.actual}")]
    me = who[0]
    if not ctx.plan and me.arn == link.caller_arn:
        return [error(me.arn, "refused: the test principal is the scan principal; name a separate test principal")]
    if not any(a.id == me.account for a in link.accounts):
        return [error(me.arn, f"the test principal's account {me.account} is not among the scanned accounts: its "
                              "CloudTrail cannot be read")]
    account = account_of(link, me.account)
    since = utcnow()
    read = ctx.step(f"as the test principal, call kms:ListKeys in {home} (the audited read)",
                    "AWS answers (allowed or refused: both are logged)", partial(audited_read, session, home, endpoint))
    if read.ok is not True:
        return [error(me.arn, f"the audited read did not reach AWS: {read.actual}")]
    return _poll(ctx, link, account, home, me, since, bound)


def _poll(ctx: ChallengeContext, link: AwsLink, account: Any, region: str, me: Identity, since: datetime,
          bound: float) -> list[Finding]:
    start = time.monotonic()
    undetermined = 0
    offsets = poll_offsets(bound)[:1] if ctx.plan else poll_offsets(bound)
    for n, offset in enumerate(offsets, 1):
        if not ctx.plan:
            time.sleep(max(0.0, start + offset - time.monotonic()))
        hits: list[Event] = []
        got = ctx.step(f"look up CloudTrail events of access key {me.access_key_id} in {region} "
                       f"(poll {n}, {offset:g} s after the read)",
                       "the ListKeys event of the test principal",
                       partial(lookup_events, link, account, region, me, since, hits))
        if got.ok is None:
            undetermined += 1
        if ctx.plan or not hits:
            continue
        event = hits[0]
        return [passed(me.arn, f"the read was in CloudTrail {offset:g} s after it was made (bound {bound:g} s)",
                       event_time=event.time.isoformat(), event_id=event.event_id, username=event.username,
                       event_principal=event.principal_arn, found_after_seconds=offset)]
    if ctx.plan:
        return []
    if undetermined:
        return [error(me.arn, f"{undetermined} of {len(offsets)} CloudTrail look-ups could not be made; the read "
                              f"was not seen within {bound:g} s", polls=len(offsets))]
    return [failed(me.arn, f"the read did not appear in CloudTrail within {bound:g} s", polls=len(offsets))]
