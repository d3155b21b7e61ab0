"""AWS probes for challenge tests: each function does one exchange and returns a :class:`Probe`.

The scan principal's sessions come from :class:`scanner.connectors.aws.AWSConnector` (same profile, role, endpoint,
timeouts and retries as the scan). Anonymous requests use botocore's ``UNSIGNED`` signature; plain-HTTP requests
use the same client with ``use_ssl=False`` (or the ``http://`` form of a custom endpoint). Data a later step needs
(bucket names, an object key, simulation results) is appended to a ``sink`` list the caller owns: in plan mode no
probe runs and the sink stays empty. Object reads ask for one byte; answers kept in a step are codes and counts,
never object content or credentials.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scanner.challenge import ChallengeContext, Probe
from scanner.collectors.aws._api import DENIED_CODES
from scanner.connectors.aws import Account, AWSConnector, _describe
from scanner.model import Finding, Target, error, failed, passed

#: Status codes and error codes S3 answers a refused request with.
S3_DENIED = DENIED_CODES | {"AllAccessDisabled", "403"}
#: Bytes of a CloudTrail event record parsed at most (records are a few KiB).
MAX_EVENT_RECORD = 64 * 1024
EACH_ACCOUNT = "<each account>"
EACH_REGION = "<each region>"
EACH_BUCKET = "<each bucket>"
#: The audited read's (event source, event name) in CloudTrail.
AUDITED_READ = ("kms.amazonaws.com", "ListKeys")
#: Principals listed per account at most (IAM's own quotas are 5000 users and 5000 roles).
MAX_PRINCIPALS = 10_000


def shown(text: str, limit: int = 200) -> str:
    """A name from the target (an object key) fit for a step's text: control characters escaped, bounded."""
    out = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                  for c in text[:limit])
    return out + ("..." if len(text) > limit else "")


@dataclass(frozen=True)
class Bucket:
    account: str
    region: str
    name: str

    @property
    def uri(self) -> str:
        return f"s3://{self.name}"


@dataclass(frozen=True)
class Principal:
    account: str
    arn: str
    kind: str  # "user" | "role"
    name: str


@dataclass(frozen=True)
class Identity:
    """Who a session is (sts:GetCallerIdentity) and the access key id its requests carry (not a secret)."""

    account: str
    arn: str
    access_key_id: str


@dataclass(frozen=True)
class Event:
    """A CloudTrail event as LookupEvents shows it."""

    name: str
    source: str
    time: datetime
    username: str
    principal_arn: str
    event_id: str


@dataclass(frozen=True)
class Outcome:
    """What AWS did with a request: allowed (True), refused (False), neither (None, with why)."""

    allowed: bool | None
    detail: str


