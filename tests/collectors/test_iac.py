"""The iac collector on the sample repository (tests/fixtures/iac): every aws.* verdict per resource, with location.

The Terraform HCL and the plan JSON of the same code must give the same verdicts (the plan has no broken file);
CloudFormation YAML and JSON are judged by the same checks. Each table is the whole outcome: a verdict more or
less, or another location, fails the test.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scanner.model import Platform, Target
from scanner.registry import Registry
from scanner.runner import TargetOutcome, scan_target

FIXTURES = Path(__file__).parents[1] / "fixtures" / "iac"
RUNTIME = "runtime state, verified by the live scan"

#: Terraform resources (HCL and plan JSON alike), with their HCL location.
TERRAFORM = {
    ('aws.logs.retention', 'aws_cloudwatch_log_group.app[0]'): ('fail', ('terraform/main.tf', 150, 154)),
    ('aws.logs.retention', 'aws_cloudwatch_log_group.app[1]'): ('fail', ('terraform/main.tf', 150, 154)),
    ('aws.rds.backup_retention', 'aws_db_instance.lims'): ('pass', ('terraform/main.tf', 141, 148)),
    ('aws.rds.deletion_protection', 'aws_db_instance.lims'): ('pass', ('terraform/main.tf', 141, 148)),
    ('aws.rds.storage_encryption', 'aws_db_instance.lims'): ('pass', ('terraform/main.tf', 141, 148)),
    ('aws.iam.password_policy', 'aws_iam_account_password_policy.strict'): ('pass', ('terraform/main.tf', 156, 164)),
    ('aws.kms.key_rotation', 'aws_kms_key.legacy'): ('fail', ('terraform/main.tf', 115, 117)),
    ('aws.kms.key_rotation', 'aws_kms_key.records'): ('pass', ('terraform/main.tf', 110, 113)),
    ('aws.s3.access_logging', 'aws_s3_bucket.records'): ('pass', ('terraform/main.tf', 10, 15)),
    ('aws.s3.bucket_encryption', 'aws_s3_bucket.records'): ('pass', ('terraform/main.tf', 10, 15)),
    ('aws.s3.object_lock', 'aws_s3_bucket.records'): ('pass', ('terraform/main.tf', 10, 15)),
    ('aws.s3.public_access_block', 'aws_s3_bucket.records'): ('pass', ('terraform/main.tf', 10, 15)),
    ('aws.s3.secure_transport', 'aws_s3_bucket.records'): ('pass', ('terraform/main.tf', 10, 15)),
    ('aws.s3.versioning', 'aws_s3_bucket.records'): ('pass', ('terraform/main.tf', 10, 15)),
    ('aws.s3.access_logging', 'aws_s3_bucket.scratch'): ('fail', ('terraform/main.tf', 75, 77)),
    ('aws.s3.bucket_encryption', 'aws_s3_bucket.scratch'): ('pass', ('terraform/main.tf', 75, 77)),
    ('aws.s3.object_lock', 'aws_s3_bucket.scratch'): ('fail', ('terraform/main.tf', 75, 77)),
    ('aws.s3.public_access_block', 'aws_s3_bucket.scratch'): ('fail', ('terraform/main.tf', 75, 77)),
    ('aws.s3.secure_transport', 'aws_s3_bucket.scratch'): ('fail', ('terraform/main.tf', 75, 77)),
    ('aws.s3.versioning', 'aws_s3_bucket.scratch'): ('waived', ('terraform/main.tf', 75, 77)),
    ('aws.s3.access_logging', 'aws_s3_bucket.unknown'): ('fail', ('terraform/main.tf', 95, 99)),
    ('aws.s3.bucket_encryption', 'aws_s3_bucket.unknown'): ('error', ('terraform/main.tf', 95, 99)),
    ('aws.s3.object_lock', 'aws_s3_bucket.unknown'): ('fail', ('terraform/main.tf', 95, 99)),
    ('aws.s3.public_access_block', 'aws_s3_bucket.unknown'): ('pass', ('terraform/main.tf', 95, 99)),
    ('aws.s3.secure_transport', 'aws_s3_bucket.unknown'): ('fail', ('terraform/main.tf', 95, 99)),
    ('aws.s3.versioning', 'aws_s3_bucket.unknown'): ('fail', ('terraform/main.tf', 95, 99)),
    ('aws.ec2.sg_admin_ports_open', 'aws_security_group.admin'): ('fail', ('terraform/main.tf', 119, 127)),
    ('aws.ec2.sg_admin_ports_open', 'aws_security_group.web'): ('pass', ('terraform/main.tf', 129, 131)),
    ('aws.cloudtrail.bucket_not_public', 'module.logs.aws_cloudtrail.main'):
        ('pass', ('terraform/modules/logs/main.tf', 14, 19)),
    ('aws.cloudtrail.kms_encryption', 'module.logs.aws_cloudtrail.main'):
        ('fail', ('terraform/modules/logs/main.tf', 14, 19)),
    ('aws.cloudtrail.log_validation', 'module.logs.aws_cloudtrail.main'):
        ('pass', ('terraform/modules/logs/main.tf', 14, 19)),
    ('aws.cloudtrail.multi_region', 'module.logs.aws_cloudtrail.main'):
        ('pass', ('terraform/modules/logs/main.tf', 14, 19)),
    ('aws.s3.access_logging', 'module.logs.aws_s3_bucket.audit'): ('fail', ('terraform/modules/logs/main.tf', 3, 5)),
    ('aws.s3.bucket_encryption', 'module.logs.aws_s3_bucket.audit'): ('pass', ('terraform/modules/logs/main.tf', 3, 5)),
    ('aws.s3.object_lock', 'module.logs.aws_s3_bucket.audit'): ('fail', ('terraform/modules/logs/main.tf', 3, 5)),
    ('aws.s3.public_access_block', 'module.logs.aws_s3_bucket.audit'):
        ('pass', ('terraform/modules/logs/main.tf', 3, 5)),
    ('aws.s3.secure_transport', 'module.logs.aws_s3_bucket.audit'): ('fail', ('terraform/modules/logs/main.tf', 3, 5)),
    ('aws.s3.versioning', 'module.logs.aws_s3_bucket.audit'): ('pass', ('terraform/modules/logs/main.tf', 3, 5)),
}
#: Account-wide findings of the Terraform sample (nothing in the code sets them, as in a fresh account), and the
#: runtime-only checks.
TERRAFORM_ACCOUNT = {
    ('aws.backup.plan', 'arn:aws:iam::000000000000:root'): ('fail', None),
    ('aws.ebs.volume_encryption', 'arn:aws:iam::000000000000:root'): ('not_applicable', None),
    ('aws.iam.user_admin_policies', 'arn:aws:iam::000000000000:root'): ('not_applicable', None),
    ('aws.s3.public_access_block', 'arn:aws:iam::000000000000:root'): ('fail', None),
    ('aws.config.recorder', 'arn:aws:config:eu-west-1:000000000000:configuration-recorder'): ('fail', None),
    ('aws.ebs.default_encryption', 'arn:aws:ec2:eu-west-1:000000000000:ebs-encryption-by-default'): ('fail', None),
    ('aws.iam.access_analyzer', 'arn:aws:access-analyzer:eu-west-1:000000000000:analyzer'): ('fail', None),
    ('aws.iam.access_key_rotation', 'code'): ('not_applicable', None),
    ('aws.iam.root_access_keys', 'code'): ('not_applicable', None),
    ('aws.iam.root_mfa', 'code'): ('not_applicable', None),
    ('aws.iam.unused_credentials', 'code'): ('not_applicable', None),
    ('aws.iam.user_mfa', 'code'): ('not_applicable', None),
}
#: The file that does not parse: the resources still recognisable in it are errors, with file and line.
TERRAFORM_BROKEN = {
    ('aws.kms.key_rotation', 'aws_kms_key.also_lost'): ('error', ('terraform/broken.tf', 4, 4)),
    ('aws.s3.access_logging', 'aws_s3_bucket.half_written'): ('error', ('terraform/broken.tf', 1, 1)),
    ('aws.s3.bucket_encryption', 'aws_s3_bucket.half_written'): ('error', ('terraform/broken.tf', 1, 1)),
    ('aws.s3.object_lock', 'aws_s3_bucket.half_written'): ('error', ('terraform/broken.tf', 1, 1)),
    ('aws.s3.public_access_block', 'aws_s3_bucket.half_written'): ('error', ('terraform/broken.tf', 1, 1)),
    ('aws.s3.secure_transport', 'aws_s3_bucket.half_written'): ('error', ('terraform/broken.tf', 1, 1)),
    ('aws.s3.versioning', 'aws_s3_bucket.half_written'): ('error', ('terraform/broken.tf', 1, 1)),
}
CLOUDFORMATION = {
    ('aws.iam.password_policy', 'arn:aws:iam::000000000000:root'): ('fail', None),
    ('aws.s3.public_access_block', 'arn:aws:iam::000000000000:root'): ('fail', None),
    ('aws.ebs.default_encryption', 'arn:aws:ec2:us-east-1:000000000000:ebs-encryption-by-default'): ('fail', None),
    ('aws.iam.access_analyzer', 'arn:aws:access-analyzer:us-east-1:000000000000:analyzer'): ('pass', None),
    ('aws.s3.access_logging', 'cloudformation/broken.yaml#LostBucket'): ('error', ('cloudformation/broken.yaml', 3, 3)),
    ('aws.s3.bucket_encryption', 'cloudformation/broken.yaml#LostBucket'):
        ('error', ('cloudformation/broken.yaml', 3, 3)),
    ('aws.s3.object_lock', 'cloudformation/broken.yaml#LostBucket'): ('error', ('cloudformation/broken.yaml', 3, 3)),
    ('aws.s3.public_access_block', 'cloudformation/broken.yaml#LostBucket'):
        ('error', ('cloudformation/broken.yaml', 3, 3)),
    ('aws.s3.secure_transport', 'cloudformation/broken.yaml#LostBucket'):
        ('error', ('cloudformation/broken.yaml', 3, 3)),
    ('aws.s3.versioning', 'cloudformation/broken.yaml#LostBucket'): ('error', ('cloudformation/broken.yaml', 3, 3)),
    ('aws.kms.key_rotation', 'cloudformation/broken.yaml#LostKey'): ('error', ('cloudformation/broken.yaml', 8, 8)),
    ('aws.s3.access_logging', 'cloudformation/stack.json#ArchiveBucket'):
        ('fail', ('cloudformation/stack.json', 4, 17)),
    ('aws.s3.bucket_encryption', 'cloudformation/stack.json#ArchiveBucket'):
        ('pass', ('cloudformation/stack.json', 4, 17)),
    ('aws.s3.object_lock', 'cloudformation/stack.json#ArchiveBucket'): ('fail', ('cloudformation/stack.json', 4, 17)),
    ('aws.s3.public_access_block', 'cloudformation/stack.json#ArchiveBucket'):
        ('fail', ('cloudformation/stack.json', 4, 17)),
    ('aws.s3.secure_transport', 'cloudformation/stack.json#ArchiveBucket'):
        ('fail', ('cloudformation/stack.json', 4, 17)),
    ('aws.s3.versioning', 'cloudformation/stack.json#ArchiveBucket'): ('pass', ('cloudformation/stack.json', 4, 17)),
    ('aws.kms.key_rotation', 'cloudformation/stack.json#ArchiveKey'): ('fail', ('cloudformation/stack.json', 18, 21)),
    ('aws.logs.retention', 'cloudformation/stack.json#ShortLogs'): ('fail', ('cloudformation/stack.json', 22, 25)),
    ('aws.ec2.sg_admin_ports_open', 'cloudformation/stack.yaml#AdminGroup'):
        ('fail', ('cloudformation/stack.yaml', 102, 110)),
    ('aws.ec2.sg_admin_ports_open', 'cloudformation/stack.yaml#AppGroup'):
        ('pass', ('cloudformation/stack.yaml', 112, 115)),
    ('aws.logs.retention', 'cloudformation/stack.yaml#AppLogs'): ('pass', ('cloudformation/stack.yaml', 171, 175)),
    ('aws.ebs.volume_encryption', 'cloudformation/stack.yaml#DataVolume'):
        ('error', ('cloudformation/stack.yaml', 126, 131)),
    ('aws.rds.backup_retention', 'cloudformation/stack.yaml#Database'):
        ('fail', ('cloudformation/stack.yaml', 133, 140)),
    ('aws.rds.deletion_protection', 'cloudformation/stack.yaml#Database'):
        ('pass', ('cloudformation/stack.yaml', 133, 140)),
    ('aws.rds.storage_encryption', 'cloudformation/stack.yaml#Database'):
        ('fail', ('cloudformation/stack.yaml', 133, 140)),
    ('aws.s3.access_logging', 'cloudformation/stack.yaml#LogBucket'): ('waived', ('cloudformation/stack.yaml', 67, 84)),
    ('aws.s3.bucket_encryption', 'cloudformation/stack.yaml#LogBucket'):
        ('pass', ('cloudformation/stack.yaml', 67, 84)),
    ('aws.s3.object_lock', 'cloudformation/stack.yaml#LogBucket'): ('fail', ('cloudformation/stack.yaml', 67, 84)),
    ('aws.s3.public_access_block', 'cloudformation/stack.yaml#LogBucket'):
        ('fail', ('cloudformation/stack.yaml', 67, 84)),
    ('aws.s3.secure_transport', 'cloudformation/stack.yaml#LogBucket'): ('fail', ('cloudformation/stack.yaml', 67, 84)),
    ('aws.s3.versioning', 'cloudformation/stack.yaml#LogBucket'): ('fail', ('cloudformation/stack.yaml', 67, 84)),
    ('aws.iam.user_admin_policies', 'cloudformation/stack.yaml#Operator'):
        ('fail', ('cloudformation/stack.yaml', 177, 182)),
    ('aws.backup.plan', 'cloudformation/stack.yaml#Plan'): ('pass', ('cloudformation/stack.yaml', 148, 156)),
    ('aws.config.recorder', 'cloudformation/stack.yaml#Recorder'): ('pass', ('cloudformation/stack.yaml', 158, 164)),
    ('aws.s3.access_logging', 'cloudformation/stack.yaml#RecordsBucket'):
        ('pass', ('cloudformation/stack.yaml', 25, 49)),
    ('aws.s3.bucket_encryption', 'cloudformation/stack.yaml#RecordsBucket'):
        ('pass', ('cloudformation/stack.yaml', 25, 49)),
    ('aws.s3.object_lock', 'cloudformation/stack.yaml#RecordsBucket'): ('pass', ('cloudformation/stack.yaml', 25, 49)),
    ('aws.s3.public_access_block', 'cloudformation/stack.yaml#RecordsBucket'):
        ('pass', ('cloudformation/stack.yaml', 25, 49)),
    ('aws.s3.secure_transport', 'cloudformation/stack.yaml#RecordsBucket'):
        ('pass', ('cloudformation/stack.yaml', 25, 49)),
    ('aws.s3.versioning', 'cloudformation/stack.yaml#RecordsBucket'): ('pass', ('cloudformation/stack.yaml', 25, 49)),
    ('aws.kms.key_rotation', 'cloudformation/stack.yaml#RecordsKey'): ('pass', ('cloudformation/stack.yaml', 20, 23)),
    ('aws.cloudtrail.bucket_not_public', 'cloudformation/stack.yaml#Trail'):
        ('pass', ('cloudformation/stack.yaml', 92, 100)),
    ('aws.cloudtrail.kms_encryption', 'cloudformation/stack.yaml#Trail'):
        ('pass', ('cloudformation/stack.yaml', 92, 100)),
    ('aws.cloudtrail.log_validation', 'cloudformation/stack.yaml#Trail'):
        ('fail', ('cloudformation/stack.yaml', 92, 100)),
    ('aws.cloudtrail.multi_region', 'cloudformation/stack.yaml#Trail'):
        ('pass', ('cloudformation/stack.yaml', 92, 100)),
    ('aws.iam.access_key_rotation', 'code'): ('not_applicable', None),
    ('aws.iam.root_access_keys', 'code'): ('not_applicable', None),
    ('aws.iam.root_mfa', 'code'): ('not_applicable', None),
    ('aws.iam.unused_credentials', 'code'): ('not_applicable', None),
    ('aws.iam.user_mfa', 'code'): ('not_applicable', None),
}


def scan_code(paths: list[Path], root: Path = FIXTURES, **options: Any) -> TargetOutcome:
    specs = Registry.load().select(["aws.*"])
    target = Target("code", Platform.IAC, {"path": [str(p) for p in paths], "root": str(root), **options}, {})
    return scan_target(target, specs, {})


def table(outcome: TargetOutcome) -> dict[tuple[str, str], tuple[str, Any]]:
    out = {}
    for r in outcome.results:
        loc = (r.location.path, r.location.start_line, r.location.end_line) if r.location else None
        assert (r.check, r.resource) not in out, f"two findings for {r.check} on {r.resource}"
        out[(r.check, r.resource)] = (r.status.value, loc)
    return out


# The sample trails record no S3 data events (records scope: every bucket), so every bucket that was read fails
# aws.cloudtrail.data_events; selectors that do record them: tests/collectors/test_iac_data_events.py.
DATA_EVENTS = "aws.cloudtrail.data_events"
TERRAFORM_DATA_EVENTS = {
    (DATA_EVENTS, "module.logs.aws_s3_bucket.audit"): ("fail", ("terraform/modules/logs/main.tf", 3, 5)),
    (DATA_EVENTS, "aws_s3_bucket.records"): ("fail", ("terraform/main.tf", 10, 15)),
    (DATA_EVENTS, "aws_s3_bucket.scratch"): ("fail", ("terraform/main.tf", 75, 77)),
    (DATA_EVENTS, "aws_s3_bucket.unknown"): ("fail", ("terraform/main.tf", 95, 99)),
}
TERRAFORM_BROKEN_DATA_EVENTS = {
    (DATA_EVENTS, "aws_s3_bucket.half_written"): ("error", ("terraform/broken.tf", 1, 1)),
}
CLOUDFORMATION_DATA_EVENTS = {
    (DATA_EVENTS, "cloudformation/broken.yaml#LostBucket"): ("error", ("cloudformation/broken.yaml", 3, 3)),
    (DATA_EVENTS, "cloudformation/stack.json#ArchiveBucket"): ("fail", ("cloudformation/stack.json", 4, 17)),
    (DATA_EVENTS, "cloudformation/stack.yaml#RecordsBucket"): ("fail", ("cloudformation/stack.yaml", 25, 49)),
    (DATA_EVENTS, "cloudformation/stack.yaml#LogBucket"): ("fail", ("cloudformation/stack.yaml", 67, 84)),
}


@pytest.mark.parametrize("kind, paths, expected", [
    ("hcl", [FIXTURES / "terraform" / "main.tf"], {**TERRAFORM, **TERRAFORM_ACCOUNT, **TERRAFORM_BROKEN,
                                                   **TERRAFORM_DATA_EVENTS, **TERRAFORM_BROKEN_DATA_EVENTS}),
    ("plan", [FIXTURES / "terraform" / "tfplan.json"], {**TERRAFORM, **TERRAFORM_ACCOUNT, **TERRAFORM_DATA_EVENTS}),
    ("cloudformation", [FIXTURES / "cloudformation"], {**CLOUDFORMATION, **CLOUDFORMATION_DATA_EVENTS}),
])
def test_every_verdict_of_the_sample_repository(kind: str, paths: list[Path], expected: dict[Any, Any]) -> None:
    outcome = scan_code(paths)
    assert table(outcome) == expected
    runtime = [r for r in outcome.results if r.resource == "code"]
    assert runtime and all(r.message == RUNTIME for r in runtime)


def test_the_hand_written_plan_follows_the_documented_format() -> None:
    import json

    plan = json.loads((FIXTURES / "terraform" / "tfplan.json").read_text())
    assert plan["format_version"] == "1.2"
    assert set(plan) <= {"format_version", "terraform_version", "variables", "planned_values", "resource_drift",
                         "resource_changes", "output_changes", "prior_state", "configuration",
                         "relevant_attributes", "checks", "timestamp", "complete"}
    planned = {}
    modules = [plan["planned_values"]["root_module"]]
    while modules:
        module = modules.pop()
        modules += module.get("child_modules", [])
        for r in module["resources"]:
            assert set(r) <= {"address", "mode", "type", "name", "index", "provider_name", "schema_version",
                              "values", "sensitive_values"}
            planned[r["address"]] = (r["type"], r["name"], r.get("index"))
    changes = {}
    for c in plan["resource_changes"]:
        assert set(c) <= {"address", "module_address", "mode", "type", "name", "index", "provider_name", "change"}
        assert c["change"]["actions"] == ["create"] and c["change"]["before"] is None
        changes[c["address"]] = (c["type"], c["name"], c.get("index"))
    assert changes == planned
    configured = {r["address"] for r in plan["configuration"]["root_module"]["resources"]}
    configured |= {f"module.logs.{r['address']}" for r in
                   plan["configuration"]["root_module"]["module_calls"]["logs"]["module"]["resources"]}
    assert configured == {a.split("[", 1)[0] for a in planned}
