"""A small PDF writer for the OQ documents: headings, paragraphs, preformatted text and tables, laid out on A4 or
Letter pages and written as PDF objects directly.

It is made for one kind of document and for speed (a 100-host execution record is thousands of pages):

- Fonts are TrueType files (DejaVu Sans, Sans Bold and Sans Mono by default), embedded as ``CIDFontType2`` with
  ``Identity-H`` encoding and glyph ids kept from the original font, subset with fontTools to the glyphs used, with
  a ``ToUnicode`` CMap so text extracts as the characters it shows. Text is written as hex strings, so no
  character of a value (``(``, ``)``, ``\\``, ``%``) can reach PDF syntax. A character the font lacks is shown as a
  visible escape (``\\u4e2d``), never dropped; the caller has already made controls visible
  (``reports.text.for_document``). Text is shown in its stored (logical) order: no bidi reordering or shaping, so
  what a target returned is what the page shows.
- Lines wrap by the fonts' real advance widths, after spaces and after ``/ . , : ; = _ -`` where they can and
  inside a word (a hash, a path) where they must; nothing is drawn beyond its column or the page.
- Tables repeat their header on each page and never split a row across pages, except a row taller than a whole
  page, which is split with a "continued" mark on both sides of the break.
- Every page has a header (the branding's text and the document title) and a footer (document id and version,
  page x of y). Headings become the document outline (bookmarks). Content streams are compressed. The document
  info holds title, producer and creation date given by the caller: the same input gives the same bytes.

Widths are read once per font; a wrapped paragraph is cached per (text, width, size), since a record repeats the
same criteria and clause texts for every target.
"""
from __future__ import annotations

import hashlib
import re
import zlib
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

from reports.text import escape_char

#: Page sizes in points (1/72 inch).
PAGE_SIZES = {"A4": (595.28, 841.89), "letter": (612.0, 792.0)}
#: Break opportunities: after a space and after ``/ . , : ; = _ -`` (as reports.text.wrap does for terminals).
_LAST_BREAK = re.compile(r".*[ /.,:;=_\-]", re.S)
#: Font keys of a span's style: r regular, b bold, m mono; a trailing "s" makes it small.
FONT_KEYS = ("r", "b", "m")
SMALL = 0.86
LEADING = 1.22
PAD = 2.6

Span = tuple[str, str]  # (style, text); style is r, b or m, optionally followed by s (small)
Cell = tuple[Span, ...]
Row = tuple["Cell | None", ...]  # None: the cell before it spans this column too
Rgb = tuple[float, float, float]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1  # 1: a section (outline entry), 2: an entry under the section before it


@dataclass(frozen=True)
class Paragraph:
    spans: tuple[Span, ...]
    boxed: bool = False  # a note: a rule at its left


@dataclass(frozen=True)
class Preformatted:
    text: str


@dataclass(frozen=True)
class Table:
    widths: tuple[float, ...]  # fractions of the text width
    header: tuple[Cell, ...]  # () for a table without a header row
    rows: Sequence[Row]
    fills: Sequence[int] = ()  # indexes of columns that are left empty to be filled in by hand (taller rows)


Block = Heading | Paragraph | Preformatted | Table


@dataclass(frozen=True)
class Style:
    """The look of a document (see reports/templates/pdf-branding.yaml)."""

    header: str
    fonts: dict[str, Path]  # r, b, m -> TrueType file
    text_colour: Rgb = (0.07, 0.07, 0.07)
    heading_colour: Rgb = (0.07, 0.07, 0.07)
    rule_colour: Rgb = (0.6, 0.6, 0.6)
    header_fill: Rgb = (0.93, 0.93, 0.93)
    pre_fill: Rgb = (0.98, 0.98, 0.98)
    body_size: float = 9.0
    table_size: float = 7.4
    pre_size: float = 6.8
    title_size: float = 15.0
    heading_size: float = 12.0


@dataclass(frozen=True)
class Meta:
    title: str
    document_id: str
    version: str
    producer: str
    created: str  # ISO 8601 date and time (UTC), from the run or the protocol
    author: str = ""


class FontError(ValueError):
    pass


