"""The seal reads the run_start line of the record only (the run's id, tool version, start and chain hash): it no
longer parses every result of a large run to write its manifest. The header is checked as strictly as before, and
``verify`` still reads the whole record, so a record damaged after its header is sealed as the bytes it holds and
refused by the verifier."""
from __future__ import annotations

from pathlib import Path

import pytest

from scanner.runner import TargetOutcome
from scanner.seal import seal_run, verify_run
from scanner.store import RECORD_NAME, RecordError, RecordWriter, read_record
from tests.factories import make_result, make_run_info, make_target


def write_run(run_dir: Path) -> Path:
    run_dir.mkdir()
    writer = RecordWriter(run_dir / RECORD_NAME, make_run_info())
    writer.add(TargetOutcome(make_target("t1"), (make_result(target="t1", evidence=()),), {}))
    writer.close()
    return run_dir / RECORD_NAME


def test_the_header_alone_is_read_strictly_and_the_results_are_not_read(tmp_path: Path) -> None:
    path = write_run(tmp_path / "run")
    lines = path.read_text().split("\n")
    path.write_text("\n".join([lines[0], '{"type": "target", "results": "damaged"}', *lines[2:]]))
    header = read_record(path, header_only=True)
    assert (header.run.info.id, header.run.results, header.targets) == (make_run_info().id, (), ())
    with pytest.raises(RecordError, match="line 2"):
        read_record(path)
    path.write_text("\n".join(['{"type": "target"}', *lines[1:]]))
    with pytest.raises(RecordError, match="no run_start line"):
        read_record(path, header_only=True)


def test_a_seal_over_a_record_damaged_after_its_header_does_not_verify(tmp_path: Path) -> None:
    good = write_run(tmp_path / "good")
    seal_run(good.parent)
    assert verify_run(good.parent).intact
    bad = write_run(tmp_path / "bad")
    lines = bad.read_text().split("\n")
    bad.write_text("\n".join([lines[0], '{"type": "target", "results": "damaged"}', *lines[2:]]))
    seal_run(bad.parent)
    assert not verify_run(bad.parent).intact
