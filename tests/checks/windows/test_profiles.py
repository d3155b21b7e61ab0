"""The expected verdict of every Windows check on every hand-written host profile, through the collector and the
engine's own evaluate: one table, one parametrized test."""
from __future__ import annotations

from functools import cache

import pytest

from scanner.registry import Registry
from scanner.runner import evaluate
from scanner.selftest.kat import worst
from tests.checks.windows.factories import profile_facts, target

P, F, E = "pass", "fail", "error"
#: check -> verdict on (hardened-2022, default-2019, weak, german)
EXPECTED = {
    "windows.accounts.builtin_admin": (P, F, F, P),
    "windows.accounts.guest_disabled": (P, P, F, P),
    "windows.accounts.local_admins": (P, F, F, P),
    "windows.accounts.password_never_expires": (P, F, F, P),
    "windows.accounts.password_required": (P, P, F, P),
    "windows.accounts.stale": (P, F, F, P),
    "windows.accounts.unique_ids": (P, P, F, P),
    "windows.audit.forwarding": (P, F, F, P),
    "windows.audit.log_retention": (P, F, F, P),
    "windows.audit.policy": (P, F, F, P),
    "windows.audit.security_log_size": (P, F, F, P),
    "windows.auth.anonymous_restrictions": (P, F, F, P),
    "windows.auth.lm_hash": (P, P, F, P),
    "windows.auth.ntlm_level": (P, F, F, P),
    "windows.auth.uac": (P, F, F, P),
    "windows.backup.recent": (P, E, F, P),
    "windows.backup.scheduled": (P, F, F, P),
    "windows.crypto.bitlocker": (P, F, F, P),
    "windows.crypto.rdp": (P, F, F, P),
    "windows.crypto.smb": (P, F, F, P),
    "windows.crypto.tls_protocols": (P, F, F, P),
    "windows.crypto.winrm": (P, P, F, P),
    "windows.firewall.enabled": (P, F, F, P),
    "windows.password.complexity": (P, F, F, P),
    "windows.password.history": (P, F, F, P),
    "windows.password.lockout": (P, F, F, P),
    "windows.password.max_age": (P, P, F, P),
    "windows.password.min_age": (P, F, F, P),
    "windows.password.min_length": (P, F, F, P),
    "windows.password.reversible_encryption": (P, P, F, P),
    "windows.rdp.nla": (P, P, F, P),
    "windows.session.idle_lock": (P, F, F, P),
    "windows.time.synchronized": (P, F, F, P),
}
PROFILES = ("hardened-2022", "default-2019", "weak", "german")


@cache
def registry() -> Registry:
    return Registry.load(["checks.windows"])


def test_the_table_names_every_windows_check() -> None:
    assert sorted(EXPECTED) == sorted(registry().checks)
    assert len(EXPECTED) >= 33


@pytest.mark.parametrize(("profile", "check"), [(p, c) for p in PROFILES for c in sorted(EXPECTED)])
def test_expected_verdict(profile: str, check: str) -> None:
    findings = evaluate(registry().checks[check], profile_facts(profile), target(profile))
    want = EXPECTED[check][PROFILES.index(profile)]
    assert worst(findings).value == want, [f.message for f in findings]


def test_the_german_host_gives_the_facts_of_the_english_one() -> None:
    """Localised group, guest and w32tm texts change nothing the checks read."""
    de, en = profile_facts("german"), profile_facts("hardened-2022")
    assert de["windows.admin_group"].value.name == "Administratoren"
    assert de["windows.time"].value.phase_offset_seconds == pytest.approx(0.00031)
    assert de["windows.time"].value.source == en["windows.time"].value.source == "dc1.ex.test"
    assert de["windows.password_policy"].value == en["windows.password_policy"].value
