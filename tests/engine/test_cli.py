from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner import cli
from scanner.cli import EXIT_ERRORS, EXIT_FAILURES, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, exit_code
from scanner.seal import seal_run
from tests.engine.seal_factory import evidence_for
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

        results = (make_result(status=status),)
        w.add(TargetOutcome(make_target("host1"), results, evidence_for(results)))
        w.close()
        seal_run(tmp_path / name)  # report and diff verify first: a sealed run
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
    while time.monotonic() < deadline and '"target":"fast"' not in _read(out / "record.jsonl"):
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


# --- exit codes: write faults (4) and nothing evaluated (5) -------------------------------------------------

def test_new_exit_codes_are_in_help_and_distinct():
    from scanner.cli import EXIT_CODES, EXIT_NOTHING, EXIT_WRITE

    assert (EXIT_WRITE, EXIT_NOTHING, cli.EXIT_NOT_INTACT, cli.EXIT_NOTIFY, cli.EXIT_LOCKED) == (4, 5, 6, 7, 8)
    assert len(set(EXIT_CODES)) == len(EXIT_CODES) == 10
    for command in ([], ["scan"], ["report"]):
        parser = cli.build_parser()
        text = parser.format_help() if not command else parser._subparsers._group_actions[0].choices[
            command[0]].format_help()
        assert "4    could not write results" in text and "5    nothing was evaluated" in text


@pytest.mark.parametrize("results, unevaluated, expected", [
    ([], (), 5),
    ([("pass", "low")], ("dir1",), 5),
    ([("fail", "low")], ("dir1",), EXIT_FAILURES),
    ([("error", "low")], ("dir1",), EXIT_ERRORS),
    ([("pass", "low")], (), EXIT_OK),
])
def test_nothing_evaluated_is_not_all_clear(results, unevaluated, expected):
    run = make_run([make_result(status=s, severity=sev, resource=str(i)) for i, (s, sev) in enumerate(results)])
    assert exit_code(run, "low", unevaluated) == expected


def test_a_target_no_check_applies_to_exits_5_with_a_message(tmp_path, capsys):
    from scanner.store import load_record

    inv = tmp_path / "inv.yaml"
    inv.write_text("version: 1\ntargets:\n  - {name: dir1, type: ldap, url: 'ldaps://127.0.0.1:1'}\n")
    out = tmp_path / "out"
    assert cli.main(["scan", "-i", str(inv), "--check", "linux.time.*", "-o", str(out)]) == 5
    err = capsys.readouterr().err
    assert "nothing was evaluated for target 'dir1': no selected check applies to it (exit 5, not all clear)" in err
    assert "the scan produced no result (exit 5, not all clear)" in err
    assert load_record(out).info.warnings == (
        "target dir1 (ldap): no selected check applies; nothing was evaluated",)
    assert cli.main(["report", str(out), "--format", "json"]) == 5


