"""AWS facts: each resource type listed once per account and region, paginated; per-resource calls
run concurrently with a bound (the target's ``max_workers``).

Every API call goes through one table: each fact declares the calls it may make (``AwsFact.calls``),
and ``Api.call`` refuses any call its fact did not declare. ``aws_iam_policy()`` is built from the same
table, so the least-privilege policy cannot drift from what the collectors do.

Failure semantics (fail closed):
- a listing that fails in any account or region fails the whole fact, naming the API action
  ("s3:ListAllMyBuckets denied ...");
- a per-resource call that fails is kept on that resource (``errors``: field -> message), so the check
  reports ``error`` for that resource and never ``pass``;
- an answer that means "not configured" (e.g. ``NoSuchBucketPolicy``) is a value (``None``), not an error.
Throttling is retried by botocore's adaptive retry mode (see the connector).
"""
from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

from scanner.collectors import FactSpec
from scanner.model import Evidence, Fact, Target, freeze, thaw

#: Error codes AWS uses for a missing permission.
DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
    "UnauthorizedAccess", "Forbidden", "AccessDeniedError", "InsufficientPermissionsException",
})
GLOBAL = "global"  # the region shown for account-wide (non-regional) resources and settings
CREDENTIAL_REPORT_WAIT_S = 30.0


# --------------------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Call:
    """One API operation: the boto3 client, the operation name, and the IAM action that authorizes it."""

    service: str
    operation: str
    action: str


def _c(service: str, operation: str, action: str | None = None) -> Call:
    prefix = {"s3control": "s3", "logs": "logs", "accessanalyzer": "access-analyzer"}.get(service, service)
    return Call(service, operation, f"{prefix}:{action or operation}")


@dataclass(frozen=True)
class Scope:
    """One account and region (``GLOBAL`` for account-wide services) that a fact covered."""

    account: str
    region: str
    partition: str = "aws"


@dataclass(frozen=True)
class AwsResources:
    """A fact's value: where it looked and what it found there."""

    scopes: tuple[Scope, ...]
    items: tuple[Any, ...]

    def accounts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.account for s in self.scopes))


# ---------------------------------------------------------------------------------------- values
@dataclass(frozen=True)
class AccessKey:
    index: int
    active: bool
    last_rotated: datetime | None
    last_used: datetime | None


@dataclass(frozen=True)
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

    @property
    def is_root(self) -> bool:
        return self.user == "<root_account>"


@dataclass(frozen=True)
class AttachedPolicy:
    arn: str
    name: str
    document: Mapping[str, Any] | None  # None for AWS managed policies (recognised by ARN)


@dataclass(frozen=True)
class InlinePolicy:
    name: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class IamUser:
    account: str
    name: str
    arn: str
    attached: tuple[AttachedPolicy, ...] = ()
    inline: tuple[InlinePolicy, ...] = ()
    errors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class PasswordPolicy:
    account: str
    present: bool
    min_length: int | None = None
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase: bool = False
    require_lowercase: bool = False
    max_age_days: int | None = None
    reuse_prevention: int | None = None


@dataclass(frozen=True)
class AccountSummary:
    account: str
    root_mfa_enabled: bool
    root_access_keys_present: bool
    users: int


@dataclass(frozen=True)
class S3Bucket:
    account: str
    region: str
    name: str
    arn: str
    encryption: tuple[str, ...] | None = None  # SSE algorithms of the default rules; None: not configured
    policy: Mapping[str, Any] | None = None
    versioning: str = ""  # "Enabled", "Suspended" or "" (never enabled)
    mfa_delete: str = ""
    object_lock: bool = False
    object_lock_mode: str = ""
    logging_target: str | None = None
    public_access_block: Mapping[str, bool] | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    tags_read: bool = True  # False when no records_tag scopes buckets, so tags were not needed
    errors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class AccountPublicAccessBlock:
    account: str
    flags: Mapping[str, bool] | None  # None: no account-level block configured


@dataclass(frozen=True)
class Ingress:
    protocol: str  # "-1" means all protocols
    from_port: int | None
    to_port: int | None
    sources: tuple[str, ...]  # IPv4 and IPv6 CIDRs

    def covers(self, port: int) -> bool:
        if self.protocol in ("-1", "all"):
            return True
        if self.protocol not in ("tcp", "6"):
            return False
        if self.from_port is None or self.to_port is None:
            return True
        return self.from_port <= port <= self.to_port


@dataclass(frozen=True)
class SecurityGroup:
    account: str
    region: str
    id: str
    name: str
    arn: str
    vpc_id: str
    ingress: tuple[Ingress, ...]


@dataclass(frozen=True)
class EbsDefaultEncryption:
    account: str
    region: str
    arn: str
    enabled: bool