class AwsLink:
    """The scan principal's AWS connection for one challenge run: opened by the first step, closed by the caller."""

    def __init__(self, target: Target, *, plan: bool = False) -> None:
        self.target = target
        self.plan = plan
        self.connector: AWSConnector | None = None
        self.caller_arn = ""
        self._variants: dict[tuple[str, str, bool, bool], Any] = {}

    @property
    def accounts(self) -> tuple[Account, ...]:
        """The scanned accounts; in plan mode one stand-in, so the plan lists the steps per account."""
        if self.plan:
            return (Account(id=EACH_ACCOUNT, partition="aws", session=None, via="plan"),)
        return self.connector.accounts if self.connector else ()

    def regions(self, account: Account) -> tuple[str, ...]:
        if self.plan:
            return (EACH_REGION,)
        return self.connector.regions.get(account.id, ()) if self.connector else ()

    def home_region(self, account: Account) -> str:
        regions = self.regions(account)
        return regions[0] if regions else "us-east-1"

    def client(self, account: Account, service: str, region: str) -> Any:
        if self.connector is None:
            raise RuntimeError("not connected to AWS")
        return self.connector.client(account, service, region)

    def s3_variant(self, account: Account, region: str, *, unsigned: bool = False, plain: bool = False) -> Any:
        """An S3 client of the scan principal's session: unsigned (anonymous), or over plain HTTP (made once)."""
        key = (account.id, region, unsigned, plain)
        if key not in self._variants:
            self._variants[key] = self._s3_variant(account, region, unsigned=unsigned, plain=plain)
        return self._variants[key]

    def _s3_variant(self, account: Account, region: str, *, unsigned: bool, plain: bool) -> Any:
        from botocore import UNSIGNED
        from botocore.config import Config

        endpoint = self.target.opt("endpoint_url")
        if plain and endpoint:
            parts = urlsplit(str(endpoint))
            netloc = (parts.hostname or "") if parts.port == 443 else parts.netloc
            endpoint = urlunsplit(parts._replace(scheme="http", netloc=netloc))
        config = Config(connect_timeout=float(self.target.opt("connect_timeout", 10)),
                        read_timeout=float(self.target.opt("read_timeout", 60)), retries={"max_attempts": 1},
                        user_agent_extra="gxpscan-challenge")
        if unsigned:
            config = config.merge(Config(signature_version=UNSIGNED))
        return account.session.client("s3", region_name=region, endpoint_url=endpoint or None,
                                       use_ssl=not plain, config=config)

    def close(self) -> None:
        for client in self._variants.values():
            client.close()
        self._variants.clear()
        if self.connector is not None:
            self.connector.__exit__(None, None, None)
            self.connector = None


