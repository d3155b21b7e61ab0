"""The history: an index of runs (SQLite by default, PostgreSQL for a team), rebuilt at any time from run directories.

The run directory stays the evidence of record; the history only indexes it: the run (id, start and end, where it
is, the SHA-256 of its first manifest, sealed or not), the status counts per target, every finding (target, check,
resource, and its position when a check reports the same resource twice) with its **status changes**, and the
waivers applied. From those it answers "failing since", "fixed on", first and last seen, and flapping, per finding.

Status changes, not every observation (schema version 3): a finding has a row in ``changes`` only for a run in which
its state differs from its state in the previous run of its target, and ``findings.status`` holds its state in its
target's latest run. A run whose findings did not change writes no finding or change row, only its own row, its
per-target counts (the trend) and its waivers. The state of a finding in a run is its status there, or ``absent``:

- a finding is **absent** from a run that scanned its target (the target has results in it, or finished without
  any) but reported nothing for it. Absent is not a status: it neither fixes nor fails a finding, it only ends a
  stretch of runs that reported it; when the finding comes back it is seen again and its streak goes on as if the
  absence were not there (as before: the rules below read only the runs that reported a finding);
- a run that did not scan a target changes nothing of its findings (it is not in the target's runs).

A finding's runs are rebuilt from its changes and the runs of its target (``run_targets``, which holds a row for
every target a run scanned): the runs from one change up to the next. A run added out of time order (an older run
imported late) is put in its place: a change in it, and the change after it restored or dropped.

One schema for both databases, built by numbered migrations (``MIGRATIONS``; the ``schema_version`` table holds
the versions applied). Every run is read strictly before a byte of it is stored: a sealed run must verify intact,
the record must read without a fault (``scanner.store.read_record``), and every field is bounded; a run that fails
any of this is refused with its path (:class:`HistoryError`), nothing of it is stored.

Adding is idempotent by run id and first-manifest hash: adding the same run twice changes nothing; a run that was
indexed unsealed and is sealed now gets its hash; another copy of a run id with a different hash is refused.

Status rules, over the runs that reported a finding, in time order (an ``error`` breaks a streak: it proves
nothing either way):

- **failing since**: the latest status is ``fail``; the start of the first run of the unbroken ``fail`` streak;
- **fixed on**: the latest status is ``pass`` and an earlier run failed; the first run after the last failure;
- **flaps**: how often it failed again after having been ``pass`` following a failure.
"""
from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import stat
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scanner.model import Status, utcnow
from scanner.value import frozen

if TYPE_CHECKING:
    from scanner.store import Record

DEFAULT_NAME = "history.sqlite"
#: Longest run id, target, check id, resource, waiver field stored (longer: the run is refused).
MAX_FIELD = 4096
#: Most results stored for one run (more: the run is refused).
MAX_RESULTS = 5_000_000
#: Longest history spec (a path or a URL).
MAX_SPEC = 2048
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,199}")
_CHUNK = 500


class HistoryError(Exception):
    """The history cannot be opened, read or written, or a run cannot be added. One line, for the operator; it
    names the run directory or the database (never a password)."""


