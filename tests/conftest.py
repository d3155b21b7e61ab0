"""Shared test helpers.

Integration tests start real servers (tests/lab/). When a server cannot be started on a developer's
laptop the test is skipped with the reason; under CI (CI=true) the same situation is a failure.
"""
from __future__ import annotations

import os

import pytest


def lab_unavailable(reason: str) -> None:
    """Skip locally, fail in CI: a missing server is never silently skipped in CI."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"lab server unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"lab server unavailable: {reason}")
