"""The ``gxpscan`` command line. Heavy libraries (boto3, paramiko, pywinrm, ldap3) load only when a scan needs them."""
from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import platform as _platform
import secrets
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_OK = 0  # every evaluated check passed (or was waived, not applicable or manual)
EXIT_FAILURES = 1  # at least one failure at or above --fail-on
EXIT_INPUT = 2  # bad input or usage: inventory, check selection, options (nothing was scanned)
EXIT_ERRORS = 3  # no failure, but some checks could not be evaluated (error)
EXIT_INTERRUPTED = 130  # the scan was interrupted; the run record keeps the finished targets

EXIT_CODES_HELP = f"""exit codes:
  {EXIT_OK}    all clear: no failure, no error
  {EXIT_FAILURES}    failures found (at or above --fail-on, default: low)
  {EXIT_INPUT}    bad input or usage (inventory fault, unknown check or framework); nothing was scanned
  {EXIT_ERRORS}    no failures, but some checks could not be evaluated (status error)
  {EXIT_INTERRUPTED}  interrupted; the run record keeps every target that finished
"""

log = logging.getLogger("gxpscan")
FORMAT_NAMES = ["console", "json", "junit", "sarif", "oq"]


class UsageError(Exception):
    pass


def _version() -> str:
    from scanner import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gxpscan", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compliance scanner for regulated IT: access control, encryption, password policy, backups and "
                    "audit logging, mapped to 21 CFR Part 11, EU GMP Annex 11 and ISO/IEC 27001.",
        epilog=EXIT_CODES_HELP)
    p.add_argument("--version", action="version", version=f"gxpscan {_version()}")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="log level on stderr (default WARNING)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("scan", help="scan the targets of an inventory", epilog=EXIT_CODES_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--inventory", "-i", metavar="FILE",
                   help="YAML or JSON inventory (default: this machine, scanned locally)")
    s.add_argument("--ansible-inventory", metavar="FILE", help="add the hosts of an Ansible inventory (INI or YAML)")
    s.add_argument("--check", "-c", action="append", default=[], metavar="ID|GLOB",
                   help="only these checks (repeatable; globs such as 'linux.ssh.*')")
    s.add_argument("--framework", "-f", metavar="F", help="only checks that give evidence for this framework")
    s.add_argument("--clause", metavar="C", help="with --framework: only checks for this clause")
    s.add_argument("--limit", "-l", default="", metavar="GROUPS",
                   help="only targets in these groups or with these names (comma-separated)")
    s.add_argument("--tag", "-t", action="append", default=[], metavar="TAG", help="only targets with this tag")
    s.add_argument("--format", action="append", default=[], choices=FORMAT_NAMES,
                   help="output format (repeatable; default console). Files go to --output; oq is an HTML OQ "
                        "evidence record for validation")
    s.add_argument("--output", "-o", metavar="DIR",
                   help="directory for the run record and report files (default ./gxpscan-results/RUN_ID)")
    s.add_argument("--concurrency", "-j", type=int, default=None, metavar="N",
                   help="targets scanned at once (default 16)")
    s.add_argument("--fail-on", default="low", choices=["info", "low", "medium", "high", "critical"],
                   help="lowest severity of a failure that makes the exit code 1 (default low)")
    s.add_argument("--verbose", "-v", action="store_true", help="console: list every finding, passes included")

    c = sub.add_parser("checks", help="list the available checks")
    c.add_argument("--platform", choices=["linux", "windows", "aws", "ldap", "iac"])
    c.add_argument("--framework", metavar="F")
    c.add_argument("--clause", metavar="C")
    c.add_argument("--json", action="store_true", help="machine-readable output")

    f = sub.add_parser("frameworks", help="list the framework catalogs, or show one clause by clause")
    f.add_argument("framework", nargs="?")

    sc = sub.add_parser("schema", help="print a JSON Schema")
    sc.add_argument("which", choices=["inventory", "result"])

    r = sub.add_parser("report", help="render a run record (complete or interrupted) again")
    r.add_argument("record", help="record.jsonl or the run's output directory")
    r.add_argument("--format", action="append", default=[], choices=FORMAT_NAMES)
    r.add_argument("--output", "-o", metavar="DIR")

    d = sub.add_parser("diff", help="what changed between two runs (new failures, fixed, changed)")
    d.add_argument("old")
    d.add_argument("new")

    sub.add_parser("aws-policy", help="print the least-privilege IAM policy the AWS checks need")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    handler = globals()["cmd_" + args.command.replace("-", "_")]
    try:
        return handler(args)
    except UsageError as exc:
        print(f"gxpscan: error: {exc}", file=sys.stderr)
        return EXIT_INPUT


