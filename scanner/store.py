"""The run record: JSON Lines written as the scan goes, so an interrupted scan keeps what it finished.

Line 1 is the run header, then one line per finished target (its results, evidence and warnings), then the run
end (with the run's warnings). Every line names its run id; it is JSON with sorted keys and no spaces between
items (``SEPARATORS``), non-ASCII text unescaped. Each line is written whole with ``os.write`` before
the next target is accepted (from then on it survives the end of the process: a kill, Ctrl-C); a write that
fails (disk full, I/O error) is cut back to the last complete line, so the file stays loadable as an interrupted
run. The header is fsynced before the scan starts; the target lines are fsynced by a thread of the writer as
they come (one fsync covers every line written before it, so the scan never waits for the disk; a line is safe
from a power cut one fsync after it was written), and the run end is fsynced, after every line before it, when
the record is closed. An fsync that fails ends the record there: nothing more is written, no run end, so it
reads as interrupted.

Reading is strict: a record is trusted only as far as it is intact. A last line without its newline is a line
cut by a kill or a full disk (ignored; the run is marked interrupted). Any other fault (a line that is not JSON,
a field of the wrong type, a line of another run, a line longer than ``MAX_LINE_BYTES``, lines after the end)
raises :class:`RecordError` naming the line: a corrupt record never reads as "all clear" or "new failures".
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from enum import Enum
from functools import cache
from itertools import repeat
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, overload

from scanner.model import (
    Area,
    Result,
    Run,
    RunInfo,
    Severity,
    SignatureRecord,
    Status,
    info_from_dict,
    info_to_dict,
    result_from_dict,
    results_to_dicts,
    utcnow,
)
from scanner.safefs import OutputDir, OutputError, write_all
from scanner.value import frozen

if TYPE_CHECKING:
    from scanner.access.model import SystemAccess
    from scanner.runner import TargetOutcome

RECORD_NAME = "record.jsonl"
#: Longest line written or read (one target's results and evidence; evidence per fact is bounded at 64 KiB).
MAX_LINE_BYTES = 64 * 1024 * 1024
#: A line's separators between items and after keys: JSON without spaces, as orjson writes it (line_bytes). Records
#: written before 2026-12-03 have ", " and ": "; readers take either (only the seal holds the bytes, as written).
SEPARATORS = (",", ":")


class RecordError(ValueError):
    """A run record is not intact. The message names the file and the line."""


@frozen
class Record:
    """A run as read back, with the targets it finished (in record order; a target may have no result)."""

    run: Run
    targets: tuple[str, ...]


@frozen
class ResultDicts(Sequence[dict[str, Any]]):
    """The JSON form of each result (``results_to_dicts``) as the record wrote it, for the JSON report.

    ``json_native``: every line they were written in held only JSON values of JSON types and finite numbers (the
    json module wrote it with ``allow_nan=False`` and no ``default``): no NaN or infinity, no enum, date, dataclass
    or other object hides in them, so a writer need not look for one again (reports.jsonenc: ``native``). The
    dicts are shared: a reader changes a copy."""

    dicts: tuple[dict[str, Any], ...]
    json_native: bool

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        return self.dicts[index]

    def __len__(self) -> int:
        return len(self.dicts)

    def __iter__(self) -> Iterator[dict[str, Any]]:  # the tuple's own (Sequence's calls __getitem__ per item)
        return iter(self.dicts)


#: Strings an Escaped keeps at most, and the longest it keeps.
KEEP = 16_384
KEEP_LENGTH = 4096


class Escaped(dict[str, str]):
    """A string -> its JSON string literal as the json module writes it with ``ensure_ascii=False``, made on first
    use and kept for the lines after (a fleet's lines repeat their keys, checks' texts and clauses, and like hosts
    their values: 50 WinRM targets wrote 92,750 strings, 5,174 distinct). Kept: strings of up to ``KEEP_LENGTH``
    characters, ``KEEP`` of them at most (then it starts again): some 64 M characters at worst. A string is looked
    up by its text (``==``): a subclass of str is written as its text, as the json module writes it (``Ref`` of
    the IaC values, the str enums)."""

    def __missing__(self, text: str) -> str:
        made: str = json.encoder.encode_basestring(text)
        if len(text) <= KEEP_LENGTH:  # module constants: an attribute of a dict subclass costs more to read
            if len(self) >= KEEP:
                self.clear()
            self[text] = made
        return made


def line_text(obj: Any, escaped: Escaped | None = None) -> str:
    """``json.dumps(obj, sort_keys=True, ensure_ascii=False, allow_nan=False, check_circular=False,
    separators=SEPARATORS)``: the same text
    (the json module's C encoder, given the same options), with each distinct string escaped once (``escaped``:
    the strings of the lines before, see Escaped). A line repeats its keys, its checks' texts and clauses and many
    values in every result (2,297 results held 6,802 distinct strings in 120,621): escaping each again was some
    40% of encoding a large line, a lookup is less. Raises what json.dumps raises (ValueError for NaN or an
    infinity, RecursionError for deep nesting, TypeError for a value of another type)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython has the C encoder; json.dumps then writes the line
        return json.dumps(obj, sort_keys=True, ensure_ascii=False, allow_nan=False, check_circular=False,
                          separators=SEPARATORS)
    lookup = (escaped if escaped is not None else Escaped()).__getitem__
    # the arguments json.JSONEncoder.iterencode gives it: markers (None: no cycle check), default, the string
    # encoder, indent, key separator, item separator, sort_keys, skipkeys, allow_nan
    encode = make(None, json.JSONEncoder().default, lookup, None, SEPARATORS[1], SEPARATORS[0], True, False, False)
    return "".join(encode(obj, 0))


