"""One moto server per session holding a compliant and a non-compliant account, scanned once by the CLI."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lab import motolab


@pytest.fixture(scope="session")
def aws_scan(moto_lab: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``gxpscan scan`` over both accounts and regions; the parsed JSON report plus everything written."""
    import contextlib
    import io

    from scanner.cli import main

    work = tmp_path_factory.mktemp("aws-scan")
    inventory = work / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"version": 1, "targets": [{
        "name": "moto-org", "type": "aws", "policy": {"records_tag": motolab.RECORDS_TAG},
        **motolab.lab_target_options(moto_lab, max_workers=8)}]}))
    out, err = io.StringIO(), io.StringIO()
    with motolab.lab_credentials(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["scan", "--inventory", str(inventory), "--check", "aws.*", "--format", "json",
                     "--format", "sarif", "--output", str(work / "out")])
    reports = [json.loads(p.read_text()) for p in (work / "out").glob("*.json")]
    report = next(r for r in reports if "findings" in r)
    return {"code": code, "report": report, "dir": work / "out", "stdout": out.getvalue(),
            "stderr": err.getvalue(), "findings": report["findings"]}


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]
