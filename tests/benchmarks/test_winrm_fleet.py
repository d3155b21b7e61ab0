"""The WinRM fleet benchmark's bookkeeping: responders dealt over processes, the responders' CPU, the figures."""
from __future__ import annotations

import os
import time

import pytest

from benchmarks.winrm_fleet import Run, dealt, figures, interleaved, process_cpu


@pytest.mark.parametrize(("hosts", "procs", "counts"), [(50, 2, [25, 25]), (5, 3, [2, 2, 1]), (1, 3, [1, 0, 0]),
                                                        (7, 1, [7])])
def test_hosts_are_dealt_evenly_over_the_processes(hosts: int, procs: int, counts: list[int]) -> None:
    assert dealt(hosts, procs) == counts


def test_the_inventory_takes_one_port_of_each_process_in_turn() -> None:
    assert interleaved([[1, 3, 5], [2, 4], [9]]) == [1, 2, 9, 3, 4, 5]
    assert interleaved([[1, 2]]) == [1, 2]


def test_the_cpu_of_running_processes_is_read_and_an_ended_one_is_unknown() -> None:
    before = process_cpu([os.getpid()])
    assert before is not None
    end = time.thread_time() + 0.05
    while time.thread_time() < end:
        pass
    after = process_cpu([os.getpid(), os.getpid()])
    assert after is not None and after >= 2 * (before + 0.03)
    assert process_cpu([os.getpid(), 2 ** 22 + 12345]) is None


def test_figures_are_medians_with_the_largest_peak_and_latencies_over_all_runs() -> None:
    runs = [Run(2.0, 50.0, 0, 1.5, 0.8, (0.1, 0.2)), Run(3.0, 60.0, 0, 1.7, 0.6, (0.3, 0.4)),
            Run(2.5, 55.0, 1, 1.6, 0.7, (0.5,))]
    got = figures(runs)
    assert got == {"wall_s": 2.5, "cpu_s": 1.6, "peak_mib": 60.0, "responder_cpu_s": 0.7, "exit_codes": [0, 1],
                   "host_ms": {"p50": 300, "p90": 500, "max": 500}}
    unknown = figures([Run(2.0, 50.0, 0, 1.5, None, ())])
    assert unknown["responder_cpu_s"] is None and unknown["host_ms"] == {}
