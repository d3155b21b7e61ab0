"""End to end over moto: ``gxpscan scan`` on a compliant and a non-compliant account, every AWS check."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.checks.aws.conftest import files_under
from tests.lab import motolab

pytestmark = pytest.mark.lab

C, N = motolab.COMPLIANT, motolab.NONCOMPLIANT
PASS, FAIL, ERROR, NA = "pass", "fail", "error", "not_applicable"

#: check id -> (statuses in the compliant account, statuses in the non-compliant one).
#: Limits of moto, not of the checks, are marked: root MFA cannot be enabled in moto and root access keys
#: cannot be created; credential dates are always "now" (so stale/rotation cannot fail here: see the unit
#: tests); moto has no IAM Access Analyzer (so that check is an error, never a pass).
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "aws.iam.root_mfa": ({FAIL}, {FAIL}),  # moto: AccountMFAEnabled is always 0
    "aws.iam.root_access_keys": ({PASS}, {PASS}),  # moto: root keys cannot be created
    "aws.iam.user_mfa": ({PASS}, {FAIL}),
    "aws.iam.access_key_rotation": ({PASS}, {PASS}),  # moto: keys are created "now"
    "aws.iam.unused_credentials": ({PASS}, {PASS}),  # moto: credentials are created "now"
    "aws.iam.user_admin_policies": ({PASS}, {FAIL}),
    "aws.iam.password_policy": ({PASS}, {FAIL}),
    "aws.iam.access_analyzer": ({ERROR}, {ERROR}),  # moto lacks Access Analyzer
    "aws.ec2.sg_admin_ports_open": ({PASS}, {PASS, FAIL}),  # default groups pass, "admin" fails
    "aws.s3.public_access_block": ({PASS}, {FAIL}),
    "aws.s3.bucket_encryption": ({PASS}, {FAIL}),
    "aws.s3.secure_transport": ({PASS}, {FAIL}),
    "aws.s3.versioning": ({PASS, NA}, {FAIL, NA}),  # only buckets tagged gxp=records are in scope
    "aws.s3.object_lock": ({PASS, NA}, {FAIL, NA}),
    "aws.s3.access_logging": ({PASS, NA}, {FAIL, NA}),
    "aws.ebs.default_encryption": ({PASS}, {FAIL}),
    "aws.ebs.volume_encryption": ({PASS}, {FAIL}),
    "aws.rds.storage_encryption": ({PASS}, {FAIL}),
    "aws.rds.backup_retention": ({PASS}, {FAIL}),
    "aws.rds.deletion_protection": ({PASS}, {FAIL}),
    "aws.kms.key_rotation": ({PASS}, {FAIL}),
    "aws.cloudtrail.multi_region": ({PASS}, {FAIL}),
    "aws.cloudtrail.log_validation": ({PASS}, {FAIL}),
    "aws.cloudtrail.kms_encryption": ({PASS}, {FAIL}),
    "aws.cloudtrail.bucket_not_public": ({PASS}, {FAIL}),
    "aws.cloudtrail.data_events": ({PASS, NA}, {FAIL, NA}),  # only buckets tagged gxp=records are in scope
    "aws.backup.plan": ({PASS}, {FAIL}),
    "aws.config.recorder": ({PASS}, {FAIL}),
    "aws.logs.retention": ({PASS}, {FAIL}),
}


def statuses(findings: list[dict[str, Any]], check: str, account: str) -> set[str]:
    """Statuses of one check in one account; target-wide findings (no account) count for every account."""
    return {f["status"] for f in findings
            if f["check"] == check and f["observed"].get("account", account) == account}


def test_table_covers_every_aws_check() -> None:
    from scanner.registry import Registry

    assert set(EXPECTED) == {s.id for s in Registry.load(["checks.aws"]).select()}


@pytest.mark.parametrize("check", sorted(EXPECTED))
def test_check_status_per_account(aws_scan: dict[str, Any], check: str) -> None:
    compliant, noncompliant = EXPECTED[check]
    assert statuses(aws_scan["findings"], check, C) == compliant
    assert statuses(aws_scan["findings"], check, N) == noncompliant


def test_scan_exit_code_reports_failures(aws_scan: dict[str, Any]) -> None:
    assert aws_scan["code"] == 1, aws_scan["stderr"]


def test_every_finding_names_an_arn_with_account_and_region(aws_scan: dict[str, Any]) -> None:
    per_resource = [f for f in aws_scan["findings"] if f["check"] != "aws.iam.access_analyzer"]
    assert per_resource
    for f in per_resource:
        assert re.match(r"^arn:aws:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:", f["resource"]), f
        assert f["observed"]["account"] in (C, N), f
        assert f["observed"]["region"] in (*motolab.REGIONS, "global"), f


def test_observed_values_are_the_configured_ones(aws_scan: dict[str, Any]) -> None:
    by = {(f["check"], f["resource"]): f for f in aws_scan["findings"]}
    pw = by[("aws.iam.password_policy", f"arn:aws:iam::{C}:root")]["observed"]
    assert (pw["min_length"], pw["reuse_prevention"], pw["max_age_days"]) == (16, 24, 60)
    rds = by[("aws.rds.backup_retention", f"arn:aws:rds:us-east-1:{N}:db:legacy-db")]["observed"]
    assert rds["backup_retention_days"] == 0
    admin = by[("aws.iam.user_admin_policies", f"arn:aws:iam::{N}:user/bob")]["observed"]
    assert admin["admin_policies"] == ["AdministratorAccess"]
    carol = by[("aws.iam.user_admin_policies", f"arn:aws:iam::{N}:user/carol")]["observed"]
    assert carol["admin_policies"] == ["everything (inline)"]
    sg = [f for f in aws_scan["findings"] if f["check"] == "aws.ec2.sg_admin_ports_open" and f["status"] == FAIL]
    assert {(f["observed"]["region"], tuple(f["observed"]["open_admin_ports"])) for f in sg} == {
        (r, (22, 3389)) for r in motolab.REGIONS}
    eu = by[("aws.s3.object_lock", "arn:aws:s3:::records-eu-222")]
    assert (eu["status"], eu["observed"]["region"], eu["observed"]["account"]) == (FAIL, "eu-west-1", N)
    logs = by[("aws.logs.retention", f"arn:aws:logs:eu-west-1:{N}:log-group:/app/eu-west-1")]["observed"]
    assert logs["retention_days"] == 7


def test_missing_api_is_an_error_naming_the_action(aws_scan: dict[str, Any]) -> None:
    (f,) = [f for f in aws_scan["findings"] if f["check"] == "aws.iam.access_analyzer"]
    assert f["status"] == ERROR
    assert "access-analyzer:ListAnalyzers" in f["message"]


def test_evidence_names_the_api_calls(aws_scan: dict[str, Any]) -> None:
    evidence = aws_scan["report"]["evidence"]
    sources = {v["fact"]: v["source"] for v in evidence.values()}
    assert "s3:GetEncryptionConfiguration x" in sources["aws.s3_buckets"]
    assert "ec2:DescribeVolumes x4" in sources["aws.ebs_volumes"]  # 2 accounts x 2 regions, one page each


def test_planted_secret_appears_in_no_output(aws_scan: dict[str, Any]) -> None:
    secret = motolab.PLANTED_SECRET
    assert secret not in aws_scan["stdout"] + aws_scan["stderr"]
    written = files_under(aws_scan["dir"])
    assert written
    for path in written:
        assert secret.encode() not in path.read_bytes(), path


def test_aws_policy_command_prints_the_derived_policy(capsys: pytest.CaptureFixture[str]) -> None:
    from scanner.cli import main
    from scanner.collectors.aws import aws_iam_policy

    assert main(["aws-policy"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == aws_iam_policy()
    actions = printed["Statement"][0]["Action"]
    assert "s3:GetEncryptionConfiguration" in actions and "iam:GenerateCredentialReport" in actions
    assert not any(a.split(":")[1].startswith(("Put", "Create", "Delete", "Update", "Attach")) for a in actions)
