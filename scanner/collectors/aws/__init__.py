"""AWS facts: each resource type listed once per account and region, paginated; per-resource calls
run concurrently with a bound (the target's ``max_workers``). One module per service declares its facts
(``DEFINITIONS``); the value types are the contract in ``scanner.facts.aws``.

Every API call goes through one table: each fact declares the calls it may make (``AwsFact.calls``),
and ``Api.call`` refuses any call its fact did not declare. ``aws_iam_policy()`` is built from the same
table, so the least-privilege policy cannot drift from what the collectors do.

Failure semantics (fail closed):
- a listing that fails in any account or region fails the whole fact, naming the API action
  ("s3:ListAllMyBuckets denied ...");
- a per-resource call that fails is kept on that resource (``errors``: field -> message), so the check
  reports ``error`` for that resource and never ``pass``;
- an answer that means "not configured" (e.g. ``NoSuchBucketPolicy``) is a value (``None``), not an error.
Throttling is retried by botocore's adaptive retry mode (see the connector).
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from scanner.collectors import FactSpec
from scanner.collectors.aws import backup, cloudtrail, config, ec2, iam, kms, logs, rds, s3
from scanner.collectors.aws._api import Api, ApiError, AwsFact, Call, declare
from scanner.collectors.aws.system import SYSTEM_FACT, system_fact
from scanner.facts.aws import GLOBAL, AwsResources, Scope
from scanner.model import Evidence, Fact, Target, thaw

if TYPE_CHECKING:
    from scanner.connectors.aws import Account, AWSConnector

__all__ = ["DEFINITIONS", "FACTS", "Api", "ApiError", "AwsFact", "Call", "aws_iam_policy", "collect", "declare",
           "declared_calls"]

DEFINITIONS: tuple[AwsFact, ...] = (
    *iam.DEFINITIONS, *s3.DEFINITIONS, *ec2.DEFINITIONS, *rds.DEFINITIONS, *kms.DEFINITIONS,
    *cloudtrail.DEFINITIONS, *backup.DEFINITIONS, *config.DEFINITIONS, *logs.DEFINITIONS,
)

FACTS: dict[str, FactSpec] = {**{d.name: FactSpec(d.name, d.description) for d in DEFINITIONS},
                              SYSTEM_FACT.name: SYSTEM_FACT}  # the system under test (issue 11)


def aws_iam_policy() -> dict[str, Any]:
    """The least-privilege IAM policy for a scan: exactly the actions the collectors and connector call."""
    from scanner.connectors.aws import CONNECTOR_CALLS

    actions = {c.action for d in DEFINITIONS for c in d.calls} | {a for _, _, a in CONNECTOR_CALLS}
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "GxpscanReadOnly", "Effect": "Allow", "Action": sorted(actions), "Resource": "*"}],
    }


def declared_calls() -> frozenset[tuple[str, str]]:
    """(client name, operation) of every declared call, for tests that watch the wire."""
    from scanner.connectors.aws import CONNECTOR_CALLS

    return frozenset({(c.service, c.operation) for d in DEFINITIONS for c in d.calls}
                     | {(s, o) for s, o, _ in CONNECTOR_CALLS})


# ------------------------------------------------------------------------------------- collection
def _regions_for(connector: AWSConnector, account: Account, definition: AwsFact) -> tuple[str, ...]:
    """The regions to list in; never a default region the inventory did not name (that would be a region nobody
    asked about standing in for the ones that were). Account-wide facts are asked in the first region."""
    regions = connector.regions.get(account.id)
    if not regions:
        raise ApiError(f"no region resolved for account {account.id}: nothing would be scanned")
    return regions if definition.regional else regions[:1]


def _collect_one(connector: AWSConnector, definition: AwsFact, pool: ThreadPoolExecutor,
                 records_tag: str = "") -> Fact:
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    scopes: list[Scope] = []
    items: list[Any] = []
    started = time.monotonic()
    try:
        for account in connector.accounts:
            api = Api(connector, account, definition, pool, counts, lock, records_tag)
            for region in _regions_for(connector, account, definition):
                items.extend(definition.gather(api, region))
                scopes.append(Scope(account.id, region if definition.regional else GLOBAL, account.partition,
                                    account.root_arn))
    except ApiError as exc:
        source = _source(counts, connector)
        return Fact.failed(definition.name, str(exc), (Evidence.of(source, str(exc)),))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # an answer we could not parse
        message = f"unexpected AWS response for {definition.name}: {type(exc).__name__}: {exc}"
        return Fact.failed(definition.name, message, (Evidence.of(_source(counts, connector), message),))
    value = AwsResources(scopes=tuple(scopes), items=tuple(items))
    raw = json.dumps(thaw(value), default=str, sort_keys=True)
    source = _source(counts, connector) + f"; {time.monotonic() - started:.2f} s"
    return Fact(name=definition.name, value=value, evidence=(Evidence.of(source, raw),))


def _source(counts: Counter[str], connector: AWSConnector) -> str:
    calls = ", ".join(f"{action} x{n}" for action, n in sorted(counts.items()))
    accounts = ",".join(a.id for a in connector.accounts)
    return f"AWS API ({accounts}): {calls or 'no calls'}"


def collect(connector: AWSConnector, target: Target, names: Iterable[str]) -> dict[str, Fact]:
    """Collect the named facts; facts run side by side, each one's per-resource calls in a bounded pool."""
    wanted = [d for d in DEFINITIONS if d.name in set(names)]
    out: dict[str, Fact] = {n: Fact.failed(n, "unknown AWS fact") for n in names if n not in FACTS}
    workers = max(1, int(target.opt("max_workers", getattr(connector, "max_workers", 16))))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aws-res") as pool, \
            ThreadPoolExecutor(max_workers=min(8, max(1, len(wanted))), thread_name_prefix="aws-fact") as facts:
        records_tag = str(target.policy.get("records_tag") or "")
        results = facts.map(lambda d: _collect_one(connector, d, pool, records_tag), wanted)
        for definition, fact in zip(wanted, results, strict=True):
            out[definition.name] = fact
    if SYSTEM_FACT.name in set(names):
        out[SYSTEM_FACT.name] = system_fact(connector)
    return out
