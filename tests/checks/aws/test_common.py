"""The helpers every AWS check shares (checks/aws/_common.py), each on its own: incomplete evidence, nothing found,
ages, the records scope, policy statements, administrator and public policies (docs/mutation.md, issue 15 fifth
session)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest

from checks.aws import _common
from scanner.facts.aws import AwsResources, Scope
from scanner.model import freeze
from tests.checks.aws.test_checks import ACCOUNT, REGION, ROOT, bucket


def judged(findings: list[Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [(f.status.value, f.resource, f.message, dict(f.observed)) for f in findings]


# Incomplete evidence, nothing found, ages ----------------------------------------------------------
@pytest.mark.parametrize("errors, fields, missing", [
    ({"tags": "denied", "policy": "gone"}, (), ["policy", "tags"]),  # no field named: every error counts
    ({"tags": "denied", "policy": "gone"}, ("tags",), ["tags"]),
    ({"policy arn:p1": "no document", "tags": "denied"}, ("policy",), ["policy arn:p1"]),  # the first word names it
    ({"policy arn:p1 v2": "no document"}, ("policy",), ["policy arn:p1 v2"]),
    ({"policy arn:p1 v2": "no document"}, ("policy arn:p1",), []),  # only the first word, not the first two
    ({"policies": "denied", "tags\tx": "odd"}, ("policy", "tags"), []),  # a whole word, split at a space only
    ({"tags": "denied"}, ("policy",), []),
    ({}, (), [])])
def test_incomplete_names_the_missing_fields_asked_for(errors: dict[str, str], fields: tuple[str, ...],
                                                       missing: list[str]) -> None:
    b = bucket("b1", errors=errors)
    got = _common.incomplete(b, *fields)
    if not missing:
        assert got is None
        return
    reasons = "; ".join(errors[k] for k in errors if k in missing)
    assert judged([got]) == [("error", "arn:aws:s3:::b1", f"evidence incomplete for arn:aws:s3:::b1: {reasons}",
                              {"account": ACCOUNT, "region": REGION, "missing": tuple(missing)})]


def test_none_found_is_one_not_applicable_per_scope_or_an_error_without_any() -> None:
    scopes: AwsResources[Any] = AwsResources(scopes=(Scope(ACCOUNT, REGION, "aws", ROOT),
                                                     Scope("2", "eu-west-1", "aws", "arn:2")),
                          items=())
    assert judged(_common.none_found(scopes, "widgets")) == [
        ("not_applicable", ROOT, f"no widgets in account {ACCOUNT} ({REGION})", {"account": ACCOUNT, "region": REGION}),
        ("not_applicable", "arn:2", "no widgets in account 2 (eu-west-1)", {"account": "2", "region": "eu-west-1"})]
    assert judged(_common.none_found(AwsResources(scopes=(), items=()), "widgets")) == [
        ("error", "aws", "no account was scanned for widgets", {})]


def test_age_days_of_aware_and_naive_times() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
    assert _common.age_days(None, now) is None
    assert _common.age_days(now - timedelta(days=10, hours=1), now) == 10
    assert _common.age_days(datetime(2026, 5, 22, 11), now) == 10  # a naive time is UTC
    assert _common.age_days(datetime.now(timezone.utc) - timedelta(days=3, minutes=1)) == 3  # now by default
    assert _common.age_days(datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=3, minutes=1)) == 3


# Records scope -------------------------------------------------------------------------------------
@pytest.mark.parametrize("tags, records_tag, expected", [
    ({}, "", True), ({"gxp": "yes"}, "gxp", True), ({"other": "yes"}, "gxp", False),
    ({"gxp": "yes"}, "gxp=yes", True), ({"gxp": "no"}, "gxp=yes", False), ({}, "gxp=yes", False),
    ({"gxp": "a=b"}, "gxp=a=b", True), ({"gxp=a": "b"}, "gxp=a=b", False)])  # the first '=' splits key and value
def test_is_records_by_key_or_key_and_value(tags: dict[str, str], records_tag: str, expected: bool) -> None:
    assert _common.is_records(tags, records_tag) is expected


def test_out_of_records_scope() -> None:
    obs = {"bucket": "b1"}
    inside = bucket("b1", tags=MappingProxyType({"gxp": "yes"}), errors={"policy": "denied"})
    assert _common.out_of_records_scope(inside, "gxp", obs) is None  # an error elsewhere is another check's
    assert _common.out_of_records_scope(bucket("b1", tags_read=False), "", obs) is None  # no scope: tags not needed
    assert judged([_common.out_of_records_scope(bucket("b1", errors={"tags": "denied"}), "gxp", obs)]) == [
        ("error", "arn:aws:s3:::b1", "evidence incomplete for arn:aws:s3:::b1: denied",
         {"account": ACCOUNT, "region": REGION, "missing": ("tags",)})]
    assert judged([_common.out_of_records_scope(bucket("b1", tags_read=False), "gxp", obs)]) == [
        ("error", "arn:aws:s3:::b1", "bucket b1: tags were not collected, records scope unknown", obs)]
    assert judged([_common.out_of_records_scope(bucket("b1"), "gxp", obs)]) == [
        ("not_applicable", "arn:aws:s3:::b1", "bucket b1 is not tagged gxp", obs)]


# Policies ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    (None, []), ("x", ["x"]), ({"a": 1}, [{"a": 1}]), (["x", "y"], ["x", "y"]), (("x",), ["x"]), (7, [7])])
def test_as_list(value: Any, expected: list[Any]) -> None:
    assert _common.as_list(value) == expected


def test_statements_are_the_mappings_of_statement() -> None:
    one = {"Effect": "Allow"}
    assert _common.statements(None) == [] and _common.statements(freeze({})) == []
    assert _common.statements(freeze({"Statement": one})) == [one]
    assert _common.statements(freeze({"Statement": [one, "junk", 3]})) == [one]


ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


@pytest.mark.parametrize("statement, expected", [
    (ALL, True), ({**ALL, "Action": "*:*"}, True), ({**ALL, "Action": ["s3:GetObject", "*"]}, True),
    ({**ALL, "Action": "S3:*"}, False), ({**ALL, "Resource": ["arn:aws:s3:::b", "*"]}, True),
    ({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::secret"}, True),  # all but a few resources
    ({**ALL, "Effect": "Deny"}, False), ({**ALL, "Effect": "allow"}, False),
    ({**ALL, "Resource": "arn:aws:s3:::b"}, False), ({**ALL, "Action": "s3:*"}, False),
    ({"Effect": "Allow", "Resource": "*"}, False), ({"Effect": "Allow", "Action": "*"}, False),
    ({**ALL, "NotAction": "iam:*"}, False)])  # NotAction is never read as "every action"
def test_grants_everything_needs_every_action_on_every_resource(statement: dict[str, Any], expected: bool) -> None:
    assert _common.grants_everything(freeze({"Statement": [statement]})) is expected
    # a statement that does not count does not hide the next one
    deny = {**ALL, "Effect": "Deny"}
    assert _common.grants_everything(freeze({"Statement": [deny, statement]})) is expected
    assert _common.grants_everything(freeze({"Statement": [statement, ALL]})) is True


def test_nothing_grants_everything_without_statements() -> None:
    assert _common.grants_everything(None) is False and _common.grants_everything(freeze({"Statement": []})) is False


@pytest.mark.parametrize("principal, expected", [
    ("*", True), ({"AWS": "*"}, True), ({"AWS": ["arn:aws:iam::1:root", "*"]}, True),
    ({"AWS": "arn:aws:iam::1:root"}, False), ({"Service": "*"}, False), ("arn:aws:iam::1:root", False),
    (None, False), (["*"], False)])
def test_public_principal(principal: Any, expected: bool) -> None:
    assert _common.public_principal(freeze(principal)) is expected


@pytest.mark.parametrize("condition, expected", [
    ({"StringEquals": {"aws:SourceAccount": "111122223333"}}, True),
    ({"StringEquals": {"AWS:SourceAccount": "111122223333"}}, True),  # keys compare without case
    ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-1/r-1/ou-1/"]}}, True),
    ({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}, True),
    ({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "0.0.0.0/0"]}}, False),  # the world is no pin
    ({"IpAddress": {"aws:SourceIp": "::/0"}}, False),
    ({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}, False),  # a wildcard is no pin
    ({"StringEquals": {"aws:SourceAccount": []}}, False),  # nothing listed
    ({"StringNotEquals": {"aws:SourceAccount": "111122223333"}}, False),  # a negation admits everyone else
    ({"ForAllValues:StringEquals": {"aws:SourceAccount": "111122223333"}}, False),
    ({"StringEqualsIfExists": {"aws:SourceAccount": "111122223333"}}, False),
    ({"Bool": {"aws:SecureTransport": "true"}}, False),  # not about who calls
    ({"StringEquals": {"s3:prefix": "home/"}}, False),
    ({"Null": "junk", "StringEquals": {"aws:SourceVpce": "vpce-1"}}, True),  # a malformed block does not end it
    ({"Bool": {"aws:SecureTransport": "true"}, "ArnLike": {"aws:SourceArn": "arn:aws:sns:eu-west-1:1:t"}}, True),
    ("StringEquals", False), (None, False)])
def test_restricts_caller_needs_a_pinned_caller_key(condition: Any, expected: bool) -> None:
    assert _common.restricts_caller(freeze(condition)) is expected


PUBLIC = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}


@pytest.mark.parametrize("statements, expected", [
    ([PUBLIC], True), ([{**PUBLIC, "Principal": {"AWS": "*"}}], True),
    ([{**PUBLIC, "Principal": {"AWS": "arn:aws:iam::1:root"}}], False),
    ([{k: v for k, v in PUBLIC.items() if k != "Principal"} | {"NotPrincipal": {"AWS": "arn:aws:iam::1:root"}}],
     True),  # everyone but someone
    ([{**PUBLIC, "Effect": "Deny"}], False), ([{**PUBLIC, "Effect": "allow"}], False),
    ([{**PUBLIC, "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}}], False),
    ([{**PUBLIC, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}], True),
    ([{**PUBLIC, "Effect": "Deny"}, PUBLIC], True), ([], False)])
def test_policy_is_public_unless_limited_to_known_callers(statements: list[dict[str, Any]], expected: bool) -> None:
    assert _common.policy_is_public(freeze({"Statement": statements})) is expected
    assert _common.policy_is_public(None) is False
