"""S3: public access, encryption, secure transport, versioning, object lock and access logging."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from checks.aws._common import (
    as_list,
    incomplete,
    none_found,
    out_of_records_scope,
    public_principal,
    statements,
    where,
)
from scanner.facts.aws import (
    AccountPublicAccessBlock,
    AwsResources,
    PolicyDocument,
    PublicAccessBlock,
    S3Bucket,
    Versioning,
    effective_block,
)
from scanner.model import Finding, error, failed, passed
from scanner.registry import check


@check(id="aws.s3.public_access_block", title="S3 public access is blocked", severity="high",
       area="access_control",
       criterion="all four public access block settings are on for the account, and effective on every bucket "
                 "(account or bucket level)",
       remediation="Turn on all four S3 Block Public Access settings for the account (and on any bucket listed); "
                   "grant any genuine external access through specific principals instead.")
def public_access_block(s3_buckets: AwsResources[S3Bucket],
                        s3_account_public_access_block: AwsResources[AccountPublicAccessBlock]) -> list[Finding]:
    out = []
    accounts: dict[str, PublicAccessBlock | None] = {}
    for a in s3_account_public_access_block.items:
        accounts[a.account] = a.block
        obs: dict[str, Any] = dict(**where(a), settings=a.block.settings() if a.block else {})
        if a.block and a.block.fully_on:
            out.append(passed(a.arn, "account-level S3 public access block is fully on", **obs))
        else:
            out.append(failed(a.arn, "account-level S3 public access block is not fully on", **obs))
    for b in s3_buckets.items:
        bad = incomplete(b, "public_access_block")
        if bad:
            out.append(bad)
            continue
        if b.account not in accounts:
            out.append(incomplete_account(b))
            continue
        eff = effective_block(b.public_access_block, accounts[b.account])
        off = eff.off()
        obs = dict(**where(b), bucket=b.name, effective=eff.settings(),
                   bucket_settings=b.public_access_block.settings() if b.public_access_block else {})
        if off:
            out.append(failed(b.arn, f"bucket {b.name}: public access not blocked ({', '.join(off)} off)", **obs))
        else:
            out.append(passed(b.arn, f"bucket {b.name}: public access blocked", **obs))
    return out or none_found(s3_account_public_access_block, "S3 settings")


def incomplete_account(b: S3Bucket) -> Finding:
    return error(b.arn, f"account-level public access block of {b.account} was not read", **where(b))


@check(id="aws.s3.bucket_encryption", title="S3 buckets have default encryption", severity="high",
       area="encryption", criterion="every bucket has a default server-side encryption rule (SSE-S3 or SSE-KMS)",
       remediation="Configure default encryption on the bucket, SSE-KMS with a customer managed key for GxP "
                   "records (SSE-S3 at least).")
def bucket_encryption(s3_buckets: AwsResources[S3Bucket]) -> list[Finding]:
    out = []
    for b in s3_buckets.items:
        bad = incomplete(b, "encryption")
        if bad:
            out.append(bad)
            continue
        algos = [a for a in (b.encryption or ()) if a]
        obs: dict[str, Any] = dict(**where(b), bucket=b.name, algorithms=algos)
        if algos:
            out.append(passed(b.arn, f"bucket {b.name} encrypts by default ({', '.join(algos)})", **obs))
        else:
            out.append(failed(b.arn, f"bucket {b.name} has no default encryption", **obs))
    return out or none_found(s3_buckets, "S3 buckets")


def _covers_objects(statement: Mapping[str, Any], bucket_arn: str) -> bool:
    """Whether a statement's Resource takes in the bucket's objects (``*``, the bucket ARN with ``/*``, ...)."""
    probe = f"{bucket_arn}/any/object"
    return any(fnmatchcase(probe, str(r).replace("[", "[[]")) for r in as_list(statement.get("Resource")))


def _denies_insecure_transport(policy: PolicyDocument | None, bucket_arn: str) -> bool:
    for s in statements(policy):
        if s.get("Effect") != "Deny" or not public_principal(s.get("Principal")) or not _covers_objects(s, bucket_arn):
            continue
        actions = {str(a).lower() for a in as_list(s.get("Action"))}
        if not actions & {"s3:*", "*"}:
            continue
        cond = s.get("Condition") or {}
        for op in ("Bool", "BoolIfExists"):
            block = cond.get(op) or {}
            values = [v for k, v in block.items() if str(k).lower() == "aws:securetransport"]
            if any(str(x).lower() == "false" for v in values for x in as_list(v)):
                return True
    return False


@check(id="aws.s3.secure_transport", title="S3 buckets refuse plain HTTP", severity="medium", area="encryption",
       criterion="the bucket policy denies s3:* on the bucket's objects to everyone when aws:SecureTransport is "
                 "false",
       remediation="Add a bucket policy statement that denies s3:* to every principal when aws:SecureTransport "
                   "is false, covering the bucket and its objects.")
def secure_transport(s3_buckets: AwsResources[S3Bucket]) -> list[Finding]:
    out = []
    for b in s3_buckets.items:
        bad = incomplete(b, "policy")
        if bad:
            out.append(bad)
            continue
        ok = _denies_insecure_transport(b.policy, b.arn)
        obs: dict[str, Any] = dict(**where(b), bucket=b.name, has_policy=b.policy is not None,
                                   denies_insecure_transport=ok)
        if ok:
            out.append(passed(b.arn, f"bucket {b.name} denies requests without TLS", **obs))
        else:
            out.append(failed(b.arn, f"bucket {b.name} does not deny requests without TLS", **obs))
    return out or none_found(s3_buckets, "S3 buckets")


def _records(s3_buckets: AwsResources[S3Bucket], records_tag: str, field: str, what: str,
             test: Callable[[S3Bucket], bool], describe: Callable[[S3Bucket], dict[str, Any]]) -> list[Finding]:
    """Shared shape of the records-bucket checks: scope by tag, fail closed on missing fields."""
    out = []
    for b in s3_buckets.items:
        bad = incomplete(b, "tags", field)
        if bad:
            out.append(bad)
            continue
        obs: dict[str, Any] = dict(**where(b), bucket=b.name, records_tag=records_tag or "(all buckets)", **describe(b))
        scoped = out_of_records_scope(b, records_tag, obs)
        if scoped:
            out.append(scoped)
        elif test(b):
            out.append(passed(b.arn, f"records bucket {b.name}: {what}", **obs))
        else:
            out.append(failed(b.arn, f"records bucket {b.name}: not {what}", **obs))
    return out or none_found(s3_buckets, "S3 buckets")


@check(id="aws.s3.versioning", title="Records buckets keep object versions", severity="medium", area="backup",
       criterion="versioning is enabled on every bucket in the records scope (records_tag; empty = all buckets)",
       remediation="Enable versioning on every records bucket so that overwritten or deleted objects can be "
                   "recovered; consider MFA delete for the most critical ones.")
def versioning(s3_buckets: AwsResources[S3Bucket], records_tag: str = "") -> list[Finding]:
    return _records(s3_buckets, records_tag, "versioning", "versioning enabled",
                    lambda b: b.versioning is Versioning.ENABLED,
                    lambda b: {"versioning": b.versioning.value, "mfa_delete": b.mfa_delete})


@check(id="aws.s3.object_lock", title="Records buckets use object lock", severity="medium", area="backup",
       criterion="object lock is enabled on every bucket in the records scope (records_tag; empty = all buckets)",
       remediation="Turn on Object Lock for each records bucket (versioning must be on; new buckets can have it "
                   "from creation) and set a default retention, in compliance or governance mode, that matches the "
                   "records retention schedule.")
def object_lock(s3_buckets: AwsResources[S3Bucket], records_tag: str = "") -> list[Finding]:
    return _records(s3_buckets, records_tag, "object_lock", "object lock enabled",
                    lambda b: b.object_lock,
                    lambda b: {"object_lock": b.object_lock, "default_mode": b.object_lock_mode})


@check(id="aws.s3.access_logging", title="Records buckets log access", severity="medium", area="audit_logging",
       criterion="server access logging is on for every bucket in the records scope (records_tag; empty = all)",
       remediation="Turn on server access logging for each records bucket to a separate log bucket that only the "
                   "logging service may write to, or record S3 data events with CloudTrail.")
def access_logging(s3_buckets: AwsResources[S3Bucket], records_tag: str = "") -> list[Finding]:
    return _records(s3_buckets, records_tag, "logging", "access logging enabled",
                    lambda b: bool(b.logging_target),
                    lambda b: {"logging_target": b.logging_target})
