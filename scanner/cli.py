"""The ``gxpscan`` command line. Heavy libraries (boto3, paramiko, pywinrm, ldap3) load only when a scan needs them."""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TextIO, cast

from scanner import (  # light modules: their commands import what they need to run
    GC_THRESHOLDS,
    cli_access,
    cli_challenge,
    cli_history,
    cli_risk,
)
from scanner.value import keep_compiled

if TYPE_CHECKING:
    from concurrent.futures import Executor
    from datetime import datetime

    from scanner.challenge import ChallengeSpec
    from scanner.executors import ExecutorSpec
    from scanner.frameworks import Catalog
    from scanner.iacscope import DiffScope
    from scanner.inventory import Inventory
    from scanner.model import Platform, Run, RunInfo, Target
    from scanner.prefetch import Prefetch
    from scanner.profiles import Profile
    from scanner.registry import CheckSpec, Registry
    from scanner.runner import TargetOutcome
    from scanner.store import Record

EXIT_OK = 0  # every evaluated check passed (or was waived, not applicable or manual)
EXIT_FAILURES = 1  # at least one failure at or above --fail-on (diff: something newly fails)
EXIT_INPUT = 2  # bad input or usage: inventory, check selection, options, a corrupt run record
EXIT_ERRORS = 3  # no failure, but some checks could not be evaluated (error)
EXIT_WRITE = 4  # could not write results (output directory unusable or unsafe, disk full, I/O error)
EXIT_NOTHING = 5  # nothing was evaluated for a target (no selected check applies to it) or for the whole scan
EXIT_NOT_INTACT = 6  # verify (and report, diff, sign, which verify first): the run record is not intact
EXIT_NOTIFY = 7  # the scan is done and kept, but a notification could not be sent (issue 13)
EXIT_LOCKED = 8  # --lock: another scan holds the lock; nothing was scanned (issue 13)
EXIT_INTERRUPTED = 130  # the scan was interrupted; the run record keeps the finished targets
EXIT_CODES = (EXIT_OK, EXIT_FAILURES, EXIT_INPUT, EXIT_ERRORS, EXIT_WRITE, EXIT_NOTHING, EXIT_NOT_INTACT,
              EXIT_NOTIFY, EXIT_LOCKED, EXIT_INTERRUPTED)

EXIT_CODES_HELP = f"""exit codes:
  {EXIT_OK}    all clear: no failure, no error, every target evaluated
  {EXIT_FAILURES}    failures found (at or above --fail-on, default: low); diff: something newly fails
  {EXIT_INPUT}    bad input or usage (inventory fault, unknown check or framework, corrupt run record)
  {EXIT_ERRORS}    no failures, but some checks could not be evaluated (status error)
  {EXIT_WRITE}    could not write results (output directory unusable or unsafe, disk full); the run record
       keeps every target written before the fault
  {EXIT_NOTHING}    nothing was evaluated for a target (no selected check applies to it) or for the whole
       scan: not all clear
  {EXIT_NOT_INTACT}    verify: the run (or the chain) is not intact: a file changed, added or removed, a
       signature or time-stamp that does not verify, an inconsistent record; report, diff and sign
       verify first and refuse such a run (unless --no-verify)
  {EXIT_NOTIFY}    scan done and kept (reports written, run sealed), but a notification (--notify) failed
  {EXIT_LOCKED}    --lock: another scan holds the lock; nothing was scanned
  {EXIT_INTERRUPTED}  interrupted; the run record keeps every target that finished
"""

log = logging.getLogger("gxpscan")
FORMAT_NAMES = ["console", "json", "junit", "sarif", "gitlab-sast", "oq", "pdf", "csv", "compliance-csv", "dashboard"]
#: Formats of `gxpscan protocol`.
PROTOCOL_FORMATS = ["json", "oq", "pdf"]
#: Platforms the `checks --platform` filter accepts (the target types of this version).
PLATFORM_NAMES = ["linux", "windows", "aws", "ldap"]


class UsageError(Exception):
    pass


def _version() -> str:
    from scanner import __version__

    return __version__


def _for_terminal(text: str) -> str:
    """Control characters (ESC, C1, bidi, ...) from target data shown escaped, never sent to the terminal raw."""
    from reports.text import for_terminal

    return for_terminal(text)


class _TerminalSafeFormatter(logging.Formatter):
    """Log lines can carry target data (hostnames, error text): escaped like every console line."""

    def format(self, record: logging.LogRecord) -> str:
        return _for_terminal(super().format(record))


def _say(message: str) -> None:
    print(f"gxpscan: {_for_terminal(message)}", file=sys.stderr)


class _Unbuilt:
    """What the parser-building code gets for a subcommand this run does not run (``build_parser(command)``): it
    takes every call (``add_argument``, ``set_defaults``, groups, nested subcommands) and builds nothing."""

    def __getattr__(self, name: str) -> Callable[..., _Unbuilt]:
        return lambda *args, **kwargs: self


