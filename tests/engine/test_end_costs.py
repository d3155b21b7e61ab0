"""The end of a scan, made cheaper without changing what it writes (issues 9 and 10): clause coverage judged once
per clause for like targets, a shared list checked once before orjson writes it, thaw without a call per scalar.
Counting tests, never timed: the figures are in benchmarks/ (winrm_fleet.py, iac_ab.py)."""
from __future__ import annotations

import json
import math
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest

from reports import jsonenc
from scanner import coverage as cov
from scanner.model import ClauseUse, MappingUse, Run, Status, freeze, thaw
from tests.factories import count_calls, make_result, make_run

PROCEDURE = "The access control SOP and its reviews."
CHECKS = ("linux.ssh.root_login", "linux.password.max_age", "linux.audit.rules")


def clauses() -> tuple[ClauseUse, ...]:
    return (
        ClauseUse("part11:11.10(d)", "Limiting access", "full", "in_force", "",
                  (MappingUse(CHECKS[:1], "direct"), MappingUse(CHECKS[1:2], "supporting"))),
        ClauseUse("part11:11.300(b)", "Passwords", "partial", "in_force", PROCEDURE,
                  (MappingUse(CHECKS[1:], "supporting", MappingProxyType({"signing_credentials": True})),),
                  MappingProxyType({"e_signatures": True})),
        ClauseUse("annex11:12.1", "Physical and logical controls", "partial", "in_force", PROCEDURE,
                  (MappingUse(CHECKS, "supporting"), MappingUse(("aws.iam.password_policy",), "context"))),
    )


def fleet(n: int, *, varied: bool) -> Run:
    """``n`` targets with results of every check; ``varied``: statuses and declared contexts differ by target."""
    statuses = ("pass", "fail", "error", "manual", "not_applicable", "waived")
    contexts = ({}, {"e_signatures": True}, {"e_signatures": False}, {"e_signatures": True,
                                                                       "signing_credentials": False})
    results = [make_result(check, statuses[(i * (k + 1)) % len(statuses)] if varied else "pass", target=f"h{i:03d}")
               for i in range(n) for k, check in enumerate(CHECKS) if not (varied and (i + k) % 5 == 0)]
    context = {f"h{i:03d}": freeze(contexts[i % len(contexts)] if varied else {}) for i in range(n)}
    run = make_run(results)
    return replace(run, info=replace(run.info, clauses=clauses(), gxp_context=MappingProxyType(context)))


def one_by_one(run: Run) -> list[cov.ClauseCoverage]:
    """The coverage as it was computed before: every clause judged on every target with a result of its checks
    (these targets are Linux hosts: the AWS check mapped is not theirs and has no result, so it is not listed)."""
    worst_of: dict[str, dict[str, Status]] = {}
    for r in run.results:
        have = worst_of.setdefault(r.target, {})
        have[r.check] = cov.worst([r.status, *([have[r.check]] if r.check in have else [])]) or r.status
    linux = [replace(c, mappings=tuple(replace(m, checks=tuple(x for x in m.checks if x.startswith("linux.")))
                                       for m in c.mappings if any(x.startswith("linux.") for x in m.checks)))
             for c in run.info.clauses]
    return [cov.clause_coverage(c, t, run.info.gxp_context.get(t, {}), s) for c in linux
            for t, s in worst_of.items() if {x for m in c.mappings for x in m.checks} & s.keys()]


@pytest.mark.parametrize("n, varied", [(1, False), (7, True), (24, True), (50, False)])
def test_coverage_is_the_same_as_judging_every_clause_on_every_target(n: int, varied: bool) -> None:
    run = fleet(n, varied=varied)
    expected = one_by_one(run)
    got = cov.coverage(run)
    assert got == expected
    assert len(got) == len(expected) > 0
    if varied:  # the cases are really different: several verdicts, not applicable ones among them
        assert {c.verdict for c in got} >= {cov.Verdict.FAILED, cov.Verdict.NOT_APPLICABLE, cov.Verdict.ERROR}
    dicts = cov.coverage_dicts(run)
    assert [d["target"] for d in dicts] == [c.target for c in expected]
    assert json.loads(json.dumps(dicts)) == [
        {"clause": c.ref, "title": c.title, "target": c.target, "clause_status": c.clause_status,
         "automatable": c.automatable, "verdict": c.verdict.value, "text": c.text,
         "procedural_evidence": c.procedural_evidence, "note": c.note,
         "evidence": [{"check": e.check, "strength": e.strength, "applicable": e.applicable,
                       "status": e.status.value if e.status else None, "note": e.note} for e in c.evidence]}
        for c in expected]


