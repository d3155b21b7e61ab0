"""RDS: storage encryption, automated backup retention, deletion protection."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from checks.aws._common import none_found, where
from scanner.facts.aws import AwsResources, RdsInstance
from scanner.model import Finding, failed, passed
from scanner.registry import check


def _each(rds_instances: AwsResources[RdsInstance], ok: Callable[[RdsInstance], bool], good: str, bad: str,
          observe: Callable[[RdsInstance], dict[str, Any]]) -> list[Finding]:
    out = []
    for d in rds_instances.items:
        obs: dict[str, Any] = dict(**where(d), instance=d.id, engine=d.engine, **observe(d))
        out.append(passed(d.arn, f"{d.id}: {good}", **obs) if ok(d) else failed(d.arn, f"{d.id}: {bad}", **obs))
    return out or none_found(rds_instances, "RDS DB instances")


@check(id="aws.rds.storage_encryption", title="RDS storage is encrypted", severity="high", area="encryption",
       criterion="every RDS DB instance has StorageEncrypted = true",
       remediation="Encryption is set when an instance is created: restore an encrypted copy of a snapshot into "
                   "a new instance and cut over to it.")
def storage_encryption(rds_instances: AwsResources[RdsInstance]) -> list[Finding]:
    return _each(rds_instances, lambda d: d.storage_encrypted, "storage encrypted", "storage not encrypted",
                 lambda d: {"storage_encrypted": d.storage_encrypted, "kms_key_id": d.kms_key_id})


@check(id="aws.rds.backup_retention", title="RDS automated backups are kept", severity="high", area="backup",
       criterion="every RDS DB instance keeps automated backups for at least backup_retention_days (and > 0)",
       remediation="Set the instance's backup retention period to at least the required number of days (Modify, "
                   "Backup); add AWS Backup for longer-term copies if needed.")
def backup_retention(rds_instances: AwsResources[RdsInstance], backup_retention_days: int = 7) -> list[Finding]:
    need = max(1, backup_retention_days)
    return _each(rds_instances, lambda d: d.backup_retention_days >= need,
                 f"backups kept >= {need} days", f"backups kept < {need} days",
                 lambda d: {"backup_retention_days": d.backup_retention_days, "required_days": need})


@check(id="aws.rds.deletion_protection", title="RDS deletion protection is on", severity="medium", area="backup",
       criterion="every RDS DB instance has DeletionProtection = true",
       remediation="Enable deletion protection on the instance (Modify, Deletion protection).")
def deletion_protection(rds_instances: AwsResources[RdsInstance]) -> list[Finding]:
    return _each(rds_instances, lambda d: d.deletion_protection, "deletion protection on",
                 "deletion protection off", lambda d: {"deletion_protection": d.deletion_protection})
