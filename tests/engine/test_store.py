from __future__ import annotations

import json

import pytest

from scanner.model import Status
from scanner.runner import scan_target
from scanner.safefs import OutputError
from scanner.store import MAX_LINE_BYTES, RecordError, RecordWriter, load_record, read_record
from tests.engine.conftest import fake_collector
from tests.factories import count_calls, make_run_info, make_target


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


# --- a corrupt or hostile record is an error, never a result ----------------------------------------------

def _good_record(registry, path):
    w = RecordWriter(path, make_run_info())
    w.add(outcome(registry, "a", ["blue", "red"]))
    w.close()
    return path.read_text().splitlines(keepends=True)


def _target_line(lines, **changes):
    obj = json.loads(lines[1])
    for key, value in changes.items():
        if key.startswith("result_"):
            obj["results"][0][key[len("result_"):]] = value
        else:
            obj[key] = value
    return json.dumps(obj) + "\n"


CORRUPTIONS = {
    "garbage line": (lambda lines: [lines[0], "this is not json\n", *lines[1:]], "line 2: not valid JSON"),
    "invalid utf-8": (lambda lines: [lines[0], '{"type": "target", "x": "\udcff"}\n'.encode("utf-8", "surrogateescape")
                                     .decode("latin-1"), *lines[1:]], "line 2: not valid JSON"),
    "not an object": (lambda lines: [lines[0], "[1, 2]\n", *lines[1:]], "line 2: not a JSON object"),
    "unknown type": (lambda lines: [lines[0], '{"type": "targte"}\n', *lines[1:]], "line 2: unknown line type"),
    "status of the wrong kind": (lambda lines: [lines[0], _target_line(lines, result_status="great"), lines[2]],
                                 "line 2: results[0]: 'status' is not one of the known values: 'great'"),
    "status a list (not hashable)": (lambda lines: [lines[0], _target_line(lines, result_status=["pass"]), lines[2]],
                                     "line 2: results[0]: 'status' is not one of the known values: \"['pass']\""),
    "area an object": (lambda lines: [lines[0], _target_line(lines, result_area={"a": 1}), lines[2]],
                       "line 2: results[0]: 'area' is not one of the known values: \"{'a': 1}\""),
    "message not a string": (lambda lines: [lines[0], _target_line(lines, result_message=5), lines[2]],
                             "line 2: results[0]: 'message' has the wrong type (int)"),
    "results not a list": (lambda lines: [lines[0], _target_line(lines, results={"a": 1}), lines[2]],
                           "line 2: 'results' has the wrong type (dict)"),
    "time not a time": (lambda lines: [lines[0], _target_line(lines, result_at="yesterday"), lines[2]],
                        "line 2: results[0].at: not a time: 'yesterday'"),
    "evidence of the wrong type": (lambda lines: [lines[0], _target_line(lines, evidence={"e": {"sha256": 5}}),
                                                  lines[2]], "line 2: evidence 'e': 'sha256' has the wrong type (int)"),
    "result of another target": (lambda lines: [lines[0], _target_line(lines, result_target="zz"), lines[2]],
                                 "line 2: a result of another target than 'a'"),
    "line of another run": (lambda lines: [lines[0], _target_line(lines, run="20990101T000000Z-ffffff"), lines[2]],
                            "line 2: belongs to run '20990101T000000Z-ffffff', not to '20261125T000000Z-abcdef'"),
    "line without a run id": (lambda lines: [lines[0], _target_line(lines, run=None), lines[2]],
                              "line 2: belongs to run 'None'"),
    "two records in one": (lambda lines: [*lines, *lines], "line 4: a line after the run_end line"),
    "second run_start": (lambda lines: [lines[0], lines[0], *lines[1:]], "line 2: a second run_start line"),
    "header cut": (lambda lines: [lines[0][:40]], "line 1: the record is cut before its run_start line ended"),
    "empty": (lambda lines: [], "not a gxpscan run record (empty)"),
}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_a_corrupt_record_is_a_record_error_naming_the_line(registry, tmp_path, name):
    change, message = CORRUPTIONS[name]
    lines = _good_record(registry, tmp_path / "good.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes("".join(change(lines)).encode("latin-1" if name == "invalid utf-8" else "utf-8"))
    with pytest.raises(RecordError) as err:
        load_record(bad)
    assert message in str(err.value)
    assert len(str(err.value)) < 400


def test_a_1_gb_line_is_refused_after_reading_the_limit_only(registry, tmp_path, monkeypatch):
    import builtins

    import scanner.store

    lines = _good_record(registry, tmp_path / "good.jsonl")
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as fh:
        fh.write(lines[0].encode())
        fh.truncate(len(lines[0]) + 1024 ** 3)  # a sparse 1 GiB line of NUL bytes, no newline
    read: list[int] = []

    class Counting:  # the record file, counting the bytes the reader takes from it
        def __init__(self, fh):
            self.fh = fh

        def readline(self, limit=-1):
            line = self.fh.readline(limit)
            read.append(len(line))
            return line

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(scanner.store, "open", lambda *a, **k: Counting(builtins.open(*a, **k)), raising=False)
    with pytest.raises(RecordError, match=f"line 2: longer than {MAX_LINE_BYTES} bytes"):
        load_record(path)
    assert sum(read) == len(lines[0].encode()) + MAX_LINE_BYTES + 1  # the limit and one byte, not the gigabyte


def test_a_cut_last_line_reads_as_interrupted_and_says_so(registry, tmp_path):
    lines = _good_record(registry, tmp_path / "good.jsonl")
    path = tmp_path / "cut.jsonl"
    path.write_text(lines[0] + lines[1] + lines[2][:20])
    run = load_record(path)
    assert run.info.interrupted and len(run.results) == 2
    assert run.info.warnings[-1] == "the record ends in a cut line (killed, or the disk was full); it was ignored"


def test_warnings_of_targets_and_of_the_run_are_recorded_and_read_back(registry, tmp_path):
    from dataclasses import replace

    w = RecordWriter(tmp_path / "record.jsonl", make_run_info())
    w.add(replace(outcome(registry, "a", ["blue"]), warnings=("ldap://dc1 is plaintext: no TLS",)))
    w.warn("target b (aws): no selected check applies; nothing was evaluated")
    run = w.close()
    expected = ("ldap://dc1 is plaintext: no TLS", "target b (aws): no selected check applies; nothing was evaluated")
    assert run.info.warnings == expected
    again = read_record(tmp_path)
    assert again.run.info.warnings == expected and again.targets == ("a",)
    target_line = json.loads((tmp_path / "record.jsonl").read_text().splitlines()[1])
    assert target_line["warnings"] == ["ldap://dc1 is plaintext: no TLS"]


# --- disk full, read-only: the record stays loadable ---------------------------------------------------------

@pytest.fixture
def small_tmpfs(tmp_path):
    """A 64 KiB tmpfs: a real ENOSPC, not a simulated one."""
    import subprocess

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a tmpfs")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=True)


def test_disk_full_mid_scan_keeps_the_record_loadable_as_interrupted(registry, small_tmpfs):
    path = small_tmpfs / "out" / "record.jsonl"
    w = RecordWriter(path, make_run_info())
    w.add(outcome(registry, "a", ["blue"]))
    big = ["red" + "x" * 1000 + str(i) for i in range(100)]  # ~200 KB of results and evidence: the disk fills
    with pytest.raises(OutputError, match="could not write the run record .*: No space left on device"):
        w.add(outcome(registry, "b", big))
    with pytest.raises(OutputError):  # nothing more is written after a fault
        w.add(outcome(registry, "c", ["blue"]))
    run = w.close()
    assert run.info.interrupted and w.failed
    again = load_record(path)
    assert again.info.interrupted and [r.target for r in again.results] == ["a"]
    assert path.read_bytes().endswith(b"\n")  # the half-written line was cut back


@pytest.mark.root
def test_results_are_written_only_to_a_safe_directory(tmp_path):
    import os

    from scanner.safefs import OutputDir

    other = tmp_path / "nobody"
    other.mkdir(mode=0o700)
    os.chown(other, 65534, 65534)
    with pytest.raises(OutputError, match=r"owned by nobody \(uid 65534\), not by the user running gxpscan"):
        RecordWriter(other / "record.jsonl", make_run_info())
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o775)
    with pytest.raises(OutputError, match=r"writable by group or others \(mode 0775\)"):
        RecordWriter(shared / "record.jsonl", make_run_info())
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OutputError, match="is a symbolic link"):
        OutputDir.open(tmp_path / "link")
    assert not list((tmp_path / "real").iterdir()) and not list(other.iterdir()) and not list(shared.iterdir())


