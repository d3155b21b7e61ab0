"""What changed against a git ref: files and new-side line ranges, for ``scan --diff-base REF``.

``changes(ref, where)`` runs ``git diff --no-color -U0 -M <commit>...`` in the repository holding ``where``, with an
argument list (never a shell), external diff drivers and text conversion off (a repository's ``.gitattributes``
cannot make us run its programs) and the prefixes and path display fixed whatever the user's git config says.
The ref is resolved first (``rev-parse --verify --end-of-options``), so a ref that looks like an option is only a
name, and an unknown ref or a directory outside git is a ``GitDiffError`` the CLI shows as an input error.

A resource is changed when its file is new or its line range meets a changed hunk. A hunk that only deletes
lines (``+c,0``) sits between new lines c and c+1 and counts as touching both: a resource that lost a line is
changed. Renames are followed (``-M``): hunks count on the new path, a pure rename changes no line.
"""
from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Bounds on what we read from git: a diff of this size is not a pull request.
MAX_DIFF_BYTES = 64 * 1024 * 1024
TIMEOUT_SECONDS = 120
_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


class GitDiffError(Exception):
    """The changes could not be determined (not a git repository, unknown ref, git failed)."""


@dataclass(frozen=True)
class FileChange:
    """One changed file: its path relative to the repository root, whether it is new, changed new-side lines."""

    path: str
    new: bool = False
    spans: tuple[tuple[int, int], ...] = ()  # inclusive new-side line ranges

    def touches(self, start: int | None, end: int | None) -> bool:
        if self.new or start is None:  # a new file, or a place in a changed file without lines: changed
            return True
        last = end if end is not None and end >= start else start
        return any(lo <= last and start <= hi for lo, hi in self.spans)


@dataclass(frozen=True)
class ChangeSet:
    """The changes of a repository against a commit."""

    root: Path  # the repository's top level, resolved
    base: str  # the commit the ref named
    files: Mapping[str, FileChange] = field(default_factory=dict)

    def relative(self, path: str | Path) -> str | None:
        """``path`` (absolute, or relative to the working directory) as a path inside the repository, else None."""
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    def touches(self, path: str | Path, start: int | None = None, end: int | None = None) -> bool:
        """Whether lines ``start``..``end`` of the file at ``path`` changed (any line when ``start`` is None)."""
        rel = self.relative(path)
        change = self.files.get(rel) if rel is not None else None
        return change is not None and change.touches(start, end)


def _git(args: list[str], cwd: Path) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=TIMEOUT_SECONDS, check=False,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise GitDiffError("git is not installed (needed for --diff-base)") from None
    except subprocess.TimeoutExpired:
        raise GitDiffError(f"git {args[0]} did not answer within {TIMEOUT_SECONDS} s") from None
    if proc.returncode != 0:
        first = proc.stderr.decode("utf-8", "replace").strip().split("\n")[0][:300]
        raise GitDiffError(first or f"git {args[0]} exited with {proc.returncode}")
    if len(proc.stdout) > MAX_DIFF_BYTES:
        raise GitDiffError(f"the diff is larger than {MAX_DIFF_BYTES // (1024 * 1024)} MiB; not read")
    return proc.stdout.decode("utf-8", "surrogateescape")


def changes(ref: str, where: str | Path = ".") -> ChangeSet:
    """The files and lines changed on HEAD since its merge base with ``ref``, in the repository holding ``where``."""
    place = Path(where)
    cwd = place if place.is_dir() else place.parent
    if not cwd.is_dir():
        raise GitDiffError(f"{where}: no such directory")
    try:
        top = _git(["rev-parse", "--show-toplevel"], cwd).rstrip("\n")
    except GitDiffError as exc:
        raise GitDiffError(f"{where} is not inside a git repository ({exc})") from None
    root = Path(top).resolve()
    try:
        base = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], root).strip()
    except GitDiffError:
        raise GitDiffError(f"unknown git ref {ref!r} in {root}") from None
    text = _git(["-c", "core.quotePath=true", "diff", "--no-color", "--no-ext-diff", "--no-textconv", "-U0", "-M",
                 "--no-relative", "--src-prefix=a/", "--dst-prefix=b/", f"{base}...", "--"], root)
    return ChangeSet(root=root, base=base, files={c.path: c for c in parse_diff(text)})


def unquote(name: str) -> str:
    """A path as git prints it: C-quoted (``"a/\\303\\274.tf"``) when it has special bytes, else as is."""
    if not (len(name) >= 2 and name[0] == '"' and name[-1] == '"'):
        return name
    out, body, i = bytearray(), name[1:-1], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if re.fullmatch(r"[0-7]{3}", body[i + 1:i + 4]):
                out.append(int(body[i + 1:i + 4], 8) & 0xFF)
                i += 4
                continue
        out.extend(ch.encode("utf-8", "surrogateescape"))
        i += 1
    return out.decode("utf-8", "surrogateescape")


def _side(value: str, prefix: str) -> str | None:
    """The path of a ``---``/``+++`` header (None for /dev/null); git ends a name holding a space with a tab."""
    value = value.rstrip("\t")
    if value == "/dev/null":
        return None
    value = unquote(value)
    return value[len(prefix):] if value.startswith(prefix) else value


def _same_name_header(rest: str) -> str | None:
    """The path of ``diff --git a/P b/P`` when both sides name the same unquoted P (an empty new file)."""
    if rest.startswith('"'):
        quoted = re.fullmatch(r'("(?:[^"\\]|\\.)*") ("(?:[^"\\]|\\.)*")', rest)
        if quoted:
            a, b = unquote(quoted.group(1)), unquote(quoted.group(2))
            return b[2:] if a[2:] == b[2:] and a.startswith("a/") and b.startswith("b/") else None
        return None
    half = (len(rest) - 5) // 2
    a, b = rest[2:2 + half], rest[half + 5:]
    return b if rest.startswith("a/") and rest[half + 2:half + 5] == " b/" and a == b else None


def _skip_body(lines: list[str], i: int, count: int) -> int:
    """Past a hunk's ``count`` body lines (never read as headers) and its "\\ No newline" markers."""
    while i < len(lines) and (count > 0 or lines[i].startswith("\\")):
        if not lines[i].startswith("\\"):
            count -= 1
        i += 1
    return i


def parse_diff(text: str) -> Iterator[FileChange]:
    """The changed files of ``git diff -U0`` output (split on ``\\n`` only; hunk bodies are counted, not parsed)."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if not lines[i].startswith("diff --git "):
            i += 1
            continue
        header_path = _same_name_header(lines[i][len("diff --git "):])
        new, deleted, path, spans = False, False, header_path, []
        i += 1
        while i < len(lines) and not lines[i].startswith("diff --git "):
            line = lines[i]
            i += 1
            if line.startswith("new file mode"):
                new = True
            elif line.startswith("deleted file mode"):
                deleted = True
            elif line.startswith("rename to "):
                path = unquote(line[len("rename to "):])
            elif line.startswith("+++ "):
                side = _side(line[4:], "b/")
                if side is not None:
                    path = side
            elif (m := _HUNK.match(line)) is not None:
                old_count = int(m.group(2)) if m.group(2) is not None else 1
                start = int(m.group(3))
                count = int(m.group(4)) if m.group(4) is not None else 1
                spans.append((start, start + count - 1) if count else (max(start, 1), start + 1))
                i = _skip_body(lines, i, old_count + count)
        if path is not None and not deleted:
            yield FileChange(path=path, new=new, spans=tuple(spans))

