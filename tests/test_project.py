"""The project's own promises: CI runs the README's test command; the README documents what the CLI does."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", quick)


def test_quick_start_has_the_scan_and_the_test_command():
    assert readme_commands() == ["pip install . && gxpscan scan", "bash scripts/test.sh"]


def test_ci_runs_exactly_the_readme_test_command():
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()
          if ln.strip() and not ln.startswith("#")]
    assert readme_commands()[1] in ci


def test_readme_exit_codes_match_the_cli():
    from scanner import cli

    text = (ROOT / "README.md").read_text()
    assert {cli.EXIT_WRITE, cli.EXIT_NOTHING} <= set(cli.EXIT_CODES)
    for code in cli.EXIT_CODES:
        assert re.search(rf"^\| {code} \|", text, re.M), code
