"""The dashboard: one self-contained HTML page a security team reads (``--format dashboard``, ``gxpscan dashboard``).

Inline CSS, charts as inline SVG drawn here, no script and no URL to fetch; a Content-Security-Policy of
``default-src 'none'`` makes any fetch a browser could be tricked into fail. Every string from a target or the run
record is escaped for HTML. Sections: totals, compliance per framework and clause (``scanner.coverage``), per
target and per area, top failing checks, the trend of the last runs (options ``trend``), new and fixed since the
previous run (option ``previous``, ``scanner.diff``), and waivers with their expiry.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import Any, TextIO

from reports.text import for_document
from scanner.model import Result, Run, Status

#: Rows shown in the top failing checks and in each changes table (the counts are complete).
TOP = 15
MAX_ROWS = 200
COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "error": "#ef6c00", "waived": "#6a1b9a", "manual": "#546e7a",
           "not_applicable": "#b0bec5"}
ORDER = ("fail", "error", "waived", "manual", "pass", "not_applicable")
#: Clause verdicts (scanner.coverage.Verdict values) drawn with the status colour they correspond to.
VERDICT_STATUS = {"failed": "fail", "error": "error", "waived": "waived", "manual": "manual",
                  "no technical evidence": "manual", "technical part passed": "pass", "passed": "pass",
                  "not_applicable": "not_applicable"}

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1c2330}
header{background:#1c2330;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c9d1dc;font-size:12px}
main{padding:16px 24px;display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px}
section{background:#fff;border-radius:6px;padding:12px 16px;box-shadow:0 1px 2px #0002;overflow:auto}
section.wide{grid-column:1/-1}
h2{font-size:15px;margin:0 0 8px}
h3{font-size:13px;margin:10px 0 4px}
table{border-collapse:collapse;width:100%;font-size:12px}
th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #e3e6ea;vertical-align:top}
td{overflow-wrap:anywhere}
th{background:#f0f2f5;white-space:nowrap}
.cards{display:flex;gap:10px;flex-wrap:wrap}
.card{flex:1;min-width:90px;border-radius:6px;padding:8px 10px;color:#fff}
.card b{display:block;font-size:22px}
.legend span{display:inline-block;margin-right:10px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
.muted{color:#6b7585;font-size:12px}
.soon{color:#c62828;font-weight:600}
"""


@dataclass(frozen=True)
class TrendPoint:
    """One earlier run of the trend: its id, when it started, and its count of results per status value."""

    run_id: str
    started: datetime
    counts: Mapping[str, int]


def h(value: object) -> str:
    """Text from a run or a target, safe as HTML element content and attribute value."""
    return escape(for_document(value), quote=True)


def _pct(counts: Mapping[str, int]) -> str:
    judged = counts.get("pass", 0) + counts.get("fail", 0) + counts.get("error", 0)
    return f"{100 * counts.get('pass', 0) / judged:.0f} %" if judged else "n/a"


def bar(counts: Mapping[str, int], width: int = 260, height: int = 14) -> str:
    """A stacked horizontal bar of statuses as inline SVG (worst first), with a tooltip per segment."""
    total = sum(counts.get(s, 0) for s in ORDER)
    parts, x = [], 0.0
    for s in ORDER:
        n = counts.get(s, 0)
        if n and total:
            w = width * n / total
            parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{COLOURS[s]}">'
                         f"<title>{s}: {n}</title></rect>")
            x += w
    if not total:
        parts.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#eceff1"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="{h(", ".join(f"{s} {counts.get(s, 0)}" for s in ORDER if counts.get(s)))}">'
            + "".join(parts) + "</svg>")


