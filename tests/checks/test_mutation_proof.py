"""scripts/mutation_proof.py on a tiny tree of its own: a module with a trampoline that reads MUTANT_UNDER_TEST at
every call (as mutmut's do), and tests that kill one mutant, let one survive and hang on a third."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mutation_proof.py"

MODULE = '''
import os, time

def _orig(n):
    return n >= 5

def _m1(n):
    return n > 5

def _m2(n):
    return n >= 6

def _m3(n):
    while True:
        time.sleep(0.05)

def at_least_five(n):
    which = os.environ.get("MUTANT_UNDER_TEST", "")
    impl = {"checks.limits.x_at_least_five__mutmut_1": _m1, "checks.limits.x_at_least_five__mutmut_2": _m2,
            "checks.limits.x_at_least_five__mutmut_3": _m3}.get(which, _orig)
    return impl(n)
'''

TESTS = '''
from checks.limits import at_least_five

def test_four_is_not_enough():
    assert not at_least_five(4)

def test_five_is_enough():
    assert at_least_five(5)
'''


def run(tmp_path: Path, names: list[str], tests: str = TESTS) -> subprocess.CompletedProcess[str]:
    (tmp_path / "checks").mkdir(exist_ok=True)
    (tmp_path / "checks" / "__init__.py").write_text("")
    (tmp_path / "checks" / "limits.py").write_text(MODULE)
    (tmp_path / "test_limits.py").write_text(tests)
    (tmp_path / "names.txt").write_text("".join(f"{n}\n" for n in names) + "# a comment line is skipped\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MUTANT_UNDER_TEST")}
    return subprocess.run([sys.executable, str(SCRIPT), "names.txt", "test_limits.py", "--hang", "2"],
                          cwd=tmp_path, env={**env, "PYTHONPATH": str(tmp_path)}, capture_output=True, text=True,
                          timeout=120)


def test_each_mutant_is_killed_by_a_named_test_survives_or_hangs(tmp_path: Path) -> None:
    names = [f"checks.limits.x_at_least_five__mutmut_{i}" for i in (1, 2, 3)] + ["checks.control.none"]
    proc = run(tmp_path, names)
    results = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert results == [
        "RESULT checks.limits.x_at_least_five__mutmut_1 killed by test_limits.py::test_five_is_enough",
        "RESULT checks.limits.x_at_least_five__mutmut_2 killed by test_limits.py::test_five_is_enough",
        # the test that killed another mutant of the function runs first; it hangs, which counts as a kill
        "RESULT checks.limits.x_at_least_five__mutmut_3 killed by test_limits.py::test_five_is_enough",
        "RESULT checks.control.none SURVIVED",
    ]
    assert "3 of 4 killed" in proc.stdout
    assert proc.returncode == 1  # a survivor


def test_all_killed_exits_zero(tmp_path: Path) -> None:
    proc = run(tmp_path, ["checks.limits.x_at_least_five__mutmut_2"])
    assert "1 of 1 killed" in proc.stdout
    assert proc.returncode == 0


def test_tests_that_fail_without_a_mutant_prove_nothing(tmp_path: Path) -> None:
    broken = TESTS + "\ndef test_broken():\n    assert False\n"
    proc = run(tmp_path, ["checks.limits.x_at_least_five__mutmut_1"], broken)
    assert "RESULT" not in proc.stdout
    assert "must be found and pass with no mutant" in proc.stdout + proc.stderr
    assert proc.returncode != 0
