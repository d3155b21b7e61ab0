"""Windows facts for check tests: the hand-written host profiles (tests/fixtures/windows) through the collector,
so a test changes one value of a realistic host instead of building every fact by hand."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from scanner.collectors import windows as wc
from scanner.connectors import CommandResult
from scanner.facts import windows as wf
from scanner.model import Fact, Finding, Platform, Target, thaw
from tests.fixtures.windows.replay import reply_for

#: The approval a hardened host's inventory gives its domain admin group (the profiles' nested group).
APPROVED = {"approved_privileged": ["EX\\LIMS-Server-Admins"]}


class ReplayConnector:
    """A connector whose one round trip is answered from a host profile; counts the round trips."""

    def __init__(self, profile: str, reply: Any = None) -> None:
        self.reply = reply or reply_for(profile)
        self.scripts: list[str] = []

    def run(self, script: str, *, timeout: float, limit: int) -> CommandResult:
        self.scripts.append(script)
        out = self.reply(script)
        return out if isinstance(out, CommandResult) else CommandResult(0, out, b"")


def target(profile: str = "hardened-2022", **policy: Any) -> Target:
    return Target(profile, Platform.WINDOWS, {}, {**APPROVED, **policy})


@cache
def profile_facts(profile: str) -> dict[str, Fact]:
    return wc.collect(ReplayConnector(profile), target(profile), list(wc.FACTS))


def value(profile: str, fact: str) -> Any:
    got = profile_facts(profile)[fact]
    assert got.ok, got.error
    return got.value


# Small facts built by hand, for tests that judge one rule at a time (the mutation tests of docs/mutation.md).

#: The clock the small facts count from (the checks read their own clock; a test keeps a margin of hours).
NOW = datetime.now(timezone.utc)


def seen(finding: Finding) -> tuple[str, str, str, dict[str, Any]]:
    """Everything a check decided and said: status, resource, message and observed values (as plain data)."""
    return finding.status.value, finding.resource, finding.message, thaw(finding.observed)


def account(name: str, rid: int, *, enabled: bool = True, password_required: bool = True,
            password_expires: bool = True, last_logon: datetime | None = NOW - timedelta(days=1),
            password_last_set: datetime | None = NOW - timedelta(days=1), sid: str = "") -> wf.LocalAccount:
    return wf.LocalAccount(name, sid or f"S-1-5-21-7-8-9-{rid}", rid, enabled, password_required, password_expires,
                           last_logon, password_last_set)


def accounts(*items: wf.LocalAccount) -> wf.LocalAccounts:
    return wf.LocalAccounts(items)


def registry(values: Mapping[tuple[str, str], int | str | None] | None = None) -> wf.Registry:
    """Every registry value the collector reads, unset, except the (key, name) pairs given."""
    given = dict(values or {})
    every = [*wf.REGISTRY_VALUES, *(k for k in given if k not in wf.REGISTRY_VALUES)]
    return wf.Registry(tuple(wf.RegistryValue(key, name, given.get((key, name))) for key, name in every))
