"""AWS check logic on facts built by small factories: the cases moto cannot produce, and fail-closed paths."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest

from checks.aws import backup, cloudtrail, config, ec2, iam, kms, logs, s3
from scanner.facts.aws import (
    AccessKey,
    AccountPublicAccessBlock,
    AccountSummary,
    AttachedPolicy,
    AwsResources,
    BackupPlan,
    BackupVaultRef,
    ConfigRecorder,
    ConfigRegion,
    CredentialUser,
    IamUser,
    Ingress,
    KmsKey,
    LogGroup,
    PasswordPolicy,
    PublicAccessBlock,
    S3Bucket,
    Scope,
    SecurityGroup,
    Trail,
    Versioning,
)
from scanner.model import freeze

ACCOUNT, REGION = "123456789012", "us-east-1"
NOW = datetime.now(timezone.utc)
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ON = PublicAccessBlock(block_public_acls=True, ignore_public_acls=True, block_public_policy=True,
                       restrict_public_buckets=True)


def res(*items: Any, region: str = REGION) -> AwsResources[Any]:
    return AwsResources(scopes=(Scope(ACCOUNT, region, "aws", ROOT),), items=tuple(items))


def days_ago(n: int | None) -> datetime | None:
    return None if n is None else NOW - timedelta(days=n)


def user(name: str = "u1", *, password: bool = True, mfa: bool = True, pw_used: int | None = 1,
         keys: tuple[tuple[bool, int | None, int | None], ...] = (), created: int | None = 400) -> CredentialUser:
    return CredentialUser(
        account=ACCOUNT, user=name, arn=f"arn:aws:iam::{ACCOUNT}:user/{name}", created=days_ago(created),
        password_enabled=password, password_last_used=days_ago(pw_used), password_last_changed=days_ago(created),
        mfa_active=mfa, keys=tuple(AccessKey(i + 1, active, days_ago(rot), days_ago(used))
                                   for i, (active, rot, used) in enumerate(keys)))


def bucket(name: str = "b1", **kw: Any) -> S3Bucket:
    kw.setdefault("tags", MappingProxyType({}))
    for key in ("policy",):
        if isinstance(kw.get(key), dict):
            kw[key] = freeze(kw[key])
    if "errors" in kw:
        kw["errors"] = MappingProxyType(kw["errors"])
    return S3Bucket(account=ACCOUNT, region=REGION, name=name, arn=f"arn:aws:s3:::{name}", **kw)


def statuses(findings: list[Any]) -> list[str]:
    return [f.status.value for f in findings]


# IAM ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("u, expected", [
    (user(pw_used=10), "pass"),
    (user(pw_used=200), "fail"),
    (user(pw_used=None, created=200), "fail"),  # never used: counts from creation
    (user(password=False, keys=((True, 10, 5),)), "pass"),
    (user(password=False, keys=((True, 300, 120),)), "fail"),
    (user(password=False, keys=((True, 300, None),)), "fail"),  # never used: counts from rotation
    (user(password=False, keys=((True, None, None),), created=None), "error"),
])
def test_unused_credentials(u: CredentialUser, expected: str) -> None:
    assert statuses(iam.unused_credentials(res(u), stale_account_days=90)) == [expected]


@pytest.mark.parametrize("keys, expected", [
    (((True, 30, 1),), "pass"), (((True, 120, 1),), "fail"), (((False, 400, 1), (True, 10, 1)), "pass"),
    (((True, None, 1),), "error"),
])
def test_access_key_rotation(keys: tuple[tuple[bool, int | None, int | None], ...], expected: str) -> None:
    assert statuses(iam.access_key_rotation(res(user(keys=keys)), access_key_max_age_days=90)) == [expected]


def test_no_console_users_is_not_applicable_per_account() -> None:
    (f,) = iam.user_mfa(res(user(password=False)))
    assert (f.status.value, f.resource, f.observed["account"]) == (
        "not_applicable", f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)


def test_root_checks_pass_when_the_summary_says_so() -> None:
    summary = res(AccountSummary(ACCOUNT, ROOT, root_mfa_enabled=True, root_access_keys_present=False, users=1))
    assert statuses(iam.root_mfa(summary)) == ["pass"] and statuses(iam.root_access_keys(summary)) == ["pass"]
    keys = res(AccountSummary(ACCOUNT, ROOT, root_mfa_enabled=True, root_access_keys_present=True, users=1))
    assert statuses(iam.root_access_keys(keys)) == ["fail"]


@pytest.mark.parametrize("doc, expected", [
    ({"Statement": [{"Effect": "Allow", "Action": "*:*", "Resource": "*"}]}, "fail"),
    ({"Statement": {"Effect": "Allow", "Action": ["s3:*", "*"], "Resource": ["*"]}}, "fail"),
    ({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::x"}]}, "pass"),
    ({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}, "pass"),
])
def test_admin_via_customer_managed_policy(doc: dict[str, Any], expected: str) -> None:
    u = IamUser(ACCOUNT, "dev", f"arn:aws:iam::{ACCOUNT}:user/dev",
                attached=(AttachedPolicy(f"arn:aws:iam::{ACCOUNT}:policy/p", "p", freeze(doc)),))
    assert statuses(iam.user_admin_policies(res(u))) == [expected]


def test_admin_check_is_an_error_when_a_policy_could_not_be_read() -> None:
    u = IamUser(ACCOUNT, "dev", f"arn:aws:iam::{ACCOUNT}:user/dev",
                errors=MappingProxyType({"policy arn:p": "iam:GetAccountAuthorizationDetails returned no document"}))
    (f,) = iam.user_admin_policies(res(u))
    assert f.status.value == "error" and "returned no document" in f.message


def test_password_policy_thresholds_come_from_the_policy() -> None:
    p = res(PasswordPolicy(ACCOUNT, ROOT, True, 14, True, True, True, True, 90, 24))
    assert statuses(iam.password_policy(p)) == ["pass"]
    (f,) = iam.password_policy(p, password_min_length=20, password_history=30, password_max_age_days=60)
    assert f.status.value == "fail"
    assert "minimum length 14 < 20" in f.message and "reuse prevention 24 < 30" in f.message
    (weak,) = iam.password_policy(res(PasswordPolicy(ACCOUNT, ROOT, True, 14, False, True, True, True, 90, 24)))
    assert "symbols" in weak.message
    assert statuses(iam.password_policy(res(PasswordPolicy(ACCOUNT, ROOT, True, 14, False, True, True, True, 90, 24)),
                                        password_complexity=False)) == ["pass"]


# EC2 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule, expected", [
    (Ingress("tcp", 22, 22, ("10.0.0.0/8",)), "pass"),
    (Ingress("tcp", 0, 65535, ("0.0.0.0/0",)), "fail"),
    (Ingress("-1", None, None, ("::/0",)), "fail"),
    (Ingress("udp", 22, 22, ("0.0.0.0/0",)), "pass"),
    (Ingress("tcp", 3389, 3389, ("::/0",)), "fail"),
])
def test_admin_ports(rule: Ingress, expected: str) -> None:
    g = SecurityGroup(ACCOUNT, REGION, "sg-1", "g", f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-1", "vpc",
                      (rule,))
    assert statuses(ec2.sg_admin_ports_open(res(g))) == [expected]


# S3 ----------------------------------------------------------------------------------------------
TLS = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
       "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


@pytest.mark.parametrize("policy, expected", [
    (None, "fail"),
    ({"Statement": [TLS]}, "pass"),
    ({"Statement": [{**TLS, "Principal": {"AWS": "*"}, "Condition": {"Bool": {"aws:SecureTransport": False}}}]},
     "pass"),
    ({"Statement": [{**TLS, "Action": "s3:GetObject"}]}, "fail"),
    ({"Statement": [{**TLS, "Effect": "Allow"}]}, "fail"),
])
def test_secure_transport(policy: dict[str, Any] | None, expected: str) -> None:
    assert statuses(s3.secure_transport(res(bucket(policy=policy)))) == [expected]


def test_a_bucket_with_partial_evidence_is_an_error_only_where_evidence_is_missing() -> None:
    b = bucket(encryption=None, versioning=Versioning.ENABLED,
               errors={"encryption": "s3:GetEncryptionConfiguration denied (GetBucketEncryption ...)"})
    (enc,) = s3.bucket_encryption(res(b))
    assert enc.status.value == "error" and "s3:GetEncryptionConfiguration denied" in enc.message
    assert statuses(s3.versioning(res(b))) == ["pass"]


@pytest.mark.parametrize("records_tag, tags, expected", [
    ("", {}, "fail"), ("gxp", {"gxp": "anything"}, "fail"), ("gxp=records", {"gxp": "other"}, "not_applicable"),
    ("gxp=records", {}, "not_applicable"), ("gxp=records", {"gxp": "records"}, "fail"),
])
def test_records_scope_by_tag(records_tag: str, tags: dict[str, Any], expected: str) -> None:
    b = bucket(tags=MappingProxyType(tags))
    assert statuses(s3.object_lock(res(b), records_tag=records_tag)) == [expected]


def test_records_scope_without_collected_tags_is_an_error() -> None:
    b = bucket(tags=MappingProxyType({}), tags_read=False)
    assert statuses(s3.versioning(res(b), records_tag="gxp=records")) == ["error"]
    assert statuses(s3.versioning(res(b), records_tag="")) == ["fail"]


def test_public_access_block_account_level_covers_buckets() -> None:
    findings = s3.public_access_block(res(bucket()), res(AccountPublicAccessBlock(ACCOUNT, ROOT, ON)))
    assert statuses(findings) == ["pass", "pass"]
    partial = replace(ON, restrict_public_buckets=False)
    findings = s3.public_access_block(res(bucket(public_access_block=partial)),
                                      res(AccountPublicAccessBlock(ACCOUNT, ROOT, None)))
    assert statuses(findings) == ["fail", "fail"] and "RestrictPublicBuckets" in findings[1].message


# CloudTrail --------------------------------------------------------------------------------------
def trail(**kw: Any) -> Trail:
    base = dict(account=ACCOUNT, region=REGION, name="t", arn=f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/t",
                multi_region=True, log_validation=True, kms_key_id="k", s3_bucket="b1", is_logging=True,
                management_events=True)
    return Trail(**{**base, **kw})


@pytest.mark.parametrize("t, expected", [
    (trail(), "pass"), (trail(is_logging=False), "fail"), (trail(multi_region=False), "fail"),
    (trail(management_events=False), "fail"), (trail(management_events=None), "error"),
    (trail(errors=MappingProxyType({"status": "cloudtrail:GetTrailStatus denied"})), "error"),
])
def test_multi_region(t: Trail, expected: str) -> None:
    assert statuses(cloudtrail.multi_region(res(t))) == [expected]


PUBLIC_READ = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}


@pytest.mark.parametrize("exposure, account_flags, expected", [
    ({}, None, "pass"),
    ({"bucket_public_acl": True}, None, "fail"),
    ({"bucket_public_acl": True}, ON, "pass"),
    ({"bucket_public_acl": True, "bucket_public_access_block": ON}, None, "pass"),
    ({"bucket_policy": PUBLIC_READ}, None, "fail"),
    ({"bucket_policy": PUBLIC_READ, "bucket_public_access_block": replace(ON, restrict_public_buckets=False)}, None,
     "fail"),
    ({"bucket_policy": {"Statement": [{**PUBLIC_READ["Statement"][0],
                                       "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}]}}, None, "pass"),
    ({"errors": {"bucket_acl": "s3:GetBucketAcl denied"}}, None, "error"),
    ({"s3_bucket": None}, None, "error"),
])
def test_trail_bucket_not_public(exposure: dict[str, Any], account_flags: PublicAccessBlock | None,
                                 expected: str) -> None:
    frozen = {k: freeze(v) if isinstance(v, dict) else v for k, v in exposure.items()}
    pab = res(AccountPublicAccessBlock(ACCOUNT, ROOT, account_flags))
    assert statuses(cloudtrail.bucket_not_public(res(trail(**frozen)), pab)) == [expected]


# Backup, Config, KMS, Logs -----------------------------------------------------------------------
def plan(*vaults: BackupVaultRef, errors: dict[str, str] | None = None) -> BackupPlan:
    return BackupPlan(ACCOUNT, REGION, "p1", "daily", f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-plan:p1",
                      vaults=vaults, errors=MappingProxyType(errors or {}))


@pytest.mark.parametrize("plans, expected", [
    ((), "fail"),
    ((plan(BackupVaultRef("v", "arn:v", "arn:key", True)),), "pass"),
    ((plan(BackupVaultRef("v", "arn:v", None, True)),), "fail"),
    ((plan(BackupVaultRef("gone", None, None, False)),), "fail"),
    ((plan(errors={"rules": "backup:GetBackupPlan denied"}),), "error"),
])
def test_backup_plan(plans: tuple[Any, ...], expected: str) -> None:
    assert statuses(backup.plan(res(*plans))) == [expected]


REC = f"arn:aws:config:{REGION}:{ACCOUNT}:configuration-recorder/default"


@pytest.mark.parametrize("recorders, expected", [
    ((), "fail"), ((ConfigRecorder("default", REC, True, True, "SUCCESS"),), "pass"),
    ((ConfigRecorder("default", REC, False, True, "SUCCESS"),), "fail"),
    ((ConfigRecorder("default", REC, True, False, ""),), "fail"),
])
def test_config_recorder(recorders: tuple[Any, ...], expected: str) -> None:
    r = ConfigRegion(ACCOUNT, REGION, f"arn:aws:config:{REGION}:{ACCOUNT}:configuration-recorder", recorders)
    assert statuses(config.recorder(res(r))) == [expected]


def test_kms_only_customer_symmetric_enabled_keys_count() -> None:
    aws_key = KmsKey(ACCOUNT, REGION, "k1", "arn:k1", "AWS", "Enabled", "SYMMETRIC_DEFAULT")
    rsa = KmsKey(ACCOUNT, REGION, "k2", "arn:k2", "CUSTOMER", "Enabled", "RSA_2048")
    assert statuses(kms.key_rotation(res(aws_key, rsa))) == ["not_applicable"]
    unknown = KmsKey(ACCOUNT, REGION, "k3", "arn:k3", "CUSTOMER", "Enabled", "SYMMETRIC_DEFAULT", None, rotatable=True)
    assert statuses(kms.key_rotation(res(unknown))) == ["error"]
    denied = KmsKey(ACCOUNT, REGION, "k4", "arn:k4", errors=MappingProxyType({"describe": "kms:DescribeKey denied"}))
    assert statuses(kms.key_rotation(res(denied))) == ["error"]


@pytest.mark.parametrize("days, expected", [(None, "pass"), (400, "pass"), (365, "pass"), (90, "fail")])
def test_log_retention(days: int | None, expected: str) -> None:
    g = LogGroup(ACCOUNT, REGION, "/a", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/a", days)
    assert statuses(logs.retention(res(g), log_retention_days=365)) == [expected]


def test_nothing_found_is_not_applicable_per_scope_never_empty() -> None:
    scopes: AwsResources[LogGroup] = AwsResources(
        scopes=(Scope(ACCOUNT, "us-east-1", "aws", ROOT), Scope(ACCOUNT, "eu-west-1", "aws", ROOT)), items=())
    findings = logs.retention(scopes)
    assert [(f.status.value, f.observed["region"]) for f in findings] == [
        ("not_applicable", "us-east-1"), ("not_applicable", "eu-west-1")]


# Idle credentials: the CIS default -------------------------------------------------------------
@pytest.mark.parametrize("idle, expected", [(10, "pass"), (44, "pass"), (45, "fail"), (60, "fail"), (89, "fail")])
def test_unused_credentials_default_is_the_cis_figure(idle: int, expected: str) -> None:
    """45 days (CIS AWS Foundations Benchmark v3.0.0, 1.12), not the laxer 90: a key idle for 60 days fails."""
    (f,) = iam.unused_credentials(res(user(pw_used=idle)))
    assert (f.status.value, f.observed["max_idle_days"]) == (expected, 45)


def test_unused_credentials_default_names_its_benchmark() -> None:
    from scanner.registry import spec_of

    spec = spec_of(iam.unused_credentials)
    assert spec.params["stale_account_days"] == 45
    for text in (spec.criterion, iam.unused_credentials.__doc__ or ""):
        assert "CIS AWS Foundations Benchmark v3.0.0" in " ".join(text.split()) and "1.12" in text


# Log retention: every message branch -----------------------------------------------------------
@pytest.mark.parametrize("days, status, message", [
    (None, "pass", "log group /a keeps events forever (no retention limit set)"),
    (400, "pass", "log group /a keeps events for 400 days (at least 365 required)"),
    (365, "pass", "log group /a keeps events for 365 days (at least 365 required)"),
    (90, "fail", "log group /a keeps events for only 90 days (at least 365 required)"),
    (1, "fail", "log group /a keeps events for only 1 days (at least 365 required)"),
])
def test_log_retention_messages(days: int | None, status: str, message: str) -> None:
    g = LogGroup(ACCOUNT, REGION, "/a", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/a", days)
    (f,) = logs.retention(res(g), log_retention_days=365)
    assert (f.status.value, f.message) == (status, message)
    assert f.observed["retention_days"] == (days if days is not None else "never expire")


@pytest.mark.parametrize("value", [0, -1, "30", 7.5, True])
def test_a_retention_that_is_not_a_number_of_days_fails_the_fact(value: object) -> None:
    from scanner.collectors.aws.logs import _days

    with pytest.raises(ValueError, match="retentionInDays"):
        _days(value)
    assert _days(None) is None and _days(3653) == 3653


# Remediation -------------------------------------------------------------------------------------
def test_every_aws_check_says_how_to_fix_it() -> None:
    from scanner.registry import Registry

    specs = Registry.load(["checks.aws"]).select()
    assert len(specs) == 29
    missing = [s.id for s in specs if len(s.remediation.split()) < 8]
    assert missing == []
    assert len({s.remediation for s in specs}) == len(specs)  # each in its own words, none copied around


# False passes closed -----------------------------------------------------------------------------
@pytest.mark.parametrize("statement, expected", [
    # everyone but one principal is everyone
    ({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject"}, "fail"),
    # a condition on TLS, time or tags does not say who may call
    ({**PUBLIC_READ["Statement"][0], "Condition": {"Bool": {"aws:SecureTransport": "true"}}}, "fail"),
    ({**PUBLIC_READ["Statement"][0], "Condition": {"IpAddress": {"aws:SourceIp": ["0.0.0.0/0"]}}}, "fail"),
    ({**PUBLIC_READ["Statement"][0], "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-1"}}}, "fail"),
    ({**PUBLIC_READ["Statement"][0], "Condition": {"StringLike": {"aws:PrincipalArn": "*"}}}, "fail"),
    ({**PUBLIC_READ["Statement"][0], "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": "1"}}}, "fail"),
    # conditions that do name the callers keep the statement private
    ({**PUBLIC_READ["Statement"][0], "Condition": {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}}}, "pass"),
    ({**PUBLIC_READ["Statement"][0], "Condition": {"StringEquals": {"AWS:SourceAccount": "123456789012"}}}, "pass"),
    ({**PUBLIC_READ["Statement"][0], "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:x:1:trail/t"}}},
     "pass"),
    ({"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject"}, "pass"),
])
def test_trail_bucket_policy_is_public_unless_a_condition_names_the_callers(statement: dict[str, Any],
                                                                          expected: str) -> None:
    t = trail(bucket_policy=freeze({"Statement": [statement]}))
    pab = res(AccountPublicAccessBlock(ACCOUNT, ROOT, None))
    assert statuses(cloudtrail.bucket_not_public(res(t), pab)) == [expected]


@pytest.mark.parametrize("change, expected", [
    ({"Resource": "arn:aws:s3:::b1"}, "fail"),  # the bucket, not its objects: objects still served over HTTP
    ({"Resource": ["arn:aws:s3:::b1", "arn:aws:s3:::b1/*"]}, "pass"),
    ({"Resource": "arn:aws:s3:::b1*"}, "pass"),
    ({"Resource": "arn:aws:s3:::other/*"}, "fail"),
    ({"Condition": {"Bool": {"aws:securetransport": ["false"]}}}, "pass"),  # keys are case-insensitive
    ({"Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}}}, "pass"),
    ({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}, "fail"),
])
def test_secure_transport_must_cover_the_objects(change: dict[str, Any], expected: str) -> None:
    assert statuses(s3.secure_transport(res(bucket(policy={"Statement": [{**TLS, **change}]})))) == [expected]


def test_allow_everything_except_a_few_resources_is_administrator() -> None:
    doc = {"Statement": [{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::audit-logs/*"}]}
    u = IamUser(ACCOUNT, "dev", f"arn:aws:iam::{ACCOUNT}:user/dev",
                attached=(AttachedPolicy(f"arn:aws:iam::{ACCOUNT}:policy/p", "p", freeze(doc)),))
    (f,) = iam.user_admin_policies(res(u))
    assert (f.status.value, f.observed["admin_policies"]) == ("fail", ("p",))


@pytest.mark.parametrize("last_status, expected", [("SUCCESS", "pass"), ("PENDING", "pass"), ("FAILURE", "fail"),
                                                   ("Failure", "fail")])
def test_a_recorder_whose_last_recording_failed_does_not_pass(last_status: str, expected: str) -> None:
    r = ConfigRegion(ACCOUNT, REGION, REC.rsplit("/", 1)[0],
                     (ConfigRecorder("default", REC, True, True, last_status, last_failed=expected == "fail"),))
    assert statuses(config.recorder(res(r))) == [expected]


@pytest.mark.parametrize("last_status, failed", [("Failure", True), ("FAILURE", True), ("Success", False),
                                                 ("PENDING", False), (None, False)])
def test_the_collector_reads_a_failed_last_recording(last_status: str | None, failed: bool) -> None:
    from scanner.collectors.aws.config import last_failed

    assert last_failed(last_status) is failed
