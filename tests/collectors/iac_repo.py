"""A small code repository written into a temporary directory, scanned with the aws.* checks as a ``type: iac``
target: the helpers the iac tests share."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from scanner.model import Platform, Result, Target
from scanner.registry import Registry
from scanner.runner import TargetOutcome, scan_target


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def scan(root: Path, paths: list[Path] | None = None, checks: tuple[str, ...] = ("aws.*",),
         name: str = "code", **options: Any) -> TargetOutcome:
    target = Target(name, Platform.IAC, {"path": [str(p) for p in (paths or [root])], "root": str(root),
                                         **options}, {})
    return scan_target(target, Registry.load().select(list(checks)), {})


def verdicts(outcome: TargetOutcome, check: str) -> dict[str, str]:
    """resource -> status of one check."""
    return {r.resource: r.status.value for r in outcome.results if r.check == check}


def result(outcome: TargetOutcome, check: str, resource: str) -> Result:
    return next(r for r in outcome.results if r.check == check and r.resource == resource)
