"""The PDF writer (reports.pdfdoc) on hostile text and on the properties an auditor relies on: every character a
target returns renders and extracts as itself (controls and characters the font lacks as their visible escape),
PDF syntax characters cannot reach the file's syntax, a row taller than a page is split with a mark, qpdf finds no
error, the same run gives byte-identical PDFs, the outline and metadata are there, and a site's branding is used."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from reports.text import for_document
from scanner.model import Run
from tests.factories import make_result, make_run

pypdf = pytest.importorskip("pypdf")

#: Right-to-left marks and overrides, Hebrew letters, a combining accent, CJK (DejaVu has no glyph for it),
#: C0 and C1 controls and DEL, and the characters that are syntax in a PDF literal string or a comment.
HOSTILE = ("rtl\u200f\u202e \u05e9\u05dc\u05d5\u05dd e\u0301 \u4e2d\u6587 \x00\x1b\x7f\x9b )\\(% "
           "<</Type /Page>> endstream")
#: What the page shows for it: controls escaped (reports.text), characters the font lacks escaped (reports.pdfdoc).
SHOWN = for_document(HOSTILE).replace("\u4e2d", "\\u4e2d").replace("\u6587", "\\u6587")
#: A 5,000-character token in letters found nowhere else in the document (Greek), in a known order.
TOKEN = "".join(chr(0x3B1 + (i * 7) % 24) for i in range(5000))
GREEK = re.compile("[\u03b1-\u03c8]")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def logical_text(pdf: bytes) -> list[str]:
    """Each page's text in the order the content stream shows it, decoded through each font's own ToUnicode CMap
    (read from the file by pypdf): what the file says, before any extractor reorders right-to-left runs or
    composes accents for display."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    pages = []
    for page in reader.pages:
        maps = {}
        for name, ref in page["/Resources"]["/Font"].items():
            cmap = ref.get_object()["/ToUnicode"].get_object().get_data().decode("ascii")
            maps[name] = {int(g, 16): bytes.fromhex(u).decode("utf-16-be")
                          for g, u in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]+)>", cmap)}
        data = page.get_contents().get_data().decode("latin-1")
        out, current = [], {}
        for font, string in re.findall(r"/(F\w+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\)(?:Tj|')", data, re.S):
            if font:
                current = maps["/" + font]
                continue
            raw = re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), string, flags=re.S)
            codes = raw.encode("latin-1")
            out.append("".join(current[int.from_bytes(codes[i:i + 2], "big")] for i in range(0, len(codes), 2)))
            out.append("\n")
        pages.append("".join(out))
    return pages


def hostile_run() -> Run:
    results = [make_result(target="host-a", resource="R" + HOSTILE, message="M" + HOSTILE,
                           observed={"k": "O" + HOSTILE}),
               make_result(check="linux.password.max_age", target="host-a", resource="T" + TOKEN, status="fail")]
    run = make_run(results)
    return Run(replace(run.info, operator_name="Jane Q. Validator",
                       ended=datetime(2026, 12, 1, 9, 30, 5, tzinfo=timezone.utc)), run.results, run.evidence)


@pytest.fixture(scope="module")
def hostile_pdf() -> bytes:
    from reports.pdf import record_pdf

    return record_pdf(hostile_run())


def test_hostile_text_renders_and_extracts_exactly_or_as_its_visible_escape(hostile_pdf: bytes) -> None:
    assert "\\x00\\x1b\\x7f\\x9b" in SHOWN and "\\u200f\\u202e" in SHOWN and "e\u0301" in SHOWN
    text = squash("".join(logical_text(hostile_pdf)))
    for prefix in ("R", "M"):
        assert squash(prefix + SHOWN) in text
    # the token, broken over many lines and pages, is all there and in order: in the executed test and its deviation
    assert "".join(GREEK.findall(text)) == TOKEN * 2
    # an independent extractor agrees (it shows the Hebrew run reversed and the accent composed, for display)
    extracted = squash("".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(hostile_pdf)).pages))
    assert "\u05dd\u05d5\u05dc\u05e9" in extracted
    assert squash(")\\(%<</Type/Page>>endstream") in extracted and "\\u4e2d\\u6587" in extracted
    assert "\\x00\\x1b\\x7f\\x9b" in extracted
    # nothing raw: no control character, no CJK (the font has none: its escape is shown instead)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200f\u202e\u4e2d]", "".join(logical_text(hostile_pdf)))


def test_a_row_taller_than_a_page_is_split_with_a_continued_mark(hostile_pdf: bytes) -> None:
    pages = [p.replace("\n", " ") for p in logical_text(hostile_pdf)]
    ends = [i for i, p in enumerate(pages) if "(row continued on the next page)" in p]
    starts = [i for i, p in enumerate(pages) if "(row continued from the previous page)" in p]
    # the token row (in the executed tests and in the deviations) spans pages: each part says so at its end, and
    # the next part, under the repeated table header, at its start
    assert len(ends) >= 2 and starts == [i + 1 for i in ends]
    for i in ends:
        assert GREEK.search(pages[i]) and GREEK.search(pages[i + 1])
        assert pages[i + 1].index("(row continued from") < pages[i + 1].index(GREEK.findall(pages[i + 1])[0])
        assert "Test id / target / resource" in pages[i + 1] or "Description" in pages[i + 1]


