"""The dashboard (issue 13): its sections from a run, its history and the previous run; hostile target text stays
text; and in headless Chromium the page renders with no console message and no request but itself."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reports.dashboard import TrendPoint, html_page
from scanner.model import Area, ClauseUse, MappingUse, Waiver
from tests.conftest import lab_unavailable
from tests.factories import make_result, make_run
from tests.reports import chromium

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = '<script>alert(1)</script><img src="http://203.0.113.9/x.png">"\'&\x1b[31m'
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "main", "section",
                "div", "b", "span", "i", "table", "thead", "tbody", "tr", "th", "td", "svg", "rect",
                "polyline", "circle", "line", "text", "details", "summary"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.urls: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "action", "srcset", "poster")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    p = _Tags()
    p.feed(page)
    return p


def _runs():
    w = Waiver(check="linux.ssh.root_login", target="web01", reason="vendor fix pending", approved_by="qa-lead",
               expires="2026-12-20")
    old = make_run([make_result(target="web01", resource="a", status="pass"),
                    make_result(target="web01", resource="b", status="fail"),
                    make_result(target="db01", resource="c", status="pass")])
    new = make_run([make_result(target="web01", resource="a", status="fail"),
                    make_result(target="web01", resource="b", status="pass"),
                    make_result(target="db01", resource="c", status="error", area=Area.BACKUP),
                    make_result(target="db01", resource="d", status="waived", waiver=w),
                    make_result(check="linux.pam.faillock", target="db01", resource="e", status="fail")])
    clauses = (ClauseUse("part11:11.10(d)", "Limiting system access", "full", "in_force", "",
                         (MappingUse(("linux.ssh.root_login",), "direct"),)),
               ClauseUse("iso27001-2022:8.5", "Secure authentication", "full", "in_force", "",
                         (MappingUse(("linux.pam.faillock",), "direct"),)))
    return old, replace(new, info=replace(new.info, clauses=clauses))


def test_sections_show_targets_areas_top_failing_changes_trend_and_waivers():
    old, new = _runs()
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    trend = [TrendPoint(f"run-{i}", start + timedelta(days=i), {"pass": 5 - i, "fail": i, "error": 0})
             for i in range(4)]
    page = html_page(new, trend=trend, previous=old, today=date(2026, 12, 1))
    text = " ".join(_parse(page).text)
    assert "Trend over the last 5 runs" in text and page.count("<polyline") == 3 and page.count("<circle") == 15
    assert "Compared with run 20261125T000000Z-abcdef" in text
    assert "New failures (1)" in text and "Fixed (1)" in text and "New errors (1)" in text
    for expected in ("web01", "db01", "access_control", "backup", "2026-12-20", "19 days", "qa-lead",
                     "vendor fix pending", "part11: 1 clauses", "iso27001-2022: 1 clauses", "11.10(d)",
                     "Limiting system access", "Secure authentication"):
        assert expected in text, expected
    top = page.index("Top failing checks")
    assert page.index("linux.ssh.root_login", top) < page.index("linux.pam.faillock", top)


def test_without_history_or_previous_run_the_page_says_so():
    _, new = _runs()
    text = " ".join(_parse(html_page(new)).text)
    assert "Trend over the last 1 runs" in text and "No previous run to compare with." in text


def test_hostile_target_text_is_escaped_everywhere():
    w = Waiver(check="linux.ssh.root_login", target=HOSTILE, reason=HOSTILE, approved_by=HOSTILE, expires=HOSTILE)
    old = make_run([make_result(target=HOSTILE, resource=HOSTILE, status="pass", message=HOSTILE)])
    new = make_run([make_result(target=HOSTILE, resource=HOSTILE, status="fail", message=HOSTILE),
                    make_result(target=HOSTILE, resource="w", status="waived", waiver=w)])
    page = html_page(new, previous=old, trend=[TrendPoint(HOSTILE, datetime(2026, 1, 1, tzinfo=timezone.utc), {})])
    parsed = _parse(page)
    assert parsed.tags <= ALLOWED_TAGS and parsed.urls == [] and "\x1b" not in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=&quot;http" in page
    assert HOSTILE.replace("\x1b", "\\x1b") in "".join(parsed.text)  # shown as text, verbatim


def _scan(tmp_path: Path, tf: str, name: str) -> None:
    (tmp_path / "b.tf").write_text(tf)
    proc = subprocess.run([sys.executable, "-m", "scanner", "scan", "--iac", "b.tf", "-q", "-o", f"results/{name}",
                           "--format", "dashboard"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr


def _chromium() -> None:
    if not chromium.available():
        lab_unavailable("chromium is not installed (scripts/install-deps.sh installs it)")


def _clean_load(page: Path) -> chromium.PageLoad:
    """The page loaded in Chromium: it asked for nothing but itself, logged nothing, and was drawn."""
    load = chromium.load(page)
    assert load.requests == (page.resolve().as_uri(),)
    assert load.console == ()
    assert load.screenshot.startswith(b"\x89PNG\r\n\x1a\n") and load.width >= 1000 and load.height > 600
    if os.environ.get("GXPSCAN_SCREENSHOTS"):  # to look at them: GXPSCAN_SCREENSHOTS=/some/dir
        shot = Path(os.environ["GXPSCAN_SCREENSHOTS"], f"{page.parent.name}-{page.stem}.png")
        shot.write_bytes(load.screenshot)
    return load


@pytest.mark.lab
def test_the_dashboard_renders_in_headless_chromium_without_requests_or_console_messages(tmp_path):
    from scanner import cli

    _chromium()
    bucket = 'resource "aws_s3_bucket" "data" {\n  bucket = "data"\n}\n'
    versioned = bucket + ('resource "aws_s3_bucket_versioning" "v" {\n  bucket = aws_s3_bucket.data.id\n'
                          '  versioning_configuration {\n    status = "Enabled"\n  }\n}\n')
    _scan(tmp_path, bucket, "run1")
    _scan(tmp_path, versioned, "run2")
    assert cli.main(["dashboard", str(tmp_path / "results"), "--runs", "5"]) == cli.EXIT_OK
    for page in (tmp_path / "results/run2/dashboard.html", tmp_path / "results/dashboard.html"):
        load = _clean_load(page)
        for expected in ("gxpscan dashboard", "Trend over the last 2 runs", "Compliance per framework and clause",
                         "Per target", "Per area", "Top failing checks", "Fixed (1)", "aws.s3.versioning",
                         "Waivers"):
            assert expected in load.text, expected


@pytest.mark.lab
def test_hostile_text_in_chromium_is_shown_and_fetches_nothing(tmp_path):
    _chromium()
    new = make_run([make_result(target=HOSTILE, resource=HOSTILE, status="fail", message=HOSTILE)])
    page = tmp_path / "hostile" / "dashboard.html"
    page.parent.mkdir()
    page.write_text(html_page(new, previous=make_run([])), encoding="utf-8")
    load = _clean_load(page)
    assert '<script>alert(1)</script><img src="http://203.0.113.9/x.png">' in load.text


def test_the_trend_comes_from_the_history_and_keeps_runs_retention_deleted(tmp_path):
    (tmp_path / "b.tf").write_text('resource "aws_s3_bucket" "data" {\n  bucket = "data"\n}\n')
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-m", "scanner", "scan", "--iac", "b.tf", "-q", "--keep", "1",
                               "--format", "dashboard"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc.stderr
    results = tmp_path / "gxpscan-results"
    (latest,) = [p for p in results.iterdir() if p.is_dir() and not p.is_symlink()]
    text = " ".join(_parse((latest / "dashboard.html").read_text()).text)
    assert "Trend over the last 3 runs" in text  # two of them deleted by --keep 1, still in history.sqlite