def _integral(obj: Any) -> bool:
    """True when ``obj`` holds only ``dict``, ``list``, ``str``, ``int``, ``bool`` and ``None``, of exactly those
    types (no subclass, tuple or float): what orjson writes byte for byte as ``line_text`` does (see line_bytes).
    A container met again is not walked again (the results share their clauses and locations; a cycle ends)."""
    seen: set[int] = set()
    stack = [obj]
    pop, push, mark = stack.pop, stack.append, seen.add
    if type(obj) is not dict and type(obj) is not list:
        return False
    while stack:
        container = pop()
        for item in container.values() if type(container) is dict else container:
            kind = type(item)
            if kind is str or item is None or kind is int or kind is bool:
                continue
            if kind is not dict and kind is not list:
                return False
            if id(item) not in seen:
                mark(id(item))
                push(item)
    return True


def line_bytes(obj: Any, escaped: Escaped | None = None) -> bytes:
    """A record line as written: ``line_text(obj)`` and a newline, in UTF-8 (a lone surrogate backslash-escaped),
    byte for byte. orjson writes the line when it holds only the exact JSON types without floats (``_integral``),
    in a sixth of the time (on the benchmark's IaC line of 2.7 MB: 2.7 ms and 6 ms for the walk, against 17 ms);
    the json module writes the rest: floats (which orjson spells its own way, ``1e16`` for ``1e+16``, and NaN as
    ``null``), and what orjson refuses (a lone surrogate, an integer beyond 64 bits, a key not a string, nesting
    beyond 254 levels, a cycle). tests/engine/test_record_text.py compares the two on hostile lines."""
    if _integral(obj):
        try:
            import orjson
        except ImportError:  # pragma: no cover - a declared dependency; the json module writes the line
            pass
        else:
            try:
                return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
            except orjson.JSONEncodeError:
                pass
    return (line_text(obj, escaped) + "\n").encode("utf-8", "backslashreplace")


