"""S3 challenges against moto's server (real HTTP, real botocore signing and unsigned requests).

What moto 5.2 enforces (read in moto/s3/responses.py and tried): an unsigned GET of an object is refused unless a
bucket policy allows it to "*" or the object's ACL is public-read; an unsigned LIST is always allowed (moto does
not evaluate listing permissions), so the compliant LIST case runs only in the real-account suite; a bucket policy
is evaluated only for object requests, and a Deny with a Condition is applied whatever the request (moto ignores
aws:SecureTransport), so a TLS-only bucket refuses HTTPS as well: the challenge then says error, never pass.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from checks.aws import challenge_s3
from scanner.challenge import PLANNED, challenge_spec_of, run_challenge
from scanner.model import Status
from scanner.probes.aws import shown
from tests.checks.aws.challenge_lab import BAD, GOOD, assert_no_secret, moto_server, plan, run, verdicts
from tests.factories import make_target
from tests.lab import motolab, tlsfront


def public_policy(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]})


def populate(lab: motolab.MotoServer) -> None:
    """GOOD: a private bucket and a TLS-only one, each with an object. BAD: a public bucket, a bucket without a TLS
    policy (private) and an empty bucket."""
    good = lab.client(lab.session(GOOD), "s3")
    for name in ("c12-private-333", "c12-tls-333"):
        good.create_bucket(Bucket=name)
        good.put_object(Bucket=name, Key="batch/record-1.json", Body=b"{}")
    good.put_bucket_policy(Bucket="c12-tls-333", Policy=motolab.tls_only_policy("c12-tls-333"))
    bad = lab.client(lab.session(BAD), "s3")
    for name in ("c12-public-444", "c12-plain-444", "c12-empty-444"):
        bad.create_bucket(Bucket=name)
    for name in ("c12-public-444", "c12-plain-444"):
        bad.put_object(Bucket=name, Key="record.txt", Body=b"data")
    bad.put_bucket_policy(Bucket="c12-public-444", Policy=public_policy("c12-public-444"))


pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[motolab.MotoServer]:
    yield from moto_server(tmp_path_factory, populate)


def test_anonymous_read_is_refused_on_private_buckets_and_allowed_on_a_public_one(lab, caplog):
    caplog.set_level(logging.DEBUG)
    good = run(challenge_s3.s3_anonymous_read_denied, lab, GOOD)
    assert verdicts(good) == {
        "s3://c12-private-333": (Status.PASS, "an anonymous read of an object is refused"),
        "s3://c12-tls-333": (Status.PASS, "an anonymous read of an object is refused")}
    assert [(s.action.split(" ")[0], s.ok) for s in good.steps] == [
        ("sign", True), ("list", True), ("list", True), ("GET", True), ("list", True), ("GET", True)]
    get = good.steps[3]
    assert (get.action, get.expected, get.actual) == (
        "GET s3://c12-private-333/batch/record-1.json without credentials (unsigned), one byte",
        "refused (AccessDenied)", "refused (403: Forbidden)")
    bad = run(challenge_s3.s3_anonymous_read_denied, lab, BAD)
    assert verdicts(bad) == {
        "s3://c12-empty-444": (Status.NOT_APPLICABLE, "the bucket is empty: there is no object to request"),
        "s3://c12-plain-444": (Status.PASS, "an anonymous read of an object is refused"),
        "s3://c12-public-444": (Status.FAIL, "anyone on the internet can read objects of this bucket")}
    public = next(f for f in bad.findings if f.resource == "s3://c12-public-444")
    assert public.observed["observed"] == "allowed (HTTP 206)" and public.observed["key"] == "record.txt"
    assert_no_secret(good, bad, caplog=caplog)


def test_anonymous_listing_of_a_public_bucket_fails(lab, caplog):
    caplog.set_level(logging.DEBUG)
    bad = run(challenge_s3.s3_anonymous_list_denied, lab, BAD)
    public = next(f for f in bad.findings if f.resource == "s3://c12-public-444")
    assert (public.status, public.message, public.observed["observed"]) == (
        Status.FAIL, "anyone on the internet can list this bucket's objects", "allowed (HTTP 200)")
    assert sorted(s.action for s in bad.steps[2:]) == [
        f"list s3://c12-{name}-444 without credentials (unsigned ListObjectsV2, one key)"
        for name in ("empty", "plain", "public")]
    assert len(bad.steps) == 5 and all(s.ok is False for s in bad.steps[2:])
    assert_no_secret(bad, caplog=caplog)


@pytest.fixture(scope="module")
def front(lab: motolab.MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tlsfront.DualFront]:
    port = int(lab.endpoint.rsplit(":", 1)[1])
    served = tlsfront.DualFront(("127.0.0.1", port), str(tmp_path_factory.mktemp("front"))).start()
    yield served
    served.stop()


def test_plain_http_is_answered_without_a_tls_policy_and_moto_cannot_show_the_compliant_case(lab, front, caplog):
    caplog.set_level(logging.DEBUG)
    bad = run(challenge_s3.s3_plain_http_denied, lab, BAD, ca=front.ca_path, endpoint_url=front.https)
    assert verdicts(bad) == {
        "s3://c12-empty-444": (Status.NOT_APPLICABLE, "the bucket is empty: there is no object to request"),
        "s3://c12-plain-444": (Status.FAIL, "the bucket answers a signed request over plain HTTP"),
        "s3://c12-public-444": (Status.FAIL, "the bucket answers a signed request over plain HTTP")}
    plain = [s for s in bad.steps if "c12-plain-444" in s.action]
    assert [(s.action, s.ok, s.actual) for s in plain] == [
        ("list one object of s3://c12-plain-444 with the scan's credentials", True, "object 'record.txt'"),
        ("HEAD s3://c12-plain-444/record.txt signed by the scan principal over HTTPS (control)", True,
         "allowed (HTTP 200)"),
        ("the same HEAD of s3://c12-plain-444/record.txt over plain HTTP", False, "allowed (HTTP 200)")]
    assert plain[2].sent.startswith("signed HEAD http://") and plain[1].sent.startswith("signed HEAD https://")
    good = run(challenge_s3.s3_plain_http_denied, lab, GOOD, ca=front.ca_path, endpoint_url=front.https)
    # moto applies the TLS-only Deny to HTTPS too (it does not evaluate aws:SecureTransport): error, never pass.
    assert verdicts(good)["s3://c12-tls-333"][0] is Status.ERROR
    assert verdicts(good)["s3://c12-tls-333"][1].startswith("the same request over HTTPS was not allowed (refused")
    assert verdicts(good)["s3://c12-private-333"][0] is Status.FAIL
    assert_no_secret(bad, good, caplog=caplog)


def test_plain_http_on_an_endpoint_without_https_is_an_error_not_a_pass(lab):
    out = run(challenge_s3.s3_plain_http_denied, lab, GOOD)
    assert {f.status for f in out.findings} == {Status.ERROR}
    control = next(s for s in out.steps if "(control)" in s.action)
    assert (control.ok, control.actual) == (None, "the endpoint is http://, not https://")


def test_a_failed_sign_in_is_an_error_with_the_step_recorded():
    with motolab.lab_credentials():
        out = run_challenge(challenge_spec_of(challenge_s3.s3_anonymous_read_denied), make_target(
            "moto", type="aws", endpoint_url="http://127.0.0.1:9", regions=["us-east-1"], connect_timeout=1,
            max_attempts=0))
    assert [(f.status, f.message) for f in out.findings] == [(Status.ERROR, "could not sign in to AWS")]
    assert len(out.steps) == 1 and out.steps[0].ok is None and out.steps[0].actual.startswith("could not run")


@pytest.mark.parametrize("check, actions", [
    (challenge_s3.s3_anonymous_read_denied, [
        "sign in to AWS with the scan's credentials (sts:GetCallerIdentity)",
        "list the S3 buckets of account <each account> in <each region> with the scan's credentials",
        "list one object of s3://<each bucket> with the scan's credentials",
        "GET s3://<each bucket>/<first object> without credentials (unsigned), one byte"]),
    (challenge_s3.s3_anonymous_list_denied, [
        "sign in to AWS with the scan's credentials (sts:GetCallerIdentity)",
        "list the S3 buckets of account <each account> in <each region> with the scan's credentials",
        "list s3://<each bucket> without credentials (unsigned ListObjectsV2, one key)"]),
    (challenge_s3.s3_plain_http_denied, [
        "sign in to AWS with the scan's credentials (sts:GetCallerIdentity)",
        "list the S3 buckets of account <each account> in <each region> with the scan's credentials",
        "list one object of s3://<each bucket> with the scan's credentials",
        "HEAD s3://<each bucket>/<first object> signed by the scan principal over HTTPS (control)",
        "the same HEAD of s3://<each bucket>/<first object> over plain HTTP"]),
])
def test_plan_lists_the_steps_without_any_request(check, actions):
    out = plan(check)
    assert out.findings == () and [s.action for s in out.steps] == actions
    assert {s.actual for s in out.steps} == {PLANNED}


@pytest.mark.parametrize("key, text", [
    ("batch/record-1.json", "batch/record-1.json"),
    ("evil\n\x1b[2J\u202ekey", "evil\\x0a\\x1b[2J\\u202ekey"),
    ("k" * 250, "k" * 200 + "..."),
])
def test_object_keys_are_escaped_and_bounded_in_step_text(key, text):
    assert shown(key) == text


def test_gxpscan_scan_challenge_safe_records_the_s3_challenges(lab, front, tmp_path, monkeypatch):
    """End to end through the CLI: the inventory's aws target, --challenge safe, the JSON record with steps."""
    from scanner import cli

    inv = tmp_path / "inv.json"
    inv.write_text(json.dumps({"version": 1, "targets": [{
        "name": "moto-bad", "type": "aws", "endpoint_url": front.https, "accounts": [BAD],
        "role_name": motolab.ROLE_NAME, "regions": [motolab.REGIONS[0]]}]}))
    with motolab.lab_credentials():
        monkeypatch.setenv("AWS_CA_BUNDLE", front.ca_path)
        code = cli.main(["scan", "-i", str(inv), "-c", "aws.challenge.s3_anonymous_read_denied", "--challenge",
                         "safe", "-o", str(tmp_path / "out"), "--no-history", "--format", "json"])
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    got = {f["resource"]: (f["status"], f["impact"], len(f["steps"])) for f in doc["findings"]}
    assert code == cli.EXIT_FAILURES and got == {
        "s3://c12-empty-444": ("not_applicable", "safe", 7), "s3://c12-plain-444": ("pass", "safe", 7),
        "s3://c12-public-444": ("fail", "safe", 7)}  # every finding carries all 7 steps of the run
    everything = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert motolab.PLANTED_SECRET not in everything
