"""Shared test helpers.

Integration tests start real servers (tests/lab/) or need root. Every such test is marked ``lab`` (by its
place or by the fixtures it uses, below), so ``pytest -m "not lab"`` runs the unit and known-answer tests
alone, without root, in seconds. When a server cannot be started on a developer's laptop a lab test is
skipped with the reason; under CI (CI=true) the same situation is a failure, and so is any skipped lab test.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Fixtures that start a server or need root: a test that uses one (directly or through another fixture) is a
#: lab test. ``lab`` is the SSH lab of tests/lab and tests/connectors/test_ssh.py.
LAB_FIXTURES = frozenset({"lab", "slapd_lab", "samba_lab", "moto_lab", "sandbox", "root_facts", "aws_scan"})
LAB_DIR = Path(__file__).resolve().parent / "lab"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def lab_unavailable(reason: str) -> None:
    """Skip locally, fail in CI: a missing server is never silently skipped in CI."""
    if in_ci():
        pytest.fail(f"lab server unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"lab server unavailable: {reason}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark as ``lab`` every test under tests/lab/, every test that uses a lab fixture and every test marked
    ``root`` (it acts as root on this machine: chown, a local scan that reads root-only files)."""
    for item in items:
        if (LAB_DIR in Path(item.path).parents or LAB_FIXTURES & set(getattr(item, "fixturenames", ()))
                or item.get_closest_marker("root")):
            item.add_marker(pytest.mark.lab)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``root`` skips with the reason when not run as root (and fails so under CI)."""
    if item.get_closest_marker("root") and os.geteuid() != 0:
        lab_unavailable("this test acts as root on this machine (run as root)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI a lab test that skipped (not root, a server missing, whatever raised the skip) is a failure."""
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped and item.get_closest_marker("lab") and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"a lab test skipped under CI: {reason}"


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
