"""Terraform HCL evaluated statically: what is resolved, and what stays unknown (error, never guessed)."""
from __future__ import annotations

from pathlib import Path

from tests.collectors.iac_repo import result, scan, verdicts, write

BUCKET = 'resource "aws_s3_bucket" "b" {\n  bucket = "b-${var.env}"\n}\n'


def encryption_of(algorithm_expr: str) -> str:
    return (BUCKET + 'resource "aws_s3_bucket_server_side_encryption_configuration" "b" {\n'
            '  bucket = aws_s3_bucket.b.id\n  rule {\n    apply_server_side_encryption_by_default {\n'
            f'      sse_algorithm = {algorithm_expr}\n    }}\n  }}\n}}\n')


def test_a_variable_without_value_is_unknown_and_the_finding_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": encryption_of("var.algorithm"),
                     "variables.tf": 'variable "env" { default = "x" }\nvariable "algorithm" {}\n'})
    got = result(scan(tmp_path, checks=("aws.s3.bucket_encryption",)), "aws.s3.bucket_encryption",
                 "aws_s3_bucket.b")
    assert got.status.value == "error"
    assert got.message == ("evidence incomplete for aws_s3_bucket.b: aws_s3_bucket_server_side_encryption_"
                           "configuration.b: value: var.algorithm has no default and no value in a tfvars file")


def test_tfvars_apply_in_order_defaults_then_terraform_tfvars_then_auto_then_the_targets(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'variable "days" { default = 1 }\nvariable "name" { default = "d" }\n'
                                'resource "aws_cloudwatch_log_group" "g" {\n  name = var.name\n'
                                '  retention_in_days = var.days\n}\n',
                     "terraform.tfvars": "days = 30\nname = \"from-tfvars\"\n",
                     "b.auto.tfvars": "days = 90\n", "a.auto.tfvars": "days = 60\n",
                     "env/prod.tfvars": "days = 400\n"})
    base = scan(tmp_path, checks=("aws.logs.retention",))
    assert result(base, "aws.logs.retention", "aws_cloudwatch_log_group.g").observed["retention_days"] == 90
    prod = scan(tmp_path, checks=("aws.logs.retention",), tfvars=[str(tmp_path / "env/prod.tfvars")])
    got = result(prod, "aws.logs.retention", "aws_cloudwatch_log_group.g")
    assert (got.status.value, got.observed["retention_days"], got.observed["log_group"]) == ("pass", 400,
                                                                                               "from-tfvars")


def test_count_and_for_each_expand_to_instance_addresses_and_an_unknown_count_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'locals { keys = { a = true, b = false } }\n'
                                'resource "aws_kms_key" "k" {\n  for_each = local.keys\n'
                                '  enable_key_rotation = each.value\n}\n'
                                'resource "aws_kms_key" "n" {\n  count = 2\n'
                                '  enable_key_rotation = count.index == 1\n}\n'
                                'variable "how_many" {}\n'
                                'resource "aws_kms_key" "u" {\n  count = var.how_many\n'
                                '  enable_key_rotation = true\n}\n'})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert verdicts(out, "aws.kms.key_rotation") == {
        'aws_kms_key.k["a"]': "pass", 'aws_kms_key.k["b"]': "fail", "aws_kms_key.n[0]": "fail",
        "aws_kms_key.n[1]": "pass", "aws_kms_key.u": "error"}
    assert "count of aws_kms_key.u: var.how_many has no default" in result(out, "aws.kms.key_rotation",
                                                                           "aws_kms_key.u").message


def test_a_split_resource_whose_bucket_cannot_be_resolved_makes_the_field_an_error_on_every_bucket(
        tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": BUCKET + 'variable "env" { default = "x" }\nvariable "which" {}\n'
                                'resource "aws_s3_bucket_versioning" "v" {\n  bucket = var.which\n'
                                '  versioning_configuration {\n    status = "Enabled"\n  }\n}\n'})
    out = scan(tmp_path, checks=("aws.s3.versioning", "aws.s3.bucket_encryption"))
    assert verdicts(out, "aws.s3.versioning") == {"aws_s3_bucket.b": "error"}
    assert verdicts(out, "aws.s3.bucket_encryption") == {"aws_s3_bucket.b": "pass"}  # other fields still judged
    assert "aws_s3_bucket_versioning.v names a bucket that cannot be resolved: value: var.which has no default" in \
        result(out, "aws.s3.versioning", "aws_s3_bucket.b").message


