"""CloudTrail facts: trails with status, event selectors (management and S3 data events), and their log bucket's
policy, ACL and block."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.collectors.aws._api import Api, AwsFact, Fields, Response, declare
from scanner.collectors.aws.s3 import bucket_policy, public_access_block, public_acl
from scanner.facts.aws import S3DataEvents, Trail


def _trails(api: Api, region: str) -> list[Trail]:
    got = api.call(api.fact.call("DescribeTrails"), region, includeShadowTrails=True) or {}
    scanned = set(api.connector.regions.get(api.account.id, (region,)))
    # Each trail once: in its home region, or here when its home region is not scanned.
    mine = [t for t in got.get("trailList", [])
            if t.get("HomeRegion", region) == region
            or (t.get("HomeRegion") not in scanned and region == min(scanned))]
    return api.each(lambda t: _trail(api, t, region), mine)


def management_events(got: Mapping[str, Any] | None) -> bool | None:
    """Whether the selectors record all (read and write) management events; None when they do not say."""
    if got is None:
        return None
    basic = got.get("EventSelectors") or []
    advanced = got.get("AdvancedEventSelectors") or []
    if not basic and not advanced:
        return None
    if any(s.get("IncludeManagementEvents") and s.get("ReadWriteType", "All") == "All"
           and not s.get("ExcludeManagementEventSources") for s in basic):
        return True
    for sel in advanced:
        fields = {fs.get("Field"): fs for fs in sel.get("FieldSelectors", [])}
        category = fields.get("eventCategory", {})
        # Only the category may be named: a readOnly or eventSource selector leaves some management events out.
        if "Management" in category.get("Equals", []) and set(fields) == {"eventCategory"}:
            return True
    return False


#: Fields of an advanced selector that narrow the S3 data events only in ways s3_data_events reads.
_DATA_FIELDS = {"eventCategory": {"Equals"}, "resources.type": {"Equals"}, "readOnly": {"Equals"},
                "resources.ARN": {"StartsWith"}}


def _advanced_data_events(sel: Mapping[str, Any]) -> S3DataEvents | None:
    fields = [f for f in sel.get("FieldSelectors") or [] if isinstance(f, Mapping)]
    by = {f.get("Field"): f for f in fields}
    if "Data" not in (by.get("eventCategory") or {}).get("Equals", ()) \
            or "AWS::S3::Object" not in (by.get("resources.type") or {}).get("Equals", ()):
        return None
    only = (by.get("readOnly") or {}).get("Equals")
    arns = by.get("resources.ARN")
    partial = len(by) != len(fields) or any(
        name not in _DATA_FIELDS or set(f) - {"Field"} - _DATA_FIELDS[name] for name, f in by.items())
    return S3DataEvents(arn_prefixes=("arn:",) if arns is None else tuple(map(str, arns.get("StartsWith") or ())),
                        read=only is None or "true" in only, write=only is None or "false" in only, partial=partial)


def s3_data_events(got: Mapping[str, Any] | None) -> tuple[S3DataEvents, ...] | None:
    """The S3 object data events a trail's selectors (basic or advanced) record; None when they were not read."""
    if got is None:
        return None
    out = []
    for sel in got.get("EventSelectors") or []:
        rw = sel.get("ReadWriteType", "All")
        out += [S3DataEvents(tuple(map(str, r.get("Values") or ())), read=rw in ("All", "ReadOnly"),
                             write=rw in ("All", "WriteOnly"))
                for r in sel.get("DataResources") or [] if r.get("Type") == "AWS::S3::Object"]
    for sel in got.get("AdvancedEventSelectors") or []:
        found = _advanced_data_events(sel)
        if found is not None:
            out.append(found)
    return tuple(out)


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
    AwsFact("aws.cloudtrail_trails", "CloudTrail trails with status, event selectors (management and S3 data "
                                     "events) and their log bucket's policy, ACL and public access block",
            (declare("cloudtrail", "DescribeTrails"), declare("cloudtrail", "GetTrailStatus"),
             declare("cloudtrail", "GetEventSelectors"), declare("s3", "GetBucketPolicy"),
             declare("s3", "GetBucketAcl"), declare("s3", "GetPublicAccessBlock", "GetBucketPublicAccessBlock")),
            _trails),
)
