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


def _lab_session(module_name: str, tmp_path_factory: pytest.TempPathFactory):
    """Start a lab once per test session, whichever test module asks first; stop it at the end."""
    import importlib

    lab_module = importlib.import_module(f"tests.lab.{module_name}")
    reason = lab_module.available()
    if reason:
        lab_unavailable(reason)
    lab = lab_module.start(tmp_path_factory.mktemp(module_name))
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="session")
def slapd_lab(tmp_path_factory):
    """Two real slapd servers with ppolicy and TLS (tests/lab/slapdlab.py)."""
    yield from _lab_session("slapdlab", tmp_path_factory)


@pytest.fixture(scope="session")
def samba_lab(tmp_path_factory):
    """Two real Samba AD domain controllers in their own network namespaces (tests/lab/sambalab.py)."""
    yield from _lab_session("sambalab", tmp_path_factory)


@pytest.fixture(scope="session")
def moto_lab(tmp_path_factory):
    """moto's AWS server over HTTP with a compliant and a non-compliant account (tests/lab/motolab.py)."""
    from tests.lab import motolab

    try:
        lab = motolab.start_moto(str(tmp_path_factory.mktemp("moto")))
    except RuntimeError as exc:
        lab_unavailable(str(exc))
    try:
        motolab.populate_compliant(lab)
        motolab.populate_noncompliant(lab)
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A throw-away sudo user inside a private mount namespace (tests/fixtures/linux/sandbox.py)."""
    from tests.fixtures.linux.sandbox import make_sandbox, unavailable

    why = unavailable()
    if why:
        lab_unavailable(why)
    return make_sandbox(tmp_path_factory.mktemp("sudo") / "sandbox")
