"""ARNs in every partition: GovCloud (aws-us-gov) and China (aws-cn) findings never name an ``arn:aws:`` resource.

Facts are built by a factory as the collector builds them in a partition (every item's ARN, every scope's
account ARN); each AWS check runs on a weak account and on an empty one, where the account-wide findings
(root user, password policy, "no trail", "no backup plan", "nothing found") carry the account's root ARN.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from scanner.facts.aws import (
    GLOBAL,
    AccessKey,
    AccountPublicAccessBlock,
    AccountSummary,
    AnalyzerRegion,
    AttachedPolicy,
    AwsResources,
    ConfigRegion,
    CredentialUser,
    EbsDefaultEncryption,
    EbsVolume,
    IamUser,
    Ingress,
    KmsKey,
    LogGroup,
    PasswordPolicy,
    RdsInstance,
    S3Bucket,
    Scope,
    SecurityGroup,
    Trail,
)
from scanner.model import Fact, Platform, Target
from scanner.registry import Registry
from scanner.runner import evaluate

ACCOUNT = "123456789012"
PARTITIONS = {"aws-us-gov": "us-gov-west-1", "aws-cn": "cn-north-1"}
LONG_AGO = datetime.now(timezone.utc) - timedelta(days=400)


def arn(partition: str, service: str, region: str, resource: str, account: str = ACCOUNT) -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def weak_account(partition: str, region: str) -> dict[str, tuple[Any, ...]]:
    """Items of an account that fails nearly every check, as the collector would build them in ``partition``."""
    root = arn(partition, "iam", "", "root")
    admin = AttachedPolicy(arn(partition, "iam", "", "policy/AdministratorAccess", account="aws"),
                           "AdministratorAccess", None, aws_managed=True)
    user_arn = arn(partition, "iam", "", "user/dev")
    return {
        "account_summary": (AccountSummary(ACCOUNT, root, False, True, 1),),
        "password_policy": (PasswordPolicy(ACCOUNT, root, False),),
        "iam_credential_report": (CredentialUser(
            ACCOUNT, "dev", user_arn, LONG_AGO, True, LONG_AGO, LONG_AGO, False,
            (AccessKey(1, True, LONG_AGO, LONG_AGO), AccessKey(2, False, None, None))),),
        "iam_users": (IamUser(ACCOUNT, "dev", user_arn, attached=(admin,)),),
        "access_analyzers": (AnalyzerRegion(ACCOUNT, region, arn(partition, "access-analyzer", region, "analyzer"),
                                            ()),),
        "s3_buckets": (S3Bucket(ACCOUNT, region, "records", f"arn:{partition}:s3:::records"),),
        "s3_account_public_access_block": (AccountPublicAccessBlock(ACCOUNT, root, None),),
        "security_groups": (SecurityGroup(ACCOUNT, region, "sg-1", "g", arn(partition, "ec2", region,
                                                                          "security-group/sg-1"), "vpc-1",
                                          (Ingress("tcp", 22, 22, ("0.0.0.0/0",)),)),),
        "ebs_default_encryption": (EbsDefaultEncryption(ACCOUNT, region, arn(partition, "ec2", region,
                                                                             "ebs-encryption-by-default"), False),),
        "ebs_volumes": (EbsVolume(ACCOUNT, region, "vol-1", arn(partition, "ec2", region, "volume/vol-1"), False,
                                  None, "in-use"),),
        "rds_instances": (RdsInstance(ACCOUNT, region, "db", arn(partition, "rds", region, "db:db"), "mysql", False,
                                      None, 0, False),),
        "kms_keys": (KmsKey(ACCOUNT, region, "k", arn(partition, "kms", region, "key/k"), "CUSTOMER", "Enabled",
                            "SYMMETRIC_DEFAULT", False, rotatable=True),),
        "cloudtrail_trails": (),
        "backup_plans": (),
        "config_recorders": (ConfigRegion(ACCOUNT, region, arn(partition, "config", region, "configuration-recorder"),
                                          ()),),
        "log_groups": (LogGroup(ACCOUNT, region, "/app", arn(partition, "logs", region, "log-group:/app"), 1),),
    }


def trail_account(partition: str, region: str) -> dict[str, tuple[Any, ...]]:
    """A single-region trail: the per-trail checks judge it and multi_region fails for the account."""
    t = Trail(ACCOUNT, region, "t", arn(partition, "cloudtrail", region, "trail/t"), False, False, None, "logs",
              bucket_public_acl=True, is_logging=False, s3_data_events=())
    return {**weak_account(partition, region), "cloudtrail_trails": (t,)}


def facts_of(items: dict[str, tuple[Any, ...]], partition: str, region: str) -> dict[str, Fact]:
    root = arn(partition, "iam", "", "root")
    out = {}
    for name, values in items.items():
        regional = not values or getattr(values[0], "region", GLOBAL) != GLOBAL
        scope = Scope(ACCOUNT, region if regional else GLOBAL, partition, root)
        out[f"aws.{name}"] = Fact(f"aws.{name}", AwsResources(scopes=(scope,), items=values))
    return out


def specs() -> list[Any]:
    return Registry.load(["checks.aws"]).select()


@pytest.mark.parametrize("partition", sorted(PARTITIONS))
@pytest.mark.parametrize("shape", ["weak", "trail", "empty"])
def test_every_finding_names_a_resource_in_the_scanned_partition(partition: str, shape: str) -> None:
    region = PARTITIONS[partition]
    items = {"weak": weak_account, "trail": trail_account}.get(shape, weak_account)(partition, region)
    if shape == "empty":
        items = {k: () for k in items}
    facts = facts_of(items, partition, region)
    target = Target(name="gov", type=Platform.AWS, options={}, policy={})
    seen = 0
    for spec in specs():
        for f in evaluate(spec, facts, target):
            seen += 1
            assert f.resource.startswith(f"arn:{partition}:"), (spec.id, f.resource, f.message)
            assert f.status.value in ("fail", "not_applicable"), (spec.id, f.status, f.message)
    assert seen >= len(specs())


@pytest.mark.parametrize("partition", sorted(PARTITIONS))
def test_aws_managed_administrator_policy_is_recognised_in_every_partition(partition: str) -> None:
    """arn:aws-us-gov:iam::aws:policy/AdministratorAccess is the administrator policy there (was a pass)."""
    from checks.aws import iam

    region = PARTITIONS[partition]
    facts = facts_of(weak_account(partition, region), partition, region)
    (f,) = iam.user_admin_policies(facts["aws.iam_users"].value)
    assert (f.status.value, f.observed["admin_policies"]) == ("fail", ("AdministratorAccess",))