@dataclass(frozen=True)
class EbsVolume:
    account: str
    region: str
    id: str
    arn: str
    encrypted: bool
    kms_key_id: str | None
    state: str


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class KmsKey:
    account: str
    region: str
    id: str
    arn: str
    manager: str = ""  # CUSTOMER or AWS
    state: str = ""
    spec: str = ""
    rotation_enabled: bool | None = None  # None when rotation does not apply (AWS managed, asymmetric, disabled)
    errors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def rotatable(self) -> bool:
        return self.manager == "CUSTOMER" and self.spec == "SYMMETRIC_DEFAULT" and self.state == "Enabled"


@dataclass(frozen=True)
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
    bucket_policy: Mapping[str, Any] | None = None  # the log bucket's policy, ACL and public access block
    bucket_public_acl: bool = False  # the ACL grants to AllUsers or AuthenticatedUsers
    bucket_public_access_block: Mapping[str, bool] | None = None
    errors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class BackupVaultRef:
    name: str
    arn: str | None
    encryption_key_arn: str | None
    found: bool


@dataclass(frozen=True)
class BackupPlan:
    account: str
    region: str
    id: str
    name: str
    arn: str
    vaults: tuple[BackupVaultRef, ...] = ()
    errors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ConfigRecorder:
    name: str
    all_supported: bool
    recording: bool
    last_status: str


@dataclass(frozen=True)
class ConfigRegion:
    account: str
    region: str
    arn: str
    recorders: tuple[ConfigRecorder, ...]


@dataclass(frozen=True)
class LogGroup:
    account: str
    region: str
    name: str
    arn: str
    retention_days: int | None  # None: never expire


@dataclass(frozen=True)
class AnalyzerRegion:
    account: str
    region: str
    arn: str
    active: tuple[str, ...]  # names of ACTIVE analyzers


# ------------------------------------------------------------------------------------ API access
class ApiError(Exception):
    """An API call failed; the message names the IAM action and never holds a secret."""

    def __init__(self, message: str, *, denied: bool = False, code: str = ""):
        super().__init__(message)
        self.denied = denied
        self.code = code


