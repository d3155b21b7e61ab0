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
