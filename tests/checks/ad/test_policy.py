"""AD password policies: the cases mutation testing (docs/mutation.md) showed untested: the default limits of the
fine-grained policy check at and one step beyond each bound, password gaps next to good lockout settings, and the
krbtgt age at its default, at its bound and with a clock a little ahead."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from checks.ad import policy
from scanner.facts.ldap import Krbtgt, PasswordSettingsObject
from tests.checks.ad.test_ad_checks import NOW, STRONG, dse

#: exactly the default limits of fine_grained_policies
AT_LIMITS = replace(STRONG, min_length=12, max_age_days=90, min_age_days=1, history=12, complexity=True,
                    lockout_threshold=5, lockout_duration_minutes=15, lockout_window_minutes=15)


def _pso_status(**change: object) -> str:
    pso = PasswordSettingsObject("p", "CN=p", 1, replace(AT_LIMITS, **change), ("CN=g",))  # type: ignore[arg-type]
    (f,) = policy.fine_grained_policies(dse(), (pso,))
    return str(f.status.value)


@pytest.mark.parametrize("change, status", [
    ({}, "pass"),
    ({"min_length": 11}, "fail"), ({"max_age_days": 91}, "fail"), ({"min_age_days": 0}, "fail"),
    ({"history": 11}, "fail"), ({"complexity": False}, "fail"), ({"lockout_threshold": 6}, "fail"),
    ({"lockout_duration_minutes": 14}, "fail"), ({"lockout_window_minutes": 14}, "fail"),
])
def test_fine_grained_policies_default_limits(change: dict[str, object], status: str) -> None:
    assert _pso_status(**change) == status


@pytest.mark.parametrize("days, status", [(180, "pass"), (181, "fail")])
def test_krbtgt_default_limit_is_180_days(days: int, status: str) -> None:
    got = policy.krbtgt_password_age(dse(), Krbtgt("CN=krbtgt", NOW - timedelta(days=days)))
    assert (got.status.value, got.observed["age_days"]) == (status, days)


def test_krbtgt_set_a_little_ahead_is_clock_skew() -> None:
    got = policy.krbtgt_password_age(dse(), Krbtgt("CN=krbtgt", NOW + timedelta(hours=12)))
    assert got.status.value == "pass"
