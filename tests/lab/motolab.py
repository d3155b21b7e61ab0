"""moto in server mode as an AWS lab: real HTTP, real botocore (signing, retries, pagination).

``start_moto()`` runs ``moto_server -H 127.0.0.1 -p PORT`` on a free port and waits until it answers.
Accounts are separate in moto by account id: assuming ``arn:aws:iam::ACCOUNT:role/NAME`` through moto's
STS gives credentials that act in ACCOUNT, so one server holds a compliant and a non-compliant account.
``populate_compliant`` / ``populate_noncompliant`` build them through the public AWS APIs.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

COMPLIANT = "111111111111"
NONCOMPLIANT = "222222222222"
ROLE_NAME = "gxpscan-audit"
REGIONS = ("us-east-1", "eu-west-1")
RECORDS_TAG = "gxp=records"
#: Credentials of the lab's base principal. The secret is planted: no gxpscan output may contain it.
ACCESS_KEY_ID = "AKIAGXPSCANLABKEY001"
PLANTED_SECRET = "gxpscanPLANTEDsecretKEY0123456789abcdef"


@dataclass
class MotoServer:
    endpoint: str
    proc: subprocess.Popen[bytes]
    log_path: str

    def session(self, account: str | None = None, region: str = REGIONS[0]) -> Any:
        """A boto3 session acting in ``account`` (the default account when None)."""
        import boto3

        base = boto3.session.Session(aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=PLANTED_SECRET,
                                     region_name=region)
        if account is None:
            return base
        creds = base.client("sts", endpoint_url=self.endpoint).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{ROLE_NAME}", RoleSessionName="lab-setup")["Credentials"]
        return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                     aws_secret_access_key=creds["SecretAccessKey"],
                                     aws_session_token=creds["SessionToken"], region_name=region)

    def client(self, session: Any, service: str, region: str = REGIONS[0]) -> Any:
        from scanner.connectors.aws import pin_host

        client = session.client(service, region_name=region, endpoint_url=self.endpoint)
        if service == "s3control":
            client.meta.events.register("before-sign.s3-control", pin_host(self.endpoint))
        return client

    def enforce_iam(self) -> None:
        """From now on moto authenticates and authorizes every request (moto's /moto-api/reset-auth)."""
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_moto(log_dir: str, timeout: float = 20.0, managed_policies: bool = True) -> MotoServer:
    """Start a private moto server; raises RuntimeError (with its log) when it does not come up.

    ``managed_policies`` loads AWS managed policies (AdministratorAccess, ReadOnlyAccess) into each account.
    """
    exe = shutil.which("moto_server")
    if exe is None:
        raise RuntimeError("moto_server not found (pip install 'moto[server]')")
    port = _free_port()
    log_path = os.path.join(log_dir, f"moto-{port}.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true" if managed_policies else "false"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    server = MotoServer(endpoint=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{server.endpoint}/moto-api/data.json", timeout=1) as resp:
                resp.read()
            return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    with open(log_path, encoding="utf-8", errors="replace") as fh:
        raise RuntimeError(f"moto_server did not start: {fh.read()[-2000:]}")


@contextmanager
def lab_credentials(key_id: str = ACCESS_KEY_ID, secret: str = PLANTED_SECRET) -> Iterator[None]:
    """Credentials in the environment (the standard chain), no host AWS config files."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret,
                      AWS_DEFAULT_REGION=REGIONS[0], AWS_CONFIG_FILE=os.devnull,
                      AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            del os.environ[key]
        os.environ.update(saved)


def tls_only_policy(bucket: str, log_delivery: bool = False) -> str:
    statements = [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
    if log_delivery:  # moto, like S3, wants the log target to admit the logging service
        statements.append({"Sid": "S3ServerAccessLogs", "Effect": "Allow",
                           "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
                           "Resource": f"arn:aws:s3:::{bucket}/*"})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


PAB_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
          "RestrictPublicBuckets": True}


def _bucket(s3: Any, name: str, *, tags: dict[str, str] | None = None, lock: bool = False) -> None:
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
    if tags:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})


def _secure_bucket(s3: Any, name: str, log_delivery: bool = False, **kw: Any) -> None:
    _bucket(s3, name, **kw)
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    s3.put_bucket_policy(Bucket=name, Policy=tls_only_policy(name, log_delivery))
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=PAB_ON)


def populate_compliant(lab: MotoServer, account: str = COMPLIANT) -> None:
    s = lab.session(account)
    iam = lab.client(s, "iam")
    iam.update_account_password_policy(
        MinimumPasswordLength=16, RequireSymbols=True, RequireNumbers=True, RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True, MaxPasswordAge=60, PasswordReusePrevention=24)
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-Battery-9")
    mfa = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]
    iam.enable_mfa_device(UserName="alice", SerialNumber=mfa["SerialNumber"], AuthenticationCode1="123456",
                          AuthenticationCode2="654321")
    iam.create_access_key(UserName="alice")
    iam.attach_user_policy(UserName="alice", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    arn = iam.create_policy(PolicyName="records-reader", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                               "Resource": "arn:aws:s3:::gxp-records-111/*"}]}))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="alice", PolicyArn=arn)

    s3 = lab.client(s, "s3")
    lab.client(s, "s3control").put_public_access_block(AccountId=account, PublicAccessBlockConfiguration=PAB_ON)
    _secure_bucket(s3, "access-logs-111", log_delivery=True)
    _secure_bucket(s3, "trail-111")
    _secure_bucket(s3, "gxp-records-111", tags={"gxp": "records", "owner": "qa"}, lock=True)
    s3.put_object_lock_configuration(Bucket="gxp-records-111", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 3650}}})
    s3.put_bucket_logging(Bucket="gxp-records-111", BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": "access-logs-111", "TargetPrefix": "gxp-records/"}})

    kms_keys = {}
    for region in REGIONS:
        ec2 = lab.client(s, "ec2", region)
        ec2.enable_ebs_encryption_by_default()
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
        ec2.create_volume(AvailabilityZone=f"{region}a", Size=10, Encrypted=True)
        kms = lab.client(s, "kms", region)
        kms_keys[region] = kms.create_key(Description="records")["KeyMetadata"]["Arn"]
        # moto makes the EBS default key a customer managed key (AWS manages it): rotate every key here.
        for key in kms.list_keys()["Keys"]:
            kms.enable_key_rotation(KeyId=key["KeyId"])
        cfg = lab.client(s, "config", region)
        cfg.put_configuration_recorder(ConfigurationRecorder={
            "name": "default", "roleARN": f"arn:aws:iam::{account}:role/config",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": region == REGIONS[0]}})
        cfg.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "access-logs-111"})
        cfg.start_configuration_recorder(ConfigurationRecorderName="default")
        lab.client(s, "logs", region).create_log_group(logGroupName=f"/gxp/app-{region}")
        lab.client(s, "logs", region).put_retention_policy(logGroupName=f"/gxp/app-{region}", retentionInDays=400)

    rds = lab.client(s, "rds")
    rds.create_db_instance(DBInstanceIdentifier="lims-db", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="lims", MasterUserPassword="Lims-Password-1", AllocatedStorage=20,
                           StorageEncrypted=True, KmsKeyId=kms_keys[REGIONS[0]], BackupRetentionPeriod=14,
                           DeletionProtection=True)

    ct = lab.client(s, "cloudtrail")
    ct.create_trail(Name="org-trail", S3BucketName="trail-111", IsMultiRegionTrail=True,
                    EnableLogFileValidation=True, KmsKeyId=kms_keys[REGIONS[0]])
    ct.put_event_selectors(TrailName="org-trail", AdvancedEventSelectors=[  # management events, and S3 data events
        {"Name": "management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
        {"Name": "records data", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]}, {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::gxp-records-111/"]}]}])
    ct.start_logging(Name="org-trail")

    backup = lab.client(s, "backup")
    backup.create_backup_vault(BackupVaultName="gxp-vault", EncryptionKeyArn=kms_keys[REGIONS[0]])
    backup.create_backup_plan(BackupPlan={"BackupPlanName": "daily", "Rules": [{
        "RuleName": "daily", "TargetBackupVaultName": "gxp-vault", "ScheduleExpression": "cron(0 3 * * ? *)"}]})


def populate_noncompliant(lab: MotoServer, account: str = NONCOMPLIANT) -> None:
    s = lab.session(account)
    iam = lab.client(s, "iam")
    iam.create_user(UserName="bob")
    iam.create_login_profile(UserName="bob", Password="password")
    iam.create_access_key(UserName="bob")
    iam.attach_user_policy(UserName="bob", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.create_user(UserName="carol")
    iam.put_user_policy(UserName="carol", PolicyName="everything", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))

    s3 = lab.client(s, "s3")
    _bucket(s3, "records-222", tags={"gxp": "records"})
    _bucket(s3, "scratch-222")
    _bucket(s3, "trail-222")
    s3_eu = lab.client(s, "s3", REGIONS[1])
    s3_eu.create_bucket(Bucket="records-eu-222", CreateBucketConfiguration={"LocationConstraint": REGIONS[1]})
    s3_eu.put_bucket_tagging(Bucket="records-eu-222", Tagging={"TagSet": [{"Key": "gxp", "Value": "records"}]})
    for name in ("records-222", "scratch-222", "trail-222", "records-eu-222"):
        s3.delete_bucket_encryption(Bucket=name)  # moto, like AWS, may apply SSE-S3 by default
    s3.put_bucket_policy(Bucket="trail-222", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::trail-222/*"}]}))

    for region in REGIONS:
        ec2 = lab.client(s, "ec2", region)
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        sg = ec2.create_security_group(GroupName="admin", Description="admin", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
        ec2.create_volume(AvailabilityZone=f"{region}a", Size=10)
        lab.client(s, "kms", region).create_key(Description="no rotation")
        lab.client(s, "logs", region).create_log_group(logGroupName=f"/app/{region}")
        lab.client(s, "logs", region).put_retention_policy(logGroupName=f"/app/{region}", retentionInDays=7)

    lab.client(s, "rds").create_db_instance(
        DBInstanceIdentifier="legacy-db", DBInstanceClass="db.t3.micro", Engine="mysql", MasterUsername="admin",
        MasterUserPassword="Legacy-Password-1", AllocatedStorage=20, BackupRetentionPeriod=0)
    lab.client(s, "cloudtrail").create_trail(Name="local-trail", S3BucketName="trail-222")


def lab_target_options(lab: MotoServer, **extra: Any) -> dict[str, Any]:
    """Inventory options of an ``aws`` target covering both lab accounts through the audit role."""
    return {"endpoint_url": lab.endpoint, "accounts": [COMPLIANT, NONCOMPLIANT], "role_name": ROLE_NAME,
            "regions": list(REGIONS), **extra}