class Font:
    """One TrueType font: advance widths per character (in 1/1000 em), glyph ids, the characters used."""

    def __init__(self, key: str, path: Path) -> None:
        from fontTools.ttLib import TTFont, TTLibError

        try:
            font = TTFont(str(path), lazy=True, recalcTimestamp=False)
            if "glyf" not in font:
                raise FontError(f"{path}: not a TrueType (glyf) font")
            cmap = font.getBestCmap()
            metrics = font["hmtx"].metrics
            order = font.getGlyphOrder()
        except (OSError, TTLibError, KeyError, AttributeError, TypeError) as exc:
            raise FontError(f"{path}: not a usable TrueType font ({type(exc).__name__}: {exc})") from None
        if len(order) > 0xD7FF:  # glyph ids are written as UTF-16 code units below the surrogates
            raise FontError(f"{path}: more than {0xD7FF} glyphs")
        self.key, self.path = key, path
        upm = font["head"].unitsPerEm
        gid = {name: i for i, name in enumerate(order)}
        scale = 1000.0 / upm
        self.gid: dict[str, int] = {}
        self.width: dict[str, float] = {}
        for code, name in cmap.items():
            ch = chr(code)
            if 0xD800 <= code <= 0xDFFF or name not in gid:
                continue
            self.gid[ch] = gid[name]
            self.width[ch] = metrics[name][0] * scale
        self.glyph_width = [metrics[name][0] * scale for name in order]
        # each character straight to its glyph id as two latin-1 characters (the bytes of a literal string), with
        # the bytes that are syntax in a literal string escaped: one str.translate encodes a text
        self.codes = {ord(ch): chr(g).encode("utf-16-be").decode("latin-1").translate(_LITERAL_ESCAPES)
                      for ch, g in self.gid.items()}
        for c in range(128):  # a font without some ASCII character shows .notdef, never a stray byte
            self.codes.setdefault(c, "\x00\x00")
        self.line_codes = {**self.codes, 10: ")'\n("}
        # ASCII text (nearly all of a record) faster: as UTF-16BE bytes each character is a zero byte and its code,
        # and one bytes.translate maps the code to the glyph id, when every ASCII glyph id is below 256 (and the
        # zero byte stays zero); the syntax bytes are escaped after by replace, as in _LITERAL_ESCAPES
        raw = [self.gid.get(chr(c), 0) for c in range(128)]
        self.ascii_table = bytes(raw + [0] * 128) if max(raw) < 256 and raw[0] == 0 else None
        self.encoded: dict[str, str] = {}
        self.shown: dict[str, str] = {}
        self.shown_next: dict[str, str] = {}
        self.widths: dict[str, float] = {}
        self.chars = frozenset(self.gid)
        head, hhea = font["head"], font["hhea"]
        self.bbox = [round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)]
        self.ascent, self.descent = round(hhea.ascent * scale), round(hhea.descent * scale)
        self.fixed = "post" in font and bool(font["post"].isFixedPitch)
        self.name = re.sub(r"[^A-Za-z0-9-]", "", path.stem) or "Font"
        # printable ASCII is always embedded (a few hundred bytes), so only other characters are tracked
        self.used: set[str] = {chr(c) for c in range(32, 127) if chr(c) in self.gid}
        font.close()

    def clean(self, text: str) -> str:
        """The text with every character this font lacks as a visible escape (tab too)."""
        if text.isascii() and "\t" not in text:
            return text
        if self.chars.issuperset(text):
            return text
        return "".join(ch if ch in self.chars and ch != "\t" else escape_char(ch) for ch in text)

    def measure(self, text: str) -> float:
        w = self.widths.get(text)
        if w is None:
            w = sum(map(self.width.__getitem__, text))
            if len(self.widths) < 500_000:
                self.widths[text] = w
        return w

    def show(self, text: str) -> str:
        """The operator that shows the text: ``(...)Tj``."""
        op = self.shown.get(text)
        if op is None:
            op = "(" + self.encode(text) + ")Tj"
            if len(self.shown) < 500_000:
                self.shown[text] = op
        return op

    def show_next(self, text: str) -> str:
        """The operator that moves to the next line (by the leading, ``TL``) and shows the text: ``(...)'``."""
        op = self.shown_next.get(text)
        if op is None:
            op = "(" + self.encode(text) + ")'"
            if len(self.shown_next) < 500_000:
                self.shown_next[text] = op
        return op

    def encode_lines(self, lines: Sequence[str]) -> str:
        """Lines (cleaned, without line ends) as the bodies of literal strings shown one under the other with
        ``'``: encoded in one pass, since an evidence excerpt's lines are seldom seen twice."""
        if self.ascii_table is not None:
            return ")'\n(".join([self._encode_ascii(t) if t.isascii() else self._encode_other(t) for t in lines])
        text = "\n".join(lines)
        if not text.isascii():
            self.used.update(text)
            self.used.discard("\n")
        return text.translate(self.line_codes)

    def encode(self, text: str) -> str:
        """The text as a PDF literal string body of 2-byte glyph ids (one latin-1 character per byte), with
        the bytes that are syntax in a literal string escaped."""
        e = self.encoded.get(text)
        if e is None:
            if not text.isascii():
                e = self._encode_other(text)
            elif self.ascii_table is not None:
                e = self._encode_ascii(text)
            else:
                e = text.translate(self.codes)
            if len(self.encoded) < 500_000:
                self.encoded[text] = e
        return e


    def _encode_other(self, text: str) -> str:
        """``encode`` of a text with a character beyond ASCII (recorded as used, for the subset)."""
        self.used.update(text)
        return text.translate(self.codes)

    def _encode_ascii(self, text: str) -> str:
        """``encode`` of an ASCII text, when ``ascii_table`` is set: the same string, made by bytes operations."""
        assert self.ascii_table is not None
        return (text.encode("utf-16-be").translate(self.ascii_table).replace(b"\\", b"\\\\").replace(b"(", b"\\(")
                .replace(b")", b"\\)").replace(b"\r", b"\\r").replace(b"\n", b"\\n").decode("latin-1"))