class Backend(str, Enum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"

    def __str__(self) -> str:
        return self.value


@frozen
class RunSummary:
    run_id: str
    started: datetime
    finished: datetime | None
    run_dir: str
    manifest_sha256: str | None  # of the run's first manifest; None when it was not sealed when indexed
    counts: Mapping[str, int]  # status value -> count (of the targets and checks asked for)
    per_target: Mapping[str, Mapping[str, int]]  # target -> status value -> count
    sealed: bool
    interrupted: bool = False


@frozen
class FindingHistory:
    check_id: str
    target: str
    resource: str
    status: Status  # in the latest run that reported it
    first_seen: datetime
    last_seen: datetime
    failing_since: datetime | None
    fixed_on: datetime | None
    flaps: int
    runs: int = 0  # how many runs reported it (within --since)

    @property
    def flapping(self) -> bool:
        return self.flaps > 0


@frozen
class WaiverExpiry:
    """A waiver applied in the latest run, expiring within the window asked for (or already expired)."""

    check_id: str
    target: str
    resource: str
    reason: str
    approved_by: str
    expires: str  # as written in the waiver (an ISO date)
    days_left: int | None  # None when the date cannot be read (treated as expiring)
    run_id: str


# --- the databases ------------------------------------------------------------------------------------------------

class _Cursor(Protocol):
    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class _Database:
    """A DB-API connection with one SQL dialect: ``?`` parameters, ``{pk}`` for an integer identity key,
    ``{without_rowid}`` for a table stored as its primary key (SQLite; PostgreSQL needs no word for it)."""

    backend: Backend
    where: str  # the database, for messages (no secrets)

    def __init__(self, conn: Any, backend: Backend, where: str, secret: str = "") -> None:
        self.conn = conn
        self.backend = backend
        self.where = where
        self._secret = secret

    def sql(self, text: str) -> str:
        pk = ("INTEGER PRIMARY KEY" if self.backend is Backend.SQLITE
              else "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        text = text.replace("{pk}", pk).replace("{without_rowid}", " WITHOUT ROWID" if self.backend is Backend.SQLITE
                                                 else "")
        return text.replace("?", "%s") if self.backend is Backend.POSTGRESQL else text

    def run(self, text: str, params: Sequence[Any] = ()) -> _Cursor:
        cur: _Cursor = self.conn.execute(self.sql(text), tuple(params))
        return cur

    def many(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        cur = self.conn.cursor()
        try:
            cur.executemany(self.sql(text), rows)
        finally:
            cur.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self.backend is Backend.SQLITE:
            self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    def lock(self) -> None:
        """Serialise writers (migrations, adding runs) inside the current transaction."""
        if self.backend is Backend.POSTGRESQL:
            self.conn.execute("SELECT pg_advisory_xact_lock(720013)")

    def scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def close(self) -> None:
        self.conn.close()


#: The numbered migrations. Never edit one that was released: add the next.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, (
        """CREATE TABLE runs (
            seq {pk},
            run_id TEXT NOT NULL UNIQUE,
            started TEXT NOT NULL,
            finished TEXT,
            run_dir TEXT NOT NULL,
            manifest_sha256 TEXT,
            sealed INTEGER NOT NULL,
            interrupted INTEGER NOT NULL,
            added TEXT NOT NULL)""",
        "CREATE INDEX runs_started ON runs (started)",
        """CREATE TABLE findings (
            id {pk},
            target TEXT NOT NULL,
            check_id TEXT NOT NULL,
            resource TEXT NOT NULL,
            n INTEGER NOT NULL,
            UNIQUE (target, check_id, resource, n))""",
        "CREATE INDEX findings_check ON findings (check_id)",
        """CREATE TABLE observations (
            finding_id BIGINT NOT NULL REFERENCES findings (id),
            run_seq BIGINT NOT NULL REFERENCES runs (seq),
            status TEXT NOT NULL,
            PRIMARY KEY (finding_id, run_seq)){without_rowid}""",
        """CREATE TABLE run_targets (
            run_seq BIGINT NOT NULL REFERENCES runs (seq),
            target TEXT NOT NULL,
            status TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (run_seq, target, status)){without_rowid}""",
        "CREATE INDEX run_targets_target ON run_targets (target)",
    )),
    (2, (
        """CREATE TABLE waivers (
            run_seq BIGINT NOT NULL REFERENCES runs (seq),
            target TEXT NOT NULL,
            check_id TEXT NOT NULL,
            resource TEXT NOT NULL,
            reason TEXT NOT NULL,
            approved_by TEXT NOT NULL,
            expires TEXT NOT NULL)""",
        "CREATE INDEX waivers_run ON waivers (run_seq)",
        "ALTER TABLE runs ADD COLUMN inventory_sha256 TEXT",
    )),
    (3, (  # status changes instead of one observation row per finding per run (see the module's docstring)
        """CREATE TABLE changes (
            finding_id BIGINT NOT NULL REFERENCES findings (id),
            run_seq BIGINT NOT NULL REFERENCES runs (seq),
            status TEXT NOT NULL,
            PRIMARY KEY (finding_id, run_seq)){without_rowid}""",
        # every run that scanned a finding's target, in time order, its status there or absent; a row per change
        """INSERT INTO changes (finding_id, run_seq, status)
            SELECT finding_id, run_seq, status FROM (
                SELECT finding_id, run_seq, status,
                       LAG(status, 1, 'absent') OVER (PARTITION BY finding_id ORDER BY started, run_seq) AS prior
                FROM (SELECT f.id AS finding_id, s.run_seq, r.started, COALESCE(o.status, 'absent') AS status
                      FROM findings f
                      JOIN (SELECT DISTINCT run_seq, target FROM run_targets) s ON s.target = f.target
                      JOIN runs r ON r.seq = s.run_seq
                      LEFT JOIN observations o ON o.finding_id = f.id AND o.run_seq = s.run_seq) AS scanned
            ) AS ordered WHERE status <> prior""",
        "ALTER TABLE findings ADD COLUMN status TEXT NOT NULL DEFAULT 'absent'",
        """UPDATE findings SET status = COALESCE((
            SELECT c.status FROM changes c JOIN runs r ON r.seq = c.run_seq WHERE c.finding_id = findings.id
            ORDER BY r.started DESC, r.seq DESC LIMIT 1), 'absent')""",
        "DROP TABLE observations",
        # a run added one entry per target to it, on a page per target; a target's runs are found by the key of
        # run_targets (run_seq, target) from the runs instead
        "DROP INDEX run_targets_target",
    )),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def schema_version(db: _Database) -> int:
    """The highest migration applied (0 for an empty database)."""
    if db.backend is Backend.SQLITE:
        exists = db.run("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    else:
        exists = db.run("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
                        "AND table_name = 'schema_version'").fetchone()
    if not exists:
        return 0
    row = db.run("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(db: _Database, upto: int = SCHEMA_VERSION) -> int:
    """Apply the migrations after the database's version, up to ``upto``, each in its own transaction.
    Returns the version reached. A database newer than this gxpscan is refused."""
    with db.transaction():
        db.lock()
        db.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)")
    current = schema_version(db)
    if current > SCHEMA_VERSION:
        raise HistoryError(f"history {db.where}: schema version {current} is newer than this gxpscan knows "
                           f"({SCHEMA_VERSION}); upgrade gxpscan")
    for version, statements in MIGRATIONS:
        if version > upto:
            break
        with db.transaction():
            db.lock()
            if schema_version(db) >= version:  # another process got there first
                continue
            for statement in statements:
                db.run(statement)
            db.run("INSERT INTO schema_version (version, applied) VALUES (?, ?)", (version, _stamp(utcnow())))
    return schema_version(db)


# --- values in and out --------------------------------------------------------------------------------------------

def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _stamp(value: datetime) -> str:
    """A time as stored: UTC, fixed width, so text order is time order."""
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def _field(value: str, what: str, where: Path) -> str:
    """A text from a run as stored: bounded; NUL and lone surrogates escaped (neither survives every database)."""
    if len(value) > MAX_FIELD:
        raise HistoryError(f"{where}: refused: a {what} of {len(value)} characters (the history keeps at most "
                           f"{MAX_FIELD})")
    if value.isprintable() or not any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in value):
        return value
    return value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