def test_a_symlink_planted_at_the_record_path_is_never_followed(tmp_path):
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (out / "record.jsonl").symlink_to(victim)
    with pytest.raises(FileExistsError):
        RecordWriter(out / "record.jsonl", make_run_info())
    assert victim.read_text() == "precious"


def test_a_symlink_planted_at_a_report_path_is_replaced_not_followed(tmp_path):
    from scanner.safefs import OutputDir

    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (out / "report.json").symlink_to(victim)
    with OutputDir.open(out) as d, d.replace("report.json") as fh:
        fh.write("{}")
    assert victim.read_text() == "precious"
    assert not (out / "report.json").is_symlink() and (out / "report.json").read_text() == "{}"
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]  # no temporary file left


def test_directories_are_0700_and_files_0600_whatever_the_umask(tmp_path):
    import os
    import stat

    from scanner.safefs import OutputDir

    old = os.umask(0)
    try:
        w = RecordWriter(tmp_path / "a" / "b" / "record.jsonl", make_run_info())
        w.close()
        with OutputDir.open(tmp_path / "a" / "b") as d, d.replace("report.json") as fh:
            fh.write("{}")
    finally:
        os.umask(old)
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in [tmp_path / "a", tmp_path / "a" / "b", *(tmp_path / "a" / "b").iterdir()]}
    assert modes == {"a": 0o700, "a/b": 0o700, "a/b/record.jsonl": 0o600, "a/b/report.json": 0o600}