def test_like_targets_have_each_clause_judged_once(monkeypatch: pytest.MonkeyPatch) -> None:
    judged: list[tuple[str, str]] = []
    original = cov.clause_coverage

    def counting(clause: ClauseUse, target: str, *args: Any) -> cov.ClauseCoverage:
        judged.append((clause.ref, target))
        return original(clause, target, *args)

    monkeypatch.setattr(cov, "clause_coverage", counting)
    items = cov.coverage(fleet(50, varied=False))
    assert len(items) == 3 * 50
    assert judged == [("part11:11.10(d)", "h000"), ("part11:11.300(b)", "h000"), ("annex11:12.1", "h000")]
    assert len({id(c.evidence) for c in items}) == 3  # like items share their evidence
    dicts = cov.coverage_dicts(fleet(50, varied=False))
    assert len({id(d["evidence"]) for d in dicts}) == 3


@pytest.mark.parametrize("n, varied", [(1, False), (7, True), (24, True), (50, False)])
def test_coverage_dicts_are_the_coverage_items_in_json(n: int, varied: bool) -> None:
    run = fleet(n, varied=varied)
    want = [{"clause": c.ref, "title": c.title, "target": c.target, "clause_status": c.clause_status,
             "automatable": c.automatable, "verdict": c.verdict.value, "text": c.text,
             "procedural_evidence": c.procedural_evidence, "note": c.note,
             "evidence": [{"check": e.check, "strength": e.strength, "applicable": e.applicable,
                           "status": e.status.value if e.status else None, "note": e.note} for e in c.evidence]}
            for c in one_by_one(run)]
    assert cov.coverage_dicts(run) == want
    assert [(c.ref, c.target, c.verdict, c.text) for c in cov.coverage(run)] == [
        (w["clause"], w["target"], cov.Verdict(w["verdict"]), w["text"]) for w in want]


def test_like_targets_cost_a_lookup_per_clause_not_an_item(monkeypatch: pytest.MonkeyPatch) -> None:
    """The JSON form of 50 like targets' coverage builds no ClauseCoverage per target (one per clause judged) and
    asks nothing per target of a clause whose checks it has no result of."""
    built = [0]
    original = cov.ClauseCoverage.__init__

    def counting(self: cov.ClauseCoverage, *args: Any, **kwargs: Any) -> None:
        built[0] += 1
        original(self, *args, **kwargs)

    run = fleet(50, varied=False)
    monkeypatch.setattr(cov.ClauseCoverage, "__init__", counting)
    dicts = cov.coverage_dicts(run)
    assert len(dicts) == 3 * 50 and [d["target"] for d in dicts[:3]] == ["h000", "h001", "h002"]
    assert built[0] == 3
    built[0] = 0
    assert len(cov.coverage(run)) == 150 and built[0] == 150  # the items themselves: one per target


def test_a_target_with_another_declared_context_is_judged_apart() -> None:
    run = fleet(2, varied=False)
    run = replace(run, info=replace(run.info, gxp_context=MappingProxyType(
        {"h000": freeze({"e_signatures": True}), "h001": freeze({"e_signatures": False})})))
    by = {(c.ref, c.target): c.verdict for c in cov.coverage(run)}
    assert by[("part11:11.300(b)", "h000")] is cov.Verdict.TECHNICAL_PART_PASSED
    assert by[("part11:11.300(b)", "h001")] is cov.Verdict.NOT_APPLICABLE


