"""AWS connector: boto3 sessions per account, clients per (account, service, region).

Credentials come the way AWS users already have them: a named ``profile``, else the standard chain
(environment, SSO, instance role). On top of that base session:

- ``role_arn``: assume that role and scan its account;
- ``accounts`` + ``role_name``: assume ``role_name`` in each listed account;
- ``organization: true``: list the organization's active accounts and assume ``role_name``
  (default ``OrganizationAccountAccessRole``) in each, the caller's own account with the base session.

``regions`` is a list, or ``"all"`` for every region enabled in the account (``ec2:DescribeRegions``);
without it, the session's region (or us-east-1). ``endpoint_url`` points every client at one endpoint
(private endpoints, moto in tests). Every client retries with botocore's adaptive mode (``max_attempts``
retries after the first attempt, default 3, as botocore counts them).

boto3 is imported only when the connector is entered. Error messages carry codes and ARNs, never keys.
"""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from typing import Any

from scanner.connectors import ConnectorError
from scanner.facts.aws import build_arn
from scanner.model import Target
from scanner.value import frozen

DEFAULT_REGION = "us-east-1"
PARTITION = re.compile(r"aws(-[a-z]+)*")
ACCOUNT_ID = re.compile(r"[0-9]{12}")
DEFAULT_ORG_ROLE = "OrganizationAccountAccessRole"
SESSION_NAME = "gxpscan"

#: The API calls the connector itself makes: (client name, operation, IAM action).
CONNECTOR_CALLS = (
    ("sts", "GetCallerIdentity", "sts:GetCallerIdentity"),
    ("sts", "AssumeRole", "sts:AssumeRole"),
    ("organizations", "ListAccounts", "organizations:ListAccounts"),
    ("ec2", "DescribeRegions", "ec2:DescribeRegions"),
)


@frozen
class Account:
    """One AWS account to scan, with the boto3 session that reaches it."""

    id: str
    partition: str
    session: Any  # boto3.session.Session
    via: str  # how the session was obtained: "default", "profile NAME", "role ARN"

    def arn(self, service: str, region: str, resource: str) -> str:
        """The ARN of a resource of this account (``region`` empty for global services)."""
        return build_arn(self.partition, service, region, self.id, resource)

    @property
    def root_arn(self) -> str:
        return build_arn(self.partition, "iam", "", self.id, "root")


