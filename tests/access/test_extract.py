"""The access-list engine: fail closed on missing facts, a raising extractor, and the run record round trip."""
from __future__ import annotations

import re
from collections.abc import Mapping

import pytest

from scanner import runner
from scanner.access import extract
from scanner.access.classify import account_type
from scanner.access.extract import Built, Extractor, Unavailable, system_access
from scanner.access.model import AccessFormatError, AccountType, system_from_dict, system_to_dict
from scanner.model import Fact, Target
from scanner.registry import spec_of
from scanner.runner import TargetOutcome, scan_target
from scanner.store import RecordError, RecordWriter, read_record
from tests.access.factories import make_account, make_grant, make_system
from tests.engine import sample
from tests.factories import make_fact, make_run_info, make_target


def _names(_t: Target, facts: Mapping[str, Fact]) -> Built:
    return Built(tuple(make_account(n) for n in facts["x.users"].value), notes=("built",))


def _boom(_t: Target, _f: Mapping[str, Fact]) -> Built:
    raise ValueError("bad row")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    def use(build=_names):
        ex = Extractor(facts=("x.users",), optional=("x.logons",), build=build)
        monkeypatch.setattr(extract, "extractor", lambda _p: ex)
        monkeypatch.setattr(runner, "extractor", lambda _p: ex)
    return use


@pytest.mark.parametrize("facts, error", [
    ({}, "x.users: not collected"),
    ({"x.users": Fact.failed("x.users", "permission denied")}, "x.users: permission denied"),
    ({"x.users": Fact.not_applicable("x.users", "code has none")}, "x.users: code has none"),
])
def test_a_required_fact_missing_or_broken_makes_the_system_error_with_no_accounts(fake, facts, error):
    fake()
    got = system_access(make_target(), facts)
    assert got is not None and got.error == error and got.accounts == () and not got.ok


def test_a_raising_extractor_is_an_error_never_an_empty_list(fake):
    fake(_boom)
    got = system_access(make_target(), {"x.users": make_fact("x.users", ["a"])})
    assert got is not None and got.accounts == ()
    assert got.error == "the access list could not be built: ValueError: bad row"


def test_a_fact_needed_only_in_some_cases_can_make_the_system_error_with_its_own_words(fake):
    def flavoured(_t: Target, _f: Mapping[str, Fact]) -> Built:
        raise Unavailable("ldap.users: timed out")
    fake(flavoured)
    got = system_access(make_target(), {"x.users": make_fact("x.users", ["a"])})
    assert got is not None and got.error == "ldap.users: timed out" and got.accounts == ()


def test_a_broken_optional_fact_is_a_note_and_the_list_stands(fake):
    fake()
    got = system_access(make_target(), {"x.users": make_fact("x.users", ["ann", "bob"]),
                                        "x.logons": Fact.failed("x.logons", "needs root")})
    assert got is not None and got.ok
    assert [a.name for a in got.accounts] == ["ann", "bob"]
    assert got.notes == ("x.logons not available (needs root)", "built")


def test_code_has_no_access_list():
    assert system_access(make_target(type="iac"), {}) is None


def test_system_access_round_trips_through_its_json_form():
    s = make_system(make_account("alice", grants=(make_grant(),), mfa=True, last_logon_known=True),
                    make_account("svc"), notes=("n",))
    assert system_from_dict(system_to_dict(s), "x") == s


@pytest.mark.parametrize("mutate, where", [
    (lambda d: d.pop("accounts"), "x.accounts"),
    (lambda d: d["accounts"][0].update(type="god"), "x.accounts[0].type"),
    (lambda d: d["accounts"][0].update(enabled="yes"), "x.accounts[0].enabled"),
    (lambda d: d["accounts"][0].update(name=True), "x.accounts[0].name"),
    (lambda d: d["accounts"][0]["grants"].append("root"), "x.accounts[0].grants[1]"),
    (lambda d: d["accounts"][0].update(last_logon="yesterday"), "x.accounts[0].last_logon"),
    (lambda d: d.update(collected_at=None), "x.collected_at"),
])
def test_a_malformed_access_list_is_refused_naming_the_path(mutate, where):
    d = system_to_dict(make_system(make_account(grants=(make_grant(),))))
    mutate(d)
    with pytest.raises(AccessFormatError, match="^" + re.escape(where)):
        system_from_dict(d, "x")


def test_the_run_record_keeps_each_targets_access_list_and_refuses_a_forged_one(tmp_path):
    listed = make_system(make_account("alice", grants=(make_grant(),)), system="host1")
    w = RecordWriter(tmp_path / "record.jsonl", make_run_info())
    w.add(TargetOutcome(make_target("host1"), (), {}, access=listed))
    w.add(TargetOutcome(make_target("host2"), (), {}))
    assert dict(w.close().access) == {"host1": listed}
    assert dict(read_record(tmp_path).run.access) == {"host1": listed}
    text = (tmp_path / "record.jsonl").read_text().replace('"type":"person"', '"type":"admin"')
    (tmp_path / "record.jsonl").write_text(text)
    with pytest.raises(RecordError, match=r"line 2: access\.accounts\[0\]\.type"):
        read_record(tmp_path)


def test_a_scan_lists_access_only_when_asked_or_when_the_account_facts_were_collected(fake):
    fake()
    target = make_target()

    def collector(_t: Target, names) -> dict[str, Fact]:
        return {n: make_fact(n, ["ann"]) for n in names}

    assert scan_target(target, [], {}, collector=collector).access is None
    asked = scan_target(target, [], {}, collector=collector, access=True).access
    assert asked is not None and [a.name for a in asked.accounts] == ["ann"]


@pytest.mark.parametrize("policy, kw, expected", [
    ({}, {"builtin": "uid 0"}, (AccountType.BUILTIN, "uid 0")),
    ({"service_accounts": ["ALICE"]}, {}, (AccountType.SERVICE, "listed in policy service_accounts")),
    ({}, {}, (AccountType.PERSON, "a named account not listed as service, shared or built-in")),
    ({"shared_account_patterns": ["ali*"]}, {}, (AccountType.SHARED, "name matches shared_account_patterns 'ali*'")),
    ({"shared_account_patterns": ["ali*"], "shared_account_exceptions": ["alice"]}, {"service": "no shell"},
     (AccountType.SERVICE, "no shell")),
])
def test_account_type_uses_the_platform_then_the_sites_policy(policy, kw, expected):
    assert account_type(make_target(policy=policy), "alice", **kw) == expected


def test_the_default_shared_patterns_catch_generic_names():
    assert account_type(make_target(), "lab3")[0] is AccountType.SHARED
    assert account_type(make_target(), "labrador")[0] is AccountType.SHARED  # "lab*": the site narrows it


def test_a_by_product_list_that_could_not_be_built_is_left_out_but_an_asked_for_one_is_an_error(fake):
    """A scan whose checks collected the required facts but not a flavour's own (an OpenLDAP scan without the account
    checks) records no list rather than an error nobody asked for; ``access=True`` records the error."""
    def flavoured(_t: Target, _f: Mapping[str, Fact]) -> Built:
        raise Unavailable("x.accounts: not collected")
    fake(flavoured)

    def collector(_t: Target, names) -> dict[str, Fact]:
        return {n: make_fact(n, ["ann"]) for n in names | {"x.users"}}

    spec = spec_of(sample.each_blue)
    assert scan_target(make_target(), [spec], {}, collector=collector).access is None
    asked = scan_target(make_target(), [spec], {}, collector=collector, access=True).access
    assert asked is not None and asked.error == "x.accounts: not collected"
