"""The management review summary (``gxpscan management-review``, issue 17) as HTML: one self-contained page (styles
inline, nothing fetched), every value escaped by the OQ documents' template environment (``reports.oq``).

:func:`sections` is the content as titled tables of text, shared by the HTML and the PDF (``reports.management_pdf``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from scanner.management import AGE_BUCKETS, Point, Summary
from scanner.risk import describe

TEMPLATE = "management-review.html.j2"
TITLE = "Management review: compliance, risk and deviations"
DASH = "\u2014"


@dataclass(frozen=True)
class Section:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    css: str
    note: str = ""
    widths: tuple[float, ...] = ()  # fractions of the page width (PDF)


def _share(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f}%"


def meta(s: Summary) -> list[tuple[str, str]]:
    return [("Period (UTC)", f"{s.since.isoformat()} to {s.until.isoformat()}"),
            ("Generated (UTC)", s.generated.isoformat()), ("Source", s.source), ("Risk matrix", s.risk_matrix),
            ("Verified runs in the period", str(len(s.runs))), ("Runs excluded", str(len(s.excluded)))]


NOTES = ("Only verified runs count: every run directory was verified against its seal before use; a run that is "
         "not sealed, or whose seal fails, is listed under 'Runs excluded' and not used.",
         "Share passing = pass / (pass + fail + error + waived): an error or a waived failure is not a pass.")


def _points(title: str, css: str, scope: str, points: Sequence[Point]) -> Section:
    rows = tuple((p.run_id, p.started.isoformat(), p.scope, str(p.passed), str(p.failed), str(p.errors),
                  str(p.waived), _share(p.share)) for p in points)
    return Section(title, ("Run", "Started (UTC)", scope, "Pass", "Fail", "Error", "Waived", "Share passing"), rows,
                   css, widths=(0.2, 0.17, 0.19, 0.08, 0.08, 0.08, 0.08, 0.12))


def sections(s: Summary) -> list[Section]:
    matrix = s.open_by_risk_and_age()
    labels = tuple(label for label, _ in AGE_BUCKETS)
    mttf = s.mean_time_to_fix()
    return [
        Section(f"Runs excluded ({len(s.excluded)})", ("Run directory", "Reason"),
                tuple((e.run_dir, e.reason) for e in s.excluded), "excluded", widths=(0.4, 0.6)),
        _points("Compliance by framework over time", "by-framework", "Framework", s.by_framework),
        _points("Compliance by system over time", "by-system", "System", s.by_system),
        Section(f"Open findings by risk and age ({len(s.open_findings)})", ("Risk", *labels),
                tuple((level, *(str(row[b]) for b in labels)) for level, row in matrix.items()), "open-matrix",
                note="Open: fail or error in the latest run of a system scanned in the period; age from the first "
                     "run of its current stretch of runs that did not pass to the end of the period."),
        Section("Open findings", ("Risk", "Status", "System", "Check", "Resource", "First seen", "Age (days)",
                                  "Message"),
                tuple((describe(f.risk) or "not rated", f.status.value, f.target, f.check, f.resource,
                       f.first_seen.date().isoformat(), str(f.age_days), f.message) for f in s.open_findings),
                "open-findings", widths=(0.11, 0.06, 0.11, 0.17, 0.13, 0.1, 0.07, 0.25)),
        Section(f"Deviations: failures open at the end of the period ({len(s.deviations)})",
                ("Risk", "System", "Check", "Resource", "Failing since", "Last run"),
                tuple((describe(f.risk) or "not rated", f.target, f.check, f.resource,
                       f.first_seen.date().isoformat(), f.run_id) for f in s.deviations), "deviations",
                widths=(0.14, 0.16, 0.22, 0.18, 0.12, 0.18)),
        Section(f"Waivers ({len(s.waivers)})", ("State", "Expires", "Days left", "System", "Check", "Resource",
                                                "Reason", "Approved by"),
                tuple((w.state, w.expires, DASH if w.days_left is None else str(w.days_left), w.target, w.check,
                       w.resource, w.reason, w.approved_by) for w in s.waivers), "waivers",
                note=f"Applied in the latest run of each system, and expired waivers still matching a failure; "
                     f"expiring: within {s.expiring_days} days of the end of the period.",
                widths=(0.08, 0.1, 0.07, 0.12, 0.17, 0.12, 0.22, 0.12)),
        Section("Mean time to fix (fixes in the period)", ("Risk", "Fixes", "Mean days from first seen failing"),
                tuple((level, str(n), DASH if mean is None else f"{mean:.1f}") for level, (n, mean) in mttf.items()),
                "mttf", widths=(0.3, 0.2, 0.5)),
        Section(f"Fixes ({len(s.fixes)})", ("Risk", "System", "Check", "Resource", "First seen failing", "Fixed on",
                                            "Days"),
                tuple((f.risk.value if f.risk else "not rated", f.target, f.check, f.resource,
                       f.failing_since.isoformat(), f.fixed_on.isoformat(), f"{f.days:.1f}") for f in s.fixes),
                "fixes", widths=(0.09, 0.14, 0.2, 0.15, 0.17, 0.17, 0.08)),
    ]


def html(s: Summary, template_dir: str | Path | None = None) -> str:
    from reports.oq import environment

    text: str = environment(template_dir).get_template(TEMPLATE).render(
        title=TITLE, meta=meta(s), notes=NOTES, sections=sections(s))
    return text


def render_html(s: Summary, out: TextIO, *, template_dir: str | Path | None = None) -> None:
    out.write(html(s, template_dir))
