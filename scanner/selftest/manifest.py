"""The release manifest: SHA-256 of every file of the packages a wheel installs.

The build writes it (``setup.py``, into the wheel only); ``gxpscan selftest`` computes the hashes again on the
installed files. Standard library only: the build loads this file on its own, before any dependency exists.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

#: Absent in a source tree or an editable install (a development install).
MANIFEST_NAME = "release-manifest.json"
MANIFEST_FORMAT = "gxpscan-release-manifest/1"
RELEASE_PACKAGES = ("scanner", "checks", "reports")


def package_root() -> Path:
    """The directory holding the installed ``scanner``, ``checks`` and ``reports`` packages."""
    return Path(__file__).resolve().parents[2]


def file_hashes(root: Path, packages: Iterable[str] = RELEASE_PACKAGES) -> dict[str, str]:
    """SHA-256 of every file of the packages under ``root`` (bytecode caches excepted), by POSIX relative path.
    The build writes these into the release manifest; ``selftest`` computes them again."""
    out: dict[str, str] = {}
    for package in packages:
        for dirpath, dirnames, filenames in os.walk(root / package):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                path = Path(dirpath) / name
                rel = path.relative_to(root).as_posix()
                if name.endswith((".pyc", ".pyo")) or rel == f"scanner/selftest/{MANIFEST_NAME}":
                    continue
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def manifest_document(hashes: dict[str, str], version: str) -> bytes:
    return (json.dumps({"format": MANIFEST_FORMAT, "version": version, "files": hashes}, indent=1, sort_keys=True)
            + "\n").encode()
