"""Risk-based reporting (issue 17): the risk matrix (default and a site's), the rating of findings from the
declared GxP impact, the inventory keys, the record round trip, and --min-risk / --sort risk in every format."""
from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from scanner import cli
from scanner.inventory import InventoryError, load_inventory
from scanner.model import Result, Risk, RiskLevel, Severity, Status, result_from_dict, result_to_dict
from scanner.risk import Impact, RiskMatrixError, default_matrix, load_matrix, rate, rated, select
from tests.factories import make_result, make_run, make_run_info, make_target

#: The documented default (scanner/risk_matrix.json), written out again: severity -> (high, medium, low) impact.
DEFAULT = {"critical": ("critical", "critical", "high"), "high": ("critical", "high", "medium"),
           "medium": ("high", "medium", "low"), "low": ("medium", "low", "low"), "info": ("low", "low", "low")}
IMPACTS = ("high", "medium", "low")
CELLS = [(sev, imp) for sev in DEFAULT for imp in IMPACTS]


def matrix_text(cells: dict[str, dict[str, str]]) -> str:
    return "version: 1\nmatrix:\n" + "".join(
        f"  {sev}: {{{', '.join(f'{imp}: {lvl}' for imp, lvl in row.items())}}}\n" for sev, row in cells.items())


def site_cells() -> dict[str, dict[str, str]]:
    """A site matrix unlike the default in every cell: the cell's position picks its level."""
    levels = itertools.cycle(["low", "high", "critical", "medium"])
    return {sev: {imp: next(levels) for imp in IMPACTS} for sev in DEFAULT}


@pytest.mark.parametrize("severity, impact", CELLS)
def test_the_default_matrix_rates_every_cell_as_documented(severity: str, impact: str) -> None:
    r = make_result(status="fail", severity=severity)
    rated_r = rate(r, {"gxp_impact": impact}, default_matrix())
    assert rated_r.risk == Risk(RiskLevel(DEFAULT[severity][IMPACTS.index(impact)]), impact, True)


@pytest.mark.parametrize("severity, impact", CELLS)
def test_a_site_matrix_replaces_every_cell(tmp_path: Path, severity: str, impact: str) -> None:
    cells = site_cells()
    path = tmp_path / "matrix.yaml"
    path.write_text(matrix_text(cells))
    m = load_matrix(path)
    assert m.level(Severity(severity), Impact(impact)) is RiskLevel(cells[severity][impact])
    assert m.source.startswith(f"{path} (sha256 ") and m.source.endswith(")")
    assert rate(make_result(status="error", severity=severity), {"gxp_impact": impact}, m).risk.level.value \
        == cells[severity][impact]


@pytest.mark.parametrize("change, problem", [
    (lambda c: c["high"].pop("medium"), "matrix.high.medium: missing cell"),
    (lambda c: c["low"].update(low="severe"), "matrix.low.low: 'severe' is not one of ['low', 'medium', 'high', "
                                               "'critical']"),
    (lambda c: c.pop("info"), "matrix.info: missing severity row"),
    (lambda c: c["medium"].update(extreme="high"), "matrix.medium: Additional properties are not allowed"),
])
def test_an_invalid_matrix_file_names_the_cell(tmp_path: Path, change: Any, problem: str) -> None:
    cells = {sev: {imp: lvl for imp, lvl in zip(IMPACTS, row, strict=True)} for sev, row in DEFAULT.items()}
    change(cells)
    path = tmp_path / "m.yaml"
    path.write_text(matrix_text(cells))
    with pytest.raises(RiskMatrixError) as err:
        load_matrix(path)
    assert str(err.value).startswith(f"risk matrix {path}: ") and problem in str(err.value)


def test_scan_refuses_a_bad_matrix_before_any_connection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m.yaml").write_text("version: 1\nmatrix: {critical: {high: critical}}\n")
    code = cli.main(["scan", "--check", "linux.time.*", "-o", str(tmp_path / "out"), "--risk-matrix",
                     str(tmp_path / "m.yaml")])
    assert code == cli.EXIT_INPUT and not (tmp_path / "out").exists()
    assert "matrix.critical.medium, matrix.critical.low: missing cell" in capsys.readouterr().err


@pytest.mark.parametrize("status, rated_as", [("fail", "critical"), ("error", "critical"), ("waived", "critical"),
                                              ("pass", None), ("not_applicable", None), ("manual", None)])