def _error_code(exc: BaseException) -> tuple[str, str, int | None]:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return type(exc).__name__, "", None
    err = response.get("Error", {}) or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return str(err.get("Code") or status or "Error"), str(err.get("Message") or ""), status


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class Api:
    """The calls one fact makes in one account: declared, counted, and errors named by IAM action."""

    def __init__(self, connector: Any, account: Any, fact: AwsFact, pool: ThreadPoolExecutor,
                 counts: Counter, lock: threading.Lock, records_tag: str = ""):
        self.connector = connector
        self.records_tag = records_tag  # the inventory's records scope: tags are read only when it is set
        self.account = account
        self.fact = fact
        self.pool = pool
        self._counts = counts
        self._lock = lock

    def _client(self, call: Call, region: str) -> Any:
        if call not in self.fact.calls:
            raise ApiError(f"internal: {self.fact.name} made undeclared call {call.action}")
        return self.connector.client(self.account, call.service, region)

    def _count(self, call: Call) -> None:
        with self._lock:
            self._counts[call.action] += 1

    def _raise(self, call: Call, region: str, exc: BaseException) -> ApiError:
        code, message, status = _error_code(exc)
        where = f"account {self.account.id} {region}"
        if code in DENIED_CODES or status == 403:
            return ApiError(f"{call.action} denied ({call.operation} in {where}): {code}", denied=True, code=code)
        return ApiError(f"{call.action} failed ({call.operation} in {where}): {code}: {_short(message)}".rstrip(": "),
                        code=code)

    def call(self, call: Call, region: str, *, absent: Iterable[str] = (), **params: Any) -> dict | None:
        """One request. An error code listed in ``absent`` means "not configured" and returns None."""
        from botocore import xform_name

        client = self._client(call, region)
        self._count(call)
        try:
            return getattr(client, xform_name(call.operation))(**params)
        except Exception as exc:
            if _error_code(exc)[0] in set(absent):
                return None
            raise self._raise(call, region, exc) from None

    def raw_pages(self, call: Call, region: str, **params: Any) -> list[dict]:
        """Every page of a listing."""
        from botocore import xform_name

        client = self._client(call, region)
        out: list[dict] = []
        try:
            for page in client.get_paginator(xform_name(call.operation)).paginate(**params):
                self._count(call)
                out.append(page)
        except Exception as exc:
            raise self._raise(call, region, exc) from None
        return out

    def pages(self, call: Call, region: str, key: str, **params: Any) -> list[dict]:
        """Every item under ``key`` across all pages of a listing."""
        return [item for page in self.raw_pages(call, region, **params) for item in page.get(key, [])]

    def each(self, func: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """Run a per-resource function concurrently (bounded by the pool), results in input order."""
        return list(self.pool.map(func, list(items)))


class Fields:
    """Collects one resource's per-call results; a failed call is recorded, not raised."""

    def __init__(self, api: Api, region: str):
        self.api = api
        self.region = region
        self.errors: dict[str, str] = {}

    def get(self, name: str, call: Call, *, absent: Iterable[str] = (), region: str | None = None,
            **params: Any) -> dict | None:
        try:
            return self.api.call(call, region or self.region, absent=absent, **params)
        except ApiError as exc:
            self.errors[name] = str(exc)
            return None

    def frozen_errors(self) -> Mapping[str, str]:
        return MappingProxyType(dict(self.errors))


# ------------------------------------------------------------------------------- fact definitions
Gather = Callable[[Api, str], list[Any]]


@dataclass(frozen=True)
class AwsFact:
    name: str
    description: str
    calls: tuple[Call, ...]
    gather: Gather  # (api, region) -> items; region is a real region even for account-wide facts
    regional: bool = True  # False: account-wide, listed once per account

    def call(self, operation: str) -> Call:
        for c in self.calls:
            if c.operation == operation:
                return c
        raise KeyError(f"{self.name} declares no call {operation}")


def _date(text: str | None) -> datetime | None:
    if not text or text in ("N/A", "no_information", "not_supported"):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _document(doc: Any) -> Mapping[str, Any]:
    if isinstance(doc, str):
        doc = json.loads(unquote(doc))
    return freeze(doc)


def _tags(tag_list: Iterable[Mapping[str, Any]] | None) -> Mapping[str, str]:
    return MappingProxyType({t["Key"]: t.get("Value", "") for t in tag_list or ()})


# IAM ---------------------------------------------------------------------------------------------
def _credential_report(api: Api, region: str) -> list[CredentialUser]:
    gen = api.fact.call("GenerateCredentialReport")
    deadline, pause = time.monotonic() + CREDENTIAL_REPORT_WAIT_S, 0.2
    while (api.call(gen, region) or {}).get("State") != "COMPLETE":
        if time.monotonic() > deadline:
            raise ApiError(f"{gen.action}: the credential report was not ready within {CREDENTIAL_REPORT_WAIT_S:.0f} s")
        time.sleep(pause)
        pause = min(pause * 2, 2.0)
    report = api.call(api.fact.call("GetCredentialReport"), region) or {}
    content = report.get("Content", b"")
    text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
    rows = list(csv.DictReader(io.StringIO(text)))
    if text and not rows and "user" not in text.split("\n")[0]:
        raise ApiError("iam:GetCredentialReport returned an unreadable report")
    return [_credential_row(api.account.id, row) for row in rows]


def _credential_row(account: str, row: Mapping[str, str]) -> CredentialUser:
    keys = tuple(
        AccessKey(index=i, active=row.get(f"access_key_{i}_active") == "true",
                  last_rotated=_date(row.get(f"access_key_{i}_last_rotated")),
                  last_used=_date(row.get(f"access_key_{i}_last_used_date")))
        for i in (1, 2)
    )
    return CredentialUser(
        account=account, user=row["user"], arn=row["arn"], created=_date(row.get("user_creation_time")),
        password_enabled=row.get("password_enabled") == "true",
        password_last_used=_date(row.get("password_last_used")),
        password_last_changed=_date(row.get("password_last_changed")),
        mfa_active=row.get("mfa_active") == "true", keys=keys,
    )


def _iam_users(api: Api, region: str) -> list[IamUser]:
    """Users with their policies from one paginated GetAccountAuthorizationDetails (no per-user calls)."""
    pages = api.raw_pages(api.fact.call("GetAccountAuthorizationDetails"), region,
                          Filter=["User", "LocalManagedPolicy"])
    details = [u for page in pages for u in page.get("UserDetailList", [])]
    local = [p for page in pages for p in page.get("Policies", [])]
    documents = {p["Arn"]: _document(v["Document"]) for p in local for v in p.get("PolicyVersionList", [])
                 if v.get("IsDefaultVersion") and "Document" in v}
    local_arns = {p["Arn"] for p in local}
    out = []
    for u in details:
        errors = {}
        attached = []
        for a in u.get("AttachedManagedPolicies", []):
            arn = a["PolicyArn"]
            if arn in local_arns and arn not in documents:
                errors[f"policy {arn}"] = f"iam:GetAccountAuthorizationDetails returned no document for {arn}"
            attached.append(AttachedPolicy(arn=arn, name=a["PolicyName"], document=documents.get(arn)))
        inline = tuple(InlinePolicy(name=p["PolicyName"], document=_document(p.get("PolicyDocument", {})))
                       for p in u.get("UserPolicyList", []))
        out.append(IamUser(account=api.account.id, name=u["UserName"], arn=u["Arn"], attached=tuple(attached),
                           inline=inline, errors=MappingProxyType(errors)))
    return out


def _password_policy(api: Api, region: str) -> list[PasswordPolicy]:
    got = api.call(api.fact.call("GetAccountPasswordPolicy"), region, absent=("NoSuchEntity",))
    if got is None:
        return [PasswordPolicy(account=api.account.id, present=False)]
    p = got["PasswordPolicy"]
    return [PasswordPolicy(
        account=api.account.id, present=True, min_length=p.get("MinimumPasswordLength"),
        require_symbols=bool(p.get("RequireSymbols")), require_numbers=bool(p.get("RequireNumbers")),
        require_uppercase=bool(p.get("RequireUppercaseCharacters")),
        require_lowercase=bool(p.get("RequireLowercaseCharacters")),
        max_age_days=p.get("MaxPasswordAge") if p.get("ExpirePasswords", "MaxPasswordAge" in p) else None,
        reuse_prevention=p.get("PasswordReusePrevention"),
    )]


def _account_summary(api: Api, region: str) -> list[AccountSummary]:
    got = (api.call(api.fact.call("GetAccountSummary"), region) or {}).get("SummaryMap", {})
    for key in ("AccountMFAEnabled", "AccountAccessKeysPresent"):
        if key not in got:
            raise ApiError(f"iam:GetAccountSummary did not return {key}")
    return [AccountSummary(account=api.account.id, root_mfa_enabled=got["AccountMFAEnabled"] == 1,
                           root_access_keys_present=got["AccountAccessKeysPresent"] == 1,
                           users=int(got.get("Users", 0)))]


# S3 ----------------------------------------------------------------------------------------------
PUBLIC_GRANTEES = frozenset({"http://acs.amazonaws.com/groups/global/AllUsers",
                             "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"})
PAB_KEYS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _s3_buckets(api: Api, region: str) -> list[S3Bucket]:
    """Buckets listed once per scanned region (ListBuckets' BucketRegion filter), so no per-bucket location call."""
    listing = api.pages(api.fact.call("ListBuckets"), region, "Buckets", BucketRegion=region)
    return api.each(lambda b: _s3_bucket(api, b.get("BucketRegion") or region, b), listing)


def _bucket_policy(got: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return _document(got["Policy"]) if got and got.get("Policy") else None


def _bucket_block(got: Mapping[str, Any] | None) -> Mapping[str, bool] | None:
    if not got:
        return None
    return MappingProxyType({k: bool(got["PublicAccessBlockConfiguration"].get(k)) for k in PAB_KEYS})


def _public_acl(got: Mapping[str, Any] | None) -> bool:
    return any(g.get("Grantee", {}).get("URI") in PUBLIC_GRANTEES for g in (got or {}).get("Grants", []))


def _s3_bucket(api: Api, region: str, bucket: Mapping[str, Any]) -> S3Bucket:
    name, c = bucket["Name"], api.fact.call
    f = Fields(api, region)
    enc = f.get("encryption", c("GetBucketEncryption"), Bucket=name,
                absent=("ServerSideEncryptionConfigurationNotFoundError",))
    pol = f.get("policy", c("GetBucketPolicy"), Bucket=name, absent=("NoSuchBucketPolicy",))
    ver = f.get("versioning", c("GetBucketVersioning"), Bucket=name) or {}
    lock = None
    if ver.get("Status") == "Enabled" or "versioning" in f.errors:
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
        account=api.account.id, region=region, name=name, arn=f"arn:{api.account.partition}:s3:::{name}",
        encryption=tuple(r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "") for r in rules)
        if enc else None,
        policy=_bucket_policy(pol), versioning=ver.get("Status", ""), mfa_delete=ver.get("MFADelete", ""),
        object_lock=lock_cfg.get("ObjectLockEnabled") == "Enabled",
        object_lock_mode=lock_cfg.get("Rule", {}).get("DefaultRetention", {}).get("Mode", ""),
        logging_target=log.get("LoggingEnabled", {}).get("TargetBucket"),
        public_access_block=_bucket_block(pab), tags=_tags((tags or {}).get("TagSet")),
        tags_read=bool(api.records_tag), errors=f.frozen_errors(),
    )