FindingKey = tuple[str, str, str, int]
#: A finding's state in a run that scanned its target but did not report it (not a Status).
ABSENT = "absent"


@frozen
class Segment:
    """Consecutive runs of a finding's target that reported it with one status."""

    first: datetime  # the start of the first of these runs
    last: datetime  # the start of the last
    status: Status
    runs: int


def summarise(key: FindingKey, segments: Sequence[Segment]) -> FindingHistory:
    """The history of one finding from its runs, as segments in time order (see the module's docstring for the
    rules). Two segments in a row may have the same status (an absence between them): they count as one streak."""
    if not segments:
        raise ValueError("a finding without observations")
    statuses = [s.status for s in segments]
    latest = statuses[-1]
    failing_since = fixed_on = None
    if latest is Status.FAIL:
        i = len(statuses) - 1
        while i > 0 and statuses[i - 1] is Status.FAIL:
            i -= 1
        failing_since = segments[i].first
    elif latest is Status.PASS and Status.FAIL in statuses:
        last_fail = len(statuses) - 1 - statuses[::-1].index(Status.FAIL)
        fixed_on = segments[last_fail + 1].first
    flaps, failed_before, fixed = 0, False, False
    for s in statuses:
        if s is Status.FAIL:
            if fixed:
                flaps += 1
            failed_before, fixed = True, False
        elif s is Status.PASS and failed_before:
            fixed = True
    return FindingHistory(check_id=key[1], target=key[0], resource=key[2], status=latest,
                          first_seen=segments[0].first, last_seen=segments[-1].last,
                          failing_since=failing_since, fixed_on=fixed_on, flaps=flaps,
                          runs=sum(s.runs for s in segments))


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


#: A run's place in time: (its start as stored, its seq); runs sort by it.
Order = tuple[str, int]


def _spans(runs: Sequence[Order], changes: Sequence[tuple[Order, str]],
           since: str | None = None) -> Iterator[tuple[int, int, Status]]:
    """The stretches ``runs[lo:hi]`` of a target's runs (in time order) that reported a finding, each with its
    status, from the finding's changes (in time order); with ``since`` only runs started then or later."""
    floor = bisect_left(runs, (since, -1)) if since is not None else 0
    for i, (at, status) in enumerate(changes):
        if status == ABSENT:
            continue
        lo = max(bisect_left(runs, at), floor)
        hi = bisect_left(runs, changes[i + 1][0]) if i + 1 < len(changes) else len(runs)
        if hi > lo:
            yield lo, hi, Status(status)


def _state_before(changes: Sequence[tuple[Order, str]], at: Order) -> str:
    """A finding's state in its target's last run before ``at``, from its changes in time order."""
    state = ABSENT
    for when, status in changes:
        if when >= at:
            break
        state = status
    return state


# --- reading a run directory --------------------------------------------------------------------------------------

@frozen
class RunRow:
    run_id: str
    started: str
    finished: str | None
    run_dir: str
    manifest_sha256: str | None
    interrupted: bool
    inventory_sha256: str
    results: tuple[tuple[FindingKey, str], ...]
    per_target: Mapping[str, Mapping[str, int]]
    waivers: tuple[tuple[str, str, str, str, str, str], ...]


