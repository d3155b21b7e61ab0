"""Risk options of ``scan`` and ``report`` (``--risk-matrix``, ``--min-risk``, ``--sort risk``) and the
``gxpscan management-review`` command. Registered by scanner.cli; everything heavy is imported when a command runs.

``--min-risk`` and ``--sort`` change what the reports show, never the exit code: it still judges every finding
of the run by ``--fail-on`` (a filter must not turn a failing run into "all clear"). ``--min-risk`` filters the
console, SARIF, JUnit, GitLab, CSV and dashboard reports, and the deviations of the OQ record; the JSON report keeps
every finding (it is verified against the run record), sorted by risk with ``--sort risk``.
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.model import Run
    from scanner.risk import RiskMatrix
    from scanner.runner import TargetOutcome

LEVELS = ["low", "medium", "high", "critical"]
REVIEW_FORMATS = ["html", "pdf"]
#: Formats that keep every result whatever --min-risk says: report.json is the record's content again (verify
#: proves it against the record, so a filtered one would make the run not intact); the OQ execution record would
#: not be one with tests left out: --min-risk and --sort apply to its deviations list
COMPLETE_FORMATS = ("json", "oq", "pdf")
#: management-review output file per format
REVIEW_FILES = {"html": "management-review.html", "pdf": "management-review.pdf"}


def _usage(message: str) -> Exception:
    from scanner.cli import UsageError

    return UsageError(message)


def _matrix_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--risk-matrix", metavar="FILE",
                   help="the site's risk matrix (YAML/JSON, every severity x impact cell; see "
                        "scanner/risk_matrix.json); default: the documented default matrix")


def report_options(p: argparse.ArgumentParser) -> None:
    """Options of ``scan`` and ``report``: the matrix, and what the reports show."""
    _matrix_option(p)
    p.add_argument("--min-risk", choices=LEVELS, metavar="LEVEL",
                   help="reports show only findings rated at least LEVEL (low, medium, high, critical); the exit "
                        "code still judges every finding")
    p.add_argument("--sort", choices=["risk"], help="risk: the riskiest findings first in every report")


def matrix(args: argparse.Namespace) -> RiskMatrix:
    """The matrix asked for (a usage fault naming the file and cell when it is not valid)."""
    from scanner.risk import RiskMatrixError, load_matrix

    try:
        return load_matrix(getattr(args, "risk_matrix", None))
    except RiskMatrixError as exc:
        raise _usage(str(exc)) from None


def rate(outcome: TargetOutcome, risk_matrix: RiskMatrix) -> TargetOutcome:
    """A finished target's results with their risk, from its declared GxP impact."""
    from dataclasses import replace

    from scanner.risk import rate_all

    return replace(outcome, results=rate_all(outcome.results, outcome.target.gxp_context, risk_matrix))


def views(run: Run, args: argparse.Namespace, risk_matrix: RiskMatrix) -> tuple[Run, Run]:
    """The run with every result rated (an old record's on the fly), and what the reports show of it: filtered
    and sorted as asked."""
    from scanner.model import RiskLevel
    from scanner.risk import rated, select

    full = rated(run, risk_matrix)
    shown = select(full, min_risk=RiskLevel(args.min_risk) if args.min_risk else None, by_risk=args.sort == "risk")
    if len(shown.results) != len(full.results) and not getattr(args, "quiet", False):
        print(f"gxpscan: --min-risk {args.min_risk}: the reports show {len(shown.results)} of {len(full.results)} "
              "findings (JSON and the OQ tests: all); the exit code judges all of them", file=sys.stderr)
    return full, shown


def view_for(fmt: str, run: Run, shown: Run, sort: str | None) -> Run:
    """The run a format renders: ``shown`` (filtered and sorted), or for a complete format the whole run (the JSON
    report sorted by risk when asked)."""
    from scanner.risk import select

    if fmt not in COMPLETE_FORMATS:
        return shown
    return select(run, by_risk=True) if fmt == "json" and sort == "risk" else run


def document_options(args: argparse.Namespace) -> dict[str, Any]:
    """For the OQ record (oq, pdf), which stays complete: --min-risk and --sort apply to its deviations."""
    return {"min_risk": args.min_risk, "sort": args.sort}


