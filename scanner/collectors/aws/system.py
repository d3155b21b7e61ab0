"""``aws.system``: the system under test, from the accounts and regions the connector resolved (no API call)."""
from __future__ import annotations

import json
from typing import Any

from scanner.collectors import FactSpec
from scanner.facts.aws import FACTS
from scanner.facts.system import SystemUnderTest
from scanner.model import Evidence, Fact

SYSTEM_FACT = FactSpec("aws.system", FACTS["aws.system"])


def system_fact(connector: Any) -> Fact:
    accounts = tuple(connector.accounts)
    if not accounts:
        return Fact.failed(SYSTEM_FACT.name, "no AWS account was resolved")
    ids = ",".join(a.id for a in accounts)
    partitions = ",".join(sorted({a.partition for a in accounts}))
    regions = sorted({r for a in accounts for r in (connector.regions.get(a.id) or ())})
    value = SystemUnderTest.of(
        platform="aws", hostname=ids, os="Amazon Web Services", os_version=f"partition {partitions}",
        account=ids, partition=partitions, regions=",".join(regions) or "none",
        identity=",".join(sorted({a.via for a in accounts})))
    raw = json.dumps(value.as_dict(), sort_keys=True)
    return Fact(SYSTEM_FACT.name, value, (Evidence.of("AWS connector: resolved accounts and regions", raw),))