def _denied(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return code in S3_DENIED or (not code and status == "403")


def attempt(call: Callable[[], Any]) -> Outcome:
    """Run one request: success is allowed, a refusal code is refused, anything else is undetermined."""
    try:
        got = call()
    except Exception as exc:
        if _denied(exc):
            return Outcome(False, f"refused ({_describe(exc)})")
        return Outcome(None, f"no answer to judge ({_describe(exc)})")
    body = got.get("Body") if isinstance(got, dict) else None
    if body is not None:
        body.close()
    status = got.get("ResponseMetadata", {}).get("HTTPStatusCode", "?") if isinstance(got, dict) else "?"
    return Outcome(True, f"allowed (HTTP {status})")


def expect(outcome: Outcome, *, allowed: bool, sent: str) -> Probe:
    ok = None if outcome.allowed is None else outcome.allowed is allowed
    return Probe(ok, outcome.detail, sent=sent, received=outcome.detail)


# -- the scan principal ------------------------------------------------------------------------------------
def connect(link: AwsLink) -> Probe:
    """Open the scan's AWS sessions (the connector's sts:GetCallerIdentity per account)."""
    connector = AWSConnector(link.target)
    connector.__enter__()
    link.connector = connector
    account = connector.accounts[0]
    ident = link.client(account, "sts", link.home_region(account)).get_caller_identity()
    link.caller_arn = str(ident.get("Arn", ""))
    ids = ", ".join(a.id for a in connector.accounts)
    return Probe(True, f"signed in as {link.caller_arn} (accounts {ids})", sent="sts:GetCallerIdentity",
                 received=link.caller_arn)


def list_buckets(link: AwsLink, account: Account, region: str, sink: list[Bucket]) -> Probe:
    """The account's buckets in one region (ListBuckets with its BucketRegion filter)."""
    pages = link.client(account, "s3", region).get_paginator("list_buckets").paginate(BucketRegion=region)
    found = [Bucket(account.id, str(b.get("BucketRegion") or region), str(b["Name"]))
             for page in pages for b in page.get("Buckets", [])]
    sink.extend(found)
    return Probe(True, f"{len(found)} bucket(s)", sent=f"s3:ListBuckets BucketRegion={region}",
                 received="\n".join(b.name for b in found))


def first_key(link: AwsLink, account: Account, bucket: Bucket, sink: list[str]) -> Probe:
    """One object key of the bucket, read with the scan's credentials (ListObjectsV2, MaxKeys=1)."""
    got = link.client(account, "s3", bucket.region).list_objects_v2(Bucket=bucket.name, MaxKeys=1)
    keys = [str(o["Key"]) for o in got.get("Contents", [])[:1]]
    sink.extend(keys)
    return Probe(True, f"object {keys[0]!r}" if keys else "the bucket is empty",
                 sent=f"s3:ListObjectsV2 {bucket.uri} MaxKeys=1", received="\n".join(keys))


# -- S3 requests whose refusal is the control -----------------------------------------------------------------
def anonymous_get(link: AwsLink, account: Account, bucket: Bucket, key: str) -> Probe:
    client = link.s3_variant(account, bucket.region, unsigned=True)
    outcome = attempt(lambda: client.get_object(Bucket=bucket.name, Key=key, Range="bytes=0-0"))
    return expect(outcome, allowed=False, sent=f"unsigned GET {bucket.uri}/{key} Range: bytes=0-0")


def anonymous_list(link: AwsLink, account: Account, bucket: Bucket) -> Probe:
    client = link.s3_variant(account, bucket.region, unsigned=True)
    outcome = attempt(lambda: client.list_objects_v2(Bucket=bucket.name, MaxKeys=1))
    return expect(outcome, allowed=False, sent=f"unsigned GET {bucket.uri}?list-type=2&max-keys=1")


def signed_head(link: AwsLink, account: Account, bucket: Bucket, key: str, *, plain: bool) -> Probe:
    """HEAD one object with the scan's credentials, over HTTPS (expected: allowed) or plain HTTP (refused)."""
    client = link.s3_variant(account, bucket.region, plain=plain)
    scheme = urlsplit(str(client.meta.endpoint_url)).scheme
    if plain != (scheme == "http"):
        return Probe(None, f"the endpoint is {scheme}://, not {'http' if plain else 'https'}://",
                     sent=str(client.meta.endpoint_url))
    outcome = attempt(lambda: client.head_object(Bucket=bucket.name, Key=key))
    return expect(outcome, allowed=not plain, sent=f"signed HEAD {scheme}://.../{bucket.name}/{key}")


# -- IAM ---------------------------------------------------------------------------------------------------
def list_principals(link: AwsLink, account: Account, kind: str, sink: list[Principal]) -> Probe:
    """The account's IAM users or roles (service-linked roles, which AWS owns, left out)."""
    operation, key, name_key = ("list_users", "Users", "UserName") if kind == "user" else (
        "list_roles", "Roles", "RoleName")
    pages = link.client(account, "iam", link.home_region(account)).get_paginator(operation).paginate()
    found: list[Principal] = []
    for page in pages:
        for item in page.get(key, []):
            if str(item.get("Path", "")).startswith("/aws-service-role/"):
                continue
            found.append(Principal(account.id, str(item["Arn"]), kind, str(item[name_key])))
            if len(found) >= MAX_PRINCIPALS:
                return Probe(None, f"more than {MAX_PRINCIPALS} {kind}s", sent=f"iam:{operation}")
    sink.extend(found)
    return Probe(True, f"{len(found)} {kind}(s)", sent=f"iam:{operation}", received="\n".join(p.arn for p in found))


@dataclass(frozen=True)
class Decision:
    action: str
    resource: str
    decision: str  # allowed | explicitDeny | implicitDeny
    missing_context: tuple[str, ...] = ()  # condition keys the policies test that the simulation did not supply


def decisions(results: Iterable[dict[str, Any]]) -> list[Decision]:
    """SimulatePrincipalPolicy's EvaluationResults as (action, resource, decision): per resource from
    ResourceSpecificResults (one result per action, as IAM answers now), else the result's own resource."""
    out: list[Decision] = []
    for r in results:
        action = str(r.get("EvalActionName", ""))
        missing = tuple(str(k) for k in r.get("MissingContextValues") or ())
        specific = r.get("ResourceSpecificResults") or []
        if specific:
            out.extend(Decision(action, str(s.get("EvalResourceName", "*")), str(s.get("EvalResourceDecision", "")),
                                tuple(str(k) for k in s.get("MissingContextValues") or ()) or missing)
                       for s in specific)
        else:
            out.append(Decision(action, str(r.get("EvalResourceName", "*")), str(r.get("EvalDecision", "")),
                                missing))
    return out


def simulate(link: AwsLink, account: Account, principal: Principal, actions: Sequence[str],
             resources: Sequence[str], *, mfa: bool, expect_allowed: bool = False) -> Probe:
    """iam:SimulatePrincipalPolicy for the actions on the resources, with aws:MultiFactorAuthPresent set."""
    context = [{"ContextKeyName": "aws:MultiFactorAuthPresent", "ContextKeyValues": [str(mfa).lower()],
                "ContextKeyType": "boolean"}]
    pages = link.client(account, "iam", link.home_region(account)).get_paginator(
        "simulate_principal_policy").paginate(PolicySourceArn=principal.arn, ActionNames=list(actions),
                                              ResourceArns=list(resources), ContextEntries=context)
    results = [r for page in pages for r in page.get("EvaluationResults", [])]
    return simulation_probe(principal, actions, resources, results, mfa=mfa, expect_allowed=expect_allowed)


def simulation_probe(principal: Principal, actions: Sequence[str], resources: Sequence[str],
                     results: Iterable[dict[str, Any]], *, mfa: bool, expect_allowed: bool) -> Probe:
    """Judge a simulation: met when no pair is allowed (or, with ``expect_allowed``, every pair is); undetermined
    when the answer does not cover every action and resource asked about."""
    got = decisions(results)
    text = "\n".join(f"{d.action} {d.resource}: {d.decision}" for d in got)
    sent = (f"iam:SimulatePrincipalPolicy {principal.arn} aws:MultiFactorAuthPresent={str(mfa).lower()} "
            f"actions={','.join(actions)} resources={','.join(resources)}")
    missing = {(a, r) for a in actions for r in resources} - {(d.action, d.resource) for d in got}
    if missing:
        a, r = sorted(missing)[0]
        return Probe(None, f"the simulation gave no decision for {a} on {r}", sent=sent, received=text)
    allowed = sorted({f"{d.action} on {d.resource}" for d in got if d.decision == "allowed"})
    denied = sorted({f"{d.action} on {d.resource}" for d in got if d.decision != "allowed"})
    unsure = [d for d in got if d.decision != "allowed" and d.missing_context]
    if unsure and not allowed and not expect_allowed:  # a denial only for want of a context value proves nothing
        d = unsure[0]
        return Probe(None, f"{d.action} on {d.resource} depends on context not simulated "
                           f"({', '.join(d.missing_context)})", sent=sent, received=text)
    ok = not denied if expect_allowed else not allowed
    actual = f"allowed: {', '.join(allowed)}" if allowed else "every action denied"
    if allowed and denied:
        actual += f"; denied: {', '.join(denied)}"
    return Probe(ok, actual, sent=sent, received=text)


# -- the test principal and CloudTrail ------------------------------------------------------------------------
def identify(make_session: Callable[[], Any], region: str, endpoint: str | None, sink: list[Identity],
             sessions: list[Any]) -> Probe:
    """Who the test principal is (sts:GetCallerIdentity with its own credentials); its session goes to
    ``sessions``."""
    session = make_session()
    sessions.append(session)
    creds = session.get_credentials()
    if creds is None:
        return Probe(None, "the test principal has no credentials", sent="sts:GetCallerIdentity")
    sts = session.client("sts", region_name=region, endpoint_url=endpoint)
    try:
        ident = sts.get_caller_identity()
    finally:
        sts.close()
    who = Identity(str(ident.get("Account", "")), str(ident.get("Arn", "")), str(creds.access_key))
    sink.append(who)
    return Probe(True, f"{who.arn} (access key id {who.access_key_id})", sent="sts:GetCallerIdentity",
                 received=who.arn)


def audited_read(session: Any, region: str, endpoint: str | None) -> Probe:
    """The read CloudTrail must record: kms:ListKeys by the test principal (a refusal is recorded too)."""
    kms = session.client("kms", region_name=region, endpoint_url=endpoint)
    try:
        outcome = attempt(lambda: kms.list_keys(Limit=1))
    finally:
        kms.close()
    ok = outcome.allowed is not None  # allowed or refused: either way AWS received and must log it
    return Probe(ok, outcome.detail, sent=f"kms:ListKeys Limit=1 in {region}", received=outcome.detail)


def event_of(raw: dict[str, Any]) -> Event:
    """One LookupEvents entry; the principal's ARN comes from the bounded CloudTrail record."""
    record = str(raw.get("CloudTrailEvent", ""))[:MAX_EVENT_RECORD]
    try:
        parsed = json.loads(record)
    except ValueError:
        parsed = {}
    identity = parsed.get("userIdentity", {}) if isinstance(parsed, dict) else {}
    arn = str(identity.get("arn", "")) if isinstance(identity, dict) else ""
    return Event(str(raw.get("EventName", "")), str(raw.get("EventSource", "")), raw["EventTime"],
                 str(raw.get("Username", "")), arn, str(raw.get("EventId", "")))


def matching_events(raw: Iterable[dict[str, Any]], since: datetime) -> tuple[list[Event], list[Event]]:
    """LookupEvents entries, and those that are the audited read (made at most a minute before ``since``, the
    clock skew allowed)."""
    events = [event_of(e) for e in raw]
    return events, [e for e in events if (e.source, e.name) == AUDITED_READ and e.time >= since - timedelta(minutes=1)]


def lookup_events(link: AwsLink, account: Account, region: str, who: Identity, since: datetime,
                  sink: list[Event]) -> Probe:
    """CloudTrail LookupEvents for the test principal's access key since the read (the newest 50)."""
    got = link.client(account, "cloudtrail", region).lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": who.access_key_id}],
        StartTime=since - timedelta(minutes=1), MaxResults=50)
    events, hits = matching_events(got.get("Events", []), since)
    sink.extend(hits)
    text = "\n".join(f"{e.time.isoformat()} {e.source} {e.name} {e.username} {e.event_id}" for e in events)
    return Probe(bool(hits), f"{len(events)} event(s) for {who.access_key_id}, "
                             f"{'including' if hits else 'without'} the read",
                 sent=f"cloudtrail:LookupEvents AccessKeyId={who.access_key_id} in {region}", received=text)


