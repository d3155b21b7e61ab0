"""Run directories for the integrity tests: a consistent record (every finding's evidence present, every evidence
hash true to its raw text), reports, and a seal."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from scanner.model import Status, utcnow


def evidence_for(results, raw: str = "permitrootlogin no\n") -> dict:
    """Evidence entries for every reference of ``results``, each hashing true."""
    return {ref: {"target": r.target, "fact": "linux.sshd_effective", "index": 0, "ok": True, "error": None,
                  "source": "sshd -T", "collected_at": utcnow().isoformat(), "raw": raw,
                  "sha256": hashlib.sha256(raw.encode()).hexdigest(), "truncated": False, "exit_code": 0}
            for r in results for ref in r.evidence}


def write_run(run_dir: Path, statuses=("pass", "fail"), *, previous: str = "", started=None, run_id=None,
              system=None, formats=("json", "junit", "oq"), raw: str = "permitrootlogin no\n") -> Path:
    """A finished run in ``run_dir`` (record and reports), not sealed yet."""
    from scanner.cli import _write_reports
    from scanner.runner import TargetOutcome
    from scanner.store import RecordWriter
    from tests.factories import make_result, make_run_info, make_target

    info = make_run_info()
    info = replace(info, previous_manifest_sha256=previous, started=started or info.started,
                   id=run_id or f"run-{run_dir.name}")
    writer = RecordWriter(run_dir / "record.jsonl", info)
    for i, status in enumerate(statuses):
        name = f"host{i + 1}"
        results = (make_result(status=status, target=name),)
        writer.add(TargetOutcome(make_target(name), results, evidence_for(results, raw),
                                 system=system or {"hostname": name, "os": "Debian GNU/Linux", "os_version": "12",
                                                   "kernel": "6.1.0-test"}))
    run = writer.close()
    assert {r.status for r in run.results} <= set(Status)
    if formats:
        _write_reports(run, list(formats), run_dir, quiet=True)
    return run_dir


def sealed_run(run_dir: Path, key=None, **kwargs) -> Path:
    from scanner.seal import seal_run

    write_run(run_dir, **kwargs)
    seal_run(run_dir, key=key)
    return run_dir
