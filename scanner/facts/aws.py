"""AWS facts: the values the AWS collector produces and the AWS checks consume.

Every item names the account and region it lives in (``GLOBAL`` for account-wide things such as IAM) and
carries its ``arn``, built by the collector in the account's partition (``aws``, ``aws-us-gov``, ``aws-cn``),
so a check never builds an ARN. Settings are meanings (``PublicAccessBlock.restrict_public_buckets: bool``),
not the API's dictionaries. Policy documents stay documents: the IAM policy language is what a check reads.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar

from scanner.value import frozen

GLOBAL = "global"  # the region shown for account-wide (non-regional) resources and settings

#: An IAM policy document (bucket policy, identity policy), deep-frozen JSON.
PolicyDocument = Mapping[str, Any]


def build_arn(partition: str, service: str, region: str, account: str, resource: str) -> str:
    """The one place an ARN is put together (``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``): by the live
    collector and the connector, and by the IaC collector, so code and account name a resource alike."""
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def _no_errors() -> Mapping[str, str]:
    return MappingProxyType({})


class AwsItem(Protocol):
    """What every AWS item has: where it lives and its ARN."""

    @property
    def account(self) -> str: ...

    @property
    def region(self) -> str: ...

    @property
    def arn(self) -> str: ...


class PartlyRead(AwsItem, Protocol):
    """An item some of whose fields may not have been readable: field name -> why (names the IAM action)."""

    @property
    def errors(self) -> Mapping[str, str]: ...


@frozen
class Scope:
    """One account and region (``GLOBAL`` for account-wide services) that a fact covered."""

    account: str
    region: str
    partition: str
    account_arn: str  # the account's root ARN, in its partition


ItemT = TypeVar("ItemT", covariant=True)


@frozen
class AwsResources(Generic[ItemT]):
    """A fact's value: where it looked and what it found there."""

    scopes: tuple[Scope, ...]
    items: tuple[ItemT, ...]

    def accounts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.account for s in self.scopes))

    def account_arn(self, account: str) -> str:
        """The root ARN of a scanned account (the resource of account-wide findings)."""
        for scope in self.scopes:
            if scope.account == account:
                return scope.account_arn
        raise KeyError(f"account {account} was not scanned")


# IAM ---------------------------------------------------------------------------------------------
@frozen
class AccessKey:
    index: int
    active: bool
    last_rotated: datetime | None
    last_used: datetime | None


@frozen
class CredentialUser:
    """One row of the IAM credential report."""

    account: str
    user: str
    arn: str
    created: datetime | None
    password_enabled: bool
    password_last_used: datetime | None
    password_last_changed: datetime | None
    mfa_active: bool
    keys: tuple[AccessKey, ...]
    is_root: bool = False
    region: str = GLOBAL
    password_use_unknown: bool = False  # the report says "no_information" (not "N/A": never used)


@frozen
class AttachedPolicy:
    arn: str
    name: str
    document: PolicyDocument | None  # None for AWS managed policies, whose documents are not read
    aws_managed: bool = False  # an AWS managed policy (arn:PARTITION:iam::aws:policy/...)


@frozen
class InlinePolicy:
    name: str
    document: PolicyDocument


@frozen
class IamUser:
    account: str
    name: str
    arn: str
    attached: tuple[AttachedPolicy, ...] = ()
    inline: tuple[InlinePolicy, ...] = ()
    errors: Mapping[str, str] = field(default_factory=_no_errors)
    region: str = GLOBAL
    groups: tuple[str, ...] = ()  # names of the IAM groups the user is in


@frozen
class IamGroup:
    account: str
    name: str
    arn: str
    attached: tuple[AttachedPolicy, ...] = ()
    inline: tuple[InlinePolicy, ...] = ()
    errors: Mapping[str, str] = field(default_factory=_no_errors)
    region: str = GLOBAL


@frozen
class IamRole:
    account: str
    name: str
    arn: str
    path: str  # "/aws-service-role/..." for service-linked roles AWS creates and manages
    trust: PolicyDocument | None  # the trust (assume role) policy: who may assume the role; None: not read
    attached: tuple[AttachedPolicy, ...] = ()
    inline: tuple[InlinePolicy, ...] = ()
    last_used: datetime | None = None  # RoleLastUsed (AWS tracks a trailing window); None: not reported
    errors: Mapping[str, str] = field(default_factory=_no_errors)
    region: str = GLOBAL


@frozen
class PasswordPolicy:
    account: str
    arn: str  # the account's root ARN: the policy is an account setting
    present: bool
    min_length: int | None = None
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase: bool = False
    require_lowercase: bool = False
    max_age_days: int | None = None
    reuse_prevention: int | None = None
    region: str = GLOBAL


