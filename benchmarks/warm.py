"""How the benchmarks run gxpscan from the source tree as an installed gxpscan runs: from byte code compiled once
(what ``pip install`` does; without it every run compiles some 150 modules again, 1.7 s of CPU) and with the cache
of the packaged catalogs' validated parse that the first run of an installed gxpscan leaves (``scanner.frameworks``),
both under the benchmark's own directory. :func:`warm_up` runs one unmeasured scan so that every module the
measured runs import (the standard library and dependencies too) has its byte code, and the cache exists."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def gxpscan_env(work: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured gxpscan process: byte code and caches under ``work``."""
    env = {k: v for k, v in (base if base is not None else os.environ).items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(REPO), "PYTHONPYCACHEPREFIX": str(work / "pycache"),
            "XDG_CACHE_HOME": str(work / "cache")}


def warm_up(env: dict[str, str], argv: list[str]) -> None:
    """Byte-compile gxpscan, then run ``argv`` (a gxpscan command, not measured) once with ``env``."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "scanner", "reports", "checks"], check=True,
                   cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def checkout_env(repo: Path, work: Path) -> dict[str, str]:
    """The environment of a measured run of the checkout ``repo`` (A/B benchmarks): its own byte code and caches
    under ``work``."""
    return {**gxpscan_env(work), "PYTHONPATH": str(repo)}


def timed(argv: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run ``argv`` once: (CPU seconds of the child, user + system; wall seconds; the finished process, its stderr
    kept)."""
    import resource
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall, proc


def print_figures(rows: dict[str, list[tuple[float, float]]], label: str = "checkout",
                  extra: dict[str, str] | None = None) -> None:
    """The A/B table: per row its median and minimum CPU seconds and median wall seconds (and an extra column),
    then the load average."""
    import statistics

    print(f"{label:18s} {'CPU s (median)':>15s} {'CPU s (min)':>12s} {'wall s (median)':>16s}")
    for name, runs in rows.items():
        print(f"{name:18s} {statistics.median(c for c, _ in runs):15.3f} {min(c for c, _ in runs):12.3f} "
              f"{statistics.median(w for _, w in runs):16.3f}  {(extra or {}).get(name, '')}".rstrip())
    print("load average: " + " / ".join(f"{x:.1f}" for x in os.getloadavg()))
