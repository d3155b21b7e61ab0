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
        self._real_dirs: dict[Path, Path] = {}  # directory -> its real path (each resolved once per scan)

    def __enter__(self) -> IacConnector:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    @property
    def root(self) -> Path:
        return self.code.root

    def rel(self, path: Path) -> str:
        """A path relative to the root, with forward slashes (as SARIF and code hosts want it)."""
        try:
            return Path(os.path.abspath(path)).relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def _realpath(self, path: Path) -> Path:
        """``os.path.realpath``, resolving each directory once: a name that is not a symlink is its real
        directory's real path plus the name (anything else, or a name that cannot be examined, goes the long
        way)."""
        name, parent = path.name, path.parent
        if name in ("", ".", "..") or parent == path:
            return Path(os.path.realpath(path))
        try:
            if os.path.islink(path):
                return Path(os.path.realpath(path))
        except OSError:
            return Path(os.path.realpath(path))
        real_parent = self._real_dirs.get(parent)
        if real_parent is None:
            real_parent = self._real_dirs[parent] = Path(os.path.realpath(parent))
        return real_parent / name

    def confined(self, path: Path) -> Path:
        """The real path of ``path`` if it stays inside the root; FileRefused otherwise."""
        real = self._realpath(path)
        if not _inside(real, self.root):
            raise FileRefused(f"leads outside the root ({real}); not followed")
        return real

    def read(self, path: Path, *, head: bool = False) -> bytes:
        """A file's bytes: inside the root, at most ``max_bytes``; FileRefused says why not. ``head``: the first
        ``max_bytes`` of a larger file instead of refusing it (to name the resources it starts with)."""
        real = self.confined(path)
        try:
            fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise FileRefused(f"cannot read: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "rb") as fh:
                # a buffer the file's size, not the bound (a read of max_bytes + 1 allocates that much each time)
                size = os.fstat(fd).st_size
                data = fh.read(min(size, self.max_bytes) + 1)
                if len(data) > size:  # it grew, or its size is not known (st_size 0): the rest, up to the bound
                    data += fh.read(self.max_bytes + 1 - len(data))
        except OSError as exc:
            raise FileRefused(f"cannot read: {exc.strerror}") from None
        if len(data) > self.max_bytes and head:
            return data[:self.max_bytes]
        if len(data) > self.max_bytes:
            raise FileRefused(f"larger than {self.max_bytes} bytes (max_file_bytes); not read")
        return data

    def files(self, base: Path) -> Iterator[Path]:
        """Candidate files under ``base`` (or ``base`` itself), sorted; symlinks leaving the root are refused."""
        if not base.is_dir():
            yield base
            return
        count = 0
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if not name.endswith(SUFFIXES):
                    continue
                if path.is_symlink():
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
