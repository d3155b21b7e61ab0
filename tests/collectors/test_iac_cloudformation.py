"""CloudFormation specifics beyond the sample repository: parameters, conditions and intrinsic functions."""
from __future__ import annotations

from pathlib import Path

from tests.collectors.iac_repo import result, scan, verdicts, write

HEAD = "AWSTemplateFormatVersion: '2010-09-09'\n"


def test_parameters_from_ssm_and_undecidable_conditions_are_unknown(tmp_path: Path) -> None:
    write(tmp_path, {"t.yaml": HEAD + (
        "Parameters:\n  Rotate:\n    Type: AWS::SSM::Parameter::Value<String>\n    Default: /gxp/rotate\n"
        "  Stage:\n    Type: String\n"
        "Conditions:\n  Prod: !Equals [!Ref Stage, prod]\n"
        "Resources:\n"
        "  FromSsm:\n    Type: AWS::KMS::Key\n    Properties:\n      EnableKeyRotation: !Ref Rotate\n"
        "  Maybe:\n    Type: AWS::KMS::Key\n    Condition: Prod\n    Properties:\n      EnableKeyRotation: true\n"
        "  Chosen:\n    Type: AWS::KMS::Key\n    Properties:\n"
        "      EnableKeyRotation: !If [Prod, true, false]\n"
        "  Plain:\n    Type: AWS::KMS::Key\n    Properties:\n      EnableKeyRotation: !Not [!Equals [a, b]]\n")})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert verdicts(out, "aws.kms.key_rotation") == {"t.yaml#FromSsm": "error", "t.yaml#Maybe": "error",
                                                     "t.yaml#Chosen": "error", "t.yaml#Plain": "pass"}
    assert "parameter Rotate is read from SSM Parameter Store at deploy time" in result(
        out, "aws.kms.key_rotation", "t.yaml#FromSsm").message
    assert "whether Maybe exists depends on parameter Stage has no default" in result(
        out, "aws.kms.key_rotation", "t.yaml#Maybe").message


def test_sub_join_select_and_mappings_resolve_and_novalue_removes_a_property(tmp_path: Path) -> None:
    write(tmp_path, {"t.yaml": HEAD + (
        "Mappings:\n  Days:\n    prod:\n      Logs: 400\n"
        "Resources:\n"
        "  Logs:\n    Type: AWS::Logs::LogGroup\n    Properties:\n"
        "      LogGroupName: !Sub ['/gxp/${Name}', {Name: !Join ['-', [a, !Select [1, [x, b]]]]}]\n"
        "      RetentionInDays: !FindInMap [Days, prod, Logs]\n"
        "  Forever:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      RetentionInDays: !Ref AWS::NoValue\n")})
    out = scan(tmp_path, checks=("aws.logs.retention",))
    logs = result(out, "aws.logs.retention", "t.yaml#Logs")
    assert (logs.status.value, logs.observed["log_group"], logs.observed["retention_days"]) == ("pass", "/gxp/a-b",
                                                                                                 400)
    forever = result(out, "aws.logs.retention", "t.yaml#Forever")
    assert (forever.status.value, forever.observed["retention_days"]) == ("pass", "never expire")
