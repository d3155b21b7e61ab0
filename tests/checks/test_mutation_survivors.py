"""scripts/mutation_survivors.py sorts mutmut's survivors: wording of a finding, reviewed equivalent, logic.

The work directory is built here in mutmut 3's layout (``mutants/<module>.py`` holding the original function as
``x_NAME__mutmut_orig`` next to each mutant ``x_NAME__mutmut_N``, and ``<module>.py.meta`` with the exit codes)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import mutation_survivors as ms  # noqa: E402

ORIG = '''
def x_check__mutmut_orig(items, limit=3):
    out = []
    for i in items:
        obs = dict(name=i.name, size=i.size)
        msg = f"{i.name} is too big"
        if i.size > limit:
            out.append(failed(i.arn, msg, **obs))
        else:
            out.append(passed(i.arn, f"{i.name} fits", size=i.size, **{**obs, "region": "r"}))
    return out or none_found(items, "items")
'''

#: mutant body changes, by name: (the line of ORIG, its replacement, the expected class and detail)
MUTANTS = {
    "x_check__mutmut_1": ('f"{i.name} fits"', '"XX{i.name} fitsXX"', "wording", "message"),
    "x_check__mutmut_2": ("failed(i.arn, msg", "failed(None, msg", "wording", "resource"),
    "x_check__mutmut_3": ("size=i.size, **{", "size=None, **{", "wording", "observed-pass"),
    "x_check__mutmut_4": ("i.size > limit", "i.size >= limit", "logic", "line"),
    "x_check__mutmut_5": ('"items")', '"XXitemsXX")', "wording", "message"),
    "x_check__mutmut_6": ("dict(name=i.name, size=i.size)", "dict(name=None, size=i.size)", "wording",
                          "observed-fail"),
    "x_check__mutmut_7": ('f"{i.name} is too big"', 'f"{i.name} is too BIG"', "wording", "message"),
    "x_check__mutmut_8": ("return out or", "return out and", "logic", "line"),
    "x_check__mutmut_9": ("i.size > limit", "i.size > int(limit)", "equivalent", "limit is an int"),  # EXPLAINED
    "x_check__mutmut_10": ("i.size > limit", "i.size > limit + 1", "logic", "line"),  # not run: not a survivor
}
CODES = {name: 0 for name in MUTANTS} | {"x_check__mutmut_10": None}


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    body = [ORIG]
    for name, (old, new, _, _) in MUTANTS.items():
        assert old in ORIG
        body.append(ORIG.replace("x_check__mutmut_orig", name).replace(old, new))
    module = tmp_path / "mutants" / "checks" / "demo"
    module.mkdir(parents=True)
    (module / "mod.py").write_text("\n".join(body))
    (module / "mod.py.meta").write_text(json.dumps({"exit_code_by_key": {f"checks.demo.mod.{n}": c
                                                                         for n, c in CODES.items()}}))
    monkeypatch.setitem(ms.EXPLAINED, "checks.demo.mod.x_check__mutmut_9", "limit is an int here")
    return tmp_path


def test_every_survivor_gets_its_class(work: Path) -> None:
    got = {m.name.rsplit(".", 1)[1]: ms.classify(work, m) for m in ms.read_mutants(work)
           if m.status is ms.Status.SURVIVED}
    assert set(got) == set(MUTANTS) - {"x_check__mutmut_10"}
    for name, verdict in got.items():
        _, _, klass, detail = MUTANTS[name]
        assert verdict.klass == klass and verdict.detail.startswith(detail), (name, verdict)
    assert got["x_check__mutmut_4"].diff.split("\n")[1:] == ["-        if i.size > limit:",
                                                             "+        if i.size >= limit:"]


def test_the_table_counts_each_class_per_module(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ms.main([str(work), "--markdown"]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert lines[0].startswith("| module | mutants | killed | survived wording | survived equivalent | survived logic")
    assert lines[2] == "| `checks.demo.mod` | 10 | 0 | 6 | 1 | 2 | 0 | 0 | 1 |"
    assert ms.main([str(work), "--list", "logic"]) == 0
    assert capsys.readouterr().out.strip().split("\n")[1:] == ["checks.demo.mod.x_check__mutmut_4",
                                                               "checks.demo.mod.x_check__mutmut_8"]


def test_exit_codes_read_as_mutmut_reads_them() -> None:
    assert [ms.status_of(c) for c in (1, 3, 0, 33, 36, None, -11)] == [
        ms.Status.KILLED, ms.Status.KILLED, ms.Status.SURVIVED, ms.Status.NO_TESTS, ms.Status.TIMEOUT,
        ms.Status.NOT_CHECKED, ms.Status.OTHER]


@pytest.mark.parametrize("helper, slot, subclass", [
    ("out_of_records_scope", 2, "observed-fail"),  # the observed values of a bucket outside the records scope
    ("out_of_records_scope", 1, ""),  # the records tag decides the scope: logic
    ("missing", 0, "resource"), ("missing", 1, "message"), ("none_found", 1, "message"), ("none_found", 0, ""),
    ("_records", 5, "observed-fail"), ("_records", 4, ""), ("flavor_gate", "resource", "resource"),
    ("none_found", None, ""),
    ("_setting", 4, "message"), ("_setting", 5, "message"), ("_setting", 3, ""), ("_setting", 2, ""),  # ok, keys
    ("_expect", 3, "message"), ("_expect", 2, ""),  # the allowed values decide: logic
    ("settings_finding", 0, "resource"), ("settings_finding", 2, "message"), ("settings_finding", 1, ""),  # problems
    ("flagged", 3, "message"), ("flagged", 2, ""), ("flagged", 5, ""),  # the test and the allowed names: logic
    ("expect", 4, "message"), ("expect", 3, ""), ("rdp_off", 1, "resource"), ("_rule", 0, ""), ("_rule", 2, "message"),
    ("_ask", 6, "message"), ("_ask", 7, "message"), ("_ask", 5, ""),  # good, bad; the expected answer: logic
])
def test_each_wording_argument_of_a_helper_has_its_subclass(helper: str, slot: int | str | None,
                                                             subclass: str) -> None:
    assert ms._wording_slot(helper, slot) == subclass


HELPER_ORIG = '''
def x_gate__mutmut_orig(d, items):
    if na := flavor_gate(d, "ad", f"domain {d.base}"):
        return [na]
    obs = dict(n=len(items))
    reasons = "; ".join(i.why for i in items) or "none given"
    obs.update(first=items[0].name, last=items[-1].name)
    if items[0].bad:
        return [failed(d.base, f"cannot tell: {reasons}", **obs)]
    return [passed(d.base, "fine", **obs)]
'''


@pytest.mark.parametrize("old, new, klass, detail", [
    ('"; ".join', '"XX; XX".join', "wording", "message"),  # a local read only inside a message's f-string
    ('or "none given"', 'or "XXnone givenXX"', "wording", "message"),
    ("first=items[0].name, ", "", "wording", "observed-fail"),  # an argument of obs.update dropped
    ("last=items[-1].name", "last=None", "wording", "observed-fail"),
    ('"ad", f"domain {d.base}")', '"ad")', "wording", "resource"),  # a helper's trailing wording argument dropped
    ('"ad", f"domain', '"XXadXX", f"domain', "logic", "line"),  # the flavor the gate wants: logic
    ("if items[0].bad", "if not items[0].bad", "logic", "line"),
])
def test_wording_read_through_locals_updates_and_dropped_arguments(tmp_path: Path, old: str, new: str, klass: str,
                                                                   detail: str) -> None:
    assert old in HELPER_ORIG
    module = tmp_path / "mutants" / "checks" / "demo"
    module.mkdir(parents=True)
    mutant = HELPER_ORIG.replace("x_gate__mutmut_orig", "x_gate__mutmut_1").replace(old, new)
    (module / "gate.py").write_text(HELPER_ORIG + "\n" + mutant)
    verdict = ms.classify(tmp_path, ms.Mutant("checks.demo.gate.x_gate__mutmut_1", "checks.demo.gate",
                                              ms.Status.SURVIVED, 0.0))
    assert (verdict.klass, verdict.detail.split(" ")[0]) == (klass, detail)
