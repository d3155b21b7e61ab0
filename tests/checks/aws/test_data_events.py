"""aws.cloudtrail.data_events: S3 data events (read and write) recorded for every records bucket, on facts built by
factories; and the parse of basic and advanced event selectors into those facts."""
from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest

from checks.aws import cloudtrail
from scanner.collectors.trail_selectors import s3_data_events
from scanner.facts.aws import AwsResources, S3Bucket, S3DataEvents, Scope, Trail

ACCOUNT, REGION, OTHER = "123456789012", "eu-west-1", "us-east-1"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ALL = S3DataEvents(("arn:aws:s3",), read=True, write=True)


def bucket(name: str = "records", tags: dict[str, str] | None = None, **kw: Any) -> S3Bucket:
    return S3Bucket(ACCOUNT, REGION, name, f"arn:aws:s3:::{name}",
                    tags=MappingProxyType({"gxp": "records"} if tags is None else tags), **kw)


def trail(*events: S3DataEvents, name: str = "main", region: str = REGION, multi_region: bool = True,
          logging: bool | None = True, **kw: Any) -> Trail:
    return Trail(ACCOUNT, region, name, f"arn:aws:cloudtrail:{region}:{ACCOUNT}:trail/{name}", multi_region, True,
                 None, "trail-bucket", is_logging=logging, management_events=True, s3_data_events=events, **kw)


def res(*items: Any) -> AwsResources[Any]:
    return AwsResources((Scope(ACCOUNT, REGION, "aws", ROOT),), tuple(items))


def run(buckets: list[S3Bucket], trails: list[Trail], records_tag: str = "gxp=records") -> list[tuple[str, str]]:
    return [(f.status.value, f.message) for f in cloudtrail.data_events(res(*buckets), res(*trails), records_tag)]


@pytest.mark.parametrize("trails, expected", [
    ([trail(ALL)], ("pass", "records bucket records: S3 data events are recorded (read by main; write by main)")),
    ([trail(S3DataEvents(("arn:aws:s3:::records/",), True, True))], ("pass", None)),
    ([trail(S3DataEvents(("arn:aws:s3:::rec",), True, True))], ("pass", None)),  # a prefix of the bucket's objects
    ([trail(S3DataEvents(("arn:aws:s3:::records/invoices/",), True, True))],
     ("fail", "records bucket records: no logging trail records its S3 read and write data events")),
    ([trail(S3DataEvents(("arn:aws:s3:::other/",), True, True))], ("fail", None)),
    ([trail(S3DataEvents(("arn:aws:s3",), True, False))],
     ("fail", "records bucket records: no logging trail records its S3 write data events")),
    ([trail(S3DataEvents(("arn:aws:s3",), True, False)), trail(S3DataEvents(("arn:",), False, True), name="w")],
     ("pass", "records bucket records: S3 data events are recorded (read by main; write by w)")),
    ([trail(S3DataEvents(("arn:",), True, True, partial=True))], ("fail", None)),
    ([trail(ALL, logging=False)], ("fail", None)),
    ([trail(ALL, region=OTHER, multi_region=False)], ("fail", None)),  # a single-region trail elsewhere
    ([trail(ALL, multi_region=False)], ("pass", None)),  # a single-region trail in the bucket's region
    ([trail()], ("fail", None)),  # management events only
    ([], ("fail", None)),
    ([trail(logging=None)], ("error", "records bucket records: cannot tell whether trail main records its S3 data "
                                      "events: event selectors or status not returned")),
    ([replace(trail(), s3_data_events=None, errors=MappingProxyType(
        {"event_selectors": "cloudtrail:GetEventSelectors: AccessDenied"}))],
     ("error", "records bucket records: cannot tell whether trail main records its S3 data events: "
               "cloudtrail:GetEventSelectors: AccessDenied")),
    ([trail(ALL), replace(trail(name="x"), s3_data_events=None)], ("pass", None)),  # another trail records them
], ids=["all-buckets", "the-bucket", "bucket-prefix", "object-prefix-only", "other-bucket", "read-only",
        "read-and-write-by-two-trails", "narrowed-selector", "not-logging", "other-region", "same-region",
        "no-data-events", "no-trail", "status-unknown", "selectors-unreadable", "unreadable-but-covered"])
