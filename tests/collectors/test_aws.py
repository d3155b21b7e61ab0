"""AWS collectors against moto in server mode: denial, throttling, missing APIs, the derived IAM policy.

Throttling is injected on the client side with a botocore ``before-send`` hook that answers the first
attempts with a real ``Throttling`` error response, so botocore's own adaptive retry logic does the
retrying (moto cannot throttle). Everything else is moto answering over HTTP.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from scanner.collectors import aws
from scanner.connectors.aws import AWSConnector
from scanner.model import Platform, Target
from scanner.registry import Registry
from scanner.runner import evaluate
from tests.conftest import lab_unavailable
from tests.lab import motolab

pytestmark = pytest.mark.lab

THROTTLE_BODY = (b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
                 b'<Code>Throttling</Code><Message>Rate exceeded</Message></Error>'
                 b'<RequestId>gxpscan-test</RequestId></ErrorResponse>')


def target(lab: motolab.MotoServer, policy: dict[str, Any] | None = None, **options: Any) -> Target:
    opts = {"endpoint_url": lab.endpoint, "regions": [motolab.REGIONS[0]], "max_attempts": 2, **options}
    return Target(name="moto", type=Platform.AWS, options=opts, policy=policy or {})


def _start(tmp_path_factory: pytest.TempPathFactory, name: str, **kw: Any) -> motolab.MotoServer:
    try:
        return motolab.start_moto(str(tmp_path_factory.mktemp(name)), **kw)
    except RuntimeError as exc:
        lab_unavailable(str(exc))
        raise


@pytest.fixture
def lab(moto_lab: motolab.MotoServer) -> motolab.MotoServer:
    """The session's populated moto server (tests/conftest.py); these tests only read from it."""
    return moto_lab


