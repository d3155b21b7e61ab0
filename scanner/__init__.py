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

#: The cyclic garbage collector's thresholds in gxpscan's own process (``scanner.__main__``, ``scanner.cli.entry``):
#: a collection after 200,000 net allocations of containers, as mypy sets for its own batch runs. A collection of
#: the youngest generation walks every object it holds (some 0.4 microseconds each): at the default 700, start-up
#: alone collected forty times; at 20,000 an IaC scan of 2,000 resources still collected twice, 8 ms each, and a
#: plan of 10,000 resources nine times, 68 ms, for almost no garbage (the objects of a scan live until its end).
#: A scan that allocates fewer never collects; a long fleet scan collects as before, in larger, rarer steps, its
#: cyclic garbage bounded by what 200,000 allocations can hold.
GC_THRESHOLDS = (200_000, 20, 20)
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
