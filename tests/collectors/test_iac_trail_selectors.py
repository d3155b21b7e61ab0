"""Management events of a trail in code: basic and advanced event selectors (Terraform HCL, plan JSON and
CloudFormation) are read by the live collector's parser, so aws.cloudtrail.multi_region judges code as it judges an
account; a selector whose value is not known before apply makes the trail an error."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scanner.runner import TargetOutcome
from tests.collectors.iac_repo import result, scan, write

CHECK = "aws.cloudtrail.multi_region"
DATA = CHECK.replace("multi_region", "data_events")


def trail(selectors: str) -> str:
    return ('resource "aws_s3_bucket" "logs" {\n  bucket = "gxp-logs"\n}\n'
            'resource "aws_cloudtrail" "t" {\n  name = "t"\n  s3_bucket_name = aws_s3_bucket.logs.bucket\n'
            f'  is_multi_region_trail = true\n{selectors}}}\n')


def statuses(outcome: TargetOutcome, check: str = CHECK) -> list[str]:
    """The verdicts of one check (the multi-region check fails on the account, passes on the trail)."""
    return [r.status.value for r in outcome.results if r.check == check]


def advanced(*fields: tuple[str, str, str]) -> str:
    body = "".join(f'    field_selector {{\n      field = "{f}"\n      {op} = [{v}]\n    }}\n' for f, op, v in fields)
    return f"  advanced_event_selector {{\n{body}  }}\n"


MANAGEMENT = ("eventCategory", "equals", '"Management"')
S3_DATA = (("eventCategory", "equals", '"Data"'), ("resources.type", "equals", '"AWS::S3::Object"'))


@pytest.mark.parametrize("selectors, status", [
    ("", "pass"),                                                                # no selector: all management events
    (advanced(MANAGEMENT), "pass"),
    (advanced(MANAGEMENT) + advanced(*S3_DATA), "pass"),
    (advanced(MANAGEMENT, ("readOnly", "equals", '"false"')), "fail"),         # writes only
    (advanced(MANAGEMENT, ("eventSource", "not_equals", '"kms.amazonaws.com"')), "fail"),
    (advanced(*S3_DATA), "fail"),                                               # data events only
    ('  event_selector {\n    include_management_events = false\n  }\n', "fail"),
    ('  event_selector {\n    read_write_type = "WriteOnly"\n  }\n', "fail"),
    ('  event_selector {\n    exclude_management_event_sources = ["kms.amazonaws.com"]\n  }\n', "fail"),
    ('  event_selector {\n    read_write_type = "All"\n  }\n', "pass"),
    (advanced(("eventCategory", "equals", "var.category")), "error"),          # not known before apply
    ('  event_selector {\n    include_management_events = var.category\n  }\n', "error"),
])
def test_terraform_selectors_decide_management_events_as_live(tmp_path: Path, selectors: str, status: str) -> None:
    write(tmp_path, {"main.tf": trail(selectors) + 'variable "category" {}\n'})
    got = scan(tmp_path, checks=(CHECK,))
    assert statuses(got) == [status]
    if status == "error":
        assert "var.category" in got.results[0].message


def test_an_undecidable_advanced_selector_makes_the_data_events_an_error_too(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": trail(advanced(("eventCategory", "equals", "var.category"))) +
                     'variable "category" {}\n'})
    assert result(scan(tmp_path, checks=(DATA,)), DATA, "aws_s3_bucket.logs").status.value == "error"


def plan(advanced_selectors: list[dict[str, Any]]) -> dict[str, Any]:
    """Plan JSON (format 1.2) of one multi-region trail with advanced event selectors as the provider writes them."""
    values = {"name": "t", "s3_bucket_name": "gxp-logs", "is_multi_region_trail": True, "enable_logging": True,
              "advanced_event_selector": advanced_selectors, "event_selector": []}
    bucket = {"bucket": "gxp-logs", "force_destroy": False}
    resources = [("aws_s3_bucket", "logs", bucket), ("aws_cloudtrail", "t", values)]
    return {
        "format_version": "1.2", "terraform_version": "1.9.5",
        "planned_values": {"root_module": {"resources": [
            {"address": f"{t}.{n}", "mode": "managed", "type": t, "name": n, "schema_version": 0,
             "provider_name": "registry.terraform.io/hashicorp/aws", "values": v} for t, n, v in resources]}},
        "resource_changes": [
            {"address": f"{t}.{n}", "mode": "managed", "type": t, "name": n,
             "change": {"actions": ["create"], "before": None, "after": v, "after_unknown": {"arn": True}}}
            for t, n, v in resources],
        "configuration": {"root_module": {"resources": [
            {"address": f"{t}.{n}", "mode": "managed", "type": t, "name": n,
             "expressions": {k: {"constant_value": x} for k, x in v.items()}} for t, n, v in resources]}},
    }


def field(name: str, **ops: list[str]) -> dict[str, Any]:
    empty: dict[str, Any] = {k: None for k in ("equals", "not_equals", "starts_with", "not_starts_with",
                                               "ends_with", "not_ends_with")}
    return {"field": name, **empty, **ops}


@pytest.mark.parametrize("selectors, management, data", [
    ([{"name": "m", "field_selector": [field("eventCategory", equals=["Management"])]}], "pass", "fail"),
    ([{"name": "d", "field_selector": [field("eventCategory", equals=["Data"]),
                                       field("resources.type", equals=["AWS::S3::Object"])]}], "fail", "pass"),
    ([{"name": "w", "field_selector": [field("eventCategory", equals=["Management"]),
                                       field("readOnly", equals=["false"])]}], "fail", "fail"),
])
def test_plan_advanced_selectors(tmp_path: Path, selectors: list[dict[str, Any]], management: str,
                                 data: str) -> None:
    write(tmp_path, {"tfplan.json": json.dumps(plan(selectors))})
    out = scan(tmp_path, checks=(CHECK, DATA))
    assert (statuses(out), result(out, DATA, "aws_s3_bucket.logs").status.value) == ([management], data)


@pytest.mark.parametrize("selectors, management", [
    ("      AdvancedEventSelectors:\n        - FieldSelectors:\n            - Field: eventCategory\n"
     "              Equals: [Management]\n", "pass"),
    ("      AdvancedEventSelectors:\n        - FieldSelectors:\n            - Field: eventCategory\n"
     "              Equals: [Management]\n            - Field: readOnly\n              Equals: ['true']\n", "fail"),
    ("      AdvancedEventSelectors:\n        - FieldSelectors:\n            - Field: eventCategory\n"
     "              Equals: [!Ref Category]\n", "error"),
    ("      EventSelectors:\n        - IncludeManagementEvents: true\n"
     "          ExcludeManagementEventSources: [kms.amazonaws.com]\n", "fail"),
])
def test_cloudformation_selectors(tmp_path: Path, selectors: str, management: str) -> None:
    write(tmp_path, {"stack.yaml": (
        "Parameters:\n  Category:\n    Type: String\n"
        "Resources:\n  Logs:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: gxp-logs\n"
        "  Trail:\n    Type: AWS::CloudTrail::Trail\n    Properties:\n      S3BucketName: gxp-logs\n"
        f"      IsLogging: true\n      IsMultiRegionTrail: true\n{selectors}")})
    assert statuses(scan(tmp_path, checks=(CHECK,))) == [management]
