"""Infrastructure-as-code files: the transport behind ``type: iac`` targets.

The files of a code target are hostile input like any target's answer. This connector is the only place that
reads them, and it:

- never reads outside ``root`` (a symlink whose real path leaves the root is refused and named, never followed);
- reads at most ``max_file_bytes`` per file (default 64 MiB; YAML is bounded at 16 MiB by the strict loader): a
  larger file is an error for the resources its first ``max_file_bytes`` name, and a run warning;
- lists directories without following symlinked directories, in a stable order, skipping ``.git``,
  ``.terraform`` and ``node_modules``, and at most ``MAX_FILES`` files.

Paths given relative are taken from the current directory; ``root`` defaults to the git top level of the first
path (the nearest parent holding ``.git``), else the path itself (its directory for a file).
"""
from __future__ import annotations

import errno
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from scanner.model import Target
from scanner.value import frozen

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024  # a plan JSON of 10,000 resources is tens of MB
MAX_FILES = 20_000
#: File names the collector reads (Terraform, tfvars, plan JSON, CloudFormation YAML/JSON templates).
SUFFIXES = (".tf", ".tfvars", ".json", ".yaml", ".yml", ".template")
SKIP_DIRS = frozenset({".git", ".terraform", "node_modules", "__pycache__"})


#: ``os.open`` of a file: never through a symlink, never blocking (a FIFO).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
#: What ``os.open`` with ``O_NOFOLLOW`` fails with when the name is a symlink (Linux and macOS; FreeBSD).
_SYMLINK_ERRNOS = frozenset({errno.ELOOP, errno.EMLINK})


