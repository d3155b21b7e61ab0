"""A scan that selects checks by id imports only the check modules that define them (scanner/registry.py, the kept
index of module -> ids, issue 10); the index follows the code (a changed package loads whole again, and is
validated again); `gxpscan checks` (and selftest, which loads the same way: no patterns) still loads every check."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import json, sys
    from scanner.registry import CheckLoadError, Registry
    patterns = json.loads(sys.argv[1])
    try:
        loaded = sorted(Registry.load(patterns=patterns).checks)
    except CheckLoadError as exc:
        loaded = str(exc)
    print(json.dumps({"modules": sorted(m for m in sys.modules if m.startswith(("checks.", "acme_pack"))),
                      "checks": loaded}))
""")
CHECK = textwrap.dedent("""
    from scanner import check, passed

    @check(id="aws.acme.{name}", title="t", severity="low", area="access_control", criterion="c")
    def {name}(s3_buckets: object) -> object:
        return passed("account", "listed")
""")


def env(site: Path, cache: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{REPO}{os.pathsep}{site}",
            "XDG_CACHE_HOME": str(cache)}


def load(site: Path, cache: Path, *patterns: str) -> tuple[list[str], list[str] | str]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(list(patterns) or None)], capture_output=True,
                          text=True, cwd=REPO, env=env(site, cache), timeout=120, check=True)
    report = json.loads(done.stdout.splitlines()[-1])
    return report["modules"], report["checks"]


def test_only_the_modules_of_the_selected_ids_are_imported_and_a_change_is_seen(tmp_path: Path) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    pack = site / "acme_pack"
    pack.mkdir(parents=True)
    (pack / "__init__.py").write_text("")
    for name in ("alpha", "beta"):
        (pack / f"{name}.py").write_text(CHECK.format(name=name))
    info = site / "acme_pack-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-pack\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[gxpscan.checks]\nacme = acme_pack\n")

    modules, everything = load(site, cache, "aws.s3.versioning", "aws.acme.alpha")  # first: every module, indexed
    assert {"checks.aws.kms", "checks.aws.challenge_s3", "acme_pack.beta"} <= set(modules)
    modules, checks = load(site, cache, "aws.s3.versioning", "aws.acme.alpha")
    assert [m for m in modules if m.startswith(("checks.aws.", "acme_pack."))] == [
        "acme_pack.alpha", "checks.aws._common", "checks.aws.s3"]
    assert set(checks) < set(everything) and {"aws.s3.versioning", "aws.acme.alpha"} <= set(checks)
    assert not any(c.startswith(("linux.", "ad.", "aws.kms.")) for c in checks)
    # every id that the patterns match is loaded (checks and challenges alike)
    matched = [c for c in everything if c.startswith(("aws.s3.", "aws.challenge.s3"))]
    assert sorted(set(matched) - set(load(site, cache, "aws.s3.*", "aws.challenge.s3_*")[1])) == []

    (pack / "beta.py").write_text(CHECK.format(name="beta") + CHECK.format(name="alpha").replace(
        "def alpha", "def alpha_again"))  # a changed package: loaded whole again, and its duplicate id refused
    modules, refused = load(site, cache, "aws.acme.alpha")
    assert isinstance(refused, str) and "duplicate check id 'aws.acme.alpha'" in refused
    assert load(site, cache, "aws.acme.alpha")[1] == refused  # never indexed while it does not load


def test_checks_and_selftest_still_see_every_check_after_a_narrowed_scan(tmp_path: Path) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    site.mkdir()
    _, everything = load(site, cache)
    load(site, cache, "aws.s3.versioning")
    modules, checks = load(site, cache, "aws.s3.versioning")
    assert "aws.s3.versioning" in checks and set(checks) < set(everything)  # narrowed, from the index
    assert "checks.aws.kms" not in modules
    listed = subprocess.run([sys.executable, "-m", "scanner", "checks", "--json"], capture_output=True,
                            text=True, cwd=REPO, env=env(site, cache), timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert sorted(c["id"] for c in json.loads(listed.stdout)) == sorted(everything)
    assert len(everything) > 150