class _Subcommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """The subcommands. With ``only`` set, only that subcommand's parser is made: an ArgumentParser takes some
    0.3 ms to make (gettext lookups), and ``gxpscan scan`` needs one of the 19."""

    only: str | None = None

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if self.only is not None and name != self.only:
            return cast(argparse.ArgumentParser, _Unbuilt())
        made: argparse.ArgumentParser = super().add_parser(name, **kwargs)
        return made


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's raw description layout, sized to the terminal when help is shown: argparse makes a formatter for
    every argument it adds (to check its metavar) and asked the terminal's width for each, importing shutil (with
    its compression modules) for a command line that shows no help."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, 80 if width is None else width)
        self._help_position = max_help_position if width is None else None

    def format_help(self) -> str:
        if self._help_position is not None:  # sized as argparse sizes a formatter made without a width
            import shutil

            width = shutil.get_terminal_size().columns - 2
            self._width = width
            self._max_help_position = min(self._help_position, max(width - 20, self._indent_increment * 2))
        return super().format_help()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``command``, one that knows that subcommand only (what ``main`` uses when
    the command line starts with it), else the whole one (also when ``command`` is no subcommand)."""
    raw = _HelpFormatter
    p = argparse.ArgumentParser(
        prog="gxpscan", formatter_class=raw,
        description="Compliance scanner for regulated IT: access control, encryption, password policy, backups and "
                    "audit logging, mapped to 21 CFR Part 11, EU GMP Annex 11 and ISO/IEC 27001.",
        epilog=EXIT_CODES_HELP)
    p.add_argument("--version", action="version", version=f"gxpscan {_version()}")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="log level on stderr (default WARNING)")
    sub = cast(_Subcommands, p.add_subparsers(dest="command", metavar="COMMAND", required=True, action=_Subcommands,
                                              prog=p.prog))  # what argparse would format (no positional before)
    sub.only = command

    s = sub.add_parser("scan", help="scan the targets of an inventory", epilog=EXIT_CODES_HELP, formatter_class=raw)
    from scanner import cli_ops  # issue 13: --lock, retention, latest link, --notify; `gxpscan dashboard`

    s.set_defaults(func=cli_ops.with_lock(cmd_scan))
    cli_ops.add_scan_options(s)
    s.add_argument("--inventory", "-i", metavar="FILE",
                   help="YAML or JSON inventory (default: this machine, scanned locally)")
    s.add_argument("--ansible-inventory", metavar="FILE", help="add the hosts of an Ansible inventory (INI or YAML)")
    s.add_argument("--iac", nargs="+", metavar="PATH",
                   help="scan infrastructure as code instead of an inventory: one code target per PATH (Terraform "
                        "directory or plan JSON, CloudFormation template), judged by the AWS checks")
    s.add_argument("--diff-base", metavar="REF",
                   help="only findings on code resources changed against this git ref (since the merge base "
                        "of REF and HEAD): new files and changed line ranges")
    s.add_argument("--check", "-c", action="append", default=[], metavar="ID|GLOB",
                   help="only these checks (repeatable; globs such as 'linux.ssh.*')")
    s.add_argument("--framework", "-f", metavar="F", help="only checks that give evidence for this framework")
    s.add_argument("--clause", metavar="C", help="with --framework: only checks for this clause")
    s.add_argument("--limit", "-l", default="", metavar="GROUPS",
                   help="only targets in these groups or with these names (comma-separated)")
    s.add_argument("--tag", "-t", action="append", default=[], metavar="TAG", help="only targets with this tag")
    s.add_argument("--format", action="append", default=[], choices=FORMAT_NAMES,
                   help="output format (repeatable; default console). Files go to --output; oq is an HTML OQ "
                        "execution record for validation, pdf the same as PDF, gitlab-sast GitLab's SAST report; "
                        "csv the findings, compliance-csv one row per framework clause")
    s.add_argument("--output", "-o", metavar="DIR",
                   help="directory for the run record and report files (default ./gxpscan-results/RUN_ID); "
                        "created 0700, must be yours and not writable by group or others")
    s.add_argument("--concurrency", "-j", type=int, default=None, metavar="N",
                   help="targets scanned at once (default 16)")
    _executor_options(s)
    s.add_argument("--fail-on", default="low", choices=["info", "low", "medium", "high", "critical"],
                   help="lowest severity of a failure that makes the exit code 1 (default low)")
    s.add_argument("--verbose", "-v", action="store_true", help="console: list every finding, passes included")
    s.add_argument("--quiet", "-q", action="store_true", help="console: print only the summary line")
    cli_risk.report_options(s)  # issue 17: --risk-matrix, --min-risk, --sort risk
    s.add_argument("--operator-name", metavar="NAME", default=None,
                   help="printed name of the person running the scan, recorded beside user@host "
                        "(default: environment variable GXPSCAN_OPERATOR)")
    _seal_options(s)
    s.add_argument("--profile", metavar="NAME|FILE",
                   help="apply a profile: its checks and thresholds (see `gxpscan profiles`); its SHA-256 is recorded")
    _document_options(s, protocol_help="the approved test protocol (protocol.json from `gxpscan protocol`) this "
                                       "run executes: its SHA-256 is recorded, a copy kept beside the run record, "
                                       "and the OQ record lists every difference as a deviation")
    cli_history.scan_options(s)  # issue 13: --history SPEC, --no-history
    cli_challenge.add_scan_options(s)  # issue 12: --challenge safe|intrusive, --plan

    c = sub.add_parser("checks", help="list the available checks")
    c.set_defaults(func=cmd_checks)
    c.add_argument("--platform", choices=PLATFORM_NAMES)
    c.add_argument("--framework", metavar="F")
    c.add_argument("--clause", metavar="C")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.add_argument("--challenges", action="store_true",
                   help="list the challenge tests (scan --challenge) instead of the checks")

    f = sub.add_parser("frameworks", help="list the framework catalogs, or show one clause by clause")
    f.set_defaults(func=cmd_frameworks)
    f.add_argument("framework", nargs="?")

    sc = sub.add_parser("schema", help="print a JSON Schema")
    sc.set_defaults(func=cmd_schema)
    sc.add_argument("which", choices=["inventory", "result", "selftest", "access-review", "risk_matrix"])

    r = sub.add_parser("report", help="render a run record (complete or interrupted) again", epilog=EXIT_CODES_HELP,
                       formatter_class=raw)
    r.set_defaults(func=cmd_report)
    r.add_argument("record", help="record.jsonl or the run's output directory")
    r.add_argument("--format", action="append", default=[], choices=FORMAT_NAMES)
    r.add_argument("--output", "-o", metavar="DIR")
    r.add_argument("--verbose", "-v", action="store_true", help="console: list every finding, passes included")
    r.add_argument("--quiet", "-q", action="store_true", help="console: print only the summary line")
    cli_risk.report_options(r)  # issue 17: --risk-matrix, --min-risk, --sort risk
    _verify_options(r)
    _seal_options(r)
    _document_options(r, protocol_help="the protocol the run executed (default: protocol.json beside the record)")

    d = sub.add_parser("diff", help="what changed between two runs: new failures, fixed, changed, policy changes, "
                                    "no longer scanned, new targets and checks (exit 1 only for new failures)")
    d.set_defaults(func=cmd_diff)
    d.add_argument("old", help="the earlier run (record.jsonl or its directory, or from the history: a run id, "
                               "latest or previous)")
    d.add_argument("new", help="the later run")
    d.add_argument("--format", choices=["text", "json"], default="text", help="text (default) or json")
    _verify_options(d)
    cli_history.diff_options(d)  # issue 13: run ids from the history
    cli_history.register(sub)  # issue 13: gxpscan history, history import
    cli_access.register(sub)  # issue 17: gxpscan access-review
    cli_risk.register(sub)  # issue 17: gxpscan management-review

    pr = sub.add_parser("protocol", help="write the OQ test protocol (to approve before execution) for an inventory",
                        formatter_class=raw,
                        epilog="Test ids: OQ-<platform>-<check>-<target>, e.g. OQ-LNX-SSH-ROOTLOGIN-web01.")
    pr.set_defaults(func=cmd_protocol)
    pr.add_argument("--inventory", "-i", metavar="FILE", help="YAML or JSON inventory (default: this machine)")
    pr.add_argument("--check", "-c", action="append", default=[], metavar="ID|GLOB", help="only these checks")
    pr.add_argument("--framework", "-f", metavar="F", help="only checks for this framework; its clauses are the "
                                                           "scope (default: every framework in force)")
    pr.add_argument("--clause", metavar="C", help="with --framework: only checks for this clause")
    pr.add_argument("--limit", "-l", default="", metavar="GROUPS", help="only targets in these groups or names")
    pr.add_argument("--tag", "-t", action="append", default=[], metavar="TAG", help="only targets with this tag")
    pr.add_argument("--format", action="append", default=[], choices=PROTOCOL_FORMATS,
                    help="json (protocol.json, canonical, the one a scan executes), oq (HTML), pdf; repeatable; "
                         "default json and oq")
    pr.add_argument("--output", "-o", metavar="DIR", default="gxpscan-protocol",
                    help="directory for the protocol files (default ./gxpscan-protocol)")
    pr.add_argument("--document-id", metavar="ID", help="document id (default OQP-<inventory file name>)")
    pr.add_argument("--document-version", metavar="V", default="1", help="document version (default 1)")
    pr.add_argument("--template-dir", metavar="DIR", help="site templates overriding reports/templates by name")
    pr.add_argument("--paper", choices=["A4", "letter"], default="A4", help="page size of the PDF (default A4)")

    a = sub.add_parser("aws-policy", help="print the least-privilege IAM policy the AWS checks need")
    a.set_defaults(func=cmd_aws_policy)
    w = sub.add_parser("winrm-setup", help="print the least-privilege WinRM setup a Windows administrator runs once")
    w.add_argument("--account", default="gxpscan-svc", help="name of the scan account (default gxpscan-svc)")
    w.set_defaults(func=cmd_winrm_setup)
    _integrity_parsers(sub, raw)
    cli_ops.register(sub)
    _selftest_parser(sub, raw)

    pr = sub.add_parser("profiles", help="list the profiles (built-in and from plugins), or show one in full")
    pr.set_defaults(func=cmd_profiles)
    pr.add_argument("profile", nargs="?", metavar="NAME|FILE")
    pr.add_argument("--json", action="store_true", help="machine-readable output")
    if command is not None and command not in sub.choices:
        return build_parser()
    return p


def _executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", metavar="URL", default=None,
                   help="where targets are scanned: local (default, a thread pool here) or a Dask scheduler, "
                        "dask://HOST[:8786] (plain TCP, recorded as a warning) or tls://HOST[:8786]; each target "
                        "goes to a worker started with --resources zone-<its zone>=1")
    p.add_argument("--dask-tls-ca", metavar="FILE", help="with tls://: CA certificate of the Dask cluster")
    p.add_argument("--dask-tls-cert", metavar="FILE", help="with tls://: this client's certificate")
    p.add_argument("--dask-tls-key", metavar="FILE", help="with tls://: this client's private key")
    p.add_argument("--zone-wait", type=float, default=None, metavar="SECONDS",
                   help="with a Dask executor: how long a target waits for a worker of its zone before it is "
                        "error (default 60)")


def _seal_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sign-key", metavar="FILE",
                   help="sign the run's manifest with this Ed25519 private key (see gxpscan keygen)")
    p.add_argument("--sign-key-passphrase-env", metavar="NAME",
                   help="environment variable holding the passphrase of --sign-key (never on the command line)")
    p.add_argument("--tsa", metavar="URL", help="get an RFC 3161 time-stamp over the manifest from this TSA")


def _verify_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-verify", action="store_true",
                   help="read the run even when it is not intact (loudly warned; nothing is re-sealed)")
    p.add_argument("--pubkey", action="append", default=[], metavar="FILE",
                   help="trusted public key(s): every signature must be made with one of them (repeatable)")
    p.add_argument("--tsa-cert", action="append", default=[], metavar="FILE",
                   help="certificate(s) of the time-stamping authority, to check time-stamp signatures")


def _integrity_parsers(sub: Any, raw: type[argparse.HelpFormatter]) -> None:
    k = sub.add_parser("keygen", help="create an Ed25519 key pair for signing runs (OUT and OUT.pub)")
    k.set_defaults(func=cmd_keygen)
    k.add_argument("out", metavar="OUT", help="private key file to create (0600); the public key goes to OUT.pub")
    k.add_argument("--passphrase-env", metavar="NAME",
                   help="encrypt the private key with the passphrase held in this environment variable")

    v = sub.add_parser("verify", help="prove a run directory (or, with --chain, every run of a results "
                                      "directory) intact", epilog=EXIT_CODES_HELP, formatter_class=raw)
    v.set_defaults(func=cmd_verify)
    v.add_argument("path", metavar="RUN_DIR", help="a run directory (or a selftest --out directory); with --chain, "
                                                   "the results directory")
    v.add_argument("--chain", action="store_true", help="verify every run below PATH and the hash chain between them")
    v.add_argument("--pubkey", action="append", default=[], metavar="FILE",
                   help="trusted public key(s): every signature must be made with one of them (repeatable)")
    v.add_argument("--tsa-cert", action="append", default=[], metavar="FILE",
                   help="certificate(s) of the time-stamping authority, to check time-stamp signatures")
    v.add_argument("--quiet", "-q", action="store_true", help="print only problems and the verdict")

    g = sub.add_parser("sign", help="sign a sealed run as reviewer or approver (an electronic signature over its "
                                    "manifest)", epilog=EXIT_CODES_HELP, formatter_class=raw)
    g.set_defaults(func=cmd_sign)
    g.add_argument("path", metavar="RUN_DIR")
    g.add_argument("--role", required=True, choices=["reviewer", "approver"])
    g.add_argument("--meaning", required=True, help='what the signature means, e.g. "Reviewed and approved"')
    g.add_argument("--name", required=True, help="the signer's printed name")
    g.add_argument("--key", required=True, metavar="FILE", help="the signer's Ed25519 private key")
    g.add_argument("--key-passphrase-env", metavar="NAME",
                   help="environment variable holding the passphrase of --key (never on the command line)")
    g.add_argument("--pubkey", action="append", default=[], metavar="FILE",
                   help="trusted public key(s) the run must verify against before it is signed (repeatable)")
    g.add_argument("--tsa-cert", action="append", default=[], metavar="FILE", help=argparse.SUPPRESS)

# --- selftest (issue 15): the tool qualifies itself ------------------------------------------------------------

def _selftest_parser(sub: Any, raw: type[argparse.HelpFormatter]) -> None:
    t = sub.add_parser("selftest", help="qualify this installation: installed files, dependencies, catalogs (IQ) "
                                        "and every check on known answers (OQ)", epilog=EXIT_CODES_HELP,
                       formatter_class=raw)
    t.set_defaults(func=cmd_selftest)
    t.add_argument("--format", action="append", choices=["console", "json", "oq", "pdf"], default=[],
                   help="console (default), json (stdout, or selftest.json with --out), oq (selftest.html) and pdf "
                        "(selftest.pdf) with --out; repeatable")
    t.add_argument("--out", metavar="DIR", help="write the records into this new directory and seal it "
                                                "(manifest-001.json over every file)")
    t.add_argument("--sign-key", metavar="FILE", help="sign the seal with this Ed25519 private key")
    t.add_argument("--sign-key-passphrase-env", metavar="NAME", help="environment variable holding its passphrase")
    t.add_argument("--tsa", metavar="URL", help="get an RFC 3161 time-stamp over the seal from this TSA")
    t.add_argument("--verbose", "-v", action="store_true", help="console: every test, not only the ones that "
                                                                "did not pass")


def cmd_selftest(args: argparse.Namespace) -> int:
    """Exit 0 when every test passed, 1 when one failed, 3 when none failed but some could not be verified (a
    development install has no release manifest)."""
    from scanner.selftest import FAIL, NOT_VERIFIED, render, run_selftest

    formats = args.format or ["console"]
    if ("oq" in formats or "pdf" in formats) and not args.out:
        raise UsageError("--format oq and pdf write selftest.html and selftest.pdf: give --out DIR")
    if (args.sign_key or args.sign_key_passphrase_env) and not args.out:
        raise UsageError("--sign-key signs the sealed records: give --out DIR")
    if args.tsa and not args.out:
        raise UsageError("--tsa time-stamps the sealed records: give --out DIR")
    if args.sign_key_passphrase_env and not args.sign_key:
        raise UsageError("--sign-key-passphrase-env needs --sign-key")
    key = _private_key(args.sign_key, args.sign_key_passphrase_env) if args.sign_key else None
    result = run_selftest()
    if "console" in formats:
        sys.stdout.write(render.console(result, verbose=args.verbose))
    if "json" in formats and not args.out:
        sys.stdout.write(render.to_json(result))
    if args.out:
        from scanner.seal import SealError

        try:
            written = render.write(result, args.out, formats, key, tsa_url=args.tsa)
        except SealError as exc:
            _say(f"could not seal {args.out}: {exc}; the records in it are NOT sealed")
            return EXIT_WRITE
        for path in written:
            _say(f"wrote {path}")
    return {FAIL: EXIT_FAILURES, NOT_VERIFIED: EXIT_ERRORS}.get(result.verdict, EXIT_OK)


def _document_options(p: argparse.ArgumentParser, protocol_help: str) -> None:
    p.add_argument("--protocol", metavar="FILE", help=protocol_help)
    p.add_argument("--template-dir", metavar="DIR",
                   help="oq/pdf: site templates that override reports/templates by name (branding)")
    p.add_argument("--paper", choices=["A4", "letter"], default="A4", help="pdf: page size (default A4)")


def main(argv: Sequence[str] | None = None, *, prefetch: Prefetch | None = None) -> int:
    """Run the command ``argv`` (default: this process's); ``prefetch``: the child collecting the facts of its code
    targets (``scanner.prefetch``), used by ``scan``."""
    from scanner.safefs import OutputError
    from scanner.store import RecordError

    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv and not argv[0].startswith("-") else None)
    args = parser.parse_args(argv)
    args.prefetch = prefetch
    log_handler = logging.StreamHandler(sys.stderr)
    log_handler.setFormatter(_TerminalSafeFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level, handlers=[log_handler])
    handler: Callable[[argparse.Namespace], int] = args.func
    try:
        return handler(args)
    except UsageError as exc:
        _say(f"error: {exc}")
        return EXIT_INPUT
    except RecordError as exc:
        _say(f"error: not a usable run record: {exc}")
        return EXIT_INPUT
    except OutputError as exc:
        _say(f"could not write results: {exc}")
        return EXIT_WRITE


# --- check selection (scan and checks) ------------------------------------------------------------------------

def _load_registry(platforms: Iterable[Platform] | None = None, patterns: Sequence[str] | None = None) -> Registry:
    """Every check plugin, or (``platforms``) only those a scan of these platforms needs; with ``patterns`` (check id
    globs) at least the checks they match (``Registry.load``)."""
    from scanner.registry import CheckLoadError, Registry

    try:
        return Registry.load(platforms=platforms, patterns=patterns)
    except CheckLoadError as exc:
        raise UsageError(str(exc)) from None


def _policy_checked(inventory: Inventory, registry: Registry) -> Registry:
    """The registry whose thresholds the inventory's policy names are; every check plugin is loaded when the
    partial registry does not know a name. Raises InventoryError for a name no check knows."""
    from scanner.inventory import InventoryError, check_policy_names

    try:
        check_policy_names(inventory, registry.param_names())
        return registry
    except InventoryError:
        if registry.platforms is None:
            raise
    registry = _load_registry()
    check_policy_names(inventory, registry.param_names())
    return registry


def _catalog_ids_not_loaded(registry: Registry, catalogs: Mapping[str, Catalog], *, patterns: Sequence[str] = (),
                             framework: str | None = None, clause: str | None = None) -> list[str]:
    """The catalogs' check ids of the platforms whose plugins this registry did not load, as the selection names
    them: a run records the clauses of its whole selection, as if every plugin were loaded (every packaged check
    is in a catalog), so that the clause coverage shows the same evidence, and the same gaps, either way."""
    from scanner import frameworks
    from scanner.registry import id_matcher, plugin_platform

    if registry.platforms is None:
        return []
    named = (frameworks.checks_for(catalogs, framework, clause) if framework
             else {cid for cat in catalogs.values() for cid in cat.check_ids})
    matches = id_matcher(patterns)
    return sorted(cid for cid in named if cid not in registry.checks
                  and ".challenge." not in cid  # challenge tests (by their ids' convention) are chosen by --challenge
                  and plugin_platform(cid.split(".", 1)[0]) not in registry.platforms
                  and (not patterns or matches(cid)))


def select_checks(registry: Registry, catalogs: Mapping[str, Catalog], *, patterns: Sequence[str] = (),
                  framework: str | None = None, clause: str | None = None,
                  platform: str | None = None) -> list[CheckSpec]:
    """The checks chosen by id/glob, framework (and clause) and platform: the one selection `scan` and `checks`
    share. An unknown framework or clause, or --clause without --framework, is a UsageError."""
    from scanner import frameworks

    ids = None
    if framework:
        try:
            ids = frameworks.checks_for(catalogs, frameworks.resolve(framework, catalogs), clause)
        except KeyError as exc:
            raise UsageError(str(exc).strip("'\"")) from None
    elif clause:
        raise UsageError("--clause needs --framework")
    return list(registry.select(list(patterns), platform=platform, ids=ids))


def operator_id() -> str:
    """Who runs gxpscan, from where: ``user@host``. The user as ``getpass.getuser()`` names it (the first of the
    variables LOGNAME, USER, LNAME, USERNAME that is set, else the account of the user id), or ``uid-N`` for a user
    id without an account (a container's); the host name as ``socket.gethostname()`` gives it. Read without
    importing getpass (and its terminal modules) or socket: both names are the kernel's and the environment's."""
    user = next((os.environ[v] for v in ("LOGNAME", "USER", "LNAME", "USERNAME") if os.environ.get(v)), None)
    if user is None:
        import pwd

        try:
            user = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            user = f"uid-{os.getuid()}"
    return f"{user}@{os.uname().nodename}"


def python_version() -> str:
    """``platform.python_version()`` without importing ``platform`` (and compiling its nine regexes): the version
    is the first word of ``sys.version`` (``3.11.7``, ``3.13.0rc1``)."""
    return sys.version.split(maxsplit=1)[0]


def _run_info(registry: Registry, specs: Sequence[CheckSpec | ChallengeSpec], inventory: Inventory, argv_summary: str,
              operator_name: str = "", previous_manifest: str = "", started: datetime | None = None) -> RunInfo:
    from scanner.model import RunInfo, utcnow

    started = started or utcnow()
    return RunInfo(
        id=f"{started:%Y%m%dT%H%M%SZ}-{os.urandom(3).hex()}", tool_version=_version(),
        checks_fingerprint=registry.fingerprint(specs), operator=operator_id(),
        started=started, inventory=inventory.source, inventory_sha256=inventory.sha256, command=argv_summary,
        python=python_version(), operator_name=operator_name,
        previous_manifest_sha256=previous_manifest)


class Progress:
    """A one-line progress display on stderr, only when stderr is a terminal."""

    def __init__(self, total: int, stream: TextIO | None = None):
        self.total, self.done, self.failing, self.erroring = total, 0, 0, 0
        stream = stream or sys.stderr  # the stream of the moment, not the one when this module was imported
        self.stream = stream
        self.enabled = stream.isatty()

    def __call__(self, outcome: TargetOutcome) -> None:
        from scanner.model import Status

        self.done += 1
        statuses = {r.status for r in outcome.results}
        self.failing += Status.FAIL in statuses
        self.erroring += Status.ERROR in statuses
        if self.enabled:
            self.stream.write(f"\r{self.done}/{self.total} targets  {self.failing} failing  {self.erroring} erroring")
            self.stream.write("\n" if self.done == self.total else "")
            self.stream.flush()


def _write_reports(run: Run, formats: Sequence[str], outdir: Path, *, framework: str | None = None,
                   quiet: bool = False, verbose: bool = False, documents: Mapping[str, Any] | None = None,
                   findings: Sequence[Mapping[str, Any]] | None = None, sort: str | None = None,
                   shown: Run | None = None) -> None:
    """The console report to stdout; every other format to its file in ``outdir`` (written safely: see safefs).
    ``shown``: the results the reports show (--min-risk, --sort); the JSON report and the OQ record stay complete
    (see scanner.cli_risk.view_for)."""
    shown = shown or run
    from reports import FORMATS, render
    from scanner.safefs import OutputDir

    files = [fmt for fmt in formats if fmt != "console"]
    if files:
        with OutputDir.open(outdir) as directory:
            for fmt in files:
                with directory.replace(FORMATS[fmt][1]) as fh:
                    extra: Mapping[str, Any] = (documents or {}) if fmt in ("oq", "pdf", "dashboard") else {}
                    subject = cli_risk.view_for(fmt, run, shown, sort)
                    if fmt == "json" and findings is not None and subject is run:  # the record's dicts, built once
                        extra = {"findings": findings}
                    render(fmt, subject, fh, **extra)
                if not quiet:
                    print(f"{fmt} report: {outdir / FORMATS[fmt][1]}", file=sys.stderr)
    if "console" in formats:
        options: dict[str, Any] = {"quiet": quiet, "verbose": verbose}
        if sort:
            options["sort"] = sort
        if framework:
            options["frameworks"] = [framework]
        render("console", shown, sys.stdout, **options)


def _executor_spec(args: argparse.Namespace) -> ExecutorSpec:
    from scanner.executors import DEFAULT_ZONE_WAIT, ExecutorError, parse_executor

    try:
        return parse_executor(args.executor, tls_ca=args.dask_tls_ca, tls_cert=args.dask_tls_cert,
                              tls_key=args.dask_tls_key,
                              zone_wait=DEFAULT_ZONE_WAIT if args.zone_wait is None else args.zone_wait)
    except ExecutorError as exc:
        raise UsageError(str(exc)) from None


def _open_executor(spec: ExecutorSpec, fingerprint: str) -> Executor | None:
    """The Dask zone executor (None: local); a scheduler that cannot be reached is a usage fault."""
    from scanner.executors import open_executor

    try:
        return open_executor(spec, fingerprint)
    except OSError as exc:
        raise UsageError(f"cannot reach the Dask scheduler {spec.address}: {exc}") from None


def _diff_scope(ref: str, targets: Sequence[Target]) -> DiffScope:
    """The changes against ``ref`` for the code targets; a bad ref or a directory outside git is a UsageError."""
    from scanner.gitdiff import GitDiffError
    from scanner.iacscope import DiffScope, code_targets

    if not code_targets(targets):
        raise UsageError("--diff-base narrows findings on code: it needs an iac target (--iac PATH or type: iac)")
    try:
        return DiffScope.for_targets(ref, targets)
    except GitDiffError as exc:
        raise UsageError(f"--diff-base {ref}: {exc}") from None


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def exit_code(run: Run, fail_on: str = "low", unevaluated: Sequence[str] = (), *, narrowed: bool = False) -> int:
    """The exit code of a run: interrupted, failures, errors, nothing evaluated (for a target or at all), clear.

    ``unevaluated`` are targets scanned with no applicable check (they have no result); ``narrowed``: --diff-base
    left findings out, so a run without results was evaluated and found nothing changed."""
    from scanner.model import Severity, Status

    threshold = Severity(fail_on).rank
    if run.info.interrupted:
        return EXIT_INTERRUPTED
    if any(r.status is Status.FAIL and r.severity.rank >= threshold for r in run.results):
        return EXIT_FAILURES
    if any(r.status is Status.ERROR for r in run.results):
        return EXIT_ERRORS
    if (not run.results and not narrowed) or unevaluated:
        return EXIT_NOTHING
    return EXIT_OK


def _nothing_evaluated(run: Run, targets: Sequence[str], narrowed: Collection[str] = ()) -> list[str]:
    """Targets without a single result, and a word to the operator about each (and about an empty run).
    Targets in ``narrowed`` were evaluated: --diff-base left their findings out."""
    with_results = {r.target for r in run.results} | set(narrowed)
    missing = [t for t in targets if t not in with_results]
    if not run.info.interrupted:
        for name in missing:
            _say(f"warning: nothing was evaluated for target {name!r}: no selected check applies to it "
                 f"(exit {EXIT_NOTHING}, not all clear)")
        if not run.results and not narrowed:
            _say(f"warning: nothing was evaluated: the scan produced no result (exit {EXIT_NOTHING}, not all clear)")
    return missing


@contextlib.contextmanager
def _objects_kept() -> Iterator[None]:
    """The objects alive now left out of the cyclic garbage collector's walks until the block ends (``gc.freeze``):
    the end of a scan builds tens of thousands of objects (result dicts, report and history rows) that live until
    the process ends; each collection their allocations triggered walked the scan's young objects again (a
    collection of 4-10 ms in the history of an IaC scan of 2,297 findings). Reference counting still frees what
    is no longer used; cyclic garbage made before the block is collected after it (``gc.unfreeze``)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def cmd_scan(args: argparse.Namespace) -> int:
    from scanner import frameworks
    from scanner.inventory import InventoryError, load_inventory
    from scanner.registry import CheckSpec
    from scanner.runner import DEFAULT_CONCURRENCY, scan
    from scanner.safefs import OutputError
    from scanner.store import RECORD_NAME, Record, RecordWriter

    catalogs = frameworks.load_catalogs()
    extra = None
    if args.ansible_inventory:
        from scanner.ansible import load_ansible_inventory

        try:
            extra = load_ansible_inventory(args.ansible_inventory)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{args.ansible_inventory}: {exc}") from None
    if args.iac and (args.inventory or args.ansible_inventory):
        raise UsageError("--iac builds its own inventory: use it without --inventory and --ansible-inventory")
    source: str | dict[str, Any] | None = args.inventory
    if args.iac:
        from scanner.iacscope import iac_document  # imported only when --iac makes the inventory

        source = iac_document(args.iac)
    try:
        inventory = load_inventory(source, extra=extra)
        # only the check plugins the selected targets need (all with a profile, which may name any check), and with
        # --check of those only the modules that define a matching id (registry.py: the kept index);
        # the inventory's policy names are checked against them, and against all when they do not suffice
        targets = inventory.select([x for x in args.limit.split(",") if x], args.tag)
        registry = _load_registry(None if args.profile else {t.type.judged_by for t in targets},
                                  None if args.profile or not args.check else args.check)
        registry = _policy_checked(inventory, registry)
    except InventoryError as exc:
        _say(f"inventory {exc.source} is not valid (nothing was scanned):")
        for problem in exc.problems:
            print(f"  {_for_terminal(problem)}", file=sys.stderr)
        return EXIT_INPUT
    from scanner.cli_ops import inventory_notifications  # issue 13: `notifications:` (when no --notify)

    inventory_notifications(args, inventory)
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if not targets:
        raise UsageError("no target matches --limit/--tag")
    diff_scope = _diff_scope(args.diff_base, targets) if args.diff_base is not None else None
    selection = {"patterns": args.check, "framework": args.framework, "clause": args.clause}
    specs: list[CheckSpec | ChallengeSpec] = list(select_checks(registry, catalogs, **selection))
    if not specs and registry.platforms is not None:  # a selection of other platforms' checks: as with all loaded
        registry = _load_registry()
        specs = list(select_checks(registry, catalogs, **selection))
    profile = _profile(args.profile, registry) if args.profile else None
    if profile is not None:
        specs = [s for s in specs if profile.selects(s.id)]
    executor_spec = _executor_spec(args)
    try:  # issue 12: challenge tests, only when asked; refused before any connection when not allowed
        tests = cli_challenge.select(args, registry, targets, executor_spec)
    except cli_challenge.ChallengeUsageError as exc:
        raise UsageError(str(exc)) from None
    if args.plan:
        return cli_challenge.print_plan(tests, targets)
    specs += tests
    if not specs:
        raise UsageError("no check matches the selection: " + ", ".join(args.check or [args.framework or ""])
                         + (f" within profile {profile.name}" if profile else ""))
    profile_warnings: list[str] = []
    if profile is not None:
        targets, profile_warnings = _with_profile(profile, specs, targets)
    without = [t for t in targets if not any(t.type.judged_by == s.platform if isinstance(s, CheckSpec)
                                             else t.type in s.platforms for s in specs)]
    for t in without:
        _say(f"warning: no selected check applies to target {t.name!r} ({t.type.value}); nothing will be evaluated "
             "for it")

    sealing = _sealing(args)
    risk_matrix = cli_risk.matrix(args)  # issue 17: a bad matrix file stops before any connection
    operator_name = (args.operator_name if args.operator_name is not None
                     else os.environ.get("GXPSCAN_OPERATOR", "")).strip()
    prefetch: Prefetch | None = getattr(args, "prefetch", None)
    info = _run_info(registry, specs, inventory, " ".join(["gxpscan", *sys.argv[1:]])[:500], operator_name,
                     started=prefetch.started_at() if prefetch else None)  # the child collected from then on
    used, clauses = frameworks.run_use(  # issue 16: catalog provenance, coverage
        catalogs, [s.id for s in specs] + _catalog_ids_not_loaded(registry, catalogs, **selection))
    info = replace(info, catalogs=used, clauses=clauses,
                   gxp_context=MappingProxyType({t.name: t.gxp_context for t in targets if t.gxp_context}),
                   risk_matrix=risk_matrix.source)
    from scanner.seal import previous_manifest

    if profile is not None:
        info = replace(info, profile=f"{profile.name} ({profile.origin}: {profile.path})",
                       profile_sha256=profile.sha256)
    protocol = _load_protocol(args.protocol) if args.protocol else None
    if protocol is not None:
        info = replace(info, protocol_sha256=protocol[1])
    outdir = Path(args.output) if args.output else Path("gxpscan-results") / info.id

    info = replace(info, previous_manifest_sha256=previous_manifest(outdir.parent, exclude=outdir))
    executor = _open_executor(executor_spec, info.checks_fingerprint)
    try:
        record = RecordWriter(outdir / RECORD_NAME, info)
    except FileExistsError:
        if executor is not None:
            executor.shutdown()
        raise UsageError(f"{outdir / RECORD_NAME} exists already; choose another --output") from None
    if protocol is not None:
        _keep_protocol(protocol[0], outdir, record, inventory.sha256)
    for t in without:
        record.warn(f"target {t.name} ({t.type.value}): no selected check applies; nothing was evaluated")
    for warning in [*profile_warnings, *executor_spec.warnings()]:
        _say(f"warning: {warning}")
        record.warn(warning)
    if not args.quiet:
        print(f"run record: {record.path}", file=sys.stderr)
    progress = Progress(len(targets))

    narrowed: set[str] = set()  # targets of which --diff-base left findings out

    def done(outcome: TargetOutcome) -> None:
        if diff_scope is not None:
            outcome, left_out = diff_scope.apply(outcome)
            if left_out:
                narrowed.add(outcome.target.name)
        for warning in outcome.warnings:
            _say(f"warning: {outcome.target.name}: {warning}")
        outcome = cli_risk.rate(outcome, risk_matrix)  # issue 17: each finding's risk, kept in the record
        record.add(outcome)
        progress(outcome)

    formats = args.format or ["console"]
    if prefetch is not None:  # the scan will wait for the child's facts: what its end uses is loaded first
        import reports

        reports.load(formats)
        if not args.no_history:
            import scanner.history  # noqa: F401
    interrupted, write_fault = False, None
    previous = signal.signal(signal.SIGTERM, _terminate)  # a scheduler's SIGTERM ends the run like Ctrl-C
    try:
        scan(targets, specs, frameworks.clause_map(catalogs), waivers=inventory.waivers,
             concurrency=args.concurrency or DEFAULT_CONCURRENCY, on_done=done, executor=executor,
             collector=prefetch.collect if prefetch and executor is None else None)
    except KeyboardInterrupt:
        interrupted = True
        print(file=sys.stderr)
        _say("interrupted; finished targets are kept in the run record")
    except OutputError as exc:
        write_fault = exc
    finally:
        signal.signal(signal.SIGTERM, previous)
        if executor is not None:
            executor.shutdown(wait=not interrupted, cancel_futures=interrupted)
    run = record.close(interrupted=interrupted)
    if write_fault is not None or record.failed:
        _say(f"could not write results: {write_fault or record.failed}; the run record keeps the "
             f"{len(record.targets)} target(s) written before the fault and reads as interrupted")
        return EXIT_WRITE
    with _objects_kept():  # the end of the scan: reports, seal, history, retention, notifications
        documents = _documents(args, run, outdir)
        if "dashboard" in args.format:  # issue 13: the trend and the previous run of the results directory
            from scanner.cli_ops import dashboard_options

            documents.update(dashboard_options(args, run, outdir))
        full, shown = cli_risk.views(run, args, risk_matrix)  # issue 17: the reports only; the exit code: run
        _write_reports(full, formats, outdir, quiet=args.quiet, verbose=args.verbose,
                       framework=frameworks.resolve(args.framework, catalogs) if args.framework else None,
                       documents={**documents, **cli_risk.document_options(args)},
                       findings=record.result_dicts(full), sort=args.sort, shown=shown)
        code = exit_code(run, args.fail_on, _nothing_evaluated(run, record.targets, narrowed),
                         narrowed=bool(narrowed))
        code = _seal(outdir, sealing, quiet=args.quiet) or code
        # issue 13: post-scan, first: the history (the run from memory; a failure is warned and recorded)
        cli_history.after_scan(args, outdir, Record(run, record.targets))
        from scanner.cli_ops import after_scan  # issue 13: then retention, latest link, notifications

        return after_scan(args, run, outdir, sealing, code)


# --- other commands -------------------------------------------------------------------------------------------

def cmd_checks(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from scanner import frameworks

    registry = _load_registry()
    catalogs = frameworks.load_catalogs()
    cmap = frameworks.clause_map(catalogs)
    if args.challenges:  # issue 12
        return cli_challenge.list_challenges(registry, cmap, platform=args.platform, as_json=args.json)
    specs = select_checks(registry, catalogs, framework=args.framework, clause=args.clause, platform=args.platform)
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
            print(frameworks.render_framework_text(catalogs[frameworks.resolve(args.framework, catalogs)]))
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


def _read(path: str) -> Record:
    from scanner.store import read_record

    try:
        return read_record(path)
    except OSError as exc:
        raise UsageError(f"cannot read run record {path}: {exc.strerror or exc}") from None


def cmd_report(args: argparse.Namespace) -> int:
    from reports import FORMATS

    path = Path(args.record)
    run_dir = path if path.is_dir() else path.parent
    sealing = _sealing(args)
    record = _read(args.record)  # a corrupt record is named line by line (exit 2) before anything else
    verified = _verify_first(run_dir, args)
    if verified is not None:
        return verified
    run = record.run
    for warning in run.info.warnings:
        _say(f"warning: {warning}")
    outdir = Path(args.output) if args.output else run_dir
    formats = args.format or ["console"]
    full, shown = cli_risk.views(run, args, cli_risk.matrix(args))  # issue 17: the reports only, not the exit code
    _write_reports(full, formats, outdir, quiet=args.quiet, verbose=args.verbose,
                   documents={**_documents(args, run, run_dir), **cli_risk.document_options(args)}, sort=args.sort,
                   shown=shown)
    code = exit_code(run, "low", _nothing_evaluated(run, record.targets))
    if any(f in FORMATS and f != "console" for f in formats) and _same_dir(outdir, run_dir):
        if args.no_verify:
            _say("WARNING: the reports just written into the run directory are NOT sealed (--no-verify: a run "
                 "that is not intact is never sealed again); verify will list them as changed or added")
        else:
            if sealing["key"] is None and _was_signed(run_dir):
                _say("warning: this run was signed; the manifest sealing the new reports is NOT signed (give "
                     "--sign-key to keep it signed; verify --pubkey will refuse an unsigned manifest)")
            return _seal(run_dir, sealing, quiet=args.quiet) or code
    return code


def _was_signed(run_dir: Path) -> bool:
    from scanner.seal import SealError, manifests, read_manifest

    versions = manifests(run_dir)
    try:
        return bool(versions) and "signer" in read_manifest(run_dir, max(versions)).predicate
    except (SealError, OSError):
        return False


def cmd_diff(args: argparse.Namespace) -> int:
    from scanner import diff

    try:  # issue 13: run ids, latest and previous from the history
        args.old, args.new = cli_history.resolve_runs(args, [args.old, args.new])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    old, new = _read(args.old).run, _read(args.new).run
    for path in (args.old, args.new):
        verified = _verify_first(Path(path) if Path(path).is_dir() else Path(path).parent, args)
        if verified is not None:
            return verified
    registry = _load_registry()
    thresholds = {s.id: {*s.params, "limit"} if s.params else set() for s in registry.checks.values()}
    result = diff.compare(old, new, thresholds)
    if args.format == "json":
        json.dump(diff.to_json(result), sys.stdout, indent=2, sort_keys=True, ensure_ascii=True)
        print()
    else:
        sys.stdout.write(diff.to_text(result, escape=_for_terminal))
    return EXIT_FAILURES if diff.exit_code(result) else EXIT_OK


# --- integrity: keygen, verify, sign, and the sealing of scan and report -------------------------------------------

def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _passphrase(env_name: str | None) -> bytes | None:
    from scanner.seal import SealError, passphrase_from_env

    try:
        return passphrase_from_env(env_name)
    except SealError as exc:
        raise UsageError(str(exc)) from None


def _private_key(path: str, env_name: str | None) -> Any:
    from scanner.seal import SealError, load_private_key

    try:
        return load_private_key(path, _passphrase(env_name))
    except SealError as exc:
        raise UsageError(str(exc)) from None


def _sealing(args: argparse.Namespace) -> dict[str, Any]:
    """The signing key (loaded and unlocked now, before any work) and the TSA of --sign-key/--tsa."""
    if args.sign_key_passphrase_env and not args.sign_key:
        raise UsageError("--sign-key-passphrase-env needs --sign-key")
    key = _private_key(args.sign_key, args.sign_key_passphrase_env) if args.sign_key else None
    return {"key": key, "tsa_url": args.tsa}


def _seal(run_dir: Path, sealing: Mapping[str, Any], *, quiet: bool = False) -> int:
    """Seal the run directory (the next manifest version). 0, or EXIT_WRITE with a message when it failed."""
    from scanner.safefs import OutputError
    from scanner.seal import SealError, seal_run

    try:
        sealed = seal_run(run_dir, key=sealing.get("key"), tsa_url=sealing.get("tsa_url"))
    except (SealError, OutputError) as exc:
        _say(f"could not seal the run directory {run_dir}: {exc}")
        return EXIT_WRITE
    if not quiet:
        how = f"signed by key {sealed.signed_by}" if sealed.signed_by else "unsigned"
        stamp = ", time-stamped" if sealed.time_stamped else ""
        print(f"sealed: {run_dir / sealed.name} (sha256 {sealed.sha256}; {how}{stamp})", file=sys.stderr)
    return 0


def _trust(args: argparse.Namespace) -> tuple[list[Any], list[bytes]]:
    from scanner.seal import SealError, load_public_key

    try:
        keys = [load_public_key(p) for p in args.pubkey]
    except SealError as exc:
        raise UsageError(str(exc)) from None
    certs = []
    for cert in args.tsa_cert:
        try:
            certs.append(Path(cert).read_bytes())
        except OSError as exc:
            raise UsageError(f"cannot read TSA certificate {cert}: {exc.strerror or exc}") from None
    return keys, certs


def _print_verification(v: Any, quiet: bool = False, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    for problem in v.problems:
        print(f"  {_for_terminal(problem)}", file=stream)
    if not quiet:
        for note in v.notes:
            print(f"  ok: {_for_terminal(note)}", file=stream)


def _verify_first(run_dir: Path, args: argparse.Namespace) -> int | None:
    """report, diff and sign read only an intact run. None to go on; an exit code to stop."""
    from scanner.seal import verify_run

    keys, certs = _trust(args)
    v = verify_run(run_dir, pubkeys=keys, tsa_certs=certs)
    if v.intact:
        return None
    if getattr(args, "no_verify", False):
        _say(f"WARNING: {run_dir} is NOT INTACT ({len(v.problems)} problem(s)); reading it anyway because of "
             "--no-verify. Nothing below is evidence:")
        _print_verification(v, quiet=True, stream=sys.stderr)
        return None
    _say(f"refusing to read {run_dir}: the run is NOT INTACT ({len(v.problems)} problem(s)); run "
         f"'gxpscan verify {run_dir}' for details, or give --no-verify to read it anyway:")
    _print_verification(v, quiet=True, stream=sys.stderr)
    return EXIT_NOT_INTACT


def cmd_keygen(args: argparse.Namespace) -> int:
    from scanner.seal import SealError, keygen

    try:
        private, public, fp = keygen(args.out, _passphrase(args.passphrase_env))
    except SealError as exc:
        raise UsageError(str(exc)) from None
    print(f"private key: {private} (0600{', encrypted' if args.passphrase_env else ', NOT encrypted'})")
    print(f"public key:  {public}")
    print(f"fingerprint: SHA256:{fp}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from scanner.seal import verify_chain, verify_run

    keys, certs = _trust(args)
    path = Path(args.path)
    if not path.is_dir():
        raise UsageError(f"{path} is not a directory")
    from scanner.selftest.verify import is_selftest_dir, verify_selftest

    verify = verify_selftest if not args.chain and is_selftest_dir(path) else verify_chain if args.chain \
        else verify_run
    v = verify(path, pubkeys=keys, tsa_certs=certs)
    print(f"gxpscan verify: {_for_terminal(str(path))}{' (chain)' if args.chain else ''}")
    _print_verification(v, quiet=args.quiet)
    if v.intact:
        print(f"INTACT{f': {v.manifest} sha256 {v.manifest_sha256}' if v.manifest else ''}")
        return EXIT_OK
    print(f"NOT INTACT: {len(v.problems)} problem(s)")
    return EXIT_NOT_INTACT


def cmd_sign(args: argparse.Namespace) -> int:
    from scanner.seal import SealError, sign_run

    key = _private_key(args.key, args.key_passphrase_env)
    path = Path(args.path)
    if not path.is_dir():
        raise UsageError(f"{path} is not a run directory")
    verified = _verify_first(path, args)
    if verified is not None:
        return verified
    try:
        name, record = sign_run(path, role=args.role, meaning=args.meaning, name=args.name, key=key)
    except SealError as exc:
        raise UsageError(str(exc)) from None
    print(f"signed: {path / name}: {record.role} {_for_terminal(record.name)!r}, {record.signed_at.isoformat()}, "
          f"meaning {_for_terminal(record.meaning)!r}, key SHA256:{record.key_id}, over manifest sha256 "
          f"{record.manifest_sha256}")
    return EXIT_OK


# --- profiles (issue 14) ------------------------------------------------------------------------------------

def _profile(name: str, registry: Registry) -> Profile:
    """The profile named or given as a file, checked against the loaded checks; a fault is a UsageError."""
    from scanner.profiles import ProfileError, check_against, resolve

    try:
        profile = resolve(name)
        check_against(profile, registry)
    except ProfileError as exc:
        raise UsageError(str(exc)) from None
    return profile


def _with_profile(profile: Profile, specs: Sequence[CheckSpec | ChallengeSpec],
                  targets: Sequence[Target]) -> tuple[tuple[Target, ...], list[str]]:
    """The targets with the profile's thresholds under their own policy, and the overrides to warn about."""
    from scanner.profiles import apply

    out, warnings = [], []
    for target in targets:
        applied, said = apply(profile, specs, target)
        out.append(applied)
        warnings += said
    return tuple(out), warnings


def cmd_profiles(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from scanner.profiles import ProfileError, check_against, discover, resolve

    registry = _load_registry()
    try:
        chosen = [resolve(args.profile)] if args.profile else list(discover().values())
        selected = {p.name: len(check_against(p, registry)) for p in chosen}
    except ProfileError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        json.dump([{"name": p.name, "version": p.version, "title": p.title, "source": p.source,
                    "origin": p.origin, "path": p.path, "sha256": p.sha256, "checks": selected[p.name],
                    "include": list(p.include), "exclude": list(p.exclude),
                    "thresholds": [{"name": t.name, "value": t.value, "rationale": t.rationale,
                                    "checks": list(t.checks)} for t in p.thresholds]}
                   for p in chosen], sys.stdout, indent=2, default=list)
        print()
        return EXIT_OK
    if not args.profile:
        print(tabulate([[p.name, p.version, selected[p.name], len(p.thresholds), p.origin, p.sha256[:16], p.title]
                        for p in chosen],
                       headers=["profile", "version", "checks", "thresholds", "origin", "sha256", "title"],
                       disable_numparse=True))
        return EXIT_OK
    p = chosen[0]
    print(f"{p.name} {p.version}: {p.title}\nsource: {p.source}\nfile: {p.path} ({p.origin})\nsha256: {p.sha256}\n"
          f"checks: {selected[p.name]} (include {', '.join(p.include)}"
          + (f"; exclude {', '.join(p.exclude)}" if p.exclude else "") + ")\n")
    print(tabulate([[t.name, json.dumps(t.value, default=list), ", ".join(t.checks) or "(all)", t.rationale]
                    for t in p.thresholds], headers=["threshold", "value", "checks", "rationale"],
                   maxcolwidths=[None, 40, 20, 60]))
    return EXIT_OK


# --- the OQ protocol --------------------------------------------------------------------------------------------

PROTOCOL_NAME = "protocol.json"


def _load_protocol(path: str) -> tuple[Any, str]:
    from scanner.protocol import ProtocolError, load_protocol

    try:
        return load_protocol(path)
    except ProtocolError as exc:
        raise UsageError(str(exc)) from None


def _keep_protocol(protocol: Any, outdir: Path, record: Any, inventory_sha256: str) -> None:
    """A copy of the executed protocol beside the run record (canonical bytes, so its SHA-256 is the one recorded)."""
    from scanner.protocol import canonical_json
    from scanner.safefs import OutputDir

    with OutputDir.open(outdir) as directory, directory.replace(PROTOCOL_NAME) as fh:
        fh.write(canonical_json(protocol).decode("ascii"))
    if protocol.inventory_sha256 != inventory_sha256:
        message = (f"the protocol {protocol.document_id} version {protocol.version} was written for another "
                   f"inventory (SHA-256 {protocol.inventory_sha256}); this run's differs: see the deviations")
        record.warn(message)
        _say(f"warning: {message}")


def _documents(args: argparse.Namespace, run: Run, rundir: Path) -> dict[str, Any]:
    """Options for the oq and pdf formats: the protocol the run executed (checked against the hash the run
    recorded), the site's templates and the paper size."""
    protocol, problem = None, ""
    wanted = run.info.protocol_sha256
    given = getattr(args, "protocol", None)
    path = Path(given) if given else rundir / PROTOCOL_NAME
    if wanted and (given or path.exists()):
        from scanner.protocol import ProtocolError, load_protocol  # only for a run that executed a protocol

        try:
            protocol, digest = load_protocol(str(path))
        except ProtocolError as exc:
            problem = f"The protocol the run executed could not be read: {exc}"
        else:
            if digest != wanted:
                protocol, problem = None, (f"{path} has SHA-256 {digest}, not the {wanted} of the protocol the run "
                                           "executed: it was changed or is another protocol.")
    elif given and not wanted:
        problem = f"--protocol {given} was given, but the run did not record executing a protocol."
    return {"protocol": protocol, "protocol_problem": problem, "template_dir": args.template_dir,
            "paper": args.paper}


def cmd_protocol(args: argparse.Namespace) -> int:
    from scanner import frameworks
    from scanner.inventory import InventoryError, load_inventory
    from scanner.model import utcnow
    from scanner.protocol import ProtocolError, build_protocol, canonical_json, validate_protocol
    from scanner.protocol import sha256 as protocol_sha256
    from scanner.safefs import OutputDir

    registry = _load_registry()
    catalogs = frameworks.load_catalogs()
    try:
        inventory = load_inventory(args.inventory, policy_names=registry.param_names())
    except InventoryError as exc:
        _say(f"inventory {exc.source} is not valid:")
        for problem in exc.problems:
            print(f"  {_for_terminal(problem)}", file=sys.stderr)
        return EXIT_INPUT
    targets = inventory.select([x for x in args.limit.split(",") if x], args.tag)
    if not targets:
        raise UsageError("no target matches --limit/--tag")
    specs = select_checks(registry, catalogs, patterns=args.check, framework=args.framework, clause=args.clause)
    if not specs:
        raise UsageError("no check matches the selection: " + ", ".join(args.check or [args.framework or ""]))
    scope = [frameworks.resolve(args.framework, catalogs)] if args.framework else \
        [c.id for c in catalogs.values() if c.status.value == "in_force"]
    stem = Path(inventory.source).stem if args.inventory else "local"
    selection = "; ".join(x for x in (
        "checks " + ", ".join(args.check) if args.check else "", f"framework {args.framework}" if args.framework
        else "", f"clause {args.clause}" if args.clause else "", f"targets {args.limit}" if args.limit else "",
        "tags " + ", ".join(args.tag) if args.tag else "") if x) or "every check that applies"
    try:
        protocol = build_protocol(
            targets, specs, catalogs, scope, document_id=args.document_id or f"OQP-{stem.upper()}",
            version=args.document_version, created=utcnow().isoformat(timespec="seconds"),
            author=operator_id(), tool_version=_version(),
            checks_fingerprint=registry.fingerprint(specs), inventory=inventory.source,
            inventory_sha256=inventory.sha256, selection=selection)
    except ProtocolError as exc:
        raise UsageError(str(exc)) from None
    problems = validate_protocol(protocol)
    if problems:
        raise UsageError("the protocol is not consistent: " + "; ".join(problems[:5]))
    digest = protocol_sha256(protocol)
    outdir = Path(args.output)
    with OutputDir.open(outdir) as directory:
        for fmt in args.format or ["json", "oq"]:
            if fmt == "json":
                name = PROTOCOL_NAME
                with directory.replace(name) as fh:
                    fh.write(canonical_json(protocol).decode("ascii"))
            elif fmt == "oq":
                from reports.oq import render_protocol

                name = "oq-protocol.html"
                with directory.replace(name) as fh:
                    render_protocol(protocol, digest, fh, template_dir=args.template_dir, paper=args.paper)
            else:
                from reports.pdf import protocol_pdf, write_bytes

                name = "oq-protocol.pdf"
                with directory.replace(name) as fh:
                    write_bytes(fh, protocol_pdf(protocol, digest, template_dir=args.template_dir, paper=args.paper))
            print(f"{fmt}: {outdir / name}", file=sys.stderr)
    print(f"protocol {protocol.document_id} version {protocol.version}: {len(protocol.tests)} tests, "
          f"SHA-256 {digest}")
    return EXIT_OK


def cmd_aws_policy(args: argparse.Namespace) -> int:
    from scanner.collectors.aws import aws_iam_policy

    print(json.dumps(aws_iam_policy(), indent=2))
    return EXIT_OK


def cmd_winrm_setup(args: argparse.Namespace) -> int:
    from scanner.collectors import known_facts
    from scanner.connectors.winrm import setup_guide

    admin = {f.name: f.description for f in known_facts().values() if f.name.startswith("windows.") and f.needs_root}
    try:
        print(setup_guide(args.account, admin), end="")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return EXIT_OK


def entry(prefetch: Prefetch | None = None) -> None:
    """Console entry point. After an interruption or a write fault the record (and reports) are closed; targets
    still in flight are abandoned rather than waited for (their own timeouts end their commands).

    The cyclic garbage collector runs after 200,000 net allocations instead of 700 (``scanner.GC_THRESHOLDS``): a
    scan makes hundreds of thousands of long-lived objects (modules, results, report data), and the default
    thresholds walked them some 120 times, a tenth of a small scan's CPU; cyclic garbage is still collected, in
    larger steps.

    At the end, the objects alive are left out of the collector's walks (``gc.freeze``): the interpreter's exit
    collected three times over every object of the run (the results, reports and modules it is about to free), 1.5%
    of the instructions of an IaC scan. Reference counting frees them as before; only cyclic garbage made by the run
    is left for the process's end to reclaim.

    When gxpscan is the process's own program (``_owns_process``) it then ends at once, as after an interruption:
    the logging handlers and the standard streams flushed, no thread left running, every output file closed
    already; the interpreter's teardown (freeing every object of the run, module by module: some 4 ms of an IaC scan
    of 2,297 findings) is left to the operating system. Run by another program (``runpy``), it exits as usual.

    Before either, the ``__init__`` code compiled in this run is kept for the next (scanner/value.py), and the child
    collecting code facts (``prefetch``, started by ``scanner.__main__``) is ended and waited for."""
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        code = main(prefetch=prefetch)
    finally:
        if prefetch is not None:
            prefetch.end()
    keep_compiled()
    if code in (EXIT_INTERRUPTED, EXIT_WRITE):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    gc.freeze()
    if _owns_process():
        logging.shutdown()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # a closed pipe (``| head``): the interpreter's own exit says so, as it always did
            sys.exit(code)
        os._exit(code)
    sys.exit(code)


def _owns_process() -> bool:
    """gxpscan is this process's program and alone in it: run as ``python -m scanner`` or by the ``gxpscan``
    script (whose ``__main__`` imported ``scanner.__main__.main``, or ``entry`` in a script installed before it),
    with no other thread running (one an exit would wait for)."""
    from scanner.prefetch import program_is_gxpscan

    ours = program_is_gxpscan() or getattr(sys.modules.get("__main__"), "entry", None) is entry
    return ours and threading.active_count() == 1
