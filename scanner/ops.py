"""Unattended operation: a scan lock, retention of old runs, and the ``latest`` link of a results directory.

- :class:`ScanLock` (``--lock FILE``): an exclusive ``flock`` on a file holding the owner's PID. The kernel drops
  the lock when its holder dies, so a lock left by a killed scan is free; the PID in it names the dead holder
  ("stale lock of PID N taken over"). The file is opened without following a symlink and must be the user's own.
- :func:`apply_retention` (``--keep N`` / ``--keep-days D``): deletes old run directories of the results
  directory. A run with a signature (a signed manifest or a reviewer/approver signature) is kept unless
  ``delete_signed``; the run just made is never deleted.
- :func:`update_latest`: ``latest`` -> the newest run, a relative symlink made under a temporary name inside the
  opened results directory and renamed over ``latest`` (never written through a path someone else controls).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from scanner.safefs import OutputDir, OutputError
from scanner.seal import SealError, manifests, read_manifest
from scanner.store import RECORD_NAME

LATEST = "latest"
#: Longest first line of a run record read to learn when the run started (the header with its clause list).
MAX_HEADER_BYTES = 16 * 1024 * 1024


class LockHeld(Exception):
    """Another live process holds the lock. The message names the file and the holder's PID."""


class OpsError(Exception):
    """A lock file, results directory or link that cannot be used safely. One line, for the operator."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


class ScanLock:
    """``with ScanLock(path) as lock:`` holds the lock for the block; ``lock.stale_pid`` is the PID of a dead
    holder whose lock was taken over (None when the lock was free or new)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.stale_pid: int | None = None
        self._fd = -1

    def acquire(self) -> ScanLock:
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise OpsError(f"lock file {self.path} is a symbolic link; refusing to use it") from None
            raise OpsError(f"cannot open lock file {self.path}: {exc.strerror or exc}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
                raise OpsError(f"lock file {self.path} is not a regular file of the user running gxpscan")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                raise LockHeld(f"another scan holds the lock {self.path}"
                               + (f" (PID {holder})" if holder else "")) from None
            previous = _read_pid(fd)
            if previous is not None and previous != os.getpid() and not _alive(previous):
                self.stale_pid = previous
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode())
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        """Empty the PID and drop the lock (the file stays: removing it would race with the next holder)."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ScanLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# --- the runs of a results directory ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RunDir:
    path: Path
    run_id: str
    started: datetime
    signed: bool


def _header(record: Path) -> tuple[str, datetime] | None:
    """Run id and start of a run record (its first line), or None when it is not a readable record."""
    try:
        with open(record, "rb", buffering=0) as fh, contextlib.closing(fh):
            fd = fh.fileno()
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            line = fh.readline(MAX_HEADER_BYTES)
        info = json.loads(line)["run"]
        started = datetime.fromisoformat(str(info["started"]))
        if started.tzinfo is None:
            started = started.replace(tzinfo=timezone.utc)
        return str(info["id"]), started
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def is_signed(run_dir: Path) -> bool:
    """A run with a key's signature on a manifest, or a reviewer's or approver's signature file. A manifest that
    cannot be read counts as signed (fail closed: retention keeps what it cannot judge)."""
    names = os.listdir(run_dir)
    if any(n.startswith("signature-") or n.endswith(".dsse.json") for n in names):
        return True
    for version in manifests(run_dir):
        try:
            if "signer" in read_manifest(run_dir, version).predicate:
                return True
        except (SealError, OSError):
            return True
    return False


def run_dirs(results_dir: Path) -> list[RunDir]:
    """The run directories directly under ``results_dir`` (real directories with a readable run record, never a
    symlink), newest first."""
    out = []
    try:
        children = list(os.scandir(results_dir))
    except OSError:
        return []
    for entry in children:
        if not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        head = _header(path / RECORD_NAME)
        if head is None or os.path.islink(path / RECORD_NAME):
            continue
        try:
            signed = is_signed(path)
        except OSError:
            signed = True
        out.append(RunDir(path, head[0], head[1], signed))
    return sorted(out, key=lambda r: (r.started, r.run_id), reverse=True)


def previous_run(results_dir: Path, current: Path) -> RunDir | None:
    """The newest run of ``results_dir`` started before ``current`` (None when there is none)."""
    runs = run_dirs(results_dir)
    here = [r for r in runs if r.path.name == current.name]
    if not here:
        return None
    older = [r for r in runs if (r.started, r.run_id) < (here[0].started, here[0].run_id)]
    return older[0] if older else None


# --- retention -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Retention:
    deleted: tuple[str, ...]  # run directory names
    kept_signed: tuple[str, ...]  # would have been deleted, but are signed (no --delete-signed)
    failed: tuple[str, ...]  # "name: why"


def expired(runs: Sequence[RunDir], *, keep: int | None, keep_days: int | None, now: datetime,
            protect: str = "") -> list[RunDir]:
    """The runs retention removes (newest-first input): beyond the newest ``keep``, or older than ``keep_days``.
    With both, a run goes when either says so. ``protect`` (a directory name) never goes."""
    out = []
    for i, r in enumerate(runs):
        old = ((keep is not None and i >= keep)
               or (keep_days is not None and r.started < now - timedelta(days=keep_days)))
        if old and r.path.name != protect:
            out.append(r)
    return out


def apply_retention(results_dir: Path, *, keep: int | None, keep_days: int | None, delete_signed: bool = False,
                    protect: Path | None = None, now: datetime | None = None) -> Retention:
    """Delete the expired runs of ``results_dir`` (see :func:`expired`); signed ones only with ``delete_signed``."""
    if keep is not None and keep < 1:
        raise OpsError("--keep must be at least 1 (the run just made is always kept)")
    if keep_days is not None and keep_days < 0:
        raise OpsError("--keep-days must not be negative")
    with _results(results_dir):  # the directory must be the user's own and not writable by others
        pass
    now = now or datetime.now(timezone.utc)
    deleted, kept, failed = [], [], []
    for r in expired(run_dirs(results_dir), keep=keep, keep_days=keep_days, now=now,
                     protect=protect.name if protect else ""):
        if r.signed and not delete_signed:
            kept.append(r.path.name)
            continue
        try:
            if os.path.islink(r.path):  # swapped for a link since it was listed: not ours to follow
                raise OSError(errno.ELOOP, "became a symbolic link")
            shutil.rmtree(r.path)  # fd-based on Linux: a symlink inside is removed, never followed
            deleted.append(r.path.name)
        except OSError as exc:
            failed.append(f"{r.path.name}: {exc.strerror or exc}")
    return Retention(tuple(deleted), tuple(kept), tuple(failed))


# --- the latest link -------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _results(results_dir: Path) -> Iterator[OutputDir]:
    try:
        directory = OutputDir.open(results_dir, create=False)
    except OutputError as exc:
        raise OpsError(str(exc)) from None
    with directory:
        yield directory


def update_latest(results_dir: Path, run_dir: Path) -> Path:
    """Point ``results_dir/latest`` at ``run_dir`` (which must be directly inside it). Made as a new relative link
    under a random name in the opened directory, then renamed over ``latest``; something other than a symlink
    at ``latest`` is refused, never replaced."""
    if run_dir.parent.resolve() != results_dir.resolve() or "/" in run_dir.name or run_dir.name in ("", ".", ".."):
        raise OpsError(f"{run_dir} is not directly inside {results_dir}: no latest link made")
    with _results(results_dir) as directory:
        try:
            st = os.stat(LATEST, dir_fd=directory.fd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISLNK(st.st_mode):
            raise OpsError(f"{results_dir / LATEST} exists and is not a symbolic link; not replaced")
        tmp = f".{LATEST}.{secrets.token_hex(6)}.tmp"
        try:
            os.symlink(run_dir.name, tmp, dir_fd=directory.fd)
            os.rename(tmp, LATEST, src_dir_fd=directory.fd, dst_dir_fd=directory.fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=directory.fd)
            raise OpsError(f"could not update {results_dir / LATEST}: {exc.strerror or exc}") from None
    return results_dir / LATEST
