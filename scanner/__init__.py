"""gxpscan: infrastructure compliance scanner and control tester for regulated IT.

The public API for check authors is re-exported here.
"""
from scanner.model import Area, Finding, Location, Severity, Status, error, failed, manual, not_applicable, passed  # noqa: F401
from scanner.registry import check  # noqa: F401

__version__ = "0.1.0"
__all__ = ["Area", "Finding", "Location", "Severity", "Status", "check", "error", "failed", "manual", "not_applicable",
           "passed", "__version__"]