def read_run(run_dir: Path, written: Record | None = None) -> RunRow:
    """Everything the history keeps of a run directory, read strictly (HistoryError naming the directory).

    ``written``: the record this process has just written and sealed in ``run_dir`` (the scan's own run): it is
    not verified and read back, only its first manifest is read (and must name the same run)."""
    from scanner.seal import SealError, first_manifest_sha256, manifests, read_manifest, verify_run
    from scanner.store import RECORD_NAME, RecordError, read_record

    run_dir = Path(os.path.abspath(run_dir))
    record_path = run_dir / RECORD_NAME
    if not record_path.is_file() or record_path.is_symlink():
        raise HistoryError(f"{run_dir}: not a run directory (no {RECORD_NAME})")
    manifest: str | None = None
    record: Record | None = written
    if written is not None and manifests(run_dir):
        try:
            first = read_manifest(run_dir, 1)
        except (SealError, OSError) as exc:
            raise HistoryError(f"{run_dir}: refused: cannot read its first manifest: {exc}") from None
        if first.predicate.get("run_id") != written.run.info.id:
            raise HistoryError(f"{run_dir}: refused: its manifest is not of run {written.run.info.id}")
        manifest = first.sha256
    elif manifests(run_dir):
        v = verify_run(run_dir)
        if not v.intact:
            raise HistoryError(f"{run_dir}: refused: the run is NOT INTACT ({len(v.problems)} problem(s), first: "
                               f"{v.problems[0][:300]}); run 'gxpscan verify {run_dir}'")
        try:
            manifest = first_manifest_sha256(run_dir)
        except (SealError, OSError) as exc:
            raise HistoryError(f"{run_dir}: refused: cannot read its first manifest: {exc}") from None
        record = v.record  # verify read it whole and intact
    if record is None:
        try:
            record = read_record(record_path)
        except RecordError as exc:
            raise HistoryError(f"{run_dir}: refused: the run record is corrupt: {exc}") from None
        except OSError as exc:
            raise HistoryError(f"{run_dir}: cannot read the run record: {exc.strerror or exc}") from None
    run = record.run
    if not _RUN_ID.fullmatch(run.info.id):
        raise HistoryError(f"{run_dir}: refused: the run id {run.info.id[:80]!r} is not a gxpscan run id")
    if len(run.results) > MAX_RESULTS:
        raise HistoryError(f"{run_dir}: refused: {len(run.results)} results (the history keeps at most "
                           f"{MAX_RESULTS} per run)")
    stored: list[tuple[FindingKey, str]] = []
    per_target: dict[str, dict[str, int]] = {}
    waivers = []
    seen: dict[tuple[str, str, str], int] = {}
    names: dict[str, str] = {}  # target, check and resource names as stored (repeated across results: the checks
    for r in run.results:  # of a resource), each made once
        base = (r.target, r.check, r.resource)
        n = seen.get(base, 0)
        seen[base] = n + 1
        target = names.get(r.target) or names.setdefault(r.target, _field(r.target, "target name", run_dir))
        check = names.get(r.check) or names.setdefault(r.check, _field(r.check, "check id", run_dir))
        resource = names.get(r.resource)
        if resource is None:  # an empty resource is stored as it is
            resource = names.setdefault(r.resource, _field(r.resource, "resource", run_dir))
        status = r.status._value_  # the attribute (Enum's value property is a call per result)
        stored.append(((target, check, resource, n), status))
        counts = per_target.setdefault(target, {})
        counts[status] = counts.get(status, 0) + 1
        if r.waiver is not None:
            w = r.waiver
            waivers.append((target, check, resource, _field(w.reason, "waiver reason", run_dir),
                            _field(w.approved_by, "waiver approver", run_dir),
                            _field(w.expires, "waiver expiry", run_dir)))
    for name in record.targets:  # a target that finished without a result still ran
        per_target.setdefault(_field(name, "target name", run_dir), {})
    return RunRow(run_id=run.info.id, started=_stamp(run.info.started),
                   finished=_stamp(run.info.ended) if run.info.ended else None, run_dir=str(run_dir),
                   manifest_sha256=manifest, interrupted=run.info.interrupted,
                   inventory_sha256=_field(run.info.inventory_sha256, "inventory hash", run_dir),
                   results=tuple(stored), per_target=per_target,
                   waivers=tuple(waivers))


def run_dirs(path: Path) -> list[Path]:
    """The run directories at ``path``: itself when it holds a record, else its subdirectories that do (a results
    directory), in name order. Symbolic links (a ``latest`` link) are not followed."""
    from scanner.store import RECORD_NAME

    if (path / RECORD_NAME).is_file():
        return [path]
    try:
        children = sorted(path.iterdir())
    except OSError as exc:
        raise HistoryError(f"{path}: cannot read the directory: {exc.strerror or exc}") from None
    return [c for c in children if not c.is_symlink() and c.is_dir() and (c / RECORD_NAME).is_file()]


# --- the history --------------------------------------------------------------------------------------------------