@pytest.fixture
def tmpfs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()

    def mount(options: str):
        if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)], capture_output=True).returncode:
            pytest.skip("needs root to mount a tmpfs")
        return mnt

    yield mount
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _gxpscan(*argv, cwd=None):
    return subprocess.run([sys.executable, "-m", "scanner", *argv], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def test_a_read_only_output_directory_exits_4_in_one_line_before_scanning(tmpfs):
    mnt = tmpfs("size=64k,mode=0700,ro")
    proc = _gxpscan("scan", "--check", "linux.time.*", "-o", str(mnt / "out"))
    assert proc.returncode == 4
    assert proc.stderr.strip().splitlines() == [
        f"gxpscan: could not write results: cannot use output directory {mnt / 'out'}: Read-only file system"]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_disk_full_mid_scan_exits_4_and_the_record_stays_loadable(tmpfs):
    """A local scan of the whole Linux pack writes a header of ~60 KB (with the clauses its checks map to) and
    ~100 KB or more of evidence for its one target: 96 KiB runs out on the target."""
    from scanner.store import load_record

    mnt = tmpfs("size=96k,mode=0700")
    proc = _gxpscan("scan", "-o", str(mnt / "out"), "--format", "json")
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr
    [message] = [ln for ln in proc.stderr.splitlines() if "could not write results" in ln]
    assert "No space left on device" in message and "reads as interrupted" in message
    run = load_record(mnt / "out")
    assert run.info.interrupted and run.results == ()


def _records(tmp_path):
    from scanner.runner import TargetOutcome
    from scanner.store import RecordWriter
    from tests.factories import make_target

    def record(name, status):
        w = RecordWriter(tmp_path / name / "record.jsonl", make_run().info)
        results = (make_result(status=status),)
        w.add(TargetOutcome(make_target("host1"), results, evidence_for(results)))
        w.close()
        seal_run(tmp_path / name)  # report and diff verify first: a sealed run
        return tmp_path / name

    return record("old", "pass"), record("new", "fail")


@pytest.mark.parametrize("corrupt", [
    lambda text: text.replace('"status":"fail"', '"status":7'),
    lambda text: text.splitlines()[0] + "\nnot json\n" + "\n".join(text.splitlines()[1:]) + "\n",
    lambda text: text.replace('"run":"20261125T000000Z-abcdef","target"', '"run":"other","target"'),
    lambda text: text + text,
])
def test_a_corrupt_record_never_reads_as_new_failures_or_all_clear(tmp_path, corrupt):
    old, new = _records(tmp_path)
    path = new / "record.jsonl"
    path.write_text(corrupt(path.read_text()))
    for argv in (["diff", str(old), str(new)], ["report", str(new)]):
        proc = _gxpscan(*argv)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert proc.stdout == "" and "Traceback" not in proc.stderr
        [line] = proc.stderr.strip().splitlines()
        assert line.startswith(f"gxpscan: error: not a usable run record: {path}: line ")


# --- safe output from the CLI ---------------------------------------------------------------------------------

@pytest.mark.parametrize("setup, message", [
    pytest.param(lambda d: (d.mkdir(mode=0o700), __import__("os").chown(d, 65534, 65534)),
                 "is owned by nobody (uid 65534)", marks=pytest.mark.root),
    (lambda d: (d.mkdir(), d.chmod(0o770)), "is writable by group or others (mode 0770)"),
])
def test_scan_refuses_an_output_directory_it_does_not_control(tmp_path, capsys, setup, message):
    out = tmp_path / "out"
    setup(out)
    assert cli.main(["scan", "--check", "linux.time.*", "-o", str(out)]) == 4
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not list(out.iterdir())


def test_report_replaces_a_planted_symlink_instead_of_following_it(tmp_path):
    old, new = _records(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (new / "report.junit.xml").symlink_to(victim)
    # verify first sees the planted link (not sealed) and refuses; read anyway, the link is replaced, not followed
    assert cli.main(["report", str(new), "--format", "junit"]) == cli.EXIT_NOT_INTACT
    assert cli.main(["report", str(new), "--format", "junit", "--no-verify"]) == EXIT_FAILURES
    assert victim.read_text() == "precious" and "<failure" in (new / "report.junit.xml").read_text()


# --- structure: set_defaults, one selection helper, --quiet, warnings -----------------------------------------

def test_every_command_dispatches_through_set_defaults():
    import importlib
    import inspect
    from pathlib import Path

    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():  # commands of their own module (cli_history, ...) register there (issue 13)
        func = inspect.unwrap(sub.get_default("func"))  # scan: wrapped by cli_ops.with_lock (--lock, --notify)
        module = importlib.import_module(func.__module__)
        assert module.__name__.startswith("scanner.cli"), name
        assert func is getattr(module, "cmd_" + name.replace("-", "_")), name
    assert "globals()" not in Path(cli.__file__).read_text()


def test_scan_and_checks_share_one_selection(capsys):
    from scanner import frameworks
    from scanner.registry import Registry

    registry, catalogs = Registry.load(), frameworks.load_catalogs()
    chosen = cli.select_checks(registry, catalogs, framework="21cfr11", clause="11.10(d)")
    assert cli.main(["checks", "--framework", "21cfr11", "--clause", "11.10(d)", "--json"]) == EXIT_OK
    assert [c["id"] for c in json.loads(capsys.readouterr().out)] == [s.id for s in chosen]
    # the clause's checks; the challenges mapped to it are selected by scan --challenge, not by checks
    assert {s.id for s in chosen} == frameworks.checks_for(catalogs, "part11", "11.10(d)") - set(registry.challenges)
    assert [s.id for s in cli.select_checks(registry, catalogs, patterns=["linux.ssh.*"], platform="aws")] == []
    with pytest.raises(cli.UsageError, match="--clause needs --framework"):
        cli.select_checks(registry, catalogs, clause="1")


def test_quiet_asks_the_console_for_the_summary_line_only(tmp_path, monkeypatch, capsys):
    import reports

    seen = []
    monkeypatch.setattr(reports, "render", lambda fmt, run, out, **options: seen.append((fmt, options)))
    assert cli.main(["scan", "--check", "linux.time.*", "-o", str(tmp_path / "o"), "--quiet"]) in (0, 1, 3)
    assert seen == [("console", {"quiet": True, "verbose": False})]
    assert "run record:" not in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path / "o"), "-q"]) in (0, 1, 3)
    assert seen[-1] == ("console", {"quiet": True, "verbose": False})


