"""The entry points of the check plugins kept between runs (scanner/registry.py, issue 10): a start that finds
nothing changed imports no importlib.metadata; installing, editing or removing a plugin's metadata is seen by the
very next start; a cache that is not ours or not of the expected form is not used."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scanner.registry import _EP_FILE

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import json, sys
    from scanner.registry import CheckLoadError, Registry
    try:
        loaded = sorted(Registry.load().checks)
    except CheckLoadError as exc:
        loaded = str(exc)
    print(json.dumps({"metadata": "importlib.metadata" in sys.modules, "checks": loaded}))
""")
PLUGIN = "aws.acme.bucket_count"  # tests/engine/plugins/acme_good.py


def start(site: Path, cache: Path) -> tuple[bool, list[str] | str]:
    """A fresh process that loads every check plugin: (importlib.metadata imported, check ids or the load error)."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{REPO}{os.pathsep}{site}", "XDG_CACHE_HOME": str(cache)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=120, check=True)
    report = json.loads(done.stdout.splitlines()[-1])
    return report["metadata"], report["checks"]


def install(site: Path, module: str) -> Path:
    info = site / "acme_checks-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-checks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[gxpscan.checks]\nacme = {module}\n")
    return info


def test_a_plugin_installed_edited_or_removed_is_seen_by_the_next_start(tmp_path: Path) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    site.mkdir()
    asked, checks = start(site, cache)
    assert asked and PLUGIN not in checks and "aws.s3.versioning" in checks  # the first start reads the metadata
    assert start(site, cache) == (False, checks)  # the second keeps what it found
    info = install(site, "tests.engine.plugins.acme_good")
    asked, with_plugin = start(site, cache)
    assert asked and sorted(with_plugin) == sorted([*checks, PLUGIN])
    assert start(site, cache) == (False, with_plugin)
    (info / "entry_points.txt").write_text("[gxpscan.checks]\nacme = tests.engine.plugins.no_such_module\n")
    asked, broken = start(site, cache)
    assert asked and isinstance(broken, str) and "check plugin 'acme'" in broken and "no_such_module" in broken
    (info / "entry_points.txt").unlink()
    (info / "METADATA").unlink()
    info.rmdir()
    assert start(site, cache) == (True, checks)
    assert start(site, cache) == (False, checks)


@pytest.mark.parametrize("spoil", ["other user's mode", "points", "value", "key"])
def test_a_cache_not_ours_or_not_of_its_form_is_not_used(tmp_path: Path, spoil: str) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    site.mkdir()
    install(site, "tests.engine.plugins.acme_good")
    _, checks = start(site, cache)
    kept = cache / "gxpscan" / _EP_FILE
    doc = json.loads(kept.read_text())
    assert [p for p in doc["points"] if p[0] == "acme"] == [["acme", "tests.engine.plugins.acme_good"]]
    if spoil == "other user's mode":
        kept.chmod(0o666)
    elif spoil == "points":
        kept.write_text(json.dumps({**doc, "points": {"acme": "x"}}))
    elif spoil == "value":  # a value no entry point has: the cache is refused, not imported from
        kept.write_text(json.dumps({**doc, "points": [["acme", "os; import this"]]}))
    else:
        kept.write_text(json.dumps({**doc, "key": "0" * 64, "points": []}))
    assert start(site, cache) == (True, checks)