class RecordWriter:
    """Writes one run record. Raises OutputError (one line, for the operator) when the record cannot be written;
    FileExistsError when a record exists at the path already (a record is never overwritten)."""

    def __init__(self, path: str | Path, info: RunInfo):
        self.path = Path(path)
        self.info = info
        self._lock = threading.Lock()
        self._results: list[Result] = []
        self._dicts: list[dict[str, Any]] = []  # the JSON form of each result, as written (shared with the report)
        self._native = True  # every line so far written by the json module with allow_nan=False (ResultDicts)
        self._escaped = Escaped()  # the strings of the lines written so far, as JSON (line_text)
        self._evidence: dict[str, Any] = {}
        self._warnings: list[str] = []
        self._targets: list[str] = []
        self._systems: dict[str, dict[str, str]] = {}
        self._access: dict[str, SystemAccess] = {}
        self._size = 0
        self._failed: str | None = None
        self._closed = False
        self._dirty = threading.Event()  # lines written since the syncer's last fsync began
        self._stop = False
        self._dir = OutputDir.open(self.path.parent)
        try:
            self._fd = self._dir.create(self.path.name)
        except FileExistsError:
            self._dir.close()
            raise
        except OSError as exc:
            self._dir.close()
            raise OutputError(f"could not create the run record {self.path}: {exc.strerror or exc}") from None
        try:
            self._write({"type": "run_start", "run": info_to_dict(info)}, sync=True)
        except BaseException:
            os.close(self._fd)
            self._dir.close()
            raise
        self._syncer = threading.Thread(target=self._sync_loop, name="gxpscan-record-sync", daemon=True)
        self._syncer.start()

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self._targets)

    @property
    def failed(self) -> str | None:
        """Why the record could not be written further, or None."""
        return self._failed

    def _write(self, obj: dict[str, Any], *, sync: bool = False) -> None:
        """Write one line whole; ``sync``: and fsync it here (the run start and end), else the syncer does."""
        if self._failed:
            raise OutputError(self._failed)
        data = self._data(obj)
        if len(data) > MAX_LINE_BYTES:
            self._failed = (f"could not write the run record {self.path}: one line would be {len(data)} bytes, "
                            f"above the limit of {MAX_LINE_BYTES}")
            raise OutputError(self._failed)
        try:
            write_all(self._fd, data)
            if sync:
                os.fsync(self._fd)
        except OSError as exc:
            self._failed = f"could not write the run record {self.path}: {exc.strerror or exc}"
            try:  # cut the half-written line so that the record stays loadable (as interrupted)
                os.ftruncate(self._fd, self._size)
            except OSError:
                pass
            raise OutputError(self._failed) from None
        self._size += len(data)
        if not sync:
            self._dirty.set()

    def _data(self, obj: dict[str, Any]) -> bytes:
        """A line's bytes, the same whichever way they are made; ``allow_nan=False`` proves it JSON-native (see
        ResultDicts). First ``line_bytes`` (orjson, or the C encoder without its check for cycles, each distinct
        string escaped once: a line's values share lists and dicts but none holds itself; the check is some 7% of
        encoding a large line); a cycle, deep nesting, NaN or an infinity then goes the way it went before (a cycle
        or deep nesting raises there as it did)."""
        try:
            return line_bytes(obj, self._escaped)
        except (ValueError, RecursionError):
            pass
        try:
            text = json.dumps(obj, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=SEPARATORS)
        except ValueError:  # NaN or an infinity, written as before (or a circular reference, raised again)
            self._native = False
            text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=SEPARATORS)
        return (text + "\n").encode("utf-8", "backslashreplace")

    def _sync_loop(self) -> None:
        """fsync whatever was written since the last fsync, until the record is closed (see the module's
        docstring). It never takes the lock (a thread waiting for the interpreter while holding it would stall the
        scan's thread): it reads and sets single attributes, and ``_write`` reads ``_failed`` before each line."""
        while True:
            self._dirty.wait()
            self._dirty.clear()
            stop = self._stop
            if self._failed:
                return
            try:
                os.fsync(self._fd)
            except OSError as exc:
                self._failed = self._failed or f"could not write the run record {self.path}: {exc.strerror or exc}"
                return
            if stop:
                return

    def add(self, outcome: TargetOutcome) -> None:
        with self._lock:
            dicts = results_to_dicts(outcome.results)
            line: dict[str, Any] = {"type": "target", "run": self.info.id, "target": outcome.target.name,
                                    "results": dicts,
                                    "evidence": dict(outcome.evidence), "warnings": list(outcome.warnings)}
            system = {str(k): str(v) for k, v in outcome.system.items()}
            if system:
                line["system"] = system
            if outcome.access is not None:  # an access review's run (scanner.access: imported only then)
                from scanner.access.model import system_to_dict

                line["access"] = system_to_dict(outcome.access)
            self._write(line)
            if system:
                self._systems[outcome.target.name] = system
            if outcome.access is not None:
                self._access[outcome.target.name] = outcome.access
            self._results.extend(outcome.results)
            self._dicts.extend(dicts)
            self._evidence.update(outcome.evidence)
            self._warnings.extend(outcome.warnings)
            self._targets.append(outcome.target.name)

    def result_dicts(self, run: Run) -> ResultDicts | None:
        """The JSON form of each of ``run``'s results as this record wrote it (``results_to_dicts``, built once),
        for the JSON report; None unless ``run`` holds exactly the results recorded, in order (the same objects).
        The dicts are shared: a reader changes a copy."""
        with self._lock:
            if len(run.results) != len(self._results) or any(
                    a is not b for a, b in zip(run.results, self._results, strict=True)):
                return None
            return ResultDicts(tuple(self._dicts), self._native)

    def warn(self, message: str) -> None:
        """A run-level warning, kept in the run end line and in RunInfo.warnings."""
        with self._lock:
            self._warnings.append(message)

    def close(self, interrupted: bool = False) -> Run:
        """End the record. After a write fault nothing more is written and the run is marked interrupted; the
        caller reports the fault (``failed``)."""
        with self._lock:
            first, self._closed = not self._closed, True
            self._stop = True
        if first:
            try:
                self._dirty.set()
                self._syncer.join()  # its last fsync covers every target line
                with self._lock:
                    interrupted = interrupted or self._failed is not None
                    self.info = replace(self.info, ended=utcnow(), interrupted=interrupted,
                                        warnings=tuple(self._warnings))
                    if not self._failed:
                        self._write({"type": "run_end", "run": self.info.id, "ended": self.info.ended.isoformat()
                                     if self.info.ended else None, "interrupted": interrupted,
                                     "warnings": list(self._warnings)}, sync=True)
            except OutputError:
                self.info = replace(self.info, interrupted=True)
            finally:
                os.close(self._fd)
                self._dir.close()
        with self._lock:
            return Run(self.info, tuple(self._results), dict(self._evidence), systems=_frozen(self._systems),
                       access=MappingProxyType(dict(self._access)))


