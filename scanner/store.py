"""The run record: JSON Lines written as the scan goes, so an interrupted scan keeps what it finished.

Line 1 is the run header, then one line per finished target (its results and evidence), then the run end.
Each line is flushed and fsynced before the next target is accepted.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from scanner.model import Run, RunInfo, info_from_dict, info_to_dict, result_from_dict, result_to_dict, utcnow
from scanner.runner import TargetOutcome

RECORD_NAME = "record.jsonl"


class RecordWriter:
    def __init__(self, path: Path, info: RunInfo):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.info = info
        self._lock = threading.Lock()
        self._results: list = []
        self._evidence: dict[str, Any] = {}
        self._fh: IO[str] = open(self.path, "x", encoding="utf-8")
        os.chmod(self.path, 0o640)
        self._write({"type": "run_start", "run": info_to_dict(info)})

    def _write(self, obj: dict[str, Any]) -> None:
        self._fh.write(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def add(self, outcome: TargetOutcome) -> None:
        with self._lock:
            self._write({"type": "target", "target": outcome.target.name,
                         "results": [result_to_dict(r) for r in outcome.results],
                         "evidence": dict(outcome.evidence)})
            self._results.extend(outcome.results)
            self._evidence.update(outcome.evidence)

    def close(self, interrupted: bool = False) -> Run:
        with self._lock:
            self.info = replace(self.info, ended=utcnow(), interrupted=interrupted)
            self._write({"type": "run_end", "ended": self.info.ended.isoformat(), "interrupted": interrupted})
            self._fh.close()
            return Run(self.info, tuple(self._results), dict(self._evidence))


def load_record(path: str | Path) -> Run:
    """Read a run record, complete or not. A record without its end line is marked interrupted."""
    path = Path(path)
    if path.is_dir():
        path = path / RECORD_NAME
    info, results, evidence, ended = None, [], {}, None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                break  # a line cut by a kill: everything before it is intact
            kind = obj.get("type") if isinstance(obj, dict) else None
            if info is None and kind != "run_start":
                break
            if kind == "run_start":
                info = info_from_dict(obj["run"])
            elif kind == "target":
                results.extend(result_from_dict(r) for r in obj["results"])
                evidence.update(obj["evidence"])
            elif kind == "run_end":
                ended = obj
    if info is None:
        raise ValueError(f"{path}: not a gxpscan run record (no run_start line)")
    if ended:
        info = replace(info, ended=info_from_dict({**info_to_dict(info), "ended": ended["ended"]}).ended,
                       interrupted=ended.get("interrupted", False))
    else:
        info = replace(info, interrupted=True)
    return Run(info, tuple(results), evidence)