def _s3_account_pab(api: Api, region: str) -> list[AccountPublicAccessBlock]:
    got = api.call(api.fact.call("GetPublicAccessBlock"), region, AccountId=api.account.id,
                   absent=("NoSuchPublicAccessBlockConfiguration",))
    flags = None
    if got is not None:
        flags = MappingProxyType({k: bool(got["PublicAccessBlockConfiguration"].get(k)) for k in PAB_KEYS})
    return [AccountPublicAccessBlock(account=api.account.id, flags=flags)]


# EC2 / EBS ---------------------------------------------------------------------------------------
def _security_groups(api: Api, region: str) -> list[SecurityGroup]:
    out = []
    for g in api.pages(api.fact.call("DescribeSecurityGroups"), region, "SecurityGroups"):
        rules = tuple(
            Ingress(protocol=str(p.get("IpProtocol", "-1")), from_port=p.get("FromPort"), to_port=p.get("ToPort"),
                    sources=tuple(r["CidrIp"] for r in p.get("IpRanges", []))
                    + tuple(r["CidrIpv6"] for r in p.get("Ipv6Ranges", [])))
            for p in g.get("IpPermissions", [])
        )
        out.append(SecurityGroup(
            account=api.account.id, region=region, id=g["GroupId"], name=g.get("GroupName", ""),
            arn=api.account.arn("ec2", region, f"security-group/{g['GroupId']}"), vpc_id=g.get("VpcId", ""),
            ingress=rules))
    return out


