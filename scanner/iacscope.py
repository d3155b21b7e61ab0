"""``scan --iac PATH...`` and ``scan --diff-base REF``: which code is scanned, and which of its findings are kept.

``iac_document(paths)`` is the in-memory inventory of the shortcut: one ``type: iac`` target per path, named
after the path with every character the inventory does not allow in a name replaced (``infra/prod`` ->
``infra_prod``; an absolute path or one with ``..`` is named as seen from the working directory, or by its last
component when outside it), never empty, unique (``-2``, ``-3`` ...) and bounded in length.

``DiffScope`` keeps the findings on code resources changed against a git ref (``scanner.gitdiff``): a finding whose
file is new, or whose line range meets a changed hunk. A finding without a usable location (an error of the whole
target, an account-wide fact such as "no password policy in this code", a location refused as outside the
repository) cannot be placed on a line: it is kept when any file of its target changed, so a change that
removes a resource still shows what it broke, and left out otherwise. Errors are always kept (fail closed).
Findings of other target types are not touched.
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.model import Platform, Result, Status, Target

if TYPE_CHECKING:
    from scanner.gitdiff import ChangeSet
    from scanner.runner import TargetOutcome

MAX_NAME = 64
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_.@-]+")


def target_name(path: str, taken: Iterable[str] = ()) -> str:
    """A safe, unique inventory name for the code at ``path``."""
    text = path.replace("\\", "/")
    if text.startswith("/") or ".." in text.split("/"):  # shown from the working directory, else by its last name
        rel = os.path.relpath(os.path.realpath(path)).replace("\\", "/")
        text = rel if not rel.startswith("..") else os.path.basename(os.path.realpath(path))
    text = text.strip("/")
    if text in (".", ""):
        text = os.path.basename(os.path.realpath(path))
    name = _NOT_IN_NAME.sub("_", text).strip("._-")[:MAX_NAME] or "code"
    used, candidate, n = set(taken), name, 1
    while candidate in used:
        n += 1
        suffix = f"-{n}"
        candidate = name[:MAX_NAME - len(suffix)] + suffix
    return candidate


def iac_document(paths: Sequence[str]) -> dict[str, Any]:
    """The inventory of ``scan --iac PATH...``: one code target per path."""
    targets: list[dict[str, Any]] = []
    for path in paths:
        name = target_name(path, (t["name"] for t in targets))
        targets.append({"name": name, "type": Platform.IAC.value, "path": path})
    return {"version": 1, "targets": targets}


def _code_root_and_paths(target: Target) -> tuple[Path, tuple[Path, ...]]:
    from scanner.connectors.iac import code_paths

    found = code_paths(target.options)
    return found.root, found.paths


@dataclass
class DiffScope:
    """The changes against ``ref`` of every repository holding a code target, and the filter they make."""

    ref: str
    changes: dict[str, ChangeSet] = field(default_factory=dict)  # target name -> its repository's changes
    roots: dict[str, Path] = field(default_factory=dict)  # target name -> the root its locations are relative to
    paths: dict[str, tuple[Path, ...]] = field(default_factory=dict)  # target name -> its scanned paths

    @classmethod
    def for_targets(cls, ref: str, targets: Iterable[Target]) -> DiffScope:
        """Raises ``scanner.gitdiff.GitDiffError`` (not a repository, unknown ref) before anything is scanned."""
        from scanner.gitdiff import changes

        scope, by_repo = cls(ref), {}
        for t in targets:
            if t.type is not Platform.IAC:
                continue
            root, paths = _code_root_and_paths(t)
            key = str(root)
            if key not in by_repo:
                by_repo[key] = changes(ref, root)
            scope.changes[t.name], scope.roots[t.name], scope.paths[t.name] = by_repo[key], root, paths
        return scope

    def _target_changed(self, name: str) -> bool:
        cs = self.changes[name]
        changed = [cs.root / p for p in cs.files]
        return any(c == p or p in c.parents for c in changed for p in self.paths[name])

    def keeps(self, r: Result, target_changed: bool) -> bool:
        from reports.location import code_path

        if r.status is Status.ERROR:
            return True
        loc = r.location
        safe = code_path(loc.path) if loc is not None else None
        if loc is None or safe is None:
            return target_changed
        return self.changes[r.target].touches(self.roots[r.target] / safe, loc.start_line, loc.end_line)

    def apply(self, outcome: TargetOutcome) -> tuple[TargetOutcome, int]:
        """``outcome`` with only the findings on changed code, and how many were left out."""
        if outcome.target.name not in self.changes:
            return outcome, 0
        changed = self._target_changed(outcome.target.name)
        kept = tuple(r for r in outcome.results if self.keeps(r, changed))
        left_out = len(outcome.results) - len(kept)
        if not left_out:
            return outcome, 0
        note = (f"--diff-base {self.ref}: {left_out} finding(s) on code not changed since "
                f"{self.changes[outcome.target.name].base[:12]} left out")
        return dataclasses.replace(outcome, results=kept, warnings=(*outcome.warnings, note)), left_out


def code_targets(targets: Iterable[Target]) -> list[Target]:
    return [t for t in targets if t.type is Platform.IAC]

