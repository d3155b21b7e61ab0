"""The password and lockout rule comparison shared by the AD domain policy, password settings objects and the
Windows local policy (checks/ad/rules.py): each bound and the exact words of each gap (docs/mutation.md, issue 15
fifth session)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from checks.ad.rules import lockout_gaps, observed_rules, password_gaps
from scanner.facts.ldap import PasswordRules

#: exactly at every limit of POLICY / LOCKOUT below: no gap
AT_LIMIT = PasswordRules(min_length=14, complexity=True, reversible_encryption=False, max_age_days=90,
                         min_age_days=1, history=24, lockout_threshold=5, lockout_duration_minutes=15,
                         lockout_window_minutes=15)
POLICY: dict[str, Any] = dict(min_length=14, max_age_days=90, min_age_days=1, history=24, complexity=True)
LOCKOUT: dict[str, int] = dict(threshold=5, duration_minutes=15, window_minutes=15)


@pytest.mark.parametrize("change, gaps", [
    ({}, []),
    ({"min_length": 13}, ["minimum length 13 < 14"]),
    ({"min_length": 15, "max_age_days": 89, "min_age_days": 2, "history": 25}, []),
    ({"complexity": False}, ["complexity not required"]),
    ({"max_age_days": 91}, ["maximum age 91 days > 90 days"]),
    ({"max_age_days": None}, ["maximum age never > 90 days"]),
    ({"min_age_days": 0.5}, ["minimum age 0.5 days < 1 days"]),
    ({"history": 23}, ["history 23 < 24 remembered passwords"]),
    ({"reversible_encryption": True}, ["passwords stored with reversible encryption"]),
    ({"min_length": 0, "complexity": False, "max_age_days": None, "min_age_days": 0, "history": 0,
      "reversible_encryption": True},
     ["minimum length 0 < 14", "complexity not required", "maximum age never > 90 days",
      "minimum age 0 days < 1 days", "history 0 < 24 remembered passwords",
      "passwords stored with reversible encryption"]),
])
def test_password_gaps_name_each_rule_below_the_policy(change: dict[str, Any], gaps: list[str]) -> None:
    assert password_gaps(replace(AT_LIMIT, **change), **POLICY) == gaps


def test_complexity_is_only_a_gap_when_the_policy_asks_for_it() -> None:
    simple = replace(AT_LIMIT, complexity=False)
    assert password_gaps(simple, **{**POLICY, "complexity": False}) == []
    assert password_gaps(AT_LIMIT, **{**POLICY, "complexity": False}) == []


@pytest.mark.parametrize("change, gaps", [
    ({}, []),
    ({"lockout_threshold": 1, "lockout_duration_minutes": 16, "lockout_window_minutes": 16}, []),
    ({"lockout_threshold": 0}, ["accounts never lock out (threshold 0)"]),
    ({"lockout_threshold": 0, "lockout_duration_minutes": 1, "lockout_window_minutes": 1},
     ["accounts never lock out (threshold 0)"]),
    ({"lockout_threshold": 6}, ["lockout after 6 failures > 5"]),
    ({"lockout_duration_minutes": 14.5}, ["lockout lasts 14.5 minutes < 15 minutes"]),
    ({"lockout_duration_minutes": None}, []),  # locked until an administrator unlocks: longer than any duration
    ({"lockout_window_minutes": 14}, ["failure counter resets after 14 minutes < 15 minutes"]),
    ({"lockout_threshold": 50, "lockout_duration_minutes": 1, "lockout_window_minutes": 2},
     ["lockout after 50 failures > 5", "lockout lasts 1 minutes < 15 minutes",
      "failure counter resets after 2 minutes < 15 minutes"]),
])
def test_lockout_gaps_name_each_rule_below_the_policy(change: dict[str, Any], gaps: list[str]) -> None:
    assert lockout_gaps(replace(AT_LIMIT, **change), **LOCKOUT) == gaps


def test_observed_rules_are_every_field_with_its_value() -> None:
    assert observed_rules(replace(AT_LIMIT, max_age_days=None)) == {
        "min_length": 14, "complexity": True, "reversible_encryption": False, "max_age_days": None,
        "min_age_days": 1, "history": 24, "lockout_threshold": 5, "lockout_duration_minutes": 15,
        "lockout_window_minutes": 15}
