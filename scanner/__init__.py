"""gxpscan: infrastructure compliance scanner and control tester for regulated IT.

The public API for check authors is re-exported here, imported when first asked for (``from scanner import
check``): importing the package alone imports nothing else, so ``scanner.__main__`` can set up the process before
the command's modules load.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.model import Area, Finding, Location, Severity, Status, error, failed, manual, not_applicable, passed
    from scanner.registry import check

__version__ = "0.1.0"
__all__ = ["Area", "Finding", "Location", "Severity", "Status", "check", "error", "failed", "manual", "not_applicable",
           "passed", "__version__"]


def __getattr__(name: str) -> Any:
    """A name of ``__all__``, from the module that defines it (kept here once looked up)."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    found = getattr(importlib.import_module("scanner.registry" if name == "check" else "scanner.model"), name)
    globals()[name] = found
    return found
