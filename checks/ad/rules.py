"""Comparing a password/lockout rule set (domain policy or password settings object) with the policy."""
from __future__ import annotations

from typing import Any

from checks.ldap.common import fmt_days, fmt_minutes
from scanner.facts.ldap import PasswordRules


def password_gaps(rules: PasswordRules, *, min_length: int, max_age_days: int, min_age_days: int, history: int,
                  complexity: bool) -> list[str]:
    gaps: list[str] = []
    if rules.min_length < min_length:
        gaps.append(f"minimum length {rules.min_length} < {min_length}")
    if complexity and not rules.complexity:
        gaps.append("complexity not required")
    if rules.max_age_days is None or rules.max_age_days > max_age_days:
        gaps.append(f"maximum age {fmt_days(rules.max_age_days)} > {max_age_days} days")
    if rules.min_age_days < min_age_days:
        gaps.append(f"minimum age {fmt_days(rules.min_age_days)} < {min_age_days} days")
    if rules.history < history:
        gaps.append(f"history {rules.history} < {history} remembered passwords")
    if rules.reversible_encryption:
        gaps.append("passwords stored with reversible encryption")
    return gaps


def lockout_gaps(rules: PasswordRules, *, threshold: int, duration_minutes: int, window_minutes: int) -> list[str]:
    if rules.lockout_threshold == 0:
        return ["accounts never lock out (threshold 0)"]
    gaps = []
    if rules.lockout_threshold > threshold:
        gaps.append(f"lockout after {rules.lockout_threshold} failures > {threshold}")
    if rules.lockout_duration_minutes is not None and rules.lockout_duration_minutes < duration_minutes:
        gaps.append(f"lockout lasts {fmt_minutes(rules.lockout_duration_minutes)} < {duration_minutes} minutes")
    if rules.lockout_window_minutes < window_minutes:
        gaps.append(f"failure counter resets after {fmt_minutes(rules.lockout_window_minutes)} "
                    f"< {window_minutes} minutes")
    return gaps


def observed_rules(rules: PasswordRules) -> dict[str, Any]:
    return {k: getattr(rules, k) for k in rules.__dataclass_fields__}