@pytest.mark.parametrize("target_type, check, listed", [
    ("windows", "windows.accounts.guest_disabled", ["windows.backup.recent", "windows.accounts.guest_disabled",
                                                    "tls.challenge.weak_protocols"]),  # in the catalog's order
    ("linux", "linux.backup.recent", ["linux.backup.scheduled", "linux.backup.recent", "tls.challenge.weak_protocols"]),
    ("iac", "aws.backup.plan", ["aws.backup.plan", "tls.challenge.weak_protocols"]),  # code: judged by the AWS checks
    ("ldap", "ad.password.min_length", ["ad.password.min_length", "tls.challenge.weak_protocols"]),
    ("linux", "windows.backup.recent", ["linux.backup.scheduled", "linux.backup.recent", "windows.backup.recent",
                                        "tls.challenge.weak_protocols"]),  # a result of another platform is kept
    ("mainframe", "linux.backup.recent", None),  # an unknown target type: everything is listed, as before
])
def test_checks_of_another_platform_without_a_result_are_not_listed(target_type: str, check: str,
                                                                   listed: list[str] | None) -> None:
    mapped = ("linux.backup.scheduled", "linux.backup.recent", "aws.backup.plan", "windows.backup.recent",
              "ad.password.min_length", "tls.challenge.weak_protocols")
    the_clause = ClauseUse("annex11:7.2", "Backups", "partial", "in_force", PROCEDURE,
                           (MappingUse(mapped[:3], "supporting"), MappingUse(mapped[3:5], "supporting"),
                            MappingUse(("windows.accounts.guest_disabled", mapped[5]), "context")))
    run = make_run([make_result(check, "fail", target="t", target_type=target_type)])
    run = replace(run, info=replace(run.info, clauses=(the_clause,)))
    (item,) = cov.coverage(run)
    everything = cov.clause_coverage(the_clause, "t", {}, {check: Status.FAIL})
    assert [e.check for e in item.evidence] == (listed or [e.check for e in everything.evidence])
    assert [e.status for e in item.evidence if e.check == check] == [Status.FAIL]
    assert all(e.status is None for e in item.evidence if e.check != check)
    assert (item.verdict, item.text, item.note) == (everything.verdict, everything.text, everything.note)


# --- the JSON text: a shared list is checked once --------------------------------------------------------------

def count_plain(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    return count_calls(monkeypatch, jsonenc, "_plain")


def test_a_list_shared_by_many_items_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    shared = [{"check": f"c{i}", "status": None, "applicable": True} for i in range(10)]
    doc = {"coverage": [{"target": f"h{i}", "evidence": shared} for i in range(1000)]}
    calls = count_plain(monkeypatch)
    text = jsonenc.dumps(doc, sort_keys=True)
    assert text == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)
    # the document, the list, its 1,000 items, the shared list (first time in full: 1 + 10 dicts, then 999 looks)
    assert calls[0] == 1 + 1 + 1000 + 11 + 999


@pytest.mark.parametrize("bad", [math.nan, math.inf, 2**64, {1: "int key"}, "lone \udcff"],
                         ids=["nan", "inf", "big-int", "int-key", "surrogate"])
def test_a_shared_list_that_orjson_would_change_still_goes_to_the_json_module(bad: Any) -> None:
    shared = [{"a": 1}, [bad]]
    doc = {"items": [{"n": i, "evidence": shared} for i in range(3)]}
    expected = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    assert jsonenc.dumps(doc) == expected


def test_a_shared_list_found_plain_shallow_is_checked_again_deeper() -> None:
    deep: list[Any] = []
    for _ in range(jsonenc._MAX_DEPTH - 3):
        deep = [deep]
    shared = [deep]
    assert jsonenc._plain({"shallow": shared})
    # met shallow first (plain there), then again 5 levels deeper, where it is beyond orjson's depth
    doc = {"a": shared, "b": [[[[shared]]]]}
    assert not jsonenc._plain(doc)
    assert jsonenc.dumps(doc) == json.dumps(doc, indent=2, ensure_ascii=False, default=str)


# --- thaw -----------------------------------------------------------------------------------------------------

