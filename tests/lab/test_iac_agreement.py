"""The contract of code scanning: the fixture repository's Terraform, deployed into moto (a moto server over HTTP,
through boto3) and scanned live, gets the same verdict as the code scan from every AWS check that can judge both.

The scenario is tests/fixtures/iac/terraform (its variables resolved as Terraform resolves them: env = "prod",
db_encrypted = true from terraform.tfvars), built call by call with the public AWS APIs in ``deploy``. Both
scans run through ``gxpscan scan`` with every ``aws.*`` check. Findings are matched by what they are about (a
bucket, trail, key, group, instance or log group by its name, else the account), and compared by verdict: a
waived finding is a failure with an approval, so it counts as ``fail``.

What cannot be compared is listed, not skipped silently, and each list is asserted exactly:

- ``RUNTIME_ONLY``: checks that judge runtime state; ``not_applicable`` on the code side ("runtime state, verified
  by the live scan");
- ``CODE_ONLY``: findings the code cannot judge (a value from a variable without value, a file that does not
  parse): ``error`` on the code side, and nothing of them is deployed;
- ``AWS_MADE``: what AWS (here moto) creates by itself and no code declares (a VPC's default security group);
- ``MOTO_LIMITS``: where moto does not behave as AWS does, with the reason.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lab import motolab

pytestmark = pytest.mark.lab

ACCOUNT = "333333333333"
REGION = "eu-west-1"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "iac" / "terraform"

#: Checks that need runtime state: not applicable to code, judged by the live scan only.
RUNTIME_ONLY = {"aws.iam.access_key_rotation", "aws.iam.root_access_keys", "aws.iam.root_mfa",
                "aws.iam.unused_credentials", "aws.iam.user_mfa"}
#: Code findings that are errors, by resource address: what the code cannot judge, and nothing of it is deployed.
#: The bucket "unknown" takes its encryption algorithm from a variable without value. check id None: every check
#: on that resource (a file that does not parse; the fixture keeps those apart from this scenario).
CODE_ONLY: dict[tuple[str | None, str], str] = {
    ("aws.s3.bucket_encryption", "aws_s3_bucket.unknown"): "sse_algorithm from a variable without value",
}
#: The live subject of a code-only resource that is deployed (with some value: the code does not fix one).
DEPLOYED_AS = {"aws_s3_bucket.unknown": "bucket:gxp-unknown-prod"}
#: (check, subject) only the live account has: AWS makes a default security group in every VPC.
AWS_MADE = {("aws.ec2.sg_admin_ports_open", "group_name:default")}
#: check -> why moto cannot give the verdict AWS would (the live side is error, the code side is judged).
MOTO_LIMITS = {
    "aws.iam.access_analyzer": "moto has no IAM Access Analyzer API, so the live scan cannot read it (error); AWS "
                               "would answer with no analyzer, a fail like the code's",
}
#: What AWS does by itself and moto does not: ``deploy`` does it explicitly, so that moto holds what AWS would.
#: - every new bucket is encrypted with SSE-S3 (AES256) by default (AWS, since January 2023);
#: - every new bucket has all four Block Public Access settings on (AWS, since April 2023);
#: - a new trail records all read and write management events (moto returns no event selectors).
AWS_DEFAULTS = "SSE-S3 default encryption, Block Public Access on new buckets, a trail's default event selectors"


def _logging_target_policy(bucket: str) -> str:
    """What S3 (and moto) wants on a log target bucket: the logging service may write; nothing else changes."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "S3ServerAccessLogs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})


