"""Every known-answer case shipped in the package, run through the very function ``gxpscan selftest`` uses
(``scanner.selftest.kat.run_case``): the unit tests and the self-test can never disagree."""
from __future__ import annotations

import dataclasses
import shutil
from functools import cache
from pathlib import Path

import pytest

from scanner.model import Status, utcnow
from scanner.registry import Registry
from scanner.selftest import kat, release_entry_points

CASES = kat.all_cases()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "linux"


@cache
def registry() -> Registry:
    return Registry.load()


@cache
def shared() -> kat.FactCache:
    return kat.FactCache()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_known_answer(case: kat.Case) -> None:
    got = kat.run_case(case, registry(), utcnow(), shared())
    assert (got.check, got.case, got.actual) == (case.check, case.name, case.expected.value), got.detail


def test_every_check_of_the_release_has_pass_fail_and_error_cases() -> None:
    ours, _ = release_entry_points()
    packs = [ep.value for ep in ours]
    release = {c for c, s in registry().checks.items() if any(s.module.startswith(p) for p in packs)}
    written: dict[str, set[str]] = {}
    for case in kat.load_cases():
        written.setdefault(case.check, set()).add(case.name)
    assert sorted(release - set(written)) == []  # a new check without known answers fails here: add it to its file
    assert sorted(set(written) - release) == []  # a case for a check that no longer exists
    assert {c: names & {"pass", "fail", "error"} for c, names in written.items()} == {
        c: {"pass", "fail", "error"} for c in written}
    assert len(release) == len(registry().checks) >= 121
    assert {c.name for c in CASES if c.check == "linux.ssh.root_login"} == {"pass", "fail", "error", "missing-facts",
                                                                             "raises"}


def test_a_wrong_expectation_is_a_difference_naming_check_case_and_both_statuses() -> None:
    case = next(c for c in CASES if c.id == "aws.s3.versioning:pass")
    got = kat.run_case(dataclasses.replace(case, expected=Status.FAIL), registry(), utcnow())
    assert (got.ok, got.check, got.case, got.expected, got.actual) == (False, "aws.s3.versioning", "pass", "fail",
                                                                        "pass")


@pytest.mark.parametrize("case", [c for c in CASES if c.name == "error" and c.changes],
                         ids=lambda c: c.id)
def test_a_linux_error_case_errs_because_of_its_damage(case: kat.Case) -> None:
    undamaged = kat.run_case(dataclasses.replace(case, changes={}, message=""), registry(), utcnow())
    assert undamaged.actual != "error", undamaged.detail


def test_the_packaged_recordings_are_the_unit_tests_recordings() -> None:
    assert (kat.RECORDINGS / "linux").resolve() == FIXTURES.resolve()


@pytest.mark.parametrize(("value", "problem"), [
    ({"account": "1", "region": "r", "arn": "a", "enabled": True, "color": "red"},
     "aws.ebs_default_encryption.items[0].color: unknown field of EbsDefaultEncryption"),
    ({"account": "1", "region": "r", "arn": "a", "enabled": "yes"},
     "aws.ebs_default_encryption.items[0].enabled: expected true or false, got str"),
    ({"account": "1", "region": "r", "arn": "a"}, "aws.ebs_default_encryption.items[0].enabled: missing"),
])
def test_typed_facts_are_decoded_strictly(value: dict[str, object], problem: str) -> None:
    case = kat.Case(check="aws.ebs.default_encryption", name="pass", expected=Status.PASS, origin="test", facts={
        "aws.ebs_default_encryption": {"value": {"scopes": [], "items": [value]}}})
    got = kat.run_case(case, registry(), utcnow())
    assert got.actual == "invalid" and problem in got.detail, got.detail


def test_times_need_a_zone_and_may_be_relative() -> None:
    from datetime import datetime, timedelta, timezone

    from scanner.selftest.decode import DecodeError, decode

    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert decode("now-400d", datetime, "t", now) == now - timedelta(days=400)
    assert decode("2026-01-02T03:04:05Z", datetime, "t", now) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    with pytest.raises(DecodeError, match="t: a time needs its zone"):
        decode("2026-01-02T03:04:05", datetime, "t", now)


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda t: t.replace("    error:\n", "    erorr:\n", 1), "no error case"),
    (lambda t: t.replace("    pass:\n", "    pass:\n      expected: fail\n", 1), "unknown key"),
    (lambda t: t.replace("  aws.backup.plan:", "  linux.backup.plan:", 1), "belongs in linux.yaml"),
    (lambda t: t.replace("    pass:\n", "    pass:\n      recording: ../../../etc\n", 1), "not a path"),
    (lambda t: t.replace("checks:", "checks:\n  aws.x: {pass: {facts: {}}, fail: {facts: {}}, error: {facts: {}},"
                                    " pass: {facts: {}}}", 1), "duplicate key"),
])
def test_a_malformed_case_file_is_refused_with_its_path(tmp_path: Path, edit, problem: str) -> None:
    shutil.copy(kat.DATA / "aws.yaml", tmp_path / "aws.yaml")
    (tmp_path / "aws.yaml").write_text(edit((tmp_path / "aws.yaml").read_text()))
    with pytest.raises(kat.KatError, match="aws.yaml") as info:
        kat.load_cases(tmp_path)
    assert problem in str(info.value)
