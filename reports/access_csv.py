"""The access review as CSV (one row per account and system, decision columns for the reviewer), and the
reviewer's filled-in CSV read back.

RFC 4180 (comma, double quotes, CRLF), UTF-8. A cell that a spreadsheet would run as a formula (it starts with
``=``, ``+``, ``-``, ``@``, tab or carriage return) gets a leading apostrophe, and so does a cell that starts with
an apostrophe, so the prefix is always undone exactly when the file is read back. Controls, bidi overrides and
lone surrogates are shown escaped (``reports.text.for_document``); quotes, commas and line feeds are kept (the
csv module quotes them).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import TextIO

from reports.csv import FORMULA_START
from reports.text import for_document
from scanner.access.decisions import DecisionError, RawDecision
from scanner.access.review import ROW_COLUMNS, Review, rows

QUOTE = "'"


def sheet_cell(value: str) -> str:
    """One cell: controls escaped, a formula start (or an apostrophe) prefixed with an apostrophe."""
    text = for_document(value)
    return QUOTE + text if text.startswith((*FORMULA_START, QUOTE)) else text


def unsheet(text: str) -> str:
    """The value a cell was made from (by :func:`sheet_cell`), escapes aside."""
    return text[1:] if text.startswith(QUOTE) else text


def write_rows(out: TextIO, header: Iterable[str], body: Iterable[Iterable[str]]) -> None:
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(list(header))
    for row in body:
        writer.writerow([sheet_cell(v) for v in row])


def render(review: Review, out: TextIO) -> None:
    write_rows(out, ROW_COLUMNS, rows(review))


def read_decisions(text: str, name: str) -> list[RawDecision]:
    """The rows of a filled-in review CSV, each with the line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise DecisionError([f"{name}:1: empty; expected the review's CSV with its header"]) from None
    except csv.Error as exc:
        raise DecisionError([f"{name}:1: not CSV ({exc})"]) from None
    wanted = ("system", "id", "account", "decision", "comment")
    missing = [c for c in wanted if c not in header]
    if missing:
        raise DecisionError([f"{name}:1: the header has no column {', '.join(missing)}; expected the review's "
                             f"CSV ({', '.join(ROW_COLUMNS)})"])
    at = {c: header.index(c) for c in wanted}
    out, problems = [], []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"{name}:{start}: not CSV ({exc})")
            break
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"{name}:{start}: {len(row)} cells, the header has {len(header)}")
            continue
        v = {c: unsheet(row[i]) for c, i in at.items()}
        out.append(RawDecision(f"{name}:{start}", v["system"], v["id"], v["account"], v["decision"], v["comment"]))
    if problems:
        raise DecisionError(problems)
    return out
