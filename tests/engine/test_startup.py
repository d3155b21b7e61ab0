"""Start-up of a scan (issues 9 and 10): what it compiles and imports, counted, never timed."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import scanner
from scanner import packaged, yamlload


def test_non_printable_is_pyyaml_s_class_over_every_code_point() -> None:
    """``yamlload._NON_PRINTABLE`` is written as the few ranges PyYAML's reader refuses (its negated class took
    10 ms to compile, in every scan that reads an inventory): the same characters, all 1,114,112 of them."""
    everything = "".join(map(chr, range(0x110000)))
    pyyaml: re.Pattern[str] = yaml.reader.Reader.NON_PRINTABLE
    ours = [m.start() for m in yamlload._NON_PRINTABLE.finditer(everything)]
    assert ours == [m.start() for m in pyyaml.finditer(everything)]
    assert len(ours) == 2111 and ours[:3] == [0, 1, 2] and 0x85 not in ours and 0xFFFE in ours


def test_packaged_files_are_the_folders_importlib_resources_gives() -> None:
    from importlib import resources

    for package in ("scanner", "checks.frameworks", "checks.profiles", "scanner.collectors.windows"):
        assert packaged.files(package) == resources.files(package)
    assert packaged.files("scanner").joinpath("schemas").joinpath("inventory.schema.json").read_text().startswith("{")


def _modules_of_scan(tmp_path: Path, target: dict[str, object], *checks: str) -> set[str]:
    """The modules a second ``gxpscan scan`` of one target imported (the first one filled the caches a user's
    repeated scans have), in a child started without ``site`` so that only gxpscan's imports are counted: this
    machine's ``.pth`` files import packages of their own (certifi, an editable install's finder)."""
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"version": 1, "targets": [target]}), encoding="utf-8")
    root = str(Path(scanner.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *(p for p in sys.path if p and p != root)]),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    dump = tmp_path / "modules.txt"
    selection = [a for c in checks for a in ("--check", c)]
    for run in ("first", "second"):
        argv = ["gxpscan", "scan", "--inventory", str(inventory), *selection, "--format", "json", "--quiet",
                "--output", str(tmp_path / run / "out")]
        code = ("import atexit, runpy, sys\n"
                f"atexit.register(lambda: open({str(dump)!r}, 'w').write('\\n'.join(sorted(sys.modules))))\n"
                f"sys.argv = {argv!r}\nrunpy.run_module('scanner', run_name='__main__')\n")
        proc = subprocess.run([sys.executable, "-S", "-c", code], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode in (0, 1, 3), proc.stderr  # findings (1) or a target error (3): the scan ran
    assert (tmp_path / "second" / "out" / "record.jsonl").is_file()
    return set(dump.read_text(encoding="utf-8").split("\n"))


#: What no scan imports before it needs it: other platforms' transports, TLS roots, the socket module (the host
#: name is read from ``os.uname``), importlib.resources (with tempfile and zipfile), entry-point metadata, pickle
#: (only a Dask executor's tasks travel pickled), shutil with its compression modules (argparse asked it the
#: terminal's width for every argument added; scanner/cli.py sizes the help when it is shown).
NEVER_AT_START = {"boto3", "botocore", "paramiko", "winrm", "ldap3", "requests", "urllib3", "certifi", "socket",
                  "importlib.resources", "tempfile", "zipfile", "importlib.metadata", "pickle", "shutil", "lzma",
                  "bz2", "secrets", "random", "getpass", "base64"}


def test_an_iac_scan_imports_nothing_of_another_platform(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n', encoding="utf-8")
    modules = _modules_of_scan(tmp_path, {"name": "code", "type": "iac", "path": ["main.tf"]}, "aws.s3.*")
    assert {"scanner.collectors.iac", "scanner.facts.aws", "checks.aws.s3"} <= modules
    other = {m for m in modules if m.startswith(("scanner.facts.linux", "scanner.facts.windows", "scanner.facts.ldap",
                                                   "scanner.collectors.linux", "scanner.collectors.windows",
                                                   "scanner.collectors.ldap", "scanner.collectors.aws",
                                                   "scanner.connectors.ssh",
                                                   "scanner.connectors.winrm", "scanner.connectors.ldap",
                                                   "checks.linux", "checks.windows", "checks.ldap"))}
    assert other == set()
    assert NEVER_AT_START & modules == set()
    assert "scanner.iacscope" not in modules  # what builds the inventory of --iac (this scan has one)
    # CloudFormation and plan readers: this code is HCL only
    assert {"scanner.collectors.iac._cfn", "scanner.collectors.iac._plan", "scanner.connectors.aws"} & modules == set()


def test_operator_and_python_version_are_what_socket_and_platform_say() -> None:
    """The run record's ``operator`` and ``python``, read without importing socket and platform."""
    import getpass
    import platform
    import socket

    from scanner import cli
    from scanner.inventory import local_document

    assert cli.operator_id() == f"{getpass.getuser()}@{socket.gethostname()}"
    assert cli.python_version() == platform.python_version()
    assert local_document()["targets"][0]["name"] == socket.gethostname()


