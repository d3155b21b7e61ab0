from __future__ import annotations

import pytest

from scanner.model import Status, Waiver
from scanner.runner import evaluate, scan, scan_target
from tests.engine.conftest import fake_collector
from tests.factories import make_fact, make_target

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
    assert w.evidence == ("web1:linux.widgets#0",)
    assert out.evidence["web1:linux.widgets#0"]["raw"] == "['blue1', 'blue2']"
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
