"""The declared-call machinery every AWS fact goes through: ``Call``, ``AwsFact``, ``Api``, ``Fields``.

Each fact declares the calls it may make (``AwsFact.calls``); ``Api.call`` refuses any call its fact did not
declare, counts what it made, and turns every failure into an ``ApiError`` that names the IAM action.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from scanner.facts.aws import FACTS, PolicyDocument
from scanner.model import freeze
from scanner.value import frozen

if TYPE_CHECKING:
    from scanner.connectors.aws import Account, AWSConnector

#: Error codes AWS uses for a missing permission.
DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
    "UnauthorizedAccess", "Forbidden", "AccessDeniedError", "InsufficientPermissionsException",
})
#: The IAM action prefix of a boto3 client whose name differs from it.
ACTION_PREFIX = MappingProxyType({"s3control": "s3", "accessanalyzer": "access-analyzer"})

Response = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")


@frozen
class Call:
    """One API operation: the boto3 client, the operation name, and the IAM action that authorizes it."""

    service: str
    operation: str
    action: str


def declare(service: str, operation: str, action: str | None = None) -> Call:
    """A call whose IAM action is ``PREFIX:OPERATION`` unless named (``s3:GetEncryptionConfiguration``)."""
    return Call(service, operation, f"{ACTION_PREFIX.get(service, service)}:{action or operation}")


class ApiError(Exception):
    """An API call failed; the message names the IAM action and never holds a secret."""

    def __init__(self, message: str, *, denied: bool = False, code: str = ""):
        super().__init__(message)
        self.denied = denied
        self.code = code


def error_code(exc: BaseException) -> tuple[str, str, int | None]:
    """(code, message, HTTP status) of a botocore error; the exception's type name for anything else."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return type(exc).__name__, "", None
    err = response.get("Error", {}) or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return str(err.get("Code") or status or "Error"), str(err.get("Message") or ""), status


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


Gather = Callable[["Api", str], Sequence[Any]]


@frozen
class AwsFact:
    name: str
    calls: tuple[Call, ...]
    gather: Gather  # (api, region) -> items; region is a real region even for account-wide facts
    regional: bool = True  # False: account-wide, listed once per account

    @property
    def description(self) -> str:
        """What the fact holds, as scanner.facts.aws declares it for both collectors."""
        return FACTS[self.name]

    def call(self, operation: str) -> Call:
        for c in self.calls:
            if c.operation == operation:
                return c
        raise KeyError(f"{self.name} declares no call {operation}")


class Api:
    """The calls one fact makes in one account: declared, counted, and errors named by IAM action."""

    def __init__(self, connector: AWSConnector, account: Account, fact: AwsFact, pool: ThreadPoolExecutor,
                 counts: Counter[str], lock: threading.Lock, records_tag: str = ""):
        self.connector = connector
        self.records_tag = records_tag  # the inventory's records scope: tags are read only when it is set
        self.account = account
        self.fact = fact
        self.pool = pool
        self._counts = counts
        self._lock = lock

    def _client(self, call: Call, region: str) -> Any:
        if call not in self.fact.calls:
            raise ApiError(f"internal: {self.fact.name} made undeclared call {call.action}")
        return self.connector.client(self.account, call.service, region)

    def _count(self, call: Call) -> None:
        with self._lock:
            self._counts[call.action] += 1

    def _raise(self, call: Call, region: str, exc: BaseException) -> ApiError:
        code, message, status = error_code(exc)
        where = f"account {self.account.id} {region}"
        if code in DENIED_CODES or status == 403:
            return ApiError(f"{call.action} denied ({call.operation} in {where}): {code}", denied=True, code=code)
        return ApiError(f"{call.action} failed ({call.operation} in {where}): {code}: {_short(message)}".rstrip(": "),
                        code=code)

    def call(self, call: Call, region: str, *, absent: Iterable[str] = (), **params: Any) -> Response | None:
        """One request. An error code listed in ``absent`` means "not configured" and returns None."""
        from botocore import xform_name

        client = self._client(call, region)
        self._count(call)
        try:
            got: Response = getattr(client, xform_name(call.operation))(**params)
        except Exception as exc:
            if error_code(exc)[0] in set(absent):
                return None
            raise self._raise(call, region, exc) from None
        return got

    def need(self, call: Call, region: str, **params: Any) -> Response:
        """A request whose answer is required (no "not configured" reading)."""
        got = self.call(call, region, **params)
        if got is None:  # pragma: no cover - call() returns None only for an ``absent`` code
            raise ApiError(f"{call.action} returned nothing")
        return got

    def raw_pages(self, call: Call, region: str, **params: Any) -> list[Response]:
        """Every page of a listing."""
        from botocore import xform_name

        client = self._client(call, region)
        out: list[Response] = []
        try:
            for page in client.get_paginator(xform_name(call.operation)).paginate(**params):
                self._count(call)
                out.append(page)
        except Exception as exc:
            raise self._raise(call, region, exc) from None
        return out

    def pages(self, call: Call, region: str, key: str, **params: Any) -> list[Response]:
        """Every item under ``key`` across all pages of a listing."""
        return [item for page in self.raw_pages(call, region, **params) for item in page.get(key, [])]

    def each(self, func: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """Run a per-resource function concurrently (bounded by the pool), results in input order."""
        return list(self.pool.map(func, list(items)))


class Fields:
    """Collects one resource's per-call results; a failed call is recorded, not raised."""

    def __init__(self, api: Api, region: str):
        self.api = api
        self.region = region
        self.errors: dict[str, str] = {}

    def get(self, name: str, call: Call, *, absent: Iterable[str] = (), region: str | None = None,
            **params: Any) -> Response | None:
        try:
            return self.api.call(call, region or self.region, absent=absent, **params)
        except ApiError as exc:
            self.errors[name] = str(exc)
            return None

    def frozen_errors(self) -> Mapping[str, str]:
        return MappingProxyType(dict(self.errors))


def parse_date(text: str | None) -> datetime | None:
    """An ISO timestamp of an AWS answer; None for the report's "N/A" and friends (and for nonsense)."""
    if not text or text in ("N/A", "no_information", "not_supported"):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def policy_document(doc: Any) -> PolicyDocument:
    """A policy document as IAM returns it (JSON, URL-encoded JSON or already decoded), deep-frozen."""
    if isinstance(doc, str):
        doc = json.loads(unquote(doc))
    if not isinstance(doc, Mapping):
        raise ValueError(f"a policy document is a JSON object, not {type(doc).__name__}")
    frozen: PolicyDocument = freeze(doc)
    return frozen


def tag_map(tag_list: Iterable[Mapping[str, Any]] | None) -> Mapping[str, str]:
    return MappingProxyType({str(t["Key"]): str(t.get("Value", "")) for t in tag_list or ()})