class History:
    """An open history. Use as a context manager; every method raises HistoryError on a database fault."""

    def __init__(self, db: _Database) -> None:
        self._db = db

    @property
    def backend(self) -> Backend:
        return self._db.backend

    @property
    def where(self) -> str:
        return self._db.where

    def __enter__(self) -> History:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._db.close()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Database faults become HistoryError, with any password scrubbed."""
        try:
            yield
        except HistoryError:
            raise
        except Exception as exc:
            if not _is_db_error(exc):
                raise
            text = self._db.scrub(" ".join(str(exc).split()))[:500]
            raise HistoryError(f"history {self.where}: {type(exc).__name__}: {text}") from None

    # -- writing --

    def add_run(self, run_dir: Path, *, written: Record | None = None) -> str:
        """Index a run directory; returns its run id. Idempotent (see the module's docstring). ``written``: see
        read_run (the scan's own run, from memory)."""
        row = read_run(Path(run_dir), written)
        with self._guard():
            return self.store(row)

    def store(self, row: RunRow) -> str:
        """Index a run as read_run read it (add_run is read_run then store)."""
        db = self._db
        with db.transaction():
            db.lock()
            known = db.run("SELECT seq, manifest_sha256 FROM runs WHERE run_id = ?", (row.run_id,)).fetchone()
            if known is not None:
                if known[1] == row.manifest_sha256:
                    return row.run_id
                if known[1] is None:  # indexed before it was sealed: the record is the same, sealed now
                    db.run("UPDATE runs SET manifest_sha256 = ?, sealed = 1 WHERE seq = ?",
                           (row.manifest_sha256, known[0]))
                    return row.run_id
                have = (row.manifest_sha256 or "none (not sealed)")[:16]
                raise HistoryError(f"{row.run_dir}: refused: run {row.run_id} is in the history already with "
                                   f"manifest {known[1][:16]}, this directory has {have}: another copy of the run")
            db.run("INSERT INTO runs (run_id, started, finished, run_dir, manifest_sha256, sealed, interrupted, "
                   "added, inventory_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (row.run_id, row.started, row.finished, row.run_dir, row.manifest_sha256,
                    int(row.manifest_sha256 is not None), int(row.interrupted), _stamp(utcnow()),
                    row.inventory_sha256))
            seq = int(db.run("SELECT seq FROM runs WHERE run_id = ?", (row.run_id,)).fetchone()[0])
            # every target the run scanned has a row (one with no result: status '' and count 0)
            db.many("INSERT INTO run_targets (run_seq, target, status, count) VALUES (?, ?, ?, ?)",
                    [(seq, t, s, n) for t, counts in row.per_target.items()
                     for s, n in (counts.items() if counts else (("", 0),))])
            db.many("INSERT INTO waivers (run_seq, target, check_id, resource, reason, approved_by, expires) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", [(seq, *w) for w in row.waivers])
            self._store_changes(row, seq)
        return row.run_id

    def _store_changes(self, row: RunRow, seq: int) -> None:
        """The change rows of a run just inserted as ``seq`` (see the module's docstring), inside store's
        transaction. Per target of the run: a finding whose state here differs from its state in the target's
        previous run gets a change; when the target has a later run (this run came out of time order), the
        finding's state there is kept: its change there is dropped when it is now the same, or one is added."""
        db = self._db
        at: Order = (row.started, seq)
        reported = dict(row.results)
        later: dict[str, Order] = {}  # target -> its first run after this one
        for target, started, other in db.run(
                "SELECT rt.target, r.started, r.seq FROM runs r JOIN run_targets rt ON rt.run_seq = r.seq "
                "WHERE r.started > ? OR (r.started = ? AND r.seq > ?)", (row.started, row.started, seq)).fetchall():
            when = (str(started), int(other))
            if target in row.per_target and (target not in later or when < later[target]):
                later[target] = when
        known = self._findings_of(list(row.per_target))
        new = [key for key in reported if key not in known]
        fresh: set[int] = set()
        if new:
            db.many("INSERT INTO findings (target, check_id, resource, n, status) VALUES (?, ?, ?, ?, ?)",
                    [(*key, ABSENT if key[0] in later else reported[key]) for key in new])
            added = self._findings_of(sorted({key[0] for key in new}))
            fresh = {added[key][0] for key in new}
            known.update(added)
        inserts: list[tuple[int, int, str]] = []
        updates: list[tuple[str, int]] = []
        deletes: list[tuple[int, int]] = []
        past: dict[str, dict[int, list[tuple[Order, str]]]] = {}  # of the targets with a later run
        for key, (fid, latest) in known.items():
            now = reported.get(key, ABSENT)
            nxt = later.get(key[0]) if later else None
            if nxt is None:  # this is the target's latest run: compare with the state in its latest run so far
                before = ABSENT if fid in fresh else latest
                if now != before:
                    inserts.append((fid, seq, now))
                    if fid not in fresh:
                        updates.append((now, fid))
                continue
            if key[0] not in past:
                past[key[0]] = self._changes_of(key[0])
            changes = past[key[0]].get(fid, [])
            before = _state_before(changes, at)
            if now != before:
                inserts.append((fid, seq, now))
            there = next((status for when, status in changes if when == nxt), None)
            if there is not None:
                if there == now:  # the change in the later run is no change any more
                    deletes.append((fid, nxt[1]))
            elif now != before:  # the later run keeps the state it had
                inserts.append((fid, nxt[1], before))
        db.many("DELETE FROM changes WHERE finding_id = ? AND run_seq = ?", sorted(deletes))
        db.many("INSERT INTO changes (finding_id, run_seq, status) VALUES (?, ?, ?)", sorted(inserts))
        db.many("UPDATE findings SET status = ? WHERE id = ?", sorted(updates, key=lambda u: u[1]))

    def _findings_of(self, targets: Sequence[str]) -> dict[FindingKey, tuple[int, str]]:
        """(target, check, resource, n) -> (finding id, state in the target's latest run), of ``targets``."""
        out: dict[FindingKey, tuple[int, str]] = {}
        for part in _chunks(targets):
            marks = ", ".join("?" * len(part))
            rows = self._db.run(f"SELECT target, check_id, resource, n, id, status FROM findings "
                                f"WHERE target IN ({marks})", part).fetchall()
            out.update({(t, c, r, n): (i, status) for t, c, r, n, i, status in rows})
        return out

    def _changes_of(self, target: str) -> dict[int, list[tuple[Order, str]]]:
        """finding id -> its changes in time order, for the findings of ``target``."""
        out: dict[int, list[tuple[Order, str]]] = defaultdict(list)
        for fid, started, seq, status in self._db.run(
                "SELECT c.finding_id, r.started, r.seq, c.status FROM changes c JOIN findings f ON f.id = "
                "c.finding_id JOIN runs r ON r.seq = c.run_seq WHERE f.target = ? ORDER BY c.finding_id, r.started, "
                "r.seq", (target,)).fetchall():
            out[int(fid)].append(((str(started), int(seq)), status))
        return out

    # -- reading --

    def runs(self, *, target: str | None = None, check: str | None = None, since: datetime | None = None,
             limit: int | None = None) -> list[RunSummary]:
        """The runs, newest first; with ``target``/``check`` only runs that scanned them, counted for them only."""
        where, params = ["1 = 1"], []
        if since is not None:
            where.append("started >= ?")
            params.append(_stamp(since))
        if check is None and target is not None:
            where.append("EXISTS (SELECT 1 FROM run_targets rt WHERE rt.run_seq = runs.seq AND rt.target = ? "
                         "AND rt.count > 0)")
            params.append(target)
        sql = ("SELECT seq, run_id, started, finished, run_dir, manifest_sha256, sealed, interrupted FROM runs "
               f"WHERE {' AND '.join(where)} ORDER BY started DESC, seq DESC")
        if limit is not None and check is None:
            sql += f" LIMIT {int(limit)}"
        with self._guard():
            rows = self._db.run(sql, params).fetchall()
            if check is None:
                counts = self._counts([int(r[0]) for r in rows], target)
            else:  # runs in which the check reported (on the target, when one is given)
                counts = self._check_counts(check, target)
                rows = [r for r in rows if int(r[0]) in counts][:limit]
        out = []
        for seq, run_id, started, finished, run_dir, manifest, sealed, interrupted in rows:
            per_target = counts.get(int(seq), {})
            total: Counter[str] = Counter()
            for c in per_target.values():
                total.update(c)
            out.append(RunSummary(
                run_id=run_id, started=_time(started), finished=_time(finished) if finished else None,
                run_dir=run_dir, manifest_sha256=manifest,
                counts=MappingProxyType({s.value: total.get(s.value, 0) for s in Status}),
                per_target=MappingProxyType({t: MappingProxyType(dict(c)) for t, c in sorted(per_target.items())}),
                sealed=bool(sealed), interrupted=bool(interrupted)))
        return out

    def _counts(self, seqs: Sequence[int], target: str | None) -> dict[int, dict[str, Counter[str]]]:
        """run seq -> target -> status -> count, from the per-run counts (no per-finding rows)."""
        out: dict[int, dict[str, Counter[str]]] = defaultdict(dict)
        for part in _chunks(seqs):
            marks = ", ".join("?" * len(part))
            params: list[Any] = list(part)
            sql = f"SELECT run_seq, target, status, count FROM run_targets WHERE run_seq IN ({marks}) AND count > 0"
            if target is not None:
                sql += " AND target = ?"
                params.append(target)
            for seq, name, status, n in self._db.run(sql, params).fetchall():
                out[int(seq)].setdefault(name, Counter())[status] += int(n)
        return out

    def _check_counts(self, check: str, target: str | None) -> dict[int, dict[str, Counter[str]]]:
        """run seq -> target -> status -> count of the findings of one check, rebuilt from their changes; only
        the runs in which the check reported."""
        out: dict[int, dict[str, Counter[str]]] = defaultdict(dict)
        for key, runs, changes in self._changes(target=target, check=check):
            for lo, hi, status in _spans(runs, changes):
                for _, seq in runs[lo:hi]:
                    out[seq].setdefault(key[0], Counter())[status.value] += 1
        return out

    def _timelines(self, targets: Sequence[str]) -> dict[str, list[Order]]:
        """target -> the runs that scanned it, in time order."""
        out: dict[str, list[Order]] = defaultdict(list)
        for part in _chunks(targets):
            marks = ", ".join("?" * len(part))
            for target, started, seq in self._db.run(
                    # CROSS JOIN: SQLite takes the runs first (it has no statistics to know that is better)
                    "SELECT DISTINCT rt.target, r.started, r.seq FROM runs r CROSS JOIN run_targets rt "
                    f"WHERE rt.run_seq = r.seq AND rt.target IN ({marks})", part).fetchall():
                out[target].append((str(started), int(seq)))
        for runs in out.values():
            runs.sort()
        return out

    def _changes(self, *, target: str | None = None, check: str | None = None, resource: str | None = None,
                 n: int | None = None) -> Iterator[tuple[FindingKey, list[Order], list[tuple[Order, str]]]]:
        """Every finding matching (ordered by target, check, resource, n) with the runs of its target and its
        changes, both in time order."""
        where, params = ["1 = 1"], []
        for column, value in (("f.target", target), ("f.check_id", check), ("f.resource", resource), ("f.n", n)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        rows = self._db.run(
            "SELECT f.target, f.check_id, f.resource, f.n, r.started, r.seq, c.status FROM changes c "
            "JOIN findings f ON f.id = c.finding_id JOIN runs r ON r.seq = c.run_seq "
            f"WHERE {' AND '.join(where)} ORDER BY f.target, f.check_id, f.resource, f.n, r.started, r.seq",
            params).fetchall()
        timelines = self._timelines(sorted({str(r[0]) for r in rows}))
        key: FindingKey | None = None
        changes: list[tuple[Order, str]] = []
        for t, c, res, index, started, seq, status in rows:
            this = (t, c, res, int(index))
            if this != key:
                if key is not None:
                    yield key, timelines[key[0]], changes
                key, changes = this, []
            changes.append(((str(started), int(seq)), status))
        if key is not None:
            yield key, timelines[key[0]], changes

    def findings(self, *, target: str | None = None, check: str | None = None, since: datetime | None = None,
                 resource: str | None = None) -> list[FindingHistory]:
        """The history of every finding (matching the filters), ordered by target, check, resource; with
        ``since`` over the runs started then or later only."""
        return self._histories(target=target, check=check, resource=resource, since=since)

    def finding(self, target: str, check: str, resource: str, n: int = 0) -> FindingHistory | None:
        """One finding's history (by its index: fast at any number of runs), or None when never seen."""
        found = self._histories(target=target, check=check, resource=resource, n=n)
        return found[0] if found else None

    def _histories(self, *, target: str | None = None, check: str | None = None, resource: str | None = None,
                   n: int | None = None, since: datetime | None = None) -> list[FindingHistory]:
        floor = _stamp(since) if since is not None else None
        times: dict[str, datetime] = {}

        def when(started: str) -> datetime:
            return times.get(started) or times.setdefault(started, _time(started))

        out = []
        with self._guard():
            for key, runs, changes in self._changes(target=target, check=check, resource=resource, n=n):
                segments = [Segment(first=when(runs[lo][0]), last=when(runs[hi - 1][0]), status=status, runs=hi - lo)
                            for lo, hi, status in _spans(runs, changes, floor)]
                if segments:
                    out.append(summarise(key, segments))
        return out

    def resolve(self, ref: str) -> Path:
        """``latest``, ``previous`` or a run id -> the run's directory (which must still exist)."""
        if ref in ("latest", "previous"):
            runs = self.runs(limit=2)
            index = 0 if ref == "latest" else 1
            if len(runs) <= index:
                raise HistoryError(f"history {self.where}: no {ref} run ({len(runs)} run(s) in the history)")
            path = Path(runs[index].run_dir)
        else:
            with self._guard():
                row = self._db.run("SELECT run_dir FROM runs WHERE run_id = ?", (ref,)).fetchone()
            if row is None:
                raise HistoryError(f"history {self.where}: no run {ref[:120]!r}")
            path = Path(row[0])
        if not path.is_dir():
            raise HistoryError(f"history {self.where}: the directory of run {ref[:120]!r} is gone: {path}")
        return path

    def expiring_waivers(self, within_days: int, *, today: date | None = None) -> list[WaiverExpiry]:
        """Waivers applied in the latest run that expire within ``within_days`` days of ``today`` (or have)."""
        latest = self.runs(limit=1)
        if not latest:
            return []
        today = today or utcnow().date()
        with self._guard():
            rows = self._db.run(
                "SELECT w.target, w.check_id, w.resource, w.reason, w.approved_by, w.expires FROM waivers w "
                "JOIN runs r ON r.seq = w.run_seq WHERE r.run_id = ? ORDER BY w.expires, w.target, w.check_id",
                (latest[0].run_id,)).fetchall()
        out = []
        for target, check_id, resource, reason, approved_by, expires in rows:
            try:
                left: int | None = (date.fromisoformat(expires[:10]) - today).days
            except ValueError:
                left = None
            if left is None or left <= within_days:
                out.append(WaiverExpiry(check_id=check_id, target=target, resource=resource, reason=reason,
                                        approved_by=approved_by, expires=expires, days_left=left,
                                        run_id=latest[0].run_id))
        return out

    def schema_version(self) -> int:
        with self._guard():
            return schema_version(self._db)


def _is_db_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return True
    module = type(exc).__module__ or ""
    return module.startswith("psycopg") or isinstance(exc, (OSError, UnicodeError))


# --- opening ------------------------------------------------------------------------------------------------------

@frozen
class PostgresSpec:
    """A PostgreSQL history URL without its secret: the password comes from ``password_env`` or libpq's pgpass."""

    url: str  # the URL given to libpq (no password, no password_env)
    shown: str  # for messages
    password_env: str | None


def parse_postgres(spec: str) -> PostgresSpec:
    parts = urlsplit(spec)
    if parts.password is not None:
        raise HistoryError("a password in the history URL would show in process lists and shell history: name an "
                           "environment variable with ?password_env=VAR, or use a pgpass file")
    query = parse_qsl(parts.query, keep_blank_values=True)
    password_env = next((v for k, v in query if k == "password_env"), None)
    if password_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", password_env):
        raise HistoryError("password_env must name an environment variable")
    rest = urlencode([(k, v) for k, v in query if k != "password_env"])
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, ""))
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return PostgresSpec(url=url, shown=f"postgresql://{user}{host}{port}{parts.path}", password_env=password_env)


