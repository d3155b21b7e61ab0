"""The IaC benchmark's arithmetic (benchmarks/iac.py): several measured runs become one figure by their medians."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import iac  # noqa: E402


def run(wall: float, cpu: float, peak: float, code: int = 1, err: str = "") -> iac.Measured:
    return iac.Measured(wall, cpu, peak, peak / 2, code, err)


def test_runs_become_their_medians_and_largest_peaks() -> None:
    got = iac.median_run([run(1.4, 1.3, 40.0, err="first"), run(0.9, 0.8, 45.0), run(1.1, 1.0, 42.0)])
    assert got == iac.Measured(1.1, 1.0, 45.0, 22.5, 1, "first", 3)


def test_runs_that_end_differently_are_refused() -> None:
    with pytest.raises(RuntimeError, match=r"different exit codes: \[0, 1\]"):
        iac.median_run([run(1.0, 1.0, 1.0, code=1), run(1.0, 1.0, 1.0, code=0)])


def test_each_repeated_run_writes_its_own_output(tmp_path: Path) -> None:
    seen: list[Path] = []

    def once(out: Path) -> iac.Measured:
        seen.append(out)
        return run(float(len(seen)), 1.0, 1.0)

    got = iac.repeated(once, tmp_path / "gx-hcl", 3)
    assert seen == [tmp_path / "gx-hcl", tmp_path / "gx-hcl-2", tmp_path / "gx-hcl-3"]
    assert (got.wall_s, got.runs) == (2.0, 3)
