"""CloudTrail facts: trails with status, event selectors (management and S3 data events), and their log bucket's
policy, ACL and block."""
from __future__ import annotations

from typing import Any

from scanner.collectors.aws._api import Api, AwsFact, Fields, Response, declare
from scanner.collectors.aws.s3 import bucket_policy, public_access_block, public_acl
from scanner.collectors.trail_selectors import management_events, s3_data_events
from scanner.facts.aws import Trail


def _trails(api: Api, region: str) -> list[Trail]:
    got = api.call(api.fact.call("DescribeTrails"), region, includeShadowTrails=True) or {}
    scanned = set(api.connector.regions.get(api.account.id, (region,)))
    # Each trail once: in its home region, or here when its home region is not scanned.
    mine = [t for t in got.get("trailList", [])
            if t.get("HomeRegion", region) == region
            or (t.get("HomeRegion") not in scanned and region == min(scanned))]
    return api.each(lambda t: _trail(api, t, region), mine)


def _trail(api: Api, t: Response, listed_in: str) -> Trail:
    home = t.get("HomeRegion") or listed_in
    f = Fields(api, home)
    status = f.get("status", api.fact.call("GetTrailStatus"), Name=t["TrailARN"])
    selectors = f.get("event_selectors", api.fact.call("GetEventSelectors"), TrailName=t["TrailARN"])
    bucket, c = t.get("S3BucketName"), api.fact.call
    exposure: dict[str, Any] = {}
    if bucket:  # the log bucket's exposure, read here so S3 needs no ACL call for every other bucket
        exposure = dict(
            bucket_policy=bucket_policy(f.get("bucket_policy", c("GetBucketPolicy"), Bucket=bucket,
                                              absent=("NoSuchBucketPolicy",))),
            bucket_public_acl=public_acl(f.get("bucket_acl", c("GetBucketAcl"), Bucket=bucket)),
            bucket_public_access_block=public_access_block(f.get(
                "bucket_public_access_block", c("GetPublicAccessBlock"), Bucket=bucket,
                absent=("NoSuchPublicAccessBlockConfiguration",))))
    return Trail(
        account=api.account.id, region=home, name=t["Name"], arn=t["TrailARN"],
        multi_region=bool(t.get("IsMultiRegionTrail")), log_validation=bool(t.get("LogFileValidationEnabled")),
        kms_key_id=t.get("KmsKeyId"), s3_bucket=t.get("S3BucketName"),
        is_logging=bool(status["IsLogging"]) if status is not None and "IsLogging" in status else None,
        management_events=management_events(selectors), s3_data_events=s3_data_events(selectors), **exposure,
        errors=f.frozen_errors(),
    )


DEFINITIONS: tuple[AwsFact, ...] = (
    AwsFact("aws.cloudtrail_trails",
            (declare("cloudtrail", "DescribeTrails"), declare("cloudtrail", "GetTrailStatus"),
             declare("cloudtrail", "GetEventSelectors"), declare("s3", "GetBucketPolicy"),
             declare("s3", "GetBucketAcl"), declare("s3", "GetPublicAccessBlock", "GetBucketPublicAccessBlock")),
            _trails),
)
