"""Facts from recorded files and command outputs under ``tests/fixtures/linux/<case>/``.

The replay itself lives in the package (``scanner/selftest/replay.py``), because ``gxpscan selftest`` replays
the same recordings as its known-answer tests; this module keeps the tests' names for it.
"""
from __future__ import annotations

from pathlib import Path

from scanner.model import Fact, Target
from scanner.selftest import replay
from tests.factories import make_target

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "linux"
CASES = ("debian12", "ubuntu2204", "rhel9", "hardened", "weak")
NONCE = replay.NONCE


def case_target(case: str, fixtures: Path = FIXTURES, **policy_overrides: object) -> Target:
    policy = replay.Recording(fixtures / case).policy()
    policy.update(policy_overrides)
    return make_target(case, policy=policy)


def recorded_output(case: str, target: Target, names: list[str], fixtures: Path = FIXTURES) -> bytes:
    return replay.output(replay.Recording(fixtures / case), target, names)


def recorded_facts(case: str, target: Target | None = None, fixtures: Path = FIXTURES) -> dict[str, Fact]:
    """Every Linux fact of a case, parsed by the collector from the recorded output."""
    return replay.facts(replay.Recording(fixtures / case), target or case_target(case, fixtures))


def changed_copy(case: str, root: Path, changes: dict[str, str | None]) -> Path:
    """A copy of a recorded case under ``root`` with ``changes`` (relative path: new content, None deletes);
    returns ``root``, to read the case from instead of FIXTURES."""
    import shutil

    shutil.copytree(FIXTURES / case, root / case)
    for rel, content in changes.items():
        path = root / case / rel
        if content is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    return root
