"""Fakes for the AWS challenges' verdict logic: a scan principal's link and probes that record their arguments.

The challenges reach AWS only through the probe functions they import from scanner.probes.aws; the logic tests
replace those names in the challenge module with a ``Recorder``'s fakes, which answer from recorded observations and
keep every call with its arguments. The lab tests (test_challenge_s3.py, test_challenge_iam.py,
test_challenge_cloudtrail.py against moto; test_challenge_real_account.py against AWS) prove the probes themselves.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scanner.challenge import ChallengeContext, Probe
from scanner.connectors.aws import Account
from scanner.model import Finding, Status
from tests.factories import make_target

SCAN_ARN = "arn:aws:iam::111111111111:role/scanner"


def account(account_id: str) -> Account:
    return Account(id=account_id, partition="aws", session=None, via="fake")


@dataclass(frozen=True)
class FakeLink:
    """The part of AwsLink the challenges use; ``closed`` counts close() calls."""

    accounts: tuple[Account, ...]
    homes: tuple[str, ...] = ("eu-west-1",)
    caller_arn: str = SCAN_ARN
    closed: list[int] = field(default_factory=list)

    def home_region(self, acct: Account) -> str:
        return self.homes[[a.id for a in self.accounts].index(acct.id)]

    def close(self) -> None:
        self.closed.append(1)


@dataclass(frozen=True)
class Recorder:
    """Fakes of probe functions: each call is kept as (name, args, kwargs); each answer comes from ``answer``."""

    answer: Callable[[str, tuple[Any, ...], dict[str, Any]], Any]
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    def fake(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            return self.answer(name, args, kwargs)

        return call

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [(*args, *sorted(kwargs.items())) for n, args, kwargs in self.calls if n == name]


def context(plan: bool = False, **opts: Any) -> ChallengeContext:
    return ChallengeContext(make_target("acme", type="aws", **opts), plan=plan)


def probe(ok: bool | None, actual: str = "") -> Probe:
    return Probe(ok, actual or {True: "met", False: "not met", None: "no answer"}[ok])


def seen(findings: list[Finding]) -> list[tuple[Status, str, str, dict[str, Any]]]:
    return [(f.status, f.resource, f.message, dict(f.observed)) for f in findings]


def steps(ctx: ChallengeContext) -> list[tuple[str, str, str, bool | None]]:
    return [(s.action, s.expected, s.actual, s.ok) for s in ctx.steps]