# --- gxpscan management-review ---------------------------------------------------------------------------------

def register(sub: Any) -> None:
    from scanner import cli_history

    m = sub.add_parser(
        "management-review",
        help="management review summary over a period: compliance by framework and system per run, open findings "
             "by risk and age, deviations, waivers and their expiry, mean time to fix (HTML, PDF); only verified "
             "runs count")
    m.set_defaults(func=cmd_management_review)
    m.add_argument("--since", required=True, metavar="DATE", help="start of the period (ISO date, or N days: 90d)")
    m.add_argument("--until", metavar="DATE", help="end of the period (ISO date or date-time; default now)")
    m.add_argument("--runs", nargs="+", metavar="DIR",
                   help="read these run directories (or results directories) instead of the history")
    cli_history.diff_options(m)  # --history SPEC, --results DIR: the history whose runs are read
    _matrix_option(m)
    m.add_argument("--format", action="append", choices=REVIEW_FORMATS, default=[],
                   help="html (default) and/or pdf")
    m.add_argument("--output", "-o", metavar="DIR", default=".", help="directory to write the summary into")
    m.add_argument("--expiring-days", type=int, default=30, metavar="N",
                   help="waivers expiring within N days are listed as expiring (default 30)")
    m.add_argument("--template-dir", metavar="DIR", help="site templates (branding) for the HTML and PDF")
    m.add_argument("--paper", choices=["A4", "letter"], default="A4", help="pdf: page size (default A4)")


def _period(args: argparse.Namespace) -> tuple[datetime, datetime]:
    """--since and --until in UTC; an --until given as a date ends with that day."""
    from datetime import timedelta

    from scanner.history import HistoryError, since_date
    from scanner.model import utcnow

    try:
        since = since_date(args.since)
        until = since_date(args.until) if args.until else utcnow()
    except HistoryError as exc:
        raise _usage(str(exc).replace("--since", "--since/--until")) from None
    if args.until and len(args.until.strip()) == len("2026-01-31"):
        until += timedelta(days=1, microseconds=-1)
    if until < since:
        raise _usage("--until is before --since")
    return since, until


def _run_dirs(args: argparse.Namespace) -> tuple[list[Path], str]:
    from scanner.history import HistoryError, open_history, run_dirs

    try:
        if args.runs:
            return [d for p in args.runs for d in run_dirs(Path(p))], "run directories " + ", ".join(args.runs)
        with open_history(args.history, Path(args.results), create=False) as history:
            return [Path(r.run_dir) for r in history.runs()], f"history {history.where}"
    except HistoryError as exc:
        raise _usage(str(exc)) from None


def cmd_management_review(args: argparse.Namespace) -> int:
    from scanner.cli import EXIT_NOT_INTACT, EXIT_OK, _say
    from scanner.management import summarise
    from scanner.safefs import OutputDir

    since, until = _period(args)
    if args.expiring_days < 0:
        raise _usage("--expiring-days must not be negative")
    risk_matrix = matrix(args)
    dirs, source = _run_dirs(args)
    summary = summarise(dirs, since=since, until=until, risk_matrix=risk_matrix, source=source,
                        expiring_days=args.expiring_days)
    for ex in summary.excluded:
        _say(f"warning: run {ex.run_dir} is excluded from the review: {ex.reason}")
    outdir = Path(args.output)
    with OutputDir.open(outdir) as directory:
        for fmt in args.format or ["html"]:
            if fmt == "html":
                from reports.management import render_html

                with directory.replace(REVIEW_FILES[fmt]) as fh:
                    render_html(summary, fh, template_dir=args.template_dir)
            else:
                from reports.management_pdf import render_pdf

                with directory.replace(REVIEW_FILES[fmt]) as fh:
                    render_pdf(summary, fh, template_dir=args.template_dir, paper=args.paper)
            print(f"{fmt} management review: {outdir / REVIEW_FILES[fmt]}", file=sys.stderr)
    return EXIT_NOT_INTACT if any(ex.tampered for ex in summary.excluded) else EXIT_OK