def _describe(exc: BaseException) -> str:
    """A short, secret-free description of a boto/botocore exception."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".strip()
    return type(exc).__name__


class AWSConnector:
    """Builds sessions and cached clients for every account and region of an ``aws`` target."""

    def __init__(self, target: Target):
        self.target = target
        self.accounts: tuple[Account, ...] = ()
        self.regions: dict[str, tuple[str, ...]] = {}  # account id -> regions
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()
        self._hooks: list[tuple[str, Callable[..., Any]]] = []
        self._config: Any = None

    # -- options -------------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str | None:
        url = self.target.opt("endpoint_url")
        return str(url) if url else None

    @property
    def max_workers(self) -> int:
        return int(self.target.opt("max_workers", 16))

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        """Register a botocore event handler on every client (used to count or shape calls)."""
        self._hooks.append((event, handler))
        with self._lock:
            for client in self._clients.values():
                client.meta.events.register(event, handler)

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> AWSConnector:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:  # pragma: no cover - boto3 is a dependency
            raise ConnectorError(f"boto3 is not installed: {exc}") from None
        self._config = Config(
            retries={"mode": "adaptive", "max_attempts": int(self.target.opt("max_attempts", 3))},
            max_pool_connections=max(10, self.max_workers + 4),
            connect_timeout=float(self.target.opt("connect_timeout", 10)),
            read_timeout=float(self.target.opt("read_timeout", 60)),
            user_agent_extra="gxpscan",
            # A custom endpoint (private endpoint, test server) takes no account-id host prefix (s3control).
            inject_host_prefix=not self.endpoint_url,
        )
        profile = self.target.opt("profile")
        try:
            base = boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
        except Exception as exc:  # botocore ProfileNotFound and friends
            raise ConnectorError(f"AWS profile {profile!r} cannot be used: {_describe(exc)}") from None
        self.accounts = tuple(self._resolve_accounts(base, f"profile {profile}" if profile else "default"))
        for account in self.accounts:
            self.regions[account.id] = self._resolve_regions(account)
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            close = getattr(client, "close", None)
            if close:
                close()

    # -- clients ---------------------------------------------------------------------------------
    def client(self, account: Account, service: str, region: str) -> Any:
        key = (account.id, service, region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._make_client(account.session, service, region)
                self._clients[key] = client
            return client

    def _make_client(self, session: Any, service: str, region: str) -> Any:
        client = session.client(service, region_name=region, endpoint_url=self.endpoint_url, config=self._config)
        if self.endpoint_url and service == "s3control":
            # S3 Control's endpoint rules prefix the host with the account id even for a custom endpoint.
            client.meta.events.register("before-sign.s3-control", pin_host(self.endpoint_url))
        for event, handler in self._hooks:
            client.meta.events.register(event, handler)
        return client

    def _call(self, session: Any, service: str, region: str, operation: str, **params: Any) -> dict[str, Any]:
        """A connector-level call on a throwaway client; failures become ConnectorError."""
        client = self._make_client(session, service, region)
        try:
            got: dict[str, Any] = getattr(client, _snake(operation))(**params)
            return got
        except Exception as exc:
            raise ConnectorError(f"{service}:{operation} failed: {_describe(exc)}") from None

    # -- accounts and regions --------------------------------------------------------------------
    def _home_region(self, session: Any) -> str:
        regions = self.target.opt("regions")
        if isinstance(regions, (list, tuple)) and regions:
            return str(regions[0])
        return str(session.region_name or DEFAULT_REGION)

    def _identity(self, session: Any, via: str) -> Account:
        region = self._home_region(session)
        ident = self._call(session, "sts", region, "GetCallerIdentity")
        account = str(ident.get("Account") or "")
        if not ACCOUNT_ID.fullmatch(account):
            raise ConnectorError(f"sts:GetCallerIdentity returned no account id ({via})")
        return Account(id=account, partition=partition_of(str(ident.get("Arn") or ""), region, session),
                       session=session, via=via)

    def _assume(self, base: Any, role_arn: str) -> Account:
        import boto3

        params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": SESSION_NAME}
        external_env = self.target.opt("external_id_env")
        if external_env:
            external = os.environ.get(external_env)
            if not external:
                raise ConnectorError(f"environment variable {external_env} (external id) is not set")
            params["ExternalId"] = external
        creds = self._call(base, "sts", self._home_region(base), "AssumeRole", **params)["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=base.region_name,
        )
        return self._identity(session, f"role {role_arn}")

    def _resolve_accounts(self, base: Any, via: str) -> list[Account]:
        role_arn = self.target.opt("role_arn")
        accounts = self.target.opt("accounts")
        if role_arn:
            return [self._assume(base, role_arn)]
        caller = self._identity(base, via)
        if self.target.opt("organization"):
            ids = self._organization_accounts(base)
            role_name = self.target.opt("role_name") or DEFAULT_ORG_ROLE
        elif accounts:
            ids = list(accounts)
            role_name = self.target.opt("role_name")
        else:
            return [caller]
        out = []
        for account_id in ids:
            if account_id == caller.id:
                out.append(caller)
            elif not role_name:
                raise ConnectorError(f"account {account_id} is not the caller's account and no role_name is set")
            else:
                out.append(self._assume(base, build_arn(caller.partition, "iam", "", account_id, f"role/{role_name}")))
        if not out:
            raise ConnectorError("no active account to scan (organization: true found none)")
        return out

    def _organization_accounts(self, base: Any) -> list[str]:
        client = self._make_client(base, "organizations", self._home_region(base))
        try:
            pages = client.get_paginator("list_accounts").paginate()
            # Organizations now answers with "State" (Status is deprecated): an account is active by either.
            return [str(a["Id"]) for page in pages for a in page["Accounts"]
                    if "ACTIVE" in (a.get("State"), a.get("Status"))]
        except Exception as exc:
            raise ConnectorError(f"organizations:ListAccounts failed: {_describe(exc)}") from None

    def _resolve_regions(self, account: Account) -> tuple[str, ...]:
        regions = self.target.opt("regions")
        if isinstance(regions, (list, tuple)) and regions:
            return tuple(regions)
        if regions == "all":
            found = self._call(account.session, "ec2", self._home_region(account.session), "DescribeRegions",
                               AllRegions=False)
            enabled = tuple(sorted(str(r["RegionName"]) for r in found.get("Regions", [])
                                   if r.get("OptInStatus", "opt-in-not-required") != "not-opted-in"))
            if not enabled:
                raise ConnectorError(f"regions: all: ec2:DescribeRegions named no enabled region ({account.id})")
            return enabled
        if regions not in (None, [], ()):
            raise ConnectorError(f"regions must be a list of region names or \"all\", not {regions!r}")
        return (str(account.session.region_name or DEFAULT_REGION),)


def partition_of(caller_arn: str, region: str, session: Any) -> str:
    """The partition (``aws``, ``aws-us-gov``, ``aws-cn``, ...) of the caller: from its ARN as STS returned it,
    else botocore's partition for the region the session talks to. Never a guess: unknown is an error."""
    parts = caller_arn.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and PARTITION.fullmatch(parts[1]):
        return parts[1]
    try:
        found = session.get_partition_for_region(region)
    except Exception as exc:
        raise ConnectorError(f"cannot tell the AWS partition of region {region!r}: {_describe(exc)}") from None
    if not isinstance(found, str) or not PARTITION.fullmatch(found):
        raise ConnectorError(f"cannot tell the AWS partition of region {region!r}")
    return found


def pin_host(endpoint_url: str) -> Callable[..., None]:
    """A before-sign handler that sends the request to ``endpoint_url``'s host, unprefixed."""
    from urllib.parse import urlsplit, urlunsplit

    netloc = urlsplit(endpoint_url).netloc

    def pin(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        if parts.netloc != netloc:
            request.url = urlunsplit(parts._replace(netloc=netloc))

    return pin


def _snake(operation: str) -> str:
    """botocore's operation name -> the client method name (GetBucketPolicy -> get_bucket_policy)."""
    from botocore import xform_name

    return str(xform_name(operation))
