"""CloudWatch Logs: log groups keep their events long enough."""
from __future__ import annotations

from typing import Any

from checks.aws._common import none_found, where
from scanner.facts.aws import AwsResources, LogGroup
from scanner.model import Finding, failed, passed
from scanner.registry import check


@check(id="aws.logs.retention", title="Log groups keep events long enough", severity="medium",
       area="audit_logging",
       criterion="every log group keeps events at least log_retention_days, or at least the target's declared "
                 "records retention (gxp_context.records_retention_days) when that is longer (never-expire passes)",
       remediation="Set the log group's retention to at least the required number of days (or leave it unlimited "
                   "and manage retention by export).")
def retention(log_groups: AwsResources[LogGroup], log_retention_days: int = 365,
              records_retention_days: int = 0) -> list[Finding]:
    need = max(log_retention_days, records_retention_days)
    basis = " for the declared records retention" if records_retention_days > log_retention_days else ""
    out = []
    for g in log_groups.items:
        days = g.retention_days
        obs: dict[str, Any] = dict(**where(g), log_group=g.name,
                                   retention_days=days if days is not None else "never expire",
                                   required_days=need)
        if records_retention_days:
            obs["records_retention_days"] = records_retention_days
        if days is None:
            out.append(passed(g.arn, f"log group {g.name} keeps events forever (no retention limit set)", **obs))
        elif days >= need:
            out.append(passed(g.arn, f"log group {g.name} keeps events for {days} days "
                                     f"(at least {need} required{basis})", **obs))
        else:
            out.append(failed(g.arn, f"log group {g.name} keeps events for only {days} days "
                                     f"(at least {need} required{basis})", **obs))
    return out or none_found(log_groups, "log groups")
