"""OQ documents: the execution record of a run (``--format oq``) and the test protocol (``gxpscan protocol``).

Both are self-contained, printable HTML documents made from Jinja2 templates kept as data in
``reports/templates/`` (``oq-record.html.j2``, ``oq-protocol.html.j2``, the shared ``oq-base.html.j2`` and the
print stylesheet ``oq-print.css``). A site brands them without code changes: a ``template_dir`` whose files
override these by name (``--template-dir``). Autoescaping is on for every template, and every value passes
through ``reports.text.for_document`` before it is escaped: controls, bidi overrides and undecodable bytes from a
target appear as visible escapes (``\\x1b``, ``\\u202e``, ``\\xff``), in a site's template too.

The execution record holds, per executed test (check x target, with one step per resource): the stable test id, the
clauses it traces to, the acceptance criterion, the observed values and message, the outcome
(PASS/FAIL/ERROR/MANUAL/WAIVED/N/A), the objective evidence (source, UTC time, SHA-256, an excerpt), where the
finding is (for code: file and lines relative to the repository root, as in SARIF, on every step) and how to remedy
a failure; who executed it (printed name and user@host) and when; the system under test per target; a traceability
matrix ordered by requirement; a deviation log (id, description, impact, empty disposition and CAPA fields); the
manual results with a place for attached evidence; a summary and conclusion; and the signature block (Part 11 11.50:
printed name, UTC date and time, meaning), with empty lines to sign when no electronic signature is recorded. When
the run executed an approved protocol (``RunInfo.protocol_sha256``) and that protocol is at hand, the record
reconciles the two: a test the run executed that the protocol did not contain, and a protocol test the run left out,
are deviations. Only then does the record say that the acceptance criteria were fixed before execution.

The pages are also well-formed XML (void elements closed, numeric character references only), so any XML parser
can check them.
"""
from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from reports.location import place
from reports.text import for_document
from scanner.coverage import ClauseCoverage, Verdict, by_clause, coverage, overall
from scanner.model import Location, Result, RiskLevel, Run, SignatureRecord, Status, thaw
from scanner.protocol import Protocol, ProtocolTest, reconcile, test_id, worst
from scanner.risk import describe

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
RECORD_TEMPLATE = "oq-record.html.j2"
PROTOCOL_TEMPLATE = "oq-protocol.html.j2"
PAPER_SIZES = ("A4", "letter")
#: Longest text a document shows for one observed value set, message or evidence excerpt; the record keeps all.
MAX_SHOWN = 4000
#: Evidence excerpt: at most this many lines (the PDF shows fewer: see reports.pdf).
EXCERPT_LINES = 60
#: Roles that sign an execution record, with the meaning printed on an empty signature line.
SIGN_ROLES = (("executor", "Executed by", "I executed the tests as recorded"),
              ("reviewer", "Reviewed by", "I reviewed this record and its deviations"),
              ("approver", "Approved by (QA)", "I approve this record"))


def _finalize(value: Any) -> Any:
    """Every value a template prints: None as nothing, markup as it is, anything else made safe for a document
    and escaped for HTML and XML (quotes included)."""
    from markupsafe import Markup

    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(for_document(value), quote=True))


def environment(template_dir: str | Path | None = None) -> Any:
    """The Jinja2 environment: a site's ``template_dir`` first (its files override ours by name), then ours.
    Autoescaping is on for every template; unknown variables are an error, not an empty string."""
    import jinja2

    dirs = ([str(template_dir)] if template_dir else []) + [str(TEMPLATE_DIR)]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(dirs), autoescape=True, finalize=_finalize,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["shown"] = shown
    env.filters["upper_status"] = lambda s: Status(s).value.upper().replace("_", " ")
    env.filters["json"] = lambda v: json.dumps(thaw(v), sort_keys=True, default=str, ensure_ascii=False)
    return env


def shown(value: Any, limit: int = MAX_SHOWN) -> str:
    """A long text cut for the document, saying how much the record keeps beyond it."""
    text = str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\u2026 ({len(text) - limit} more characters in the run record)"


def _excerpt(raw: str, max_lines: int = EXCERPT_LINES) -> str:
    lines = raw.split("\n")
    text = "\n".join(lines[:max_lines])
    cut = len(lines) > max_lines
    if len(text) > MAX_SHOWN:
        text, cut = text[:MAX_SHOWN], True
    return text + ("\n\u2026 (excerpt; the run record keeps the whole output)" if cut else "")


