"""The self-test's outputs: a console summary, JSON (``scanner/schemas/selftest.schema.json``) and an HTML (and PDF)
record laid out like the OQ execution record (its base template, print stylesheet and escaping), sealed like a run."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scanner.selftest import FAIL, NOT_VERIFIED, SelftestResult

JSON_NAME, HTML_NAME, PDF_NAME = "selftest.json", "selftest.html", "selftest.pdf"
MANIFEST_PREDICATE = "https://gxpscan.dev/attestation/selftest-manifest/v1"


def console(result: SelftestResult, verbose: bool = False) -> str:
    from reports.text import for_terminal

    counts = result.counts()
    lines = [f"gxpscan {result.tool_version} selftest on {result.machine['hostname']} "
             f"(Python {result.machine['python']}), {result.install} install",
             f"checks fingerprint {result.checks_fingerprint}"]
    for phase in ("IQ", "OQ"):
        steps = [s for s in result.steps if s.phase == phase]
        bad = [s for s in steps if s.status != "pass"]
        lines.append(f"{phase}: {len(steps) - len(bad)} of {len(steps)} passed")
        for s in steps if verbose else bad:
            lines.append(f"  {s.status.upper():13} {s.id}: expected {s.expected}; actual {s.actual}")
    for p in result.plugins:
        lines.append(f"plugin {p.name} ({p.distribution} {p.version}, {len(p.checks)} checks): not covered by this "
                     "release's qualification")
    lines.append(f"selftest: {result.verdict} (pass {counts['pass']}, fail {counts[FAIL]}, not verified "
                 f"{counts[NOT_VERIFIED]}) in {result.seconds:.1f} s")
    return "\n".join(for_terminal(line) for line in lines) + "\n"


def to_json(result: SelftestResult) -> str:
    from reports.text import json_text

    return json_text(result.to_dict()) + "\n"


TITLE = "gxpscan self-test: installation and operational qualification record"


def _document(result: SelftestResult) -> dict[str, str]:
    return {"title": TITLE, "document_id": f"SELFTEST-{result.started:%Y%m%dT%H%M%SZ}",
            "document_version": result.tool_version}


def to_html(result: SelftestResult, template_dir: str | Path | None = None, paper: str = "A4") -> str:
    from reports.oq import environment

    text: str = environment(template_dir).get_template("selftest-record.html.j2").render(
        r=result.to_dict(), paper=paper, **_document(result))
    return text


def to_pdf(result: SelftestResult, template_dir: str | Path | None = None, paper: str = "A4") -> bytes:
    from reports.pdf import selftest_pdf

    return selftest_pdf(result.to_dict(), template_dir=template_dir, paper=paper, **_document(result))


def write(result: SelftestResult, out_dir: str | Path, formats: list[str], key: Any = None,
          tsa_url: str | None = None, tsa_timeout: float = 30.0) -> list[Path]:
    """Write the records into a fresh ``out_dir`` and seal it: a manifest of every file's SHA-256 in the same
    canonical in-toto form as a run's, signed with ``key`` (Ed25519) when given, time-stamped by the RFC 3161 TSA
    at ``tsa_url`` when given (``gxpscan verify`` checks all of it: scanner/selftest/verify.py)."""
    from scanner.safefs import OutputDir, OutputError, write_all
    from scanner.seal import (
        STATEMENT_TYPE,
        canonical,
        envelope,
        fingerprint,
        manifest_name,
        public_pem,
        scan_dir,
        time_stamp,
    )

    blobs: dict[str, bytes] = {JSON_NAME: to_json(result).encode()} if "json" in formats else {}
    if "oq" in formats:
        blobs[HTML_NAME] = to_html(result).encode()
    if "pdf" in formats:
        blobs[PDF_NAME] = to_pdf(result)
    written = []
    with OutputDir.open(out_dir) as directory:
        if scan_dir(directory.path):
            raise OutputError(f"{directory.path} is not empty: selftest seals a new directory of its own")

        def put(name: str, blob: bytes) -> None:
            fd = directory.create(name)
            try:
                write_all(fd, blob)
            finally:
                os.close(fd)
            written.append(directory.path / name)

        for name, blob in blobs.items():
            put(name, blob)
        predicate: dict[str, Any] = {"tool_version": result.tool_version, "verdict": result.verdict,
                                     "checks_fingerprint": result.checks_fingerprint, "started": result.started
                                     .isoformat(), "release_manifest_sha256": result.manifest_sha256,
                                     "time_stamp_authority": tsa_url or ""}
        if key is not None:
            predicate["signer"] = {"key_id": fingerprint(key.public_key()), "public_key": public_pem(key.public_key())}
        entries = scan_dir(directory.path)
        statement = {"_type": STATEMENT_TYPE, "predicateType": MANIFEST_PREDICATE, "predicate": predicate,
                     "subject": [{"name": e.name, "digest": {"sha256": e.sha256}} for e in entries.values()]}
        data = canonical(statement)
        seals = {manifest_name(1): data}
        if key is not None:
            seals["manifest-001.dsse.json"] = canonical(envelope(data, key))
        if tsa_url:
            seals["manifest-001.tsr"] = time_stamp(tsa_url, data, tsa_timeout)
        for name, blob in seals.items():
            put(name, blob)
    return written
