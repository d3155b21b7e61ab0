"""The two generic engine hooks the iac collector uses, on facts built by factories (no files):

- ``Fact.not_applicable``: every check needing such a fact is ``not_applicable`` with its reason;
- ``ResourceNotes``: locations put on findings that have none, unresolved values turning a pass or fail into error,
  waivers scoped to a resource applied like inventory waivers, warnings into the run.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from scanner.facts.aws import AwsResources, KmsKey, Scope
from scanner.model import Fact, Finding, Location, Platform, ResourceNotes, Status, Target, Waiver
from scanner.registry import Registry
from scanner.runner import scan_target, with_notes
from tests.factories import make_fact

SCOPE = Scope("000000000000", "eu-west-1", "aws", "arn:aws:iam::000000000000:root")


def key(address: str, rotation: bool) -> KmsKey:
    return KmsKey("000000000000", "eu-west-1", address, address, "CUSTOMER", "Enabled", "SYMMETRIC_DEFAULT",
                  rotation, True)


def collector(facts: Mapping[str, Fact]) -> Any:
    def collect(_target: Target, names: Iterable[str]) -> dict[str, Fact]:
        return {n: facts.get(n) or Fact.failed(n, "not in this test") for n in names}
    return collect


def specs(*patterns: str) -> Any:
    return Registry.load().select(list(patterns))


def test_a_fact_that_cannot_exist_for_the_target_makes_its_checks_not_applicable_with_the_reason() -> None:
    target = Target("acct", Platform.AWS, {}, {})
    facts = {"aws.account_summary": Fact.not_applicable("aws.account_summary", "runtime state, verified by the live "
                                                                               "scan"),
             "aws.iam_credential_report": Fact.failed("aws.iam_credential_report", "denied")}
    out = scan_target(target, specs("aws.iam.root_mfa", "aws.iam.user_mfa"), {}, collector=collector(facts))
    got = {r.check: (r.status, r.message) for r in out.results}
    assert got == {"aws.iam.root_mfa": (Status.NOT_APPLICABLE, "runtime state, verified by the live scan"),
                   "aws.iam.user_mfa": (Status.ERROR, "evidence could not be collected (aws.iam_credential_report: "
                                                      "denied)")}
    assert not Fact.not_applicable("x", "why").ok


def test_an_iac_target_is_judged_by_the_aws_checks_with_the_notes_of_its_collector() -> None:
    target = Target("code", Platform.IAC, {}, {})
    keys = AwsResources((SCOPE,), (key("aws_kms_key.good", True), key("aws_kms_key.vague", True),
                                   key("aws_kms_key.bad", False)))
    notes = ResourceNotes(
        locations=MappingProxyType({"aws_kms_key.good": Location("main.tf", 3, 5),
                                    "aws_kms_key.bad": Location("main.tf", 7, 9)}),
        unresolved=MappingProxyType({"aws_kms_key.vague": "var.rotate has no value"}),
        waivers=(Waiver("aws.kms.key_rotation", "code", "legacy", "qa-lead", "2099-01-01", "aws_kms_key.bad"),),
        warnings=("main.tf line 12: inline waiver for aws_kms_key.x ignored: missing approver",))
    facts = {"aws.kms_keys": make_fact("aws.kms_keys", keys), "iac.resource_notes": make_fact("iac", notes)}
    out = scan_target(target, specs("aws.kms.key_rotation"), {}, collector=collector(facts))
    got = {r.resource: (r.status, r.location) for r in out.results}
    assert got == {"aws_kms_key.good": (Status.PASS, Location("main.tf", 3, 5)),
                   "aws_kms_key.vague": (Status.ERROR, None),
                   "aws_kms_key.bad": (Status.WAIVED, Location("main.tf", 7, 9))}
    vague = next(r for r in out.results if r.resource == "aws_kms_key.vague")
    assert vague.message == ("cannot judge aws_kms_key.vague: var.rotate has no value (the check would say: pass, "
                             "key aws_kms_key.vague rotates automatically)")
    assert out.warnings == ("target code: main.tf line 12: inline waiver for aws_kms_key.x ignored: missing approver",)


def test_notes_that_could_not_be_collected_are_a_warning_and_change_no_verdict() -> None:
    target = Target("code", Platform.IAC, {}, {})
    keys = AwsResources((SCOPE,), (key("aws_kms_key.good", True),))
    facts = {"aws.kms_keys": make_fact("aws.kms_keys", keys),
             "iac.resource_notes": Fact.failed("iac.resource_notes", "boom")}
    out = scan_target(target, specs("aws.kms.key_rotation"), {}, collector=collector(facts))
    assert [(r.status, r.location) for r in out.results] == [(Status.PASS, None)]
    assert out.warnings == ("target code: iac.resource_notes: boom",)


def test_a_location_the_check_gave_is_kept_and_errors_stay_errors() -> None:
    notes = ResourceNotes(locations=MappingProxyType({"r": Location("a.tf", 1, 2)}),
                          unresolved=MappingProxyType({"r": "unknown"}))
    own = Finding(Status.FAIL, "other", "m", location=Location("/etc/x", 4))
    assert with_notes(own, notes) is own
    err = Finding(Status.ERROR, "r", "could not read")
    assert with_notes(err, notes) == Finding(Status.ERROR, "r", "could not read", location=Location("a.tf", 1, 2))
    na = Finding(Status.NOT_APPLICABLE, "r", "not tagged")
    assert with_notes(na, notes).status is Status.NOT_APPLICABLE
