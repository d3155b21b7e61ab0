"""Unattended operation on the command line: scan options (--lock, --keep, --keep-days, --delete-signed, --latest,
--notify), the work after a scan (retention, the latest link, notifications) and ``gxpscan dashboard``."""
from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reports.dashboard import TrendPoint
    from scanner.inventory import Inventory
    from scanner.model import Run

NOTIFICATIONS_NAME = "notifications.json"
DASHBOARD_NAME = "dashboard.html"
DEFAULT_RESULTS = "gxpscan-results"


def _say(message: str) -> None:
    from scanner.cli import _say as say

    say(message)


def add_scan_options(s: argparse.ArgumentParser) -> None:
    g = s.add_argument_group("unattended operation")
    g.add_argument("--lock", metavar="FILE",
                   help="hold this lock file for the scan: a second scan with the same lock exits 8 at once; a lock "
                        "left by a dead process is taken over")
    g.add_argument("--keep", type=int, metavar="N", help="after the scan, keep only the newest N runs of the results "
                                                        "directory (signed runs stay unless --delete-signed)")
    g.add_argument("--keep-days", type=int, metavar="D", help="after the scan, delete runs started more than D days "
                                                             "ago (signed runs stay unless --delete-signed)")
    g.add_argument("--delete-signed", action="store_true",
                   help="let --keep/--keep-days delete signed runs too (a signed manifest or a review signature)")
    g.add_argument("--latest", action="store_true",
                   help="with --output: point <parent of --output>/latest at this run (always done without --output)")
    g.add_argument("--notify", metavar="FILE",
                   help="YAML file of notification channels (webhook, email): told on new failures, new errors, "
                        "fixed and expiring waivers; a failed notification exits 7, the scan is kept")


