"""The OQ documents as PDF (``--format pdf``, ``gxpscan protocol --format pdf``).

The content is the view-model ``reports.oq`` builds for the HTML templates (``record_context``,
``protocol_context``): the same tests, deviations, matrix, evidence and signatures, here arranged as headings,
paragraphs, tables and preformatted evidence excerpts and laid out by ``reports.pdfdoc`` (a purpose-made writer:
a 100-host record is thousands of pages). Each table below mirrors a table of the HTML template; a new field in
the view-model is shown by adding it to the cell that shows its neighbours.

The look comes from ``pdf-branding.yaml`` (header text, colours, fonts, sizes): ours in ``reports/templates``, or
a site's in its ``--template-dir``, validated before use (a fault is named by its path). The HTML templates of a
``--template-dir`` change the HTML documents only.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from reports.pdfdoc import (
    Block,
    Cell,
    Document,
    FontError,
    Heading,
    Meta,
    Paragraph,
    Preformatted,
    Row,
    Span,
    Style,
    Table,
    collector_paused,
)
from reports.text import for_document
from scanner.model import Run, Status, thaw
from scanner.protocol import Protocol

#: Evidence excerpt lines in the PDF (the HTML shows more; the run record keeps the whole output).
PDF_EXCERPT_LINES = 20
BRANDING_FILE = "pdf-branding.yaml"
#: Where a font named by file name only is looked for (after the branding file's own directory).
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype", "/usr/local/share/fonts")
DASH = "\u2014"


def _branding_schema() -> dict[str, Any]:
    colour = {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"}
    size = {"type": "number", "minimum": 4, "maximum": 24}
    font = {"type": "string", "minLength": 1, "maxLength": 4096, "pattern": r"\.ttf$"}
    return {
        "type": "object", "additionalProperties": False, "required": ["header"],
        "properties": {
            "header": {"type": "string", "maxLength": 200},
            "fonts": {"type": "object", "additionalProperties": False,
                      "properties": {"regular": font, "bold": font, "mono": font}},
            "colours": {"type": "object", "additionalProperties": False,
                        "properties": {k: colour for k in ("text", "heading", "rules", "table_header", "evidence")}},
            "sizes": {"type": "object", "additionalProperties": False,
                      "properties": {k: size for k in ("body", "table", "evidence", "title", "heading")}},
        },
    }


def _rgb(value: str) -> tuple[float, float, float]:
    return (int(value[1:3], 16) / 255, int(value[3:5], 16) / 255, int(value[5:7], 16) / 255)


def _font_path(name: str, base: Path) -> Path:
    candidates = [Path(name)] if Path(name).is_absolute() else [base / name, *(Path(d) / name for d in FONT_DIRS)]
    for c in candidates:
        if c.is_file():
            return c
    raise FontError(f"font {name!r} not found (looked in {base} and {', '.join(FONT_DIRS)}; "
                    "scripts/install-deps.sh installs fonts-dejavu-core)")


def load_style(template_dir: str | Path | None = None) -> Style:
    """The branding: a site's ``pdf-branding.yaml`` in ``template_dir`` when there is one, else ours. A file that
    does not validate is an OutputError naming the file and the path of the fault."""
    import jsonschema

    from reports.oq import TEMPLATE_DIR
    from scanner.safefs import OutputError
    from scanner.yamlload import YamlError, load_yaml

    site = Path(template_dir) / BRANDING_FILE if template_dir else None
    path = site if site is not None and site.is_file() else TEMPLATE_DIR / BRANDING_FILE
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlError) as exc:
        raise OutputError(f"{path}: {exc}") from None
    errors = sorted(jsonschema.Draft202012Validator(_branding_schema()).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise OutputError(f"{path}: {where}: {for_document(e.message)[:300]}")
    fonts = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf", "mono": "DejaVuSansMono.ttf",
             **data.get("fonts", {})}
    colours = data.get("colours", {})
    sizes = data.get("sizes", {})
    try:
        paths = {k[0]: _font_path(fonts[k], path.parent) for k in ("regular", "bold", "mono")}
    except FontError as exc:
        raise OutputError(f"{path}: {exc}") from None
    base = Style(header=for_document(data["header"]), fonts=paths)
    return Style(
        header=base.header, fonts=paths,
        text_colour=_rgb(colours["text"]) if "text" in colours else base.text_colour,
        heading_colour=_rgb(colours["heading"]) if "heading" in colours else base.heading_colour,
        rule_colour=_rgb(colours["rules"]) if "rules" in colours else base.rule_colour,
        header_fill=_rgb(colours["table_header"]) if "table_header" in colours else base.header_fill,
        pre_fill=_rgb(colours["evidence"]) if "evidence" in colours else base.pre_fill,
        body_size=float(sizes.get("body", base.body_size)), table_size=float(sizes.get("table", base.table_size)),
        pre_size=float(sizes.get("evidence", base.pre_size)), title_size=float(sizes.get("title", base.title_size)),
        heading_size=float(sizes.get("heading", base.heading_size)))


# --- small helpers: every value passes through for_document (controls as visible escapes) -------------------------

def d(value: Any) -> str:
    if type(value) is str and value.isascii() and value.isprintable():  # nothing to escape (most texts)
        return value
    return "" if value is None else for_document(value)


def json_value(value: Any) -> str:
    return json.dumps(thaw(value), sort_keys=True, default=str, ensure_ascii=False)


def upper_status(status: Any) -> str:
    return Status(status).value.upper().replace("_", " ")


def lines_of(items: Iterable[Any], style: str = "r") -> tuple[Span, ...]:
    """One line per item, or a dash when there is none."""
    text = "\n".join(d(i) for i in items)
    return ((style, text or DASH),)


def label_row(*pairs: tuple[str, Cell]) -> Row:
    out: list[Cell] = []
    for name, value in pairs:
        out += [(("b", name),), value]
    return tuple(out)


def header(*names: str) -> tuple[Cell, ...]:
    return tuple((("b", n),) for n in names)


def _title(ctx: dict[str, Any]) -> list[Block]:
    return [Heading(d(ctx["title"]), 0),
            Paragraph((("b", "Document "), ("r", f"{d(ctx['document_id'])}, version {d(ctx['document_version'])}")))]


def _meta(ctx: dict[str, Any], created: str, author: str) -> Meta:
    from scanner import __version__

    return Meta(title=d(ctx["title"]), document_id=d(ctx["document_id"]), version=d(ctx["document_version"]),
                producer=f"gxpscan {__version__}", created=created, author=d(author))


# --- the execution record ------------------------------------------------------------------------------------------

def record_blocks(ctx: dict[str, Any]) -> list[Block]:
    from reports.oq import shown

    info, protocol = ctx["info"], ctx["protocol"]
    blocks = _title(ctx)
    rows: list[Row] = [label_row(("Run id", (("r", d(info.id)),)), ("Executed by", (("r", d(ctx["executor"])),))),
            label_row(("Started (UTC)", (("r", info.started.isoformat()),)),
                      ("Ended (UTC)", (("r", (info.ended.isoformat() if info.ended else "not ended")
                                        + (" (INTERRUPTED)" if info.interrupted else "")),))),
            label_row(("Test tool", (("r", f"gxpscan {d(info.tool_version)} (Python {d(info.python)})"),)),
                      ("Check code fingerprint", (("m", d(info.checks_fingerprint)),))),
            label_row(("Inventory", (("r", d(info.inventory)),)),
                      ("Inventory SHA-256", (("m", d(info.inventory_sha256)),)))]
    if info.profile:
        rows.append(label_row(("Profile", (("r", d(info.profile)),)),
                              ("Profile SHA-256", (("m", d(info.profile_sha256)),))))
    proto: list[Span] = []
    if protocol:
        proto.append(("r", f"{d(protocol.document_id)}, version {d(protocol.version)}: {d(protocol.title)}\n"))
    proto += [("r", "SHA-256 "), ("m", d(info.protocol_sha256))] if info.protocol_sha256 else \
        [("r", "none referenced by this run")]
    rows.append(((("b", "Protocol"),), tuple(proto), None, None))
    if info.previous_manifest_sha256:
        rows.append(((("b", "Previous run's manifest"),), (("m", d(info.previous_manifest_sha256)),), None, None))
    rows.append(((("b", "Outcome (findings)"),),
                 (("r", ", ".join(f"{d(k)}: {v}" for k, v in ctx["counts"].items())),), None, None))
    blocks.append(Table((0.19, 0.31, 0.19, 0.31), (), rows))
    if ctx["criteria_fixed"]:
        basis = (f"Acceptance criteria were fixed before execution in the approved protocol "
                 f"{d(protocol.document_id)} version {d(protocol.version)} (SHA-256 {d(info.protocol_sha256)}); each "
                 "test below shows the criterion as the protocol states it.")
    else:
        basis = ("No approved protocol is reconciled with this run: the acceptance criteria shown are those of the "
                 "check code that ran (fingerprint above). They are not shown to have been fixed before execution.")
    blocks.append(Paragraph((("r", basis),), boxed=True))
    if info.warnings:
        blocks.append(Heading(f"Warnings ({len(info.warnings)})"))
        blocks += [Paragraph((("r", "\u2022 " + d(w)),)) for w in info.warnings]

    blocks.append(Heading("Systems under test"))
    blocks.append(Table((0.25, 0.75), header("Target", "System (as collected)"), [
        ((("r", d(target)),), (("r", "\n".join(f"{d(k)}: {d(v)}" for k, v in facts.items())
                                     if facts else f"{DASH} not collected by this run"),))
        for target, facts in ctx["systems"]]))

    blocks.append(Heading("Executed tests"))
    for target, group in ctx["tests_by_target"]:
        blocks.append(Heading(f"{d(target)}: {len(group)} test(s)", 2))
        blocks.append(Table((0.19, 0.14, 0.18, 0.19, 0.08, 0.22), header(
            "Test id / target / resource", "Traces to", "Acceptance criterion", "Observed", "Result",
            "Objective evidence / executed (UTC)"), [_step_row(t, s, protocol, shown) for t in group for s in t.steps]))

    blocks.append(Heading("Traceability matrix"))
    blocks.append(Table((0.18, 0.22, 0.45, 0.15), header("Requirement", "Title", "Tests and results",
                                                         "Requirement result"), [
        ((("r", d(m.ref)),), (("r", d(m.title) or DASH),),
         (("r", "\n".join(f"{d(tid)}: {d(res)}" for tid, res in m.tests)),
          *((("rs", ("\n" if m.tests else "") + f"manual: {d(m.manual)}"),) if m.manual else ())),
         (("r", d(m.result)),)) for m in ctx["matrix"]]))

    blocks.append(Heading("GxP impact and risk assessment"))  # issue 17
    blocks.append(Table((0.2, 0.25, 0.25, 0.3), header("Target", "GxP impact", "Risk assessment", "Records held"), [
        tuple((("r", d(v)),) for v in (g.target, g.impact, g.assessment, g.records)) for g in ctx["gxp"]]))
    risk_basis = ("Each deviation's risk is its check's severity weighed by its system's GxP impact on the risk "
                  f"matrix {d(ctx['risk_matrix'])}. {d(ctx['deviation_filter'])}")
    blocks.append(Paragraph((("r", risk_basis.rstrip()),), boxed=True))

    devs = ctx["deviations"]
    blocks.append(Heading(f"Deviations ({len(devs)})"))
    blocks.append(Table((0.08, 0.18, 0.08, 0.18, 0.16, 0.16, 0.16), header(
        "Id", "Test id / target / resource", "Result", "Description", "Impact", "Remediation", "Disposition / CAPA"), [
        ((("r", dv.id),), (("r", d(dv.subject)), *((("rs", "\n" + d(dv.where)),) if dv.where else ())),
         (("b", d(dv.status)),), (("r", d(shown(dv.description))),), (("r", d(dv.impact)),),
         (("r", d(dv.remediation) or DASH),), ()) for dv in devs], fills=(6,)))

    manual = ctx["manual"]
    blocks.append(Heading(f"Manual verification ({len(manual)})"))
    blocks.append(Table((0.26, 0.34, 0.22, 0.18), header(
        "Test or requirement", "What is verified", "Attached evidence (reference)", "Verified by / date"),
        [((("r", d(m.subject)),), (("r", d(shown(m.what))),), (), ()) for m in manual]
        or [((("r", "No manual result in this run."),), None, None, None)], fills=(2, 3) if manual else ()))

    blocks.append(Heading("Summary and conclusion"))
    planned = ctx["planned"]
    executed = f"{len(ctx['tests'])}" + "".join(
        f"{': ' if i == 0 else ', '}{upper_status(k)} {v}" for i, (k, v) in enumerate(ctx["by_status"].items()))
    blocks.append(Table((0.4, 0.6), (), [
        ((("b", "Tests in the protocol"),),
         (("r", str(planned) if planned is not None else "no protocol reconciled"),)),
        ((("b", "Tests executed"),), (("r", executed),)),
        ((("b", "Findings (resources examined)"),),
         (("r", ", ".join(f"{upper_status(k)} {v}" for k, v in ctx["counts"].items() if v)),)),
        ((("b", "Deviations"),), (("r", str(ctx["deviations_total"])),)),
        ((("b", "Conclusion"),), (("r", d(ctx["conclusion"])),))]))

    blocks.append(Heading("Objective evidence"))
    for _ref, name, ev, excerpt in ctx["evidence"]:
        blocks.append(Heading(d(name), 2))
        facts = (f"collected (UTC): {d(ev.get('collected_at', ''))}; exit code: {d(ev.get('exit_code'))}; SHA-256 "
                 "of the full output: ")
        tail = ("; output truncated in this record" if ev.get("truncated") else "") + \
            (f"; collection failed: {d(ev.get('error'))}" if ev.get("error") else "")
        blocks.append(Paragraph((("r", "source: "), ("m", d(shown(ev.get("source") or ""))), ("r", "\n" + facts),
                                 ("m", d(ev.get("sha256") or "")), ("r", tail))))
        blocks.append(Preformatted(d(excerpt)))

    blocks.append(Heading("Signatures"))
    blocks.append(Paragraph((("r", "Each signature below means what its meaning column says (21 CFR 11.50): the "
                                   "signer's printed name, the date and time (UTC) and the meaning are part of the "
                                   "record." + ("" if ctx["run"].signatures else
                                                " No electronic signature is recorded: sign the empty lines by hand "
                                                "or electronically.")),)))
    blocks.append(Table((0.14, 0.18, 0.20, 0.16, 0.32), header(
        "Role", "Printed name", "Meaning", "Date and time (UTC)", "Signature"), [
        ((("r", d(s.role)),), (("r", d(s.name)),), (("r", d(s.meaning)),), (("r", d(s.signed_at)),),
         ((("rs", "electronic signature, key "), ("ms", d(s.key_id)), ("rs", ", over manifest SHA-256 "),
           ("ms", d(s.manifest_sha256))) if s.signed else ())) for s in ctx["signatures"]], fills=(1, 4)))
    return blocks


def _step_row(t: Any, s: Any, protocol: Protocol | None, shown: Any) -> tuple[Cell, ...]:
    r = s.result
    first: list[Span] = [("b", d(s.number)), ("r", f"\n{d(r.check)}\n{d(r.target)}"), ("rs", "\n" + d(r.resource))]
    if s.where:
        first.append(("rs", "\n" + d(s.where)))
    if protocol and not t.planned:
        first.append(("rs", "\nnot in the protocol"))
    criterion: list[Span] = [("r", d(shown(t.criterion)))]
    if t.planned and t.planned.thresholds:
        criterion.append(("rs", "\n" + "; ".join(f"{d(th.name)} = {d(shown(json_value(th.value), 300))} "
                                                 f"({d(th.source)})" for th in t.planned.thresholds)))
    result: list[Span] = [("b" if r.status in (Status.FAIL, Status.ERROR) else "r", upper_status(r.status))]
    if r.waiver:
        result.append(("rs", f"\nwaiver: {d(r.waiver.reason)}, approved by {d(r.waiver.approved_by)} until "
                              f"{d(r.waiver.expires)}"))
    if r.expired_waiver:
        result.append(("rs", f"\nwaiver expired {d(r.expired_waiver.expires)}, not applied"))
    # each evidence item by its id, which ends the heading of its entry in "Objective evidence", where its full
    # SHA-256 and collection time are (the HTML repeats a hash prefix and the time here: thousands of pages
    # are shorter without, and the row names the target already)
    evidence: list[Span] = [("m", "".join(d(e.ref) + "\n" for e in s.evidence) or DASH + "\n"),
                            ("rs", f"executed {r.at.isoformat()}")]
    observed: list[Span] = [("m", d(shown(s.observed))), ("r", "\n" + d(shown(r.message)))]
    if r.steps and s is t.steps[-1]:  # a challenge: its test steps once, under its last result
        observed.append(("b", f"\nChallenge test steps ({d(r.impact)})"))
        for c in r.steps:
            observed.append(("rs", f"\n{d(shown(c.describe()))} sha256 {c.sent_sha256[:12]}/{c.received_sha256[:12]} "
                                   f"{c.at.isoformat()}"))
    return (tuple(first), lines_of(r.clauses), tuple(criterion), tuple(observed), tuple(result), tuple(evidence))


# --- the protocol ----------------------------------------------------------------------------------------------------

def protocol_blocks(ctx: dict[str, Any]) -> list[Block]:
    p = ctx["protocol"]
    blocks = _title(ctx)
    blocks.append(Table((0.22, 0.78), (), [
        ((("b", "Document id, version"),), (("r", f"{d(p.document_id)}, version {d(p.version)}"),)),
        ((("b", "Protocol SHA-256"),), (("m", d(ctx["digest"])), ("rs", "\nof the canonical protocol.json; a run that "
                                        "executes this protocol (gxpscan scan --protocol) records it"))),
        ((("b", "Generated (UTC)"),), (("r", f"{d(p.created)} by {d(p.author)} with gxpscan {d(p.tool_version)}"),)),
        ((("b", "Check code fingerprint"),), (("m", d(p.checks_fingerprint)),)),
        ((("b", "Inventory"),), (("r", d(p.inventory) + "\nSHA-256 "), ("m", d(p.inventory_sha256)))),
        ((("b", "Selection"),), (("r", d(p.selection)),))]))
    blocks += [Heading("1. Objective"), Paragraph((("r", d(p.objective)),)), Heading("2. Scope")]
    blocks.append(Paragraph((("r", f"Frameworks: {', '.join(d(f) for f in p.frameworks) or 'none'}. "
                                   f"{len(p.tests)} tests on {len([s for s in p.systems if s.tests])} systems, tracing "
                                   f"to {len(p.clauses)} requirements."),)))
    blocks.append(Table((0.24, 0.10, 0.40, 0.16, 0.10), header("System", "Type", "Reached by", "Groups / tags",
                                                               "Tests"), [
        ((("r", d(s.name)),), (("r", d(s.type)),), (("r", d(s.connection)),),
         (("r", ", ".join(d(x) for x in (*s.groups, *s.tags))),), (("r", str(s.tests)),)) for s in p.systems]))
    blocks.append(Table((0.17, 0.29, 0.12, 0.42), header("Requirement in scope", "Title", "Automatable",
                                                         "Tests / manual entry"), [
        ((("r", d(c.ref)),), (("r", d(c.title)),), (("r", d(c.automatable)),),
         (("r", ", ".join(d(t) for t in c.tests)),
          *((("rs", ("\n" if c.tests else "") + f"manual: {d(c.manual)}"),) if c.manual else ())))
        for c in p.clauses]))
    blocks.append(Table((0.28, 0.72), header("Out of scope", "Why"), [
        ((("r", d(o.item)),), (("r", d(o.reason)),)) for o in p.out_of_scope] or [((("r", "Nothing."),), None)]))
    blocks.append(Heading("3. Prerequisites"))
    blocks.append(Table((0.22, 0.12, 0.66), header("System (type)", "What", "Required before execution"), [
        ((("r", f"{d(target)} ({d(q.target_type)})"),), (("r", d(q.kind)),), (("r", d(q.detail)),))
        for target, items in ctx["prerequisites"].items() for q in items]))
    blocks.append(Heading("4. Tests"))
    blocks.append(Paragraph((("r", "Test ids are derived from the check id and the target name "
                                   "(OQ-platform-check-target), so the same test keeps its id in every protocol and "
                                   "execution record. A test passes when every resource it examines passes; a failure "
                                   "or an error is a deviation."),)))
    blocks.append(Table((0.20, 0.15, 0.26, 0.27, 0.12), header(
        "Test id / check / target", "Requirement", "Acceptance criterion (thresholds in force)", "Method",
        "Expected result"), [_protocol_row(t) for t in p.tests]))
    blocks.append(Heading("5. Approval before execution"))
    blocks.append(Paragraph((("r", "By signing, each signer approves this protocol for execution as written "
                                   "(21 CFR 11.50: printed name, date and time, meaning)."),)))
    blocks.append(Table((0.16, 0.22, 0.26, 0.16, 0.20), header(
        "Role", "Printed name", "Meaning", "Date and time (UTC)", "Signature"), [
        ((("r", role),), (), (("r", meaning),), (), ()) for role, meaning in (
            ("Author", "I wrote this protocol"), ("Reviewer", "I reviewed this protocol"),
            ("Approver (QA)", "I approve this protocol for execution"))], fills=(1, 3, 4)))
    return blocks


def _protocol_row(t: Any) -> tuple[Cell, ...]:
    criterion: list[Span] = [("r", d(t.criterion))]
    if t.thresholds:
        criterion.append(("rs", "\n" + "; ".join(
            f"{d(th.name)} = {d(json_value(th.value))} ({d(th.source)}"
            + (f"; default {d(json_value(th.default))})" if th.source == "policy" else ")") for th in t.thresholds)))
    method: list[Span] = []
    for i, m in enumerate(t.method):
        method += [("b", ("\n" if i else "") + d(m.fact)), ("r", ": "), ("m", d(m.how))]
    return ((("b", d(t.id)), ("r", f"\n{d(t.check)}: {d(t.title)}\n{d(t.target)} ({d(t.target_type)}), severity "
                                   f"{d(t.severity)}")),
            (("r", ", ".join(d(c) for c in t.clauses) or DASH),), tuple(criterion), tuple(method) or ((("r", DASH),)),
            (("r", d(t.expected)),))


# --- the self-test record ------------------------------------------------------------------------------------------

def selftest_blocks(ctx: dict[str, Any]) -> list[Block]:
    """The self-test record (the HTML's ``selftest-record.html.j2``) from ``SelftestResult.to_dict()`` with the
    document's title, id and version in ``ctx``."""
    from reports.oq import shown

    r = ctx["result"]
    machine, counts = r["machine"], r["counts"]
    blocks = _title(ctx)
    manifest = f" (release manifest SHA-256 {d(r['manifest_sha256'])})" if r["manifest_sha256"] else ""
    blocks.append(Table((0.25, 0.75), (), [
        ((("b", "Tool"),), (("r", f"gxpscan {d(r['tool_version'])}"),)),
        ((("b", "Install"),), (("r", d(r["install"]) + manifest),)),
        ((("b", "Check-code fingerprint"),), (("m", d(r["checks_fingerprint"])),)),
        ((("b", "Machine"),), (("r", f"{d(machine.get('hostname'))}, {d(machine.get('platform'))}"),)),
        ((("b", "Python"),), (("r", f"{d(machine.get('python'))} ({d(machine.get('python_executable'))})"),)),
        ((("b", "Executed"),), (("r", f"{d(r['started'])} to {d(r['ended'])} (UTC), {d(r['seconds'])} s"),)),
        ((("b", "Result"),), (("b", f"{d(r['verdict']).upper()}: {counts['pass']} passed, {counts['fail']} failed, "
                                    f"{counts['not_verified']} not verified"),))]))
    blocks.append(Paragraph((("r", "Installation qualification (IQ) shows that the installed files are those of the "
                                   "release and that the environment is in the supported ranges; operational "
                                   "qualification (OQ) runs every check on recorded evidence with a known answer. "
                                   "Any difference is a failure with the check, the case, the expected and the "
                                   "actual status."),), boxed=True))
    for phase, title in (("IQ", "Installation qualification"), ("OQ", "Operational qualification")):
        blocks.append(Heading(title))
        blocks.append(Table((0.28, 0.22, 0.40, 0.10), header("Test", "Expected", "Actual", "Result"), [
            ((("b", d(s["id"])), ("rs", "\n" + d(s["title"]))), (("r", d(s["expected"])),),
             (("r", d(shown(s["actual"]))),), (("b" if s["status"] == "fail" else "r", d(s["status"]).upper()),))
            for s in r["steps"] if s["phase"] == phase] or [((("r", "No test in this phase."),), None, None, None)]))
    plugins = r["plugins"]
    blocks.append(Heading(f"Third-party check plugins ({len(plugins)})"))
    if plugins:
        blocks.append(Table((0.25, 0.2, 0.3, 0.25), header("Plugin", "Distribution", "Checks", "Qualification"), [
            ((("r", f"{d(p['name'])} ({d(p['module'])})"),), (("r", f"{d(p['distribution'])} {d(p['version'])}"),),
             (("r", ", ".join(d(c) for c in p["checks"])),), (("r", d(p["note"])),)) for p in plugins]))
    else:
        blocks.append(Paragraph((("r", "None installed."),)))
    return blocks


# --- entry points ------------------------------------------------------------------------------------------------

def _pdf(blocks: Sequence[Block], style: Style, meta: Meta, paper: str) -> bytes:
    from scanner.safefs import OutputError

    try:
        return Document(style, meta, list(blocks)).pdf(paper)
    except FontError as exc:
        raise OutputError(f"PDF output: {exc}") from None
    except ImportError as exc:
        raise OutputError(f"PDF output needs fontTools (pip install fonttools): {exc}") from None


def record_pdf(run: Run, *, protocol: Protocol | None = None, protocol_problem: str = "",
               template_dir: str | Path | None = None, paper: str = "A4", min_risk: str | None = None,
               sort: str | None = None) -> bytes:
    from reports.oq import record_context

    with collector_paused():
        ctx = record_context(run, protocol, protocol_problem, paper, PDF_EXCERPT_LINES, min_risk=min_risk, sort=sort)
        info = run.info
        created = (info.ended or info.started).isoformat()
        return _pdf(record_blocks(ctx), load_style(template_dir),
                    _meta(ctx, created, info.operator_name or info.operator), ctx["paper"])


def protocol_pdf(protocol: Protocol, digest: str, *, template_dir: str | Path | None = None,
                 paper: str = "A4") -> bytes:
    from reports.oq import protocol_context

    ctx = protocol_context(protocol, digest, paper)
    return _pdf(protocol_blocks(ctx), load_style(template_dir), _meta(ctx, protocol.created, protocol.author),
                ctx["paper"])


def selftest_pdf(result: dict[str, Any], *, title: str, document_id: str, document_version: str,
                 template_dir: str | Path | None = None, paper: str = "A4") -> bytes:
    """The self-test record as PDF; ``result`` is ``SelftestResult.to_dict()``."""
    ctx = {"result": result, "title": title, "document_id": document_id, "document_version": document_version}
    return _pdf(selftest_blocks(ctx), load_style(template_dir), _meta(ctx, str(result["started"]), ""), paper)


def write_bytes(out: TextIO | BinaryIO, data: bytes) -> None:
    """Write to a binary stream, or to the binary buffer under a text stream (an output file opened as text)."""
    buffer = getattr(out, "buffer", None)
    if buffer is not None:
        out.flush()
        buffer.write(data)
        buffer.flush()
    else:
        out.write(data)  # type: ignore[arg-type]


def render(run: Run, out: TextIO | BinaryIO, *, protocol: Protocol | None = None, protocol_problem: str = "",
           template_dir: str | Path | None = None, paper: str = "A4", min_risk: str | None = None,
           sort: str | None = None, **_: Any) -> None:
    write_bytes(out, record_pdf(run, protocol=protocol, protocol_problem=protocol_problem,
                                template_dir=template_dir, paper=paper, min_risk=min_risk, sort=sort))