def test_target_warnings_are_printed_escaped_as_targets_finish_and_recorded(tmp_path, monkeypatch, capsys):
    """The runner fills TargetOutcome.warnings; the CLI shows each at once (escaped) and the record keeps them."""
    import scanner.runner
    from scanner.runner import TargetOutcome
    from scanner.store import load_record

    def fake_scan(targets, specs, clause_map, *, on_done, **_):
        for t in targets:
            on_done(TargetOutcome(t, (make_result(target=t.name),), {},
                                  warnings=("ldap://x is plaintext \x1b]52;c;ZXZpbA==\x07 no TLS",)))
        return []

    monkeypatch.setattr(scanner.runner, "scan", fake_scan)
    out = tmp_path / "o"
    cli.main(["scan", "--check", "linux.time.*", "-o", str(out), "--format", "json"])
    err = capsys.readouterr().err
    assert "warning: " in err and "ldap://x is plaintext \\x1b]52;c;ZXZpbA==\\x07 no TLS" in err and "\x1b" not in err
    assert load_record(out).info.warnings == ("ldap://x is plaintext \x1b]52;c;ZXZpbA==\x07 no TLS",)
    assert json.loads((out / "report.json").read_text())["run"]["warnings"] == list(load_record(out).info.warnings)


def test_checks_platform_choices_are_the_supported_target_types():
    from scanner.inventory import SUPPORTED_TYPES, schema

    # code targets (iac) are judged by the aws checks: there is no "iac" check platform to filter on
    assert cli.PLATFORM_NAMES == [t for t in SUPPORTED_TYPES if t != "iac"]
    assert list(SUPPORTED_TYPES) == schema()["$defs"]["target"]["properties"]["type"]["enum"]
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["checks", "--platform", "iac"])


def test_log_lines_show_target_controls_escaped():
    import logging

    from scanner.cli import _TerminalSafeFormatter

    record = logging.LogRecord("gxpscan.runner", logging.WARNING, __file__, 1,
                               "target %s said %s", ("evil\x1b]52;c;aGk=\x07", "\x9b31mred\r"), None)
    line = _TerminalSafeFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line == "WARNING gxpscan.runner: target evil\\x1b]52;c;aGk=\\x07 said \\x9b31mred\\r"


# --- the parser of one subcommand (start-up of every command) ---------------------------------------------------

def _subcommands(parser) -> dict:
    return parser._subparsers._group_actions[0].choices


@pytest.mark.parametrize("command", sorted(_subcommands(cli.build_parser())))
def test_the_parser_of_one_command_is_that_command_s_part_of_the_whole_parser(command):
    """``build_parser(command)`` (what ``main`` uses) makes that subcommand's parser alone, and it is the whole
    parser's: the same help text (every option, default and choice) and the same parse of the same line."""
    whole, one = cli.build_parser(), cli.build_parser(command)
    assert list(_subcommands(one)) == [command]
    assert _subcommands(one)[command].format_help() == _subcommands(whole)[command].format_help()
    argv = [command, *(["x"] * sum(a.nargs is None and not a.option_strings
                                   for a in _subcommands(whole)[command]._actions))]
    try:
        expected = {k: v for k, v in vars(whole.parse_args(argv)).items() if k != "func"}
    except SystemExit:  # the command needs more than placeholders (a choice, a nested subcommand)
        with pytest.raises(SystemExit):
            one.parse_args(argv)
        return
    assert {k: v for k, v in vars(one.parse_args(argv)).items() if k != "func"} == expected


@pytest.mark.parametrize("argv", [["scna"], ["--log-level", "DEBUG", "scna"], []])
def test_a_line_that_does_not_start_with_a_command_gets_the_whole_parser(argv, capsys):
    with pytest.raises(SystemExit):
        cli.main(argv)
    err = capsys.readouterr().err
    assert ("'scan'" in err and "'checks'" in err and "'winrm-setup'" in err) if argv else "required" in err


def test_main_makes_one_subcommand_parser(monkeypatch, tmp_path):
    """Counted: ``gxpscan checks`` makes 2 ArgumentParsers (the top and its own), not one per subcommand."""
    import argparse

    made = []
    real = argparse.ArgumentParser.__init__

    def counted(self, *args, **kwargs):
        made.append(kwargs.get("prog"))
        real(self, *args, **kwargs)

    monkeypatch.setattr(argparse.ArgumentParser, "__init__", counted)
    assert cli.main(["checks", "--platform", "aws"]) == EXIT_OK
    assert len(made) == 2, made


