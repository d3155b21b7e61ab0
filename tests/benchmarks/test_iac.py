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


def test_the_tools_run_in_turn_each_into_its_own_output(tmp_path: Path) -> None:
    """gxpscan, gxpscan in one process, Checkov, gxpscan, ...: the runs of each round meet the same state of the
    machine."""
    order: list[tuple[str, Path]] = []

    def tool(name: str, wall: float):  # a tool whose runs take ``wall`` seconds more each time
        def once(out: Path) -> iac.Measured:
            order.append((name, out))
            return run(wall * sum(1 for n, _ in order if n == name), 1.0, 1.0)
        return once

    ours, one, theirs = iac.in_turn([(tool("gx", 0.5), tmp_path / "gx-hcl"), (tool("gx1", 0.25), tmp_path / "gx1"),
                                     (tool("ck", 8.0), tmp_path / "ck-hcl")], 3)
    assert order == [("gx", tmp_path / "gx-hcl"), ("gx1", tmp_path / "gx1"), ("ck", tmp_path / "ck-hcl"),
                     ("gx", tmp_path / "gx-hcl-2"), ("gx1", tmp_path / "gx1-2"), ("ck", tmp_path / "ck-hcl-2"),
                     ("gx", tmp_path / "gx-hcl-3"), ("gx1", tmp_path / "gx1-3"), ("ck", tmp_path / "ck-hcl-3")]
    assert [m.wall_s for m in ours] == [0.5, 1.0, 1.5] and [m.wall_s for m in theirs] == [8.0, 16.0, 24.0]
    assert [m.wall_s for m in one] == [0.25, 0.5, 0.75]
    assert iac.pair_ratios(ours, theirs, "wall_s") == [16.0, 16.0, 16.0]
    assert iac.pair_ratios(one, theirs, "wall_s") == [32.0, 32.0, 32.0]


def test_pair_ratios_are_theirs_over_ours_and_never_divide_by_zero() -> None:
    ours = [run(0.4, 0.5, 1.0), run(0.0, 0.25, 1.0)]
    theirs = [run(8.0, 9.0, 1.0), run(7.0, 10.0, 1.0)]
    assert iac.pair_ratios(ours, theirs, "wall_s") == [20.0, 700.0]  # a zero time counts as 10 ms
    assert iac.pair_ratios(ours, theirs, "cpu_s") == [18.0, 40.0]
    with pytest.raises(ValueError):
        iac.pair_ratios(ours, theirs[:1], "wall_s")  # runs not in pairs are refused


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