#: Bytes escaped in a literal string: its delimiters, the backslash and line ends (a raw CR would read as LF).
_LITERAL_ESCAPES = {ord("("): "\\(", ord(")"): "\\)", ord("\\"): "\\\\", 13: "\\r", 10: "\\n"}


Fragment = tuple[Font, float, str]  # font, size, text (already cleaned)
Line = tuple[float, tuple[Fragment, ...]]  # height, fragments
Box = tuple[float, list[Line], list[str]]  # height, lines, their drawing operators once made (position-free)


def _fmt(v: float) -> str:
    return f"{v:.2f}"


def _pdf_text(text: str) -> str:
    """A text string in the document info or the outline: UTF-16BE hex, so no character is PDF syntax."""
    return "<FEFF" + text.encode("utf-16-be", "surrogatepass").hex().upper() + ">"


class Layout:
    """Lays blocks out on pages; ``finish`` writes the PDF."""

    def __init__(self, style: Style, paper: str, meta: Meta) -> None:
        self.style, self.meta = style, meta
        self.page_w, self.page_h = PAGE_SIZES.get(paper, PAGE_SIZES["A4"])
        self.left, self.right = 34.0, self.page_w - 34.0
        self.top, self.bottom = self.page_h - 44.0, 48.0
        self.text_w = self.right - self.left
        self.fonts = {k: Font(k, style.fonts[k]) for k in FONT_KEYS}
        self.pages: list[list[str]] = []
        self.outline: list[tuple[int, str, int, float]] = []  # level, title, page index, y
        self.cache: dict[tuple[tuple[Span, ...], float, float], Box] = {}
        self.down: dict[float, str] = {}
        self.leading: dict[float, str] = {}
        self.font_ops: dict[tuple[str, float], str] = {}
        self.styles: dict[tuple[str, float], tuple[Font, float]] = {}
        self.columns: dict[tuple[float, ...], list[tuple[str, str]]] = {}
        self.parts: dict[tuple[str, float, str, float], tuple[list[str], float]] = {}
        self.y = 0.0
        self.ops: list[str] = []
        self._new_page()

    # --- pages ----------------------------------------------------------------------------------------------
    def _new_page(self) -> None:
        self.ops = [_colour(self.style.text_colour, fill=True), _colour(self.style.rule_colour, fill=False),
                    "0.5 w"]
        self.pages.append(self.ops)
        self.y = self.top

    def _room(self) -> float:
        return self.y - self.bottom

    # --- text -----------------------------------------------------------------------------------------------
    def _font(self, style: str, size: float) -> tuple[Font, float]:
        hit = self.styles.get((style, size))
        if hit is None:
            hit = self.styles[(style, size)] = (self.fonts[style[0]], size * SMALL if style.endswith("s") else size)
        return hit

    def lines(self, spans: tuple[Span, ...], width: float, size: float) -> list[Line]:
        """The spans wrapped to ``width`` points; a ``\\n`` in a span breaks the line."""
        return self.box(spans, width, size)[1]

    def box(self, spans: tuple[Span, ...], width: float, size: float) -> Box:
        """The height of the wrapped spans, their lines, and a place for their drawing operators once made."""
        key = (spans, width, size)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        if len(spans) == 1 and "\n" not in spans[0][1]:  # the common case: one short text
            font, fsize = self._font(spans[0][0], size)
            clean = font.clean(spans[0][1])
            if clean and font.measure(clean) * fsize <= width * 1000:
                one: Box = (fsize * LEADING, [(fsize * LEADING, ((font, fsize, clean),))], [])
                self.cache[key] = one
                return one
        out: list[Line] = []
        cur: list[Fragment] = []
        cur_w, cur_h = 0.0, 0.0
        limit = width * 1000  # in font units times points

        for style, text in spans:
            font, fsize = self._font(style, size)
            lh = fsize * LEADING
            widths, chars = font.widths, font.chars
            for k, part in enumerate(text.split("\n") if "\n" in text else (text,)):
                if k:
                    out.append((cur_h or lh, tuple(cur)))
                    cur, cur_w, cur_h = [], 0.0, 0.0
                if not part:
                    if lh > cur_h:
                        cur_h = lh
                    continue
                if not (part.isascii() and "\t" not in part) and not chars.issuperset(part):
                    part = font.clean(part)
                w = widths.get(part)
                if w is None:
                    w = font.measure(part)
                w *= fsize
                if cur_w + w <= limit:
                    cur.append((font, fsize, part))
                    cur_w += w
                    if lh > cur_h:
                        cur_h = lh
                    continue
                if not cur:  # a part that starts a line: wrapped once for every cell that shows it
                    texts, cur_w = self._wrap(font, fsize, part, limit)
                    for t in texts[:-1]:
                        out.append((lh, ((font, fsize, t),)))
                    cur, cur_h = [(font, fsize, texts[-1])], lh
                    continue
                # wrap: cumulative advance widths, the furthest fitting character by bisection, then the last
                # break opportunity before it (inside a word only when the line has nothing else)
                acc = list(accumulate(map(font.width.__getitem__, part)))
                start, n = 0, len(part)
                while start < n:
                    base = acc[start - 1] if start else 0.0
                    end = bisect_right(acc, base + (limit - cur_w) / fsize, start)
                    if end >= n:
                        cur.append((font, fsize, part[start:]))
                        cur_w, cur_h = cur_w + (acc[-1] - base) * fsize, max(cur_h, lh)
                        break
                    m = _LAST_BREAK.match(part, start, end)
                    if m is not None and m.end() > start:
                        cut = m.end()
                    elif cur:
                        out.append((cur_h or lh, tuple(cur)))
                        cur, cur_w, cur_h = [], 0.0, 0.0
                        continue
                    else:
                        cut = max(end, start + 1)
                    cur.append((font, fsize, part[start:cut].rstrip(" ") or part[start:cut]))
                    out.append((max(cur_h, lh), tuple(cur)))
                    cur, cur_w, cur_h = [], 0.0, 0.0
                    start = cut
                    while start < n and part[start] == " ":
                        start += 1
        if cur or not out:
            out.append((cur_h or size * LEADING, tuple(cur)))
        result: Box = (sum([lh for lh, _ in out]), out, [])
        if len(self.cache) < 200_000:
            self.cache[key] = result
        return result

    def _wrap(self, font: Font, fsize: float, part: str, limit: float) -> tuple[list[str], float]:
        """One text of one font wrapped from the start of a line: its lines, and the width of the last one."""
        key = (font.key, fsize, part, limit)
        hit = self.parts.get(key)
        if hit is not None:
            return hit
        acc = list(accumulate(map(font.width.__getitem__, part)))
        texts: list[str] = []
        start, n = 0, len(part)
        while True:
            base = acc[start - 1] if start else 0.0
            end = bisect_right(acc, base + limit / fsize, start)
            if end >= n:
                texts.append(part[start:])
                result = (texts, (acc[-1] - base) * fsize)
                break
            m = _LAST_BREAK.match(part, start, end)
            cut = m.end() if m is not None and m.end() > start else max(end, start + 1)
            texts.append(part[start:cut].rstrip(" ") or part[start:cut])
            start = cut
            while start < n and part[start] == " ":
                start += 1
            if start >= n:  # only spaces after the break: an empty last line to continue on
                texts.append("")
                result = (texts, 0.0)
                break
        if len(self.parts) < 200_000:
            self.parts[key] = result
        return result

    def _draw_lines(self, lines: Sequence[Line], x: float, y: float, memo: list[str] | None = None) -> None:
        """Lines from the top at ``y`` (the top of the first line), left-aligned at ``x``. The operators after the
        first position are relative, so a box drawn again reuses them (``memo``)."""
        if memo:
            self.ops.append(f"BT {x:.2f} {y:.2f} Td\n{memo[0]}\nET")
            return
        ops = []
        font_now: Font | None = None
        size_now = 0.0
        above = 0.0
        down, tf, leading = self.down, self.font_ops, self.leading
        lead = -1.0
        for k, (height, frags) in enumerate(lines):
            step = above + height * 0.78
            above = height * 0.22
            if k == 0:  # the first line by a move; the others by the leading, set when it changes
                ops.append(down.get(step) or down.setdefault(step, f"0 {-step:.2f} Td"))
            elif step != lead:
                lead = step
                ops.append(leading.get(step) or leading.setdefault(step, f"{step:.2f} TL"))
            if not frags:
                if k:
                    ops.append("T*")
                continue
            fresh = k > 0
            for font, size, text in frags:
                if font is not font_now or size != size_now:
                    key = (font.key, size)
                    ops.append(tf.get(key) or tf.setdefault(key, f"/F{font.key} {size:.2f} Tf"))
                    font_now, size_now = font, size
                if fresh:
                    ops.append(font.shown_next.get(text) or font.show_next(text))
                    fresh = False
                else:
                    ops.append(font.shown.get(text) or font.show(text))
        body = "\n".join(ops)
        if memo is not None:
            memo.append(body)
        self.ops.append(f"BT {x:.2f} {y:.2f} Td\n{body}\nET")

    # --- blocks ---------------------------------------------------------------------------------------------
    def add(self, blocks: Iterable[Block]) -> None:
        for block in blocks:
            if isinstance(block, Table):
                self.table(block)
            elif isinstance(block, Preformatted):
                self.pre(block.text)
            elif isinstance(block, Paragraph):
                self.paragraph(block)
            else:
                self.heading(block)

    def heading(self, h: Heading) -> None:
        size = self.style.title_size if h.level == 0 else self.style.heading_size if h.level == 1 \
            else self.style.body_size
        lines = self.lines((("b", h.text),), self.text_w, size)
        need = sum(lh for lh, _ in lines) + size * 0.9
        if self._room() < need + 4 * self.style.body_size * LEADING and self.y < self.top:
            self._new_page()  # keep a heading with what follows it
        self.y -= size * 0.5 if self.y < self.top else 0
        if h.level >= 1:
            self.outline.append((h.level, h.text, len(self.pages) - 1, self.y))
        self.ops.append(_colour(self.style.heading_colour, fill=True))
        self._draw_lines(lines, self.left, self.y)
        self.ops.append(_colour(self.style.text_colour, fill=True))
        self.y -= sum(lh for lh, _ in lines) + size * 0.3

    def paragraph(self, p: Paragraph) -> None:
        size = self.style.body_size
        indent = 8.0 if p.boxed else 0.0
        lines = self.lines(p.spans, self.text_w - indent, size)
        start = 0
        while start < len(lines):
            if self._room() < lines[start][0]:
                self._new_page()
            taken, h = 0, 0.0
            for lh, _ in lines[start:]:
                if h + lh > self._room():
                    break
                taken, h = taken + 1, h + lh
            part = lines[start:start + taken]
            self._draw_lines(part, self.left + indent, self.y)
            if p.boxed:
                self.ops.append(f"2 w {_fmt(self.left + 1)} {_fmt(self.y)} m {_fmt(self.left + 1)} "
                                f"{_fmt(self.y - h)} l S 0.5 w")
            self.y -= h
            start += taken
        self.y -= size * 0.4

    def pre(self, text: str) -> None:
        size, font = self.style.pre_size, self.fonts["m"]
        width = self.text_w - 2 * PAD
        lh = size * LEADING
        per_line = int(width * 1000 / (font.width["M"] * size)) if font.fixed else 0
        lines: list[str] = []
        raws = text.split("\n")
        if per_line and text.isascii() and "\t" not in text and max(map(len, raws)) <= per_line:
            raws, lines = [], raws  # the common excerpt: short ASCII lines, shown as they are
        for raw in raws:
            if per_line and len(raw) <= per_line and raw.isascii() and "\t" not in raw:
                lines.append(raw)  # the common line: shown as it is
                continue
            clean = font.clean(raw.expandtabs(8))
            if not clean:
                lines.append("")
            elif per_line and clean.isascii():
                lines.extend(clean[i:i + per_line] for i in range(0, len(clean), per_line))
            else:
                lines.extend("".join(t for _, _, t in frags) for _, frags in self.lines((("m", clean),), width, size))
        start = 0
        while start < len(lines):
            if self._room() < lh + 2 * PAD:
                self._new_page()
            n = max(1, min(len(lines) - start, int((self._room() - 2 * PAD) / lh)))
            h = n * lh + 2 * PAD
            self.ops.append(f"q {_colour(self.style.pre_fill, fill=True)} {_fmt(self.left)} {_fmt(self.y - h)} "
                            f"{_fmt(self.text_w)} {_fmt(h)} re B Q")
            body = font.encode_lines(lines[start:start + n])
            self.ops.append(f"BT /Fm {_fmt(size)} Tf {_fmt(lh)} TL 1 0 0 1 {_fmt(self.left + PAD)} "
                            f"{_fmt(self.y - PAD + lh * 0.22)} Tm\n({body})'\nET")
            self.y -= h
            start += n
        self.y -= self.style.body_size * 0.5

    def table(self, t: Table) -> None:
        size = self.style.table_size
        xs = [self.left]
        for f in t.widths:
            xs.append(xs[-1] + f * self.text_w)
        xs[-1] = self.right
        inner = [xs[i + 1] - xs[i] - 2 * PAD for i in range(len(t.widths))]
        header = [self.lines(c, inner[i], size) for i, c in enumerate(t.header)]
        header_h = max((sum(lh for lh, _ in c) for c in header), default=0.0) + 2 * PAD if t.header else 0.0
        fill_h = size * LEADING * 2.4
        continued = self.lines((("rs", "(row continued on the next page)"),), inner[0], size)
        resumed = self.lines((("rs", "(row continued from the previous page)"),), inner[0], size)
        mark_h = sum(lh for lh, _ in continued) + sum(lh for lh, _ in resumed)

        def start_page() -> None:
            self._new_page()
            if t.header:
                self._row(xs, header, header_h, fill=True)

        if self._room() < header_h + 3 * size * LEADING + 2 * PAD:
            self._new_page()
        if t.header:
            self._row(xs, header, header_h, fill=True)
        box = self.box
        floor = fill_h if t.fills else 0.0
        for row in t.rows:
            edges = xs
            if None in row:  # a cell spans the columns of the None cells after it
                edges = [*(xs[i] for i, c in enumerate(row) if c is not None), xs[-1]]
                boxes = [box(c, edges[i + 1] - edges[i] - 2 * PAD, size)
                         for i, c in enumerate(c for c in row if c is not None)]
            else:
                boxes = [box(c, inner[i], size) for i, c in enumerate(row)]  # type: ignore[arg-type]
            h = max(floor, *[b[0] for b in boxes]) + 2 * PAD
            if h > self.y - self.bottom:
                if h <= self.top - self.bottom - header_h:
                    start_page()
                else:
                    self._tall_row([b[1] for b in boxes], start_page, edges, continued, resumed, mark_h)
                    continue
            self._row(edges, [b[1] for b in boxes], h, memos=[b[2] for b in boxes])
        self.y -= size * 0.8

    def _tall_row(self, cells: list[list[Line]], start_page: Any, xs: Sequence[float], continued: list[Line],
                  resumed: list[Line], mark_h: float) -> None:
        """A row taller than a page, in parts: each part ends with a "continued" mark in the first column and the
        next part starts with one."""
        if self._room() < (self.top - self.bottom) / 3:
            start_page()
        # heights summed once (a row of thousands of lines over many pages is not summed again for each page)
        tops = [[0.0, *accumulate([lh for lh, _ in c])] for c in cells]
        at = [0] * len(cells)
        lead: list[Line] = []
        lead_h = 0.0
        while True:
            need = max(t[-1] - t[a] for t, a in zip(tops, at, strict=True))
            need = max(need, tops[0][-1] - tops[0][at[0]] + lead_h) + 2 * PAD
            if need <= self._room():
                rests = [c[a:] for c, a in zip(cells, at, strict=True)]
                self._row(xs, [[*lead, *rests[0]], *rests[1:]], need)
                return
            room = self._room() - 2 * PAD - mark_h
            part = []
            for i, (c, t) in enumerate(zip(cells, tops, strict=True)):
                a = at[i]
                end = max(a, bisect_right(t, t[a] + room) - 1)
                part.append(c[a:end])
                at[i] = end
            part[0] = [*lead, *part[0], *continued]
            self._row(xs, part, self._room())
            lead, lead_h = resumed, sum(lh for lh, _ in resumed)
            start_page()

    def _row(self, xs: Sequence[float], cells: Sequence[Sequence[Line]], h: float, fill: bool = False,
             memos: Sequence[list[str]] | None = None) -> None:
        top, bottom = self.y, self.y - h
        cols = self.columns.get(tuple(xs))
        if cols is None:
            cols = self.columns[tuple(xs)] = [(f"{xs[i]:.2f} ", f" {xs[i + 1] - xs[i]:.2f} ")
                                              for i in range(len(xs) - 1)]
        b, hh = f"{bottom:.2f}", f"{h:.2f} re"
        rects = " ".join(x + b + w + hh for x, w in cols)
        if fill:
            self.ops.append(f"q {_colour(self.style.header_fill, fill=True)} {rects} B Q")
        else:
            self.ops.append(rects + " S")
        for i, c in enumerate(cells):
            if c:
                self._draw_lines(c, xs[i] + PAD, top - PAD, memos[i] if memos else None)
        self.y = bottom

    # --- the file -------------------------------------------------------------------------------------------
    def finish(self) -> bytes:
        return _write_pdf(self)


