"""Inline waivers in code: the same Waiver values and engine code as inventory waivers, scoped to one resource and
one check; incomplete, expired or over-reaching ones waive nothing and are reported."""
from __future__ import annotations

from pathlib import Path

from scanner.model import Waiver
from tests.collectors.iac_repo import result, scan, verdicts, write

FIXTURES = Path(__file__).parents[1] / "fixtures" / "iac"
VERSIONING = ('resource "aws_s3_bucket_versioning" "{name}" {{\n  bucket = aws_s3_bucket.{name}.id\n'
              '  versioning_configuration {{\n    status = "Suspended"\n  }}\n}}\n')


def bucket(name: str, above: str = "", inside: str = "") -> str:
    return (f'{above}resource "aws_s3_bucket" "{name}" {{\n  bucket = "{name}"\n{inside}}}\n'
            + VERSIONING.format(name=name))


def test_a_valid_comment_waiver_becomes_a_waiver_of_that_resource_and_check(tmp_path: Path) -> None:
    out = scan(FIXTURES, [FIXTURES / "terraform" / "main.tf"], checks=("aws.s3.versioning",))
    got = result(out, "aws.s3.versioning", "aws_s3_bucket.scratch")
    assert got.status.value == "waived"
    assert got.waiver == Waiver("aws.s3.versioning", "code", "scratch data, recreated daily", "qa-lead",
                                "2099-03-31", "aws_s3_bucket.scratch")
    assert verdicts(out, "aws.s3.versioning")["aws_s3_bucket.unknown"] == "fail"


def test_expired_and_incomplete_waivers_waive_nothing_and_are_reported_with_file_and_line() -> None:
    out = scan(FIXTURES, [FIXTURES / "terraform" / "main.tf"], checks=("aws.s3.object_lock", "aws.s3.access_logging"))
    lock = result(out, "aws.s3.object_lock", "aws_s3_bucket.unknown")
    assert (lock.status.value, lock.expired_waiver.expires) == ("fail", "2020-01-01")  # type: ignore[union-attr]
    assert result(out, "aws.s3.access_logging", "aws_s3_bucket.unknown").status.value == "fail"
    assert "target code: terraform/main.tf line 98: inline waiver for aws_s3_bucket.unknown ignored: missing " \
           "approver, expires" in out.warnings
    assert any(w.startswith("target code: waiver expired, not applied: check aws.s3.object_lock") for w in out.warnings)


def test_cloudformation_metadata_waivers_and_globs_only_when_the_target_allows_them() -> None:
    stack = [FIXTURES / "cloudformation" / "stack.yaml"]
    out = scan(FIXTURES, stack, checks=("aws.s3.*",))
    log_bucket = {c: s for (c, s) in ((r.check, r.status.value) for r in out.results
                                      if r.resource == "cloudformation/stack.yaml#LogBucket")}
    assert log_bucket["aws.s3.access_logging"] == "waived" and log_bucket["aws.s3.versioning"] == "fail"
    assert ("target code: cloudformation/stack.yaml line 67: inline waiver for cloudformation/stack.yaml#LogBucket "
            "ignored: check 'aws.s3.*' is a glob; an inline waiver names one check id (set inline_waiver_globs: "
            "true on the target to allow globs)") in out.warnings
    allowed = scan(FIXTURES, stack, checks=("aws.s3.*",), inline_waiver_globs=True)
    assert {r.status.value for r in allowed.results if r.resource == "cloudformation/stack.yaml#LogBucket"
            and r.check != "aws.s3.bucket_encryption"} == {"waived"}


def test_a_waiver_comment_covers_only_the_resource_it_is_written_at(tmp_path: Path) -> None:
    waive = '# gxpscan:waive aws.s3.versioning reason="r" approver="a" expires=2099-01-01\n'
    write(tmp_path, {"main.tf": (
        bucket("one", inside="  " + waive)            # inside: covers "one" only
        + waive + "\n" + bucket("two")                # a blank line between: covers nothing
        + "# gxpscan:waive aws.s3.versioning reason=\"r\" approver=\"a\" expires=2099-01-01 resource=\"*\"\n"
        + bucket("three")                             # directly above; a resource= key cannot widen it
        + bucket("four"))})
    out = scan(tmp_path, checks=("aws.s3.versioning",))
    assert verdicts(out, "aws.s3.versioning") == {"aws_s3_bucket.one": "waived", "aws_s3_bucket.two": "fail",
                                                  "aws_s3_bucket.three": "waived", "aws_s3_bucket.four": "fail"}


def test_glob_characters_in_an_address_or_target_match_only_themselves(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": (
        'resource "aws_kms_key" "k" {\n  for_each = toset(["*", "x"])\n'
        '  # gxpscan:waive aws.kms.key_rotation reason="r" approver="a" expires=2099-01-01\n}\n')})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",), name="team*")
    # the waiver sits in the for_each block, so both instances carry it, each scoped to itself
    assert verdicts(out, "aws.kms.key_rotation") == {'aws_kms_key.k["*"]': "waived", 'aws_kms_key.k["x"]': "waived"}
    star = result(out, "aws.kms.key_rotation", 'aws_kms_key.k["*"]').waiver
    assert star is not None and (star.resource, star.target) == ('aws_kms_key.k[[]"[*]"]', "team[*]")


def test_a_waiver_for_another_check_or_a_glob_waives_nothing_else(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": bucket("b", above='# gxpscan:waive aws.s3.object_lock reason="r" approver="a" '
                                                  'expires=2099-01-01\n# gxpscan:waive * reason="r" approver="a" '
                                                  'expires=2099-01-01\n')})
    out = scan(tmp_path, checks=("aws.s3.versioning", "aws.s3.object_lock"))
    assert verdicts(out, "aws.s3.versioning") == {"aws_s3_bucket.b": "fail"}
    assert verdicts(out, "aws.s3.object_lock") == {"aws_s3_bucket.b": "waived"}
    assert any("check '*' is a glob" in w for w in out.warnings)
