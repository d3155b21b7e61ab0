from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import jsonschema
import pytest

from scanner import check, failed, passed
from scanner.inventory import schema
from scanner.model import (
    Evidence,
    Fact,
    Finding,
    Location,
    Severity,
    Status,
    Waiver,
    result_from_dict,
    result_to_dict,
    shape_of,
    thaw,
)
from scanner.registry import spec_of
from scanner.runner import evaluate, evidence_id, redact, scan, scan_target
from tests.engine.conftest import fake_collector
from tests.factories import make_fact, make_run_info, make_target

GOOD = {"linux.widgets": ["blue1", "blue2"], "linux.limits": {"missing-key": 1}, "linux.secret_fact": True}


def statuses(outcome):
    return {(r.check, r.resource): r.status.value for r in outcome.results}


def test_results_carry_target_clauses_evidence_and_criterion(registry):
    clauses = {"linux.test.widgets": ("part11:11.10(d)", "iso27001-2022:8.5")}
    out = scan_target(make_target("web1"), list(registry.checks.values()), clauses,
                      collector=fake_collector(GOOD))
    w = next(r for r in out.results if r.check == "linux.test.widgets")
    assert (w.target, w.status, w.clauses, w.criterion) == (
        "web1", Status.PASS, ("part11:11.10(d)", "iso27001-2022:8.5"), "At most max_widgets widgets exist.")
    assert w.evidence == (evidence_id("web1", "linux.widgets", 0),)
    record = out.evidence[w.evidence[0]]
    assert (record["target"], record["fact"], record["index"], record["raw"]) == (
        "web1", "linux.widgets", 0, "['blue1', 'blue2']")
    assert dict(w.observed) == {"count": 2}


@pytest.mark.parametrize("values, errors, check, expected_message", [
    # fail closed: a fact that could not be collected makes the check an error, never a pass
    ({}, {"linux.widgets": "permission denied"}, "linux.test.widgets", "linux.widgets: permission denied"),
    # a fact the collector did not return at all
    ({}, {}, "linux.test.widgets", "linux.widgets: not collected"),
    # a check that raises
    ({"linux.limits": {}}, {}, "linux.test.raises", "check raised KeyError"),
])
def test_fail_closed(registry, values, errors, check, expected_message):
    spec = registry.checks[check]
    out = scan_target(make_target(), [spec], {}, collector=fake_collector(values, errors))
    assert [r.status for r in out.results] == [Status.ERROR]
    assert expected_message in out.results[0].message


@pytest.mark.parametrize("returned, message", [
    ([], "check returned no finding"),
    (None, "check returned no finding"),
    ("pass", "check returned str, not a Finding"),
])
def test_a_check_must_return_findings(registry, returned, message):
    spec = registry.checks["linux.test.widgets"]
    broken = type(spec)(**{**spec.__dict__, "func": lambda widgets, max_widgets=2: returned})
    [finding] = evaluate(broken, {"linux.widgets": make_fact("linux.widgets", [])}, make_target())
    assert (finding.status, finding.message) == (Status.ERROR, message)


def test_policy_overrides_the_threshold(registry):
    spec = registry.checks["linux.test.widgets"]
    facts = {"linux.widgets": make_fact("linux.widgets", ["a", "b"])}
    assert evaluate(spec, facts, make_target())[0].status is Status.PASS
    assert evaluate(spec, facts, make_target(policy={"max_widgets": 1}))[0].status is Status.FAIL


@pytest.mark.parametrize("expires, resource, expected", [
    ("2999-12-31", "*", Status.WAIVED),
    ("2999-12-31", "red", Status.WAIVED),
    ("2999-12-31", "green", Status.FAIL),  # the waiver covers another resource
    ("2000-01-01", "*", Status.FAIL),  # expired waivers do not apply
])
def test_waivers(registry, expires, resource, expected):
    waiver = Waiver(check="linux.test.each", target="host1", reason="CAPA-12", approved_by="qa",
                    expires=expires, resource=resource)
    out = scan_target(make_target(), [registry.checks["linux.test.each"]], {}, [waiver],
                      collector=fake_collector({"linux.widgets": ["red"]}))
    [r] = out.results
    assert r.status is expected
    assert (r.waiver is waiver) == (expected is Status.WAIVED)


def test_secrets_referenced_by_the_target_are_redacted_everywhere(registry, monkeypatch):
    monkeypatch.setenv("LAB_SECRET", "hunter2-planted")
    target = make_target(password_env="LAB_SECRET")
    out = scan_target(target, [registry.checks["linux.test.each"]], {},
                      collector=fake_collector({}, {"linux.widgets": "login failed for hunter2-planted"}))
    assert "hunter2-planted" not in repr(out.results) + repr(out.evidence)
    assert "***" in out.results[0].message


