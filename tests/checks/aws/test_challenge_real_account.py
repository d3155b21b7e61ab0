"""The AWS challenges against a real AWS account, opt-in: what moto cannot show.

moto 5.2 does not refuse an anonymous LIST, does not evaluate aws:SecureTransport, and has neither
SimulatePrincipalPolicy nor LookupEvents. These tests run only when the operator names an account to challenge;
otherwise they are skipped with this reason (locally and in CI: no account, no verdict, never a faked one).

- ``GXPSCAN_AWS_CHALLENGE_PROFILE``: the AWS profile of the scan principal (read-only: SecurityAudit plus s3:List*,
  s3:GetObject on the buckets for the HEAD control, iam:SimulatePrincipalPolicy, cloudtrail:LookupEvents);
- ``GXPSCAN_AWS_CHALLENGE_REGION``: the region (default us-east-1);
- ``GXPSCAN_AWS_CHALLENGE_EXPECT``: a JSON object ``{"CHALLENGE ID": {"RESOURCE": "pass" | "fail" | ...}}`` with the
  verdicts the operator set the account up for (a public and a private bucket, a TLS-only and a plain bucket, an
  administrator and a least-privilege user); without it each challenge is only asserted to decide (no error);
- ``GXPSCAN_AWS_CHALLENGE_MFA_ACTIONS``: comma-separated actions MFA must guard (for iam_mfa_required);
- ``GXPSCAN_AWS_CHALLENGE_TEST_PROFILE``: the test principal's profile for the intrusive CloudTrail challenge (it
  makes one kms:ListKeys call; the challenge then polls up to 900 s).
"""
from __future__ import annotations

import json
import os
from typing import Any

import pytest

from checks.aws import challenge_cloudtrail, challenge_iam, challenge_s3
from scanner.challenge import challenge_spec_of, run_challenge
from scanner.model import Status
from tests.factories import make_target

PROFILE = os.environ.get("GXPSCAN_AWS_CHALLENGE_PROFILE", "")
SKIP = "set GXPSCAN_AWS_CHALLENGE_PROFILE (an AWS profile of the account to challenge) to run the real-account suite"
SAFE = [challenge_s3.s3_anonymous_read_denied, challenge_s3.s3_anonymous_list_denied,
        challenge_s3.s3_plain_http_denied, challenge_iam.iam_dangerous_actions_denied, challenge_iam.iam_mfa_required]


def _run(check: Any, **opts: Any) -> Any:
    spec = challenge_spec_of(check)
    assert spec is not None
    mfa = [a for a in os.environ.get("GXPSCAN_AWS_CHALLENGE_MFA_ACTIONS", "").split(",") if a]
    target = make_target("real-aws", type="aws", profile=PROFILE,
                         regions=[os.environ.get("GXPSCAN_AWS_CHALLENGE_REGION", "us-east-1")],
                         policy={"challenge_mfa_actions": mfa}, **opts)
    return spec, run_challenge(spec, target)


def _expected(spec_id: str) -> dict[str, str]:
    expect = json.loads(os.environ.get("GXPSCAN_AWS_CHALLENGE_EXPECT") or "{}")
    return dict(expect.get(spec_id, {}))


@pytest.mark.skipif(not PROFILE, reason=SKIP)
@pytest.mark.parametrize("check", SAFE, ids=lambda c: c.__name__)
def test_safe_challenges_decide_on_a_real_account(check):
    spec, out = _run(check)
    got = {f.resource: f.status.value for f in out.findings}
    expected = _expected(spec.id)
    if expected:
        assert {r: got.get(r) for r in expected} == expected
    else:
        assert Status.ERROR not in {f.status for f in out.findings}, [f.message for f in out.findings]
    assert out.steps and out.steps[0].ok is True


@pytest.mark.skipif(not (PROFILE and os.environ.get("GXPSCAN_AWS_CHALLENGE_TEST_PROFILE")),
                    reason=SKIP + " and GXPSCAN_AWS_CHALLENGE_TEST_PROFILE (the test principal) for the intrusive one")
def test_a_read_by_the_test_principal_reaches_cloudtrail():
    spec, out = _run(challenge_cloudtrail.cloudtrail_records_reads,
                     challenge_profile=os.environ["GXPSCAN_AWS_CHALLENGE_TEST_PROFILE"])
    expected = _expected(spec.id) or {f.resource: "pass" for f in out.findings}
    assert {f.resource: f.status.value for f in out.findings} == expected
