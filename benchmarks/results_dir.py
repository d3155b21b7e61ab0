"""The chain link of a scan in a results folder that holds many runs: ``seal.previous_manifest``.

    python3 benchmarks/results_dir.py [--sizes 30,300,3000] [--repeat 5]

Every sealed scan names the first manifest of the run before it (the most recently started sealed run of its
results folder). Builds one real sealed run, copies its first manifest into --sizes run folders (each a distinct
start time), and times ``previous_manifest`` at each size: cold (no chain index: every manifest read and parsed,
as every scan did before 2026-12-04), kept (the chain index in the private cache: each manifest stat'ed, none
read) and next (as each scan finds it: one run more since the last call, whose manifest is read and the index
written again). Medians of --repeat calls, wall time; the private cache is a temporary folder of its own.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scanner import seal  # noqa: E402
from tests.engine.seal_factory import sealed_run  # noqa: E402


def fill(folder: Path, template: Path, size: int, first: int = 0) -> None:
    """Run folders ``first`` to ``size - 1``, each with the template's first manifest under a start time of its own."""
    doc = json.loads((template / seal.manifest_name(1)).read_bytes())
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(first, size):
        run = folder / f"run-{i:05d}"
        run.mkdir()
        doc["predicate"]["started"] = (start + timedelta(hours=i)).isoformat()
        (run / seal.manifest_name(1)).write_bytes(seal.canonical(doc))


def timed(folder: Path, repeat: int) -> tuple[float, str]:
    times, got = [], ""
    for _ in range(repeat):
        t = time.perf_counter()
        got = seal.previous_manifest(folder)
        times.append(time.perf_counter() - t)
    return statistics.median(times), got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="30,300,3000")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="gxpscan-results-dir-") as tmp:
        work = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        template = sealed_run(work / "template")
        print(f"{'runs':>6} {'cold ms':>9} {'kept ms':>9} {'next ms':>9}  same run")
        for size in (int(s) for s in args.sizes.split(",")):
            folder = work / f"results-{size}"
            folder.mkdir()
            fill(folder, template, size)
            os.environ["GXPSCAN_NO_CACHE"] = "1"
            cold, expected = timed(folder, args.repeat)
            del os.environ["GXPSCAN_NO_CACHE"]
            seal.previous_manifest(folder)  # the first scan of the folder writes the index
            kept, got = timed(folder, args.repeat)
            nexts = []
            for extra in range(args.repeat):  # each call finds one run more, as a scan finds its predecessor
                fill(folder, template, size + extra + 1, first=size + extra)
                nexts.append(timed(folder, 1)[0])
            newest = seal.first_manifest_sha256(folder / f"run-{size + args.repeat - 1:05d}")
            same = got == expected and timed(folder, 1)[1] == newest  # the same run, then the newest added
            print(f"{size:>6} {cold * 1000:>9.1f} {kept * 1000:>9.1f} {statistics.median(nexts) * 1000:>9.1f}  "
                  f"{'yes' if same else 'NO'}")
            if not same:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
