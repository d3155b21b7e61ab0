"""S3 data events of a trail in code: the selectors (basic and advanced, Terraform and CloudFormation) are read by
the live collector's own parser, so aws.cloudtrail.data_events judges code as it judges an account."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.collectors.iac_repo import scan, verdicts, write

CHECK = "aws.cloudtrail.data_events"
BUCKETS = ('resource "aws_s3_bucket" "records" {\n  bucket = "gxp-records"\n}\n'
           'resource "aws_s3_bucket" "other" {\n  bucket = "gxp-other"\n}\n')


def trail(selectors: str) -> str:
    return ('resource "aws_cloudtrail" "t" {\n  name = "t"\n  s3_bucket_name = "gxp-records"\n'
            f'  is_multi_region_trail = true\n{selectors}}}\n')


def basic(values: str, read_write: str = "All") -> str:
    return (f'  event_selector {{\n    read_write_type = "{read_write}"\n'
            f'    data_resource {{\n      type = "AWS::S3::Object"\n      values = {values}\n    }}\n  }}\n')


def advanced(*fields: tuple[str, str]) -> str:
    selectors = "".join(f'    field_selector {{\n      field = "{f}"\n      equals = ["{v}"]\n    }}\n'
                        for f, v in fields)
    return f"  advanced_event_selector {{\n{selectors}  }}\n"


DATA = (("eventCategory", "Data"), ("resources.type", "AWS::S3::Object"))
ADVANCED_ALL = advanced(*DATA)
ADVANCED_NARROWED = advanced(*DATA, ("eventName", "PutObject"))


@pytest.mark.parametrize("selectors, records, other", [
    (basic('["arn:aws:s3:::gxp-records/"]'), "pass", "fail"),          # one bucket named in full
    (basic('["arn:aws:s3"]'), "pass", "pass"),                          # every bucket
    (basic('["arn:aws:s3:::gxp-"]'), "pass", "pass"),                  # a prefix of both names
    (basic('["arn:aws:s3:::gxp-records/only/"]'), "fail", "fail"),     # some objects only
    (basic('["arn:aws:s3:::gxp-records/"]', "WriteOnly"), "fail", "fail"),  # reads not recorded
    (ADVANCED_ALL, "pass", "pass"),
    (ADVANCED_NARROWED, "fail", "fail"),                                # narrowed by event name
    ("", "fail", "fail"),                                               # no selector at all
    (basic('[var.arn]'), "error", "error"),                             # not known before apply
])
def test_terraform_selectors(tmp_path: Path, selectors: str, records: str, other: str) -> None:
    write(tmp_path, {"main.tf": BUCKETS + trail(selectors) + 'variable "arn" {}\n'})
    got = verdicts(scan(tmp_path, checks=(CHECK,)), CHECK)
    assert (got["aws_s3_bucket.records"], got["aws_s3_bucket.other"]) == (records, other)


def test_cloudformation_data_resources(tmp_path: Path) -> None:
    write(tmp_path, {"stack.yaml": (
        "Resources:\n"
        "  Records:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: gxp-records\n"
        "  Other:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: gxp-other\n"
        "  Trail:\n    Type: AWS::CloudTrail::Trail\n    Properties:\n      S3BucketName: gxp-records\n"
        "      IsLogging: true\n      IsMultiRegionTrail: true\n      EventSelectors:\n"
        "        - ReadWriteType: All\n          DataResources:\n            - Type: AWS::S3::Object\n"
        "              Values: ['arn:aws:s3:::gxp-records/']\n")})
    got = verdicts(scan(tmp_path, checks=(CHECK,)), CHECK)
    assert (got["stack.yaml#Records"], got["stack.yaml#Other"]) == ("pass", "fail")
