"""Where a finding is, as every report shows it: one place decides, SARIF, JUnit and JSON only render it.

A host file (``/etc/login.defs``) is shown as collected. A finding on code (a target of type ``iac``) names a file
*inside the scanned repository*: its path is relative, and a path that could point outside the repository once
a consumer resolves it (``../``, an absolute or drive path, a UNC or URI, backslash separators that mean ``/`` on
Windows, any of these percent-encoded) is refused: the finding keeps its resource name, loses the physical
location, and says why. Backslashes become ``/`` and ``a/./b`` or ``a/x/../b`` are normalised, so every report
shows the same repository-relative path.
"""
from __future__ import annotations

import functools
import posixpath
import re
from urllib.parse import unquote

from scanner.model import Location, Result
from scanner.value import frozen

CODE_TARGET = "iac"
_ABSOLUTE = re.compile(r"^(?:/|[A-Za-z]:|[A-Za-z][A-Za-z0-9+.-]*:|~)")
_MAX_DECODE = 4  # "%252e" decodes twice; deeper nesting is refused rather than followed


@frozen
class Place:
    """A finding's location for reports: ``location`` (None when there is none or it was refused), whether it is
    in code (relative to the repository root) and, for a refused one, why."""

    location: Location | None
    in_code: bool = False
    refused: str = ""


def _escapes(path: str) -> bool:
    """Whether ``path`` (already with ``/`` separators) leaves the directory it is relative to."""
    if not path or _ABSOLUTE.match(path):
        return True
    normal = posixpath.normpath(path)
    return normal in (".", "..") or normal.startswith("../")


@functools.lru_cache(maxsize=4096)  # a pure function of the string; a report asks for each file's path per finding
def code_path(path: str) -> str | None:
    """``path`` as a normalised path inside the repository, or None when it is not one (see the module doc)."""
    if "\0" in path:
        return None
    forms, current = [path], path
    for _ in range(_MAX_DECODE):
        decoded = unquote(current, errors="surrogateescape")
        if decoded == current:
            break
        forms.append(decoded)
        current = decoded
    else:
        if unquote(current, errors="surrogateescape") != current:
            return None
    if any(_escapes(form.replace("\\", "/")) for form in forms):
        return None
    return posixpath.normpath(path.replace("\\", "/"))


def place(r: Result) -> Place:
    """The location of ``r`` as reports show it."""
    if r.target_type != CODE_TARGET:
        return Place(r.location)
    loc = r.location
    if loc is None:  # a code finding from before Location: "path:line" in the resource
        path, sep, line = r.resource.rpartition(":")
        if not sep or not line.isdigit() or not path:
            return Place(None, in_code=True)
        loc = Location(path, int(line))
    safe = code_path(loc.path)
    if safe is None:
        return Place(None, in_code=True, refused=f"location {loc.path!r} is not a path inside the repository; "
                                                 "not shown as a file")
    return Place(loc if safe == loc.path else Location(safe, loc.start_line, loc.end_line), in_code=True)
