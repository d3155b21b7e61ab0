"""Hostile code: every byte of a scanned repository is input an attacker may have written. Each case ends in a
named error (file and line where known) for what it touches, and the rest of the repository is still judged."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanner.inventory import InventoryError, load_inventory
from tests.collectors.iac_repo import result, scan, verdicts, write

GOOD = 'resource "aws_kms_key" "good" {\n  enable_key_rotation = true\n}\n'


def key_rotation(outcome: object) -> dict[str, str]:
    return verdicts(outcome, "aws.kms.key_rotation")  # type: ignore[arg-type]


def test_deep_nesting_in_hcl_is_refused_before_parsing_with_its_line(tmp_path: Path) -> None:
    n = 100_000
    write(tmp_path, {"good.tf": GOOD,
                     "deep.tf": 'resource "aws_kms_key" "deep" {\n  enable_key_rotation = ' + "[" * n + "true"
                                + "]" * n + "\n}\n"})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert key_rotation(out) == {"aws_kms_key.good": "pass", "aws_kms_key.deep": "error"}
    assert "target code: deep.tf line 2: nested deeper than 64 levels" in out.warnings
    assert result(out, "aws.kms.key_rotation", "aws_kms_key.deep").message.startswith(
        "evidence incomplete for aws_kms_key.deep: deep.tf line 2: nested deeper than 64 levels")


def test_deep_nesting_in_yaml_and_json_templates_is_an_error_with_its_line(tmp_path: Path) -> None:
    deep_yaml = ("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Key:\n    Type: AWS::KMS::Key\n"
                 "    Properties:\n      Tags: " + "[" * 500 + "]" * 500 + "\n")
    deep_json = '{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Key": {"Type": "AWS::KMS::Key", ' \
                '"Properties": {"X": ' + "[" * 200_000 + "]" * 200_000 + "}}}}"
    write(tmp_path, {"good.tf": GOOD, "deep.yaml": deep_yaml, "deep.json": deep_json})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert key_rotation(out) == {"aws_kms_key.good": "pass", "deep.yaml#Key": "error", "deep.json#Key": "error"}
    assert any(w.startswith("target code: deep.yaml line 6: ") and "nested deeper than 64 levels" in w
               for w in out.warnings)
    assert any(w.startswith("target code: deep.json line 1: ") and "nested deeper than 64 levels" in w
               for w in out.warnings)


def test_a_yaml_alias_bomb_is_refused_at_the_first_anchor(tmp_path: Path) -> None:
    bomb = ["AWSTemplateFormatVersion: '2010-09-09'", "Parameters:", "  a: &a [x, x, x, x, x, x, x, x, x]"]
    bomb += [f"  {chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
             f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]" for i in range(9)]
    bomb += ["Resources:", "  Key:", "    Type: AWS::KMS::Key"]
    write(tmp_path, {"good.tf": GOOD, "bomb.yaml": "\n".join(bomb) + "\n"})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert key_rotation(out) == {"aws_kms_key.good": "pass", "bomb.yaml#Key": "error"}
    assert ("target code: bomb.yaml line 3: does not parse: YAML anchors (&a) are not accepted; write the value out"
            in out.warnings)


def test_a_file_above_the_size_bound_is_not_read_and_its_resources_are_errors(tmp_path: Path) -> None:
    big = 'resource "aws_kms_key" "big" {\n  enable_key_rotation = true\n}\n' + "# padding\n" * 500
    write(tmp_path, {"good.tf": GOOD, "big.tf": big,
                     "big.yaml": "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Key:\n    Type: AWS::KMS::Key\n"
                                 + "# padding\n" * 500})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",), max_file_bytes=2048)
    assert key_rotation(out) == {"aws_kms_key.good": "pass", "aws_kms_key.big": "error", "big.yaml#Key": "error"}
    assert "target code: big.tf: larger than 2048 bytes (max_file_bytes); not read" in out.warnings
    assert "target code: big.yaml: larger than 2048 bytes (max_file_bytes); not read" in out.warnings


def test_symlinks_leading_out_of_the_root_are_never_followed(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {
        "evil.tf": 'resource "aws_kms_key" "evil" {\n  enable_key_rotation = true\n}\n',
        "mod/main.tf": 'resource "aws_kms_key" "stolen" {\n  enable_key_rotation = true\n}\n'})
    root = write(tmp_path / "repo", {"good.tf": GOOD + 'module "m" {\n  source = "./mod"\n}\n'})
    os.symlink(outside / "evil.tf", root / "evil.tf")
    os.symlink(outside / "mod", root / "mod")
    out = scan(root, checks=("aws.kms.key_rotation",))
    assert key_rotation(out) == {"aws_kms_key.good": "pass"}
    assert any(w.startswith("target code: evil.tf: leads outside the root") for w in out.warnings)
    assert any(w.startswith("target code: good.tf line 4: module.m: ./mod leads outside the root")
               for w in out.warnings)
    with pytest.raises(InventoryError) as info:  # a path given in the inventory that leaves the root
        load_inventory({"version": 1, "targets": [{"name": "c", "type": "iac", "path": str(root / "evil.tf"),
                                                   "root": str(root)}]})
    assert info.value.problems == [f"targets[0].path: {outside / 'evil.tf'} is outside the root {root}"]


def test_bytes_that_are_not_utf8_are_an_error_with_their_line(tmp_path: Path) -> None:
    write(tmp_path, {"good.tf": GOOD,
                     "latin1.tf": b'resource "aws_kms_key" "latin" {\n  description = "caf\xe9"\n}\n',
                     "latin1.yaml": b"AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Key:\n"
                                    b"    Type: AWS::KMS::Key\n    Properties:\n      Description: caf\xe9\n"})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert key_rotation(out) == {"aws_kms_key.good": "pass", "aws_kms_key.latin": "error",
                                 "latin1.yaml#Key": "error"}
    assert "target code: latin1.tf line 2: not UTF-8 (byte 53)" in out.warnings
    assert "target code: latin1.yaml line 6: not UTF-8 (byte 119)" in out.warnings


def test_unknown_yaml_tags_are_refused_not_constructed(tmp_path: Path) -> None:
    write(tmp_path, {"good.tf": GOOD,
                     "tags.yaml": "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Key:\n"
                                  "    Type: AWS::KMS::Key\n    Properties:\n"
                                  "      Description: !!python/object/apply:os.system ['touch /tmp/pwned']\n"})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert key_rotation(out) == {"aws_kms_key.good": "pass", "tags.yaml#Key": "error"}
    assert "target code: tags.yaml line 6: unknown tag tag:yaml.org,2002:python/object/apply:os.system" in \
        out.warnings


def test_expressions_cannot_make_huge_values_or_silently_drop_instances(tmp_path: Path) -> None:
    write(tmp_path, {"good.tf": GOOD,
                     "bomb.tf": 'resource "aws_cloudwatch_log_group" "g" {\n  name = "x" * 1000000000\n}\n'
                                'resource "aws_kms_key" "many" {\n  count = 1000000000\n'
                                '  enable_key_rotation = true\n}\n'})
    out = scan(tmp_path, checks=("aws.kms.key_rotation", "aws.logs.retention"))
    assert key_rotation(out) == {"aws_kms_key.good": "pass", "aws_kms_key.many": "error"}
    assert "count of aws_kms_key.many is 1000000000, above the 10000 instances read" in result(
        out, "aws.kms.key_rotation", "aws_kms_key.many").message
    # the group's name is unknown (no string arithmetic in HCL): it is named by its address, retention still judged
    assert verdicts(out, "aws.logs.retention") == {"aws_cloudwatch_log_group.g": "pass"}


def test_a_value_python_cannot_hold_makes_its_resource_an_error_not_the_scan(tmp_path: Path) -> None:
    write(tmp_path, {"good.tf": GOOD,
                     "digits.tf": 'resource "aws_kms_key" "digits" {\n  deletion_window_in_days = ' + "9" * 5000
                                  + '\n  enable_key_rotation = true\n}\n'})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert key_rotation(out) == {"aws_kms_key.good": "pass", "aws_kms_key.digits": "error"}
    assert "digits.tf line 1: cannot be evaluated: ValueError" in result(
        out, "aws.kms.key_rotation", "aws_kms_key.digits").message


def test_a_tree_nested_deeper_than_the_recursion_limit_is_listed_in_order(tmp_path: Path) -> None:
    """A repository's directories nested 1,200 deep (Python's recursion limit is 1,000; os.walk recursed on Python
    3.10 and 3.11 and raised RecursionError): every file is listed, in os.walk's order (a directory's files before
    those of its subdirectories, these by name)."""
    import sys

    from scanner.connectors.iac import IacConnector
    from scanner.model import Platform, Target

    depth = sys.getrecursionlimit() + 200
    root = tmp_path / "repo"
    deep = root
    root.mkdir()
    for _ in range(depth):  # one level at a time: pathlib's mkdir(parents=True) recurses itself
        deep = deep / "d"
        deep.mkdir()
    (deep / "last.tf").write_text("x\n", encoding="utf-8")
    (root / "d" / "first.tf").write_text("x\n", encoding="utf-8")
    (root / "e").mkdir()
    (root / "e" / "after.tf").write_text("x\n", encoding="utf-8")
    conn = IacConnector(Target("code", Platform.IAC, {"path": [str(root)], "root": str(root)}, {}))
    try:
        listed = [conn.rel(p) for p in conn.files(root)]
    finally:  # removed here, bottom up: shutil.rmtree (pytest's clean-up of tmp_path) recurses on Python 3.11
        (deep / "last.tf").unlink()
        for _ in range(depth - 1):
            deep.rmdir()
            deep = deep.parent
    assert listed == ["d/first.tf", "/".join(["d"] * depth) + "/last.tf", "e/after.tf"]
