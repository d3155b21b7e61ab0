"""EBS volumes that the code leaves unencrypted in an account whose code turns encryption by default on: they pass
only when AWS provably turns the default on first (an explicit dependency, or a plan whose prior state has it on);
otherwise they fail with the missing ordering named."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scanner.collectors.iac._build import Where, build
from scanner.collectors.iac._values import Block
from scanner.model import Location
from tests.collectors.iac_repo import result, scan, write

CHECK = "aws.ebs.volume_encryption"
DEFAULT = 'resource "aws_ebs_encryption_by_default" "on" {\n  enabled = true\n}\n'
NOT_ORDERED = ("aws_ebs_encryption_by_default.on turns EBS encryption by default on in eu-west-1, but "
               "aws_ebs_volume.data does not depend on it (no depends_on/DependsOn): AWS may create the volume "
               "first, unencrypted")


def volume(body: str = "") -> str:
    return f'resource "aws_ebs_volume" "data" {{\n  availability_zone = "eu-west-1a"\n  size = 10\n{body}}}\n'


@pytest.mark.parametrize("files, status, note", [
    ({"main.tf": DEFAULT + volume("  depends_on = [aws_ebs_encryption_by_default.on]\n")}, "pass", ""),
    ({"main.tf": DEFAULT + volume("  encrypted = false\n  depends_on = [\n    aws_ebs_encryption_by_default.on,\n"
                                  "  ]\n")}, "pass", ""),
    # transitively: the volume waits for a key that waits for the default
    ({"main.tf": DEFAULT + volume("  depends_on = [aws_kms_key.k]\n") + 'resource "aws_kms_key" "k" {\n'
                 '  depends_on = [aws_ebs_encryption_by_default.on] # the key waits\n}\n'}, "pass", ""),
    ({"main.tf": DEFAULT + volume()}, "fail", NOT_ORDERED),
    ({"main.tf": DEFAULT + volume("  encrypted = false\n")}, "fail", NOT_ORDERED),
    # the text "depends_on = [...]" in a string, a heredoc or a comment orders nothing
    ({"main.tf": DEFAULT + volume('  tags = {\n    a = "depends_on = [aws_ebs_encryption_by_default.on]"\n  }\n'
                                  '  # depends_on = [aws_ebs_encryption_by_default.on]\n'
                                  '  description = <<EOT\n  depends_on = [aws_ebs_encryption_by_default.on]\nEOT\n')},
     "fail", NOT_ORDERED),
    ({"main.tf": volume()}, "fail", ""),  # nothing turns the default on: the plain verdict
    ({"main.tf": volume("  encrypted = true\n")}, "pass", ""),
])
def test_terraform_volumes_pass_on_the_default_only_when_ordered_after_it(tmp_path: Path, files: dict[str, str],
                                                                         status: str, note: str) -> None:
    write(tmp_path, files)
    got = result(scan(tmp_path, checks=(CHECK,), region="eu-west-1"), CHECK, "aws_ebs_volume.data")
    negation = "" if status == "pass" else "not "
    assert (got.status.value, got.message) == (status, f"volume aws_ebs_volume.data is {negation}encrypted"
                                                       + (f": {note}" if note else ""))
    assert got.observed["encrypted"] is (status == "pass")


def test_a_module_dependency_covers_the_default_inside_it(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": volume("  depends_on = [module.account]\n")
                     + 'module "account" {\n  source = "./account"\n}\n',
                     "account/main.tf": DEFAULT})
    got = result(scan(tmp_path, checks=(CHECK,), region="eu-west-1"), CHECK, "aws_ebs_volume.data")
    assert got.status.value == "pass"


def test_a_default_in_another_region_does_not_encrypt_the_volume() -> None:
    where = Location("main.tf", 1, 3)
    blocks = [Block("aws_ebs_encryption_by_default", "aws_ebs_encryption_by_default.on", {"enabled": True}, where,
                    region="eu-central-1"),
              Block("aws_ebs_volume", "aws_ebs_volume.data", {}, where, region="eu-west-1",
                    depends_on=("aws_ebs_encryption_by_default.on",))]
    got = build(blocks, Where("000000000000", "eu-west-1", "aws")).facts["aws.ebs_volumes"].items
    assert [(v.encrypted, v.note) for v in got] == [(False, "")]


def plan(default_actions: list[str], default_before: dict[str, Any] | None, depends_on: list[str]) -> dict[str, Any]:
    """A plan JSON (format 1.2) of one EBS default and one volume that sets no encryption."""
    vol = {"availability_zone": "eu-west-1a", "size": 10}
    return {
        "format_version": "1.2", "terraform_version": "1.9.5",
        "planned_values": {"root_module": {"resources": [
            {"address": "aws_ebs_encryption_by_default.on", "mode": "managed", "type": "aws_ebs_encryption_by_default",
             "name": "on", "provider_name": "registry.terraform.io/hashicorp/aws", "schema_version": 0,
             "values": {"enabled": True}},
            {"address": "aws_ebs_volume.data", "mode": "managed", "type": "aws_ebs_volume", "name": "data",
             "provider_name": "registry.terraform.io/hashicorp/aws", "schema_version": 0, "values": vol}]}},
        "resource_changes": [
            {"address": "aws_ebs_encryption_by_default.on", "mode": "managed", "type": "aws_ebs_encryption_by_default",
             "name": "on", "change": {"actions": default_actions, "before": default_before,
                                      "after": {"enabled": True}, "after_unknown": {"id": True}}},
            {"address": "aws_ebs_volume.data", "mode": "managed", "type": "aws_ebs_volume", "name": "data",
             "change": {"actions": ["create"], "before": None, "after": vol,
                        "after_unknown": {"id": True, "encrypted": True, "arn": True}}}],
        "configuration": {"provider_config": {"aws": {"name": "aws", "expressions": {
            "region": {"constant_value": "eu-west-1"}}}},
            "root_module": {"resources": [
                {"address": "aws_ebs_encryption_by_default.on", "mode": "managed",
                 "type": "aws_ebs_encryption_by_default", "name": "on",
                 "expressions": {"enabled": {"constant_value": True}}},
                {"address": "aws_ebs_volume.data", "mode": "managed", "type": "aws_ebs_volume", "name": "data",
                 "expressions": {"availability_zone": {"constant_value": "eu-west-1a"},
                                 "size": {"constant_value": 10}},
                 **({"depends_on": depends_on} if depends_on else {})}]}},
    }


@pytest.mark.parametrize("actions, before, depends_on, status", [
    (["no-op"], {"enabled": True, "id": "x"}, [], "pass"),         # on before this apply: AWS encrypts the volume
    (["update"], {"enabled": True, "id": "x"}, [], "pass"),
    (["update"], {"enabled": False, "id": "x"}, [], "fail"),       # turned on by this apply, in parallel
    (["create"], None, [], "fail"),
    (["create"], None, ["aws_ebs_encryption_by_default.on"], "pass"),
])
def test_plan_volumes_pass_when_the_default_is_on_before_or_ordered(tmp_path: Path, actions: list[str],
                                                                    before: dict[str, Any] | None,
                                                                    depends_on: list[str], status: str) -> None:
    write(tmp_path, {"tfplan.json": json.dumps(plan(actions, before, depends_on))})
    got = result(scan(tmp_path, checks=(CHECK,)), CHECK, "aws_ebs_volume.data")
    assert got.status.value == status
    assert ("does not depend on it" in got.message) is (status == "fail")


def test_cloudformation_has_no_default_encryption_resource_so_an_unset_volume_fails_saying_so(tmp_path: Path) -> None:
    write(tmp_path, {"stack.yaml": "Resources:\n  Data:\n    Type: AWS::EC2::Volume\n    Properties:\n"
                                   "      AvailabilityZone: eu-west-1a\n      Size: 10\n"
                                   "  Safe:\n    Type: AWS::EC2::Volume\n    DependsOn: Data\n    Properties:\n"
                                   "      AvailabilityZone: eu-west-1a\n      Encrypted: true\n"})
    out = scan(tmp_path, checks=(CHECK,), region="eu-west-1")
    got = result(out, CHECK, "stack.yaml#Data")
    assert (got.status.value, got.message) == ("fail", (
        "volume stack.yaml#Data is not encrypted: Encrypted is not true, and CloudFormation has no resource for EBS "
        "encryption by default: whether the account default in eu-west-1 applies is not in the template"))
    assert result(out, CHECK, "stack.yaml#Safe").status.value == "pass"
