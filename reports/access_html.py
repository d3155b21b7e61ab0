"""The access review as HTML: the reviewer's page (``access-review.html``: findings, changes, every account) and
the OQ-style record (``access-review-record.html``: identity, the clauses the review is evidence for, findings,
change counts, decisions, signatures). Jinja2 templates in ``reports/templates`` with the OQ documents' escaping
(``reports.oq.environment``: every value made safe by ``for_document`` and HTML-escaped, quotes included)."""
from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reports.oq import environment, shown
from reports.text import for_document
from scanner.access.review import ROW_COLUMNS, ChangeKind, Review, review_to_dict, rows

REVIEW_TEMPLATE = "access-review.html.j2"
RECORD_TEMPLATE = "access-review-record.html.j2"


def _document(review: Review, title: str, paper: str) -> dict[str, str]:
    return {"title": title, "document_id": f"ACCESS-REVIEW-{review.review_id}",
            "document_version": review.tool_version, "paper": paper}


def _cells(row: tuple[str, ...]) -> Any:
    """One table row's cells as markup, escaped here in one pass (10,000 accounts x 16 columns)."""
    from markupsafe import Markup

    return Markup("".join(f"<td>{html.escape(for_document(shown(v)), quote=True)}</td>" for v in row))


def review_html(review: Review, doc: Mapping[str, Any] | None = None, template_dir: str | Path | None = None,
                paper: str = "A4") -> str:
    """``doc``: the review's JSON form when the caller has it already."""
    text: str = environment(template_dir).get_template(REVIEW_TEMPLATE).render(
        r=doc or review_to_dict(review), rows=[_cells(row) for row in rows(review)], columns=ROW_COLUMNS,
        **_document(review, "Periodic access review", paper))
    return text


def record_html(review: Review, doc: Mapping[str, Any] | None = None, recorded: Mapping[str, str] | None = None,
                template_dir: str | Path | None = None, paper: str = "A4") -> str:
    """``recorded``: who records the decisions for signature (name, meaning, at, key_id), when deciding."""
    counts = Counter(c.kind for c in review.changes if not c.kind.finding)
    text: str = environment(template_dir).get_template(RECORD_TEMPLATE).render(
        r=doc or review_to_dict(review), recorded=recorded,
        change_counts=[(k.value, counts[k]) for k in ChangeKind if not k.finding],
        **_document(review, "Periodic access review: record", paper))
    return text