def _ebs_default(api: Api, region: str) -> list[EbsDefaultEncryption]:
    got = api.call(api.fact.call("GetEbsEncryptionByDefault"), region) or {}
    if "EbsEncryptionByDefault" not in got:
        raise ApiError("ec2:GetEbsEncryptionByDefault returned no EbsEncryptionByDefault")
    return [EbsDefaultEncryption(account=api.account.id, region=region,
                                 arn=api.account.arn("ec2", region, "ebs-encryption-by-default"),
                                 enabled=bool(got["EbsEncryptionByDefault"]))]


def _ebs_volumes(api: Api, region: str) -> list[EbsVolume]:
    return [
        EbsVolume(account=api.account.id, region=region, id=v["VolumeId"],
                  arn=api.account.arn("ec2", region, f"volume/{v['VolumeId']}"), encrypted=bool(v.get("Encrypted")),
                  kms_key_id=v.get("KmsKeyId"), state=v.get("State", ""))
        for v in api.pages(api.fact.call("DescribeVolumes"), region, "Volumes")
    ]


# RDS / KMS ---------------------------------------------------------------------------------------
def _rds_instances(api: Api, region: str) -> list[RdsInstance]:
    return [
        RdsInstance(account=api.account.id, region=region, id=d["DBInstanceIdentifier"], arn=d["DBInstanceArn"],
                    engine=d.get("Engine", ""), storage_encrypted=bool(d.get("StorageEncrypted")),
                    kms_key_id=d.get("KmsKeyId"), backup_retention_days=int(d.get("BackupRetentionPeriod", 0)),
                    deletion_protection=bool(d.get("DeletionProtection")))
        for d in api.pages(api.fact.call("DescribeDBInstances"), region, "DBInstances")
    ]


def _kms_keys(api: Api, region: str) -> list[KmsKey]:
    keys = api.pages(api.fact.call("ListKeys"), region, "Keys")
    return api.each(lambda k: _kms_key(api, region, k), keys)


def _kms_key(api: Api, region: str, key: Mapping[str, Any]) -> KmsKey:
    f = Fields(api, region)
    meta = (f.get("describe", api.fact.call("DescribeKey"), KeyId=key["KeyId"]) or {}).get("KeyMetadata", {})
    base = dict(account=api.account.id, region=region, id=key["KeyId"], arn=key.get("KeyArn") or meta.get("Arn", ""),
                manager=meta.get("KeyManager", ""), state=meta.get("KeyState", ""),
                spec=meta.get("KeySpec") or meta.get("CustomerMasterKeySpec", ""))
    rotation = None
    if KmsKey(**base).rotatable:
        got = f.get("rotation", api.fact.call("GetKeyRotationStatus"), KeyId=key["KeyId"])
        rotation = bool(got["KeyRotationEnabled"]) if got is not None else None
    return KmsKey(**base, rotation_enabled=rotation, errors=f.frozen_errors())


# CloudTrail --------------------------------------------------------------------------------------
def _trails(api: Api, region: str) -> list[Trail]:
    got = api.call(api.fact.call("DescribeTrails"), region, includeShadowTrails=True) or {}
    scanned = set(api.connector.regions.get(api.account.id, (region,)))
    # Each trail once: in its home region, or here when its home region is not scanned.
    mine = [t for t in got.get("trailList", [])
            if t.get("HomeRegion", region) == region
            or (t.get("HomeRegion") not in scanned and region == min(scanned))]
    return api.each(lambda t: _trail(api, t), mine)


