"""AWS Backup: a plan exists and backs up into encrypted vaults."""
from __future__ import annotations

from typing import Any

from scanner.facts.aws import AwsResources, BackupPlan
from scanner.model import Finding, error, failed, passed
from scanner.registry import check


def _vaults_ok(plan: BackupPlan) -> bool:
    return bool(plan.vaults) and all(v.found and v.encryption_key_arn for v in plan.vaults)


@check(id="aws.backup.plan", title="An AWS Backup plan exists with encrypted vaults", severity="high",
       area="backup",
       criterion="each account has at least one backup plan whose rules all target existing, KMS-encrypted vaults",
       remediation="Create an AWS Backup plan with rules that target existing vaults encrypted with a KMS key, "
                   "and assign the GxP resources to it.")
def plan(backup_plans: AwsResources[BackupPlan]) -> list[Finding]:
    out = []
    for account in backup_plans.accounts():
        mine = [p for p in backup_plans.items if p.account == account]
        good = [p for p in mine if not p.errors and _vaults_ok(p)]
        obs: dict[str, Any] = dict(account=account, region="global", plans=[
            dict(name=p.name, region=p.region, vaults=[v.name for v in p.vaults],
                 encrypted=[bool(v.encryption_key_arn) for v in p.vaults]) for p in mine])
        if good:
            p = good[0]
            out.append(passed(p.arn, f"backup plan {p.name} targets encrypted vault(s) "
                                     f"{', '.join(v.name for v in p.vaults)}", **{**obs, "region": p.region}))
        elif any(p.errors for p in mine):
            p = next(p for p in mine if p.errors)
            out.append(error(p.arn, f"backup plan {p.name} could not be read: {'; '.join(p.errors.values())}",
                             **{**obs, "region": p.region}))
        elif mine:
            out.append(failed(mine[0].arn, "no backup plan targets only existing, encrypted vaults", **obs))
        else:
            out.append(failed(backup_plans.account_arn(account),
                              f"account {account} has no AWS Backup plan in the scanned regions", **obs))
    return out or [error("aws", "no account was scanned for backup plans")]