# --- reading --------------------------------------------------------------------------------------------------

def _require(obj: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in obj:
        raise RecordError(f"{where}: '{key}' is missing")
    value = obj[key]
    if not isinstance(value, kind):
        raise RecordError(f"{where}: '{key}' has the wrong type ({type(value).__name__})")
    return value


def _frozen(systems: Mapping[str, Mapping[str, str]]) -> Mapping[str, Mapping[str, str]]:
    return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in systems.items()})


#: Longest system-under-test field kept (a hostname, an OS name, a kernel release).
MAX_SYSTEM_FIELD = 1024


def _system(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise RecordError(f"{where}: 'system' is not a mapping of strings")
    if len(value) > 64 or any(len(k) > 64 or len(v) > MAX_SYSTEM_FIELD for k, v in value.items()):
        raise RecordError(f"{where}: 'system' is larger than a system description")
    return dict(value)


def _strings(value: Any, where: str) -> None:
    if not isinstance(value, list) or not all(map(isinstance, value, repeat(str))):
        raise RecordError(f"{where}: expected a list of strings")


def _time(value: Any, where: str) -> None:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise RecordError(f"{where}: not a time: {str(value)[:40]!r}") from None


@cache
def _values(enum: type[Enum]) -> frozenset[Any]:
    """The values of ``enum`` (computed once per enum, not once per result read)."""
    return frozenset(e.value for e in enum)


def _check_result(d: Any, where: str) -> Result:
    if not isinstance(d, dict):
        raise RecordError(f"{where}: a result is not an object")
    for key in ("check", "target", "target_type", "resource", "message", "at"):
        if not isinstance(d.get(key), str):
            _require(d, key, str, where)  # raises, saying whether it is missing or of the wrong type
    for key, enum in (("status", Status), ("severity", Severity), ("area", Area)):
        value = d.get(key)
        if not isinstance(value, str) or value not in _values(enum):  # a list or dict is not hashable
            raise RecordError(f"{where}: '{key}' is not one of the known values: {str(d.get(key))[:40]!r}")
    _require(d, "observed", dict, where)
    for key in ("clauses", "evidence"):
        _strings(d.get(key), f"{where}.{key}")
    for key in ("criterion", "remediation"):
        if not isinstance(d.get(key, ""), str):
            raise RecordError(f"{where}: '{key}' has the wrong type")
    _time(d["at"], f"{where}.at")
    waiver = d.get("waiver")
    if waiver is not None and (not isinstance(waiver, dict) or not all(
            isinstance(waiver.get(k), str) for k in ("check", "target", "reason", "approved_by", "expires"))):
        raise RecordError(f"{where}: 'waiver' is not a waiver")
    location = d.get("location")
    if location is not None and (not isinstance(location, dict) or not isinstance(location.get("path"), str) or any(
            not (v is None or type(v) is int) for k, v in location.items() if k != "path")
            or set(location) - {"path", "start_line", "end_line"}):
        raise RecordError(f"{where}: 'location' is not a location")
    try:
        return result_from_dict(d)
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"{where}: {type(exc).__name__}: {str(exc)[:200]}") from None


