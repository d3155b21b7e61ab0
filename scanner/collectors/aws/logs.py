"""CloudWatch Logs facts: log groups and their retention."""
from __future__ import annotations

from scanner.collectors.aws._api import Api, AwsFact, declare
from scanner.facts.aws import LogGroup


def _days(value: object) -> int | None:
    """retentionInDays: absent means the events never expire; anything but a positive whole number is an error."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"retentionInDays is {value!r}, not a positive number of days")
    return value


def _log_groups(api: Api, region: str) -> list[LogGroup]:
    return [
        LogGroup(account=api.account.id, region=region, name=g["logGroupName"],
                 arn=g.get("arn", api.account.arn("logs", region, f"log-group:{g['logGroupName']}")).removesuffix(":*"),
                 retention_days=_days(g.get("retentionInDays")))
        for g in api.pages(api.fact.call("DescribeLogGroups"), region, "logGroups")
    ]


DEFINITIONS: tuple[AwsFact, ...] = (
    AwsFact("aws.log_groups", (declare("logs", "DescribeLogGroups"),), _log_groups),
)
