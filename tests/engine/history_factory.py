"""Run directories for the history tests and benchmark: a real record (scanner.store) and a real seal, with the
findings, start times and waivers a test asks for; and the history spec of a backend (SQLite, or the PostgreSQL
lab server with a fresh database per test)."""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from scanner.model import Waiver

T0 = datetime(2026, 1, 1, 6, 0, tzinfo=timezone.utc)
_databases = itertools.count()

#: (target, check, resource, status) or with a Waiver as fifth item
Row = tuple


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def write_run(run_dir: Path, rows: Iterable[Row], *, started: datetime, run_id: str | None = None,
              seal: bool = True, targets: Sequence[str] = ()) -> Path:
    """A finished run in ``run_dir`` with one result per row, grouped by target in row order; sealed unless told."""
    from scanner.runner import TargetOutcome
    from scanner.seal import seal_run
    from scanner.store import RecordWriter
    from tests.engine.seal_factory import evidence_for
    from tests.factories import make_result, make_run_info, make_target

    info = replace(make_run_info(), id=run_id or f"run-{run_dir.name}", started=started)
    by_target: dict[str, list] = {t: [] for t in targets}
    for row in rows:
        target, check, resource, status = row[:4]
        waiver = row[4] if len(row) > 4 else None
        by_target.setdefault(target, []).append(
            make_result(check=check, target=target, resource=resource, status=status, waiver=waiver, at=started,
                        evidence=(f"{target}:{check}#0",)))
    writer = RecordWriter(run_dir / "record.jsonl", info)
    for target, results in by_target.items():
        writer.add(TargetOutcome(make_target(target), tuple(results), evidence_for(results)))
    writer.close()
    if seal:
        seal_run(run_dir)
    return run_dir


def waiver(check: str, target: str, expires: str) -> Waiver:
    return Waiver(check=check, target=target, reason="vendor fix due", approved_by="QA lead", expires=expires)


def history_spec(request: pytest.FixtureRequest, backend: str, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """The --history spec of ``backend``: None (the SQLite default) or a fresh database on the PostgreSQL lab."""
    if backend == "sqlite":
        return None
    from tests.lab import pglab

    lab = request.getfixturevalue("pg_lab")
    name = f"h{next(_databases)}_{abs(hash(request.node.nodeid)) % 10**8}"
    lab.create_database(name)
    monkeypatch.setenv(pglab.PASSWORD_ENV, pglab.PASSWORD)
    return str(lab.url(name))
