"""S3 facts: buckets of the scanned regions with their settings, and the account-level public access block.

The S3 wire knowledge (public access block keys, public ACL grantees, encryption rules) lives here; the
CloudTrail collector reuses it for a trail's log bucket.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.collectors.aws._api import Api, AwsFact, Fields, Response, declare, policy_document, tag_map
from scanner.facts.aws import (
    AccountPublicAccessBlock,
    PolicyDocument,
    PublicAccessBlock,
    S3Bucket,
    Versioning,
    build_arn,
)

PUBLIC_GRANTEES = frozenset({"http://acs.amazonaws.com/groups/global/AllUsers",
                             "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"})
#: PublicAccessBlockConfiguration key -> PublicAccessBlock field.
PAB_FIELDS = {"BlockPublicAcls": "block_public_acls", "IgnorePublicAcls": "ignore_public_acls",
              "BlockPublicPolicy": "block_public_policy", "RestrictPublicBuckets": "restrict_public_buckets"}


def bucket_arn(partition: str, name: str) -> str:
    return build_arn(partition, "s3", "", "", name)


def bucket_policy(got: Mapping[str, Any] | None) -> PolicyDocument | None:
    return policy_document(got["Policy"]) if got and got.get("Policy") else None


def public_access_block(got: Mapping[str, Any] | None) -> PublicAccessBlock | None:
    """A GetPublicAccessBlock answer (bucket or account level); None when none is configured."""
    if not got:
        return None
    config = got["PublicAccessBlockConfiguration"]
    return PublicAccessBlock(**{name: bool(config.get(key)) for key, name in PAB_FIELDS.items()})


def public_acl(got: Mapping[str, Any] | None) -> bool:
    return any(g.get("Grantee", {}).get("URI") in PUBLIC_GRANTEES for g in (got or {}).get("Grants", []))


def _s3_buckets(api: Api, region: str) -> list[S3Bucket]:
    """Buckets listed once per scanned region (ListBuckets' BucketRegion filter), so no per-bucket location call."""
    listing = api.pages(api.fact.call("ListBuckets"), region, "Buckets", BucketRegion=region)
    return api.each(lambda b: _s3_bucket(api, b.get("BucketRegion") or region, b), listing)


def _s3_bucket(api: Api, region: str, bucket: Response) -> S3Bucket:
    name, c = bucket["Name"], api.fact.call
    f = Fields(api, region)
    enc = f.get("encryption", c("GetBucketEncryption"), Bucket=name,
                absent=("ServerSideEncryptionConfigurationNotFoundError",))
    pol = f.get("policy", c("GetBucketPolicy"), Bucket=name, absent=("NoSuchBucketPolicy",))
    ver = f.get("versioning", c("GetBucketVersioning"), Bucket=name) or {}
    lock = None
    versioning = Versioning(ver["Status"]) if ver.get("Status") else Versioning.NEVER_ENABLED
    if versioning is Versioning.ENABLED or "versioning" in f.errors:
        # Object lock needs versioning on (and forbids suspending it): unversioned buckets have none.
        lock = f.get("object_lock", c("GetObjectLockConfiguration"), Bucket=name,
                     absent=("ObjectLockConfigurationNotFoundError",))
    log = f.get("logging", c("GetBucketLogging"), Bucket=name) or {}
    pab = f.get("public_access_block", c("GetPublicAccessBlock"), Bucket=name,
                absent=("NoSuchPublicAccessBlockConfiguration",))
    tags = None
    if api.records_tag:
        tags = f.get("tags", c("GetBucketTagging"), Bucket=name, absent=("NoSuchTagSet",))
    rules = (enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    lock_cfg = (lock or {}).get("ObjectLockConfiguration", {})
    return S3Bucket(
        account=api.account.id, region=region, name=name, arn=bucket_arn(api.account.partition, name),
        encryption=tuple(r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "") for r in rules)
        if enc else None,
        policy=bucket_policy(pol), versioning=versioning, mfa_delete=ver.get("MFADelete") == "Enabled",
        object_lock=lock_cfg.get("ObjectLockEnabled") == "Enabled",
        object_lock_mode=lock_cfg.get("Rule", {}).get("DefaultRetention", {}).get("Mode", ""),
        logging_target=log.get("LoggingEnabled", {}).get("TargetBucket"),
        public_access_block=public_access_block(pab), tags=tag_map((tags or {}).get("TagSet")),
        tags_read=bool(api.records_tag), errors=f.frozen_errors(),
    )


def _s3_account_pab(api: Api, region: str) -> list[AccountPublicAccessBlock]:
    got = api.call(api.fact.call("GetPublicAccessBlock"), region, AccountId=api.account.id,
                   absent=("NoSuchPublicAccessBlockConfiguration",))
    return [AccountPublicAccessBlock(account=api.account.id, arn=api.account.root_arn, block=public_access_block(got))]


DEFINITIONS: tuple[AwsFact, ...] = (
    AwsFact("aws.s3_buckets",
            (declare("s3", "ListBuckets", "ListAllMyBuckets"),
             declare("s3", "GetBucketEncryption", "GetEncryptionConfiguration"), declare("s3", "GetBucketPolicy"),
             declare("s3", "GetBucketVersioning"),
             declare("s3", "GetObjectLockConfiguration", "GetBucketObjectLockConfiguration"),
             declare("s3", "GetBucketLogging"), declare("s3", "GetPublicAccessBlock", "GetBucketPublicAccessBlock"),
             declare("s3", "GetBucketTagging")),
            _s3_buckets),
    AwsFact("aws.s3_account_public_access_block",
            (declare("s3control", "GetPublicAccessBlock", "GetAccountPublicAccessBlock"),),
            _s3_account_pab, regional=False),
)
