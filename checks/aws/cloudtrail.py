"""CloudTrail: a multi-region trail logging management events, validation, encryption, private bucket, and S3
data events for the records buckets."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from checks.aws._common import incomplete, none_found, out_of_records_scope, policy_is_public, where
from scanner.facts.aws import AccountPublicAccessBlock, AwsResources, S3Bucket, Trail, effective_block
from scanner.model import Finding, error, failed, passed
from scanner.registry import check


@check(id="aws.cloudtrail.multi_region", title="A multi-region trail logs management events", severity="high",
       area="audit_logging",
       criterion="each account has a multi-region trail that is logging and records all (read and write) "
                 "management events",
       remediation="Create (or convert to) a multi-region trail, start logging, and record all read and write "
                   "management events, preferably as an organization trail.")
def multi_region(cloudtrail_trails: AwsResources[Trail]) -> list[Finding]:
    out = []
    for account in cloudtrail_trails.accounts():
        mine = [t for t in cloudtrail_trails.items if t.account == account]
        good = [t for t in mine if t.multi_region and t.is_logging and t.management_events and not t.errors]
        unsure = [t for t in mine if t.multi_region and (t.errors or t.is_logging is None
                                                          or (t.is_logging and t.management_events is None))]
        obs: dict[str, Any] = dict(account=account, region="global", trails=[
            dict(name=t.name, multi_region=t.multi_region, logging=t.is_logging,
                 management_events=t.management_events) for t in mine])
        if good:
            out.append(passed(good[0].arn, f"trail {good[0].name} is multi-region, logging management events",
                              **{**obs, "region": good[0].region}))
        elif unsure:
            reasons = "; ".join(dict(unsure[0].errors).values()) or "status or event selectors not returned"
            out.append(error(unsure[0].arn, f"cannot tell whether trail {unsure[0].name} logs management "
                                            f"events: {reasons}", **{**obs, "region": unsure[0].region}))
        else:
            out.append(failed(cloudtrail_trails.account_arn(account),
                              f"account {account} has no logging multi-region trail recording all management events",
                              **obs))
    return out or none_found(cloudtrail_trails, "accounts")


def _per_trail(cloudtrail_trails: AwsResources[Trail], ok: Callable[[Trail], bool], good: str, bad: str,
               observe: Callable[[Trail], dict[str, Any]]) -> list[Finding]:
    out = []
    for t in cloudtrail_trails.items:
        obs: dict[str, Any] = dict(**where(t), trail=t.name, **observe(t))
        out.append(passed(t.arn, f"trail {t.name}: {good}", **obs) if ok(t) else
                   failed(t.arn, f"trail {t.name}: {bad}", **obs))
    return out or none_found(cloudtrail_trails, "CloudTrail trails")


@check(id="aws.cloudtrail.log_validation", title="CloudTrail log file validation is on", severity="medium",
       area="audit_logging", criterion="every trail has log file integrity validation enabled",
       remediation="Enable log file integrity validation on the trail so that digest files prove the logs were "
                   "not changed.")
def log_validation(cloudtrail_trails: AwsResources[Trail]) -> list[Finding]:
    return _per_trail(cloudtrail_trails, lambda t: t.log_validation, "log file validation on",
                      "log file validation off", lambda t: {"log_validation": t.log_validation})


@check(id="aws.cloudtrail.kms_encryption", title="CloudTrail logs are encrypted with KMS", severity="medium",
       area="encryption", criterion="every trail encrypts its log files with a KMS key (SSE-KMS)",
       remediation="Configure the trail to encrypt its log files with a customer managed KMS key whose policy "
                   "lets CloudTrail encrypt and only log readers decrypt.")
def kms_encryption(cloudtrail_trails: AwsResources[Trail]) -> list[Finding]:
    return _per_trail(cloudtrail_trails, lambda t: bool(t.kms_key_id), "logs encrypted with KMS",
                      "logs not encrypted with a KMS key", lambda t: {"kms_key_id": t.kms_key_id})


@check(id="aws.cloudtrail.bucket_not_public", title="CloudTrail bucket is not public", severity="high",
       area="audit_logging",
       criterion="each trail's S3 bucket has no public ACL and no policy statement allowing everyone (a condition "
                 "counts only when it pins the caller's account, organisation, principal, network or source), "
                 "unless public access is blocked for it (bucket or account level)",
       remediation="Remove public grants from the trail bucket's ACL and policy and turn on Block Public Access "
                   "for the bucket (or the account).")
def bucket_not_public(cloudtrail_trails: AwsResources[Trail],
                      s3_account_public_access_block: AwsResources[AccountPublicAccessBlock]) -> list[Finding]:
    accounts = {a.account: a.block for a in s3_account_public_access_block.items}
    out = []
    for t in cloudtrail_trails.items:
        obs: dict[str, Any] = dict(**where(t), trail=t.name, bucket=t.s3_bucket)
        if not t.s3_bucket:
            out.append(error(t.arn, f"trail {t.name} names no S3 bucket", **obs))
            continue
        bad = incomplete(t, "bucket_public_access_block", "bucket_policy", "bucket_acl")
        if bad:
            out.append(bad)
            continue
        eff = effective_block(t.bucket_public_access_block, accounts.get(t.account))
        public_policy = policy_is_public(t.bucket_policy) and not eff.restrict_public_buckets
        public_acl = t.bucket_public_acl and not eff.ignore_public_acls
        obs.update(public_policy=public_policy, public_acl=public_acl, effective_block=eff.settings())
        if public_policy or public_acl:
            out.append(failed(t.arn, f"trail {t.name}: bucket {t.s3_bucket} is publicly readable", **obs))
        else:
            out.append(passed(t.arn, f"trail {t.name}: bucket {t.s3_bucket} is not public", **obs))
    return out or none_found(cloudtrail_trails, "CloudTrail trails")


def _recording(trails: Sequence[Trail], bucket: S3Bucket, kind: str) -> list[str]:
    """Names of the logging trails that record every ``kind`` ("read" or "write") data event of the bucket."""
    return [t.name for t in trails if t.is_logging and any(getattr(e, kind) and e.covers(bucket.arn)
                                                          for e in t.s3_data_events or ())]


@check(id="aws.cloudtrail.data_events", title="CloudTrail logs S3 data events for records buckets",
       severity="medium", area="audit_logging",
       criterion="every bucket in the records scope (records_tag; empty = all buckets) has its object-level reads "
                 "and writes (S3 data events) recorded by a logging trail of its account that is multi-region or "
                 "in the bucket's region; a selector narrowed by event name, source, identity or excluded ARNs "
                 "does not count",
       remediation="Add an event selector to a logging multi-region trail that records S3 data events, read and "
                   "write, for each records bucket (advanced selector: eventCategory = Data, resources.type = "
                   "AWS::S3::Object, resources.ARN starts with arn:aws:s3:::<bucket>/); data events are billed "
                   "per event, so scope it to the records buckets.")
def data_events(s3_buckets: AwsResources[S3Bucket], cloudtrail_trails: AwsResources[Trail],
                records_tag: str = "") -> list[Finding]:
    out = []
    for b in s3_buckets.items:
        trails = [t for t in cloudtrail_trails.items
                  if t.account == b.account and (t.multi_region or t.region == b.region)]
        obs: dict[str, Any] = dict(**where(b), bucket=b.name, records_tag=records_tag or "(all buckets)",
                                   trails=[t.name for t in trails])
        scoped = out_of_records_scope(b, records_tag, obs)
        if scoped:
            out.append(scoped)
            continue
        read, write = _recording(trails, b, "read"), _recording(trails, b, "write")
        obs.update(read_recorded_by=read, write_recorded_by=write)
        unsure = [t for t in trails if t.s3_data_events is None or t.is_logging is None
                  or {"event_selectors", "status"} & t.errors.keys()]
        if read and write:
            out.append(passed(b.arn, f"records bucket {b.name}: S3 data events are recorded (read by "
                                     f"{', '.join(read)}; write by {', '.join(write)})", **obs))
        elif unsure:
            reasons = "; ".join(dict(unsure[0].errors).values()) or "event selectors or status not returned"
            out.append(error(b.arn, f"records bucket {b.name}: cannot tell whether trail {unsure[0].name} records "
                                    f"its S3 data events: {reasons}", **obs))
        else:
            missing = " and ".join(k for k, by in (("read", read), ("write", write)) if not by)
            out.append(failed(b.arn, f"records bucket {b.name}: no logging trail records its S3 {missing} data "
                                     "events", **obs))
    return out or none_found(s3_buckets, "S3 buckets")
