"""Each result's JSON form is built once, by the run record, and the JSON report takes it from there
(scanner/store.py RecordWriter.result_dicts, reports/json.py): the same report, and only for the results recorded."""
from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reports import json as json_report
from scanner import model
from scanner.model import Location, result_to_dict
from scanner.runner import TargetOutcome
from scanner.store import RecordWriter
from tests.factories import count_calls, make_result, make_run, make_run_info, make_target

HOSTILE = "evil \x1b[31m \u2028 \udcff \x00 \u202e"


def recorded(tmp_path: Path) -> tuple[RecordWriter, model.Run]:
    run = make_run([make_result(), make_result(status="fail", target="host2", message=HOSTILE),
                    make_result(target="host2", location=Location(path="main.tf", start_line=3, end_line=9))])
    writer = RecordWriter(tmp_path / "record.jsonl", make_run_info())
    for name in ("host1", "host2"):
        writer.add(TargetOutcome(make_target(name), tuple(r for r in run.results if r.target == name),
                                 {k: v for k, v in run.evidence.items() if k.startswith(name)}))
    return writer, writer.close()


def test_the_report_from_the_records_dicts_is_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer, run = recorded(tmp_path)
    shared = writer.result_dicts(run)
    assert shared is not None and list(shared) == [result_to_dict(r) for r in run.results]
    built = io.StringIO()
    json_report.render(run, built)

    def refuse(r: Any) -> Any:
        raise AssertionError("a result's dict was built again")

    monkeypatch.setattr(model, "result_to_dict", refuse)
    reused = io.StringIO()
    json_report.render(run, reused, findings=shared)
    assert reused.getvalue() == built.getvalue()
    assert shared == writer.result_dicts(run)  # the report changed copies, not the record's dicts
    assert list(shared) == [result_to_dict(r) for r in run.results]


def test_only_the_results_recorded_get_the_records_dicts(tmp_path: Path) -> None:
    writer, run = recorded(tmp_path)
    assert writer.result_dicts(replace(run, results=run.results[:-1])) is None
    assert writer.result_dicts(replace(run, results=tuple(replace(r) for r in run.results))) is None
    assert writer.result_dicts(replace(run, results=run.results[::-1])) is None
    with pytest.raises(ValueError, match="2 finding dicts for 3 results"):
        model.run_to_dict(run, writer.result_dicts(run)[:2])  # type: ignore[index]


def test_scan_writes_the_json_report_from_the_records_dicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from scanner.cli import main

    calls = []
    real = model.results_to_dicts

    def counted(results: Any) -> Any:
        calls.append(results)
        return real(results)

    monkeypatch.setattr(model, "results_to_dicts", counted)  # what run_to_dict would call for the report
    iac = Path(__file__).resolve().parents[1] / "fixtures" / "iac" / "terraform"
    assert main(["scan", "--quiet", "--no-history", "--iac", str(iac), "--format", "json",
                 "--output", str(tmp_path / "out")]) in (0, 1)
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    records = [json.loads(line) for line in (tmp_path / "out" / "record.jsonl").read_text().splitlines()]
    recorded_results = [r for line in records if line["type"] == "target" for r in line["results"]]
    assert len(report["findings"]) == len(recorded_results) > 0
    assert calls == []


class Text(str):
    """A str subclass: the json module writes it, orjson is told to refuse it."""


def record_of(tmp_path: Path, observed: dict[str, Any], n: int = 1) -> tuple[RecordWriter, model.Run]:
    writer = RecordWriter(tmp_path / "record.jsonl", make_run_info())
    results = tuple(make_result(resource=f"r{i}", observed={"n": i, **observed}) for i in range(n))
    writer.add(TargetOutcome(make_target("host1"), results, {}))
    return writer, writer.close()


@pytest.mark.parametrize("observed, native", [
    ({"ratio": 0.5, "ports": [22, 443], "deep": {"a": [{"b": None}]}}, True),
    ({"ratio": float("nan")}, False), ({"limit": float("inf")}, False),  # written as the json module writes them
    ({"name": Text("sub")}, True), ({"big": 2**70}, True),  # JSON-native; orjson refuses them, the json module writes
    ({"text": "lone \udcff surrogate"}, True),
])
def test_a_report_from_proven_dicts_is_the_report_written_without_them(tmp_path: Path, observed: dict[str, Any],
                                                                        native: bool) -> None:
    """The record proves its lines JSON-native (allow_nan=False) or not; the JSON report written from its dicts
    is the report written from the run alone, byte for byte, whatever the values (fail closed: a value orjson
    would write otherwise goes to the json module)."""
    import json

    writer, run = record_of(tmp_path, observed)
    shared = writer.result_dicts(run)
    assert shared is not None and shared.json_native is native
    proven, alone = io.StringIO(), io.StringIO()
    json_report.render(run, proven, findings=shared)
    json_report.render(run, alone)
    assert proven.getvalue() == alone.getvalue()
    back = json.loads(proven.getvalue())["findings"][0]["observed"]
    assert json.dumps(back, sort_keys=True) == json.dumps({"n": 0, **observed}, sort_keys=True)
    line = (tmp_path / "record.jsonl").read_bytes().split(b"\n")[1]  # the record's bytes as the json module's
    assert line == json.dumps(json.loads(line), sort_keys=True, ensure_ascii=False,
                              separators=(",", ":")).encode("utf-8", "backslashreplace")