def with_lock(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """cmd_scan checked first (options, notification file) and run under --lock."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        from scanner.cli import EXIT_LOCKED, UsageError

        if args.keep is not None and args.keep < 1:
            raise UsageError("--keep must be at least 1 (the run just made is always kept)")
        if args.keep_days is not None and args.keep_days < 0:
            raise UsageError("--keep-days must not be negative")
        if args.delete_signed and args.keep is None and args.keep_days is None:
            raise UsageError("--delete-signed goes with --keep or --keep-days")
        args.notify_config = None
        if args.notify:  # the notifier (smtplib, email) is imported only when a scan notifies
            from scanner.notify import NotifyError, load_config

            try:
                args.notify_config = load_config(args.notify)
            except NotifyError as exc:
                raise UsageError(str(exc)) from None
        if not args.lock:
            return func(args)
        from scanner.ops import LockHeld, OpsError, ScanLock

        try:
            with ScanLock(args.lock) as lock:
                if lock.stale_pid is not None:
                    _say(f"warning: took over the stale lock {args.lock} of PID {lock.stale_pid}, which is no "
                         "longer running")
                return func(args)
        except LockHeld as exc:
            _say(f"{exc}; nothing was scanned (exit {EXIT_LOCKED})")
            return EXIT_LOCKED
        except OpsError as exc:
            raise UsageError(str(exc)) from None

    return run


def inventory_notifications(args: argparse.Namespace, inventory: Inventory) -> None:
    """The inventory's ``notifications:`` when no --notify file was given (checked before anything is scanned)."""
    section = inventory.document.get("notifications")
    if getattr(args, "notify_config", None) is not None or section is None:
        return
    from scanner.cli import UsageError
    from scanner.notify import NotifyError, config_from

    try:
        args.notify_config = config_from(section, f"{inventory.source}: notifications")
    except NotifyError as exc:
        raise UsageError(str(exc)) from None


# --- after a scan ----------------------------------------------------------------------------------------------

def _load_verified(run_dir: Path) -> tuple[Run | None, str]:
    """A run read back only when it verifies intact; else None and why."""
    from scanner.seal import verify_run
    from scanner.store import RecordError, read_record

    v = verify_run(run_dir)
    if not v.intact:
        return None, f"the previous run {run_dir.name} is not intact; nothing was compared with it"
    try:
        return read_record(run_dir).run, ""
    except (RecordError, OSError) as exc:
        return None, f"the previous run {run_dir.name} could not be read ({exc}); nothing was compared with it"


def after_scan(args: argparse.Namespace, run: Run, outdir: Path, sealing: Mapping[str, Any], code: int) -> int:
    """Retention and the latest link, then notifications. Returns the exit code: 7 when a notification failed
    (unless the scan itself could not write or was interrupted)."""
    from scanner.cli import EXIT_INTERRUPTED, EXIT_NOTIFY, EXIT_WRITE

    if run.info.interrupted or code == EXIT_WRITE:
        return code  # an incomplete run neither replaces old runs nor tells anyone "fixed"
    config = getattr(args, "notify_config", None)
    retention = args.keep is not None or args.keep_days is not None
    latest = not args.output or args.latest
    if config is None and not retention and not latest:
        return code  # nothing to do after the scan (scanner.ops is not even imported)
    from scanner.ops import OpsError, apply_retention, previous_run, update_latest

    results = outdir.parent
    previous: Run | None = None
    notes: list[str] = []
    if config is not None:
        before = previous_run(results, outdir)
        if before is not None:
            previous, note = _load_verified(before.path)
            notes += [note] if note else []
    if retention:
        try:
            kept = apply_retention(results, keep=args.keep, keep_days=args.keep_days,
                                   delete_signed=args.delete_signed, protect=outdir)
        except OpsError as exc:
            _say(f"warning: retention not applied: {exc}")
        else:
            if kept.deleted and not args.quiet:
                _say(f"retention: deleted {len(kept.deleted)} run(s): {', '.join(kept.deleted)}")
            if kept.kept_signed:
                _say(f"retention: kept {len(kept.kept_signed)} signed run(s) (give --delete-signed to delete them): "
                     + ", ".join(kept.kept_signed))
            for problem in kept.failed:
                _say(f"warning: retention could not delete {problem}")
    if latest:
        try:
            update_latest(results, outdir)
        except OpsError as exc:
            _say(f"warning: {exc}")
    if config is None:
        return code
    failed = _notify(config, run, previous, notes, outdir, sealing, quiet=args.quiet)
    return EXIT_NOTIFY if failed and code not in (EXIT_WRITE, EXIT_INTERRUPTED) else code


def _notify(config: Any, run: Run, previous: Run | None, notes: list[str], outdir: Path,
            sealing: Mapping[str, Any], *, quiet: bool) -> bool:
    """Send, record the outcome in the run directory (sealed again), and say what failed. True when one failed."""
    from scanner import notify
    from scanner.cli import _seal
    from scanner.safefs import OutputDir, OutputError

    told = notify.changes(run, previous, within_days=config.within_days, today=datetime.now(timezone.utc).date(),
                          notes=notes)
    if told.empty:
        return False
    deliveries = notify.send(config, told)
    failed = [d for d in deliveries if not d.ok]
    for d in failed:
        _say(f"notification failed: {d.channel}: {d.detail}")
    if not quiet:
        for d in deliveries:
            if d.ok:
                _say(f"notified: {d.channel}")
    try:
        with OutputDir.open(outdir, create=False) as directory, directory.replace(NOTIFICATIONS_NAME) as fh:
            json.dump(notify.record(told, deliveries), fh, indent=2, sort_keys=True, ensure_ascii=True)
            fh.write("\n")
    except OutputError as exc:
        _say(f"warning: the notification outcome could not be recorded: {exc}")
        return True
    if _seal(outdir, sealing, quiet=True):
        return True
    return bool(failed)


# --- the dashboard ---------------------------------------------------------------------------------------------

def _trend_from_records(results: Path, limit: int, exclude: str) -> list[TrendPoint]:
    from reports.dashboard import TrendPoint
    from scanner.ops import run_dirs
    from scanner.store import RecordError, read_record

    points: list[TrendPoint] = []
    for r in run_dirs(results):
        if len(points) >= limit:
            break
        if r.run_id == exclude:
            continue
        try:
            points.append(TrendPoint(r.run_id, r.started, read_record(r.path).run.counts()))
        except (RecordError, OSError):
            continue
    return points


def trend(results: Path, limit: int, *, exclude: str = "", history: str | None = None,
          use_history: bool = True) -> list[TrendPoint]:
    """Counts of the last ``limit`` runs but ``exclude`` (a run id): from the history (scanner.history, which keeps
    runs retention deleted) when there is one, else from the run records of the results directory."""
    from reports.dashboard import TrendPoint
    from scanner.history import DEFAULT_NAME, HistoryError, open_history

    if limit < 1:
        return []
    if use_history and (history or (results / DEFAULT_NAME).is_file()):
        try:
            with open_history(history, results, create=False) as h:
                runs = [r for r in h.runs(limit=limit + 1) if r.run_id != exclude][:limit]
            return [TrendPoint(r.run_id, r.started, r.counts) for r in runs]
        except HistoryError as exc:
            _say(f"warning: the dashboard trend comes from the run records: the history cannot be read ({exc})")
    return _trend_from_records(results, limit, exclude)


def dashboard_options(args: argparse.Namespace, run: Run, outdir: Path, runs: int = 30) -> dict[str, Any]:
    """``trend`` and ``previous`` for the dashboard of ``run`` (in ``outdir``): the trend from ``--history`` (or
    the results directory's), the previous run of the same results directory (verified before it is read)."""
    from scanner.ops import previous_run

    before = previous_run(outdir.parent, outdir)
    previous = _load_verified(before.path)[0] if before is not None else None
    return {"trend": trend(outdir.parent, runs - 1, exclude=run.info.id, history=getattr(args, "history", None),
                           use_history=not getattr(args, "no_history", False)),
            "previous": previous}


def register(sub: Any) -> None:
    from scanner.cli import EXIT_CODES_HELP

    d = sub.add_parser("dashboard", help="write the HTML dashboard of the latest run of a results directory",
                       epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.set_defaults(func=cmd_dashboard)
    d.add_argument("results", nargs="?", default=DEFAULT_RESULTS,
                   help=f"results directory holding the run directories (default ./{DEFAULT_RESULTS})")
    d.add_argument("--run", metavar="DIR", help="the run to show (default: the newest run of the results directory)")
    d.add_argument("--runs", type=int, default=30, metavar="N", help="runs in the trend (default 30)")
    d.add_argument("--output", "-o", metavar="FILE",
                   help=f"file to write (default RESULTS/{DASHBOARD_NAME}); its directory must be yours")
    d.add_argument("--history", metavar="SPEC", help="the history the trend comes from (see `gxpscan history`; "
                                                     "default: history.sqlite in the results directory, else the "
                                                     "run records)")


def cmd_dashboard(args: argparse.Namespace) -> int:
    from reports.dashboard import render
    from scanner.cli import EXIT_OK, UsageError, _verify_first
    from scanner.ops import run_dirs
    from scanner.safefs import OutputDir
    from scanner.store import read_record

    if args.runs < 1:
        raise UsageError("--runs must be at least 1")
    results = Path(args.results)
    if args.run:
        run_dir = Path(args.run)
    else:
        runs = run_dirs(results)
        if not runs:
            raise UsageError(f"{results} holds no run directory")
        run_dir = runs[0].path
    args.no_verify, args.pubkey, args.tsa_cert = False, [], []
    refused = _verify_first(run_dir, args)
    if refused is not None:
        return refused
    run = read_record(run_dir).run
    out = Path(args.output) if args.output else results / DASHBOARD_NAME
    with OutputDir.open(out.parent) as directory, directory.replace(out.name) as fh:
        render(run, fh, **dashboard_options(args, run, run_dir, args.runs))
    print(f"dashboard: {out}", file=sys.stderr)
    return EXIT_OK