# -- steps shared by the AWS challenges ---------------------------------------------------------------------
def sign_in(ctx: ChallengeContext) -> AwsLink | None:
    """The first step of every AWS challenge: the scan principal's sessions; None when they could not be opened."""
    link = AwsLink(ctx.target, plan=ctx.plan)
    got = ctx.step("sign in to AWS with the scan's credentials (sts:GetCallerIdentity)",
                   "the scan principal's identity and accounts", lambda: connect(link))
    if got.ok:
        return link
    link.close()
    return None


def buckets(ctx: ChallengeContext, link: AwsLink) -> tuple[list[Bucket], bool]:
    """Every bucket of every scanned account and region, and whether every listing step succeeded."""
    found: list[Bucket] = []
    complete = True
    for account in link.accounts:
        for region in link.regions(account):
            got = ctx.step(f"list the S3 buckets of account {account.id} in {region} with the scan's credentials",
                           "the bucket list", partial(list_buckets, link, account, region, found))
            complete = complete and got.ok is True
    if ctx.plan:
        found.append(Bucket(EACH_ACCOUNT, EACH_REGION, EACH_BUCKET))
    return found, complete


def account_of(link: AwsLink, account_id: str) -> Account:
    return next(a for a in link.accounts if a.id == account_id)


def judge(resource: str, got: Probe, good: str, bad: str, **observed: Any) -> Finding:
    """A step's verdict as a finding: met is pass, not met is fail, undetermined is error."""
    observed = {"observed": got.actual, **observed}
    if got.ok is None:
        return error(resource, f"could not tell: {got.actual}", **observed)
    return passed(resource, good, **observed) if got.ok else failed(resource, bad, **observed)
