"""Files shipped inside gxpscan's packages (schemas, framework catalogs, the risk matrix, the PowerShell script).

``files(package)`` is ``importlib.resources.files(package)`` without its import cost where it is not needed:
``importlib.resources`` imports ``tempfile`` and ``zipfile`` (and ``shutil``, ``random``, ``bz2``, ``lzma`` behind
them), some 15 ms of every scan's start, for packages that are plain folders in every install (a wheel, a checkout,
an editable install). For a package in a folder the answer is that folder, the very ``Path`` ``importlib.resources``
returns for it (``tests/engine/test_startup.py`` compares them); a package anywhere else (a zip archive, a custom
loader) is asked of ``importlib.resources``.
"""
from __future__ import annotations

import importlib
import importlib.machinery
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.abc import Traversable

_IN_A_FOLDER = (importlib.machinery.SourceFileLoader, importlib.machinery.SourcelessFileLoader)


def files(package: str) -> Traversable:
    """The files of ``package`` (``joinpath``, ``read_text``, ``iterdir``, ...)."""
    spec = importlib.import_module(package).__spec__
    if spec is not None and spec.origin and spec.submodule_search_locations is not None \
            and isinstance(spec.loader, _IN_A_FOLDER):
        return Path(spec.origin).parent
    from importlib import resources

    return resources.files(package)
