"""The files a code target is judged from, as an OQ protocol names them before execution: path (relative to the
repository root), line range, the parser that reads it, and the SHA-256 of its bytes, so the approved protocol
pins the exact code under test. Read-only, through the target's connector (confined to its root, bounded)."""
from __future__ import annotations

import hashlib
from pathlib import Path

from scanner.model import Target
from scanner.value import frozen

HCL = "Terraform HCL"
TFVARS = "Terraform variable values (HCL)"
NOT_READ = "not read"


@frozen
class SourceFile:
    path: str  # relative to the repository root, with forward slashes
    lines: int  # the file is read whole: lines 1 to ``lines``
    parser: str  # what reads it: Terraform HCL, Terraform plan JSON (format ...), CloudFormation template (...)
    sha256: str  # of the file's bytes ("" when it could not be read)

    def describe(self) -> str:
        if not self.sha256:
            return f"{self.path} ({self.parser})"
        lines = f"lines 1-{self.lines}" if self.lines else "empty"
        return f"{self.path} {lines} ({self.parser}; SHA-256 {self.sha256})"


def _parser(path: Path, data: bytes) -> str | None:
    """What reads a file of this name and content; None for a file the collector ignores."""
    from scanner.collectors.iac import _cfn, _plan

    if path.name.endswith(".tf.json"):
        return f"{NOT_READ}: Terraform JSON syntax"
    if path.suffix == ".tf":
        return HCL
    if path.suffix == ".tfvars":
        return TFVARS
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"{NOT_READ}: not UTF-8 (byte {exc.start})"
    if path.suffix == ".json":
        doc = _plan.json_document(text)
        if _plan.is_plan(doc):
            return f"Terraform plan JSON (format_version {str(doc.get('format_version'))[:20]})"
        if doc is None and not ("AWSTemplateFormatVersion" in text or "AWS::" in text):
            return None
        if doc is not None and not _cfn.is_template(doc):
            return None
    try:
        template = _cfn.load(text)
    except _cfn.CfnError as exc:
        return f"CloudFormation template that does not parse: {exc}" if "AWS::" in text else None
    if not _cfn.is_template(template.data):
        return None
    return f"CloudFormation template ({'JSON' if path.suffix == '.json' else 'YAML'}, strict loader)"


def code_sources(target: Target) -> tuple[SourceFile, ...]:
    """Every file the collector reads for ``target`` (its paths and tfvars), in path order."""
    from scanner.connectors.iac import FileRefused, IacConnector

    conn = IacConnector(target)
    found: list[Path] = []
    for base in conn.code.paths:
        found += [f for f in conn.files(base) if f not in found]
    found += [t for t in conn.code.tfvars if t not in found]
    out: dict[str, SourceFile] = {}
    for path in found:
        rel = conn.rel(path)
        try:
            data = conn.read(path)
        except FileRefused as exc:
            out[rel] = SourceFile(rel, 0, f"{NOT_READ}: {exc}", "")
            continue
        parser = _parser(path, data)
        if parser is not None:
            lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
            out[rel] = SourceFile(rel, lines, parser, hashlib.sha256(data).hexdigest())
    out.update((p, SourceFile(p, 0, f"{NOT_READ}: {why}", "")) for p, why in conn.refused)
    return tuple(out[k] for k in sorted(out))