def test_references_to_a_buckets_arn_in_its_policy_are_its_address(tmp_path: Path) -> None:
    policy = ('jsonencode({Statement = [{Effect = "Deny", Principal = "*", Action = "s3:*",\n'
              '  Resource = [aws_s3_bucket.b.arn, "${aws_s3_bucket.b.arn}/*"],\n'
              '  Condition = {Bool = {"aws:SecureTransport" = "false"}}}]})')
    write(tmp_path, {"main.tf": BUCKET + 'variable "env" { default = "x" }\n'
                                f'resource "aws_s3_bucket_policy" "p" {{\n  bucket = aws_s3_bucket.b.id\n'
                                f'  policy = {policy}\n}}\n'})
    out = scan(tmp_path, checks=("aws.s3.secure_transport",))
    assert verdicts(out, "aws.s3.secure_transport") == {"aws_s3_bucket.b": "pass"}


def test_a_comparison_with_an_id_known_only_after_apply_is_unknown(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": encryption_of('aws_kms_key.k.key_id == "" ? "none" : "aws:kms"')
                     + 'resource "aws_kms_key" "k" {}\nvariable "env" { default = "x" }\n'})
    out = scan(tmp_path, checks=("aws.s3.bucket_encryption",))
    assert verdicts(out, "aws.s3.bucket_encryption") == {"aws_s3_bucket.b": "error"}
    assert "aws_kms_key.k: its id or ARN is known only after apply" in result(
        out, "aws.s3.bucket_encryption", "aws_s3_bucket.b").message


def test_local_modules_are_followed_and_remote_ones_are_a_warning(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'module "keys" {\n  source = "./modules/keys"\n  rotate = false\n}\n'
                                'module "remote" {\n  source = "terraform-aws-modules/kms/aws"\n}\n',
                     "modules/keys/main.tf": 'variable "rotate" {}\nresource "aws_kms_key" "k" {\n'
                                             '  enable_key_rotation = var.rotate\n}\n'})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert verdicts(out, "aws.kms.key_rotation") == {"module.keys.aws_kms_key.k": "fail"}
    assert result(out, "aws.kms.key_rotation", "module.keys.aws_kms_key.k").location is not None
    assert ("target code: main.tf line 5: module.remote comes from 'terraform-aws-modules/kms/aws', not a local "
            "directory: its resources are not judged") in out.warnings


def test_several_terraform_roots_in_one_target_are_told_apart_by_directory(tmp_path: Path) -> None:
    key = 'resource "aws_kms_key" "k" {\n  enable_key_rotation = true\n}\n'
    write(tmp_path, {"envs/dev/main.tf": key, "envs/prod/main.tf": key})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert verdicts(out, "aws.kms.key_rotation") == {"envs/dev:aws_kms_key.k": "pass",
                                                     "envs/prod:aws_kms_key.k": "pass"}
    assert result(out, "aws.kms.key_rotation", "envs/prod:aws_kms_key.k").location.path == "envs/prod/main.tf"


def test_a_plan_without_its_terraform_files_has_the_plan_file_as_location_without_lines(tmp_path: Path) -> None:
    plan = (Path(__file__).parents[1] / "fixtures" / "iac" / "terraform" / "tfplan.json").read_text()
    write(tmp_path, {"plans/tfplan.json": plan})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    got = result(out, "aws.kms.key_rotation", "aws_kms_key.legacy")
    assert (got.status.value, got.location.path, got.location.start_line) == ("fail", "plans/tfplan.json", None)
    assert "target code: plans/tfplan.json: no Terraform files next to the plan: its findings carry the plan file " \
           "without lines" in out.warnings


def test_a_dynamic_block_is_unknown_so_the_group_it_opens_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'variable "ports" { default = [22] }\nresource "aws_security_group" "g" {\n'
                                '  dynamic "ingress" {\n    for_each = var.ports\n    content {\n'
                                '      from_port = ingress.value\n      to_port = ingress.value\n'
                                '      protocol = "tcp"\n      cidr_blocks = ["0.0.0.0/0"]\n    }\n  }\n}\n'})
    out = scan(tmp_path, checks=("aws.ec2.sg_admin_ports_open",))
    got = result(out, "aws.ec2.sg_admin_ports_open", "aws_security_group.g")
    assert (got.status.value, got.message) == (
        "error", "cannot judge aws_security_group.g: aws_security_group.g: value: dynamic block ingress is not "
                 "evaluated statically (the check would say: pass, aws_security_group.g (aws_security_group.g) does "
                 "not open 22/3389 to the world)")


def test_terraform_json_syntax_is_named_as_not_read(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf.json": '{"resource": {"aws_kms_key": {"k": {"enable_key_rotation": false}}}}',
                     "good.tf": 'resource "aws_kms_key" "g" {\n  enable_key_rotation = true\n}\n'})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert verdicts(out, "aws.kms.key_rotation") == {"aws_kms_key.g": "pass"}
    assert "target code: main.tf.json: Terraform JSON syntax (.tf.json) is not read: its resources are not judged" \
        in out.warnings


