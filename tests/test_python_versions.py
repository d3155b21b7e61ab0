"""The supported Python versions are stated once in meaning and agree everywhere they are written down.

requires-python decides who can install; the classifiers say what is tested and drive scripts/test.sh (one venv
and one test run per classifier); tox has an environment per version; the README says the same. A version
added or dropped in one place only fails here.
"""
from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text()


def classifier_versions() -> list[tuple[int, int]]:
    found = re.findall(r'"Programming Language :: Python :: 3\.(\d+)"', pyproject())
    return sorted((3, int(minor)) for minor in found)


def requires_python() -> SpecifierSet:
    match = re.search(r'^requires-python\s*=\s*"([^"]+)"', pyproject(), re.M)
    assert match, "pyproject.toml has no requires-python"
    return SpecifierSet(match.group(1))


def installable_minors(spec: SpecifierSet) -> list[tuple[int, int]]:
    """Every 3.x that requires-python admits, judged on its first and on a late patch release."""
    return [(3, minor) for minor in range(0, 40)
            if Version(f"3.{minor}.0") in spec or Version(f"3.{minor}.99") in spec]


def test_requires_python_admits_exactly_the_classified_versions():
    versions = classifier_versions()
    assert versions == [(3, 10), (3, 11), (3, 12), (3, 13)]
    assert installable_minors(requires_python()) == versions
    assert Version("3.9.18") not in requires_python() and Version("3.14.0") not in requires_python()


def test_tox_has_an_environment_per_supported_version():
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    envlist = {e.strip() for e in tox["tox"]["envlist"].replace("\n", ",").split(",") if e.strip()}
    pyenvs = sorted(e for e in envlist if re.fullmatch(r"py3\d+", e))
    assert pyenvs == [f"py3{minor}" for _, minor in classifier_versions()]
    assert {"lint", "mypy"} <= envlist and tox.has_section("testenv:test")


def test_readme_states_the_supported_versions():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Supported Python", 1)[1].split("\n## ", 1)[0]
    stated = sorted((3, int(m)) for m in re.findall(r"\b3\.(\d+)\b", section.split("\n\n", 2)[1]))
    assert stated == classifier_versions()


def test_the_tools_target_the_oldest_supported_version():
    oldest = classifier_versions()[0]
    text = pyproject()
    assert re.search(rf'^target-version = "py3{oldest[1]}"$', text, re.M)
    assert re.search(rf'^python_version = "3\.{oldest[1]}"$', text, re.M)


def test_this_interpreter_is_a_supported_one():
    assert sys.version_info[:2] in classifier_versions(), sys.version
