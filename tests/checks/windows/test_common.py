"""checks.windows._common, the helpers every Windows check shares, called directly on small facts."""
from __future__ import annotations

from typing import Any

import pytest

from checks.windows import _common as wc
from scanner.facts.windows import LSA, RDP_TCP, TERMINAL_SERVER, TS_POLICIES, LocalAccount
from tests.checks.windows.factories import account, accounts, registry, seen


def test_fold_and_enabled() -> None:
    assert wc.fold(["Administrator", "STRASSE", "straße"]) == {"administrator", "strasse"}
    local = accounts(account("a", 1001), account("b", 1002, enabled=False), account("c", 1003))
    assert [a.name for a in wc.enabled(local)] == ["a", "c"]


def _no_password(a: LocalAccount) -> bool:
    return not a.password_required


@pytest.mark.parametrize(("allowed", "want"), [
    ((), ("fail", "R", "3 enabled local account(s) need none: Bob, carol, zed", {"accounts": ["Bob", "carol", "zed"]})),
    (("BOB", "nobody"), ("fail", "R", "2 enabled local account(s) need none: carol, zed",
                         {"accounts": ["carol", "zed"]})),
    (("zed", "Carol", "bob"), ("pass", "R", "all fine", {"accounts": [], "allowed": ["Carol", "bob", "zed"]})),
])
def test_flagged_names_enabled_bad_accounts_sorted_less_the_allowed(allowed: tuple[str, ...],
                                                                     want: tuple[Any, ...]) -> None:
    local = accounts(account("zed", 1001, password_required=False), account("ok", 1002),
                     account("carol", 1003, password_required=False), account("Bob", 1004, password_required=False),
                     account("off", 1005, enabled=False, password_required=False))
    assert seen(wc.flagged(local, "R", _no_password, "need none", "all fine", allowed)) == want


def test_flagged_allows_nothing_by_default() -> None:
    local = accounts(account("ok", 1001), account("zed", 1002, password_required=False))
    assert seen(wc.flagged(local, "R", _no_password, "need none", "all fine")) == (
        "fail", "R", "1 enabled local account(s) need none: zed", {"accounts": ["zed"]})
    assert seen(wc.flagged(accounts(account("ok", 1001)), "R", _no_password, "need none", "all fine")) == (
        "pass", "R", "all fine", {"accounts": [], "allowed": []})


@pytest.mark.parametrize(("policy", "local", "want"), [
    (1, 0, (1, f"{TS_POLICIES}\\SecurityLayer")),
    (0, 2, (0, f"{TS_POLICIES}\\SecurityLayer")),  # a policy value of 0 still wins
    (None, 2, (2, f"{RDP_TCP}\\SecurityLayer")),
    (None, None, (None, f"{RDP_TCP}\\SecurityLayer")),
])
def test_policy_first_reads_the_policy_key_then_the_local_one(policy: int | None, local: int | None,
                                                                want: tuple[int | None, str]) -> None:
    reg = registry({(TS_POLICIES, "SecurityLayer"): policy, (RDP_TCP, "SecurityLayer"): local})
    assert wc.policy_first(reg, TS_POLICIES, RDP_TCP, "SecurityLayer") == want


@pytest.mark.parametrize(("policy", "local", "want"), [
    (1, 0, f"Remote Desktop connections are denied ({TS_POLICIES}\\fDenyTSConnections = 1)"),
    (None, 1, f"Remote Desktop connections are denied ({TERMINAL_SERVER}\\fDenyTSConnections = 1)"),
    (0, 1, None),  # the policy allows connections
    (None, 0, None),
    (None, 2, None),
    (None, None, None),
])
def test_rdp_off_only_when_connections_are_denied(policy: int | None, local: int | None, want: str | None) -> None:
    reg = registry({(TS_POLICIES, "fDenyTSConnections"): policy, (TERMINAL_SERVER, "fDenyTSConnections"): local})
    got = wc.rdp_off(reg, "RDP")
    assert (seen(got) if got else None) == (("not_applicable", "RDP", want, {}) if want else None)


def test_settings_finding_fails_with_every_problem_and_keeps_the_observed_values() -> None:
    assert seen(wc.settings_finding("R", ["a is off", "b is 3"], "fine", a=0, b=3)) == (
        "fail", "R", "a is off; b is 3", {"a": 0, "b": 3})
    assert seen(wc.settings_finding("R", [], "fine", a=1)) == ("pass", "R", "fine", {"a": 1})


@pytest.mark.parametrize(("value", "problems"), [
    (5, []),
    (4, ["NoLMHash = 4 (want 5 or more)"]),
    (None, ["NoLMHash is not set (want 5 or more)"]),
])
def test_expect_records_the_value_and_names_what_is_wanted(value: int | None, problems: list[str]) -> None:
    got: list[str] = ["earlier"]
    observed: dict[str, Any] = {"other": 1}
    wc.expect(registry({(LSA, "NoLMHash"): value}), LSA, "NoLMHash", lambda v: v >= 5, "5 or more", got, observed)
    assert (got, observed) == (["earlier", *problems], {"other": 1, "NoLMHash": value})


class _Lowered(str):
    """A str that counts its lower() and upper() calls."""

    calls: list[str] = []

    def lower(self) -> str:
        _Lowered.calls.append(str(self))
        return str.lower(self)

    def upper(self) -> str:
        _Lowered.calls.append(str(self))
        return str.upper(self)


def test_a_lookup_folds_the_asked_name_once_and_each_value_at_most_twice() -> None:
    """The checks look up some 60 registry values, 15 audit subcategories and a few services per host: a lookup
    folds the case of what is asked once (not once per collected value), finds it in any case, and a value not
    collected is still a LookupError (registry) or None (audit policy, services)."""
    from scanner.facts import windows as wf

    values = tuple(wf.RegistryValue(_Lowered(f"HKLM:\\K{i}"), _Lowered(f"Name{i}"), i) for i in range(20))
    reg = wf.Registry(values)
    _Lowered.calls = []
    assert reg.dword(_Lowered("hklm:\\k19"), _Lowered("NAME19")) == 19
    assert _Lowered.calls.count("hklm:\\k19") == 1 and _Lowered.calls.count("NAME19") == 1
    assert len(_Lowered.calls) <= 2 + 20 + 1  # each value's name once, the key of the one whose name matched
    with pytest.raises(LookupError, match=r"HKLM:\\K1\\Other was not collected"):
        reg.get("HKLM:\\K1", "Other")
    policy = wf.AuditPolicy(tuple(wf.AuditSetting(f"0CCE92{i:02d}", True, False) for i in range(30)))
    _Lowered.calls = []
    assert policy.get(_Lowered("0cce9229")) == wf.AuditSetting("0CCE9229", True, False)
    assert _Lowered.calls == ["0cce9229"] and policy.get("0CCE9299") is None