# --- sealed runs: signatures and systems under test (issue 11) ----------------------------------------------------

def test_signatures_beside_the_record_are_read_into_the_run(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from scanner.seal import sign_run
    from tests.engine.seal_factory import sealed_run

    run_dir = sealed_run(tmp_path / "run")
    assert load_record(run_dir).signatures == ()
    key = Ed25519PrivateKey.generate()
    sign_run(run_dir, role="reviewer", meaning="Reviewed", name="R. Eviewer", key=key)
    sign_run(run_dir, role="approver", meaning="Approved", name="A. Pprover", key=key)
    run = load_record(run_dir / "record.jsonl")
    assert [(s.role, s.name, s.meaning) for s in run.signatures] == [
        ("reviewer", "R. Eviewer", "Reviewed"), ("approver", "A. Pprover", "Approved")]
    assert run.systems["host2"]["hostname"] == "host2"


def test_the_chain_hash_and_operator_name_are_kept_in_the_record(tmp_path):
    from dataclasses import replace

    info = replace(make_run_info(), previous_manifest_sha256="ab" * 32, operator_name="Ola Operator")
    RecordWriter(tmp_path / "record.jsonl", info).close()
    read = load_record(tmp_path).info
    assert (read.previous_manifest_sha256, read.operator_name) == ("ab" * 32, "Ola Operator")


def test_a_line_is_encoded_once_without_the_cycle_check_and_a_cycle_still_refused(registry, tmp_path, monkeypatch):
    """A line is written once (line_bytes: orjson, or the C encoder without its check for cycles), json.dumps
    not at all; a cycle or NaN still goes the way it went before: the cycle refused (ValueError, nothing
    written), NaN written and not proven."""
    from scanner import store
    from scanner.runner import TargetOutcome

    calls = []
    real = json.dumps

    def dumps(obj, **kwargs):
        calls.append(kwargs.get("check_circular", True))
        return real(obj, **kwargs)

    w = RecordWriter(tmp_path / "record.jsonl", make_run_info())
    first = outcome(registry, "a", ["blue", "red"])
    monkeypatch.setattr(store.json, "dumps", dumps)
    lines = count_calls(monkeypatch, store, "line_bytes")
    w.add(first)
    assert (calls, lines) == ([], [1])
    written = (tmp_path / "record.jsonl").read_text().splitlines()[1]
    assert written == real(json.loads(written), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    size = (tmp_path / "record.jsonl").stat().st_size
    loop: dict = {"raw": "x"}
    loop["self"] = loop
    with pytest.raises(ValueError, match="Circular reference detected"):
        w.add(TargetOutcome(make_target("b"), (), {"ev-1": loop}))
    assert (tmp_path / "record.jsonl").stat().st_size == size
    w.add(TargetOutcome(make_target("c"), (), {"ev-2": {"raw": "x", "ratio": float("nan")}}))
    run = w.close()
    assert w.result_dicts(run) is not None and w.result_dicts(run).json_native is False
    lines = (tmp_path / "record.jsonl").read_text().splitlines()
    assert lines[2] == real(json.loads(lines[2]), sort_keys=True, ensure_ascii=False,
                            separators=(",", ":")) and "NaN" in lines[2]
