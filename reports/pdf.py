"""The OQ documents as PDF (``--format pdf``): the same HTML as ``reports.oq``, laid out by WeasyPrint with the
print stylesheet: page x of y and the document id and version on every page, table headers repeated on each
page, no table row split across pages, long ids and hashes wrapped so nothing is cut off at A4 or Letter.

WeasyPrint needs Pango (Debian: libpango-1.0-0, libpangoft2-1.0-0, libharfbuzz-subset0; installed by
scripts/install-deps.sh). It is imported only when a PDF is made. The document is laid out from the HTML alone:
it loads no file and no URL (every fetch is refused), so nothing a target returned can make it reach out.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TextIO

from scanner.model import Run
from scanner.protocol import Protocol

#: Evidence excerpt lines in the PDF (the HTML shows more; the run record keeps the whole output). Layout time
#: grows with every line: a 100-host record stays a document one can print.
PDF_EXCERPT_LINES = 20


def _refuse(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"OQ documents load no external resource ({url[:80]!r} refused)")


def html_to_pdf(html: str) -> bytes:
    """Lay out one of our HTML documents as PDF. Without WeasyPrint or its Pango libraries: OutputError (the CLI
    says so in one line and exits 4), never a traceback."""
    from scanner.safefs import OutputError

    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: WeasyPrint is there but Pango is not
        raise OutputError(f"PDF output needs WeasyPrint and Pango (scripts/install-deps.sh installs them): "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None

    data: bytes = weasyprint.HTML(string=html, url_fetcher=_refuse).write_pdf()
    return data


def record_pdf(run: Run, *, protocol: Protocol | None = None, protocol_problem: str = "",
               template_dir: str | Path | None = None, paper: str = "A4") -> bytes:
    from reports.oq import record_html

    return html_to_pdf(record_html(run, protocol=protocol, protocol_problem=protocol_problem,
                                   template_dir=template_dir, paper=paper, excerpt_lines=PDF_EXCERPT_LINES))


def protocol_pdf(protocol: Protocol, digest: str, *, template_dir: str | Path | None = None,
                 paper: str = "A4") -> bytes:
    from reports.oq import protocol_html

    return html_to_pdf(protocol_html(protocol, digest, template_dir=template_dir, paper=paper))


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
           template_dir: str | Path | None = None, paper: str = "A4", **_: Any) -> None:
    write_bytes(out, record_pdf(run, protocol=protocol, protocol_problem=protocol_problem,
                                template_dir=template_dir, paper=paper))