# --- scan ---------------------------------------------------------------------------------------------

def _load_registry():
    from scanner.registry import CheckLoadError, Registry

    try:
        return Registry.load()
    except CheckLoadError as exc:
        raise UsageError(str(exc)) from None


def _select_checks(registry, catalogs, patterns, framework, clause) -> list:
    from scanner import frameworks

    ids = None
    if framework:
        try:
            ids = frameworks.checks_for(catalogs, frameworks.resolve(framework), clause)
        except KeyError as exc:
            raise UsageError(str(exc).strip("'\"")) from None
    elif clause:
        raise UsageError("--clause needs --framework")
    specs = registry.select(patterns, ids=ids)
    if not specs:
        raise UsageError("no check matches the selection: " + ", ".join(patterns or [framework or ""]))
    return specs


def _run_info(registry, specs, inventory, argv_summary: str):
    from scanner.model import RunInfo, utcnow

    started = utcnow()
    return RunInfo(
        id=f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}", tool_version=_version(),
        checks_fingerprint=registry.fingerprint(specs), operator=f"{getpass.getuser()}@{socket.gethostname()}",
        started=started, inventory=inventory.source, inventory_sha256=inventory.sha256, command=argv_summary,
        python=_platform.python_version())


class Progress:
    """A one-line progress display on stderr, only when stderr is a terminal."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.failing, self.erroring = total, 0, 0, 0
        self.stream = stream
        self.enabled = stream.isatty()

    def __call__(self, outcome) -> None:
        from scanner.model import Status

        self.done += 1
        statuses = {r.status for r in outcome.results}
        self.failing += Status.FAIL in statuses
        self.erroring += Status.ERROR in statuses
        if self.enabled:
            self.stream.write(f"\r{self.done}/{self.total} targets  {self.failing} failing  {self.erroring} erroring")
            self.stream.write("\n" if self.done == self.total else "")
            self.stream.flush()


def _write_reports(run, formats: Sequence[str], outdir: Path, framework: str | None = None) -> None:
    from reports import FORMATS, render

    for fmt in formats:
        if fmt == "console":
            render(fmt, run, sys.stdout, **({"frameworks": [framework]} if framework else {}))
            continue
        path = outdir / FORMATS[fmt][1]
        with open(path, "w", encoding="utf-8") as fh:
            render(fmt, run, fh)
        print(f"{fmt} report: {path}", file=sys.stderr)


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt


def exit_code(run, fail_on: str = "low") -> int:
    from scanner.model import Severity, Status

    threshold = Severity(fail_on).rank
    if run.info.interrupted:
        return EXIT_INTERRUPTED
    if any(r.status is Status.FAIL and r.severity.rank >= threshold for r in run.results):
        return EXIT_FAILURES
    if any(r.status is Status.ERROR for r in run.results):
        return EXIT_ERRORS
    return EXIT_OK


def cmd_scan(args: argparse.Namespace) -> int:
    from scanner import frameworks
    from scanner.inventory import InventoryError, load_inventory
    from scanner.runner import DEFAULT_CONCURRENCY, scan
    from scanner.store import RECORD_NAME, RecordWriter

    registry = _load_registry()
    catalogs = frameworks.load_catalogs()
    extra = None
    if args.ansible_inventory:
        from scanner.ansible import load_ansible_inventory

        try:
            extra = load_ansible_inventory(args.ansible_inventory)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{args.ansible_inventory}: {exc}") from None
    try:
        inventory = load_inventory(args.inventory, extra=extra, policy_names=registry.param_names())
    except InventoryError as exc:
        print(f"gxpscan: inventory {exc.source} is not valid (nothing was scanned):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_INPUT
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    targets = inventory.select([x for x in args.limit.split(",") if x], args.tag)
    if not targets:
        raise UsageError("no target matches --limit/--tag")
    specs = _select_checks(registry, catalogs, args.check, args.framework, args.clause)
    platforms = {s.platform for s in specs}
    for t in targets:
        if t.type not in platforms:
            print(f"gxpscan: warning: no selected check applies to target {t.name!r} ({t.type.value}); "
                  "it gets no result", file=sys.stderr)

    info = _run_info(registry, specs, inventory, " ".join(["gxpscan", *sys.argv[1:]])[:500])
    outdir = Path(args.output) if args.output else Path("gxpscan-results") / info.id
    try:
        record = RecordWriter(outdir / RECORD_NAME, info)
    except FileExistsError:
        raise UsageError(f"{outdir / RECORD_NAME} exists already; choose another --output") from None
    print(f"run record: {record.path}", file=sys.stderr)
    progress = Progress(len(targets))

    def done(outcome) -> None:
        record.add(outcome)
        progress(outcome)

    interrupted = False
    previous = signal.signal(signal.SIGTERM, _terminate)  # a scheduler's SIGTERM ends the run like Ctrl-C
    try:
        scan(targets, specs, frameworks.clause_map(catalogs), waivers=inventory.waivers,
             concurrency=args.concurrency or DEFAULT_CONCURRENCY, on_done=done)
    except KeyboardInterrupt:
        interrupted = True
        print("\ngxpscan: interrupted; finished targets are kept in the run record", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)
    run = record.close(interrupted=interrupted)
    _write_reports(run, args.format or ["console"], outdir,
                   frameworks.resolve(args.framework) if args.framework else None)
    return exit_code(run, args.fail_on)


# --- other commands ---------------------------------------------------------------------------------------

def cmd_checks(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from scanner import frameworks

    registry = _load_registry()
    catalogs = frameworks.load_catalogs()
    ids = None
    if args.framework:
        try:
            ids = frameworks.checks_for(catalogs, frameworks.resolve(args.framework), args.clause)
        except KeyError as exc:
            raise UsageError(str(exc).strip("'\"")) from None
    elif args.clause:
        raise UsageError("--clause needs --framework")
    specs = registry.select(platform=args.platform, ids=ids)
    cmap = frameworks.clause_map(catalogs)
    if args.json:
        json.dump([{"id": s.id, "title": s.title, "platform": s.platform.value, "severity": s.severity.value,
                    "area": s.area.value, "criterion": s.criterion, "params": dict(s.params),
                    "facts": list(s.facts), "needs_root": s.needs_root, "clauses": list(cmap.get(s.id, ())),
                    "module": s.module} for s in specs], sys.stdout, indent=2, default=str)
        print()
        return EXIT_OK
    print(tabulate([[s.id, s.severity.value, s.area.value, s.title] for s in specs],
                   headers=["check", "severity", "area", "title"]))
    print(f"\n{len(specs)} checks")
    return EXIT_OK


def cmd_frameworks(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from scanner import frameworks

    catalogs = frameworks.load_catalogs()
    if args.framework:
        try:
            print(frameworks.render_framework_text(catalogs[frameworks.resolve(args.framework)]))
        except KeyError as exc:
            raise UsageError(str(exc).strip("'\"")) from None
        return EXIT_OK
    print(tabulate([[c.id, c.title, c.version, c.status, len(c.clauses)] for c in catalogs.values()],
                   headers=["framework", "title", "version", "status", "clauses"]))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from scanner.inventory import schema

    print(json.dumps(schema(args.which), indent=2))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from scanner.store import load_record

    try:
        run = load_record(args.record)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    record = Path(args.record)
    outdir = Path(args.output) if args.output else (record if record.is_dir() else record.parent)
    outdir.mkdir(parents=True, exist_ok=True)
    _write_reports(run, args.format or ["console"], outdir)
    return exit_code(run)


def cmd_diff(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from scanner.model import Status
    from scanner.store import load_record

    try:
        old, new = load_record(args.old), load_record(args.new)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    before = {(r.target, r.check, r.resource): r.status for r in old.results}
    after = {(r.target, r.check, r.resource): r.status for r in new.results}
    rows = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if a != b:
            rows.append([*key, a.value if a else "-", b.value if b else "-"])
    print(f"{old.info.id} -> {new.info.id}")
    print(tabulate(rows, headers=["target", "check", "resource", "before", "after"]) if rows else "no change")
    regressed = any(after.get(k) is Status.FAIL and before.get(k) is not Status.FAIL for k in after)
    return EXIT_FAILURES if regressed else EXIT_OK


def cmd_aws_policy(args: argparse.Namespace) -> int:
    from scanner.collectors.aws import aws_iam_policy

    print(json.dumps(aws_iam_policy(), indent=2))
    return EXIT_OK


def entry() -> None:
    """Console entry point. After an interruption the record and reports are written; targets still in
    flight are abandoned rather than waited for (their own timeouts end their commands)."""
    code = main()
    if code == EXIT_INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