def test_data_events_for_a_records_bucket(trails: list[Trail], expected: tuple[str, str | None]) -> None:
    ((status, message),) = run([bucket()], trails)
    assert status == expected[0]
    if expected[1] is not None:
        assert message == expected[1]


def test_only_records_buckets_are_in_scope_and_unknown_tags_are_an_error() -> None:
    found = run([bucket("scratch", tags={}), bucket("untagged", tags={}, tags_read=False), bucket()], [trail(ALL)])
    assert found == [
        ("not_applicable", "bucket scratch is not tagged gxp=records"),
        ("error", "bucket untagged: tags were not collected, records scope unknown"),
        ("pass", "records bucket records: S3 data events are recorded (read by main; write by main)")]


def test_observed_values_name_the_trails_and_no_buckets_is_not_applicable() -> None:
    (f,) = cloudtrail.data_events(res(bucket()), res(trail(S3DataEvents(("arn:aws:s3",), True, False))), "")
    assert dict(f.observed) == {"account": ACCOUNT, "region": REGION, "bucket": "records",
                                "records_tag": "(all buckets)", "trails": ("main",),
                                "read_recorded_by": ("main",), "write_recorded_by": ()}
    assert [f.status.value for f in cloudtrail.data_events(res(), res(trail(ALL)), "")] == ["not_applicable"]


# --- the selectors as CloudTrail returns them ---------------------------------------------------------------------

def field(name: str, op: str = "Equals", *values: str) -> dict[str, Any]:
    return {"Field": name, op: list(values)}


S3_DATA = [field("eventCategory", "Equals", "Data"), field("resources.type", "Equals", "AWS::S3::Object")]


@pytest.mark.parametrize("got, expected", [
    (None, None),
    ({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}, ()),
    ({"EventSelectors": [{"ReadWriteType": "ReadOnly", "DataResources": [
        {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::records/"]},
        {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]}]}]},
     (S3DataEvents(("arn:aws:s3:::records/",), True, False),)),
    ({"EventSelectors": [{"ReadWriteType": "WriteOnly", "DataResources": [
        {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}]}, (S3DataEvents(("arn:aws:s3",), False, True),)),
    ({"AdvancedEventSelectors": [{"FieldSelectors": S3_DATA}]}, (S3DataEvents(("arn:",), True, True),)),
    ({"AdvancedEventSelectors": [{"FieldSelectors": [*S3_DATA, field("readOnly", "Equals", "false"),
                                                     field("resources.ARN", "StartsWith", "arn:aws:s3:::records/")]}]},
     (S3DataEvents(("arn:aws:s3:::records/",), False, True),)),
    ({"AdvancedEventSelectors": [{"FieldSelectors": [*S3_DATA, field("eventName", "Equals", "PutObject")]}]},
     (S3DataEvents(("arn:",), True, True, partial=True),)),
    ({"AdvancedEventSelectors": [{"FieldSelectors": [*S3_DATA, field("resources.ARN", "NotStartsWith",
                                                                     "arn:aws:s3:::records/tmp/")]}]},
     (S3DataEvents((), True, True, partial=True),)),
    ({"AdvancedEventSelectors": [{"FieldSelectors": [field("eventCategory", "Equals", "Management")]},
                                 {"FieldSelectors": [field("eventCategory", "Equals", "Data"),
                                                     field("resources.type", "Equals", "AWS::DynamoDB::Table")]}]},
     ()),
], ids=["not-read", "management-only", "basic-read-only", "basic-all-buckets-write", "advanced-all",
        "advanced-bucket-write", "advanced-event-name", "advanced-excluded-prefix", "advanced-other-types"])
def test_selectors_parse_into_s3_data_events(got: dict[str, Any] | None,
                                             expected: tuple[S3DataEvents, ...] | None) -> None:
    assert s3_data_events(got) == expected