@pytest.fixture(scope="module")
def restricted(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server enforcing IAM, and the keys of a principal that may read S3 (not versioning) and IAM only."""
    server = _start(tmp_path_factory, "moto-restricted", managed_policies=False)
    try:
        s = server.session()
        iam, s3 = server.client(s, "iam"), server.client(s, "s3")
        s3.create_bucket(Bucket="records")
        iam.create_user(UserName="auditor")
        iam.put_user_policy(UserName="auditor", PolicyName="partial", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:*", "iam:Get*", "iam:List*", "sts:GetCallerIdentity"],
                 "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:GetBucketVersioning", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="auditor")["AccessKey"]
        server.enforce_iam()
        yield server, key
    finally:
        server.stop()


def collect(t: Target, names: list[str], hooks: tuple[tuple[str, Any], ...] = ()) -> dict[str, Any]:
    with AWSConnector(t) as conn:
        for event, handler in hooks:
            conn.on(event, handler)
        return aws.collect(conn, t, names)


def findings(check_id: str, facts: dict[str, Any], t: Target) -> list[Any]:
    (spec,) = Registry.load(["checks.aws"]).select([check_id])
    return evaluate(spec, facts, t)


# ----------------------------------------------------------------------------- restricted principal
def test_denied_listing_fails_the_fact_and_the_check_is_an_error(restricted: Any) -> None:
    server, key = restricted
    t = target(server)
    with motolab.lab_credentials(key["AccessKeyId"], key["SecretAccessKey"]):
        facts = collect(t, ["aws.security_groups", "aws.s3_buckets"])
    sg = facts["aws.security_groups"]
    assert not sg.ok and sg.error.startswith("ec2:DescribeSecurityGroups denied")
    (f,) = findings("aws.ec2.sg_admin_ports_open", facts, t)
    assert f.status.value == "error" and "ec2:DescribeSecurityGroups denied" in f.message


def test_denied_per_resource_call_is_an_error_for_that_resource_never_a_pass(restricted: Any) -> None:
    server, key = restricted
    t = target(server)
    with motolab.lab_credentials(key["AccessKeyId"], key["SecretAccessKey"]):
        facts = collect(t, ["aws.s3_buckets"])
    (bucket,) = facts["aws.s3_buckets"].value.items
    assert dict(bucket.errors) == {"versioning": "s3:GetBucketVersioning denied (GetBucketVersioning in account "
                                                 "123456789012 us-east-1): AccessDenied"}
    (f,) = findings("aws.s3.versioning", facts, t)
    assert (f.status.value, f.resource) == ("error", "arn:aws:s3:::records")
    assert "s3:GetBucketVersioning denied" in f.message
    (enc,) = findings("aws.s3.bucket_encryption", facts, t)  # what was readable is still judged
    assert enc.status.value in ("pass", "fail")


# ------------------------------------------------------------------------------------ throttling
class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def throttle_first(n: int, operation: str) -> tuple[Any, Counter[str]]:
    """A before-send hook answering the first ``n`` sends of ``operation`` with a Throttling error."""
    from botocore.awsrequest import AWSResponse

    seen: Counter[str] = Counter()

    def hook(request: Any, **_: Any) -> Any:
        if f"Action={operation}" not in (request.body.decode() if isinstance(request.body, bytes) else
                                         str(request.body or "")):
            return None
        seen["sends"] += 1
        if seen["sends"] <= n:
            seen["throttled"] += 1
            return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Raw(THROTTLE_BODY))
        return None

    return hook, seen


def test_throttling_is_retried_then_succeeds(lab: motolab.MotoServer) -> None:
    hook, seen = throttle_first(2, "GetAccountSummary")
    t = target(lab, max_attempts=4)
    with motolab.lab_credentials():
        facts = collect(t, ["aws.account_summary"], hooks=(("before-send", hook),))
    fact = facts["aws.account_summary"]
    assert fact.ok, fact.error
    assert (seen["throttled"], seen["sends"]) == (2, 3)
    assert fact.value.items[0].account == "123456789012"


def test_throttling_that_never_ends_is_an_error(lab: motolab.MotoServer) -> None:
    hook, seen = throttle_first(10**6, "GetAccountSummary")
    t = target(lab, max_attempts=2)
    with motolab.lab_credentials():
        facts = collect(t, ["aws.account_summary"], hooks=(("before-send", hook),))
    fact = facts["aws.account_summary"]
    assert not fact.ok and "iam:GetAccountSummary failed" in fact.error and "Throttling" in fact.error
    assert seen["sends"] == 3  # botocore: retries.max_attempts counts retries after the first attempt
    (f,) = findings("aws.iam.root_mfa", facts, t)
    assert f.status.value == "error"


def test_api_moto_lacks_is_an_error_naming_the_action(lab: motolab.MotoServer) -> None:
    t = target(lab, max_attempts=1)
    with motolab.lab_credentials():
        facts = collect(t, ["aws.access_analyzers"])
    fact = facts["aws.access_analyzers"]
    assert not fact.ok and fact.error.startswith("access-analyzer:ListAnalyzers failed")


def test_an_answer_that_cannot_be_parsed_fails_the_fact(lab: motolab.MotoServer) -> None:
    """A DescribeVolumes answer without VolumeId (shaped by a before-send hook) is an error, not a pass."""
    from botocore.awsrequest import AWSResponse

    body = (b'<DescribeVolumesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>'
            b'<volumeSet><item><size>8</size><encrypted>true</encrypted></item></volumeSet></DescribeVolumesResponse>')

    def hook(request: Any, **_: Any) -> Any:
        sent = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        if "Action=DescribeVolumes" in sent:
            return AWSResponse(request.url, 200, {"Content-Type": "text/xml"}, _Raw(body))
        return None

    t = target(lab)
    with motolab.lab_credentials():
        facts = collect(t, ["aws.ebs_volumes"], hooks=(("before-send", hook),))
    fact = facts["aws.ebs_volumes"]
    assert not fact.ok and fact.error == "unexpected AWS response for aws.ebs_volumes: KeyError: 'VolumeId'"
    (f,) = findings("aws.ebs.volume_encryption", facts, t)
    assert f.status.value == "error"


# ----------------------------------------------------------------------------- the derived policy
def test_every_call_of_a_full_scan_is_in_the_derived_policy(lab: motolab.MotoServer) -> None:
    """Count every API call (botocore before-call) in a scan of all facts over two accounts and regions."""
    calls: Counter[tuple[str, str]] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[(model.service_model.service_name, model.name)] += 1

    t = target(lab, **{k: v for k, v in motolab.lab_target_options(lab).items() if k != "endpoint_url"})
    with motolab.lab_credentials():
        facts = collect(t, sorted(aws.FACTS), hooks=(("before-call", count),))
    assert all(f.ok for n, f in facts.items() if n != "aws.access_analyzers"), \
        {n: f.error for n, f in facts.items() if not f.ok}
    prefix = {"s3control": "s3", "accessanalyzer": "access-analyzer"}
    declared = {(c.service, c.operation): c.action for d in aws.DEFINITIONS for c in d.calls}
    allowed = set(aws.aws_iam_policy()["Statement"][0]["Action"])
    made = set(calls)
    assert made <= aws.declared_calls(), made - aws.declared_calls()
    for service, operation in made - {("sts", "AssumeRole"), ("sts", "GetCallerIdentity")}:
        assert declared[(service, operation)] in allowed
        assert declared[(service, operation)].split(":")[0] == prefix.get(service, service)
    assert {"sts:AssumeRole", "sts:GetCallerIdentity"} <= allowed
    # One listing per resource type and region (2 accounts x 2 regions; S3 filtered by BucketRegion),
    # one per account for IAM (users, groups and roles: one filtered listing each).
    assert calls[("ec2", "DescribeVolumes")] == 4 and calls[("rds", "DescribeDBInstances")] == 4
    assert calls[("s3", "ListBuckets")] == 4 and calls[("iam", "GetAccountAuthorizationDetails")] == 2 * 3
    # Per-resource calls: one per bucket for each bucket attribute (7 buckets in the lab).
    assert calls[("s3", "GetBucketEncryption")] == 7
    # Not asked when the answer is known: object lock only on the 3 versioned buckets; tags only when a
    # records_tag scopes buckets (this target has none).
    assert calls[("s3", "GetObjectLockConfiguration")] == 3 and calls[("s3", "GetBucketTagging")] == 0


def test_policy_is_read_only_and_matches_the_table() -> None:
    actions = aws.aws_iam_policy()["Statement"][0]["Action"]
    assert actions == sorted(set(actions))
    verbs = ("Get", "List", "Describe", "Generate")
    assert all(a.split(":")[1].startswith(verbs) or a == "sts:AssumeRole" for a in actions), actions
    assert {c.action for d in aws.DEFINITIONS for c in d.calls} <= set(actions)


def test_an_undeclared_call_is_refused() -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    definition = next(d for d in aws.DEFINITIONS if d.name == "aws.ebs_volumes")
    with ThreadPoolExecutor(1) as pool:
        api = aws.Api(connector=None, account=None, fact=definition, pool=pool,  # type: ignore[arg-type]
                      counts=Counter(), lock=threading.Lock())
        with pytest.raises(aws.ApiError, match="undeclared call s3:GetBucketPolicy"):
            api.call(aws.Call("s3", "GetBucketPolicy", "s3:GetBucketPolicy"), "us-east-1", Bucket="x")


# ------------------------------------------------------------------------------------- connector
def test_accounts_are_reached_through_the_role(lab: motolab.MotoServer) -> None:
    t = target(lab, **{k: v for k, v in motolab.lab_target_options(lab).items() if k != "endpoint_url"})
    with motolab.lab_credentials(), AWSConnector(t) as conn:
        assert [(a.id, a.via) for a in conn.accounts] == [
            (a, f"role arn:aws:iam::{a}:role/{motolab.ROLE_NAME}") for a in (motolab.COMPLIANT, motolab.NONCOMPLIANT)]
        assert conn.regions == {a: motolab.REGIONS for a in (motolab.COMPLIANT, motolab.NONCOMPLIANT)}


def test_role_arn_is_assumed_with_the_external_id_from_the_environment(lab: motolab.MotoServer,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def watch(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "AssumeRole":
            seen.append(params.get("ExternalId", ""))

    role = f"arn:aws:iam::{motolab.COMPLIANT}:role/{motolab.ROLE_NAME}"
    t = target(lab, role_arn=role, external_id_env="GXPSCAN_TEST_EXTERNAL_ID")
    with motolab.lab_credentials():
        monkeypatch.setenv("GXPSCAN_TEST_EXTERNAL_ID", "ext-4711")
        conn = AWSConnector(t)
        conn.on("provide-client-params.sts.AssumeRole", watch)
        with conn:
            assert [(a.id, a.via) for a in conn.accounts] == [(motolab.COMPLIANT, f"role {role}")]
            assert seen == ["ext-4711"]
            client = conn.client(conn.accounts[0], "s3", motolab.REGIONS[0])
            assert client.meta.config.retries["mode"] == "adaptive"
        monkeypatch.delenv("GXPSCAN_TEST_EXTERNAL_ID")
        from scanner.connectors import ConnectorError

        with pytest.raises(ConnectorError, match="GXPSCAN_TEST_EXTERNAL_ID"):
            with AWSConnector(t):
                pass


def test_all_regions_are_the_enabled_ones(lab: motolab.MotoServer) -> None:
    t = target(lab, regions="all")
    with motolab.lab_credentials(), AWSConnector(t) as conn:
        regions = conn.regions["123456789012"]
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= set(regions) and len(regions) >= 15


def test_organization_accounts_are_discovered(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = _start(tmp_path_factory, "moto-org", managed_policies=False)
    try:
        org = server.client(server.session(), "organizations")
        org.create_organization(FeatureSet="ALL")
        created = org.create_account(Email="qa@example.test", AccountName="qa")["CreateAccountStatus"]
        member = created["AccountId"]
        t = target(server, organization=True, role_name="Audit")
        with motolab.lab_credentials(), AWSConnector(t) as conn:
            found = {a.id: a.via for a in conn.accounts}
        assert found == {"123456789012": "default", member: f"role arn:aws:iam::{member}:role/Audit"}
    finally:
        server.stop()


def test_connector_errors_carry_no_secret(lab: motolab.MotoServer) -> None:
    from scanner.connectors import ConnectorError

    t = target(lab, accounts=["333333333333"])  # not the caller's account, and no role_name
    with motolab.lab_credentials(), pytest.raises(ConnectorError) as err:
        with AWSConnector(t):
            pass
    assert "333333333333" in str(err.value) and motolab.PLANTED_SECRET not in str(err.value)
    bad_profile = target(lab, profile="no-such-profile")
    with motolab.lab_credentials(), pytest.raises(ConnectorError, match="no-such-profile"):
        with AWSConnector(bad_profile):
            pass


# ------------------------------------------------------------------------------------- partitions
PARTITION_REGIONS = {"aws-us-gov": "us-gov-west-1", "aws-cn": "cn-north-1"}


@pytest.fixture(scope="module")
def partitioned(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server holding an administrator, a bucket and a log group in GovCloud and in China (one account)."""
    server = _start(tmp_path_factory, "moto-partitions")
    try:
        with motolab.lab_credentials():
            s = server.session()
            for partition, region in PARTITION_REGIONS.items():
                iam = server.client(s, "iam", region)
                iam.create_user(UserName=f"admin-{region}")
                iam.attach_user_policy(UserName=f"admin-{region}",
                                       PolicyArn=f"arn:{partition}:iam::aws:policy/AdministratorAccess")
                server.client(s, "s3", region).create_bucket(
                    Bucket=f"records-{region}", CreateBucketConfiguration={"LocationConstraint": region})
                server.client(s, "logs", region).create_log_group(logGroupName=f"/app/{region}")
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("partition", sorted(PARTITION_REGIONS))
def test_a_scan_in_govcloud_or_china_names_resources_in_that_partition(partitioned: Any, partition: str) -> None:
    """The partition comes from STS (arn:aws-us-gov:...); no finding names an arn:aws: resource, and the AWS
    managed AdministratorAccess of that partition is recognised (it passed as "no administrator policy")."""
    region = PARTITION_REGIONS[partition]
    t = target(partitioned, regions=[region], max_attempts=1)
    names = sorted(n for n in aws.FACTS if n != "aws.access_analyzers")  # moto lacks Access Analyzer
    with motolab.lab_credentials():
        with AWSConnector(t) as conn:
            assert [a.partition for a in conn.accounts] == [partition]
            facts = aws.collect(conn, t, names)
    assert all(f.ok for f in facts.values()), {n: f.error for n, f in facts.items() if not f.ok}
    registry = Registry.load(["checks.aws"])
    results = [(spec.id, f) for spec in registry.select() if spec.id != "aws.iam.access_analyzer"
               for f in evaluate(spec, facts, t)]
    assert results
    wrong = [(cid, f.resource) for cid, f in results if not f.resource.startswith(f"arn:{partition}:")]
    assert wrong == []
    admin = [f for cid, f in results if cid == "aws.iam.user_admin_policies"
             and f.resource == f"arn:{partition}:iam::123456789012:user/admin-{region}"]
    assert [(f.status.value, f.observed["admin_policies"]) for f in admin] == [("fail", ("AdministratorAccess",))]
    buckets = {f.resource for cid, f in results if cid == "aws.s3.bucket_encryption"}
    assert f"arn:{partition}:s3:::records-{region}" in buckets


@pytest.mark.parametrize("caller_arn, region, expected", [
    ("arn:aws-us-gov:sts::123456789012:assumed-role/audit/gxpscan", "us-gov-west-1", "aws-us-gov"),
    ("arn:aws-cn:iam::123456789012:user/audit", "cn-north-1", "aws-cn"),
    ("", "cn-northwest-1", "aws-cn"),  # no ARN from STS: botocore's partition for the region
    ("not-an-arn", "us-gov-east-1", "aws-us-gov"),
    ("arn:bogus partition:sts::1:x", "eu-west-1", "aws"),
    ("", "xx-nowhere-1", None),  # neither: an error, never a guess of "aws"
])
def test_partition_comes_from_the_caller_arn_or_the_region(caller_arn: str, region: str, expected: str | None) -> None:
    import boto3

    from scanner.connectors import ConnectorError
    from scanner.connectors.aws import partition_of

    session = boto3.session.Session()
    if expected is None:
        with pytest.raises(ConnectorError, match="xx-nowhere-1"):
            partition_of(caller_arn, region, session)
    else:
        assert partition_of(caller_arn, region, session) == expected


def test_a_connector_without_regions_scans_nothing_rather_than_a_default_region() -> None:
    """A fact asked of an account with no resolved region fails; it is never listed in us-east-1 instead."""
    from types import SimpleNamespace

    from scanner.connectors.aws import Account

    account = Account(id="123456789012", partition="aws-us-gov", session=None, via="test")
    conn = SimpleNamespace(accounts=(account,), regions={account.id: ()}, max_workers=1)
    t = Target(name="empty", type=Platform.AWS, options={}, policy={})
    facts = aws.collect(conn, t, ["aws.ebs_volumes", "aws.account_summary"])  # type: ignore[arg-type]
    assert {n: f.error for n, f in facts.items()} == {
        n: "no region resolved for account 123456789012: nothing would be scanned"
        for n in ("aws.ebs_volumes", "aws.account_summary")}


# ------------------------------------------------------------------------- answers that mean "unsure"
def _answer(match: str, status: int, content_type: str, body: bytes) -> Any:
    """A before-send hook answering requests that name ``match`` (action or JSON target) with a fixed body."""
    from botocore.awsrequest import AWSResponse

    def hook(request: Any, **_: Any) -> Any:
        sent = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        if f"Action={match}" in sent or target.endswith(f".{match}"):
            return AWSResponse(request.url, status, {"Content-Type": content_type}, _Raw(body))
        return None

    return hook


def test_a_credential_report_without_a_column_we_judge_by_fails_the_fact(lab: motolab.MotoServer) -> None:
    """Without ``password_enabled`` every user would read as having no console password: user_mfa would find
    "no console users" (not_applicable) in an account full of them."""
    import base64

    csv_text = ("user,arn,user_creation_time,password_last_used,password_last_changed,mfa_active,"
                "access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_2_active,"
                "access_key_2_last_rotated,access_key_2_last_used_date\n"
                "alice,arn:aws:iam::123456789012:user/alice,2026-01-01T00:00:00Z,N/A,N/A,false,false,N/A,N/A,"
                "false,N/A,N/A\n")
    body = (b'<GetCredentialReportResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
            b"<GetCredentialReportResult><Content>" + base64.b64encode(csv_text.encode()) + b"</Content>"
            b"<ReportFormat>text/csv</ReportFormat><GeneratedTime>2026-12-01T00:00:00Z</GeneratedTime>"
            b"</GetCredentialReportResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
            b"</GetCredentialReportResponse>")
    t = target(lab)
    with motolab.lab_credentials():
        facts = collect(t, ["aws.iam_credential_report"],
                        hooks=(("before-send", _answer("GetCredentialReport", 200, "text/xml", body)),))
    fact = facts["aws.iam_credential_report"]
    assert not fact.ok and fact.error == ("iam:GetCredentialReport returned a report without the column(s) "
                                          "password_enabled")
    (f,) = findings("aws.iam.user_mfa", facts, t)
    assert f.status.value == "error"


def test_a_key_description_without_metadata_fails_the_fact(lab: motolab.MotoServer) -> None:
    """DescribeKey answering without KeyMetadata made the key look AWS managed: skipped, so "no keys" passed."""
    t = target(lab, role_arn=f"arn:aws:iam::{motolab.COMPLIANT}:role/{motolab.ROLE_NAME}")
    hook = _answer("DescribeKey", 200, "application/x-amz-json-1.1", b"{}")
    with motolab.lab_credentials():
        facts = collect(t, ["aws.kms_keys"], hooks=(("before-send", hook),))
    fact = facts["aws.kms_keys"]
    assert not fact.ok and fact.error == "unexpected AWS response for aws.kms_keys: KeyError: 'KeyMetadata'"
    (f,) = findings("aws.kms.key_rotation", facts, t)
    assert f.status.value == "error"


@pytest.mark.parametrize("selectors, expected", [
    ({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}, True),
    ({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True,
                          "ExcludeManagementEventSources": ["kms.amazonaws.com"]}]}, False),
    ({"EventSelectors": [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]}, False),
    ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]}, True),
    ({"AdvancedEventSelectors": [{"FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Management"]},
        {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]}]}]}, False),
    ({"AdvancedEventSelectors": [{"FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["false"]}]}]}, False),
    ({"EventSelectors": [], "AdvancedEventSelectors": []}, None),
    (None, None),
])
def test_management_events_means_all_of_them(selectors: dict[str, Any] | None, expected: bool | None) -> None:
    from scanner.collectors.trail_selectors import management_events

    assert management_events(selectors) is expected


def test_an_inline_policy_without_its_document_fails_the_fact(lab: motolab.MotoServer) -> None:
    """An inline policy listed without a document was read as an empty policy, so its user passed the admin check."""
    body = (b'<GetAccountAuthorizationDetailsResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
            b"<GetAccountAuthorizationDetailsResult><IsTruncated>false</IsTruncated><UserDetailList><member>"
            b"<UserName>carol</UserName><UserId>AIDAEXAMPLE</UserId><Path>/</Path>"
            b"<Arn>arn:aws:iam::123456789012:user/carol</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate>"
            b"<UserPolicyList><member><PolicyName>everything</PolicyName></member></UserPolicyList>"
            b"<AttachedManagedPolicies/></member></UserDetailList><Policies/>"
            b"</GetAccountAuthorizationDetailsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
            b"</GetAccountAuthorizationDetailsResponse>")
    t = target(lab)
    with motolab.lab_credentials():
        facts = collect(t, ["aws.iam_users"],
                        hooks=(("before-send", _answer("GetAccountAuthorizationDetails", 200, "text/xml", body)),))
    fact = facts["aws.iam_users"]
    assert not fact.ok and fact.error == "unexpected AWS response for aws.iam_users: KeyError: 'PolicyDocument'"
    (f,) = findings("aws.iam.user_admin_policies", facts, t)
    assert f.status.value == "error"


@pytest.mark.parametrize("states, expected", [
    ({"123456789012": "ACTIVE", "444455556666": "SUSPENDED"}, {"123456789012": "default"}),
    ({"444455556666": "SUSPENDED"}, None),  # nothing active: an error, not a scan of no account that finds nothing
])
def test_organization_accounts_are_active_by_their_state(lab: motolab.MotoServer, states: dict[str, str],
                                                         expected: dict[str, str] | None) -> None:
    """ListAccounts answers with ``State`` (``Status`` is deprecated); reading only Status dropped every account."""
    from scanner.connectors import ConnectorError

    accounts = [{"Id": i, "Arn": f"arn:aws:organizations::123456789012:account/o-x/{i}", "Email": f"{i}@example.test",
                 "Name": i, "State": state, "JoinedMethod": "CREATED"} for i, state in states.items()]
    hook = _answer("ListAccounts", 200, "application/x-amz-json-1.1", json.dumps({"Accounts": accounts}).encode())
    t = target(lab, organization=True, role_name="Audit")
    with motolab.lab_credentials():
        conn = AWSConnector(t)
        conn.on("before-send", hook)
        if expected is None:
            with pytest.raises(ConnectorError, match="no active account"):
                with conn:
                    pass
        else:
            with conn:
                assert {a.id: a.via for a in conn.accounts} == expected


def test_a_security_group_listed_without_its_rules_fails_the_fact(lab: motolab.MotoServer) -> None:
    """A group whose answer leaves out ipPermissions read as "no ingress rule", so it passed the admin-port check."""
    body = (b'<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>'
            b"<securityGroupInfo><item><ownerId>123456789012</ownerId><groupId>sg-0123456789abcdef0</groupId>"
            b"<groupName>admin</groupName><groupDescription>admin</groupDescription><vpcId>vpc-1</vpcId></item>"
            b"</securityGroupInfo></DescribeSecurityGroupsResponse>")
    t = target(lab)
    with motolab.lab_credentials():
        facts = collect(t, ["aws.security_groups"],
                        hooks=(("before-send", _answer("DescribeSecurityGroups", 200, "text/xml", body)),))
    fact = facts["aws.security_groups"]
    assert not fact.ok and fact.error == "unexpected AWS response for aws.security_groups: KeyError: 'IpPermissions'"
    (f,) = findings("aws.ec2.sg_admin_ports_open", facts, t)
    assert f.status.value == "error"


@pytest.mark.parametrize("kind, expected", [("ACCOUNT", "pass"), ("ORGANIZATION", "pass"),
                                            ("ACCOUNT_UNUSED_ACCESS", "fail"), ("ORGANIZATION_UNUSED_ACCESS", "fail")])
def test_only_external_access_analyzers_count(lab: motolab.MotoServer, kind: str, expected: str) -> None:
    """An unused-access analyzer finds idle permissions, not resources shared outside: it passed the check."""
    from urllib.parse import urlsplit

    from botocore.awsrequest import AWSResponse

    body = json.dumps({"analyzers": [{
        "arn": "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/a1", "name": "a1", "type": kind,
        "createdAt": "2026-01-01T00:00:00Z", "status": "ACTIVE"}]}).encode()

    def hook(request: Any, **_: Any) -> Any:
        if urlsplit(request.url).path.rstrip("/") == "/analyzer":
            return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Raw(body))
        return None

    t = target(lab)
    with motolab.lab_credentials():
        facts = collect(t, ["aws.access_analyzers"], hooks=(("before-send", hook),))
    (f,) = findings("aws.iam.access_analyzer", facts, t)
    assert f.status.value == expected, f.message