def test_a_broken_target_is_an_error_for_it_alone(registry):
    targets = [make_target("good"), make_target("unknown", connection="carrier-pigeon"), make_target("good2")]

    def one(target, specs, clauses, waivers):
        if target.name == "unknown":
            return scan_target(target, specs, clauses, waivers)  # real connector table: no such transport
        return scan_target(target, specs, clauses, waivers, collector=fake_collector(GOOD))

    seen = []
    outcomes = scan(targets, [registry.checks["linux.test.widgets"]], {}, concurrency=3, scan_one=one,
                    on_done=lambda o: seen.append(o.target.name))
    by = {o.target.name: o for o in outcomes}
    assert sorted(seen) == ["good", "good2", "unknown"]
    assert [r.status for r in by["good"].results] == [Status.PASS]
    assert [r.status for r in by["good2"].results] == [Status.PASS]
    [bad] = by["unknown"].results
    assert bad.status is Status.ERROR and "no connector for 'carrier-pigeon'" in bad.message


def test_a_crash_inside_the_runner_still_yields_error_results(registry):
    def explode(target, specs, clauses, waivers):
        raise RuntimeError("boom")

    [outcome] = scan([make_target()], [registry.checks["linux.test.widgets"]], {}, scan_one=explode)
    assert [(r.status, "internal error: RuntimeError: boom" in r.message) for r in outcome.results] == [
        (Status.ERROR, True)]


# ---- structured evidence references --------------------------------------------------------------------------
NAMES = ["db:prod", "db:prod#0", "web#1", "eu/west/1", "with space", "ünï:cødé/数据#2", "h:linux.widgets#0"]


@pytest.mark.parametrize("name", NAMES)
def test_evidence_links_survive_any_target_name(registry, name):
    specs = [registry.checks["linux.test.widgets"], registry.checks["linux.test.raises"]]
    values = {"linux.widgets": ["blue1"], "linux.limits": {"missing-key": 1}}
    out = scan_target(make_target(name), specs, {}, collector=fake_collector(values))
    by_check = {r.check: r for r in out.results}
    for check_id, fact in [("linux.test.widgets", "linux.widgets"), ("linux.test.raises", "linux.limits")]:
        [ref] = by_check[check_id].evidence
        record = out.evidence[ref]
        assert (record["target"], record["fact"], record["index"]) == (name, fact, 0)
        assert ref == evidence_id(name, fact, 0)  # stable for the same target, fact and index
    assert len(set(out.evidence)) == 2


@pytest.mark.parametrize("a, b", [
    (("a:b", "linux.c", 0), ("a", "b:linux.c", 0)),  # "a:b:linux.c#0" both ways when concatenated
    (("h#0", "linux.x", 1), ("h", "0#linux.x", 1)),
    (("h", "linux.x", 1), ("h", "linux.x", 2)),
    (("h", "linux.x", 0), ("H", "linux.x", 0)),
])
def test_evidence_ids_do_not_collide_where_concatenation_would(a, b):
    assert evidence_id(*a) != evidence_id(*b)
    assert evidence_id(*a) == evidence_id(*a)


def test_several_evidence_items_of_one_fact_are_all_linked(registry):
    def collector(target, names):
        evidence = (Evidence.of("cat a", b"a"), Evidence.of("cat b", b"b"))
        return {"linux.widgets": Fact("linux.widgets", ["blue"], evidence)}

    out = scan_target(make_target("x:y"), [registry.checks["linux.test.widgets"]], {}, collector=collector)
    [r] = out.results
    assert [(out.evidence[e]["index"], out.evidence[e]["source"]) for e in r.evidence] == [(0, "cat a"), (1, "cat b")]


# ---- redaction keeps shape -----------------------------------------------------------------------------------
SECRET = "s3cr3t-Planted!"


@dataclass(frozen=True)
class Box:
    name: str
    items: tuple[str, ...]


class Pair(NamedTuple):
    left: str
    right: int


class Text(str):
    pass


class Items(list):  # type: ignore[type-arg]
    pass


class Table(Mapping):  # type: ignore[type-arg]
    """A read-only mapping that is no dict: built from pairs like one."""

    def __init__(self, pairs):
        self._d = dict(pairs)

    def __getitem__(self, key):
        return self._d[key]

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    def __eq__(self, other):
        return isinstance(other, Table) and self._d == other._d


