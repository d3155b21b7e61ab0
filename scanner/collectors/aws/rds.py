"""RDS facts: DB instances with storage encryption, automated backup retention and deletion protection."""
from __future__ import annotations

from scanner.collectors.aws._api import Api, AwsFact, declare
from scanner.facts.aws import RdsInstance


def _rds_instances(api: Api, region: str) -> list[RdsInstance]:
    return [
        RdsInstance(account=api.account.id, region=region, id=d["DBInstanceIdentifier"], arn=d["DBInstanceArn"],
                    engine=d.get("Engine", ""), storage_encrypted=bool(d.get("StorageEncrypted")),
                    kms_key_id=d.get("KmsKeyId"), backup_retention_days=int(d.get("BackupRetentionPeriod", 0)),
                    deletion_protection=bool(d.get("DeletionProtection")))
        for d in api.pages(api.fact.call("DescribeDBInstances"), region, "DBInstances")
    ]


DEFINITIONS: tuple[AwsFact, ...] = (
    AwsFact("aws.rds_instances", (declare("rds", "DescribeDBInstances"),), _rds_instances),
)
