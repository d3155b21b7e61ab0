"""JSON report: ``{"run": {...}, "findings": [...], "evidence": {...}}``, valid against result.schema.json."""
from __future__ import annotations

import json
from typing import Any, TextIO

from scanner.model import Run, run_to_dict


def render(run: Run, out: TextIO, **_: Any) -> None:
    json.dump(run_to_dict(run), out, indent=2, sort_keys=True, ensure_ascii=False)
    out.write("\n")