def _open_postgres(spec: str) -> _Database:
    try:
        import psycopg
    except ImportError:
        raise HistoryError("a PostgreSQL history needs the psycopg package (pip install 'psycopg[binary]')") from None
    pg = parse_postgres(spec)
    password = ""
    kwargs: dict[str, Any] = {"connect_timeout": 10, "application_name": "gxpscan"}
    if pg.password_env is not None:
        password = os.environ.get(pg.password_env, "")
        if not password:
            raise HistoryError(f"history {pg.shown}: the environment variable {pg.password_env} (password_env) is "
                               "not set or empty")
        kwargs["password"] = password
    try:
        conn = psycopg.connect(pg.url, **kwargs)
    except psycopg.Error as exc:
        text = " ".join(str(exc).split())
        if password:
            text = text.replace(password, "***")
        raise HistoryError(f"history {pg.shown}: cannot connect: {text[:500]}") from None
    return _Database(conn, Backend.POSTGRESQL, pg.shown, password)


def _sqlite_file(path: Path) -> None:
    """Create the database file 0600 in a directory only we can write (scanner.safefs), or check the one there:
    a regular file, not a link, owned by us, not writable by others."""
    from scanner.safefs import OutputDir, OutputError

    try:
        with OutputDir.open(path.parent) as directory:
            try:
                os.close(directory.create(path.name))
            except FileExistsError:
                st = os.stat(path.name, dir_fd=directory.fd, follow_symlinks=False)
                if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
                    raise HistoryError(f"history {path}: not a regular file of yours that only you can write "
                                       "(a link, another owner, or group/other-writable); refusing it") from None
    except OutputError as exc:
        raise HistoryError(f"history {path}: {exc}") from None
    except OSError as exc:
        raise HistoryError(f"history {path}: {exc.strerror or exc}") from None


