from __future__ import annotations

import pytest

from scanner.model import Status
from scanner.runner import scan_target
from scanner.store import RecordWriter, load_record
from tests.engine.conftest import fake_collector
from tests.factories import make_run_info, make_target


def outcome(registry, name, widgets):
    return scan_target(make_target(name), [registry.checks["linux.test.each"]],
                       {"linux.test.each": ("part11:11.10(d)",)}, collector=fake_collector({"linux.widgets": widgets}))


def test_record_round_trips_results_and_evidence(registry, tmp_path):
    w = RecordWriter(tmp_path / "record.jsonl", make_run_info())
    w.add(outcome(registry, "a", ["blue", "red"]))
    run = w.close()
    again = load_record(tmp_path)
    assert again.results == run.results and not again.info.interrupted
    assert again.evidence == run.evidence and again.info.ended == run.info.ended


def test_each_target_is_on_disk_as_soon_as_it_finishes_and_a_cut_record_still_loads(registry, tmp_path):
    path = tmp_path / "record.jsonl"
    w = RecordWriter(path, make_run_info())
    w.add(outcome(registry, "a", ["blue"]))
    w.add(outcome(registry, "b", ["red"]))
    # simulate a kill in the middle of writing the third target: the file ends in half a line
    with open(path, "a") as fh:
        fh.write('{"type": "target", "target": "c", "resu')
    run = load_record(path)
    assert run.info.interrupted is True
    assert [(r.target, r.status) for r in run.results] == [("a", Status.PASS), ("b", Status.FAIL)]


def test_a_record_is_never_overwritten(tmp_path):
    RecordWriter(tmp_path / "record.jsonl", make_run_info())
    with pytest.raises(FileExistsError):
        RecordWriter(tmp_path / "record.jsonl", make_run_info())


def test_not_a_record(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"type": "target"}\n')
    with pytest.raises(ValueError, match="not a gxpscan run record"):
        load_record(tmp_path / "x.jsonl")
