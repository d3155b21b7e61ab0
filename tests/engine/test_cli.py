from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scanner import cli
from scanner.cli import EXIT_ERRORS, EXIT_FAILURES, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, exit_code
from tests.factories import make_result, make_run

HEAVY = ("boto3", "botocore", "paramiko", "winrm", "ldap3")


@pytest.mark.parametrize("statuses, fail_on, interrupted, expected", [
    ([("pass", "high")], "low", False, EXIT_OK),
    ([("pass", "high"), ("waived", "high"), ("manual", "low"), ("not_applicable", "low")], "low", False, EXIT_OK),
    ([("fail", "low")], "low", False, EXIT_FAILURES),
    ([("fail", "low")], "high", False, EXIT_OK),
    ([("fail", "critical"), ("error", "low")], "high", False, EXIT_FAILURES),
    ([("error", "low"), ("pass", "low")], "low", False, EXIT_ERRORS),
    ([("fail", "low"), ("error", "low")], "critical", False, EXIT_ERRORS),
    ([("pass", "low")], "low", True, EXIT_INTERRUPTED),
])
def test_exit_codes(statuses, fail_on, interrupted, expected):
    run = make_run([make_result(status=s, severity=sev, resource=str(i)) for i, (s, sev) in enumerate(statuses)],
                   interrupted=interrupted)
    assert exit_code(run, fail_on) == expected


def test_exit_codes_are_distinct_and_documented_in_help():
    codes = [EXIT_OK, EXIT_FAILURES, EXIT_INPUT, EXIT_ERRORS, EXIT_INTERRUPTED]
    assert len(set(codes)) == len(codes)
    helptext = cli.build_parser().format_help()
    assert all(f"  {c} " in helptext for c in codes)


def test_bad_inventory_is_an_input_error_with_the_path_and_nothing_is_scanned(tmp_path, capsys):
    inv = tmp_path / "bad.yaml"
    inv.write_text("version: 1\ntargets:\n  - {name: a, type: linux, connection: ssh, host: h, port: abc}\n")
    out = tmp_path / "out"
    assert cli.main(["scan", "-i", str(inv), "-o", str(out)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "targets[0].port: 'abc' is not of type 'integer'" in err and "nothing was scanned" in err
    assert not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["scan", "--check", "no.such.check"], "no check matches the selection"),
    (["scan", "--clause", "11.10(d)"], "--clause needs --framework"),
    (["scan", "--limit", "nowhere"], "no target matches"),
    (["scan", "--concurrency", "0"], "--concurrency must be at least 1"),
])
def test_usage_errors(argv, message, capsys, tmp_path):
    assert cli.main([*argv, "-o", str(tmp_path / "o")]) == EXIT_INPUT
    assert message in capsys.readouterr().err


def test_schema_command_prints_valid_json(capsys):
    assert cli.main(["schema", "inventory"]) == EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["title"] == "gxpscan inventory"


@pytest.mark.parametrize("argv", [["--help"], ["checks"], ["schema", "result"]])
def test_light_commands_do_not_import_the_transport_libraries(argv):
    code = (f"import sys, runpy; sys.argv=['gxpscan', *{argv!r}]\n"
            "try:\n    runpy.run_module('scanner', run_name='__main__')\nexcept SystemExit: pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_report_and_diff_work_from_run_records(tmp_path, capsys):
    from scanner.store import RecordWriter

    def record(name, status):
        w = RecordWriter(tmp_path / name / "record.jsonl", make_run().info)
        from scanner.runner import TargetOutcome
        from tests.factories import make_target

        w.add(TargetOutcome(make_target("host1"), (make_result(status=status),), {}))
        w.close()
        return str(tmp_path / name)

    old, new = record("old", "pass"), record("new", "fail")
    assert cli.main(["diff", old, new]) == EXIT_FAILURES
    assert "pass      fail" in capsys.readouterr().out.replace("  ", "  ")
    assert cli.main(["report", new, "--format", "junit", "--output", str(tmp_path / "r")]) == EXIT_FAILURES
    assert "<failure" in (tmp_path / "r" / "report.junit.xml").read_text()


def test_sigterm_closes_the_record_as_interrupted_and_keeps_finished_targets(tmp_path):
    """A scheduler stops a scan: the finished target is kept, the record is closed, reports are written."""
    import signal
    import time

    from scanner.store import load_record

    inv = tmp_path / "inv.yaml"
    inv.write_text(
        "version: 1\ntargets:\n"
        "  - {name: fast, type: linux, connection: local, policy: {backup_status_command: 'date -u +%FT%TZ'}}\n"
        "  - {name: slow, type: linux, connection: local, fact_timeout: 60,\n"
        "     policy: {backup_status_command: 'sleep 60'}}\n")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "scanner", "scan", "-i", str(inv), "--check", "linux.backup.recent",
                             "--format", "json", "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and '"target": "fast"' not in _read(out / "record.jsonl"):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)  # not held up by the slow target still in flight
    assert proc.returncode == EXIT_INTERRUPTED, err
    run = load_record(out)
    assert run.info.interrupted and run.info.ended is not None
    assert {r.target for r in run.results} == {"fast"}
    assert json.loads((out / "report.json").read_text())["run"]["interrupted"] is True


def _read(path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