#: the ``gxpscan`` script pip writes for the entry point (``scanner.__main__:main``; ``scanner.cli:entry`` before)
_SCRIPT = "import sys\nfrom {module} import {name}\nif __name__ == '__main__':\n    sys.exit({name}())\n"


@pytest.mark.parametrize("how", ["module", "script", "script-before"])
def test_as_its_own_program_gxpscan_ends_at_once_with_every_output_written_and_its_exit_code(tmp_path, how):
    """entry() ends the process without the interpreter's teardown when it owns it: what it printed is all there
    (a long output through a pipe), and so is the exit code (2: a bad inventory)."""
    script = tmp_path / "gxpscan"
    script.write_text(_SCRIPT.format(module="scanner.cli", name="entry") if how == "script-before"
                      else _SCRIPT.format(module="scanner.__main__", name="main"))
    program = ["-m", "scanner"] if how == "module" else [str(script)]
    env = {**os.environ, "PYTHONPATH": str(Path(cli.__file__).resolve().parent.parent)}
    shown = subprocess.run([sys.executable, *program, "schema", "result"], capture_output=True, text=True, env=env)
    assert shown.returncode == EXIT_OK and json.loads(shown.stdout)["title"]
    (tmp_path / "bad.yaml").write_text("version: 1\ntargets: [{name: a, type: nonsense}]\n")
    bad = subprocess.run([sys.executable, *program, "scan", "--inventory", str(tmp_path / "bad.yaml"), "--quiet"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == cli.EXIT_INPUT and "is not valid" in bad.stderr


def test_gxpscan_owns_the_process_only_as_its_main_program_and_alone(monkeypatch):
    import types

    alive = [1]  # the threads running besides none (earlier tests of the suite may leave some: counted here)
    monkeypatch.setattr(cli.threading, "active_count", lambda: alive[0])
    assert not cli._owns_process()  # pytest is the program here
    import scanner.__main__ as launcher

    program = types.ModuleType("__main__")
    program.main = launcher.main  # type: ignore[attr-defined]  # the console script's import
    monkeypatch.setitem(sys.modules, "__main__", program)
    assert cli._owns_process()
    del program.main
    assert not cli._owns_process()
    program.entry = cli.entry  # type: ignore[attr-defined]  # a script installed before scanner.__main__:main
    assert cli._owns_process()
    alive[0] = 2
    assert not cli._owns_process()  # a thread the exit would wait for


def test_the_command_raises_the_collector_thresholds_before_it_imports_its_modules(tmp_path):
    """``scanner.__main__.main`` sets the cyclic collector's thresholds, then imports the command; importing the
    package alone imports nothing of it (a program that imports scanner keeps its own settings)."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import gc, sys\n"
        "before = gc.get_threshold()\n"
        "import scanner, scanner.__main__ as launcher\n"
        "print(sorted(m for m in sys.modules if m.startswith('scanner.')), gc.get_threshold() == before)\n"
        "class Spy:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'scanner.cli':\n"
        "            print('cli imported with', gc.get_threshold())\n"
        "sys.meta_path.insert(0, Spy())\n"
        "sys.argv = ['gxpscan', 'schema', 'result']\n"
        "launcher.main()\n")
    env = {**os.environ, "PYTHONPATH": str(Path(cli.__file__).resolve().parent.parent)}
    shown = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, env=env)
    lines = shown.stdout.splitlines()
    assert shown.returncode == EXIT_OK, shown.stderr
    assert lines[0] == "['scanner.__main__'] True"
    assert lines[1] == "cli imported with (200000, 20, 20)"
    assert json.loads("\n".join(lines[2:]))["title"]


def test_output_to_a_closed_pipe_ends_as_the_interpreter_ends_it_not_with_a_traceback():
    """The flush before the quick exit fails on a pipe its reader closed: the interpreter's own exit then reports it
    (exit 120, one 'Exception ignored' line), as before gxpscan ended the process itself."""
    read, write = os.pipe()
    os.close(read)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout block-buffered, as in a pipe
    env["PYTHONPATH"] = str(Path(cli.__file__).resolve().parent.parent)
    try:
        proc = subprocess.run([sys.executable, "-m", "scanner", "frameworks"], stdout=write, stderr=subprocess.PIPE,
                              text=True, env=env)
    finally:
        os.close(write)
    assert proc.returncode == 120 and "Traceback" not in proc.stderr and "BrokenPipeError" in proc.stderr
