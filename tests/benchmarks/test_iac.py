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


def test_the_wall_time_ends_at_the_exit_not_at_the_next_memory_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """A memory sample that takes half a second (a slow /proc) does not lengthen the wall time: the exit is noted
    when it happens (the first sample, taken as the child starts, ends well after the child did)."""
    import time

    def slow_sample(root: int) -> int:
        time.sleep(0.5)
        return 2**20

    monkeypatch.setattr(iac, "_tree_rss", slow_sample)
    started = time.perf_counter()
    got = iac.measure([sys.executable, "-c", "import sys; sys.stderr.write('said'); sys.exit(3)"])
    assert time.perf_counter() - started >= 0.5  # the sample ran whole
    assert got.wall_s < 0.5 and got.exit_code == 3 and got.stderr_tail == "said" and got.peak_tree_mib == 1.0
