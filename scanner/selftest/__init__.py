"""``gxpscan selftest``: the installed tool qualifies itself (IQ and OQ evidence for gxpscan).

IQ: the installed files match the release manifest the build wrote, Python and every runtime dependency are in
the ranges the package declares, the framework catalogs, profiles and JSON Schemas validate, and every check loads
(third-party plugins are listed apart: this release's qualification does not cover them).
OQ: every known-answer case (``scanner/selftest/kat.py``) gives its expected status.
"""
from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.model import utcnow
from scanner.selftest.manifest import MANIFEST_FORMAT, MANIFEST_NAME, file_hashes, package_root

if TYPE_CHECKING:  # imported where used: the Windows collector imports scanner.selftest.decode (issue 10)
    from importlib import metadata

DIST = "gxpscan"
FORMAT = "gxpscan-selftest/1"
PASS, FAIL, NOT_VERIFIED = "pass", "fail", "not_verified"


@dataclass(frozen=True)
class Step:
    """One test of the qualification: what was expected and what was found."""

    id: str  # IQ-FILES, IQ-DEP-boto3, OQ-linux.ssh.root_login:pass, ...
    phase: str  # IQ | OQ
    title: str
    expected: str
    actual: str
    status: str  # pass | fail | not_verified


@dataclass(frozen=True)
class Plugin:
    """A check pack from outside this release: listed, loaded, not covered by the release's qualification."""

    name: str
    module: str
    distribution: str
    version: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class SelftestResult:
    tool_version: str
    checks_fingerprint: str
    install: str  # "release" (a manifest was verified) or "development"
    manifest_sha256: str
    machine: dict[str, str]
    started: datetime
    ended: datetime
    steps: tuple[Step, ...]
    plugins: tuple[Plugin, ...] = ()
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        out = {PASS: 0, FAIL: 0, NOT_VERIFIED: 0}
        for s in self.steps:
            out[s.status] += 1
        return out

    @property
    def verdict(self) -> str:
        counts = self.counts()
        return FAIL if counts[FAIL] else NOT_VERIFIED if counts[NOT_VERIFIED] else PASS

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "tool_version": self.tool_version, "checks_fingerprint": self.checks_fingerprint,
            "install": self.install, "manifest_sha256": self.manifest_sha256, "machine": dict(self.machine),
            "started": self.started.isoformat(), "ended": self.ended.isoformat(), "seconds": round(self.seconds, 3),
            "verdict": self.verdict, "counts": self.counts(),
            "steps": [s.__dict__ for s in self.steps],
            "plugins": [{**p.__dict__, "checks": list(p.checks),
                         "covered": False, "note": "not covered by this release's qualification"}
                        for p in self.plugins],
        }


# --- IQ ----------------------------------------------------------------------------------------------------------

def _files_step(root: Path, version: str) -> tuple[Step, str, str]:
    path = root / "scanner" / "selftest" / MANIFEST_NAME
    title = "Installed files match the release manifest"
    expected = "every file listed with its SHA-256, no file changed, missing or added"
    if not path.is_file():
        return (Step("IQ-FILES", "IQ", title, expected,
                     f"development install: no release manifest (running from {root}, a source tree or an "
                     "editable install); the files cannot be compared with a release", NOT_VERIFIED),
                "development", "")
    data = path.read_bytes()
    try:
        doc = json.loads(data)
        listed = dict(doc["files"])
        if doc.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {doc.get('format')!r}")
    except (ValueError, KeyError, TypeError) as exc:
        return Step("IQ-FILES", "IQ", title, expected, f"release manifest unreadable: {exc}", FAIL), "release", ""
    found = file_hashes(root)
    changed = sorted(p for p in listed if p in found and found[p] != listed[p])
    missing = sorted(p for p in listed if p not in found)
    added = sorted(p for p in found if p not in listed)
    problems = [f"{what}: {', '.join(paths[:20])}{' ...' if len(paths) > 20 else ''}"
                for what, paths in (("changed", changed), ("missing", missing), ("added", added)) if paths]
    if doc.get("version") != version:
        problems.append(f"manifest of version {doc.get('version')}, package version {version}")
    actual = "; ".join(problems) or f"{len(listed)} files match (manifest SHA-256 {hashlib.sha256(data).hexdigest()})"
    return (Step("IQ-FILES", "IQ", title, expected, actual, FAIL if problems else PASS), "release",
            hashlib.sha256(data).hexdigest())


def _requirement_steps() -> list[Step]:
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    meta = metadata.metadata(DIST)
    python = ".".join(map(str, sys.version_info[:3]))
    supported = meta["Requires-Python"] or ""
    steps = [Step("IQ-PYTHON", "IQ", "Python is a supported version", f"Python {supported or 'any'}",
                  f"Python {python} ({sys.executable})",
                  PASS if Version(python) in SpecifierSet(supported) else FAIL)]
    for line in meta.get_all("Requires-Dist") or []:
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            steps.append(Step("IQ-DEP", "IQ", "A runtime dependency is installed in range", line, str(exc), FAIL))
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an optional extra (test tools) or another platform: not a runtime dependency here
        want = str(req.specifier) or "any version"
        try:
            have = metadata.version(req.name)
            ok = req.specifier.contains(Version(have), prereleases=True)
            actual = f"{req.name} {have}"
        except metadata.PackageNotFoundError:
            ok, actual = False, f"{req.name} is not installed"
        except InvalidVersion:
            ok, actual = False, f"{req.name} has a version that cannot be compared: {have}"
        steps.append(Step(f"IQ-DEP-{req.name}", "IQ", f"Runtime dependency {req.name} is installed in range",
                          f"{req.name} {want}", actual, PASS if ok else FAIL))
    return steps