def deploy(lab: motolab.MotoServer) -> dict[str, str]:
    """The fixture's resources in ``ACCOUNT``/``REGION``; returns live ids -> Terraform addresses (for keys and
    instances, whose live ids AWS chooses)."""
    s = lab.session(ACCOUNT, REGION)
    s3, kms = lab.client(s, "s3", REGION), lab.client(s, "kms", REGION)
    ids: dict[str, str] = {}
    where = {"CreateBucketConfiguration": {"LocationConstraint": REGION}}

    records_key = kms.create_key(Description="records")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=records_key["KeyId"])
    legacy_key = kms.create_key(Description="legacy key without rotation")["KeyMetadata"]
    for meta, address in ((records_key, "aws_kms_key.records"), (legacy_key, "aws_kms_key.legacy")):
        ids[meta["KeyId"]] = ids[meta["Arn"]] = address

    def new_bucket(name: str, **kw: Any) -> None:
        """A bucket as AWS makes one today (see AWS_DEFAULTS): SSE-S3 and Block Public Access on."""
        s3.create_bucket(Bucket=name, **kw, **where)
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=motolab.PAB_ON)

    # module.logs: the audit bucket (versioned) and the trail writing to it
    new_bucket("gxp-logs-prod")
    s3.put_bucket_versioning(Bucket="gxp-logs-prod", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_policy(Bucket="gxp-logs-prod", Policy=_logging_target_policy("gxp-logs-prod"))
    trail = lab.client(s, "cloudtrail", REGION)
    trail.create_trail(Name="gxp-trail", S3BucketName="gxp-logs-prod", IsMultiRegionTrail=True,
                       EnableLogFileValidation=True)
    trail.start_logging(Name="gxp-trail")  # Terraform's enable_logging defaults to true
    trail.put_event_selectors(TrailName="gxp-trail", EventSelectors=[  # AWS's default, which moto does not set
        {"ReadWriteType": "All", "IncludeManagementEvents": True}])

    # records: every setting in a split resource
    new_bucket("gxp-records-prod", ObjectLockEnabledForBucket=True)
    s3.put_bucket_tagging(Bucket="gxp-records-prod", Tagging={"TagSet": [{"Key": "gxp", "Value": "records"}]})
    s3.put_bucket_versioning(Bucket="gxp-records-prod", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket="gxp-records-prod", ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": records_key["Arn"]}}]})
    s3.put_public_access_block(Bucket="gxp-records-prod", PublicAccessBlockConfiguration=motolab.PAB_ON)
    s3.put_bucket_logging(Bucket="gxp-records-prod", BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": "gxp-logs-prod", "TargetPrefix": "records/"}})
    s3.put_object_lock_configuration(Bucket="gxp-records-prod", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 3650}}})
    s3.put_bucket_policy(Bucket="gxp-records-prod", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyPlainHttp", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::gxp-records-prod", "arn:aws:s3:::gxp-records-prod/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))

    # scratch: versioning suspended, two public access settings off, no logging
    new_bucket("gxp-scratch-prod")
    s3.put_bucket_versioning(Bucket="gxp-scratch-prod", VersioningConfiguration={"Status": "Suspended"})
    s3.put_public_access_block(Bucket="gxp-scratch-prod", PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})

    # unknown: its encryption comes from a variable without value in the code; any value will do here
    new_bucket("gxp-unknown-prod")

    ec2 = lab.client(s, "ec2", REGION)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    admin = ec2.create_security_group(GroupName="admin", Description="admin", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=admin, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])

    db = lab.client(s, "rds", REGION).create_db_instance(
        DBInstanceIdentifier="lims", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="lims",
        MasterUserPassword="Lims-Lab-Password-1", AllocatedStorage=20, StorageEncrypted=True,
        BackupRetentionPeriod=14, DeletionProtection=True)["DBInstance"]
    ids[db["DBInstanceIdentifier"]] = ids[db["DBInstanceArn"]] = "aws_db_instance.lims"

    logs = lab.client(s, "logs", REGION)
    for n in (0, 1):
        logs.create_log_group(logGroupName=f"/gxp/app-{n}")
        logs.put_retention_policy(logGroupName=f"/gxp/app-{n}", retentionInDays=30)

    lab.client(s, "iam", REGION).update_account_password_policy(
        MinimumPasswordLength=14, RequireSymbols=True, RequireNumbers=True, RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True, MaxPasswordAge=90, PasswordReusePrevention=24)
    return ids


def scan(work: Path, name: str, target: dict[str, Any]) -> list[dict[str, Any]]:
    from scanner.cli import main

    inventory = work / f"{name}.yaml"
    inventory.write_text(yaml.safe_dump({"version": 1, "targets": [{"name": name, **target}]}), encoding="utf-8")
    out = work / f"{name}-out"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(["scan", "--inventory", str(inventory), "--check", "aws.*", "--format", "json", "--output", str(out)])
    findings: list[dict[str, Any]] = json.loads((out / "report.json").read_text(encoding="utf-8"))["findings"]
    return findings