def _colour(rgb: Rgb, *, fill: bool) -> str:
    return " ".join(_fmt(c) for c in rgb) + (" rg" if fill else " RG")


def _decorate(layout: Layout, index: int, total: int) -> str:
    """Header and footer of one page: the branding's header text and the title; document id, version, page."""
    st, meta = layout.style, layout.meta
    size = 7.0
    ops = []
    items = [(st.header, layout.left, layout.page_h - 26.0, "l"),
             (meta.title, layout.right, layout.page_h - 26.0, "r"),
             (f"{meta.document_id}, version {meta.version}", layout.left, 26.0, "l"),
             (f"Page {index} of {total}", layout.right, 26.0, "r")]
    font = layout.fonts["r"]
    room = layout.text_w / 2 - 6
    for text, x, y, align in items:
        text = font.clean(text)
        w = font.measure(text) / 1000
        fsize = size if w * size <= room else max(3.0, room / w) if w else size
        left = x if align == "l" else x - w * fsize
        ops.append(f"BT /Fr {_fmt(fsize)} Tf 1 0 0 1 {_fmt(left)} {_fmt(y)} Tm ({font.encode(text)})Tj ET")
    ops.append(f"{_fmt(layout.left)} {_fmt(layout.page_h - 31.0)} m {_fmt(layout.right)} "
               f"{_fmt(layout.page_h - 31.0)} l S {_fmt(layout.left)} 36 m {_fmt(layout.right)} 36 l S")
    return "\n".join(ops)


