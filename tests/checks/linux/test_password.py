"""Password policy checks at their boundaries, asserting the observed values (mutants of checks/linux/password.py
that the recorded cases left alive: docs/mutation.md)."""
from __future__ import annotations

import pytest

from checks.linux import password
from scanner.facts.linux import Shadow
from scanner.model import Location, Status
from tests.checks.linux.factories import login_defs, pam

NO_ACCOUNTS = Shadow(())
PWQUALITY = ("pam_unix.so", "pam_pwquality.so")


@pytest.mark.parametrize(("days", "status", "message"), [
    ("0", Status.FAIL, "PASS_MAX_DAYS is 0, expected maximum age <= 90 days"),  # 0: no ageing at all
    ("1", Status.PASS, "PASS_MAX_DAYS 1 (maximum age <= 90 days)"),
    ("90", Status.PASS, "PASS_MAX_DAYS 90 (maximum age <= 90 days)"),
    ("91", Status.FAIL, "PASS_MAX_DAYS is 91, expected maximum age <= 90 days"),
])
def test_max_age_boundaries(days, status, message):
    got = password.max_age(login_defs(PASS_MAX_DAYS=days), NO_ACCOUNTS)[0]
    assert (got.status, got.message, dict(got.observed), got.location) == (
        status, message, {"PASS_MAX_DAYS": int(days)}, Location("/etc/login.defs", 1))


@pytest.mark.parametrize(("days", "status", "message"), [
    ("0", Status.FAIL, "PASS_MIN_DAYS is 0, expected minimum age >= 1 days"),
    ("1", Status.PASS, "PASS_MIN_DAYS 1 (minimum age >= 1 days)"),
])
def test_min_age_boundaries(days, status, message):
    got = password.min_age(login_defs(PASS_MIN_DAYS=days), NO_ACCOUNTS)[0]
    assert (got.status, got.message) == (status, message)


@pytest.mark.parametrize(("inactive", "status"), [("-1", Status.FAIL), ("0", Status.PASS), ("1", Status.PASS),
                                                  ("30", Status.PASS), ("31", Status.FAIL)])
def test_inactive_boundaries(inactive, status):
    defs = login_defs()
    defs = type(defs)(defs.values, {"INACTIVE": inactive}, defs.locations)
    got = password.inactive(defs, NO_ACCOUNTS)[0]
    assert (got.status, got.message, dict(got.observed)) == (
        status, f"INACTIVE is {inactive} (inactivity lock within 30 days)", {"INACTIVE": int(inactive)})


@pytest.mark.parametrize(("args", "status", "classes", "observed"), [
    ("minclass=3", Status.PASS, 3, {"minclass": 3, "dcredit": 0, "ucredit": 0, "lcredit": 0, "ocredit": 0}),
    ("minclass=2", Status.FAIL, 2, {"minclass": 2, "dcredit": 0, "ucredit": 0, "lcredit": 0, "ocredit": 0}),
    ("dcredit=-1 ucredit=-1 lcredit=-1", Status.PASS, 3,
     {"minclass": 0, "dcredit": -1, "ucredit": -1, "lcredit": -1, "ocredit": 0}),
    ("dcredit=-1 ucredit=-1 ocredit=1", Status.FAIL, 2,
     {"minclass": 0, "dcredit": -1, "ucredit": -1, "lcredit": 0, "ocredit": 1}),
    ("", Status.FAIL, 0, {"minclass": 0, "dcredit": 0, "ucredit": 0, "lcredit": 0, "ocredit": 0}),
])
def test_complexity_counts_classes_from_minclass_and_negative_credits(args, status, classes, observed):
    got = password.complexity(pam(f"password requisite pam_pwquality.so {args}".strip(), installed=PWQUALITY))
    message = (f"passwords need {classes} character classes" if status is Status.PASS
               else f"passwords need only {classes} character class(es), expected 3")
    assert (got.status, got.message, dict(got.observed), got.location) == (
        status, message, observed, Location("/etc/pam.d/common-password", 1))


def test_complexity_not_required_by_policy_is_not_applicable_and_says_why():
    got = password.complexity(pam(), password_complexity=False)
    assert (got.status, got.resource, got.message) == (
        Status.NOT_APPLICABLE, "pam", "the policy does not require password complexity (password_complexity false)")


#: source: the line the value was read from (None: pam_pwhistory's default)
@pytest.mark.parametrize(("lines", "status", "remember", "source"), [
    (("password required pam_pwhistory.so remember=5",), Status.PASS, 5, 1),
    (("password required pam_pwhistory.so remember=4",), Status.FAIL, 4, 1),
    (("password required pam_pwhistory.so",), Status.PASS, 10, None),  # pam_pwhistory's default
    # pam_unix's remember counts when it is the larger one, and equal ones keep pam_pwhistory's line
    (("password required pam_pwhistory.so remember=4", "password required pam_unix.so remember=4"), Status.FAIL, 4,
     1),
    (("password required pam_pwhistory.so remember=4", "password required pam_unix.so remember=6"), Status.PASS, 6,
     2),
])
def test_history_takes_the_larger_remember_and_says_where(lines, status, remember, source):
    got = password.history(pam(*lines, installed=("pam_unix.so", "pam_pwhistory.so")))
    where = f"/etc/pam.d/common-password:{source}: {lines[source - 1]}" if source else "pam_pwhistory default"
    assert (got.status, dict(got.observed)) == (status, {"remember": remember, "source": (where,), "required": 5})
    assert got.location == Location("/etc/pam.d/common-password", source or 1)
