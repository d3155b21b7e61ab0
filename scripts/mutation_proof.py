"""Prove which mutants a set of tests kills, in one pytest session (run by hand, not in CI).

    cd WORKDIR && nice -n 19 WORKDIR/.venv/bin/python /path/to/scripts/mutation_proof.py NAMES TESTFILE... [pytest args]

WORKDIR is a tree whose checks/ holds mutmut's trampolined modules (``scripts/mutation.sh`` makes one: its
``mutants/`` directory) and whose tests are the ones to prove; NAMES is a file with one mutant name per line (as
``scripts/mutation_survivors.py --list logic`` prints them). The tests are collected once and must all pass with no
mutant; then, for each name, ``MUTANT_UNDER_TEST`` is set (mutmut's trampolines read it at every call) and the tests
run one by one until one fails: ``RESULT name killed by <test>``, or ``RESULT name SURVIVED``. Tests that killed
another mutant of the same function run first. A test running over ``--hang`` seconds (default 120) counts as a
kill, as a timeout does in mutmut. Assertions are plain (``--assert=plain``): rewriting them would build a diff of
every long message for every killed mutant, the larger part of the time.
"""
from __future__ import annotations

import os
import signal
import sys
from types import FrameType
from typing import Any

import pytest
from _pytest.runner import runtestprotocol

HANG_S = 120


class Prover:
    """A pytest plugin that replaces the test loop with one loop per mutant name."""

    def __init__(self, names: list[str], hang_s: int) -> None:
        self.names, self.hang_s = names, hang_s
        self.survivors: list[str] = []

    def _passes(self, item: pytest.Item) -> bool:
        signal.alarm(self.hang_s)
        try:
            return all(r.passed or r.skipped for r in runtestprotocol(item, nextitem=None, log=False))
        except TimeoutError:
            return False
        finally:
            signal.alarm(0)

    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        def hang(signum: int, frame: FrameType | None) -> Any:
            raise TimeoutError(f"a test ran over {self.hang_s} s")

        signal.signal(signal.SIGALRM, hang)
        items = session.items
        os.environ["MUTANT_UNDER_TEST"] = ""
        if not items or not all(self._passes(item) for item in items):
            raise pytest.UsageError("the tests must be found and pass with no mutant")
        killers: dict[str, list[int]] = {}
        for name in self.names:
            first = killers.setdefault(name.partition("__mutmut_")[0], [])
            order = first + [i for i in range(len(items)) if i not in first]
            os.environ["MUTANT_UNDER_TEST"] = name
            killer = next((i for i in order if not self._passes(items[i])), None)
            if killer is None:
                self.survivors.append(name)
                print("RESULT", name, "SURVIVED", flush=True)
                continue
            if killer not in first:
                first.insert(0, killer)
            print("RESULT", name, "killed by", items[killer].nodeid, flush=True)
        os.environ["MUTANT_UNDER_TEST"] = ""
        print(f"{len(self.names) - len(self.survivors)} of {len(self.names)} killed", flush=True)
        return True


def read_names(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.split()[0] for line in f if line.strip().startswith("checks.")]


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    hang = HANG_S
    if "--hang" in argv:
        at = argv.index("--hang")
        hang = int(argv[at + 1])
        argv = argv[:at] + argv[at + 2:]
    prover = Prover(read_names(argv[0]), hang)
    code = pytest.main(["-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--assert=plain", "--tb=native",
                        *argv[1:]], plugins=[prover])
    return 1 if code or prover.survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