@pytest.mark.skipif(not shutil.which("qpdf"), reason="qpdf not installed (scripts/install-deps.sh)")
@pytest.mark.parametrize("paper", ["A4", "letter"])
def test_qpdf_finds_no_error_in_the_record_or_the_protocol(hostile_pdf: bytes, paper: str, tmp_path: Path) -> None:
    from reports.pdf import record_pdf
    from tests.reports.test_pdf import big_run

    for name, data in (("hostile", hostile_pdf), ("big", record_pdf(big_run(), paper=paper))):
        f = tmp_path / f"{name}.pdf"
        f.write_bytes(data)
        check = subprocess.run(["qpdf", "--check", str(f)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "No syntax or stream encoding errors found" in check.stdout


def fixed_run() -> Run:
    """The hostile run with every time fixed, as a run read back from its record is."""
    at = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    run = hostile_run()
    return Run(replace(run.info, started=at), tuple(replace(r, at=at) for r in run.results),
               {k: {**v, "collected_at": at.isoformat()} for k, v in run.evidence.items()})


def test_the_same_run_gives_the_same_bytes(tmp_path: Path) -> None:
    """Byte-identical for the same run, in another process with another hash seed too: the manifest's hash of the
    PDF is stable."""
    import hashlib
    import os
    import sys

    from reports.pdf import record_pdf

    run = fixed_run()
    first = record_pdf(run)
    assert record_pdf(run) == first
    code = ("import hashlib, sys; from reports.pdf import record_pdf; from tests.reports.test_pdf_text import "
            "fixed_run; sys.stdout.write(hashlib.sha256(record_pdf(fixed_run())).hexdigest())")
    repo = str(Path(__file__).resolve().parents[2])
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": repo}
        out = subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True,
                             check=True).stdout
        assert out == hashlib.sha256(first).hexdigest()


def test_outline_metadata_fonts_and_compressed_streams(hostile_pdf: bytes) -> None:
    from scanner import __version__

    reader = pypdf.PdfReader(io.BytesIO(hostile_pdf))
    run = hostile_run()
    meta = reader.metadata
    assert meta.title == f"OQR-{run.info.id} Operational qualification: execution record"
    assert meta.producer == f"gxpscan {__version__}" and meta.author == "Jane Q. Validator"
    assert meta.creation_date == datetime(2026, 12, 1, 9, 30, 5, tzinfo=timezone.utc)
    top = [o for o in reader.outline if not isinstance(o, list)]
    titles = [o.title for o in top]
    assert titles[:3] == ["Systems under test", "Executed tests", "Traceability matrix"]
    assert {"Deviations (1)", "Manual verification (0)", "Summary and conclusion", "Objective evidence",
            "Signatures"} <= set(titles)
    outline = list(reader.outline)
    nested = outline[next(i for i, o in enumerate(outline) if getattr(o, "title", "") == "Executed tests") + 1]
    assert isinstance(nested, list) and [o.title for o in nested] == ["host-a: 2 test(s)"]
    # bookmarks point at the page where their section starts
    page = reader.get_destination_page_number(top[titles.index("Signatures")])
    assert "Signatures" in logical_text(hostile_pdf)[page]
    fonts = reader.pages[0]["/Resources"]["/Font"]
    for ref in fonts.values():
        font = ref.get_object()
        assert font["/Subtype"] == "/Type0" and font["/Encoding"] == "/Identity-H" and "/ToUnicode" in font
        cid = font["/DescendantFonts"][0].get_object()
        assert cid["/Subtype"] == "/CIDFontType2" and "/FontFile2" in cid["/FontDescriptor"].get_object()
        assert re.fullmatch(r"/[A-Z]{6}\+DejaVuSans(-Bold|Mono)?", font["/BaseFont"])
    for p in reader.pages:
        assert p["/Contents"].get_object()["/Filter"] == "/FlateDecode"


def test_a_site_branding_file_sets_the_header_colours_and_fonts(tmp_path: Path) -> None:
    from reports.pdf import record_pdf

    site = tmp_path / "site"
    site.mkdir()
    shutil.copy("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", site / "House.ttf")
    (site / "pdf-branding.yaml").write_text(
        'header: "ACME Pharma \u00b7 QA Validation"\nfonts: {regular: House.ttf}\n'
        'colours: {text: "#123456", table_header: "#ffe0a0"}\n')
    pdf = record_pdf(make_run([make_result()]), template_dir=site)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    pages = logical_text(pdf)
    assert all("ACME Pharma \u00b7 QA Validation" in p for p in pages)
    assert reader.pages[0]["/Resources"]["/Font"]["/Fr"].get_object()["/BaseFont"].endswith("+House")
    content = reader.pages[0].get_contents().get_data().decode("latin-1")
    assert "0.07 0.20 0.34 rg" in content and "1.00 0.88 0.63 rg" in content
    # the HTML templates of the same directory are not needed for the PDF
    assert not list(site.glob("*.j2"))