def where(loc: Location | None) -> str:
    if loc is None:
        return ""
    if loc.start_line is None:
        return f"location: {loc.path}"
    lines = f"line {loc.start_line}" if loc.end_line in (None, loc.start_line) else \
        f"lines {loc.start_line}-{loc.end_line}"
    return f"location: {loc.path}, {lines}"


def step_where(r: Result) -> str:
    """Where a finding is, as the record shows it: a finding on code always says where (its file and lines
    relative to the repository root, the same as SARIF, or why it has none), a host finding when it is known."""
    found = place(r)
    if not found.in_code:
        return where(found.location)
    if found.refused:
        return f"location: {found.refused}"
    return where(found.location) or "location: not in the scanned code (the code does not declare this resource)"


def label(ref: str, ev: Mapping[str, Any]) -> str:
    """A reader's name for an evidence item: target, fact and index (the id is opaque)."""
    if ev.get("target") is None or ev.get("fact") is None:
        return ref
    return f"{ev['target']} / {ev['fact']} #{ev.get('index', 0)} ({ref})"


# --- the record's parts ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EvidenceRef:
    ref: str
    label: str
    sha256: str
    collected_at: str


@dataclass(frozen=True)
class Step:
    """One finding of a test: one resource."""

    number: str  # test id and step, e.g. OQ-LNX-SSH-ROOTLOGIN-web01.1
    result: Result
    observed: str
    where: str
    evidence: tuple[EvidenceRef, ...]


@dataclass(frozen=True)
class ExecutedTest:
    id: str
    check: str
    target: str
    clauses: tuple[str, ...]
    traces: tuple[str, ...]  # each clause with the strength of this check's evidence for it (and DRAFT marks)
    criterion: str
    planned: ProtocolTest | None
    status: Status
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Deviation:
    id: str
    test_id: str  # "" for a run-level deviation
    kind: str
    subject: str  # test id / target / resource, or what the deviation concerns
    where: str
    description: str
    impact: str
    remediation: str
    status: str  # the result behind it (FAIL, ERROR) or the kind in capitals
    risk: RiskLevel | None = None  # a failed or erroring test's risk rating (issue 17)


@dataclass(frozen=True)
class GxpRow:
    """A target's declared GxP impact, risk assessment and records (inventory gxp_context), as text."""

    target: str
    impact: str
    assessment: str
    records: str


@dataclass(frozen=True)
class MatrixRow:
    ref: str
    title: str
    tests: tuple[tuple[str, str], ...]  # (test id, result, with the strength of its evidence when recorded)
    result: str
    manual: str
    mark: str = ""  # DRAFT / SUPERSEDED when the clause is not in force


@dataclass(frozen=True)
class ManualEntry:
    subject: str
    what: str


@dataclass(frozen=True)
class SignatureLine:
    role: str
    name: str
    meaning: str
    signed_at: str
    key_id: str
    manifest_sha256: str
    signed: bool


def _evidence_refs(r: Result, evidence: Mapping[str, Mapping[str, Any]]) -> tuple[EvidenceRef, ...]:
    out = []
    for ref in r.evidence:
        ev = evidence.get(ref, {})
        out.append(EvidenceRef(ref, label(ref, ev), str(ev.get("sha256") or "")[:16], str(ev.get("collected_at", ""))))
    return tuple(out)


_MARK = {"draft": "DRAFT, not in force", "superseded": "SUPERSEDED"}


def strengths(run: Run) -> dict[tuple[str, str], str]:
    """(clause ref, check id) -> the strength of the check's evidence for the clause, as the run recorded it."""
    out: dict[tuple[str, str], str] = {}
    order = ("direct", "supporting", "context")
    for c in run.info.clauses:
        for m in c.mappings:
            for check in m.checks:
                have = out.get((c.ref, check))
                if have is None or order.index(m.strength) < order.index(have):
                    out[(c.ref, check)] = m.strength
    return out


def _traces(run: Run, check: str, refs: Sequence[str], known: Mapping[tuple[str, str], str]) -> tuple[str, ...]:
    status = {c.ref: c.status for c in run.info.clauses}
    out = []
    for ref in refs:
        parts = [p for p in (known.get((ref, check), ""), _MARK.get(status.get(ref, ""), "")) if p]
        out.append(ref + (f" ({'; '.join(parts)})" if parts else ""))
    return tuple(out)