def test_only_failing_erroring_and_waived_findings_carry_a_risk_and_undeclared_is_high(
        status: str, rated_as: str | None) -> None:
    r = rate(make_result(status=status, severity="high"), {}, default_matrix())
    assert (r.risk.level.value if r.risk else None) == rated_as
    if r.risk:
        assert r.risk.impact == "high" and r.risk.declared is False


def test_rating_copies_each_finding_without_building_it_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """rate_all makes each rated finding by copying it (scanner.value.evolve), not through Result.__init__ (what
    dataclasses.replace runs, some 10 microseconds a finding): the same results, no __init__ call."""
    from scanner.risk import rate_all

    results = tuple(make_result(resource=f"r{i}", status=s, severity="medium")
                    for i, s in enumerate(["fail", "pass", "error", "fail"]))
    stale = replace(results[1], risk=Risk(RiskLevel.LOW, "low", True))  # a pass carries no risk: removed
    expected = tuple(replace(r, risk=Risk(RiskLevel.MEDIUM, "medium", True)) if r.status is not Status.PASS
                     else replace(r, risk=None) for r in (*results, stale))
    calls = [0]
    real = Result.__init__

    def counting(self: Result, *args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        real(self, *args, **kwargs)

    monkeypatch.setattr(Result, "__init__", counting)
    rated_results = rate_all((*results, stale), {"gxp_impact": "medium"}, default_matrix())
    assert calls == [0]
    assert rated_results == expected
    assert rated_results[1] is results[1]  # a pass without a risk is the same object


def test_inventory_declares_impact_assessment_and_records_per_group_and_target() -> None:
    inv = load_inventory({"version": 1, "groups": {"lims": {"gxp_context": {
        "gxp_impact": "high", "risk_assessment": "RA-0042 v3", "record_types": ["lab data", "batch records"]}}},
        "targets": [{"name": "a", "type": "linux", "groups": ["lims"], "gxp_context": {"gxp_impact": "medium"}},
                    {"name": "b", "type": "linux", "groups": ["lims"]}]})
    a, b = inv.targets
    assert dict(a.gxp_context) == {"gxp_impact": "medium", "risk_assessment": "RA-0042 v3",
                                   "record_types": ("lab data", "batch records")}
    assert b.gxp_context["gxp_impact"] == "high"


@pytest.mark.parametrize("context, problem", [
    ({"gxp_impact": "severe"}, "targets[0].gxp_context.gxp_impact: 'severe' is not one of ['high', 'medium', 'low']"),
    ({"risk_assessment": ""}, "targets[0].gxp_context.risk_assessment: '' should be non-empty"),
    ({"record_types": "lab data"}, "targets[0].gxp_context.record_types: 'lab data' is not of type 'array'"),
    ({"record_types": ["x", "x"]}, "targets[0].gxp_context.record_types: ['x', 'x'] has non-unique elements"),
])
def test_a_bad_gxp_impact_declaration_names_its_path(context: dict[str, Any], problem: str) -> None:
    with pytest.raises(InventoryError) as err:
        load_inventory({"version": 1, "targets": [{"name": "a", "type": "linux", "gxp_context": context}]})
    assert err.value.problems == [problem]


def test_the_rating_round_trips_and_an_old_record_without_it_loads() -> None:
    r = rate(make_result(status="fail", severity="medium"), {"gxp_impact": "low"}, default_matrix())
    d = result_to_dict(r)
    assert d["risk"] == {"level": "low", "impact": "low", "declared": True}
    assert result_from_dict(json.loads(json.dumps(d))) == r
    old = {k: v for k, v in d.items() if k != "risk"}
    assert result_from_dict(old).risk is None
    with pytest.raises(ValueError):
        result_from_dict({**d, "risk": {"level": "low", "impact": "unknown", "declared": True}})


def _write(run_dir: Path, results: list[Result], contexts: dict[str, dict[str, Any]]) -> Path:
    """A sealed run directory of these results, rated as a scan rates them (each target's declared context)."""
    from scanner.runner import TargetOutcome
    from scanner.seal import seal_run
    from scanner.store import RecordWriter
    from tests.engine.seal_factory import evidence_for

    info = replace(make_run_info(), gxp_context=MappingProxyType(contexts), risk_matrix="default")
    writer = RecordWriter(run_dir / "record.jsonl", info)
    for target in dict.fromkeys(r.target for r in results):
        mine = [rate(r, contexts.get(target, {}), default_matrix()) for r in results if r.target == target]
        writer.add(TargetOutcome(make_target(target), tuple(mine), evidence_for(mine)))
    writer.close()
    seal_run(run_dir)
    return run_dir


#: (target, check, status, severity) -> low/medium/high/critical risks on a medium-impact and an undeclared target
ROWS = [("lims", "linux.a", "fail", "low"), ("lims", "linux.b", "fail", "high"),
        ("lims", "linux.c", "pass", "high"), ("erp", "linux.d", "fail", "medium"), ("erp", "linux.e", "error", "info"),
        ("lims", "linux.f", "fail", "medium")]


@pytest.fixture
def risk_run(tmp_path: Path) -> Path:
    results = [make_result(check=c, target=t, status=s, severity=sev, resource=c, evidence=(f"{t}:{c}#0",))
               for t, c, s, sev in ROWS]
    return _write(tmp_path / "run", results, {"lims": {"gxp_impact": "medium", "risk_assessment": "RA-7 <v2>",
                                                       "record_types": ["lab data"]}})


def test_report_filters_and_sorts_by_risk_in_every_format_and_keeps_the_exit_code(
        risk_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = cli.main(["report", str(risk_run), "--min-risk", "high", "--sort", "risk", "-o", str(out),
                     "--format", "console", "--format", "json", "--format", "sarif", "--format", "oq"])
    assert code == cli.EXIT_FAILURES  # linux.a (low risk) still fails: the filter does not clear the run
    console = capsys.readouterr().out
    lines = _finding_lines(console)
    assert [(ln[2], ln[4]) for ln in lines] == [("high", "linux.b"), ("high*", "linux.d")]
    assert "risk*: the target declares no gxp_impact; rated as high impact" in console
    sarif = json.loads((out / "report.sarif").read_text())
    assert [(r["ruleId"], r["properties"]["risk"], r["properties"]["gxpImpact"], r["properties"]["gxpImpactDeclared"])
            for r in sarif["runs"][0]["results"]] == [("linux.b", "high", "medium", True),
                                                      ("linux.d", "high", "high", False)]
    report = json.loads((out / "report.json").read_text())  # complete (verified against the record), riskiest first
    assert [(f["check"], (f.get("risk") or {}).get("level")) for f in report["findings"]] == [
        ("linux.b", "high"), ("linux.d", "high"), ("linux.f", "medium"), ("linux.a", "low"), ("linux.e", "low"),
        ("linux.c", None)]
    assert report["run"]["risk_matrix"] == "default"
    root = ET.fromstring((out / "oq-evidence.html").read_text())
    devs = [t for t in root.iter("table") if "deviations" in (t.get("class") or "").split()][0]
    impacts = ["".join(tr.findall("td")[4].itertext()) for tr in devs.find("tbody").findall("tr")]
    assert [i.split(".")[0] for i in impacts] == ["Risk high", "Risk high (impact not declared: rated as high)"]
    note = "".join(next(p for p in root.iter("p") if p.get("id") == "risk-basis").itertext())
    assert "(3 of 5 left out by --min-risk); the tests above are complete" in note
    summary = [t for t in root.iter("table") if "summary" in (t.get("class") or "").split()][0]
    assert ["".join(td.itertext()) for tr in summary.iter("tr") if "".join(tr.find("th").itertext()) == "Deviations"
            for td in tr.findall("td")] == ["5"]  # the summary counts all of them
    gxp = [t for t in root.iter("table") if "gxp-impact" in (t.get("class") or "").split()][0]
    assert [["".join(td.itertext()) for td in tr.findall("td")] for tr in gxp.find("tbody").findall("tr")] == [
        ["lims", "medium", "RA-7 <v2>", "lab data"],
        ["erp", "not declared: findings rated as high impact", "\u2014 not referenced", "\u2014 not declared"]]


def _finding_lines(console: str) -> list[list[str]]:
    """The console's findings table: status, severity, risk, target, check, ..."""
    return [ln.split() for ln in console.splitlines()
            if len(ln.split()) >= 6 and ln.split()[0] in ("fail", "error") and ln.split()[1] in DEFAULT]


def _order(fmt: str, out: Path, console: str) -> list[str]:
    """The checks of the failing and erroring findings in the order a report lists them."""
    if fmt == "console":
        return [ln[4] for ln in _finding_lines(console)]
    if fmt == "json":
        return [f["check"] for f in json.loads((out / "report.json").read_text())["findings"] if f["status"] != "pass"]
    if fmt == "sarif":
        return [r["ruleId"] for r in json.loads((out / "report.sarif").read_text())["runs"][0]["results"]]
    root = ET.fromstring((out / "oq-evidence.html").read_text())
    devs = [t for t in root.iter("table") if "deviations" in (t.get("class") or "").split()][0]
    return ["".join(tr.findall("td")[1].itertext()).split(" / ")[2] for tr in devs.find("tbody")]


@pytest.mark.parametrize("fmt, plain, by_risk", [
    ("console", ["linux.b", "linux.d", "linux.f", "linux.a", "linux.e"],  # by status, then severity
     ["linux.b", "linux.d", "linux.f", "linux.a", "linux.e"]),
    ("json", ["linux.a", "linux.b", "linux.f", "linux.d", "linux.e"],  # the record's order (by target)
     ["linux.b", "linux.d", "linux.f", "linux.a", "linux.e"]),
    ("sarif", ["linux.a", "linux.b", "linux.f", "linux.d", "linux.e"], ["linux.b", "linux.d", "linux.f", "linux.a",
                                                                         "linux.e"]),
    ("oq", ["linux.a", "linux.b", "linux.f", "linux.d", "linux.e"], ["linux.b", "linux.d", "linux.f", "linux.a",
                                                                      "linux.e"]),
])
def test_sort_risk_orders_every_format_riskiest_first(risk_run: Path, tmp_path: Path, fmt: str, plain: list[str],
                                                      by_risk: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["report", str(risk_run), "--format", fmt, "-o", str(tmp_path / "plain")])
    assert _order(fmt, tmp_path / "plain", capsys.readouterr().out) == plain
    cli.main(["report", str(risk_run), "--format", fmt, "-o", str(tmp_path / "risk"), "--sort", "risk"])
    assert _order(fmt, tmp_path / "risk", capsys.readouterr().out) == by_risk


def test_an_old_record_is_rated_on_the_fly_from_its_recorded_context(tmp_path: Path) -> None:
    run = make_run([make_result(status="fail", severity="low", target="h1"),
                    make_result(status="fail", severity="low", target="h2"), make_result(target="h3")])
    run = replace(run, info=replace(run.info, gxp_context=MappingProxyType({"h1": {"gxp_impact": "low"}})))
    assert all(r.risk is None for r in run.results)
    now = rated(run, default_matrix())
    assert [r.risk for r in now.results] == [Risk(RiskLevel.LOW, "low", True), Risk(RiskLevel.MEDIUM, "high", False),
                                             None]
    assert now.info.risk_matrix == "default"
    assert [r.target for r in select(now, min_risk=RiskLevel.MEDIUM).results] == ["h2"]
    assert [r.target for r in select(now, by_risk=True).results] == ["h2", "h1", "h3"]
    assert select(now) is now


def test_a_real_scan_records_the_rating_of_the_declared_impact(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text("version: 1\ntargets:\n  - {name: here, type: linux, connection: local, "
                   "gxp_context: {gxp_impact: low, risk_assessment: RA-1}}\n")
    out = tmp_path / "run"
    code = cli.main(["scan", "-i", str(inv), "--check", "linux.ssh.*", "--check", "linux.time.*", "-o", str(out),
                     "-q", "--no-history", "--format", "json"])
    assert code in (cli.EXIT_OK, cli.EXIT_FAILURES, cli.EXIT_ERRORS)
    from scanner.store import read_record

    record = read_record(out)
    assert record.run.info.risk_matrix == "default"
    assert dict(record.run.info.gxp_context["here"])["gxp_impact"] == "low"
    m = default_matrix()
    for r in record.run.results:
        expected = m.level(r.severity, Impact.LOW) if r.status in (Status.FAIL, Status.ERROR, Status.WAIVED) else None
        assert (r.risk.level if r.risk else None) == expected and (r.risk is None or r.risk.declared)
    assert cli.main(["verify", str(out), "-q"]) == cli.EXIT_OK


def test_the_pdf_record_shows_the_gxp_impact_table_and_the_deviation_filter(risk_run: Path, tmp_path: Path) -> None:
    from tests.reports.test_pdf import pages_text, squash

    out = tmp_path / "pdf"
    cli.main(["report", str(risk_run), "--format", "pdf", "-o", str(out), "--min-risk", "high", "-q"])
    text = squash(" ".join(pages_text((out / "oq-evidence.pdf").read_bytes())))
    for shown in ("GxP impact and risk assessment", "lims medium RA-7 <v2> lab data",
                  "erp not declared: findings rated as high impact", "on the risk matrix default.",
                  "(3 of 5 left out by --min-risk)", "Risk high (impact not declared: rated as high)"):
        assert squash(shown) in text, shown
