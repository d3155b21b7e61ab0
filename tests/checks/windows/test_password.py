"""checks.windows.password on small hand-built facts: every verdict with its exact words and observed values."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from checks.windows import password as cp
from scanner.facts.windows import LANMAN_SERVER, LSA, PasswordRules
from scanner.model import Finding
from tests.checks.windows.factories import registry, seen

STRONG = PasswordRules(min_length=14, complexity=True, reversible_encryption=False, max_age_days=90.0, min_age_days=1.0,
                       history=24, lockout_threshold=5, lockout_duration_minutes=30.0, lockout_window_minutes=30.0)
LOCKOUT_OK = "accounts lock out after repeated failed logons as required"
WEAKER = "account lockout is weaker than required: "


@pytest.mark.parametrize(("check", "changes", "policy", "status", "message"), [
    (cp.min_length, {"min_length": 12}, {}, "pass", "minimum length 12 >= 12"),
    (cp.min_length, {"min_length": 11}, {}, "fail", "minimum length 11 < 12"),
    (cp.min_length, {"min_length": 14}, {"password_min_length": 15}, "fail", "minimum length 14 < 15"),
    (cp.min_length, {"min_length": 15}, {"password_min_length": 15}, "pass", "minimum length 15 >= 15"),
    (cp.max_age, {"max_age_days": 90.0}, {}, "pass", "passwords expire after 90.0 days"),
    (cp.max_age, {"max_age_days": 91.0}, {}, "fail", "maximum age 91.0 > 90 days"),
    (cp.max_age, {"max_age_days": None}, {}, "fail", "maximum age never > 90 days"),
    (cp.max_age, {"max_age_days": 61.0}, {"password_max_age_days": 60}, "fail", "maximum age 61.0 > 60 days"),
    (cp.max_age, {"max_age_days": 1.0}, {"password_max_age_days": 60}, "pass", "passwords expire after 1.0 days"),
    (cp.min_age, {"min_age_days": 1.0}, {}, "pass", "minimum age 1.0 days"),
    (cp.min_age, {"min_age_days": 0.0}, {}, "fail", "minimum age 0.0 < 1 days"),
    (cp.min_age, {"min_age_days": 1.5}, {"password_min_age_days": 2}, "fail", "minimum age 1.5 < 2 days"),
    (cp.min_age, {"min_age_days": 2.0}, {"password_min_age_days": 2}, "pass", "minimum age 2.0 days"),
    (cp.history, {"history": 12}, {}, "pass", "12 passwords remembered"),
    (cp.history, {"history": 11}, {}, "fail", "history 11 < 12"),
    (cp.history, {"history": 23}, {"password_history": 24}, "fail", "history 23 < 24"),
    (cp.history, {"history": 24}, {"password_history": 24}, "pass", "24 passwords remembered"),
    (cp.complexity, {}, {}, "pass", "complexity required"),
    (cp.complexity, {"complexity": False}, {}, "fail", "complexity not required"),
    (cp.complexity, {"complexity": False}, {"password_complexity": False}, "pass", "complexity not required by policy"),
    (cp.complexity, {}, {"password_complexity": False}, "pass", "complexity required"),
    (cp.reversible_encryption, {}, {}, "pass", "passwords are not stored reversibly"),
    (cp.reversible_encryption, {"reversible_encryption": True}, {}, "fail",
     "passwords are stored with reversible encryption"),
    (cp.lockout, {}, {}, "pass", LOCKOUT_OK),
    (cp.lockout, {"lockout_threshold": 1, "lockout_duration_minutes": 15.0, "lockout_window_minutes": 15.0}, {},
     "pass", LOCKOUT_OK),
    (cp.lockout, {"lockout_duration_minutes": None}, {}, "pass", LOCKOUT_OK),  # until an administrator unlocks
    (cp.lockout, {"lockout_threshold": 0}, {}, "fail", WEAKER + "accounts never lock out (threshold 0)"),
    (cp.lockout, {"lockout_threshold": 6, "lockout_duration_minutes": 14.0, "lockout_window_minutes": 14.5}, {},
     "fail", WEAKER + "lockout after 6 failures > 5; lockout lasts 14 minutes < 15 minutes; failure counter resets "
     "after 14.5 minutes < 15 minutes"),
    (cp.lockout, {"lockout_threshold": 4, "lockout_duration_minutes": 59.0, "lockout_window_minutes": 29.0},
     {"lockout_threshold": 3, "lockout_duration_minutes": 60, "lockout_window_minutes": 30}, "fail",
     WEAKER + "lockout after 4 failures > 3; lockout lasts 59 minutes < 60 minutes; failure counter resets after "
     "29 minutes < 30 minutes"),
    (cp.lockout, {"lockout_threshold": 3, "lockout_duration_minutes": 60.0, "lockout_window_minutes": 45.0},
     {"lockout_threshold": 3, "lockout_duration_minutes": 60, "lockout_window_minutes": 45}, "pass", LOCKOUT_OK),
    (cp.lockout, {"lockout_window_minutes": 40.0}, {"lockout_window_minutes": 45}, "fail",
     WEAKER + "failure counter resets after 40 minutes < 45 minutes"),
])
def test_each_password_rule_with_its_words_and_every_rule_observed(
        check: Callable[..., Finding], changes: dict[str, Any], policy: dict[str, Any], status: str,
        message: str) -> None:
    rules = dataclasses.replace(STRONG, **changes)
    assert seen(check(rules, **policy)) == (status, "local password policy", message, dataclasses.asdict(rules))


@pytest.mark.parametrize(("value", "status", "message"), [
    (1, "pass", "LM hashes are not stored"),
    (0, "fail", "NoLMHash = 0 (want 1)"),
    (2, "fail", "NoLMHash = 2 (want 1)"),
    (None, "fail", "NoLMHash is not set (want 1)"),
])
def test_lm_hash(value: int | None, status: str, message: str) -> None:
    assert seen(cp.lm_hash(registry({(LSA, "NoLMHash"): value}))) == (status, "LSA", message, {"NoLMHash": value})


@pytest.mark.parametrize(("value", "level", "status", "message"), [
    (5, None, "pass", "only NTLMv2 is used"),
    (4, None, "fail", "LmCompatibilityLevel = 4 (want >= 5)"),
    (6, None, "fail", "LmCompatibilityLevel = 6 (want >= 5)"),  # no such level
    (None, None, "fail", "LmCompatibilityLevel is not set (want >= 5)"),
    (3, 3, "pass", "only NTLMv2 is used"),
    (5, 3, "pass", "only NTLMv2 is used"),
    (2, 3, "fail", "LmCompatibilityLevel = 2 (want >= 3)"),
])
def test_ntlm_level_between_the_policy_level_and_5(value: int | None, level: int | None, status: str,
                                                   message: str) -> None:
    reg = registry({(LSA, "LmCompatibilityLevel"): value})
    got = cp.ntlm_level(reg) if level is None else cp.ntlm_level(reg, ntlm_min_level=level)
    assert seen(got) == (status, "LSA", message, {"LmCompatibilityLevel": value})


ANON = ("RestrictAnonymousSAM", "RestrictAnonymous", "EveryoneIncludesAnonymous", "RestrictNullSessAccess")


@pytest.mark.parametrize(("values", "status", "message"), [
    ((1, 1, 0, 1), "pass", "anonymous enumeration and null sessions are refused"),
    ((1, 2, 0, 1), "pass", "anonymous enumeration and null sessions are refused"),
    ((0, 0, 1, 0), "fail", "RestrictAnonymousSAM = 0 (want 1); RestrictAnonymous = 0 (want >= 1); "
     "EveryoneIncludesAnonymous = 1 (want 0); RestrictNullSessAccess = 0 (want 1)"),
    ((2, 1, 0, 2), "fail", "RestrictAnonymousSAM = 2 (want 1); RestrictNullSessAccess = 2 (want 1)"),
    ((None, None, None, None), "fail", "RestrictAnonymousSAM is not set (want 1); RestrictAnonymous is not set "
     "(want >= 1); EveryoneIncludesAnonymous is not set (want 0); RestrictNullSessAccess is not set (want 1)"),
])
def test_anonymous_restrictions_each_value_named(values: tuple[int | None, ...], status: str, message: str) -> None:
    keys = (LSA, LSA, LSA, LANMAN_SERVER)
    reg = registry({(k, n): v for k, n, v in zip(keys, ANON, values, strict=True)})
    assert seen(cp.anonymous_restrictions(reg)) == (status, "anonymous access", message, dict(zip(ANON, values,
                                                                                                   strict=True)))
