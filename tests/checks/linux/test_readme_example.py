"""The README's "Writing a check" example is a real file that runs, and the README shows it byte for byte."""
from __future__ import annotations

import re
from pathlib import Path

from scanner.model import Location, Status
from scanner.registry import spec_of
from scanner.runner import evaluate
from tests.checks.linux import readme_example
from tests.checks.linux.factories import login_defs
from tests.factories import make_fact, make_target

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = Path(readme_example.__file__)


def readme_python_block() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Writing a check"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```\n", section, flags=re.S)
    assert len(blocks) == 1
    return str(blocks[0])


def test_the_readme_shows_the_example_file_byte_for_byte():
    assert readme_python_block().encode() == EXAMPLE.read_bytes()


def _run(defs_value: object, **policy: object) -> list:
    spec = spec_of(readme_example.max_age)
    assert spec.facts == ("linux.login_defs",) and dict(spec.params) == {"password_max_age_days": 90}
    return evaluate(spec, {"linux.login_defs": make_fact("linux.login_defs", defs_value)}, make_target(policy=policy))


def test_the_example_passes_and_fails_on_facts_from_factories():
    (ok,) = _run(login_defs(PASS_MIN_DAYS="1", PASS_MAX_DAYS="60"))
    assert (ok.status, ok.message, dict(ok.observed)) == (Status.PASS, "PASS_MAX_DAYS is 60", {"PASS_MAX_DAYS": 60})
    assert ok.location == Location("/etc/login.defs", 2)
    (too_long,) = _run(login_defs(PASS_MAX_DAYS="99999"))
    assert (too_long.status, dict(too_long.observed)) == (Status.FAIL, {"PASS_MAX_DAYS": 99999, "limit": 90})
    (unset,) = _run(login_defs())
    assert (unset.status, unset.location) == (Status.FAIL, Location("/etc/login.defs"))
    (strict,) = _run(login_defs(PASS_MAX_DAYS="60"), password_max_age_days=30)
    assert strict.status is Status.FAIL and strict.observed["limit"] == 30