def test_split_resources_join_the_instance_they_name_and_an_ambiguous_reference_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'resource "aws_s3_bucket" "b" {\n  count = 2\n}\n'
                                'resource "aws_s3_bucket_versioning" "v" {\n  count = 2\n'
                                '  bucket = aws_s3_bucket.b[count.index].id\n  versioning_configuration {\n'
                                '    status = count.index == 0 ? "Enabled" : "Suspended"\n  }\n}\n'})
    out = scan(tmp_path, checks=("aws.s3.versioning",))
    assert verdicts(out, "aws.s3.versioning") == {"aws_s3_bucket.b[0]": "pass", "aws_s3_bucket.b[1]": "fail"}

    # a plan whose split resource refers to the counted bucket only as a whole cannot say which instance it sets
    from scanner.collectors.iac._build import Where, build
    from scanner.collectors.iac._plan import AFTER_APPLY
    from scanner.collectors.iac._values import Block, Unknown
    from scanner.model import Location

    where = Location("tfplan.json")
    blocks = [Block("aws_s3_bucket", f"aws_s3_bucket.b[{i}]", {"bucket": f"b{i}"}, where) for i in (0, 1)]
    blocks += [Block("aws_s3_bucket", "aws_s3_bucket.other", {"bucket": "other"}, where),
               Block("aws_s3_bucket_versioning", "aws_s3_bucket_versioning.v",
                     {"bucket": Unknown(AFTER_APPLY), "versioning_configuration": [{"status": "Enabled"}]}, where,
                     refs={"bucket": ("aws_s3_bucket.b",)})]
    buckets = build(blocks, Where("000000000000", "eu-west-1", "aws")).facts["aws.s3_buckets"].items
    assert {b.arn: sorted(b.errors) for b in buckets} == {"aws_s3_bucket.b[0]": ["versioning"],
                                                          "aws_s3_bucket.b[1]": ["versioning"],
                                                          "aws_s3_bucket.other": []}


def test_iam_backup_config_and_ebs_resources_are_joined_as_aws_applies_them(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": '''
resource "aws_iam_user" "ops" {
  name = "ops"
}
resource "aws_iam_user_policy_attachment" "ops_admin" {
  user       = aws_iam_user.ops.name
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}
resource "aws_iam_user" "reader" {
  name = "reader"
}
resource "aws_iam_policy" "read" {
  name   = "read"
  policy = jsonencode({Statement = [{Effect = "Allow", Action = "s3:GetObject", Resource = "*"}]})
}
resource "aws_iam_user_policy_attachment" "reader_read" {
  user       = aws_iam_user.reader.name
  policy_arn = aws_iam_policy.read.arn
}
resource "aws_backup_vault" "v" {
  name = "gxp"
}
resource "aws_backup_plan" "p" {
  name = "daily"
  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.v.name
    schedule          = "cron(0 3 * * ? *)"
  }
}
resource "aws_backup_selection" "s" {
  name         = "all"
  plan_id      = aws_backup_plan.p.id
  iam_role_arn = "arn:aws:iam::123456789012:role/backup"
  resources    = ["*"]
}
resource "aws_config_configuration_recorder" "r" {
  name     = "default"
  role_arn = "arn:aws:iam::123456789012:role/config"
}
resource "aws_config_configuration_recorder_status" "r" {
  name       = aws_config_configuration_recorder.r.name
  is_enabled = true
}
resource "aws_ebs_encryption_by_default" "on" {
  enabled = true
}
resource "aws_ebs_volume" "data" {
  availability_zone = "eu-west-1a"
  size              = 10
}
'''})
    out = scan(tmp_path, checks=("aws.iam.user_admin_policies", "aws.backup.plan", "aws.config.recorder",
                                 "aws.ebs.*"), region="eu-west-1")
    got = {(r.check, r.resource): r.status.value for r in out.results}
    assert got == {("aws.iam.user_admin_policies", "aws_iam_user.ops"): "fail",
                   ("aws.iam.user_admin_policies", "aws_iam_user.reader"): "pass",
                   ("aws.backup.plan", "aws_backup_plan.p"): "pass",
                   ("aws.config.recorder", "aws_config_configuration_recorder.r"): "pass",
                   ("aws.ebs.default_encryption", "aws_ebs_encryption_by_default.on"): "pass",
                   ("aws.ebs.volume_encryption", "aws_ebs_volume.data"): "fail"}
    assert result(out, "aws.backup.plan", "aws_backup_plan.p").observed["plans"][0]["encrypted"] == (True,)
