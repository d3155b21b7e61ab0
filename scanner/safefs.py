"""Writing results safely: never through a symlink, never into a directory another user controls.

The run record and the reports hold account names, configuration and evidence. So:

- the output directory is opened once (``O_DIRECTORY|O_NOFOLLOW``) and every file is created relative to
  that open directory, so swapping the path for a symlink afterwards changes nothing;
- an existing output directory must be owned by the user running gxpscan and not writable by group or others;
- directories gxpscan creates are 0700, files 0600, whatever the umask;
- the run record is created with ``O_CREAT|O_EXCL|O_NOFOLLOW`` (never overwritten, never followed); a report
  is written to a new temporary file in the directory and renamed over its name, so a symlink planted at the
  report's name is replaced, never followed.

Faults raise :class:`OutputError` with a one-line message (the CLI exits 4, "could not write results").
"""
from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

DIR_MODE = 0o700
FILE_MODE = 0o600


class OutputError(Exception):
    """Results could not be written, or not safely. The message is one line, for the operator."""


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _owner(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (KeyError, ImportError):
        return f"uid {uid}"


def _make_dirs(path: Path) -> None:
    """Create the missing directories of ``path`` with mode 0700 (the umask does not widen or narrow it)."""
    missing = []
    probe = path
    while not os.path.lexists(probe):
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile; it is checked like any existing directory
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(fd, DIR_MODE)
        finally:
            os.close(fd)


class OutputDir:
    """An output directory, opened and checked once; files are created inside it by name only."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self.fd = fd

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> OutputDir:
        path = Path(path)
        try:
            if create:
                _make_dirs(path)
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and os.path.islink(path)):
                raise OutputError(f"output directory {path} is a symbolic link; give the real directory") from None
            raise OutputError(f"cannot use output directory {path}: {_describe(exc)}") from None
        try:
            st = os.fstat(fd)
            if st.st_uid != os.geteuid():
                raise OutputError(f"output directory {path} is owned by {_owner(st.st_uid)}, not by the user running "
                                  f"gxpscan ({_owner(os.geteuid())}); results are written only to your own directory")
            if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise OutputError(f"output directory {path} is writable by group or others (mode "
                                  f"{stat.S_IMODE(st.st_mode):04o}); use a directory only you can write to "
                                  f"(chmod go-w)")
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> OutputDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create(self, name: str) -> int:
        """A new file (0600) for writing; never follows a symlink, never replaces a file. FileExistsError if taken."""
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"not a plain file name: {name!r}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, FILE_MODE, dir_fd=self.fd)
        try:
            os.fchmod(fd, FILE_MODE)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @contextlib.contextmanager
    def replace(self, name: str) -> Iterator[TextIO]:
        """Write ``name`` as a whole: a temporary file in this directory, renamed over ``name`` when complete.

        A symlink (or anything) at ``name`` is replaced, never followed. On a fault nothing is left behind.
        """
        tmp = f".{name}.{os.urandom(6).hex()}.tmp"
        try:
            fh = os.fdopen(self.create(tmp), "w", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"could not write {self.path / name}: {_describe(exc)}") from None
        try:
            with fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.rename(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=self.fd)
            if isinstance(exc, OSError):
                raise OutputError(f"could not write {self.path / name}: {_describe(exc)}") from None
            raise


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (a short write is retried; a fault raises OSError)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
