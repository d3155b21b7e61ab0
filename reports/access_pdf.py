"""The access review's OQ-style record as PDF (``access-review-record.pdf``), through the PDF path of the OQ
documents (``reports.pdf``: its fonts, branding and page layout); the same content as the HTML record."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reports.oq import shown
from reports.pdf import _meta, _pdf, _title, d, header, load_style
from reports.pdfdoc import Block, Heading, Paragraph, Table
from scanner.access.review import ChangeKind, Review, review_to_dict


def _changes(items: list[Mapping[str, str]]) -> Block:
    return Table((0.16, 0.14, 0.16, 0.16, 0.38), header("Change", "System", "Account", "Id", "Detail"), [
        ((("r", d(c["kind"]).replace("_", " ")),), (("r", d(c["system"])),), (("r", d(c["name"])),),
         (("r", d(c["id"])),), (("r", d(shown(c["detail"]))),)) for c in items]
        or [((("r", "None."),), None, None, None, None)])


def record_blocks(review: Review, doc: Mapping[str, Any], title: str, document_id: str, version: str,
                  recorded: Mapping[str, str] | None) -> list[Block]:
    r = doc
    s = r["summary"]
    blocks = _title({"title": title, "document_id": document_id, "document_version": version})
    prev = r["previous"]
    rows = [("Review", r["review_id"]), ("Created", f"{r['created']} (UTC)"), ("Tool", f"gxpscan {r['tool_version']}"),
            ("Operator", f"{r['operator_name'] or '(no printed name given)'}, {r['operator']}"),
            ("Inventory", f"{r['inventory']} (SHA-256 {r['inventory_sha256']})"), ("Source", r["source"]),
            ("Previous approved review", f"{prev['review_id']} of {prev['created']}, manifest SHA-256 "
                                         f"{prev['manifest_sha256']}; signed: {'; '.join(prev['signatures'])}"
             if prev else "none given: every account is shown, no change is computed"),
            ("Summary", f"{s['systems']} system(s), {s['accounts']} account(s), {s['privileged']} privileged; "
                        f"{s['findings']} finding(s), {s['changes']} change(s); {s['systems_error']} system(s) "
                        "without a list")]
    blocks.append(Table((0.25, 0.75), (), [((("b", k),), (("r", d(v)),)) for k, v in rows]))
    blocks.append(Heading("Purpose: the clauses this review is evidence for"))
    blocks.append(Table((0.12, 0.18, 0.1, 0.3, 0.3), header("Framework", "Clause", "Evidence", "What this review "
                                                            "shows", "Procedural: the site's own records"), [
        ((("r", d(c["framework"])),), (("b", d(c["clause"])), ("rs", "\n" + d(c["title"]))), (("r", d(c["evidence"])),),
         (("r", d(c["shows"])),), (("r", d(c["procedural"])),)) for c in r["clauses"]]
        or [((("r", "None."),), None, None, None, None)]))
    errors = [f"{x['system']}: {x['error']}" for x in r["systems"] if x["error"]] + list(r["missing"])
    if errors:
        blocks.append(Heading("Systems without an access list (ERROR)"))
        blocks.append(Paragraph((("r", d("\n".join(errors))),), boxed=True))
    blocks.append(Heading(f"Findings ({len(r['findings'])})"))
    blocks.append(_changes(r["findings"]))
    counts = Counter(c.kind for c in review.changes if not c.kind.finding)
    blocks.append(Heading("Changes since the previous approved review"))
    blocks.append(Table((0.6, 0.4), header("Change", "Accounts"), [
        ((("r", k.value),), (("r", str(counts[k])),)) for k in ChangeKind if not k.finding]))
    blocks.append(Heading(f"Decisions ({len(r['decisions'])})"))
    blocks.append(Table((0.14, 0.16, 0.16, 0.1, 0.3, 0.14), header("System", "Account", "Id", "Decision", "Comment",
                                                                   "Read from"), [
        ((("r", d(x["system"])),), (("r", d(x["name"])),), (("r", d(x["id"])),), (("b", d(x["decision"]).upper()),),
         (("r", d(shown(x["comment"]))),), (("r", d(x["source"])),)) for x in r["decisions"]]
        or [((("r", "Not decided yet."),), None, None, None, None, None)]))
    blocks.append(Heading("Signatures"))
    if recorded:
        line = (f"Decisions recorded for signature by {recorded['name']}, {recorded['at']} (UTC), meaning "
                f"'{recorded['meaning']}', key SHA256:{recorded['key_id']}.")
        blocks.append(Paragraph((("r", d(line)),)))
    blocks.append(Paragraph((("r", "Electronic signatures are the signature-NNN.dsse.json files of this sealed "
                                   "directory: each covers the manifest that seals this record and every file beside "
                                   "it; gxpscan verify proves them and prints the printed name, UTC time and meaning "
                                   "of each."),), boxed=True))
    return blocks


def record_pdf(review: Review, doc: Mapping[str, Any] | None = None, recorded: Mapping[str, str] | None = None,
               template_dir: str | Path | None = None, paper: str = "A4") -> bytes:
    ctx = {"title": "Periodic access review: record", "document_id": f"ACCESS-REVIEW-{review.review_id}",
           "document_version": review.tool_version}
    blocks = record_blocks(review, doc or review_to_dict(review), ctx["title"], ctx["document_id"],
                           ctx["document_version"], recorded)
    return _pdf(blocks, load_style(template_dir), _meta(ctx, review.created.isoformat(), review.operator_name), paper)
