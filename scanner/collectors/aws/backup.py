"""AWS Backup facts: backup plans and the vaults their rules target."""
from __future__ import annotations

from collections.abc import Mapping

from scanner.collectors.aws._api import Api, AwsFact, Fields, Response, declare
from scanner.facts.aws import BackupPlan, BackupVaultRef


def _backup_plans(api: Api, region: str) -> list[BackupPlan]:
    plans = api.pages(api.fact.call("ListBackupPlans"), region, "BackupPlansList")
    vaults = {v["BackupVaultName"]: v for v in api.pages(api.fact.call("ListBackupVaults"), region, "BackupVaultList")}
    return api.each(lambda p: _backup_plan(api, region, p, vaults), plans)


def _backup_plan(api: Api, region: str, plan: Response, vaults: Mapping[str, Response]) -> BackupPlan:
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


DEFINITIONS: tuple[AwsFact, ...] = (
    AwsFact("aws.backup_plans",
            (declare("backup", "ListBackupPlans"), declare("backup", "GetBackupPlan"),
             declare("backup", "ListBackupVaults")),
            _backup_plans),
)