@pytest.mark.parametrize("value, expected", [
    (f"user {SECRET} x", "user *** x"),
    (MappingProxyType({"k": f"a{SECRET}", SECRET: 1}), MappingProxyType({"k": "a***", "***": 1})),
    ({"nested": {"t": (SECRET, 2)}}, {"nested": {"t": ("***", 2)}}),
    ((SECRET, [SECRET, 1]), ("***", ["***", 1])),
    (frozenset({SECRET, "b"}), frozenset({"***", "b"})),
    (Pair(SECRET, 3), Pair("***", 3)),
    (Box(SECRET, ("a", f"-{SECRET}-")), Box("***", ("a", "-***-"))),
    (Location(f"/home/{SECRET}/x", 3), Location("/home/***/x", 3, 3)),
    (Status.FAIL, Status.FAIL),
    (Severity.HIGH, Severity.HIGH),
    (Text(f"a {SECRET}"), "a ***"),  # str methods return str
    (f"b {SECRET}".encode(), b"b ***"),
    (Items([SECRET, 2]), Items(["***", 2])),
    (Table([("k", f"{SECRET}!")]), Table([("k", "***!")])),
])
def test_redaction_keeps_types(value, expected):
    got = redact(value, [SECRET])
    assert type(got) is type(expected)
    assert (dict(got) if isinstance(got, MappingProxyType) else got) == (
        dict(expected) if isinstance(expected, MappingProxyType) else expected)
    if isinstance(value, (tuple, list)):  # nested members keep their types too
        assert [type(v) for v in got] == [type(v) for v in expected]


def test_redaction_works_out_the_walk_of_each_type_once():
    shape_of.cache_clear()
    value = {"a": [f"x{SECRET}", 1, 2.5, None], "b": ({"c": "d"}, {"e": "f"}), "g": Box("h", ("i", "j"))}
    assert redact(value, [SECRET]) == {**value, "a": ["x***", 1, 2.5, None]}
    info = shape_of.cache_info()
    assert (info.misses, info.hits) == (8, 13)  # dict str list int float NoneType tuple Box; 21 values in all


def test_our_enums_are_never_redacted_into_plain_strings():
    got = redact((Severity.HIGH, "very high"), ["high"])
    assert got == (Severity.HIGH, "very ***") and type(got[0]) is Severity


def test_redaction_returns_the_same_object_when_nothing_is_secret():
    value = MappingProxyType({"a": ("x", MappingProxyType({"b": [1, "y"]}))})
    assert redact(value, [SECRET]) is value
    finding = failed("r", "m", nested={"a": ("b",)})
    assert redact(finding, [SECRET]) is finding


def test_redacting_a_finding_keeps_it_a_frozen_finding():
    finding = failed(f"r-{SECRET}", "m", location=Location(f"/{SECRET}"), deep={"l": [SECRET]})
    got = redact(finding, [SECRET])
    assert type(got) is Finding and type(got.observed) is MappingProxyType
    assert got.observed["deep"]["l"] == ("***",) and type(got.observed["deep"]) is MappingProxyType
    assert (got.resource, got.location) == ("r-***", Location("/***"))


def test_a_planted_secret_appears_nowhere_in_the_serialized_outcome(registry, monkeypatch):
    monkeypatch.setenv("GXP_PLANTED", SECRET)

    @check(id="linux.test.leaky", title="Leaks", severity="low", area="encryption", criterion="c")
    def leaky(widgets):
        return [failed(f"account {SECRET}", f"message with {SECRET}", location=Location(f"/etc/{SECRET}.conf", 2),
                       deep={"list": [f"x{SECRET}x", {"key": SECRET}], SECRET: "value-under-secret-key"}),
                passed(SECRET, SECRET)]

    def collector(target, names):
        return {"linux.widgets": Fact("linux.widgets", [SECRET], (Evidence.of(f"cat {SECRET}", f"raw {SECRET}\n"),)),
                "linux.limits": Fact.failed("linux.limits", f"login failed for {SECRET}",
                                            (Evidence.of("probe", f"denied {SECRET}", exit_code=1),))}

    specs = [spec_of(leaky), registry.checks["linux.test.raises"]]
    target = make_target("h", password_env="GXP_PLANTED")
    waiver = Waiver(check="linux.test.leaky", target="h", reason="r", approved_by="qa", expires="2000-01-01")
    out = scan_target(target, specs, {}, [waiver], collector=collector)
    serialized = json.dumps({"results": [result_to_dict(r) for r in out.results], "evidence": out.evidence,
                             "warnings": out.warnings}, ensure_ascii=False)
    assert SECRET not in serialized and SECRET not in repr(out.results)
    assert serialized.count("***") >= 10
    leaked = next(r for r in out.results if r.check == "linux.test.leaky" and r.status is Status.FAIL)
    assert type(leaked.observed) is MappingProxyType and leaked.observed["deep"]["list"][1]["key"] == "***"
    assert "***" in leaked.observed["deep"]


