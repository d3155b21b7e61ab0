"""The intrusive CloudTrail challenge against moto.

moto 5.2 does not implement cloudtrail:LookupEvents (its server answers HTTP 500; read in moto/cloudtrail/responses.py
and tried), so the found / not-found verdicts against CloudTrail itself are in test_challenge_real_account.py
(opt-in). Here the test principal's identity and its audited read run for real on moto, every look-up is
undetermined, and the challenge says error (never pass, never fail on a look-up that could not be made).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from checks.aws import challenge_cloudtrail
from checks.aws.challenge_cloudtrail import poll_offsets
from scanner.challenge import PLANNED
from scanner.model import Status
from scanner.probes.aws import matching_events
from tests.checks.aws.challenge_lab import BAD, GOOD, assert_no_secret, moto_server, plan, run, verdicts
from tests.lab import motolab

SECRET_ENV = "GXP_TEST_AWS_CHALLENGE_SECRET"
KEYS: dict[str, dict[str, str]] = {}


def populate(lab: motolab.MotoServer) -> None:
    iam = lab.client(lab.session(GOOD), "iam")
    for name in ("tester", "alice", "bob"):
        iam.create_user(UserName=name)
        KEYS[name] = iam.create_access_key(UserName=name)["AccessKey"]
    iam.create_login_profile(UserName="alice", Password="Alice-Password-12345")


pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[motolab.MotoServer]:
    yield from moto_server(tmp_path_factory, populate)


def principal_opts(**opts: Any) -> dict[str, Any]:
    return {"challenge_account": KEYS["tester"]["AccessKeyId"], "challenge_password_env": SECRET_ENV,
            "max_attempts": 0, "policy": {"audit_trail_bound_seconds": 1}, **opts}


def env() -> dict[str, str]:
    return {SECRET_ENV: KEYS["tester"]["SecretAccessKey"]}


def iam_state(lab: motolab.MotoServer) -> list[Any]:
    """Every user of the account with its keys, their status and its console password: must not change."""
    with motolab.lab_credentials():
        iam = lab.client(lab.session(GOOD), "iam")
        out: list[Any] = []
        for user in iam.list_users()["Users"]:
            name = user["UserName"]
            keys = [(k["AccessKeyId"], k["Status"]) for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]]
            try:
                login = iam.get_login_profile(UserName=name)["LoginProfile"]["CreateDate"].isoformat()
            except iam.exceptions.NoSuchEntityException:
                login = None
            out.append((name, user["Arn"], keys, login))
        return out


def test_without_lookup_events_the_challenge_is_an_error_and_touches_no_account(lab, caplog):
    caplog.set_level(logging.DEBUG)
    before = iam_state(lab)
    out = run(challenge_cloudtrail.cloudtrail_records_reads, lab, GOOD, env=env(), **principal_opts())
    me = f"arn:aws:iam::{GOOD}:user/tester"
    assert verdicts(out) == {me: (
        Status.ERROR, "1 of 1 CloudTrail look-ups could not be made; the read was not seen within 1 s")}
    key = KEYS["tester"]["AccessKeyId"]
    assert [(s.action, s.ok) for s in out.steps[1:]] == [
        (f"identify the test principal (access key {key}) with sts:GetCallerIdentity", True),
        ("as the test principal, call kms:ListKeys in us-east-1 (the audited read)", True),
        (f"look up CloudTrail events of access key {key} in us-east-1 (poll 1, 1 s after the read)", None)]
    assert out.steps[1].received == me and out.steps[2].actual == "allowed (HTTP 200)"
    assert iam_state(lab) == before
    assert_no_secret(out, caplog=caplog, secrets=(motolab.PLANTED_SECRET, KEYS["tester"]["SecretAccessKey"]))


@pytest.mark.parametrize("account, opts, message", [
    (GOOD, {"challenge_account": None}, "refused: target moto names neither challenge_profile nor challenge_account"),
    (GOOD, {"challenge_password_env": "GXP_TEST_UNSET_AWS_SECRET"}, "refused: target moto: environment variable "
                                                                    "GXP_TEST_UNSET_AWS_SECRET"),
    (BAD, {}, f"the test principal's account {GOOD} is not among the scanned accounts"),
])
def test_refusals(lab, account, opts, message):
    out = run(challenge_cloudtrail.cloudtrail_records_reads, lab, account, env=env(), **principal_opts(**opts))
    assert len(out.findings) == 1 and out.findings[0].status is Status.ERROR
    assert out.findings[0].message.startswith(message)
    assert not any("ListKeys" in s.action for s in out.steps)  # no read was made


def test_the_scan_principal_is_refused_as_test_principal(lab):
    out = run(challenge_cloudtrail.cloudtrail_records_reads, lab, GOOD, env={SECRET_ENV: motolab.PLANTED_SECRET},
              **principal_opts(challenge_account=motolab.ACCESS_KEY_ID, accounts=None, role_name=None))
    assert [(f.status, f.message) for f in out.findings] == [
        (Status.ERROR, "refused: the test principal is the scan principal; name a separate test principal")]
    assert not any("ListKeys" in s.action for s in out.steps)


@pytest.mark.parametrize("bound, offsets", [
    (900, [15, 45, 105, 225, 345, 465, 585, 705, 825, 900]),
    (60, [15, 45, 60]),
    (1, [1]),
])
def test_polls_back_off_within_the_bound(bound, offsets):
    assert poll_offsets(bound) == offsets


def test_plan_lists_the_steps_without_any_request():
    out = plan(challenge_cloudtrail.cloudtrail_records_reads, challenge_account="AKIATESTPRINCIPAL01",
               challenge_password_env="GXP_TEST_UNSET_AWS_SECRET")
    assert out.findings == () and [s.action for s in out.steps] == [
        "sign in to AWS with the scan's credentials (sts:GetCallerIdentity)",
        "identify the test principal (access key AKIATESTPRINCIPAL01) with sts:GetCallerIdentity",
        "as the test principal, call kms:ListKeys in <home region> (the audited read)",
        "look up CloudTrail events of access key <its access key id> in <home region> (poll 1, 15 s after the read)"]
    assert {s.actual for s in out.steps} == {PLANNED}


def lookup_entry(name: str, at: datetime, record: str = "", source: str = "kms.amazonaws.com") -> dict[str, Any]:
    """A LookupEvents entry as boto3 returns it (EventTime parsed, CloudTrailEvent a JSON string)."""
    return {"EventId": f"id-{name}-{at.minute}", "EventName": name, "EventTime": at, "EventSource": source,
            "Username": "tester", "CloudTrailEvent": record or json.dumps(
                {"userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{GOOD}:user/tester"}})}


def test_only_the_audited_read_after_the_start_matches():
    since = datetime(2026, 12, 1, 18, 0, tzinfo=timezone.utc)
    raw = [lookup_entry("ListKeys", since + timedelta(seconds=3)),
           lookup_entry("ListKeys", since - timedelta(minutes=5)),  # an older read by the same key
           lookup_entry("ListAliases", since + timedelta(seconds=4)),
           lookup_entry("ListKeys", since + timedelta(seconds=5), source="evil.amazonaws.com"),
           lookup_entry("ListKeys", since + timedelta(seconds=6), record="{not json" + "x" * 70_000)]
    events, hits = matching_events(raw, since)
    assert len(events) == 5 and [(h.time.second, h.principal_arn) for h in hits] == [
        (3, f"arn:aws:iam::{GOOD}:user/tester"), (6, "")]


def test_gxpscan_scan_challenge_intrusive_with_a_test_profile(lab, tmp_path, monkeypatch, capsys):
    """Through the CLI: challenge_profile names the test principal (the schema and the intrusive gate accept it),
    its secret stays out of every file written."""
    from scanner import cli

    creds = tmp_path / "credentials"
    creds.write_text(f"[tester]\naws_access_key_id = {KEYS['tester']['AccessKeyId']}\n"
                     f"aws_secret_access_key = {KEYS['tester']['SecretAccessKey']}\n")
    inv = tmp_path / "inv.json"
    inv.write_text(json.dumps({"version": 1, "targets": [{
        "name": "moto-good", "type": "aws", "endpoint_url": lab.endpoint, "accounts": [GOOD],
        "role_name": motolab.ROLE_NAME, "regions": [motolab.REGIONS[0]], "max_attempts": 1,
        "challenge_profile": "tester", "policy": {"audit_trail_bound_seconds": 1}}]}))
    with motolab.lab_credentials():
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
        code = cli.main(["scan", "-i", str(inv), "-c", "aws.challenge.cloudtrail_records_reads", "--challenge",
                         "intrusive", "-o", str(tmp_path / "out"), "--no-history", "--format", "json"])
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    [f] = doc["findings"]
    assert code == cli.EXIT_ERRORS
    assert (f["status"], f["resource"], f["impact"]) == ("error", f"arn:aws:iam::{GOOD}:user/tester", "intrusive")
    assert [s["ok"] for s in f["steps"]] == [True, True, True, None]
    assert f["steps"][1]["action"] == "identify the test principal (profile tester) with sts:GetCallerIdentity"
    everything = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert KEYS["tester"]["SecretAccessKey"] not in everything + capsys.readouterr().err
