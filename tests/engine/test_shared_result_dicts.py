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
from tests.factories import make_result, make_run, make_run_info, make_target

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
    assert shared == [result_to_dict(r) for r in run.results]
    built = io.StringIO()
    json_report.render(run, built)

    def refuse(r: Any) -> Any:
        raise AssertionError("a result's dict was built again")

    monkeypatch.setattr(model, "result_to_dict", refuse)
    reused = io.StringIO()
    json_report.render(run, reused, findings=shared)
    assert reused.getvalue() == built.getvalue()
    assert shared == writer.result_dicts(run)  # the report changed copies, not the record's dicts


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
    real = model.result_to_dict

    def counted(r: Any) -> Any:
        calls.append(r)
        return real(r)

    monkeypatch.setattr(model, "result_to_dict", counted)  # what run_to_dict would call for the report
    iac = Path(__file__).resolve().parents[1] / "fixtures" / "iac" / "terraform"
    assert main(["scan", "--quiet", "--no-history", "--iac", str(iac), "--format", "json",
                 "--output", str(tmp_path / "out")]) in (0, 1)
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    records = [json.loads(line) for line in (tmp_path / "out" / "record.jsonl").read_text().splitlines()]
    recorded_results = [r for line in records if line["type"] == "target" for r in line["results"]]
    assert len(report["findings"]) == len(recorded_results) > 0
    assert calls == []
