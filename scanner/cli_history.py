"""``gxpscan history`` (runs, trends, per-finding history, import) and the history hooks of ``scan`` and ``diff``.

Registered by scanner.cli (``register``); everything heavy is imported when a command runs.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.history import FindingHistory, History, RunSummary
    from scanner.store import Record

#: Where the default SQLite history lives when no --output names a results directory.
DEFAULT_RESULTS = "gxpscan-results"
#: A file in the results directory naming the runs a scan could not add to the history (added by the next scan).
PENDING_NAME = "history-pending.txt"
MAX_PENDING = 1000

HISTORY_HELP = ("SQLite file, sqlite:///PATH, or postgresql://USER@HOST:PORT/DB?password_env=VAR (password from that "
                "environment variable, else a pgpass file); default: history.sqlite in the results directory")


def _say(message: str) -> None:
    from reports.text import for_terminal

    print(f"gxpscan: {for_terminal(message)}", file=sys.stderr)


def _history_option(p: argparse.ArgumentParser, default: Any = None) -> None:
    p.add_argument("--history", metavar="SPEC", help=HISTORY_HELP, default=default)


def _results_option(p: argparse.ArgumentParser, default: Any = DEFAULT_RESULTS) -> None:
    p.add_argument("--results", metavar="DIR", default=default,
                   help=f"the results directory whose history.sqlite is used (default ./{DEFAULT_RESULTS})")


def scan_options(p: argparse.ArgumentParser) -> None:
    """Options of ``scan``: where the run is indexed, or not at all."""
    _history_option(p)
    p.add_argument("--no-history", action="store_true", help="do not add this run to the history")


def diff_options(p: argparse.ArgumentParser) -> None:
    """``diff`` takes run ids and latest/previous from the history besides directories."""
    _history_option(p)
    _results_option(p)


def register(sub: Any) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    h = sub.add_parser("history", formatter_class=raw,
                       help="runs from the history: trend of pass/fail/error counts, per finding failing since, "
                            "fixed on, flapping (`history import DIR...` indexes existing run directories)",
                       epilog="Findings shown on the console: failing, error, fixed or flapping (--all: every one). "
                              "exit codes: 0 done, 2 bad input, an unusable history or a refused run")
    h.set_defaults(func=cmd_history)
    _history_option(h)
    _results_option(h)
    h.add_argument("--target", metavar="T", help="only runs that scanned T, and T's findings")
    h.add_argument("--check", metavar="C", help="only runs that ran check C, and C's findings")
    h.add_argument("--since", metavar="DATE", help="only runs started since DATE (ISO date or date-time, or 30d)")
    h.add_argument("--limit", type=int, metavar="N", help="at most N runs (newest)")
    h.add_argument("--all", action="store_true", help="console: every finding, not only those that need attention")
    h.add_argument("--format", choices=["console", "json"], default="console")
    hs = h.add_subparsers(dest="history_command", metavar="import")
    i = hs.add_parser("import", help="index existing run directories (or results directories); idempotent")
    i.set_defaults(func=cmd_import)
    i.add_argument("dirs", nargs="+", metavar="DIR", help="a run directory or a results directory of runs")
    _history_option(i, argparse.SUPPRESS)  # given before or after `import`; a sub-parser default would hide it
    _results_option(i, argparse.SUPPRESS)


def _open(spec: str | None, results: str, *, create: bool = False) -> History:
    from scanner.history import open_history

    return open_history(spec, Path(results), create=create)


def cmd_history(args: argparse.Namespace) -> int:
    from scanner.cli import EXIT_INPUT, EXIT_OK
    from scanner.history import HistoryError, since_date, to_json

    if args.limit is not None and args.limit < 1:
        _say("error: --limit must be at least 1")
        return EXIT_INPUT
    try:
        since = since_date(args.since) if args.since else None
        with _open(args.history, args.results) as history:
            runs = history.runs(target=args.target, check=args.check, since=since, limit=args.limit)
            findings = history.findings(target=args.target, check=args.check, since=since)
            where = history.where
    except HistoryError as exc:
        _say(f"error: {exc}")
        return EXIT_INPUT
    if args.format == "json":
        from reports.text import json_text

        sys.stdout.write(json_text(to_json(runs, findings), sort_keys=True) + "\n")
    else:
        sys.stdout.write(to_text(where, runs, findings, every=args.all))
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from scanner.cli import EXIT_INPUT, EXIT_OK
    from scanner.history import HistoryError, add_runs

    try:
        with _open(args.history, args.results, create=True) as history:
            done, refused = add_runs(history, [Path(d) for d in args.dirs],
                                     on_error=lambda exc: _say(f"error: {exc}"))
            where = history.where
    except HistoryError as exc:
        _say(f"error: {exc}")
        return EXIT_INPUT
    print(f"history {where}: {len(done)} run(s) indexed (already indexed runs are unchanged), "
          f"{len(refused)} refused")
    return EXIT_INPUT if refused else EXIT_OK


# --- the scan hook ------------------------------------------------------------------------------------------------

def _pending(results_dir: Path) -> list[Path]:
    path = results_dir / PENDING_NAME
    try:
        if path.is_symlink() or not path.is_file():
            return []
        with open(path, "rb") as fh:
            data = fh.read(MAX_PENDING * 4100)
    except OSError:
        return []
    names = [n for n in data.decode("utf-8", "replace").split("\n") if n][:MAX_PENDING]
    # only plain names of run directories in the results directory: the file cannot point anywhere else
    return [results_dir / n for n in names if "/" not in n and n not in (".", "..") and len(n) < 4096]


def _write_pending(results_dir: Path, runs: Sequence[Path]) -> None:
    from scanner.safefs import OutputDir, OutputError

    try:
        with OutputDir.open(results_dir) as directory:
            if not runs:
                try:
                    os.unlink(PENDING_NAME, dir_fd=directory.fd)
                except FileNotFoundError:
                    pass
                return
            with directory.replace(PENDING_NAME) as fh:
                fh.write("".join(f"{p.name}\n" for p in runs[-MAX_PENDING:]))
    except (OutputError, OSError) as exc:
        _say(f"warning: could not record the runs missing from the history in {results_dir / PENDING_NAME}: "
             f"{exc}")


def after_scan(args: argparse.Namespace, run_dir: Path, written: Record | None = None) -> str | None:
    """Add the finished run to the history (first of the post-scan steps). Never raises, never changes the exit
    code: a failure is warned on stderr and recorded in the results directory's history-pending.txt, whose runs
    the next scan adds first. Returns the warning, or None when the run is in the history (or --no-history).
    ``written``: the record the scan wrote (indexed from memory; see scanner.history.read_run)."""
    from scanner.history import HistoryError, open_history

    if getattr(args, "no_history", False):
        return None
    results_dir = run_dir.parent
    pending = [p for p in _pending(results_dir) if p != run_dir]
    try:
        with open_history(getattr(args, "history", None), results_dir) as history:
            left = []
            for path in pending:
                try:
                    history.add_run(path)
                except HistoryError as exc:
                    if not path.is_dir():
                        continue  # deleted since (retention): nothing to add any more
                    left.append(path)
                    _say(f"warning: a run recorded as missing from the history still cannot be added: {exc}")
            history.add_run(run_dir, written=written)
    except HistoryError as exc:
        message = (f"the run was NOT added to the history ({exc}); it is complete in {run_dir}, recorded in "
                   f"{results_dir / PENDING_NAME}, and added by the next scan or by `gxpscan history import "
                   f"{run_dir}`")
        _say(f"warning: {message}")
        _write_pending(results_dir, [*pending, run_dir])
        return message
    if pending or (results_dir / PENDING_NAME).exists():
        _write_pending(results_dir, left)
    return None


# --- diff by id -----------------------------------------------------------------------------------------------------

def is_reference(ref: str) -> bool:
    """A diff argument that names a run in the history rather than a path that exists."""
    return not os.path.lexists(ref) and (ref in ("latest", "previous") or "/" not in ref)


def resolve_runs(args: argparse.Namespace, refs: Sequence[str]) -> list[str]:
    """The paths of ``refs`` (paths as given; run ids, latest, previous looked up in the history)."""
    from scanner.history import HistoryError

    if not any(is_reference(r) for r in refs):
        return list(refs)
    try:
        with _open(getattr(args, "history", None), getattr(args, "results", DEFAULT_RESULTS)) as history:
            return [str(history.resolve(r)) if is_reference(r) else r for r in refs]
    except HistoryError as exc:
        raise ValueError(str(exc)) from None


# --- console --------------------------------------------------------------------------------------------------------

def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _needs_attention(f: FindingHistory) -> bool:
    from scanner.model import Status

    return f.status in (Status.FAIL, Status.ERROR) or f.fixed_on is not None or f.flapping


def to_text(where: str, runs: Sequence[RunSummary], findings: Sequence[FindingHistory], *,
            every: bool = False) -> str:
    from tabulate import tabulate

    from reports.text import for_terminal

    out = [f"history {for_terminal(where)}: {len(runs)} run(s)"]
    if runs:
        rows = []
        for i, r in enumerate(runs):
            older = runs[i + 1] if i + 1 < len(runs) else None
            trend = ""
            if older is not None:
                delta = r.counts.get("fail", 0) - older.counts.get("fail", 0)
                trend = "=" if delta == 0 else f"{delta:+d}"
            other = sum(n for s, n in r.counts.items() if s not in ("pass", "fail", "error"))
            rows.append([for_terminal(r.run_id), _when(r.started), r.counts.get("pass", 0), r.counts.get("fail", 0),
                         trend, r.counts.get("error", 0), other, len(r.per_target),
                         ("sealed" if r.sealed else "NOT sealed") + (", interrupted" if r.interrupted else "")])
        out += ["", "runs (newest first; fail trend against the run before)",
                tabulate(rows, headers=["run", "started (UTC)", "pass", "fail", "trend", "error", "other",
                                        "targets", "record"])]
    shown = [f for f in findings if every or _needs_attention(f)]
    if shown:
        rows = [[for_terminal(f.target), for_terminal(f.check_id), for_terminal(f.resource)[:60], f.status.value,
                 _when(f.failing_since), _when(f.fixed_on), f"{f.flaps} (flapping)" if f.flapping else "0",
                 _when(f.first_seen), _when(f.last_seen)] for f in shown]
        title = "findings" if every else "findings that need attention (failing, error, fixed, flapping)"
        out += ["", f"{title} ({len(shown)} of {len(findings)})",
                tabulate(rows, headers=["target", "check", "resource", "status", "failing since", "fixed on",
                                        "flaps", "first seen", "last seen"])]
    elif findings:
        out += ["", f"no finding needs attention ({len(findings)} findings, none failing, in error, fixed or "
                    "flapping)"]
    return "\n".join(out) + "\n"