def trend_svg(points: Sequence[TrendPoint], width: int = 1100, height: int = 200) -> str:
    """Lines of pass, fail and error counts over the runs (oldest left), with the run ids as tooltips."""
    if not points:
        return '<p class="muted">No earlier runs in the history.</p>'
    pad, top = 36, 10
    peak = max(1, *(p.counts.get(s, 0) for p in points for s in ("pass", "fail", "error")))
    step = (width - 2 * pad) / max(1, len(points) - 1)

    def xy(i: int, n: int) -> tuple[float, float]:
        return pad + i * step, top + (height - pad - top) * (1 - n / peak)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'style="width:100%;max-width:{width}px" role="img" '
           f'aria-label="trend of pass, fail and error over {len(points)} runs">',
           f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#90a4ae"/>',
           f'<text x="4" y="{top + 8}" font-size="10" fill="#546e7a">{peak}</text>',
           f'<text x="4" y="{height - pad}" font-size="10" fill="#546e7a">0</text>']
    for s in ("pass", "fail", "error"):
        coords = [xy(i, p.counts.get(s, 0)) for i, p in enumerate(points)]
        out.append(f'<polyline fill="none" stroke="{COLOURS[s]}" stroke-width="2" points="'
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
        for (x, y), p in zip(coords, points, strict=True):
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLOURS[s]}"><title>{h(p.run_id)}: '
                       f"{s} {p.counts.get(s, 0)}</title></circle>")
    for i in (0, len(points) - 1) if len(points) > 1 else (0,):
        x, _ = xy(i, 0)
        anchor = "start" if i == 0 else "end"
        out.append(f'<text x="{x:.1f}" y="{height - pad + 14}" font-size="10" text-anchor="{anchor}" '
                   f'fill="#546e7a">{h(points[i].started.strftime("%Y-%m-%d %H:%M"))}</text>')
    return "".join(out) + "</svg>"


def _legend() -> str:
    return '<p class="legend">' + "".join(f'<span><i style="background:{COLOURS[s]}"></i>{s}</span>'
                                          for s in ORDER) + "</p>"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], empty: str, total: int | None = None) -> str:
    """Rows are HTML already (cells escaped by the caller)."""
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    more = (total or len(rows)) - len(rows)
    return ("<table><thead><tr>" + "".join(f"<th>{escape(x)}</th>" for x in head) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows) + "</tbody></table>"
            + (f'<p class="muted">... and {more} more</p>' if more > 0 else ""))


def _counts_by(results: Sequence[Result], key: str) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        out[str(getattr(r, key).value if key == "area" else getattr(r, key))][r.status.value] += 1
    return dict(sorted(out.items()))


def _bars(groups: Mapping[str, Mapping[str, int]], label: str) -> str:
    rows = [[h(name), bar(c), h(_pct(c)), h(sum(c.values()))] for name, c in groups.items()]
    return _table([label, "results", "passing", "total"], rows[:MAX_ROWS], f"no {label}", len(rows))


def _frameworks(run: Run) -> str:
    from scanner.coverage import coverage

    clauses: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    titles: dict[str, str] = {}
    for c in coverage(run):
        framework = c.ref.split(":", 1)[0]
        clauses[framework][c.ref][VERDICT_STATUS.get(c.verdict.value, "manual")] += 1
        titles[c.ref] = c.title
    if not clauses:
        return '<p class="muted">The run records no clause mapping.</p>'
    summary = {fw: Counter({s: sum(1 for c in refs.values() if _worst(c) == s) for s in ORDER})
               for fw, refs in sorted(clauses.items())}
    parts = ['<p class="muted">Per framework: clauses by their worst verdict over the targets '
             "(pass = technical evidence passed).</p>", _bars(summary, "framework")]
    for fw, refs in sorted(clauses.items()):
        rows = [[h(ref.split(":", 1)[1]), h(titles[ref]), bar(c, 160, 10), h(_worst(c))]
                for ref, c in sorted(refs.items())]
        parts.append(f"<details><summary>{h(fw)}: {len(rows)} clauses</summary>"
                     + _table(["clause", "title", "targets", "worst"], rows, "no clause") + "</details>")
    return "".join(parts)


def _worst(counts: Mapping[str, int]) -> str:
    return next((s for s in ORDER if counts.get(s)), "not_applicable")


def _top_failing(run: Run) -> str:
    fails = Counter(r.check for r in run.results if r.status is Status.FAIL)
    severity = {r.check: r.severity.value for r in run.results}
    targets: dict[str, set[str]] = defaultdict(set)
    for r in run.results:
        if r.status is Status.FAIL:
            targets[r.check].add(r.target)
    rows = [[h(check), h(severity[check]), h(n), h(len(targets[check]))] for check, n in fails.most_common(TOP)]
    return _table(["check", "severity", "failing results", "targets"], rows, "Nothing fails.", len(fails))


