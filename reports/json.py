"""JSON report: ``{"run": {...}, "findings": [...], "evidence": {...}, "coverage": [...]}``, valid against
result.schema.json. ``coverage`` is the clause coverage per clause and target (see scanner.coverage): the strength
and result of each check, and the procedural evidence still needed.

Values are kept exactly (the run's warnings included, in ``run.warnings``); the text is written with
``reports.text.json_text``, so controls, bidi overrides and lone surrogates from a target are ``\\uXXXX`` escapes:
the file is valid UTF-8, parses back to the same values, and shows nothing raw when printed to a terminal.
"""
from __future__ import annotations

from typing import Any, TextIO

from reports.text import json_text
from scanner.coverage import coverage_dicts
from scanner.model import Run, run_to_dict


def render(run: Run, out: TextIO, **_: Any) -> None:
    out.write(json_text({**run_to_dict(run), "coverage": coverage_dicts(run)}, indent=2, sort_keys=True))
    out.write("\n")