#: Types of the fields of an evidence entry, when present (the reporters read them).
_EVIDENCE_FIELDS: dict[str, tuple[type, ...]] = {
    "target": (str,), "fact": (str,), "source": (str, type(None)), "collected_at": (str,), "raw": (str,),
    "sha256": (str, type(None)), "error": (str, type(None)), "ok": (bool,), "truncated": (bool,),
    "exit_code": (int, type(None)),
}


def _check_evidence(entry: Any, where: str) -> None:
    if not isinstance(entry, dict):
        raise RecordError(f"{where}: not an object")
    for key, kinds in _EVIDENCE_FIELDS.items():
        if key in entry and not isinstance(entry[key], kinds):
            raise RecordError(f"{where}: '{key}' has the wrong type ({type(entry[key]).__name__})")


def _check_info(d: Any, where: str) -> RunInfo:
    if not isinstance(d, dict):
        raise RecordError(f"{where}: 'run' is not an object")
    for key in ("id", "tool_version", "checks_fingerprint", "operator", "started", "inventory", "inventory_sha256"):
        _require(d, key, str, where)
    _time(d["started"], f"{where}.started")
    for key in ("command", "python"):
        if not isinstance(d.get(key, ""), str):
            raise RecordError(f"{where}: '{key}' has the wrong type")
    if d.get("warnings") is not None:
        _strings(d["warnings"], f"{where}.warnings")
    if d.get("ended") is not None:
        _time(d["ended"], f"{where}.ended")
    try:
        return info_from_dict(d)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a malformed nested field too
        raise RecordError(f"{where}: {type(exc).__name__}: {str(exc)[:200]}") from None