def _management_events(got: Mapping[str, Any] | None) -> bool | None:
    if got is None:
        return None
    basic = got.get("EventSelectors") or []
    advanced = got.get("AdvancedEventSelectors") or []
    if not basic and not advanced:
        return None
    if any(s.get("IncludeManagementEvents") and s.get("ReadWriteType", "All") == "All" for s in basic):
        return True
    for sel in advanced:
        fields = {fs.get("Field"): fs for fs in sel.get("FieldSelectors", [])}
        category = fields.get("eventCategory", {})
        if "Management" in category.get("Equals", []) and "readOnly" not in fields:
            return True
    return False


def _trail(api: Api, t: Mapping[str, Any]) -> Trail:
    home = t.get("HomeRegion") or "us-east-1"
    f = Fields(api, home)
    status = f.get("status", api.fact.call("GetTrailStatus"), Name=t["TrailARN"])
    selectors = f.get("event_selectors", api.fact.call("GetEventSelectors"), TrailName=t["TrailARN"])
    bucket, c = t.get("S3BucketName"), api.fact.call
    exposure: dict[str, Any] = {}
    if bucket:  # the log bucket's exposure, read here so S3 needs no ACL call for every other bucket
        exposure = dict(
            bucket_policy=_bucket_policy(f.get("bucket_policy", c("GetBucketPolicy"), Bucket=bucket,
                                               absent=("NoSuchBucketPolicy",))),
            bucket_public_acl=_public_acl(f.get("bucket_acl", c("GetBucketAcl"), Bucket=bucket)),
            bucket_public_access_block=_bucket_block(f.get(
                "bucket_public_access_block", c("GetPublicAccessBlock"), Bucket=bucket,
                absent=("NoSuchPublicAccessBlockConfiguration",))))
    return Trail(
        account=api.account.id, region=home, name=t["Name"], arn=t["TrailARN"],
        multi_region=bool(t.get("IsMultiRegionTrail")), log_validation=bool(t.get("LogFileValidationEnabled")),
        kms_key_id=t.get("KmsKeyId"), s3_bucket=t.get("S3BucketName"),
        is_logging=bool(status["IsLogging"]) if status is not None and "IsLogging" in status else None,
        management_events=_management_events(selectors), **exposure, errors=f.frozen_errors(),
    )


# Backup, Config, Logs, Access Analyzer -----------------------------------------------------------
def _backup_plans(api: Api, region: str) -> list[BackupPlan]:
    plans = api.pages(api.fact.call("ListBackupPlans"), region, "BackupPlansList")
    vaults = {v["BackupVaultName"]: v for v in api.pages(api.fact.call("ListBackupVaults"), region, "BackupVaultList")}
    return api.each(lambda p: _backup_plan(api, region, p, vaults), plans)


def _backup_plan(api: Api, region: str, plan: Mapping[str, Any], vaults: Mapping[str, Any]) -> BackupPlan:
    f = Fields(api, region)
    got = f.get("rules", api.fact.call("GetBackupPlan"), BackupPlanId=plan["BackupPlanId"])
    names = sorted({r.get("TargetBackupVaultName", "") for r in (got or {}).get("BackupPlan", {}).get("Rules", [])})
    refs = tuple(
        BackupVaultRef(name=n, arn=vaults.get(n, {}).get("BackupVaultArn"),
                       encryption_key_arn=vaults.get(n, {}).get("EncryptionKeyArn"), found=n in vaults)
        for n in names
    )
    return BackupPlan(account=api.account.id, region=region, id=plan["BackupPlanId"],
                      name=plan.get("BackupPlanName", ""), arn=plan["BackupPlanArn"], vaults=refs,
                      errors=f.frozen_errors())


def _config_recorders(api: Api, region: str) -> list[ConfigRegion]:
    recs = (api.call(api.fact.call("DescribeConfigurationRecorders"), region) or {}).get("ConfigurationRecorders", [])
    stats = (api.call(api.fact.call("DescribeConfigurationRecorderStatus"), region) or {}).get(
        "ConfigurationRecordersStatus", [])
    status = {s["name"]: s for s in stats}
    recorders = tuple(
        ConfigRecorder(name=r["name"], all_supported=bool(r.get("recordingGroup", {}).get("allSupported")),
                       recording=bool(status.get(r["name"], {}).get("recording")),
                       last_status=status.get(r["name"], {}).get("lastStatus", ""))
        for r in recs
    )
    return [ConfigRegion(account=api.account.id, region=region,
                         arn=api.account.arn("config", region, "configuration-recorder"), recorders=recorders)]


def _log_groups(api: Api, region: str) -> list[LogGroup]:
    return [
        LogGroup(account=api.account.id, region=region, name=g["logGroupName"],
                 arn=g.get("arn", api.account.arn("logs", region, f"log-group:{g['logGroupName']}")).removesuffix(":*"),
                 retention_days=g.get("retentionInDays"))
        for g in api.pages(api.fact.call("DescribeLogGroups"), region, "logGroups")
    ]


