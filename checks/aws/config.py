"""AWS Config: a recorder records all resource types in every region."""
from __future__ import annotations

from typing import Any

from checks.aws._common import none_found, where
from scanner.facts.aws import AwsResources, ConfigRegion
from scanner.model import Finding, failed, passed
from scanner.registry import check


@check(id="aws.config.recorder", title="AWS Config records in every region", severity="medium",
       area="audit_logging",
       criterion="every scanned region has a configuration recorder that is recording all supported resource types "
                 "and whose last recording did not fail",
       remediation="Start an AWS Config recorder in each listed region recording all supported resource types "
                   "(and global resources in one region), with a delivery channel to a protected bucket.")
def recorder(config_recorders: AwsResources[ConfigRegion]) -> list[Finding]:
    out = []
    for r in config_recorders.items:
        good = [c for c in r.recorders if c.recording and c.all_supported and not c.last_failed]
        obs: dict[str, Any] = dict(**where(r), recorders=[
            dict(name=c.name, recording=c.recording, all_supported=c.all_supported, last_status=c.last_status)
            for c in r.recorders])
        arn = good[0].arn if good else r.arn
        if good:
            out.append(passed(arn, f"recorder {good[0].name} records all resources in {r.region}", **obs))
        elif r.recorders:
            out.append(failed(arn, f"no recorder in {r.region} is recording all supported resources "
                                   "successfully", **obs))
        else:
            out.append(failed(arn, f"no configuration recorder in {r.region}", **obs))
    return out or none_found(config_recorders, "regions")