def _open_sqlite(path: Path, create: bool) -> _Database:
    if not create and not os.path.lexists(path):
        raise HistoryError(f"no history at {path}: nothing was indexed there yet (every scan adds its run; "
                           "`gxpscan history import DIR` adds existing runs)")
    _sqlite_file(path)
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=60, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise HistoryError(f"history {path}: {exc}") from None
    return _Database(conn, Backend.SQLITE, str(path))


def connect(spec: str | None, results_dir: Path, *, create: bool = True) -> _Database:
    """The database of a history spec, not migrated (see open_history)."""
    if spec is not None and len(spec) > MAX_SPEC:
        raise HistoryError(f"the history spec is longer than {MAX_SPEC} characters")
    if spec and spec.split("://", 1)[0] in ("postgresql", "postgres"):
        return _open_postgres(spec)
    if spec and "://" in spec and not spec.startswith("sqlite://"):
        raise HistoryError(f"unknown history {spec.split('://', 1)[0][:20]!r}: give a file path, sqlite:///PATH or "
                           "postgresql://USER@HOST:PORT/DB?password_env=VAR")
    if not spec:
        path = Path(results_dir) / DEFAULT_NAME
    else:
        path = Path(spec[len("sqlite://"):] if spec.startswith("sqlite://") else spec)
    return _open_sqlite(Path(os.path.abspath(path)), create)


