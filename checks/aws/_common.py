"""Helpers shared by the AWS checks: where a resource lives, incomplete evidence, tag scoping, policies."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from scanner.facts.aws import AwsItem, AwsResources, PartlyRead, PolicyDocument, S3Bucket
from scanner.model import Finding, error, not_applicable

#: AWS managed policies that grant every action on every resource (their documents are not collected).
ADMIN_MANAGED_POLICIES = frozenset({"AdministratorAccess"})
#: Condition keys that keep a resource policy statement from being public when pinned to fixed values: who
#: calls (account, organisation, principal) or from where (network, VPC, source resource). Lower case: IAM
#: compares condition keys case-insensitively.
RESTRICTING_KEYS = frozenset(k.lower() for k in (
    "aws:SourceIp", "aws:SourceVpc", "aws:SourceVpce", "aws:SourceAccount", "aws:SourceArn", "aws:SourceOwner",
    "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:PrincipalAccount", "aws:PrincipalArn", "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths", "aws:userid", "aws:username", "s3:DataAccessPointAccount", "s3:DataAccessPointArn"))
#: Condition operators that, on a restricting key, admit only the listed values.
RESTRICTING_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike",
                                   "IpAddress"})
WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})


def where(item: AwsItem) -> dict[str, Any]:
    """The account and region every finding carries in its observed values."""
    return {"account": item.account, "region": item.region}


def incomplete(item: PartlyRead, *fields: str) -> Finding | None:
    """An error finding when any of the named fields (all, if none named) could not be read."""
    if not item.errors:  # most items: read whole
        return None
    missing = {k: v for k, v in item.errors.items() if not fields or k in fields or k.split(" ", 1)[0] in fields}
    if not missing:
        return None
    reasons = "; ".join(missing.values())
    return error(item.arn, f"evidence incomplete for {item.arn}: {reasons}", **where(item),
                 missing=sorted(missing))


def none_found(resources: AwsResources[object], what: str) -> list[Finding]:
    """One not_applicable finding per scanned account and region when a resource type is absent."""
    out = []
    for scope in resources.scopes:
        out.append(not_applicable(scope.account_arn, f"no {what} in account {scope.account} ({scope.region})",
                                  account=scope.account, region=scope.region))
    return out or [error("aws", f"no account was scanned for {what}")]


def age_days(when: datetime | None, now: datetime | None = None) -> int | None:
    if when is None:
        return None
    now = now or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (now - when).days


def is_records(tags: Mapping[str, str], records_tag: str) -> bool:
    """Whether a resource is in the records scope: ``""`` means every resource, else ``key`` or ``key=value``."""
    if not records_tag:
        return True
    key, sep, value = records_tag.partition("=")
    return key in tags and (not sep or tags[key] == value)


def out_of_records_scope(b: S3Bucket, records_tag: str, observed: Mapping[str, Any]) -> Finding | None:
    """The finding for a bucket that is not (or not knowably) in the records scope; None when it is in it."""
    bad = incomplete(b, "tags")
    if bad:
        return bad
    if records_tag and not b.tags_read:
        return error(b.arn, f"bucket {b.name}: tags were not collected, records scope unknown", **observed)
    if not is_records(b.tags, records_tag):
        return not_applicable(b.arn, f"bucket {b.name} is not tagged {records_tag}", **observed)
    return None


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, Mapping)):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    return [value]


def statements(document: PolicyDocument | None) -> list[Mapping[str, Any]]:
    if not document:
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def grants_everything(document: PolicyDocument | None) -> bool:
    """An Allow of every action (``*`` or ``*:*``) on every resource (``*``, or all but a few: ``NotResource``)."""
    for s in statements(document):
        if s.get("Effect") != "Allow" or "NotAction" in s:
            continue
        actions = {str(a).lower() for a in as_list(s.get("Action"))}
        resources = set(as_list(s.get("Resource")))
        if actions & {"*", "*:*"} and ("*" in resources or "NotResource" in s):
            return True
    return False


def public_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return "*" in as_list(principal.get("AWS"))
    return False


def _pins(operator: str, values: Any) -> bool:
    """Whether a condition operator with these values admits only fixed, non-wildcard values."""
    base = operator.removeprefix("ForAnyValue:")
    if base not in RESTRICTING_OPERATORS:  # negations, ...IfExists, ForAllValues:, Null, Bool, numbers, dates
        return False
    listed = [str(v) for v in as_list(values)]
    return bool(listed) and not any("*" in v or v in WORLD_CIDRS for v in listed)


def restricts_caller(condition: Any) -> bool:
    """A condition that admits only named accounts, organisations, principals, networks or source resources."""
    if not isinstance(condition, Mapping):
        return False
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            continue
        for key, values in block.items():
            if str(key).lower() in RESTRICTING_KEYS and _pins(str(operator), values):
                return True
    return False


def policy_is_public(document: PolicyDocument | None) -> bool:
    """An Allow to everyone (``*``, or everyone but some: ``NotPrincipal``) that no condition limits to known
    callers; a condition on anything else (TLS, time, tags) does not make a statement private."""
    return any(s.get("Effect") == "Allow" and (public_principal(s.get("Principal")) or "NotPrincipal" in s)
               and not restricts_caller(s.get("Condition"))
               for s in statements(document))
