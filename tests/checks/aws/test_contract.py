"""The AWS fact contract: checks typed against scanner.facts.aws, no wire knowledge in checks, collector by service."""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import typing
from pathlib import Path

import pytest

from scanner.facts import aws as facts
from scanner.registry import Registry, spec_of

CHECKS_DIR = Path(__file__).resolve().parents[3] / "checks" / "aws"
#: Wire knowledge that lives in the collector only: ARN building, API answer keys, report encodings.
WIRE = ('"arn:', "'arn:", "BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets",
        "PublicAccessBlockConfiguration", "<root_account>", "IsLogging", "SSEAlgorithm", "EbsEncryptionByDefault",
        "retentionInDays", "KeyRotationEnabled", "SummaryMap", "acs.amazonaws.com", '"Enabled"', '"CUSTOMER"',
        "SYMMETRIC_DEFAULT", "lastStatus", '"failure"', '"FAILURE"')


def aws_specs() -> list[typing.Any]:
    return Registry.load(["checks.aws"]).select()


def _mentions_any(hint: object) -> bool:
    if hint is typing.Any:
        return True
    return any(_mentions_any(a) for a in typing.get_args(hint))


@pytest.mark.parametrize("check_id", [s.id for s in aws_specs()])
def test_every_check_is_typed_against_the_fact_contract(check_id: str) -> None:
    (spec,) = Registry.load(["checks.aws"]).select([check_id])
    hints = typing.get_type_hints(spec.func)
    assert not any(_mentions_any(h) for h in hints.values()), hints
    for fact in spec.facts:
        hint = hints[spec.fact_param(fact)]
        assert typing.get_origin(hint) is facts.AwsResources, (fact, hint)
        (item,) = typing.get_args(hint)
        assert dataclasses.is_dataclass(item) and item.__module__ == "scanner.facts.aws", item
        names = {f.name for f in dataclasses.fields(item)}
        assert {"account", "region", "arn"} <= names, (item, names)  # every AWS item carries its ARN


def test_every_fact_type_is_frozen_and_every_item_type_has_an_arn() -> None:
    types = [t for t in vars(facts).values() if isinstance(t, type) and dataclasses.is_dataclass(t)]
    assert len(types) >= 20
    thawed = [t for t in types if not getattr(t, "__dataclass_params__").frozen]  # noqa: B009
    assert thawed == []
    fields = {t.__name__: {f.name for f in dataclasses.fields(t)} for t in types}
    items = [n for n, f in fields.items() if "account" in f and n != "Scope"]  # a Scope is where, not what
    assert all("arn" in fields[n] and "region" in fields[n] for n in items), items


def test_public_access_block_is_meaning_not_keys() -> None:
    block = facts.PublicAccessBlock(block_public_acls=True, ignore_public_acls=True)
    assert not block.fully_on and block.off() == ["BlockPublicPolicy", "RestrictPublicBuckets"]
    account = facts.PublicAccessBlock(block_public_policy=True, restrict_public_buckets=True)
    assert facts.effective_block(block, account).fully_on
    assert facts.effective_block(None, None) == facts.PublicAccessBlock()


@pytest.mark.parametrize("path", sorted(CHECKS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_checks_hold_no_wire_knowledge(path: Path) -> None:
    text = path.read_text()
    assert [w for w in WIRE if w in text] == []


def test_the_collector_is_a_package_with_one_module_per_service() -> None:
    from scanner.collectors import aws

    modules = {m.name for m in pkgutil.iter_modules(aws.__path__) if not m.name.startswith("_")}
    assert {"iam", "s3", "ec2", "rds", "kms", "cloudtrail", "backup", "config", "logs"} <= modules
    per_module = [d for name in sorted(modules)
                  for d in getattr(importlib.import_module(f"scanner.collectors.aws.{name}"), "DEFINITIONS", ())]
    listed = sorted(set(aws.FACTS) - {"aws.system"})  # the system under test: from the connector, no API call
    assert sorted(d.name for d in per_module) == listed == sorted(d.name for d in aws.DEFINITIONS)
    for name in modules:
        source = Path(aws.__path__[0], f"{name}.py").read_text()
        assert len(source.splitlines()) < 250, name


def test_a_check_function_is_still_the_plain_function() -> None:
    from checks.aws import s3

    assert spec_of(s3.bucket_encryption).func is s3.bucket_encryption
