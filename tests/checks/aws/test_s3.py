"""S3 checks: the cases mutation testing (docs/mutation.md) showed untested: which field's evidence makes each check
an error, a statement the TLS check passes over before the one that counts, a wildcard-looking resource, and a
pass and a fail of every records-bucket check."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from checks.aws import s3
from scanner.facts.aws import AccountPublicAccessBlock, AwsResources, S3Bucket, Versioning
from scanner.model import Finding
from tests.checks.aws.test_checks import ACCOUNT, ON, ROOT, TLS, bucket, res, statuses

DENIED = "s3:GetBucketSomething denied"


def _account(block: Any = ON) -> AwsResources[AccountPublicAccessBlock]:
    return res(AccountPublicAccessBlock(ACCOUNT, ROOT, block))


def _checks() -> dict[str, Callable[[S3Bucket], list[Finding]]]:
    """Each S3 check on one bucket, with the field of evidence it reads."""
    return {
        "public_access_block": lambda b: s3.public_access_block(res(b), _account())[1:],
        "encryption": lambda b: s3.bucket_encryption(res(b)),
        "policy": lambda b: s3.secure_transport(res(b)),
        "versioning": lambda b: s3.versioning(res(b)),
        "object_lock": lambda b: s3.object_lock(res(b)),
        "logging": lambda b: s3.access_logging(res(b)),
    }


@pytest.mark.parametrize("field", list(_checks()))
def test_each_check_is_an_error_only_when_its_own_evidence_is_missing(field: str) -> None:
    """A denied read of a check's field makes that check an error naming it; a denied read of another field does
    not touch it."""
    for name, check in _checks().items():
        (f,) = check(bucket(errors={field: DENIED}))
        if name == field:
            assert (f.status.value, f.observed["missing"]) == ("error", (field,))
            assert DENIED in f.message
        else:
            assert f.status.value != "error", (name, field)


@pytest.mark.parametrize("check", ["versioning", "object_lock", "logging"])
def test_a_records_check_names_unread_tags_and_its_own_field(check: str) -> None:
    (f,) = _checks()[check](bucket(errors={"tags": DENIED, check: DENIED}))
    assert (f.status.value, f.observed["missing"]) == ("error", tuple(sorted(["tags", check])))


@pytest.mark.parametrize("check, good, bad", [
    ("versioning", {"versioning": Versioning.ENABLED}, {"versioning": Versioning.SUSPENDED}),
    ("object_lock", {"object_lock": True}, {"object_lock": False}),
    ("logging", {"logging_target": "logs-bucket"}, {"logging_target": ""}),
])
def test_every_records_check_passes_and_fails(check: str, good: dict[str, Any], bad: dict[str, Any]) -> None:
    run = _checks()[check]
    (ok,), (nok,) = run(bucket(**good)), run(bucket(**bad))
    assert (ok.status.value, nok.status.value) == ("pass", "fail")
    assert (ok.observed["records_tag"], ok.observed["bucket"]) == ("(all buckets)", "b1")


def test_encryption_passes_with_a_rule_and_fails_without_one() -> None:
    assert statuses(s3.bucket_encryption(res(bucket(encryption=("aws:kms",)), bucket("b2", encryption=("",)),
                                             bucket("b3")))) == ["pass", "fail", "fail"]
    (f,) = s3.bucket_encryption(res(bucket(encryption=("AES256", ""))))
    assert f.observed["algorithms"] == ("AES256",)


@pytest.mark.parametrize("before", [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"},  # not a Deny
    {**TLS, "Principal": {"AWS": "arn:aws:iam::111122223333:root"}},  # not everyone
    {**TLS, "Resource": "arn:aws:s3:::other/*"},  # not this bucket's objects
    {**TLS, "Action": "s3:GetObject"},  # not every action
    {**TLS, "Condition": {"Bool": {"aws:SecureTransport": "true"}}},  # not on plain HTTP
])
def test_a_statement_that_does_not_count_does_not_hide_the_next(before: dict[str, Any]) -> None:
    assert statuses(s3.secure_transport(res(bucket(policy={"Statement": [before]})))) == ["fail"]
    assert statuses(s3.secure_transport(res(bucket(policy={"Statement": [before, TLS]})))) == ["pass"]


@pytest.mark.parametrize("action, expected", [("*", "pass"), ("S3:*", "pass"), (["s3:GetObject", "s3:*"], "pass"),
                                              ("s3:Get*", "fail")])
def test_secure_transport_needs_every_action_denied(action: Any, expected: str) -> None:
    assert statuses(s3.secure_transport(res(bucket(policy={"Statement": [{**TLS, "Action": action}]})))) == [expected]


@pytest.mark.parametrize("resource, expected", [("arn:aws:s3:::b[1]/*", "fail"), ("arn:aws:s3:::b?/*", "pass")])
def test_a_bracket_in_a_resource_is_a_literal_character(resource: str, expected: str) -> None:
    """IAM wildcards are ``*`` and ``?`` only: ``b[1]`` names a bucket called "b[1]", not b1."""
    policy = {"Statement": [{**TLS, "Resource": resource}]}
    assert statuses(s3.secure_transport(res(bucket(policy=policy)))) == [expected]


def test_public_access_block_per_bucket_and_account() -> None:
    findings = s3.public_access_block(res(bucket(), bucket("b2", public_access_block=ON)),
                                      _account(None))
    assert [(f.resource, f.status.value) for f in findings] == [
        (ROOT, "fail"), ("arn:aws:s3:::b1", "fail"), ("arn:aws:s3:::b2", "pass")]
    assert findings[0].observed["settings"] == {}
    # a bucket whose account's block was not read at all is an error, not judged on its own block
    (f,) = s3.public_access_block(res(bucket(public_access_block=ON)), res())
    assert f.status.value == "error" and ACCOUNT in f.message


def test_no_bucket_and_no_account_setting_is_not_applicable_per_scope() -> None:
    assert statuses(s3.public_access_block(res(), res())) == ["not_applicable"]
    assert statuses(s3.bucket_encryption(res())) == ["not_applicable"]
    assert statuses(s3.secure_transport(res())) == ["not_applicable"]
    assert statuses(s3.versioning(res())) == ["not_applicable"]


@pytest.mark.parametrize("check", ["versioning", "object_lock", "logging"])
def test_every_records_check_takes_its_records_tag(check: str) -> None:
    run = {"versioning": s3.versioning, "object_lock": s3.object_lock, "logging": s3.access_logging}[check]
    assert statuses(run(res(bucket()), records_tag="gxp")) == ["not_applicable"]


def test_every_bucket_of_an_unread_account_is_an_error() -> None:
    findings = s3.public_access_block(res(bucket(), bucket("b2")), res())
    assert [(f.resource, f.status.value) for f in findings] == [("arn:aws:s3:::b1", "error"),
                                                                ("arn:aws:s3:::b2", "error")]


def test_a_public_access_block_names_its_settings_in_field_order_and_combines_each() -> None:
    """``settings`` and ``combined`` go by LABELS (one per field, in field order), not by dataclasses.fields."""
    from dataclasses import fields

    from scanner.facts.aws import PublicAccessBlock

    assert tuple(PublicAccessBlock.LABELS) == tuple(f.name for f in fields(PublicAccessBlock))
    bucket = PublicAccessBlock(block_public_acls=True, restrict_public_buckets=True)
    account = PublicAccessBlock(ignore_public_acls=True)
    assert list(bucket.settings().items()) == [("BlockPublicAcls", True), ("IgnorePublicAcls", False),
                                               ("BlockPublicPolicy", False), ("RestrictPublicBuckets", True)]
    assert bucket.combined(account) == PublicAccessBlock(True, True, False, True)
    assert bucket.off() == ["IgnorePublicAcls", "BlockPublicPolicy"]