def _font_objects(font: Font, first: int) -> list[bytes]:
    """Type0 font, CIDFontType2, descriptor, font file and ToUnicode: objects first .. first+4."""
    import io

    from fontTools import subset
    from fontTools.ttLib import TTFont

    by_gid: dict[int, str] = {}
    for ch in sorted(font.used):
        by_gid.setdefault(font.gid[ch], ch)
    gids = sorted(by_gid)
    tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(repr(gids).encode()).digest()[:6])
    opts = subset.Options()
    opts.retain_gids = True
    opts.notdef_outline = True
    opts.hinting = False
    opts.layout_features = []
    opts.name_IDs = []
    opts.glyph_names = False
    opts.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM", "BASE", "MATH", "JSTF", "name", "OS/2", "post",
                         "gasp", "cmap"]
    tt = TTFont(str(font.path), lazy=True, recalcTimestamp=False)
    subsetter = subset.Subsetter(opts)
    subsetter.populate(gids=[0, *gids])
    subsetter.subset(tt)
    buf = io.BytesIO()
    tt.save(buf)
    data = zlib.compress(buf.getvalue(), 6)
    widths = []
    run: list[int] = []
    for g in gids:
        if run and g != run[-1] + 1:
            widths.append(f"{run[0]} [{' '.join(_fmt(round(font.glyph_width[x])) for x in run)}]")
            run = []
        run.append(g)
    if run:
        widths.append(f"{run[0]} [{' '.join(_fmt(round(font.glyph_width[x])) for x in run)}]")
    name = f"{tag}+{font.name}"
    flags = 32 | (1 if font.fixed else 0)
    bbox = " ".join(str(v) for v in font.bbox)
    cmap_lines = []
    for i in range(0, len(gids), 100):
        chunk = gids[i:i + 100]
        cmap_lines.append(f"{len(chunk)} beginbfchar")
        cmap_lines += [f"<{g:04X}> <{by_gid[g].encode('utf-16-be', 'surrogatepass').hex().upper()}>" for g in chunk]
        cmap_lines.append("endbfchar")
    cmap = ("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
            "1 begincodespacerange <0000> <FFFF> endcodespacerange\n" + "\n".join(cmap_lines) +
            "\nendcmap CMapName currentdict /CMap defineresource pop end end").encode("ascii")
    cmap_z = zlib.compress(cmap, 6)
    return [
        (f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
         f"/DescendantFonts [{first + 1} 0 R] /ToUnicode {first + 4} 0 R >>").encode(),
        (f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
         f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
         f"/FontDescriptor {first + 2} 0 R /CIDToGIDMap /Identity /DW 1000 /W [{' '.join(widths)}] >>").encode(),
        (f"<< /Type /FontDescriptor /FontName /{name} /Flags {flags} /FontBBox [{bbox}] /ItalicAngle 0 "
         f"/Ascent {font.ascent} /Descent {font.descent} /CapHeight {font.ascent} /StemV 80 "
         f"/FontFile2 {first + 3} 0 R >>").encode(),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(cmap_z) + cmap_z + b"\nendstream",
    ]


