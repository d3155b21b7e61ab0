"""RDS, EBS, AWS Backup, CloudWatch Logs, AWS Config and EC2 checks on small facts: the cases mutation testing
(docs/mutation.md, issue 15 fifth session) showed untested. Each asserts the status, the exact message and the
observed values."""
from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import pytest

from checks.aws import backup, config, ebs, ec2, logs, rds
from scanner.facts.aws import (
    AwsResources,
    BackupPlan,
    BackupVaultRef,
    ConfigRecorder,
    ConfigRegion,
    EbsDefaultEncryption,
    EbsVolume,
    Ingress,
    LogGroup,
    RdsInstance,
    Scope,
    SecurityGroup,
)
from tests.checks.aws.test_checks import ACCOUNT, REGION, ROOT, res

WHERE = {"account": ACCOUNT, "region": REGION}


def judged(findings: list[Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [(f.status.value, f.resource, f.message, dict(f.observed)) for f in findings]


# RDS -----------------------------------------------------------------------------------------------
def db(name: str, *, encrypted: bool = True, retention: int = 7, protected: bool = True) -> RdsInstance:
    return RdsInstance(ACCOUNT, REGION, name, f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{name}", "postgres", encrypted,
                       "arn:key" if encrypted else None, retention, protected)


def test_rds_storage_encryption_judges_every_instance() -> None:
    got = rds.storage_encryption(res(db("a", encrypted=False), db("b")))
    base = {**WHERE, "engine": "postgres"}
    assert judged(got) == [
        ("fail", db("a").arn, "a: storage not encrypted",
         {**base, "instance": "a", "storage_encrypted": False, "kms_key_id": None}),
        ("pass", db("b").arn, "b: storage encrypted",
         {**base, "instance": "b", "storage_encrypted": True, "kms_key_id": "arn:key"})]


@pytest.mark.parametrize("retention, policy, status, need", [
    (7, None, "pass", 7), (6, None, "fail", 7), (8, None, "pass", 7),  # default 7 days, at least
    (1, 0, "pass", 1), (0, 0, "fail", 1), (0, -3, "fail", 1),  # never less than one day
    (2, 2, "pass", 2), (1, 2, "fail", 2), (29, 30, "fail", 30)])
def test_rds_backup_retention_is_at_least_the_policy_and_one_day(retention: int, policy: int | None, status: str,
                                                                 need: int) -> None:
    kw = {} if policy is None else {"backup_retention_days": policy}
    (f,) = rds.backup_retention(res(db("a", retention=retention)), **kw)
    words = f"backups kept >= {need} days" if status == "pass" else f"backups kept < {need} days"
    assert judged([f]) == [(status, db("a").arn, f"a: {words}", {
        **WHERE, "instance": "a", "engine": "postgres", "backup_retention_days": retention, "required_days": need})]


def test_rds_deletion_protection_judges_every_instance() -> None:
    got = rds.deletion_protection(res(db("a", protected=False), db("b")))
    base = {**WHERE, "engine": "postgres"}
    assert judged(got) == [
        ("fail", db("a").arn, "a: deletion protection off", {**base, "instance": "a", "deletion_protection": False}),
        ("pass", db("b").arn, "b: deletion protection on", {**base, "instance": "b", "deletion_protection": True})]


# EBS -----------------------------------------------------------------------------------------------
def test_ebs_default_encryption_per_region() -> None:
    on = EbsDefaultEncryption(ACCOUNT, REGION, "arn:r1", True)
    off = EbsDefaultEncryption(ACCOUNT, "eu-west-1", "arn:r2", False)
    assert judged(ebs.default_encryption(res(off, on))) == [
        ("fail", "arn:r2", "EBS encryption by default is off in eu-west-1",
         {"account": ACCOUNT, "region": "eu-west-1", "enabled": False}),
        ("pass", "arn:r1", f"EBS encryption by default is on in {REGION}", {**WHERE, "enabled": True})]


def test_ebs_volume_encryption_names_the_reason_of_an_unencrypted_volume() -> None:
    def vol(vid: str, encrypted: bool, note: str = "") -> EbsVolume:
        return EbsVolume(ACCOUNT, REGION, vid, f"arn:{vid}", encrypted, "arn:key" if encrypted else None, "in-use",
                         note)

    got = ebs.volume_encryption(res(vol("v1", False), vol("v2", False, "default encryption ordered after it"),
                                    vol("v3", True)))
    assert judged(got) == [
        ("fail", "arn:v1", "volume v1 is not encrypted",
         {**WHERE, "volume": "v1", "encrypted": False, "kms_key_id": None, "state": "in-use"}),
        ("fail", "arn:v2", "volume v2 is not encrypted: default encryption ordered after it",
         {**WHERE, "volume": "v2", "encrypted": False, "kms_key_id": None, "state": "in-use"}),
        ("pass", "arn:v3", "volume v3 is encrypted",
         {**WHERE, "volume": "v3", "encrypted": True, "kms_key_id": "arn:key", "state": "in-use"})]


# Every check of these modules with nothing to judge --------------------------------------------------
@pytest.mark.parametrize("check, what", [
    (rds.storage_encryption, "RDS DB instances"), (rds.backup_retention, "RDS DB instances"),
    (rds.deletion_protection, "RDS DB instances"), (ebs.default_encryption, "regions"),
    (ebs.volume_encryption, "EBS volumes"), (logs.retention, "log groups"), (config.recorder, "regions"),
    (ec2.sg_admin_ports_open, "security groups")])
def test_every_check_with_nothing_to_judge_is_not_applicable_per_scope(check: Callable[..., Any],
                                                                       what: str) -> None:
    nothing: AwsResources[Any] = AwsResources(scopes=(Scope(ACCOUNT, REGION, "aws", ROOT),
                                                      Scope("210987654321", "eu-west-1", "aws", "arn:r2")), items=())
    assert judged(check(nothing)) == [
        ("not_applicable", ROOT, f"no {what} in account {ACCOUNT} ({REGION})", WHERE),
        ("not_applicable", "arn:r2", f"no {what} in account 210987654321 (eu-west-1)",
         {"account": "210987654321", "region": "eu-west-1"})]
    assert judged(check(AwsResources(scopes=(), items=()))) == [
        ("error", "aws", f"no account was scanned for {what}", {})]


# AWS Backup ----------------------------------------------------------------------------------------
OTHER = "210987654321"
GOOD, NO_KEY = BackupVaultRef("v", "arn:v", "arn:key", True), BackupVaultRef("nokey", "arn:nk", None, True)


def backup_plan(account: str, name: str, *vaults: BackupVaultRef, errors: dict[str, str] | None = None,
                region: str = REGION) -> BackupPlan:
    return BackupPlan(account, region, name, name, f"arn:plan:{account}:{name}", vaults=vaults,
                      errors=MappingProxyType(errors or {}))


def test_backup_plan_judges_each_account_on_its_own_plans() -> None:
    """The first good plan of an account passes it; an unread plan is an error unless a good one exists; a plan
    with no vault, a vault without a key or a vault that is gone fails; an account without plans fails."""
    scopes = tuple(Scope(a, r, "aws", f"arn:root:{a}") for a in (ACCOUNT, OTHER, "333333333333", "444444444444")
                   for r in (REGION, "eu-west-1"))
    plans = (backup_plan(ACCOUNT, "empty"), backup_plan(ACCOUNT, "first", GOOD, region="eu-west-1"),
             backup_plan(ACCOUNT, "second", GOOD),
             backup_plan(OTHER, "nokey", NO_KEY), backup_plan(OTHER, "unread", GOOD, errors={"rules": "denied"}),
             backup_plan(OTHER, "unread2", errors={"vaults": "also denied"}),
             backup_plan("333333333333", "gone", BackupVaultRef("gone", None, "arn:key", False)),
             backup_plan("333333333333", "empty"))
    got = backup.plan(AwsResources(scopes=scopes, items=plans))
    assert [(f.status.value, f.resource, f.message, f.observed["region"]) for f in got] == [
        ("pass", f"arn:plan:{ACCOUNT}:first", "backup plan first targets encrypted vault(s) v", "eu-west-1"),
        ("error", f"arn:plan:{OTHER}:unread", "backup plan unread could not be read: denied", REGION),
        ("fail", "arn:plan:333333333333:gone", "no backup plan targets only existing, encrypted vaults", "global"),
        ("fail", "arn:root:444444444444", "account 444444444444 has no AWS Backup plan in the scanned regions",
         "global")]
    assert [p["name"] for p in got[0].observed["plans"]] == ["empty", "first", "second"]
    assert got[1].observed["plans"][0] == {"name": "nokey", "region": REGION, "vaults": ("nokey",),
                                           "encrypted": (False,)}
    assert got[3].observed["plans"] == () and got[3].observed["account"] == "444444444444"
    assert judged(backup.plan(AwsResources(scopes=(), items=()))) == [
        ("error", "aws", "no account was scanned for backup plans", {})]


# CloudWatch Logs -----------------------------------------------------------------------------------
@pytest.mark.parametrize("days, policy, status, message, need", [
    (365, {}, "pass", "keeps events for 365 days (at least 365 required)", 365),  # default 365 days
    (364, {}, "fail", "keeps events for only 364 days (at least 365 required)", 365),
    (30, {"log_retention_days": 30}, "pass", "keeps events for 30 days (at least 30 required)", 30),
    (31, {"log_retention_days": 30}, "pass", "keeps events for 31 days (at least 30 required)", 30),
    (400, {"records_retention_days": 400}, "pass",
     "keeps events for 400 days (at least 400 required for the declared records retention)", 400),
    (399, {"records_retention_days": 400}, "fail",
     "keeps events for only 399 days (at least 400 required for the declared records retention)", 400),
    (365, {"records_retention_days": 100}, "pass", "keeps events for 365 days (at least 365 required)", 365),
    (50, {"log_retention_days": 30, "records_retention_days": 30}, "pass",
     "keeps events for 50 days (at least 30 required)", 30),
    (None, {"records_retention_days": 4000}, "pass", "keeps events forever (no retention limit set)", 4000)])
def test_log_retention_is_the_longer_of_the_policy_and_the_records_retention(
        days: int | None, policy: dict[str, int], status: str, message: str, need: int) -> None:
    g = LogGroup(ACCOUNT, REGION, "/a", "arn:lg", days)
    records = {"records_retention_days": policy["records_retention_days"]} if "records_retention_days" in policy \
        else {}
    assert judged(logs.retention(res(g), **policy)) == [(status, "arn:lg", f"log group /a {message}", {
        **WHERE, "log_group": "/a", "retention_days": "never expire" if days is None else days,
        "required_days": need, **records})]


# AWS Config ----------------------------------------------------------------------------------------
def recorder(name: str, *, recording: bool = True, everything: bool = True, failed: bool = False) -> ConfigRecorder:
    return ConfigRecorder(name, f"arn:rec:{name}", everything, recording, "FAILURE" if failed else "SUCCESS",
                          failed)


@pytest.mark.parametrize("recorders, status, resource, message", [
    ((recorder("stopped", recording=False), recorder("partial", everything=False), recorder("ok")),
     "pass", "arn:rec:ok", f"recorder ok records all resources in {REGION}"),
    ((recorder("broken", failed=True), recorder("ok"), recorder("also")),
     "pass", "arn:rec:ok", f"recorder ok records all resources in {REGION}"),
    ((recorder("broken", failed=True),), "fail", "arn:region",
     f"no recorder in {REGION} is recording all supported resources successfully"),
    ((recorder("stopped", recording=False),), "fail", "arn:region",
     f"no recorder in {REGION} is recording all supported resources successfully"),
    ((recorder("stopped", recording=False, failed=True),), "fail", "arn:region",
     f"no recorder in {REGION} is recording all supported resources successfully"),
    ((recorder("partial", everything=False),), "fail", "arn:region",
     f"no recorder in {REGION} is recording all supported resources successfully"),
    ((), "fail", "arn:region", f"no configuration recorder in {REGION}")])
def test_config_recorder_needs_one_recording_everything_without_failure(
        recorders: tuple[ConfigRecorder, ...], status: str, resource: str, message: str) -> None:
    got = config.recorder(res(ConfigRegion(ACCOUNT, REGION, "arn:region", recorders),
                              ConfigRegion(ACCOUNT, "eu-west-1", "arn:other", (recorder("ok"),))))
    assert [(f.status.value, f.resource, f.message) for f in got] == [
        (status, resource, message), ("pass", "arn:rec:ok", "recorder ok records all resources in eu-west-1")]
    assert [r["name"] for r in got[0].observed["recorders"]] == [c.name for c in recorders]


# EC2 -----------------------------------------------------------------------------------------------
def test_admin_ports_open_lists_each_port_once_for_every_group() -> None:
    def group(gid: str, *rules: Ingress) -> SecurityGroup:
        return SecurityGroup(ACCOUNT, REGION, gid, f"name-{gid}", f"arn:{gid}", "vpc-1", rules)

    groups = res(group("sg-1", Ingress("tcp", 3389, 3389, ("::/0",)), Ingress("-1", None, None, ("0.0.0.0/0",)),
                       Ingress("tcp", 22, 22, ("10.0.0.0/8", "0.0.0.0/0"))),
                 group("sg-2", Ingress("tcp", 22, 22, ("10.0.0.0/8",)), Ingress("tcp", 80, 80, ("0.0.0.0/0",))),
                 group("sg-3"))
    base = {**WHERE, "vpc_id": "vpc-1"}
    assert judged(ec2.sg_admin_ports_open(groups)) == [
        ("fail", "arn:sg-1", "sg-1 (name-sg-1) allows port(s) [22, 3389] from anywhere",
         {**base, "group_id": "sg-1", "group_name": "name-sg-1", "open_admin_ports": (22, 3389)}),
        ("pass", "arn:sg-2", "sg-2 (name-sg-2) does not open 22/3389 to the world",
         {**base, "group_id": "sg-2", "group_name": "name-sg-2", "open_admin_ports": ()}),
        ("pass", "arn:sg-3", "sg-3 (name-sg-3) does not open 22/3389 to the world",
         {**base, "group_id": "sg-3", "group_name": "name-sg-3", "open_admin_ports": ()})]