def count_thaw(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    import scanner.model as model

    return count_calls(monkeypatch, model, "thaw")


@pytest.mark.parametrize("value, expected, calls", [
    ({"a": 1, "b": "x", "c": None, "d": 2.5, "e": True}, {"a": 1, "b": "x", "c": None, "d": 2.5, "e": True}, 1),
    ({"ports": [22, 80, 443], "tags": {"env": "prod"}}, {"ports": [22, 80, 443], "tags": {"env": "prod"}}, 3),
    ({Status.PASS: [Status.FAIL, (1, 2)]}, {"pass": ["fail", [1, 2]]}, 4),
    ([1, {"k": frozenset({"b", "a"})}], [1, {"k": ["a", "b"]}], 5),  # a set: each item too (sorted by repr)
])
def test_thaw_calls_itself_only_for_containers_and_other_types(value: Any, expected: Any, calls: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    frozen = freeze(value)
    counted = count_thaw(monkeypatch)
    import scanner.model as model

    got = model.thaw(frozen)
    assert got == expected and json.dumps(got) == json.dumps(expected)
    assert counted[0] == calls
    assert thaw(frozen) == expected


def test_thaw_tests_a_type_against_the_abcs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value of a type that is not an exact built-in (a Location, a Waiver: a dataclass) is thawed without an
    ABC test per value: the branch is decided once per type (isinstance against Mapping cost a microsecond or more
    per value)."""
    import abc
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Spot:  # a type thaw has not met yet
        path: str
        line: int | None

    asked: list[type] = []
    real_instance, real_subclass = abc.ABCMeta.__instancecheck__, abc.ABCMeta.__subclasscheck__

    def instancecheck(cls: abc.ABCMeta, value: Any) -> bool:
        asked.append(type(value))
        return real_instance(cls, value)

    def subclasscheck(cls: abc.ABCMeta, kind: type) -> bool:
        asked.append(kind)
        return real_subclass(cls, kind)

    monkeypatch.setattr(abc.ABCMeta, "__instancecheck__", instancecheck)
    monkeypatch.setattr(abc.ABCMeta, "__subclasscheck__", subclasscheck)
    got = [thaw(Spot(f"a{i}.tf", i)) for i in range(200)]
    monkeypatch.undo()
    assert got == [{"path": f"a{i}.tf", "line": i} for i in range(200)]
    assert 1 <= asked.count(Spot) < 50  # once for the type (Mapping and its registered subclasses); was 200+


# --- the run record: the scan does not wait for the disk, and everything written is fsynced ----------------------

class Disk:
    """os.fsync as the record's writer sees it: each call notes the file's size then; ``hold`` blocks the syncer's
    fsyncs (the slow disk) until released; ``fail`` makes them fail with EIO."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import os
        import threading

        self.sizes: list[int] = []
        self.held = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail = False
        real = os.fsync

        def fsync(fd: int) -> None:
            if threading.current_thread().name == "gxpscan-record-sync":
                if not self.release.is_set():
                    self.held.set()
                    assert self.release.wait(30)
                if self.fail:
                    raise OSError(5, "Input/output error")
            self.sizes.append(os.fstat(fd).st_size)
            real(fd)

        monkeypatch.setattr("scanner.store.os.fsync", fsync)


def outcomes(n: int) -> list[Any]:
    from scanner.runner import scan_target
    from tests.engine.conftest import fake_collector, sample, spec_of
    from tests.factories import make_target

    spec = spec_of(sample.each_blue)
    return [scan_target(make_target(f"h{i}"), [spec], {spec.id: ("part11:11.10(d)",)},
                        collector=fake_collector({"linux.widgets": ["blue", "red"]})) for i in range(n)]


def test_targets_are_written_at_once_and_fsynced_without_the_scan_waiting(tmp_path: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.store import RecordWriter, read_record
    from tests.factories import make_run_info

    disk = Disk(monkeypatch)
    path = tmp_path / "record.jsonl"
    w = RecordWriter(path, make_run_info())
    assert disk.sizes == [path.stat().st_size]  # the header is on the disk before the scan starts
    disk.release.clear()  # the disk stalls: the first target's fsync does not return
    first, *rest = outcomes(20)
    w.add(first)
    assert disk.held.wait(10)
    for o in rest:  # ... and the scan goes on: every target is written while that fsync is held
        w.add(o)
    written = read_record(path)  # a kill now keeps them all (they are in the file, the process' end cannot undo it)
    assert written.targets == tuple(f"h{i}" for i in range(20)) and written.run.info.interrupted
    disk.release.set()
    run = w.close()
    size = path.stat().st_size
    assert disk.sizes[-1] == size  # the run end, fsynced last, with every line before it
    assert len(disk.sizes) <= 4  # header, the held one, one for the 19 written meanwhile, the run end
    assert not run.info.interrupted and read_record(path).targets == written.targets


def test_an_fsync_fault_ends_the_record_as_interrupted(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.safefs import OutputError
    from scanner.store import RecordWriter, read_record
    from tests.factories import make_run_info

    disk = Disk(monkeypatch)
    path = tmp_path / "record.jsonl"
    w = RecordWriter(path, make_run_info())
    disk.fail = True
    one, two = outcomes(2)
    w.add(one)
    w._syncer.join(30)  # the syncer met the fault and stopped
    assert w.failed == f"could not write the run record {path}: Input/output error"
    with pytest.raises(OutputError, match="Input/output error"):
        w.add(two)
    run = w.close()
    assert run.info.interrupted
    again = read_record(path)
    assert again.run.info.interrupted and again.targets == ("h0",)  # no run end after the fault, nothing more


@pytest.mark.parametrize("path, shown", [("main.tf", "main.tf"), ("mod/a.tf", "mod/a.tf"), ("mod\\a.tf", "mod/a.tf"),
                                         ("a/./b.tf", "a/b.tf"), ("../x.tf", None)])
def test_a_code_location_already_normal_is_shown_as_it_is(path: str, shown: str | None) -> None:
    """reports.location.place builds a new Location only when the path changes (a report of 2,000 IaC findings
    built one each)."""
    from reports.location import place
    from scanner.model import Location

    r = make_result(target_type="iac", location=Location(path, 3, 9))
    where = place(r).location
    assert (where.path if where else None) == shown
    if where is not None:
        assert (where.start_line, where.end_line) == (3, 9)
        assert (where is r.location) is (path == shown)


def test_the_end_of_a_scan_leaves_the_scans_objects_out_of_the_collectors_walks(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """From the record's close to the scan's exit code, the objects the scan made are frozen (gc.freeze): the
    reports' and the history's allocations trigger no collection that walks them again; after it, they are
    the collector's again (unfrozen), and a collection triggered in the block finds no more than its own."""
    import gc
    from pathlib import Path

    from scanner import cli, cli_history

    seen: dict[str, int] = {}
    real_reports, real_history = cli._write_reports, cli_history.after_scan

    def reports(*args: Any, **kwargs: Any) -> None:
        seen["reports"] = gc.get_freeze_count()
        real_reports(*args, **kwargs)

    def history(*args: Any, **kwargs: Any) -> None:
        seen["history"] = gc.get_freeze_count()
        real_history(*args, **kwargs)

    monkeypatch.setattr(cli, "_write_reports", reports)
    monkeypatch.setattr(cli_history, "after_scan", history)
    iac = Path(__file__).resolve().parents[1] / "fixtures" / "iac" / "terraform"
    assert cli.main(["scan", "--quiet", "--iac", str(iac), "--format", "json", "--output",
                     str(tmp_path / "out")]) in (0, 1)
    assert seen["reports"] > 1000 and seen["history"] > 1000
    assert gc.get_freeze_count() == 0
    assert (tmp_path / "out" / "report.json").is_file()


def test_the_json_report_checks_a_coverage_form_once_for_its_like_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like targets share each clause's coverage form (scanner.coverage.coverage_forms): the JSON report checks a
    form once, not each of its items, and writes the same coverage as coverage_dicts."""
    import io

    from reports import json as json_report

    run = fleet(50, varied=False)
    walked: list[str] = []
    real = jsonenc._plain

    def counting(value: Any, *args: Any, **kwargs: Any) -> bool:
        if type(value) is dict and "clause" in value:
            walked.append(value["target"])
        return real(value, *args, **kwargs)

    monkeypatch.setattr(jsonenc, "_plain", counting)
    out = io.StringIO()
    json_report.render(run, out)
    assert walked == ["h000", "h000", "h000"]  # the three clauses' forms, judged on the first target
    assert json.loads(out.getvalue())["coverage"] == cov.coverage_dicts(run)
    assert len(cov.coverage_dicts(run)) == 3 * 50


def test_the_json_report_places_a_resources_location_once_for_its_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner gives a resource's findings its one Location: the JSON report places it once (the place of each
    of 2,297 IaC findings was some 9,000 instructions), and shows every finding's location as place shows it."""
    import io

    from reports import json as json_report
    from reports.location import place
    from scanner.model import Location

    main, odd, outside = Location("main.tf", 1, 4), Location("mod\\a.tf", 2, 3), Location("../x.tf", 5, 6)
    results = [make_result(target_type="iac", resource=f"r{i}", location=loc)
               for i, loc in enumerate([main, main, odd, main, odd, outside, outside, None])]
    results.append(make_result(resource="sshd", location=main))  # a host's finding on the same Location object
    run = make_run(results)
    calls = count_calls(monkeypatch, json_report, "place")
    out = io.StringIO()
    json_report.render(run, out)
    assert calls[0] == 3 + 1 + 1  # main, odd, outside on code; main on a host; the one without a Location
    shown = [f["location"] for f in json.loads(out.getvalue())["findings"]]
    assert shown == [thaw(place(r).location) if place(r).location else None for r in results]
    assert [s["path"] if s else None for s in shown] == [
        "main.tf", "main.tf", "mod/a.tf", "main.tf", "mod/a.tf", None, None, None, "main.tf"]
