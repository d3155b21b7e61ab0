"""A review directory: a sealed run directory (``record.jsonl`` with each system's access list and its evidence,
so ``gxpscan verify`` and ``gxpscan sign`` work on it unchanged) plus the review's outputs, written through
``scanner.safefs``:

    access-review.json          the review (``gxpscan schema access-review``), decisions included once decided
    access-review.csv           one row per account and system, decision columns for the reviewer
    access-review.html          the reviewer's page: findings, changes, every account
    access-review-record.html   the OQ-style record: identity, clauses, findings, decisions, signatures
    access-review-record.pdf    the same record as PDF (the OQ documents' PDF path)
    decisions-input.csv|yaml    the reviewer's file as given (after `decide`)
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.access.model import AccessFormatError
from scanner.access.review import PreviousReview, Review, review_from_dict, review_to_dict

REVIEW_JSON = "access-review.json"
REVIEW_CSV = "access-review.csv"
REVIEW_HTML = "access-review.html"
RECORD_HTML = "access-review-record.html"
RECORD_PDF = "access-review-record.pdf"
#: Largest review JSON read back (a 10,000-account review is about 10 MB).
MAX_REVIEW_BYTES = 256 * 1024 * 1024


class ReviewDirError(Exception):
    """A review directory cannot be used; ``problems`` says why (one line each), ``intact`` False when the
    directory did not verify."""

    def __init__(self, message: str, problems: Sequence[str] = (), intact: bool = True):
        self.problems = tuple(problems)
        self.intact = intact
        super().__init__(message)


def write_outputs(directory: Path, review: Review, recorded: Mapping[str, str] | None = None,
                  extra: Mapping[str, str] | None = None) -> list[Path]:
    """Write (or rewrite) every output of ``review`` into ``directory``; ``extra``: more files by name."""
    from reports import access_csv, access_html, access_pdf
    from reports.pdf import write_bytes
    from reports.text import json_text
    from scanner.safefs import OutputDir

    doc = review_to_dict(review)
    written = []
    with OutputDir.open(directory, create=False) as out:
        with out.replace(REVIEW_JSON) as fh:
            fh.write(json_text(doc, indent=1))
            fh.write("\n")
        with out.replace(REVIEW_CSV) as fh:
            access_csv.render(review, fh)
        with out.replace(REVIEW_HTML) as fh:
            fh.write(access_html.review_html(review, doc))
        with out.replace(RECORD_HTML) as fh:
            fh.write(access_html.record_html(review, doc, recorded))
        pdf = access_pdf.record_pdf(review, doc, recorded)
        with out.replace(RECORD_PDF) as fh:
            write_bytes(fh, pdf)
        for name, text in (extra or {}).items():
            with out.replace(name) as fh:
                fh.write(text)
    written += [directory / n for n in (REVIEW_JSON, REVIEW_CSV, REVIEW_HTML, RECORD_HTML, RECORD_PDF, *(extra or {}))]
    return written


def read_review(directory: Path) -> Review:
    """The review of ``directory`` (strict; the caller verified the directory first)."""
    path = directory / REVIEW_JSON
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_REVIEW_BYTES + 1)
    except OSError as exc:
        raise ReviewDirError(f"{directory}: cannot read {REVIEW_JSON}: {exc.strerror or exc}; not a review "
                             "directory") from None
    if len(data) > MAX_REVIEW_BYTES:
        raise ReviewDirError(f"{path}: larger than {MAX_REVIEW_BYTES} bytes")
    try:
        return review_from_dict(json.loads(data), REVIEW_JSON)
    except (ValueError, RecursionError) as exc:
        why = str(exc) if isinstance(exc, AccessFormatError) else "not JSON"
        raise ReviewDirError(f"{directory}: {why}") from None


@dataclass(frozen=True)
class Verified:
    review: Review
    manifest_sha256: str
    signatures: tuple[str, ...]


def verified_review(directory: Path, pubkeys: Sequence[Any] = ()) -> Verified:
    """The review of an intact, sealed review directory (ReviewDirError otherwise)."""
    from scanner.seal import manifests, read_signatures, verify_run

    if not directory.is_dir():
        raise ReviewDirError(f"{directory} is not a review directory")
    if not manifests(directory):
        raise ReviewDirError(f"{directory}: not sealed (no manifest); a review is read only when its seal proves it",
                             intact=False)
    v = verify_run(directory, pubkeys=pubkeys)
    if not v.intact:
        raise ReviewDirError(f"{directory} is NOT INTACT ({len(v.problems)} problem(s))", v.problems, intact=False)
    review = read_review(directory)
    signatures = tuple(f"{s.role} {s.name}, {s.signed_at.isoformat()}, meaning {s.meaning!r}, key {s.key_id[:16]}"
                       for s in read_signatures(directory))
    return Verified(review, v.manifest_sha256, signatures)


def previous_review(directory: Path, pubkeys: Sequence[Any] = ()) -> tuple[Review, PreviousReview]:
    """The previous review, only when it is approved: intact, decided and signed."""
    v = verified_review(directory, pubkeys)
    if not v.review.decisions:
        raise ReviewDirError(f"{directory}: review {v.review.review_id} has no decisions recorded; it is not an "
                             "approved review (gxpscan access-review decide)")
    if not v.signatures:
        raise ReviewDirError(f"{directory}: review {v.review.review_id} is not signed; it is not an approved review")
    return v.review, PreviousReview(v.review.review_id, v.manifest_sha256, v.review.created, v.signatures)
