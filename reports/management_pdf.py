"""The management review summary as PDF: the sections of ``reports.management`` laid out by ``reports.pdfdoc``
with the site's branding (``reports.pdf.load_style``), as the OQ documents are."""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, TextIO

from reports.management import NOTES, TITLE, meta, sections
from reports.pdf import _pdf, d, header, label_row, load_style, write_bytes
from reports.pdfdoc import Block, Heading, Meta, Paragraph, Row, Table
from scanner.management import Summary


def blocks(s: Summary) -> list[Block]:
    out: list[Block] = [Heading(TITLE, 0),
                        Table((0.3, 0.7), (), [label_row((name, (("r", d(value)),))) for name, value in meta(s)])]
    out += [Paragraph((("r", note),), boxed=True) for note in NOTES]
    for section in sections(s):
        out.append(Heading(d(section.title)))
        if section.note:
            out.append(Paragraph((("r", d(section.note)),), boxed=True))
        widths = section.widths or tuple(1 / len(section.header) for _ in section.header)
        rows: list[Row] = [tuple((("r", d(cell)),) for cell in row) for row in section.rows]
        if not rows:  # one cell across the table
            rows = [((("r", "None."),), *(None for _ in section.header[1:]))]
        out.append(Table(widths, header(*section.header), rows))
    return out


def pdf(s: Summary, *, template_dir: str | Path | None = None, paper: str = "A4") -> bytes:
    from scanner import __version__

    info = Meta(title=TITLE, document_id=f"MR-{s.since.date().isoformat()}-{s.until.date().isoformat()}",
                version="1", producer=f"gxpscan {__version__}", created=s.generated.isoformat())
    return _pdf(blocks(s), load_style(template_dir), info, paper)


def render_pdf(s: Summary, out: TextIO | BinaryIO, *, template_dir: str | Path | None = None,
               paper: str = "A4") -> None:
    write_bytes(out, pdf(s, template_dir=template_dir, paper=paper))