def executed_tests(run: Run, protocol: Protocol | None) -> list[ExecutedTest]:
    known = strengths(run)
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in run.results:
        groups.setdefault((r.check, r.target), []).append(r)
    tests = []
    for (check, target), results in groups.items():
        tid = test_id(check, target)
        planned = protocol.test(check, target) if protocol else None
        steps = tuple(Step(f"{tid}.{i}", r, json.dumps(thaw(r.observed), sort_keys=True, default=str,
                                                          ensure_ascii=False) if r.observed else "\u2014",
                           step_where(r), _evidence_refs(r, run.evidence))
                      for i, r in enumerate(results, 1))
        tests.append(ExecutedTest(tid, check, target, results[0].clauses,
                                  _traces(run, check, results[0].clauses, known),
                                  planned.criterion if planned else results[0].criterion, planned,
                                  worst(r.status for r in results), steps))
    return tests


def deviations(run: Run, protocol: Protocol | None, protocol_problem: str) -> list[Deviation]:
    info = run.info
    out: list[tuple[str, str, str, str, str, str, str, str, RiskLevel | None]] = []
    if info.interrupted:
        out.append(("", "execution incomplete", "the run", "", "The run was interrupted before every target "
                    "finished.", "Tests of targets that did not finish have no result.", "", "INTERRUPTED", None))
    if protocol_problem:
        out.append(("", "protocol", "the protocol", "", protocol_problem, "The tests cannot be reconciled with an "
                    "approved protocol: acceptance criteria are not shown as fixed before execution.", "",
                    "PROTOCOL", None))
    if protocol is not None and protocol.inventory_sha256 != info.inventory_sha256:
        out.append(("", "inventory changed", "the inventory", "",
                    f"The protocol was written for inventory {protocol.inventory} (SHA-256 "
                    f"{protocol.inventory_sha256}); the run used {info.inventory} (SHA-256 {info.inventory_sha256}).",
                    "Targets, connections or policy thresholds may differ from those approved in the protocol.", "",
                    "CHANGED", None))
    for r in run.results:
        if r.status in (Status.FAIL, Status.ERROR):
            failed = r.status is Status.FAIL
            impact = (f"The acceptance criterion is not met on {r.target} (severity {r.severity.value}); "
                      f"requirement(s) {', '.join(r.clauses) or 'none mapped'} not demonstrated.") if failed else (
                f"The result could not be determined on {r.target}; requirement(s) "
                f"{', '.join(r.clauses) or 'none mapped'} not demonstrated until the test is repeated.")
            if r.risk is not None:
                impact = f"Risk {describe(r.risk)}. {impact}"
            out.append((test_id(r.check, r.target), "test failed" if failed else "test error",
                        f"{test_id(r.check, r.target)} / {r.target} / {r.resource}", step_where(r), r.message,
                        impact, r.remediation, r.status.value.upper(), r.risk.level if r.risk else None))
    if protocol is not None:
        rec = reconcile(protocol, run.results)
        for t in rec.omitted:
            out.append((t.id, "test not executed", f"{t.id} / {t.target}", "",
                        f"The protocol test {t.id} ({t.check} on {t.target}) was not executed by this run.",
                        f"Requirement(s) {', '.join(t.clauses) or 'none mapped'} not demonstrated on {t.target}.",
                        "", "NOT EXECUTED", None))
        for tid, check, target in rec.unplanned:
            out.append((tid, "test not in protocol", f"{tid} / {target}", "",
                        f"The run executed {check} on {target}, which the protocol does not contain.",
                        "No acceptance criterion was approved for it before execution; its result is "
                        "informative until the protocol is amended.", "", "UNPLANNED", None))
    return [Deviation(f"DEV-{i:03d}", *d) for i, d in enumerate(out, 1)]


def _natural(ref: str) -> tuple[Any, ...]:
    import re

    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", ref) if p)


