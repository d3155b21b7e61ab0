"""OpenLDAP ppolicy: the cases mutation testing (docs/mutation.md) showed untested: the default maximum age, the
lowest lockout threshold, each gap named exactly, and gaps of the default policy and of a per-entry policy together."""
from __future__ import annotations

from dataclasses import replace

import pytest

from checks.ldap import openldap
from scanner.facts.ldap import PolicyOverride, PPolicyState
from tests.checks.ldap.test_ldap_checks import RULES, dse


def _gaps(**change: object) -> str:
    got = openldap.ppolicy(dse(), PPolicyState(True, RULES.dn, replace(RULES, **change)))  # type: ignore[arg-type]
    assert got.status.value == "fail", got.message
    return str(got.message).removeprefix("password policy is weaker than required: ")


@pytest.mark.parametrize("change, gap", [
    ({"max_age_days": 91}, "pwdMaxAge 91 days > 90 days"),  # the default limit is 90 days
    ({"max_age_days": None}, "pwdMaxAge never > 90 days"),
    ({"lockout": False}, "pwdLockout is off"),
    ({"max_failure": 6}, "pwdMaxFailure 6 not in 1..5"),
])
def test_each_gap_is_named_exactly(change: dict[str, object], gap: str) -> None:
    assert _gaps(**change) == gap


@pytest.mark.parametrize("max_failure, status", [(0, "fail"), (1, "pass"), (5, "pass"), (6, "fail")])
def test_lockout_after_one_to_five_failures(max_failure: int, status: str) -> None:
    got = openldap.ppolicy(dse(), PPolicyState(True, RULES.dn, replace(RULES, max_failure=max_failure)))
    assert got.status.value == status


def test_gaps_of_the_default_and_of_a_per_entry_policy_are_both_named() -> None:
    lenient = PolicyOverride("cn=lenient", replace(RULES, dn="cn=lenient", in_history=3), ("uid=svc",))
    got = openldap.ppolicy(dse(), PPolicyState(True, RULES.dn, replace(RULES, min_length=8), (lenient,)))
    assert got.message == ("password policy is weaker than required: pwdMinLength 8 < 12; policy cn=lenient "
                           "(pwdPolicySubentry of 1 entries): pwdInHistory 3 < 12")
    assert got.observed["overrides"] == ({"policy": "cn=lenient", "entries": ("uid=svc",),
                                          "gaps": ("pwdInHistory 3 < 12",)},)