@frozen
class AccountSummary:
    account: str
    arn: str  # the account's root ARN
    root_mfa_enabled: bool
    root_access_keys_present: bool
    users: int
    region: str = GLOBAL


@frozen
class AnalyzerRegion:
    account: str
    region: str
    arn: str
    active: tuple[str, ...]  # names of ACTIVE analyzers of external access (account or organization zone of trust)


# S3 ----------------------------------------------------------------------------------------------
@frozen
class PublicAccessBlock:
    """The four S3 public access block settings (bucket or account level); all off when nothing is set."""

    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    #: The names AWS documents for the settings, used in messages and observed values.
    LABELS = MappingProxyType({
        "block_public_acls": "BlockPublicAcls", "ignore_public_acls": "IgnorePublicAcls",
        "block_public_policy": "BlockPublicPolicy", "restrict_public_buckets": "RestrictPublicBuckets",
    })

    def settings(self) -> dict[str, bool]:
        """Each setting by its AWS name."""
        return {label: bool(getattr(self, name)) for name, label in self.LABELS.items()}  # the fields, in order

    def off(self) -> list[str]:
        """AWS names of the settings that are off."""
        return [name for name, on in self.settings().items() if not on]

    @property
    def fully_on(self) -> bool:
        return not self.off()

    def combined(self, other: PublicAccessBlock | None) -> PublicAccessBlock:
        """The settings in effect when both this block and ``other`` apply (either level turns a setting on)."""
        if other is None:
            return self
        return PublicAccessBlock(**{name: bool(getattr(self, name) or getattr(other, name)) for name in self.LABELS})


def effective_block(*levels: PublicAccessBlock | None) -> PublicAccessBlock:
    """The public access block in effect from bucket and account levels (None: not configured there)."""
    out = PublicAccessBlock()
    for level in levels:
        out = out.combined(level)
    return out


class Versioning(str, enum.Enum):
    """A bucket's versioning: on, suspended (old versions kept, new ones not), or never turned on."""

    ENABLED = "Enabled"
    SUSPENDED = "Suspended"
    NEVER_ENABLED = "never enabled"

    def __str__(self) -> str:
        return self.value


@frozen
class S3Bucket:
    account: str
    region: str
    name: str
    arn: str
    encryption: tuple[str, ...] | None = None  # SSE algorithms of the default rules; None: not configured
    policy: PolicyDocument | None = None
    versioning: Versioning = Versioning.NEVER_ENABLED
    mfa_delete: bool = False  # deleting a version or changing versioning needs MFA
    object_lock: bool = False
    object_lock_mode: str = ""
    logging_target: str | None = None
    public_access_block: PublicAccessBlock | None = None  # None: no bucket-level block configured
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    tags_read: bool = True  # False when no records_tag scopes buckets, so tags were not needed
    errors: Mapping[str, str] = field(default_factory=_no_errors)


@frozen
class AccountPublicAccessBlock:
    account: str
    arn: str  # the account's root ARN
    block: PublicAccessBlock | None  # None: no account-level block configured
    region: str = GLOBAL


# EC2 / EBS ---------------------------------------------------------------------------------------
@frozen
class Ingress:
    protocol: str  # "-1" means all protocols
    from_port: int | None
    to_port: int | None
    sources: tuple[str, ...]  # IPv4 and IPv6 CIDRs

    def covers(self, port: int) -> bool:
        """Whether this rule admits TCP traffic to ``port``."""
        if self.protocol in ("-1", "all"):
            return True
        if self.protocol not in ("tcp", "6"):
            return False
        if self.from_port is None or self.to_port is None:
            return True
        return self.from_port <= port <= self.to_port


@frozen
class SecurityGroup:
    account: str
    region: str
    id: str
    name: str
    arn: str
    vpc_id: str
    ingress: tuple[Ingress, ...]


@frozen
class EbsDefaultEncryption:
    account: str
    region: str
    arn: str
    enabled: bool


@frozen
class EbsVolume:
    account: str
    region: str
    id: str
    arn: str
    encrypted: bool
    kms_key_id: str | None
    state: str
    #: why an unencrypted volume is so when that is not plain from ``encrypted`` (code: default encryption that
    #: is not ordered before the volume); empty for the live account
    note: str = ""


# RDS / KMS ---------------------------------------------------------------------------------------
@frozen
class RdsInstance:
    account: str
    region: str
    id: str
    arn: str
    engine: str
    storage_encrypted: bool
    kms_key_id: str | None
    backup_retention_days: int
    deletion_protection: bool


