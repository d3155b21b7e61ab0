"""checks.windows.firewall on small hand-built facts: every verdict with its exact words and observed values."""
from __future__ import annotations

from typing import Any

import pytest

from checks.windows import firewall
from scanner.facts.windows import Firewall, FirewallProfile
from tests.checks.windows.factories import seen

ON = "all profiles on, inbound blocked by default"


def _profiles(*specs: tuple[str, bool, str]) -> Firewall:
    return Firewall(tuple(FirewallProfile(*s) for s in specs))


@pytest.mark.parametrize(("specs", "status", "message"), [
    ((("Domain", True, "Block"), ("Private", True, "Block"), ("Public", True, "Block")), "pass", ON),
    ((("Public", True, "Block"), ("Private", True, "Block"), ("Domain", True, "Block")), "pass", ON),
    ((("Domain", False, "Block"), ("Private", True, "Allow"), ("Public", False, "Allow")), "fail",
     "Domain profile is off; Private profile's default inbound action is Allow; Public profile is off"),
    ((("Domain", True, "NotConfigured"), ("Private", True, "block"), ("Public", True, "Block")), "fail",
     "Domain profile's default inbound action is NotConfigured; Private profile's default inbound action is block"),
    ((("Private", True, "Block"),), "fail", "Domain profile not reported; Public profile not reported"),
    ((("Domain", True, "Block"), ("Private", True, "Block")), "fail", "Public profile not reported"),
    ((("Domain", True, "Block"), ("Public", False, "Block")), "fail",
     "Private profile not reported; Public profile is off"),
    ((), "fail", "Domain profile not reported; Private profile not reported; Public profile not reported"),
])
def test_every_profile_is_on_and_blocks_inbound(specs: tuple[tuple[str, bool, str], ...], status: str,
                                                message: str) -> None:
    want: dict[str, Any] = {"profiles": {name: on for name, on, _ in specs}}
    assert seen(firewall.enabled(_profiles(*specs))) == (status, "Windows Firewall", message, want)