def test_findings_the_record_proved_native_are_not_walked_again(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from reports import jsonenc

    writer, run = record_of(tmp_path, {"ports": [22, 443], "tags": {"env": "prod"}}, n=300)
    shared = writer.result_dicts(run)
    assert shared is not None and shared.json_native
    calls = count_calls(monkeypatch, jsonenc, "_plain")
    json_report.render(run, io.StringIO(), findings=shared)
    walked = calls[0]
    calls[0] = 0
    json_report.render(run, io.StringIO(), findings=list(shared))  # the same dicts, not proven
    assert calls[0] >= 300 * 5  # each finding, its observed, ports, tags, clauses, evidence
    assert walked < 50  # the document, its run and evidence parts, the coverage: not one call per finding


def test_results_share_the_json_form_of_their_clauses_location_and_risk_rating() -> None:
    """One list per clauses tuple, one dict per Location and per Risk (a check's results share its clauses, a
    resource's findings its location, a target's results of one severity their rating): the same values as
    built one by one, fewer objects to build and to collect."""
    risk = model.Risk(model.RiskLevel.HIGH, "high", True)
    where = Location(path="main.tf", start_line=3, end_line=9)
    results = [make_result(check=f"aws.c{i}", resource="r", status="fail", risk=risk, location=where)
               for i in range(3)] + [make_result(location=Location(path="main.tf", start_line=3, end_line=9))]
    dicts = model.results_to_dicts(results)
    assert dicts == [result_to_dict(r) for r in results]
    assert dicts[0]["clauses"] is dicts[1]["clauses"] is dicts[2]["clauses"] is dicts[3]["clauses"]
    assert dicts[0]["risk"] is dicts[1]["risk"] is dicts[2]["risk"]
    assert dicts[0]["risk"] == {"level": "high", "impact": "high", "declared": True}
    assert dicts[0]["location"] is dicts[1]["location"] is dicts[2]["location"]
    assert dicts[3]["location"] == dicts[0]["location"] and dicts[3]["location"] is not dicts[0]["location"]
    assert dicts[0]["observed"] is not dicts[1]["observed"]  # a result's own values stay its own


def iac_record(tmp_path: Path, paths: list[str]) -> tuple[RecordWriter, model.Run]:
    writer = RecordWriter(tmp_path / "record.jsonl", make_run_info())
    results = tuple(make_result(resource=f"r{i}", target_type="iac", location=Location(path=p, start_line=1))
                    for i, p in enumerate(paths))
    writer.add(TargetOutcome(make_target("host1", type="iac", path=["."]), results, {}))
    return writer, writer.close()


def test_the_report_copies_only_the_findings_whose_location_it_shows_otherwise(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A location that reports show as recorded keeps the record's dict (not copied, its location not thawed
    again); a normalised or refused one is a copy with the location as shown, and the record's dict is unchanged."""
    import json

    writer, run = iac_record(tmp_path, ["main.tf", "net/vpc.tf", "./net/../main.tf", "../outside.tf"])
    shared = writer.result_dicts(run)
    assert shared is not None
    before = [dict(d) for d in shared]
    alone = io.StringIO()
    json_report.render(run, alone)
    calls = count_calls(monkeypatch, json_report, "thaw")
    proven = io.StringIO()
    json_report.render(run, proven, findings=shared)
    assert calls[0] == 1  # "./net/../main.tf" shown as "main.tf"; "../outside.tf" refused (None); no other
    assert proven.getvalue() == alone.getvalue()
    assert list(shared) == before
    shown = [f["location"] for f in json.loads(proven.getvalue())["findings"]]
    assert shown == [{"path": p, "start_line": 1, "end_line": 1} for p in ("main.tf", "net/vpc.tf", "main.tf")] + [None]


def test_a_results_time_is_written_as_isoformat_writes_it_its_second_made_once() -> None:
    from datetime import datetime, timedelta, timezone

    from scanner.model import results_to_dicts

    base = datetime(2026, 12, 2, 14, 41, 14, tzinfo=timezone.utc)
    times = [base, base.replace(microsecond=5), base.replace(microsecond=999_999), base + timedelta(seconds=1),
             base.replace(microsecond=120), datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc),
             datetime(5, 1, 2, 3, 4, 5, tzinfo=timezone.utc), base.replace(tzinfo=None),
             base.replace(microsecond=7, tzinfo=None), base.replace(microsecond=7, tzinfo=timezone(timedelta(hours=2))),
             base.replace(tzinfo=timezone(timedelta(hours=-5, minutes=-30, seconds=-15)))]
    stamps = [d["at"] for d in results_to_dicts([make_result(at=at) for at in times])]
    assert stamps == [at.isoformat() for at in times]
    assert stamps[:3] == ["2026-12-02T14:41:14+00:00", "2026-12-02T14:41:14.000005+00:00",
                          "2026-12-02T14:41:14.999999+00:00"]