# ---- expired waivers -----------------------------------------------------------------------------------------
def test_an_expired_waiver_leaves_the_failure_and_is_reported(registry):
    expired = Waiver(check="linux.test.each", target="host*", reason="CAPA-12", approved_by="qa.lead",
                     expires="2001-02-03", resource="red*")
    out = scan_target(make_target(), [registry.checks["linux.test.each"]], {}, [expired],
                      collector=fake_collector({"linux.widgets": ["red1", "red2", "blue"]}))
    by = {r.resource: r for r in out.results}
    assert [(by[n].status, by[n].waiver, by[n].expired_waiver) for n in ("red1", "red2", "blue")] == [
        (Status.FAIL, None, expired), (Status.FAIL, None, expired), (Status.PASS, None, None)]
    [warning] = out.warnings  # one per waiver, however many findings it would have covered
    for part in ("linux.test.each", "host*", "red*", "2001-02-03", "qa.lead", "CAPA-12", "2 failing finding(s)"):
        assert part in warning
    doc = result_to_dict(by["red1"])
    assert doc["expired_waiver"]["expires"] == "2001-02-03"
    assert result_from_dict(doc) == by["red1"]
    jsonschema.validate({"run": {**thaw(make_run_info()), "counts": {}}, "findings": [doc], "evidence": {}},
                        schema("result"))


def test_a_valid_waiver_wins_over_an_expired_one_without_warning(registry):
    old = Waiver(check="linux.test.each", target="*", reason="old", approved_by="qa", expires="2000-01-01")
    new = Waiver(check="linux.test.each", target="*", reason="new", approved_by="qa", expires="2999-01-01")
    for waivers in ([old, new], [new, old]):
        out = scan_target(make_target(), [registry.checks["linux.test.each"]], {}, waivers,
                          collector=fake_collector({"linux.widgets": ["red"]}))
        [r] = out.results
        assert (r.status, r.waiver, r.expired_waiver, out.warnings) == (Status.WAIVED, new, None, ())


# ---- plaintext transports ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, options, expected", [
    ("ldap", {"url": "ldap://dc1.example.org"}, "plaintext LDAP: ldap://dc1.example.org without starttls"),
    ("ldap", {"url": "LDAP://dc1:3389", "starttls": False}, "plaintext LDAP: ldap://dc1:3389 without starttls"),
    ("ldap", {"url": "ldap://cn=admin:hunter22@dc1/"}, "plaintext LDAP: ldap://dc1 without starttls"),
    ("ldap", {"url": "ldap://dc1", "starttls": True}, None),
    ("ldap", {"url": "ldaps://dc1"}, None),
    ("aws", {"endpoint_url": "http://127.0.0.1:5000"}, "plaintext AWS endpoint: endpoint_url http://127.0.0.1:5000"),
    ("aws", {"endpoint_url": "HTTP://moto.lab"}, "plaintext AWS endpoint: endpoint_url http://moto.lab"),
    ("aws", {"endpoint_url": "https://moto.lab"}, None),
    ("aws", {}, None),
])
def test_plaintext_transports_are_warned_about(kind, options, expected):
    out = scan_target(make_target("t1", type=kind, **options), [], {}, collector=fake_collector({}))
    if expected is None:
        assert out.warnings == ()
    else:
        [warning] = out.warnings
        assert warning.startswith(f"target t1: {expected}") and "hunter22" not in warning


def test_results_are_made_without_the_generated_init(registry, monkeypatch) -> None:
    import scanner.model as model
    from tests.factories import count_calls

    specs, clauses = list(registry.checks.values()), {"linux.test.widgets": ("part11:11.10(d)",)}
    first = scan_target(make_target("web1"), specs, clauses, collector=fake_collector(GOOD))
    calls = count_calls(monkeypatch, model.Result, "__init__")
    again = scan_target(make_target("web1"), specs, clauses, collector=fake_collector(GOOD))
    assert len(again.results) == len(first.results) > 3
    assert calls == [0]  # 21 calls to object.__setattr__ each (some 30,000 instructions a result), one per finding
    assert [dataclasses.replace(r, at=first.results[0].at) for r in again.results] == [
        dataclasses.replace(r, at=first.results[0].at) for r in first.results]
    widgets = next(r for r in again.results if r.check == "linux.test.widgets")
    assert widgets.clauses == ("part11:11.10(d)",) and widgets.kind == "check" and widgets.risk is None


@pytest.mark.parametrize("helper, status", [(passed, Status.PASS), (failed, Status.FAIL)])
def test_a_findings_helper_makes_the_finding_of_its_status_without_init(helper, status, monkeypatch) -> None:
    import scanner.model as model
    from tests.factories import count_calls

    calls = count_calls(monkeypatch, model.Finding, "__post_init__")
    got = helper("r1", "said", count=2, names=["a", {"b": [1]}])
    assert calls == [0]
    assert got == Finding(status, "r1", "said", {"count": 2, "names": ["a", {"b": [1]}]})
    assert got.observed == {"count": 2, "names": ("a", MappingProxyType({"b": (1,)}))}
    assert type(got.observed) is MappingProxyType and got.location is None