def _outline_objects(layout: Layout, first: int, page_obj: Sequence[int]) -> list[bytes]:
    """The outline: level-1 headings at the top, level-2 ones under the level-1 heading before them."""
    items = layout.outline
    if not items:
        return [b"<< /Type /Outlines /Count 0 >>"]
    parents: list[int] = []  # index into items of each item's parent (-1 = the root)
    last_top = -1
    for i, (level, _, _, _) in enumerate(items):
        if level <= 1 or last_top < 0:
            parents.append(-1)
            last_top = i
        else:
            parents.append(last_top)
    children: dict[int, list[int]] = {}
    for i, p in enumerate(parents):
        children.setdefault(p, []).append(i)
    position = {i: k for sib in children.values() for k, i in enumerate(sib)}
    num = [first + 1 + i for i in range(len(items))]  # first is the root

    def ref(i: int) -> int:
        return first if i < 0 else num[i]

    objs = [f"<< /Type /Outlines /First {ref(children[-1][0])} 0 R /Last {ref(children[-1][-1])} 0 R "
            f"/Count {len(children[-1])} >>".encode()]
    for i, (_, title, page, y) in enumerate(items):
        sib = children[parents[i]]
        k = position[i]
        parts = [f"/Title {_pdf_text(title[:300])} /Parent {ref(parents[i])} 0 R",
                 f"/Dest [{page_obj[page]} 0 R /XYZ 0 {_fmt(y + 14)} null]"]
        if k > 0:
            parts.append(f"/Prev {ref(sib[k - 1])} 0 R")
        if k + 1 < len(sib):
            parts.append(f"/Next {ref(sib[k + 1])} 0 R")
        kids = children.get(i)
        if kids:
            parts.append(f"/First {ref(kids[0])} 0 R /Last {ref(kids[-1])} 0 R /Count -{len(kids)}")
        objs.append(("<< " + " ".join(parts) + " >>").encode())
    return objs