def read_record(path: str | Path, *, header_only: bool = False) -> Record:
    """Read a run record, complete or interrupted, strictly (see the module's docstring). Raises RecordError for
    a corrupt record and OSError when the file cannot be read. ``header_only``: the run_start line only, checked
    as strictly (the seal needs the run's id, version and chain hash, not its results), with no results."""
    path = Path(path)
    if path.is_dir():
        path = path / RECORD_NAME
    info: RunInfo | None = None
    results: list[Result] = []
    evidence: dict[str, Any] = {}
    warnings: list[str] = []
    targets: list[str] = []
    systems: dict[str, dict[str, str]] = {}
    access: dict[str, SystemAccess] = {}
    end: dict[str, Any] | None = None
    cut = False
    with open(path, "rb") as fh:
        number = 0
        while True:
            raw = fh.readline(MAX_LINE_BYTES + 1)
            if not raw:
                break
            number += 1
            where = f"{path}: line {number}"
            if not raw.endswith(b"\n"):
                if len(raw) > MAX_LINE_BYTES:
                    raise RecordError(f"{where}: longer than {MAX_LINE_BYTES} bytes; not a gxpscan run record line")
                if info is None:
                    raise RecordError(f"{where}: the record is cut before its run_start line ended")
                cut = True  # the last line, cut by a kill or a full disk: everything before it is intact
                break
            if end is not None:
                raise RecordError(f"{where}: a line after the run_end line")
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                raise RecordError(f"{where}: not valid JSON ({type(exc).__name__})") from None
            if not isinstance(obj, dict):
                raise RecordError(f"{where}: not a JSON object")
            kind = obj.get("type")
            if info is None:
                if kind != "run_start":
                    raise RecordError(f"{where}: not a gxpscan run record (no run_start line)")
                info = _check_info(obj.get("run"), where)
                if header_only:
                    return Record(Run(info, (), {}), ())
                continue
            if kind == "run_start":
                raise RecordError(f"{where}: a second run_start line (two records in one file?)")
            if kind not in ("target", "run_end"):
                raise RecordError(f"{where}: unknown line type {str(kind)[:40]!r}")
            if obj.get("run") != info.id:
                raise RecordError(f"{where}: belongs to run {str(obj.get('run'))[:80]!r}, not to {info.id!r}")
            if kind == "run_end":
                if obj.get("ended") is not None:
                    _time(obj["ended"], f"{where}.ended")
                if not isinstance(obj.get("interrupted"), bool):
                    raise RecordError(f"{where}: 'interrupted' is not true or false")
                _strings(obj.get("warnings", []), f"{where}.warnings")
                end = obj
                continue
            name = _require(obj, "target", str, where)
            line_results = [_check_result(r, f"{where}: results[{i}]")
                            for i, r in enumerate(_require(obj, "results", list, where))]
            if any(r.target != name for r in line_results):
                raise RecordError(f"{where}: a result of another target than {name!r}")
            line_evidence = _require(obj, "evidence", dict, where)
            for ref, entry in line_evidence.items():
                _check_evidence(entry, f"{where}: evidence {ref[:80]!r}")
            _strings(obj.get("warnings", []), f"{where}.warnings")
            if "system" in obj:
                systems[name] = _system(obj["system"], where)
            if "access" in obj:
                from scanner.access.model import AccessFormatError, system_from_dict

                try:
                    access[name] = system_from_dict(obj["access"], f"{where}: access")
                except AccessFormatError as exc:
                    raise RecordError(str(exc)) from None
            results.extend(line_results)
            evidence.update(line_evidence)
            targets.append(name)
            warnings.extend(obj.get("warnings", []))
    if info is None:
        raise RecordError(f"{path}: not a gxpscan run record (empty)")
    if end is not None:
        ended = datetime.fromisoformat(end["ended"]) if end.get("ended") else None
        info = replace(info, ended=ended, interrupted=end["interrupted"], warnings=tuple(end.get("warnings", ())))
    else:
        note = ("the record ends in a cut line (killed, or the disk was full); it was ignored" if cut
                else "the record has no run_end line (the scan did not finish)")
        info = replace(info, interrupted=True, warnings=(*warnings, note))
    return Record(Run(info, tuple(results), evidence, systems=_frozen(systems),
                      signatures=_signatures(path.parent), access=MappingProxyType(access)), tuple(targets))


def _signatures(run_dir: Path) -> tuple[SignatureRecord, ...]:
    """The electronic signatures beside the record (see scanner.seal; readers verify the run first)."""
    try:
        if not any(n.startswith("signature-") for n in os.listdir(run_dir)):
            return ()
    except OSError:
        return ()
    from scanner.seal import read_signatures

    return read_signatures(run_dir)


def load_record(path: str | Path) -> Run:
    """The run of a record (see read_record)."""
    return read_record(path).run
