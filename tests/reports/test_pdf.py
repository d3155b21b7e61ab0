"""The OQ documents as PDF (reports.pdf, laid out by reports.pdfdoc): page x of y and the document id and version on
every page, repeated table headers, no row split across pages, nothing outside the page at A4 and Letter, a page
that is not blank as an image; hostile text renders and extracts exactly; qpdf finds no error; the same run gives
the same bytes; the outline, the metadata and the site's branding."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from scanner.model import Location, Run
from tests.factories import make_result, make_run

pypdf = pytest.importorskip("pypdf")
needs_poppler = pytest.mark.skipif(not (shutil.which("pdftotext") and shutil.which("pdftoppm")),
                                   reason="poppler-utils (pdftotext, pdftoppm) not installed")

#: Unbreakable words wider than any column and than the page, in letters found nowhere else in the document.
LONG_TARGET = "host-" + "\u0436" * 140
LONG_HASH = "\u044e" * 64
PAGE_SIZES = {"A4": (595.28, 841.89), "letter": (612.0, 792.0)}


def big_run(hosts: int = 12) -> Run:
    results = []
    for i in range(hosts):
        for check, status in (("linux.ssh.root_login", "pass"), ("linux.password.max_age", "fail")):
            results.append(make_result(check=check, target=f"host{i:03d}", status=status, resource=f"res-{i}",
                                       location=Location("/etc/ssh/sshd_config", 3),
                                       message=f"{check} on host{i:03d} is {status}", remediation="Fix it."))
    results.append(make_result(target=LONG_TARGET, status="error", resource=LONG_HASH,
                               message="could not read " + LONG_HASH))
    run = make_run(results)
    return Run(replace(run.info, checks_fingerprint=LONG_HASH, operator_name="Jane Q. Validator"), run.results,
               run.evidence)


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module", params=["A4", "letter"])
def record(request: pytest.FixtureRequest) -> tuple[str, Run, bytes]:
    from reports.pdf import record_pdf

    run = big_run()
    return request.param, run, record_pdf(run, paper=request.param)


def test_every_page_has_page_x_of_y_and_the_document_id_and_version(record: tuple[str, Run, bytes]) -> None:
    paper, run, pdf = record
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    n = len(reader.pages)
    assert n >= 4
    width, height = PAGE_SIZES[paper]
    for page in reader.pages:
        assert abs(float(page.mediabox.width) - width) < 1 and abs(float(page.mediabox.height) - height) < 1
    for i, page_text in enumerate(pages_text(pdf), 1):
        assert f"Page {i} of {n}" in page_text
        assert f"OQR-{run.info.id}, version 1" in page_text


def test_table_headers_repeat_and_no_row_is_split_across_pages(record: tuple[str, Run, bytes]) -> None:
    _, run, pdf = record
    pages = [squash(t) for t in pages_text(pdf)]
    step_pages = []
    for r in run.results:
        start = [i for i, p in enumerate(pages) if squash(f"{r.target}") in p and squash(r.at.isoformat()) in p]
        assert start, f"row of {r.target} / {r.check} not found whole on one page"
        step_pages.append(start[0])
    assert len(set(step_pages)) > 1  # the executed tests span pages ...
    for i in set(step_pages):  # ... and each of those pages repeats the table header
        assert squash("Test id / target / resource") in pages[i] and squash("Acceptance criterion") in pages[i]


@needs_poppler
def test_nothing_is_outside_the_page_and_long_ids_and_hashes_wrap(record: tuple[str, Run, bytes],
                                                                  tmp_path: Path) -> None:
    paper, _, pdf = record
    f = tmp_path / "r.pdf"
    f.write_bytes(pdf)
    html = subprocess.run(["pdftotext", "-bbox", str(f), "-"], check=True, capture_output=True, text=True).stdout
    width, _ = PAGE_SIZES[paper]
    words = [(float(a), float(b), w) for a, b, w in
             re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', html)]
    assert len(words) > 500
    outside = [w for x0, x1, w in words if x0 < 0 or x1 > width]
    assert outside == []
    # wrapped, not cut: every occurrence of the long name and hash is there whole, in pieces on several lines
    text = subprocess.run(["pdftotext", str(f), "-"], check=True, capture_output=True, text=True).stdout
    long_targets, long_hashes = text.count("\u0436"), text.count("\u044e")
    assert long_targets >= 140 * 3 and long_targets % 140 == 0
    assert long_hashes >= 64 * 3 and long_hashes % 64 == 0


@needs_poppler
def test_a_page_viewed_as_an_image_is_not_blank(record: tuple[str, Run, bytes], tmp_path: Path) -> None:
    _, _, pdf = record
    f = tmp_path / "r.pdf"
    f.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-gray", "-r", "40", "-f", "1", "-l", "1", str(f), str(tmp_path / "p")], check=True)
    (pgm,) = tmp_path.glob("p*.pgm")
    data = pgm.read_bytes()
    magic, width, height, maxval, pixels = re.match(rb"(P5)\s+(\d+)\s+(\d+)\s+(\d+)\s(.*)", data, re.S).groups()  # type: ignore[union-attr]
    assert magic == b"P5" and int(maxval) == 255 and len(pixels) == int(width) * int(height)
    dark = sum(1 for p in pixels if p < 128) / len(pixels)
    assert 0.005 < dark < 0.5  # text and table rules, on a white page


def test_the_protocol_pdf_has_its_id_and_version_on_every_page() -> None:
    from reports.pdf import protocol_pdf
    from scanner import frameworks as fw
    from scanner.inventory import load_inventory
    from scanner.protocol import build_protocol
    from scanner.registry import Registry

    registry = Registry.load()
    inv = load_inventory(str(Path(__file__).resolve().parents[2] / "inventories" / "example.yaml"),
                         policy_names=registry.param_names())
    protocol = build_protocol(inv.targets, registry.select(["linux.*"]), fw.load_catalogs(), ["part11"],
                              document_id="OQP-LIMS-" + "9" * 60, version="4.2", created="2026-12-01T08:00:00+00:00",
                              author="qa@lab", tool_version="0.1.0", checks_fingerprint=LONG_HASH,
                              inventory=inv.source, inventory_sha256=inv.sha256)
    pages = pages_text(protocol_pdf(protocol, "d" * 64))
    assert len(pages) > 2
    for i, t in enumerate(pages, 1):
        assert f"Page {i} of {len(pages)}" in t and squash(f"OQP-LIMS-{'9' * 60}, version 4.2") in squash(t)


def test_pdf_written_through_a_text_file_is_a_pdf_and_hostile_text_shows_escaped(tmp_path: Path) -> None:
    from reports import render
    from tests.reports.hostile import hostile_run

    out = tmp_path / "oq.pdf"
    with open(out, "w", encoding="utf-8") as fh:  # the CLI hands every format a text file
        render("pdf", hostile_run("\x1b]52;c;ZXZpbA==\x07"), fh)
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert "msg\\x1b]52;c;ZXZpbA==\\x07" in squash("".join(pages_text(data)))


def test_an_unusable_branding_file_or_font_is_a_one_line_write_error_with_its_path(tmp_path: Path) -> None:
    from reports.pdf import record_pdf
    from scanner.safefs import OutputError

    site = tmp_path / "site"
    site.mkdir()
    for text, fault in (
            ('header: ACME\ncolours: {text: red}\n', "colours.text: 'red' does not match"),
            ('header: ACME\nlogo: x.png\n', "Additional properties are not allowed ('logo'"),
            ('colours: {}\n', "(top level): 'header' is a required property"),
            ('header: ACME\nfonts: {regular: Nope.ttf}\n', "font 'Nope.ttf' not found"),
            ('header: [unclosed\n', "pdf-branding.yaml: line ")):
        (site / "pdf-branding.yaml").write_text(text)
        with pytest.raises(OutputError) as err:
            record_pdf(make_run(), template_dir=site)
        assert str(err.value).startswith(str(site / "pdf-branding.yaml")) and fault in str(err.value), err.value
        assert "\n" not in str(err.value)


def test_without_fonttools_pdf_output_is_a_one_line_write_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from reports.pdf import record_pdf
    from scanner.safefs import OutputError

    monkeypatch.setitem(sys.modules, "fontTools.ttLib", None)  # import fails as if not installed
    with pytest.raises(OutputError, match=r"^PDF output needs fontTools \(pip install fonttools\): "):
        record_pdf(make_run())


def test_a_steps_evidence_ids_lead_to_their_full_hash_and_time(record: tuple[str, Run, bytes]) -> None:
    """Test steps name their evidence by id only; the record stays complete: each id is in a step and heads its
    entry under "Objective evidence", which shows the full SHA-256 and the collection time."""
    _, run, pdf = record
    text = squash("".join(pages_text(pdf)))
    evidence_part = text[text.rindex(squash("Objective evidence")):]
    for ref, ev in run.evidence.items():
        assert text.count(squash(ref)) >= 2, ref
        assert squash(ev["sha256"]) in evidence_part and squash(ev["collected_at"]) in evidence_part