def _read_fd(fd: int, bound: int) -> bytes:
    """At most ``bound + 1`` bytes of an open file (one more than the bound tells a larger file), in a buffer the
    file's size rather than the bound's (a read of ``bound + 1`` allocates that much each time)."""
    size = os.fstat(fd).st_size
    want = min(size, bound) + 1
    chunks = []
    got = 0
    while True:
        chunk = os.read(fd, want - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
        if got == want:
            if got > size and want <= bound:  # it grew, or its size is not known (st_size 0): the rest, to the bound
                want = bound + 1
                continue
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class IacPathError(ValueError):
    """A path of a code target is missing or outside its root; ``key`` names the inventory option."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


class FileRefused(OSError):
    """A file could not be read safely (outside the root, too large, unreadable); the message says why (without
    the path: the caller names it)."""


@frozen
class CodePaths:
    root: Path  # real path
    paths: tuple[Path, ...]  # real paths, each inside root
    tfvars: tuple[Path, ...] = ()


def _git_top(start: Path) -> Path | None:
    for parent in (start, *start.parents):
        if (parent / ".git").exists():
            return parent
    return None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def code_paths(options: Mapping[str, Any]) -> CodePaths:
    """The real root and paths of a code target; raises IacPathError naming the option at fault."""
    raw = options.get("path")
    given = [raw] if isinstance(raw, str) else list(raw or [])
    if not given:
        raise IacPathError("path", "no path given")
    paths = []
    for i, p in enumerate(given):
        key = "path" if isinstance(raw, str) else f"path[{i}]"
        if not os.path.lexists(p):
            raise IacPathError(key, f"{p}: no such file or directory")
        paths.append((key, Path(os.path.realpath(p))))
    if options.get("root"):
        root = Path(os.path.realpath(str(options["root"])))
        if not root.is_dir():
            raise IacPathError("root", f"{options['root']}: not a directory")
    else:
        first = paths[0][1]
        base = first if first.is_dir() else first.parent
        root = _git_top(base) or base
    for key, p in paths:
        if not _inside(p, root):
            raise IacPathError(key, f"{p} is outside the root {root}")
    tfvars = []
    for i, t in enumerate(options.get("tfvars") or []):
        real = Path(os.path.realpath(str(t)))
        if not real.is_file():
            raise IacPathError(f"tfvars[{i}]", f"{t}: no such file")
        if not _inside(real, root):
            raise IacPathError(f"tfvars[{i}]", f"{real} is outside the root {root}")
        tfvars.append(real)
    return CodePaths(root, tuple(p for _, p in paths), tuple(tfvars))


class IacConnector:
    """Reads the files of one code target, confined to its root."""

    def __init__(self, target: Target):
        self.target = target
        try:
            self.code = code_paths(target.options)
        except IacPathError as exc:
            from scanner.connectors import ConnectorError

            raise ConnectorError(f"{exc.key}: {exc}") from None
        self.max_bytes = int(target.opt("max_file_bytes", DEFAULT_MAX_FILE_BYTES))
        self.refused: list[tuple[str, str]] = []  # (relative path, why) of entries not followed
        self.memo: dict[Any, Any] = {}  # what a collector parsed once in this scan (scanner.collectors.iac)
        self._real_dirs: dict[str, str] = {}  # directory -> its real path (each resolved once per scan)
        self._root_text = str(self.code.root)
        # what a real path inside the root starts with: the root and a separator ("/" for the root "/")
        self._root_prefix = os.path.join(self._root_text, "")

    def __enter__(self) -> IacConnector:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    @property
    def root(self) -> Path:
        return self.code.root

    def rel(self, path: Path) -> str:
        """A path relative to the root, with forward slashes (as SARIF and code hosts want it)."""
        absolute = os.path.abspath(path)
        rest = absolute[len(self._root_prefix):]
        if rest and not rest.startswith(os.sep) and absolute.startswith(self._root_prefix):  # on the text alone
            return rest.replace(os.sep, "/")
        try:
            return Path(absolute).relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def _real(self, path: Path) -> str:
        """``os.path.realpath`` of a path that is not a symlink itself: its directory's real path (each directory
        resolved once per scan) plus its name."""
        parent, name = os.path.split(os.fspath(path))
        if name in ("", ".", ".."):
            return os.path.realpath(path)
        parent = parent or "."
        real_parent = self._real_dirs.get(parent)
        if real_parent is None:
            real_parent = self._real_dirs[parent] = os.path.realpath(parent)
        return os.path.join(real_parent, name)

    def _within(self, real: str) -> bool:
        """Whether the real path ``real`` is the root or inside it (on the text: both are real and normalised)."""
        return real == self._root_text or real.startswith(self._root_prefix)

    def _confined(self, real: str) -> str:
        if not self._within(real):
            raise FileRefused(f"leads outside the root ({real}); not followed")
        return real

    def _real_confined(self, path: Path) -> str:
        """The real path of ``path`` (a symlink followed) if it stays inside the root; FileRefused otherwise."""
        try:
            link = os.path.islink(path)
        except OSError:
            link = True
        return self._confined(os.path.realpath(path) if link else self._real(path))

    def confined(self, path: Path) -> Path:
        """The real path of ``path`` if it stays inside the root; FileRefused otherwise."""
        return Path(self._real_confined(path))

    def read(self, path: Path, *, head: bool = False) -> bytes:
        """A file's bytes: inside the root, at most ``max_bytes``; FileRefused says why not. ``head``: the first
        ``max_bytes`` of a larger file instead of refusing it (to name the resources it starts with).

        The file is opened without following a symlink (``O_NOFOLLOW``) at its directory's real path: what opens is
        no symlink, inside the root when that directory is. A symlink (the open refuses it) goes the long way: its
        real path, confined to the root, then opened the same way."""
        real = self._real(path)
        if not self._within(real):  # outside, unless a symlink leads in
            real = self._real_confined(path)
        try:
            fd = os.open(real, _OPEN_FLAGS)
        except OSError as exc:
            if exc.errno not in _SYMLINK_ERRNOS:
                raise FileRefused(f"cannot read: {exc.strerror}") from None
            fd = -1
        if fd < 0:  # the name is a symlink: where it leads
            real = self._confined(os.path.realpath(path))
            try:
                fd = os.open(real, _OPEN_FLAGS)
            except OSError as exc:
                raise FileRefused(f"cannot read: {exc.strerror}") from None
        try:
            data = _read_fd(fd, self.max_bytes)
        except OSError as exc:
            raise FileRefused(f"cannot read: {exc.strerror}") from None
        finally:
            os.close(fd)
        if len(data) > self.max_bytes and head:
            return data[:self.max_bytes]
        if len(data) > self.max_bytes:
            raise FileRefused(f"larger than {self.max_bytes} bytes (max_file_bytes); not read")
        return data

    def named(self, directory: Path, suffix: str) -> list[Path]:
        """The entries of ``directory`` whose names end with ``suffix``, in name order: what
        ``sorted(directory.glob("*" + suffix))`` gives, without a path object made and compared per entry of the
        directory. Nothing when it is not a directory or cannot be listed."""
        try:
            with os.scandir(directory) as listing:
                names = sorted(entry.name for entry in listing if entry.name.endswith(suffix))
        except OSError:
            return []
        return [directory / name for name in names]

    def files(self, base: Path) -> Iterator[Path]:
        """Candidate files under ``base`` (or ``base`` itself), sorted; symlinks leaving the root are refused."""
        if not os.path.isdir(base):
            yield base
            return
        count = 0
        for directory, entries in _walk(os.fspath(base)):
            for entry in entries:
                path = Path(directory, entry.name)
                if entry.is_symlink():
                    try:
                        self.confined(path)
                    except FileRefused as exc:
                        self.refused.append((self.rel(path), str(exc)))
                        continue
                count += 1
                if count > MAX_FILES:
                    self.refused.append((self.rel(base), f"more than {MAX_FILES} files; the rest not read"))
                    return
                yield path


def _walk(top: str) -> Iterator[tuple[str, list[os.DirEntry[str]]]]:
    """``os.walk(top)`` without following symlinked directories, in name order, skipping ``SKIP_DIRS``: each
    directory with its candidate files (not directories, names ending in ``SUFFIXES``), as directory entries (a
    symlink is told without a system call per file). A directory that cannot be listed has nothing. Depth first
    from a stack, not by recursion: a tree nested deeper than Python's recursion limit is walked too."""
    pending = [top]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=_name)
        except OSError:
            continue
        files, dirs = [], []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # a symlink to a directory too (os.walk lists it with the directories)
            except OSError:
                is_dir = False
            if not is_dir:
                if entry.name.endswith(SUFFIXES):
                    files.append(entry)
            elif entry.name not in SKIP_DIRS and not _is_link(entry):
                dirs.append(entry.path)
        yield directory, files
        pending.extend(reversed(dirs))  # the first subdirectory next, as os.walk goes


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _is_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False