@frozen
class KmsKey:
    account: str
    region: str
    id: str
    arn: str
    manager: str = ""  # CUSTOMER or AWS
    state: str = ""
    spec: str = ""
    rotation_enabled: bool | None = None  # None when rotation does not apply (AWS managed, asymmetric, disabled)
    rotatable: bool = False  # an enabled customer managed symmetric key: automatic rotation applies to it
    errors: Mapping[str, str] = field(default_factory=_no_errors)


# CloudTrail --------------------------------------------------------------------------------------
@frozen
class S3DataEvents:
    """What one event selector of a trail records of S3 object-level (data) events.

    ``arn_prefixes`` are the object ARN prefixes it records in full (``arn:`` when it names no ARN: every bucket;
    ``arn:aws:s3:::b/``: every object of bucket b). ``partial`` is set when the selector narrows the events in
    any other way (event names, sources, identities, excluded ARNs): it then records only some of a bucket's
    events and covers no bucket."""

    arn_prefixes: tuple[str, ...]
    read: bool
    write: bool
    partial: bool = False

    def covers(self, bucket_arn: str) -> bool:
        """Whether every object of the bucket is recorded by this selector."""
        objects = bucket_arn + "/"
        return not self.partial and any(objects.startswith(p) for p in self.arn_prefixes)


@frozen
class Trail:
    account: str
    region: str  # home region
    name: str
    arn: str
    multi_region: bool
    log_validation: bool
    kms_key_id: str | None
    s3_bucket: str | None
    is_logging: bool | None = None
    management_events: bool | None = None  # None: the selectors did not say
    bucket_policy: PolicyDocument | None = None  # the log bucket's policy, ACL and public access block
    bucket_public_acl: bool = False  # the ACL grants to AllUsers or AuthenticatedUsers
    bucket_public_access_block: PublicAccessBlock | None = None
    errors: Mapping[str, str] = field(default_factory=_no_errors)
    s3_data_events: tuple[S3DataEvents, ...] | None = None  # None: the event selectors were not read


# Backup, Config, Logs ----------------------------------------------------------------------------
@frozen
class BackupVaultRef:
    name: str
    arn: str | None
    encryption_key_arn: str | None
    found: bool


@frozen
class BackupPlan:
    account: str
    region: str
    id: str
    name: str
    arn: str
    vaults: tuple[BackupVaultRef, ...] = ()
    errors: Mapping[str, str] = field(default_factory=_no_errors)


@frozen
class ConfigRecorder:
    name: str
    arn: str
    all_supported: bool
    recording: bool
    last_status: str  # as AWS Config reports it, for the record
    last_failed: bool = False  # the last recording attempt failed


@frozen
class ConfigRegion:
    account: str
    region: str
    arn: str
    recorders: tuple[ConfigRecorder, ...]


@frozen
class LogGroup:
    account: str
    region: str
    name: str
    arn: str
    retention_days: int | None  # None: never expire


#: The AWS facts by name, and what each holds: one declaration for both collectors (an account's,
#: scanner/collectors/aws, and code's, scanner/collectors/iac), read without importing either: loading the checks of
#: a scan needs the names only (an IaC scan imported every live AWS collector module to learn them).
FACTS: Mapping[str, str] = MappingProxyType({
    "aws.iam_credential_report": "IAM credential report rows (password, MFA, access keys per user)",
    "aws.iam_users": "IAM users with attached and inline policies (documents of customer managed ones)",
    "aws.iam_groups": "IAM groups with attached and inline policies (documents of customer managed ones)",
    "aws.iam_roles": "IAM roles with trust policy, attached and inline policies, and last use",
    "aws.password_policy": "the account's IAM password policy",
    "aws.account_summary": "IAM account summary (root MFA, root access keys)",
    "aws.access_analyzers": "IAM Access Analyzer analyzers, per region",
    "aws.s3_buckets": "S3 buckets of the scanned regions with encryption, policy, versioning, object lock, logging, "
                      "public access block and tags",
    "aws.s3_account_public_access_block": "the account-level S3 public access block",
    "aws.security_groups": "EC2 security groups with their ingress rules",
    "aws.ebs_default_encryption": "EBS encryption by default, per region",
    "aws.ebs_volumes": "EBS volumes and their encryption",
    "aws.rds_instances": "RDS DB instances: storage encryption, backup retention, deletion protection",
    "aws.kms_keys": "KMS keys with manager, state, spec and rotation status",
    "aws.cloudtrail_trails": "CloudTrail trails with status, event selectors (management and S3 data events) and "
                             "their log bucket's policy, ACL and public access block",
    "aws.backup_plans": "AWS Backup plans and the encryption of their target vaults",
    "aws.config_recorders": "AWS Config recorders and their status, per region",
    "aws.log_groups": "CloudWatch Logs log groups and their retention",
    "aws.system": "the system under test: account ids, partition and regions scanned (as the connector resolved "
                  "them; no extra API call)",
})