def _access_analyzers(api: Api, region: str) -> list[AnalyzerRegion]:
    found = api.pages(api.fact.call("ListAnalyzers"), region, "analyzers")
    return [AnalyzerRegion(account=api.account.id, region=region,
                           arn=api.account.arn("access-analyzer", region, "analyzer"),
                           active=tuple(a["name"] for a in found if a.get("status") == "ACTIVE"))]


DEFINITIONS: tuple[AwsFact, ...] = (
    AwsFact("aws.iam_credential_report", "IAM credential report rows (password, MFA, access keys per user)",
            (_c("iam", "GenerateCredentialReport"), _c("iam", "GetCredentialReport")),
            _credential_report, regional=False),
    AwsFact("aws.iam_users", "IAM users with attached and inline policies (documents of customer managed ones)",
            (_c("iam", "GetAccountAuthorizationDetails"),),
            _iam_users, regional=False),
    AwsFact("aws.password_policy", "the account's IAM password policy",
            (_c("iam", "GetAccountPasswordPolicy"),), _password_policy, regional=False),
    AwsFact("aws.account_summary", "IAM account summary (root MFA, root access keys)",
            (_c("iam", "GetAccountSummary"),), _account_summary, regional=False),
    AwsFact("aws.s3_buckets", "S3 buckets of the scanned regions with encryption, policy, versioning, "
                              "object lock, logging, public access block and tags",
            (_c("s3", "ListBuckets", "ListAllMyBuckets"),
             _c("s3", "GetBucketEncryption", "GetEncryptionConfiguration"), _c("s3", "GetBucketPolicy"),
             _c("s3", "GetBucketVersioning"),
             _c("s3", "GetObjectLockConfiguration", "GetBucketObjectLockConfiguration"),
             _c("s3", "GetBucketLogging"), _c("s3", "GetPublicAccessBlock", "GetBucketPublicAccessBlock"),
             _c("s3", "GetBucketTagging")),
            _s3_buckets),
    AwsFact("aws.s3_account_public_access_block", "the account-level S3 public access block",
            (_c("s3control", "GetPublicAccessBlock", "GetAccountPublicAccessBlock"),),
            _s3_account_pab, regional=False),
    AwsFact("aws.security_groups", "EC2 security groups with their ingress rules",
            (_c("ec2", "DescribeSecurityGroups"),), _security_groups),
    AwsFact("aws.ebs_default_encryption", "EBS encryption by default, per region",
            (_c("ec2", "GetEbsEncryptionByDefault"),), _ebs_default),
    AwsFact("aws.ebs_volumes", "EBS volumes and their encryption",
            (_c("ec2", "DescribeVolumes"),), _ebs_volumes),
    AwsFact("aws.rds_instances", "RDS DB instances: storage encryption, backup retention, deletion protection",
            (_c("rds", "DescribeDBInstances"),), _rds_instances),
    AwsFact("aws.kms_keys", "KMS keys with manager, state, spec and rotation status",
            (_c("kms", "ListKeys"), _c("kms", "DescribeKey"), _c("kms", "GetKeyRotationStatus")), _kms_keys),
    AwsFact("aws.cloudtrail_trails", "CloudTrail trails with status, event selectors and their log bucket's "
                                     "policy, ACL and public access block",
            (_c("cloudtrail", "DescribeTrails"), _c("cloudtrail", "GetTrailStatus"),
             _c("cloudtrail", "GetEventSelectors"), _c("s3", "GetBucketPolicy"), _c("s3", "GetBucketAcl"),
             _c("s3", "GetPublicAccessBlock", "GetBucketPublicAccessBlock")), _trails),
    AwsFact("aws.backup_plans", "AWS Backup plans and the encryption of their target vaults",
            (_c("backup", "ListBackupPlans"), _c("backup", "GetBackupPlan"), _c("backup", "ListBackupVaults")),
            _backup_plans),
    AwsFact("aws.config_recorders", "AWS Config recorders and their status, per region",
            (_c("config", "DescribeConfigurationRecorders"), _c("config", "DescribeConfigurationRecorderStatus")),
            _config_recorders),
    AwsFact("aws.log_groups", "CloudWatch Logs log groups and their retention",
            (_c("logs", "DescribeLogGroups"),), _log_groups),
    AwsFact("aws.access_analyzers", "IAM Access Analyzer analyzers, per region",
            (_c("accessanalyzer", "ListAnalyzers"),), _access_analyzers),
)

SYSTEM_FACT = FactSpec("aws.system", "the system under test: account ids, partition and regions scanned (as the "
                                     "connector resolved them; no extra API call)")
FACTS: dict[str, FactSpec] = {**{d.name: FactSpec(d.name, d.description) for d in DEFINITIONS},
                              SYSTEM_FACT.name: SYSTEM_FACT}