def _topological(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    """Nodes in an order that keeps every edge (a before b); ties, and any cycle, by natural order."""
    import heapq

    after: dict[str, set[str]] = {n: set() for n in nodes}
    indegree = dict.fromkeys(after, 0)
    for a, b in edges:
        if a != b and b not in after[a]:
            after[a].add(b)
            indegree[b] += 1
    heap = [(_natural(n), n) for n, d in indegree.items() if d == 0]
    heapq.heapify(heap)
    out: list[str] = []
    while heap:
        _, n = heapq.heappop(heap)
        out.append(n)
        for m in after[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                heapq.heappush(heap, (_natural(m), m))
    done = set(out)
    return out + sorted((n for n in after if n not in done), key=_natural)


def clause_order(results: Iterable[Result]) -> list[str]:
    """Clause refs in the catalogs' order, recovered from the results: each result lists its clauses in framework
    order, then in document order, so frameworks are ordered by those lists, then each framework's clauses."""
    lists = [r.clauses for r in results]
    refs = list(dict.fromkeys(ref for refs in lists for ref in refs))

    def fw(ref: str) -> str:
        return ref.split(":", 1)[0]

    frameworks = _topological(dict.fromkeys(fw(r) for r in refs),
                              ((fw(a), fw(b)) for refs in lists for a, b in zip(refs, refs[1:], strict=False)))
    out: list[str] = []
    for f in frameworks:
        out += _topological((r for r in refs if fw(r) == f),
                            ((a, b) for refs in lists for a, b in zip(refs, refs[1:], strict=False)
                             if fw(a) == fw(b) == f))
    return out


def matrix(tests: Sequence[ExecutedTest], protocol: Protocol | None,
           covered: Mapping[str, Sequence[ClauseCoverage]] | None = None,
           known: Mapping[tuple[str, str], str] | None = None) -> list[MatrixRow]:
    """One row per requirement. With the run's clause coverage (``covered``, per clause ref), the requirement
    result is its coverage verdict: never PASS from supporting or context evidence alone."""
    covered, known = covered or {}, known or {}
    by_ref: dict[str, list[ExecutedTest]] = {}
    for t in tests:
        for ref in t.clauses:
            by_ref.setdefault(ref, []).append(t)
    status = {t.id: t.status.value.upper().replace("_", " ") for t in tests}
    check_of = {t.id: t.check for t in tests}

    def row(ref: str, title: str, ids: Sequence[str], manual: str) -> MatrixRow:
        pairs = tuple((tid, status.get(tid, "NOT EXECUTED")) for tid in ids)
        result = _clause_result(pairs, manual)
        items = covered.get(ref)
        mark = ""
        if items:
            mark = _MARK.get(items[0].clause_status, "")
            title = title or items[0].title
            if result not in ("FAIL", "ERROR", "NOT EXECUTED"):
                result = _coverage_result(items)
        shown = tuple((tid, res + (f" ({known[(ref, check_of[tid])]})" if (ref, check_of.get(tid, "")) in known
                                   else "")) for tid, res in pairs)
        return MatrixRow(ref, title, shown, result, manual, mark)

    rows = []
    if protocol is not None:
        listed = set()
        for c in protocol.clauses:
            listed.add(c.ref)
            rows.append(row(c.ref, c.title, list(dict.fromkeys([*c.tests, *(t.id for t in by_ref.get(c.ref, []))])),
                            c.manual))
        extra = [ref for ref in clause_order(s.result for t in tests for s in t.steps) if ref not in listed]
    else:
        extra = clause_order(s.result for t in tests for s in t.steps)
    rows += [row(ref, "", [t.id for t in by_ref.get(ref, [])], "") for ref in extra]
    return rows


def _coverage_result(items: Sequence[ClauseCoverage]) -> str:
    """The requirement result from its coverage on every target: the worst verdict, in words, then the targets
    where it differs (a clause not applicable on a target says why)."""
    worst = overall(items)
    text = worst.text[0].upper() + worst.text[1:]
    others = [f"{c.target}: {c.text}" for c in items if c.verdict is not worst.verdict]
    return "\n".join([text, *others])


def _clause_result(pairs: Sequence[tuple[str, str]], manual: str) -> str:
    results = {r for _, r in pairs}
    for r in ("FAIL", "ERROR", "NOT EXECUTED", "MANUAL"):
        if r in results:
            return r
    if not pairs:
        return "MANUAL" if manual else "NO TEST"
    return "PASS" + (" (automated part; manual part open)" if manual else "") if "PASS" in results else \
        "/".join(sorted(results))


def signature_lines(run: Run) -> list[SignatureLine]:
    """The recorded signatures, then an empty line for each role that has not signed electronically."""
    lines = [_signed(s) for s in run.signatures]
    signed_roles = {s.role for s in run.signatures}
    for role, title, meaning in SIGN_ROLES:
        if role not in signed_roles:
            name = run.info.operator_name if role == "executor" else ""
            lines.append(SignatureLine(title, name, meaning, "", "", "", False))
    return lines


def _signed(s: SignatureRecord) -> SignatureLine:
    title = {role: t for role, t, _ in SIGN_ROLES}.get(s.role, s.role)
    return SignatureLine(title, s.name, s.meaning, s.signed_at.isoformat(), s.key_id, s.manifest_sha256, True)


def shown_deviations(devs: Sequence[Deviation], min_risk: str | None, sort: str | None) -> tuple[list[Deviation], str]:
    """Issue 17: the deviations a --min-risk/--sort record lists (a run-level deviation, which has no risk, always
    stays), and a sentence saying what was left out. Ids stay those of the complete list."""
    shown = list(devs)
    note = ""
    if min_risk:
        floor = RiskLevel(min_risk).rank
        shown = [d for d in devs if not d.test_id or (d.risk is not None and d.risk.rank >= floor)]
        note = (f"Deviations listed: those rated {min_risk} or higher and those of the run itself "
                f"({len(devs) - len(shown)} of {len(devs)} left out by --min-risk); the tests above are complete.")
    if sort == "risk":
        shown.sort(key=lambda d: -(d.risk.rank if d.risk is not None else len(RiskLevel)))
    return shown, note


def gxp_rows(run: Run, targets: Iterable[str]) -> list[GxpRow]:
    """Each target's declared impact (or how it was rated without one), risk assessment and records held."""
    out = []
    for t in targets:
        ctx = run.info.gxp_context.get(t, {})
        impact = ctx.get("gxp_impact")
        out.append(GxpRow(t, str(impact) if impact else "not declared: findings rated as high impact",
                          str(ctx.get("risk_assessment") or "\u2014 not referenced"),
                          ", ".join(str(x) for x in ctx.get("record_types") or ()) or "\u2014 not declared"))
    return out


def record_context(run: Run, protocol: Protocol | None = None, protocol_problem: str = "",
                   paper: str = "A4", excerpt_lines: int = EXCERPT_LINES, *, min_risk: str | None = None,
                   sort: str | None = None) -> dict[str, Any]:
    """Everything the record template shows, computed once (templates only lay it out). ``min_risk``/``sort``
    (issue 17) narrow and order the deviations list only: the record of the tests stays complete."""
    info = run.info
    if info.protocol_sha256 and protocol is None and not protocol_problem:
        protocol_problem = (f"The run executed protocol SHA-256 {info.protocol_sha256}, but that protocol was not "
                            "available to this report.")
    if protocol is not None and not info.protocol_sha256:
        protocol, protocol_problem = None, "A protocol was given, but the run did not record executing one."
    tests = executed_tests(run, protocol)
    all_devs = deviations(run, protocol, protocol_problem)
    devs, deviation_filter = shown_deviations(all_devs, min_risk, sort)
    by_status: dict[str, int] = {}
    for t in tests:
        by_status[t.status.value] = by_status.get(t.status.value, 0) + 1
    covered = by_clause(coverage(run))
    procedural = {c.ref: c.procedural_evidence for c in info.clauses if c.procedural_evidence}
    manual = [ManualEntry(f"{s.number} / {t.target} / {s.result.resource}", f"{s.result.message} "
                          f"(criterion: {t.criterion})" + _attach(t.clauses, procedural))
              for t in tests for s in t.steps if s.result.status is Status.MANUAL]
    listed = set()
    if protocol is not None:
        manual += [ManualEntry(c.ref + (f": {c.title}" if c.title else ""), c.manual + _attach([c.ref], procedural))
                   for c in protocol.clauses if c.manual]
        listed = {c.ref for c in protocol.clauses if c.manual}
    for ref, items in covered.items():
        needing = [c.target for c in items if c.verdict not in _NO_RECORDS_NEEDED and c.procedural_evidence]
        if needing and ref not in listed:
            manual.append(ManualEntry(f"{ref}: {items[0].title} ({', '.join(needing)})",
                                      f"Attach: {items[0].procedural_evidence}"))
    systems = {t: dict(v) for t, v in run.systems.items()}
    targets = list(dict.fromkeys(r.target for r in run.results))
    return {
        "run": run, "info": info, "paper": paper if paper in PAPER_SIZES else "A4",
        "document_id": f"OQR-{info.id}", "document_version": "1",
        "title": "Operational qualification: execution record",
        "executor": (f"{info.operator_name} ({info.operator})" if info.operator_name
                     else f"{info.operator} (no printed name recorded)"),
        "protocol": protocol, "protocol_problem": protocol_problem,
        "criteria_fixed": protocol is not None and not protocol_problem,
        "tests": tests, "tests_by_target": _by_target(tests), "deviations": devs,
        "matrix": matrix(tests, protocol, covered, strengths(run)),
        "catalogs": [(c, _MARK.get(c.status, "in force")) for c in info.catalogs],
        "manual": manual,
        "by_status": by_status, "counts": run.counts(), "signatures": signature_lines(run),
        "systems": [(t, systems.get(t)) for t in [*targets, *(s for s in systems if s not in targets)]],
        "evidence": [(ref, label(ref, ev), ev, _excerpt(str(ev.get("raw", "")), excerpt_lines))
                     for ref, ev in sorted(run.evidence.items())],
        "planned": len(protocol.tests) if protocol else None,
        "conclusion": _conclusion(run, tests, all_devs, protocol),
        "gxp": gxp_rows(run, [*targets, *(t for t in run.info.gxp_context if t not in targets)]),
        "risk_matrix": info.risk_matrix or "default", "deviation_filter": deviation_filter,
        "deviations_total": len(all_devs),  # the summary counts every deviation, whatever --min-risk listed
    }


#: Coverage verdicts after which a clause naming procedural evidence still needs it attached (all but these).
_NO_RECORDS_NEEDED = (Verdict.PASSED, Verdict.NOT_APPLICABLE)


def _attach(refs: Iterable[str], procedural: Mapping[str, str]) -> str:
    """`` Attach: ...`` naming the procedural evidence the catalogs ask for these clauses (empty when none)."""
    needed = list(dict.fromkeys(f"{procedural[r]} ({r})" for r in refs if r in procedural))
    return (" Attach: " + "; ".join(needed)) if needed else ""


def _by_target(tests: Sequence[ExecutedTest]) -> list[tuple[str, list[ExecutedTest]]]:
    groups: dict[str, list[ExecutedTest]] = {}
    for t in tests:
        groups.setdefault(t.target, []).append(t)
    return list(groups.items())


def _conclusion(run: Run, tests: Sequence[ExecutedTest], devs: Sequence[Deviation], protocol: Protocol | None) -> str:
    if not tests:
        return "No test was executed: this record cannot support a conclusion."
    if devs:
        return (f"{len(devs)} deviation(s) are recorded. The systems are not shown to meet every acceptance "
                "criterion until each deviation has a documented disposition (and CAPA where needed), approved "
                "below.")
    basis = "the approved protocol" if protocol is not None else "the criteria of the check code that ran"
    return (f"All {len(tests)} executed tests met their acceptance criteria ({basis}); no deviation was recorded. "
            "Manual entries, if any, are completed and attached before approval.")


def record_html(run: Run, *, protocol: Protocol | None = None, protocol_problem: str = "",
                template_dir: str | Path | None = None, paper: str = "A4", excerpt_lines: int = EXCERPT_LINES,
                min_risk: str | None = None, sort: str | None = None) -> str:
    template = environment(template_dir).get_template(RECORD_TEMPLATE)
    text: str = template.render(record_context(run, protocol, protocol_problem, paper, excerpt_lines,
                                               min_risk=min_risk, sort=sort))
    return text


def render(run: Run, out: TextIO, *, protocol: Protocol | None = None, protocol_problem: str = "",
           template_dir: str | Path | None = None, paper: str = "A4", min_risk: str | None = None,
           sort: str | None = None, **_: Any) -> None:
    out.write(record_html(run, protocol=protocol, protocol_problem=protocol_problem, template_dir=template_dir,
                          paper=paper, min_risk=min_risk, sort=sort))


# --- the protocol document ----------------------------------------------------------------------------------------

def protocol_context(protocol: Protocol, digest: str, paper: str = "A4") -> dict[str, Any]:
    """Everything the protocol template shows (the PDF writer lays out the same)."""
    by_target: dict[str, list[Any]] = {}
    for p in protocol.prerequisites:
        by_target.setdefault(p.target, []).append(p)
    return {"protocol": protocol, "digest": digest, "paper": paper if paper in PAPER_SIZES else "A4",
            "document_id": protocol.document_id, "document_version": protocol.version, "title": protocol.title,
            "prerequisites": by_target, "types": {s.name: s.type for s in protocol.systems}}


def protocol_html(protocol: Protocol, digest: str, *, template_dir: str | Path | None = None,
                  paper: str = "A4") -> str:
    context = protocol_context(protocol, digest, paper)
    text: str = environment(template_dir).get_template(PROTOCOL_TEMPLATE).render(context)
    return text


def render_protocol(protocol: Protocol, digest: str, out: TextIO, *, template_dir: str | Path | None = None,
                    paper: str = "A4") -> None:
    out.write(protocol_html(protocol, digest, template_dir=template_dir, paper=paper))
