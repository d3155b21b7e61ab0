"""CloudTrail checks: the cases mutation testing (docs/mutation.md) showed untested: accounts judged on their own
trails, a trail whose state is unknown, a pass and a fail of every per-trail check, which evidence makes the bucket
check an error, and a trail skipped before one that is judged."""
from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from checks.aws import cloudtrail
from scanner.facts.aws import AccountPublicAccessBlock, AwsResources, S3DataEvents, Scope, Trail
from scanner.model import freeze
from tests.checks.aws.test_checks import ACCOUNT, ON, PUBLIC_READ, REGION, ROOT, bucket, res, statuses, trail

OTHER = "210987654321"


def _two_accounts(*trails: Trail) -> AwsResources[Trail]:
    return AwsResources(scopes=(Scope(ACCOUNT, REGION, "aws", ROOT),
                                Scope(OTHER, REGION, "aws", f"arn:aws:iam::{OTHER}:root")), items=trails)


def test_each_account_is_judged_on_its_own_trails() -> None:
    findings = cloudtrail.multi_region(_two_accounts(trail(), trail(account=OTHER, is_logging=False)))
    assert [(f.observed["account"], f.status.value) for f in findings] == [(ACCOUNT, "pass"), (OTHER, "fail")]
    assert findings[1].resource == f"arn:aws:iam::{OTHER}:root"


@pytest.mark.parametrize("change, expected", [
    ({"is_logging": None}, "error"),  # status not returned
    ({"is_logging": False, "management_events": None}, "fail"),  # not logging: the selectors do not matter
    ({"is_logging": True, "management_events": None}, "error"),
    ({"multi_region": False, "is_logging": None}, "fail"),  # a single-region trail cannot pass whatever its state
    ({"multi_region": False, "errors": MappingProxyType({"status": "denied"})}, "fail"),
])
def test_a_trail_whose_state_is_unknown(change: dict[str, Any], expected: str) -> None:
    assert statuses(cloudtrail.multi_region(res(trail(**change)))) == [expected]


def test_an_account_with_no_trail_fails() -> None:
    (f,) = cloudtrail.multi_region(res())
    assert (f.status.value, f.resource, f.observed["trails"]) == ("fail", ROOT, ())


def test_a_good_trail_passes_even_next_to_an_unknown_one() -> None:
    findings = cloudtrail.multi_region(res(trail(name="x", is_logging=None), trail(name="good")))
    assert [(f.status.value, f.observed["region"]) for f in findings] == [("pass", REGION)]
    assert "good" in findings[0].message


@pytest.mark.parametrize("check, good, bad", [
    (cloudtrail.log_validation, {"log_validation": True}, {"log_validation": False}),
    (cloudtrail.kms_encryption, {"kms_key_id": "arn:aws:kms:us-east-1:1:key/k"}, {"kms_key_id": None}),
])
def test_every_per_trail_check_passes_and_fails(check: Any, good: dict[str, Any], bad: dict[str, Any]) -> None:
    assert statuses(check(res(trail(**good), trail(name="t2", **bad)))) == ["pass", "fail"]
    assert statuses(check(res())) == ["not_applicable"]


def _pab(block: Any = None) -> AwsResources[AccountPublicAccessBlock]:
    return res(AccountPublicAccessBlock(ACCOUNT, ROOT, block))


@pytest.mark.parametrize("field", ["bucket_public_access_block", "bucket_policy", "bucket_acl"])
def test_the_bucket_check_is_an_error_when_any_bucket_evidence_is_missing(field: str) -> None:
    errors = MappingProxyType({field: "s3 denied"})
    (f,) = cloudtrail.bucket_not_public(res(trail(errors=errors)), _pab())
    assert (f.status.value, f.observed["missing"]) == ("error", (field,))


def test_the_bucket_check_ignores_evidence_it_does_not_read_and_judges_every_trail() -> None:
    other = trail(errors=MappingProxyType({"status": "cloudtrail:GetTrailStatus denied"}))
    assert statuses(cloudtrail.bucket_not_public(res(other), _pab())) == ["pass"]
    first = trail(name="a", s3_bucket=None)
    second = trail(name="b", errors=MappingProxyType({"bucket_acl": "denied"}))
    third = trail(name="c", bucket_public_acl=True)
    findings = cloudtrail.bucket_not_public(res(first, second, third), _pab())
    assert statuses(findings) == ["error", "error", "fail"]
    assert "trail a names no S3 bucket" in findings[0].message and "trail c:" in findings[2].message
    assert statuses(cloudtrail.bucket_not_public(res(), _pab())) == ["not_applicable"]


def test_an_account_block_hides_a_public_policy() -> None:
    t = trail(bucket_policy=freeze(PUBLIC_READ))
    assert statuses(cloudtrail.bucket_not_public(res(t), _pab(ON))) == ["pass"]
    assert statuses(cloudtrail.bucket_not_public(res(t), _pab(None))) == ["fail"]


def test_no_account_scanned_is_an_error() -> None:
    (f,) = cloudtrail.multi_region(AwsResources(scopes=(), items=()))
    assert (f.status.value, f.message) == ("error", "no account was scanned for accounts")


def test_data_events_judge_every_bucket_by_default() -> None:
    t = trail(s3_data_events=(S3DataEvents(("arn:",), True, True),))
    assert statuses(cloudtrail.data_events(res(bucket()), res(t))) == ["pass"]


@pytest.mark.parametrize("key", ["event_selectors", "status"])
def test_data_events_with_unread_selectors_or_status_are_an_error(key: str) -> None:
    t = trail(s3_data_events=(), errors=MappingProxyType({key: "cloudtrail denied"}))
    (f,) = cloudtrail.data_events(res(bucket()), res(t))
    assert f.status.value == "error" and f.message.endswith(": cloudtrail denied")