def aws_iam_policy() -> dict:
    """The least-privilege IAM policy for a scan: exactly the actions the collectors and connector call."""
    from scanner.connectors.aws import CONNECTOR_CALLS

    actions = {c.action for d in DEFINITIONS for c in d.calls} | {a for _, _, a in CONNECTOR_CALLS}
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "GxpscanReadOnly", "Effect": "Allow", "Action": sorted(actions), "Resource": "*"}],
    }


def declared_calls() -> frozenset[tuple[str, str]]:
    """(client name, operation) of every declared call, for tests that watch the wire."""
    from scanner.connectors.aws import CONNECTOR_CALLS

    return frozenset({(c.service, c.operation) for d in DEFINITIONS for c in d.calls}
                     | {(s, o) for s, o, _ in CONNECTOR_CALLS})


# ------------------------------------------------------------------------------------- collection
def _regions_for(connector: Any, account: Any, definition: AwsFact) -> tuple[str, ...]:
    regions = connector.regions.get(account.id) or ("us-east-1",)
    return regions if definition.regional else regions[:1]


def _collect_one(connector: Any, definition: AwsFact, pool: ThreadPoolExecutor, records_tag: str = "") -> Fact:
    counts: Counter = Counter()
    lock = threading.Lock()
    scopes: list[Scope] = []
    items: list[Any] = []
    started = time.monotonic()
    try:
        for account in connector.accounts:
            api = Api(connector, account, definition, pool, counts, lock, records_tag)
            for region in _regions_for(connector, account, definition):
                items.extend(definition.gather(api, region))
                scopes.append(Scope(account.id, region if definition.regional else GLOBAL, account.partition))
    except ApiError as exc:
        source = _source(definition, counts, connector)
        return Fact.failed(definition.name, str(exc), (Evidence.of(source, str(exc)),))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # an answer we could not parse
        message = f"unexpected AWS response for {definition.name}: {type(exc).__name__}: {exc}"
        return Fact.failed(definition.name, message, (Evidence.of(_source(definition, counts, connector), message),))
    value = AwsResources(scopes=tuple(scopes), items=tuple(items))
    raw = json.dumps(thaw(value), default=str, sort_keys=True)
    source = _source(definition, counts, connector) + f"; {time.monotonic() - started:.2f} s"
    return Fact(name=definition.name, value=value, evidence=(Evidence.of(source, raw),))


def _source(definition: AwsFact, counts: Counter, connector: Any) -> str:
    calls = ", ".join(f"{action} x{n}" for action, n in sorted(counts.items()))
    accounts = ",".join(a.id for a in connector.accounts)
    return f"AWS API ({accounts}): {calls or 'no calls'}"


def collect(connector: Any, target: Target, names: Iterable[str]) -> dict[str, Fact]:
    """Collect the named facts; facts run side by side, each one's per-resource calls in a bounded pool."""
    wanted = [d for d in DEFINITIONS if d.name in set(names)]
    out: dict[str, Fact] = {n: Fact.failed(n, "unknown AWS fact") for n in names if n not in FACTS}
    workers = max(1, int(target.opt("max_workers", getattr(connector, "max_workers", 16))))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aws-res") as pool, \
            ThreadPoolExecutor(max_workers=min(8, max(1, len(wanted))), thread_name_prefix="aws-fact") as facts:
        records_tag = str(target.policy.get("records_tag") or "")
        results = facts.map(lambda d: _collect_one(connector, d, pool, records_tag), wanted)
        for definition, fact in zip(wanted, results, strict=True):
            out[definition.name] = fact
    if SYSTEM_FACT.name in set(names):
        out[SYSTEM_FACT.name] = system_fact(connector)
    return out


def system_fact(connector: Any) -> Fact:
    """``aws.system``: the accounts, partition and regions the connector resolved (no call of its own)."""
    from scanner.facts.system import SystemUnderTest

    accounts = tuple(connector.accounts)
    if not accounts:
        return Fact.failed(SYSTEM_FACT.name, "no AWS account was resolved")
    partitions = sorted({a.partition for a in accounts})
    regions = sorted({r for a in accounts for r in (connector.regions.get(a.id) or ())})
    value = SystemUnderTest.of(
        platform="aws", hostname=",".join(a.id for a in accounts), os="Amazon Web Services",
        os_version=f"partition {','.join(partitions)}", account=",".join(a.id for a in accounts),
        partition=",".join(partitions), regions=",".join(regions) or "none",
        identity=",".join(sorted({a.via for a in accounts})))
    raw = json.dumps(value.as_dict(), sort_keys=True)
    return Fact(SYSTEM_FACT.name, value, (Evidence.of("AWS connector: resolved accounts and regions", raw),))