def _guarded(step_id: str, title: str, expected: str, probe: Callable[[], str]) -> Step:
    """A step whose probe returns what it found, or raises what is wrong."""
    try:
        return Step(step_id, "IQ", title, expected, probe(), PASS)
    except Exception as exc:  # any fault of the installed data is a failed step, never a crash
        return Step(step_id, "IQ", title, expected, f"{type(exc).__name__}: {exc}", FAIL)


def _catalogs() -> str:
    from scanner.frameworks import load_catalogs

    cats = load_catalogs(use_cache=False)  # IQ proves the packaged catalogs in full, never from the cache
    return f"{len(cats)} catalogs valid: {', '.join(sorted(cats))}"


def _profiles() -> str:
    from scanner.profiles import discover

    found = discover()
    return f"{len(found)} profiles valid: {', '.join(sorted(found))}"


def _schemas() -> str:
    import jsonschema

    names = []
    for path in sorted((Path(__file__).resolve().parents[1] / "schemas").glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validators.validator_for(schema).check_schema(schema)
        names.append(path.name)
    if not names:
        raise FileNotFoundError("no JSON Schema found in scanner/schemas")
    return f"{len(names)} JSON Schemas valid: {', '.join(names)}"


def release_entry_points() -> tuple[list[metadata.EntryPoint], list[metadata.EntryPoint]]:
    """The ``gxpscan.checks`` entry points of this release, and those of other distributions (plugins)."""
    from importlib import metadata

    from scanner.registry import ENTRY_POINT_GROUP

    ours: list[metadata.EntryPoint] = []
    theirs: list[metadata.EntryPoint] = []
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        (ours if dist is not None and dist.metadata["Name"] == DIST else theirs).append(ep)
    return ours, theirs


def _module_of(ep: metadata.EntryPoint) -> str:
    return ep.value.split(":")[0]


def _belongs(check_module: str, packages: Iterable[str]) -> bool:
    return any(check_module == p or check_module.startswith(p + ".") for p in packages)


# --- running it --------------------------------------------------------------------------------------------------

def run_selftest(now: Callable[[], datetime] = utcnow, kat_data: Path | None = None) -> SelftestResult:
    from scanner import __version__
    from scanner.registry import Registry
    from scanner.selftest import kat

    started, clock = now(), time.monotonic()
    root = package_root()
    files, install, manifest_sha = _files_step(root, __version__)
    steps = [files, *_requirement_steps(),
             _guarded("IQ-CATALOGS", "Framework catalogs validate", "every catalog valid against its schema, every "
                      "referenced check known", _catalogs),
             _guarded("IQ-PROFILES", "Profiles validate", "every profile valid against its schema", _profiles),
             _guarded("IQ-SCHEMAS", "JSON Schemas are valid", "every published schema is a valid JSON Schema",
                      _schemas)]
    ours, theirs = release_entry_points()
    registry: Registry | None = None
    try:
        registry = Registry.load()
    except Exception as exc:
        steps.append(Step("IQ-CHECKS", "IQ", "Every check loads", "every entry-point check pack imports and "
                          "registers", f"{type(exc).__name__}: {exc}", FAIL))
    release_checks: list[str] = []
    plugins: list[Plugin] = []
    fingerprint = ""
    if registry is not None:
        mine = [_module_of(ep) for ep in ours]
        release_checks = sorted(c for c, s in registry.checks.items() if _belongs(s.module, mine))
        fingerprint = registry.fingerprint([registry.checks[c] for c in release_checks])
        for ep in theirs:
            dist = ep.dist
            plugins.append(Plugin(ep.name, ep.value, dist.metadata["Name"] if dist else "?",
                                  dist.version if dist else "?",
                                  tuple(sorted(c for c, s in registry.checks.items()
                                               if _belongs(s.module, [_module_of(ep)])))))
        steps.append(Step("IQ-CHECKS", "IQ", "Every check loads", "every entry-point check pack imports and "
                          "registers, no unknown fact, no duplicate id",
                          f"{len(release_checks)} checks of this release from {', '.join(e.name for e in ours)}"
                          + (f"; {sum(len(p.checks) for p in plugins)} from plugins (not covered)" if plugins else "")
                          + (f"; {n} challenge tests load too (they act on servers, so known answers do not cover "
                             "them: the project's lab tests do)" if (n := sum(
                                 _belongs(s.module, mine) for s in registry.challenges.values())) else ""),
                          PASS if release_checks else FAIL))
    try:
        cases = kat.all_cases(kat_data)
    except kat.KatError as exc:
        cases = []
        steps.append(Step("IQ-KAT", "IQ", "Known-answer data loads", "every case file valid", str(exc), FAIL))
    if registry is not None:
        covered = {c.check for c in cases}
        for check in release_checks:
            if check not in covered and cases:
                steps.append(Step(f"OQ-{check}:known-answers", "OQ", f"{check} has known-answer cases",
                                  "a pass, a fail and an error case", "no known-answer case", FAIL))
        at, cache = now(), kat.FactCache()
        for case in cases:
            r = kat.run_case(case, registry, at, cache)
            steps.append(Step(f"OQ-{case.id}", "OQ", f"{case.check}, case {case.name}", r.expected,
                              r.actual if r.ok else f"{r.actual}: {r.detail}", PASS if r.ok else FAIL))
    return SelftestResult(
        tool_version=__version__, checks_fingerprint=fingerprint, install=install, manifest_sha256=manifest_sha,
        machine={"hostname": platform.node(), "platform": platform.platform(), "python": sys.version.split()[0],
                 "python_executable": sys.executable, "install_root": str(root)},
        started=started, ended=now(), steps=tuple(steps), plugins=tuple(plugins),
        seconds=time.monotonic() - clock)