def open_history(spec: str | None, results_dir: Path, *, create: bool = True) -> History:
    """Open (and migrate) a history: None -> ``<results_dir>/history.sqlite``; a path or ``sqlite:///PATH`` -> that
    SQLite file; ``postgresql://USER@HOST:PORT/DB[?password_env=VAR]`` -> PostgreSQL (password from the named
    environment variable, else libpq's pgpass file). ``create=False`` (readers): a SQLite file that does not
    exist is an error, not a new empty history."""
    db = connect(spec, results_dir, create=create)
    history = History(db)
    try:
        with history._guard():
            migrate(db)
    except BaseException:
        history.close()
        raise
    return history


def since_date(text: str) -> datetime:
    """A --since value: an ISO date or date-time (UTC when no zone is given), or N days ("30d")."""
    match = re.fullmatch(r"(\d{1,5})d", text.strip())
    if match:
        return utcnow() - timedelta(days=int(match.group(1)))
    try:
        return _utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise HistoryError(f"--since {text[:40]!r}: give an ISO date (2026-01-31), a date-time, or N days (30d)")\
            from None


def add_runs(history: History, paths: Sequence[Path],
             on_error: Callable[[HistoryError], None] | None = None) -> tuple[list[str], list[str]]:
    """Index every run directory under ``paths`` (run or results directories), oldest name first. Returns the run
    ids added or already there, and the refusals (each naming its directory). With ``on_error`` a refused run is
    reported and the others go on; without, the first refusal raises."""
    done: list[str] = []
    refused: list[str] = []

    def refuse(exc: HistoryError) -> None:
        if on_error is None:
            raise exc
        on_error(exc)
        refused.append(str(exc))

    for path in paths:
        try:
            found = run_dirs(Path(path))
        except HistoryError as exc:
            refuse(exc)
            continue
        if not found:
            refuse(HistoryError(f"{path}: not a run directory (no record.jsonl) and no run directories in it"))
        for run_dir in found:
            try:
                done.append(history.add_run(run_dir))
            except HistoryError as exc:
                refuse(exc)
    return done, refused


def to_json(runs: Sequence[RunSummary], findings: Sequence[FindingHistory]) -> dict[str, Any]:
    """The JSON form of ``gxpscan history`` (``"format": "gxpscan-history/1"``)."""
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "format": "gxpscan-history/1",
        "runs": [{"run_id": r.run_id, "started": when(r.started), "finished": when(r.finished),
                  "run_dir": r.run_dir, "manifest_sha256": r.manifest_sha256, "sealed": r.sealed,
                  "interrupted": r.interrupted, "counts": dict(r.counts),
                  "per_target": {t: dict(c) for t, c in r.per_target.items()}} for r in runs],
        "findings": [{"target": f.target, "check": f.check_id, "resource": f.resource, "status": f.status.value,
                      "first_seen": when(f.first_seen), "last_seen": when(f.last_seen),
                      "failing_since": when(f.failing_since), "fixed_on": when(f.fixed_on), "flaps": f.flaps,
                      "flapping": f.flapping, "runs": f.runs} for f in findings],
    }