@pytest.mark.parametrize(("environ", "account", "expected"), [
    ({"LOGNAME": "qa-lead", "USER": "other"}, "acct", "qa-lead"),
    ({"USER": "ops"}, "acct", "ops"),
    ({"LNAME": "ln"}, "acct", "ln"),
    ({"USERNAME": "win"}, "acct", "win"),
    ({"LOGNAME": ""}, "acct", "acct"),  # an empty variable is not a name: the account of the user id is
    ({}, None, "uid-{uid}"),  # a user id without an account (a container's): named by its number, no crash
], ids=["logname-first", "user", "lname", "username", "empty-skipped", "no-account"])
def test_the_operator_is_named_as_getpass_names_the_user(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str],
                                                         account: str | None, expected: str) -> None:
    import pwd

    from scanner import cli

    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    def getpwuid(uid: int) -> object:
        if account is None:
            raise KeyError(f"getpwuid(): uid not found: {uid}")
        return type("Entry", (), {"pw_name": account})()

    monkeypatch.setattr(pwd, "getpwuid", getpwuid)
    assert cli.operator_id() == f"{expected.format(uid=os.getuid())}@{os.uname().nodename}"


def test_declared_facts_are_what_the_collectors_provide() -> None:
    """The checks of an IaC scan are loaded against the AWS facts declared in scanner.facts.aws (the live AWS
    collector is not imported): the declaration is the live collector's facts, and the IaC collector's but the
    system under test (from the AWS connector), in the same order, of the same descriptions."""
    import importlib

    from scanner.collectors import DECLARED_FACTS, PLATFORM_COLLECTORS, aws, iac, known_facts
    from scanner.model import Platform

    assert DECLARED_FACTS == {Platform.AWS: "scanner.facts.aws"}
    for platform in DECLARED_FACTS:
        collector = importlib.import_module(PLATFORM_COLLECTORS[platform]).FACTS
        declared = {n: s for n, s in known_facts([platform]).items() if n.startswith(platform.value + ".")}
        assert list(declared.items()) == list(collector.items())
    assert len(aws.FACTS) == 19 and aws.FACTS["aws.s3_buckets"].description.startswith("S3 buckets of the scanned")
    assert [(n, s) for n, s in iac.FACTS.items() if n.startswith("aws.")] == \
        [(n, s) for n, s in aws.FACTS.items() if n != "aws.system"]
    assert {d.name: d.description for d in aws.DEFINITIONS} == {n: s.description for n, s in aws.FACTS.items()
                                                                 if n != "aws.system"}


def test_the_exit_walks_none_of_the_objects_of_the_run(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``entry`` ends with the objects alive left out of the cyclic collector's walks (``gc.freeze``): the
    interpreter's exit collected three times over all of them (1.5% of an IaC scan's instructions)."""
    import gc

    from scanner import cli

    threshold = gc.get_threshold()
    monkeypatch.setattr(sys, "argv", ["gxpscan", "schema", "inventory"])
    before = gc.get_freeze_count()
    try:
        with pytest.raises(SystemExit) as done:
            cli.entry()
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
    assert done.value.code == 0 and json.loads(capsys.readouterr().out)["title"] == "gxpscan inventory"
    assert frozen - before > 10_000  # every object alive: modules, functions, classes


@pytest.mark.parametrize("columns", ["40", "100", "180"])
def test_help_is_laid_out_as_argparse_lays_it_out(monkeypatch: pytest.MonkeyPatch, columns: str) -> None:
    """The help (and the usage of an error) sized to the terminal when shown is argparse's own layout."""
    import argparse

    from scanner import cli

    monkeypatch.setenv("COLUMNS", columns)
    ours = cli.build_parser()
    scan = cli.build_parser("scan")
    texts = [ours.format_help(), ours.format_usage(), scan._subparsers._group_actions[0].choices["scan"].format_help()]
    monkeypatch.setattr(cli, "_HelpFormatter", argparse.RawDescriptionHelpFormatter)
    stock = cli.build_parser()
    stock_scan = cli.build_parser("scan")
    assert texts == [stock.format_help(), stock.format_usage(),
                     stock_scan._subparsers._group_actions[0].choices["scan"].format_help()]
    assert (texts[0].count("\n") > 100) is (columns == "40")  # sized to the terminal: wrapped at 40 columns