def _pdf_date(iso: str) -> str:
    digits = re.sub(r"\D", "", iso)[:14].ljust(14, "0")
    return f"D:{digits}Z"


def _write_pdf(layout: Layout) -> bytes:
    pages = layout.pages
    total = len(pages)
    contents = []
    for i, ops in enumerate(pages, 1):
        ops.append(_decorate(layout, i, total))
        contents.append(zlib.compress("\n".join(ops).encode("latin-1"), 3))
    meta = layout.meta
    # 1 catalog, 2 pages, 3 info, fonts 4.., outline, then page and content pairs
    font_first = 4
    font_nums = {k: font_first + 5 * n for n, k in enumerate(FONT_KEYS)}
    outline_first = font_first + 5 * len(FONT_KEYS)
    page_first = outline_first + 1 + len(layout.outline)
    page_obj = [page_first + 2 * i for i in range(total)]
    outline = _outline_objects(layout, outline_first, page_obj)
    font_res = " ".join(f"/F{k} {font_nums[k]} 0 R" for k in FONT_KEYS)
    objs: list[bytes] = [
        f"<< /Type /Catalog /Pages 2 0 R /Outlines {outline_first} 0 R /PageMode /UseOutlines >>".encode(),
        f"<< /Type /Pages /Count {total} /Kids [{' '.join(f'{n} 0 R' for n in page_obj)}] >>".encode(),
        (f"<< /Title {_pdf_text(f'{meta.document_id} {meta.title}')} /Producer {_pdf_text(meta.producer)} "
         f"/Creator {_pdf_text(meta.producer)} /Author {_pdf_text(meta.author)} "
         f"/CreationDate ({_pdf_date(meta.created)}) /ModDate ({_pdf_date(meta.created)}) >>").encode(),
    ]
    for k in FONT_KEYS:
        objs += _font_objects(layout.fonts[k], font_nums[k])
    objs += outline
    media = f"[0 0 {_fmt(layout.page_w)} {_fmt(layout.page_h)}]"
    for i, data in enumerate(contents):
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox {media} /Resources << /Font << {font_res} >> >> "
                    f"/Contents {page_obj[i] + 1} 0 R >>".encode())
        objs.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream")
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n
        out += body
        out += b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    doc_id = hashlib.sha256(bytes(out)).hexdigest()[:32].upper()
    out += (f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R /Info 3 0 R /ID [<{doc_id}> <{doc_id}>] >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


@dataclass
class Document:
    """Blocks to lay out, with the document's style and metadata."""

    style: Style
    meta: Meta
    blocks: list[Block] = field(default_factory=list)

    def pdf(self, paper: str = "A4") -> bytes:
        with collector_paused():
            layout = Layout(self.style, paper, self.meta)
            layout.add(self.blocks)
            data = layout.finish()
            # freed while the collector is still paused: alive when it resumes, the layout's millions of objects
            # would all be walked by its first collection
            del layout
        return data


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused (and restored as it was): a document's layout makes millions of small
    tuples and strings and no reference cycle, and each collection would walk all those kept (a third of the time
    of a 100-host record). Memory is still freed by reference counts as usual."""
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