SUBJECT_KEYS = ("trail", "bucket", "log_group", "group_name", "key_id", "instance")
ACCOUNT_WIDE = {"aws.cloudtrail.multi_region", "aws.backup.plan", "aws.iam.password_policy"}


def subject(f: dict[str, Any], ids: dict[str, str]) -> str:
    """What a finding is about, the same for code and live: a named resource, else the account (and region)."""
    obs = f["observed"]
    if f["check"] not in ACCOUNT_WIDE:
        for key in SUBJECT_KEYS:
            if obs.get(key):
                return f"{key}:{ids.get(obs[key], obs[key])}"
    return "account" if f["check"] in ACCOUNT_WIDE else f"account/{obs.get('region', '')}"


def verdicts(findings: list[dict[str, Any]], ids: dict[str, str]) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for f in findings:
        status = "fail" if f["status"] == "waived" else f["status"]
        key = (f["check"], subject(f, ids))
        assert key not in out or out[key] == status, f"two verdicts for {key}"
        out[key] = status
    return out


Verdicts = dict[tuple[str, str], str]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    """The findings of the code scan and of the live scan, and the live ids of keys and instances."""
    work = tmp_path_factory.mktemp("iac-agreement")
    try:
        lab = motolab.start_moto(str(work))
    except RuntimeError as exc:
        from tests.conftest import lab_unavailable

        lab_unavailable(str(exc))
    try:
        with motolab.lab_credentials():
            ids = deploy(lab)
            live = scan(work, "live", {"type": "aws", "endpoint_url": lab.endpoint, "accounts": [ACCOUNT],
                                       "role_name": motolab.ROLE_NAME, "regions": [REGION]})
        code = scan(work, "code", {"type": "iac", "path": str(FIXTURE), "root": str(FIXTURE),
                                   "account": ACCOUNT, "region": REGION})
    finally:
        lab.stop()
    return code, live, ids


def _code_only(f: dict[str, Any]) -> bool:
    return (f["check"], f["resource"]) in CODE_ONLY or (None, f["resource"]) in CODE_ONLY


def test_runtime_only_checks_are_not_applicable_on_the_code_side_with_the_reason(both: Any) -> None:
    code, live, _ = both
    runtime = {f["check"] for f in code if f["message"] == "runtime state, verified by the live scan"}
    assert runtime == RUNTIME_ONLY
    assert {f["status"] for f in code if f["check"] in RUNTIME_ONLY} == {"not_applicable"}
    assert RUNTIME_ONLY <= {f["check"] for f in live}  # the live scan judges them


def test_what_the_code_cannot_judge_is_an_error_named_with_its_resource(both: Any) -> None:
    code, _, _ = both
    errors = {(f["check"], f["resource"]) for f in code if f["status"] == "error"}
    assert {r for _, r in errors} == {r for _, r in CODE_ONLY}
    assert all(_code_only({"check": c, "resource": r}) for c, r in errors)


def test_code_and_live_give_the_same_verdict_for_every_check_both_can_judge(both: Any) -> None:
    code_findings, live_findings, ids = both
    code = verdicts([f for f in code_findings if not _code_only(f) and f["check"] not in RUNTIME_ONLY], {})
    live = verdicts([f for f in live_findings if f["check"] not in RUNTIME_ONLY], ids)
    unjudged = {(c, DEPLOYED_AS[r]) for c, r in CODE_ONLY if c is not None}
    assert unjudged <= set(live)
    live = {k: v for k, v in live.items() if k not in unjudged}

    assert {k for k in AWS_MADE if k in live and k not in code} == AWS_MADE
    for check in MOTO_LIMITS:
        assert {v for k, v in live.items() if k[0] == check} == {"error"}
        assert {v for k, v in code.items() if k[0] == check} == {"fail"}
    comparable = {k for k in set(code) | set(live) if k not in AWS_MADE and k[0] not in MOTO_LIMITS}
    differ = {k: (code.get(k), live.get(k)) for k in comparable if code.get(k) != live.get(k)}
    assert differ == {}

    judged_live = {c for c, _ in live} - set(MOTO_LIMITS)
    assert {c for c, _ in comparable} == judged_live  # every check the live scan judges is compared
    assert len(comparable) >= 35, sorted(comparable)
    assert {code[k] for k in comparable} >= {"pass", "fail", "not_applicable"}  # not a trivial agreement
