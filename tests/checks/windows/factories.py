"""Windows facts for check tests: the hand-written host profiles (tests/fixtures/windows) through the collector,
so a test changes one value of a realistic host instead of building every fact by hand."""
from __future__ import annotations

from functools import cache
from typing import Any

from scanner.collectors import windows as wc
from scanner.connectors import CommandResult
from scanner.model import Fact, Platform, Target
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