def _changes(run: Run, previous: Run | None) -> str:
    if previous is None:
        return '<p class="muted">No previous run to compare with.</p>'
    from scanner.diff import compare

    d = compare(previous, run)
    newly_erroring = [c for c in d.changed if c.after is Status.ERROR]
    parts = [f'<p class="muted">Compared with run {h(previous.info.id)}.</p>']
    for title, items in (("New failures", d.new_failures), ("New errors", newly_erroring), ("Fixed", d.fixed)):
        rows = [[h(c.target), h(c.check), h(c.resource), h(c.severity.value), h(c.message)]
                for c in items[:MAX_ROWS]]
        parts.append(f"<h3>{title} ({len(items)})</h3>"
                     + _table(["target", "check", "resource", "severity", "message"], rows, "none", len(items)))
    return "".join(parts)


def _waivers(run: Run, today: date) -> str:
    rows: list[tuple[str, list[str]]] = []
    seen = set()
    for r in run.results:
        w = r.waiver or r.expired_waiver
        if w is None or (r.target, r.check, r.resource, w.expires) in seen:
            continue
        seen.add((r.target, r.check, r.resource, w.expires))
        try:
            left = (date.fromisoformat(w.expires[:10]) - today).days
            when = f"{left} days" if left >= 0 else "expired"
        except ValueError:
            left, when = -1, "unreadable date"
        cls = ' class="soon"' if left <= 30 else ""
        rows.append((w.expires, [h(r.target), h(r.check), h(r.resource), f"<span{cls}>{h(w.expires)}</span>",
                                 f"<span{cls}>{h(when)}</span>", h(w.approved_by), h(w.reason)]))
    rows.sort(key=lambda x: x[0])
    return _table(["target", "check", "resource", "expires", "left", "approved by", "reason"],
                  [r for _, r in rows[:MAX_ROWS]], "No waiver applies in this run.", len(rows))


def html_page(run: Run, *, trend: Sequence[TrendPoint] = (), previous: Run | None = None,
              today: date | None = None) -> str:
    counts = run.counts()
    today = today or (run.info.ended or run.info.started).date()
    points = sorted([*(p for p in trend if p.run_id != run.info.id),
                     TrendPoint(run.info.id, run.info.started, counts)], key=lambda p: (p.started, p.run_id))
    cards = "".join(f'<div class="card" style="background:{COLOURS[s]}"><b>{counts.get(s, 0)}</b>{s}</div>'
                    for s in ORDER)
    info = run.info
    incomplete = " <b>The run is incomplete (interrupted).</b>" if info.interrupted else ""
    sections = [
        ("wide", "Summary", f'<div class="cards">{cards}</div><p>Passing: <b>{h(_pct(counts))}</b> of the '
                            f"results judged (pass, fail, error).{incomplete}</p>"),
        ("wide", f"Trend over the last {len(points)} runs",
         trend_svg(points) + '<p class="legend">' + "".join(
             f'<span><i style="background:{COLOURS[s]}"></i>{s}</span>' for s in ("pass", "fail", "error"))
         + "</p>"),
        ("wide", "Compliance per framework and clause", _legend() + _frameworks(run)),
        ("", "Per target", _bars(_counts_by(run.results, "target"), "target")),
        ("", "Per area", _bars(_counts_by(run.results, "area"), "area")),
        ("", "Top failing checks", _top_failing(run)),
        ("", "New and fixed since the previous run", _changes(run, previous)),
        ("wide", "Waivers", _waivers(run, today)),
    ]
    body = "".join(f'<section class="{cls}"><h2>{escape(title)}</h2>{content}</section>'
                   for cls, title, content in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>gxpscan dashboard {h(info.id)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>gxpscan dashboard</h1><p>run {h(info.id)} &middot; started "
            f"{h(info.started.isoformat(timespec='seconds'))} &middot; {h(info.operator)} &middot; inventory "
            f"{h(info.inventory)} &middot; gxpscan {h(info.tool_version)}</p></header>"
            f"<main>{body}</main></body></html>\n")


def render(run: Run, out: TextIO, *, trend: Sequence[TrendPoint] = (), previous: Run | None = None,
           **_: Any) -> None:
    out.write(html_page(run, trend=trend, previous=previous))
