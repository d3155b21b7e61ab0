"""gxpscan's private cache folder (``$XDG_CACHE_HOME/gxpscan``, else ``~/.cache/gxpscan``): what a start keeps for
the next one (the validated catalog parse, validated documents, entry points, the check index, compiled
``__init__`` code), each trusted only when the folder and the file belong to the user running gxpscan and nobody
else can write them. Anything else reads as absent: the caller then does the work in full. Only the stdlib."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any


def cache_dir() -> Path | None:
    """The cache folder; None when ``GXPSCAN_NO_CACHE`` is set or no home is known."""
    if os.environ.get("GXPSCAN_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home directory
            return None
    return Path(base) / "gxpscan"


def _private(fd: int, kind: int) -> bool:
    """The open file or folder is of ``kind`` (stat.S_IFDIR/S_IFREG), ours, and writable by nobody else."""
    st = os.fstat(fd)
    return stat.S_IFMT(st.st_mode) == kind and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _open_cache_dir(cache: Path, create: bool) -> int | None:
    if create:
        os.makedirs(cache, mode=0o700, exist_ok=True)
    fd = os.open(cache, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    if _private(fd, stat.S_IFDIR):
        return fd
    os.close(fd)
    return None


def read_private_bytes(cache: Path, filename: str, max_bytes: int) -> bytes | None:
    """The bytes of ``cache/filename``, or None when it is absent, not ours, writable by another user, a symbolic
    link (the folder or the file) or larger than ``max_bytes``."""
    try:
        dir_fd = _open_cache_dir(cache, create=False)
        if dir_fd is None:
            return None
        try:
            fd = os.open(filename, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
        with os.fdopen(fd, "rb") as fh:
            if not _private(fh.fileno(), stat.S_IFREG) or os.fstat(fh.fileno()).st_size > max_bytes:
                return None
            data = fh.read(max_bytes + 1)
            return data if len(data) <= max_bytes else None
    except OSError:
        return None


def read_private_json(cache: Path, filename: str, max_bytes: int) -> Any:
    """The JSON document of ``cache/filename`` (as ``read_private_bytes`` finds it), or None: also when it is not
    JSON."""
    data = read_private_bytes(cache, filename, max_bytes)
    try:
        return None if data is None else json.loads(data)
    except ValueError:
        return None


def write_private(cache: Path, filename: str, content: str | bytes) -> None:
    """Replace ``cache/filename`` atomically with ``content`` (text as UTF-8), in a folder private to us (made
    0700), as a file of mode 0600; silently nothing on any I/O fault or when the folder is not private to us."""
    tmp = f".{filename}.{os.getpid()}.tmp"
    try:
        data = content.encode("utf-8") if isinstance(content, str) else content
        dir_fd = _open_cache_dir(cache, create=True)
        if dir_fd is None:
            return
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, filename, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except OSError:
                os.unlink(tmp, dir_fd=dir_fd)
                raise
        finally:
            os.close(dir_fd)
    except (OSError, UnicodeError):
        return
