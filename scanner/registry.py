"""The check plugin API: the ``@check`` decorator and discovery through entry points.

Discovery: ``importlib.metadata`` reads every installed distribution's metadata, and importing it (with the email
parser it needs) was a tenth of the start of a scan. The entry points found are kept in the private cache folder of
the catalog cache (``entry-points.json``, scanner/frameworks.py: ours, writable by nobody else), keyed by what
``importlib.metadata`` reads them from: every ``sys.path`` entry, the names of the ``*.dist-info``/``*.egg-info``
folders in it and the change time, size and inode of each one's ``entry_points.txt``. Installing, removing or
upgrading a plugin (or editing its ``entry_points.txt``) changes the key, and the next start reads the metadata again.
A process that has imported ``importlib.metadata`` already (a test, a host program) asks it directly.

A check is a plain function. Parameters without a default name facts of the check's platform
(``login_defs`` -> fact ``linux.login_defs``); parameters with a default are thresholds that the
inventory's ``policy`` may override by the same name; ``target`` receives the Target itself.
"""
from __future__ import annotations

import fnmatch
import hashlib
import importlib
import importlib.machinery
import inspect
import json
import os
import pkgutil
import re
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

from scanner.challenge import ChallengeSpec, Impact, challenge_spec_of
from scanner.model import Area, Platform, Severity
from scanner.value import frozen

ENTRY_POINT_GROUP = "gxpscan.checks"
SPECIAL_PARAMS = frozenset({"target"})
_MARK = "__gxpscan_check__"

#: Check id prefix -> platform, for ids whose prefix is not the platform name itself.
ID_PREFIX_PLATFORM = {"ad": Platform.LDAP}


_EP_FORMAT = "gxpscan-entry-points/1"
_EP_FILE = "entry-points.json"
_EP_MAX_BYTES = 256 * 1024
#: An entry point's value: ``module.path`` or ``module.path:attribute``.
_EP_VALUE = r"[A-Za-z_][\w.]*(?::[A-Za-z_][\w.]*)?"


def __getattr__(name: str) -> Any:
    """``scanner.registry.metadata``: importlib.metadata, imported when first asked for (not at start-up)."""
    if name == "metadata":
        from importlib import metadata

        return metadata
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _installation_key(group: str) -> str | None:
    """SHA-256 over where ``importlib.metadata`` finds entry points (see the module's docstring); None when that
    cannot be told cheaply (a distribution finder other than the standard one, an egg on the path, an I/O fault)."""
    if any(getattr(f, "find_distributions", None) is not None and f is not importlib.machinery.PathFinder
           for f in sys.meta_path):
        return None
    digest = hashlib.sha256(f"{_EP_FORMAT}\0{group}\0{sys.version}\0".encode())
    try:
        for entry in sys.path:
            where = entry or os.getcwd()
            if where.endswith(".egg"):
                return None
            digest.update(f"path\0{where}\0".encode("utf-8", "surrogateescape"))
            try:
                with os.scandir(where) as listing:
                    names = sorted(e.name for e in listing if e.name.endswith((".dist-info", ".egg-info")))
            except FileNotFoundError:
                continue
            except NotADirectoryError:  # a zip archive: its metadata is inside
                st = os.stat(where)
                digest.update(f"file\0{st.st_mtime_ns}\0{st.st_size}\0{st.st_ino}\0".encode())
                continue
            for name in names:
                try:
                    st = os.stat(os.path.join(where, name, "entry_points.txt"))
                    seen = f"{st.st_mtime_ns}\0{st.st_size}\0{st.st_ino}"
                except (FileNotFoundError, NotADirectoryError):
                    seen = "-"
                digest.update(f"{name}\0{seen}\0".encode("utf-8", "surrogateescape"))
    except OSError:
        return None
    return digest.hexdigest()


def _cached_points(doc: Any, key: str) -> list[tuple[str, str]] | None:
    if not isinstance(doc, dict) or doc.get("format") != _EP_FORMAT or doc.get("key") != key:
        return None
    points = doc.get("points")
    if not isinstance(points, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
            and re.fullmatch(_EP_VALUE, p[1]) for p in points):
        return None
    return [(name, value) for name, value in points]


def entry_points(group: str = ENTRY_POINT_GROUP) -> list[tuple[str, str]]:
    """(name, value) of the installed entry points of ``group``, sorted by name, as ``importlib.metadata`` finds
    them; from the cache when nothing they are read from changed (see the module's docstring)."""
    from scanner.privatecache import cache_dir, read_private_json, write_private

    cache = None if "importlib.metadata" in sys.modules else cache_dir()
    key = _installation_key(group) if cache is not None else None
    if cache is not None and key is not None:
        cached = _cached_points(read_private_json(cache, _EP_FILE, _EP_MAX_BYTES), key)
        if cached is not None:
            return cached
    from importlib import metadata

    points = [(ep.name, ep.value) for ep in sorted(metadata.entry_points(group=group), key=lambda e: e.name)]
    if cache is not None and key is not None and _cached_points({"format": _EP_FORMAT, "key": key,
                                                                  "points": [list(p) for p in points]}, key):
        write_private(cache, _EP_FILE, json.dumps({"format": _EP_FORMAT, "key": key, "points": points}))
    return points


def id_matcher(patterns: Collection[str]) -> Callable[[str], bool]:
    """Whether a check id matches one of the id globs ``patterns`` (``fnmatch.fnmatchcase``), with a pattern that
    has no wildcard (``*``, ``?``, ``[``) compared as the text it is: fnmatch compiled each into a regular
    expression, the ids of ``scan --check`` (15 of them, 15 compilations) a twentieth of the set-up of a scan."""
    globs = [p for p in patterns if any(c in p for c in "*?[")]
    exact = set(patterns) - set(globs)
    return lambda cid: cid in exact or any(fnmatch.fnmatchcase(cid, p) for p in globs)


class CheckLoadError(Exception):
    """A check is malformed: unknown fact, duplicate id, bad metadata. Raised at load, never mid-scan."""


@frozen
class CheckSpec:
    id: str
    title: str
    severity: Severity
    area: Area
    criterion: str
    platform: Platform
    func: Callable[..., Any]
    facts: tuple[str, ...]  # full fact names, in parameter order
    params: Mapping[str, Any]  # threshold name -> default
    wants_target: bool = False
    needs_root: bool = False
    remediation: str = ""  # how to fix a failure, in our own words

    @property
    def module(self) -> str:
        return self.func.__module__

    def fact_param(self, fact: str) -> str:
        return fact.split(".", 1)[1]


def check(*, id: str, title: str, severity: Severity | str, area: Area | str, criterion: str, remediation: str = "",
          platform: Platform | str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a function as a check. The function is returned unchanged, so it stays testable."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        prefix = id.split(".", 1)[0]
        plat = Platform(platform) if platform else ID_PREFIX_PLATFORM.get(prefix) or Platform(prefix)
        facts, params = [], {}
        signature = inspect.signature(func).parameters
        for name, p in signature.items():
            if name in SPECIAL_PARAMS:
                continue
            if p.default is inspect.Parameter.empty:
                facts.append(f"{plat.value}.{name}")
            else:
                params[name] = p.default
        spec = CheckSpec(
            id=id, title=title, severity=Severity(severity), area=Area(area),
            criterion=criterion, platform=plat, func=func, facts=tuple(facts),
            params=MappingProxyType(params), wants_target="target" in signature, remediation=remediation,
        )
        setattr(func, _MARK, spec)
        return func

    return mark


def spec_of(func: Callable[..., Any]) -> CheckSpec:
    spec: CheckSpec = getattr(func, _MARK)
    return spec


def _modules_in(module: ModuleType) -> list[ModuleType]:
    """A module, or a package and every module under it (imported)."""
    seen: list[ModuleType] = [module]
    if hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, module.__name__ + "."):
            seen.append(importlib.import_module(info.name))
    return seen


def _defined_in(mod: ModuleType) -> list[CheckSpec | ChallengeSpec]:
    """The checks and challenges a module defines (not those it merely imports)."""
    found: list[CheckSpec | ChallengeSpec] = []
    for obj in vars(mod).values():
        spec = getattr(obj, _MARK, None) or challenge_spec_of(obj)
        if isinstance(spec, (CheckSpec, ChallengeSpec)) and obj.__module__ == mod.__name__:
            found.append(spec)
    return found


def _checks_in(module: ModuleType) -> Iterable[CheckSpec | ChallengeSpec]:
    """The checks and challenges defined in a module or package (not those it merely imports)."""
    for mod in _modules_in(module):
        yield from _defined_in(mod)


_INDEX_FORMAT = "gxpscan-check-index/1"
_INDEX_FILE = "check-index.json"
_INDEX_MAX_BYTES = 1024 * 1024
_MODULE_NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"


def _package_key(package: str) -> str | None:
    """SHA-256 over the code of every Python file under a plugin package's folder, this module's and the Python
    version; None for a plugin that is not one folder of files (a single module, a zip, a namespace package)."""
    import importlib.util

    try:
        found = importlib.util.find_spec(package)
        where = list(found.submodule_search_locations or ()) if found is not None else []
        if found is None or found.origin is None or len(where) != 1:
            return None
        root = Path(where[0])
        digest = hashlib.sha256(f"{_INDEX_FORMAT}\0{package}\0{sys.version}\0".encode())
        digest.update(hashlib.sha256(Path(__file__).read_bytes()).digest())
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{path.relative_to(root)}\0".encode("utf-8", "surrogateescape"))
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    except (ImportError, ValueError, OSError):
        return None
    return digest.hexdigest()


def _indexed(doc: Any, package: str, key: str) -> dict[str, list[str]] | None:
    """The kept index (module -> the ids it defines) of ``package`` under ``key``; None when there is none of the
    expected form (every module inside the package)."""
    entry = doc.get(package) if isinstance(doc, dict) and doc.get("format") == _INDEX_FORMAT else None
    if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("modules"), dict):
        return None
    modules: dict[str, list[str]] = {}
    for name, ids in entry["modules"].items():
        if not (isinstance(name, str) and re.fullmatch(_MODULE_NAME, name)
                and (name == package or name.startswith(package + "."))
                and isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
            return None
        modules[name] = ids
    return modules


def _plugin_specs(package: str, patterns: Sequence[str] | None) -> list[CheckSpec | ChallengeSpec]:
    """The checks and challenges of a plugin package: all of them, or (``patterns``) at least those whose ids match,
    importing only the modules that define them when the package's index is kept and its code unchanged."""
    from scanner.privatecache import cache_dir, read_private_json, write_private

    cache = cache_dir() if patterns is not None else None
    key = _package_key(package) if cache is not None else None
    if cache is None or key is None:
        return list(_checks_in(importlib.import_module(package)))
    doc = read_private_json(cache, _INDEX_FILE, _INDEX_MAX_BYTES)
    index = _indexed(doc, package, key)
    if index is not None and patterns is not None:
        wanted = id_matcher(patterns)
        return [spec for name, ids in index.items() if any(map(wanted, ids))
                for spec in _defined_in(importlib.import_module(name))]
    modules = _modules_in(importlib.import_module(package))
    specs = [spec for mod in modules for spec in _defined_in(mod)]
    # kept only when the package loads as a whole (unique ids: Registry checks them across what it is given)
    if len({s.id for s in specs}) == len(specs):
        kept = {k: v for k, v in doc.items() if k != "format"} if isinstance(doc, dict) and \
            doc.get("format") == _INDEX_FORMAT else {}
        kept[package] = {"key": key, "modules": {m.__name__: [s.id for s in _defined_in(m)] for m in modules}}
        write_private(cache, _INDEX_FILE, json.dumps({"format": _INDEX_FORMAT, **kept}, sort_keys=True))
    return specs


def plugin_platform(name: str) -> Platform | None:
    """The platform a ``gxpscan.checks`` entry point serves, by its name (``linux``, ``aws``, ``ad`` -> ldap); None
    for a name that is no platform (a third-party plugin whose platform cannot be known: always loaded)."""
    if name in ID_PREFIX_PLATFORM:
        return ID_PREFIX_PLATFORM[name]
    try:
        return Platform(name)
    except ValueError:
        return None


class Registry:
    """All loaded checks, validated against the facts the collectors can provide.

    ``platforms`` is None when every check plugin was loaded, else the platforms whose plugins were (plugins of
    unknown platform always are): a registry for a scan of some target types only."""

    def __init__(self, specs: Iterable[CheckSpec | ChallengeSpec], known_facts: Mapping[str, Any],
                 platforms: frozenset[Platform] | None = None):
        self.platforms = platforms
        self.checks: dict[str, CheckSpec] = {}
        self.challenges: dict[str, ChallengeSpec] = {}  # opt-in tests that act on targets (scanner/challenge.py)
        for spec in specs:
            other = self.checks.get(spec.id) or self.challenges.get(spec.id)
            if other is not None and other.func is not spec.func:
                raise CheckLoadError(f"duplicate check id {spec.id!r}: {other.module} and {spec.module}")
            if isinstance(spec, ChallengeSpec):
                self.challenges[spec.id] = spec
                continue
            unknown = [f for f in spec.facts if f not in known_facts]
            if unknown:
                raise CheckLoadError(
                    f"check {spec.id!r} ({spec.module}) asks for unknown fact(s) {', '.join(unknown)}; "
                    f"known {spec.platform.value} facts: "
                    + ", ".join(sorted(k for k in known_facts if k.startswith(spec.platform.value + "."))))
            needs_root = any(getattr(known_facts[f], "needs_root", False) for f in spec.facts)
            if needs_root != spec.needs_root:
                spec = CheckSpec(**{**spec.__dict__, "needs_root": needs_root})
            self.checks[spec.id] = spec

    @classmethod
    def load(cls, modules: Iterable[str] | None = None, platforms: Iterable[Platform] | None = None,
             patterns: Sequence[str] | None = None) -> Registry:
        """Load built-in and third-party checks, both through the ``gxpscan.checks`` entry points.

        ``modules`` replaces entry-point discovery (used by tests for a fixed set of modules). ``platforms`` loads
        only the plugins of these platforms (entry points are named by platform) and those whose platform cannot
        be known from their name; the duplicate-id and unknown-fact validation runs on what is loaded.
        ``patterns`` (check id globs, ``scan --check``): of a plugin package whose index is kept (module -> ids,
        ``check-index.json`` in the cache folder, written when the package loads whole, keyed by the SHA-256 of
        its code) only the modules defining a matching id (check or challenge) are imported; the others are not
        loaded, so every id the patterns match is, and the registry holds at least those.
        """
        from scanner.collectors import known_facts

        wanted = None if platforms is None else frozenset(platforms)
        specs: list[CheckSpec | ChallengeSpec] = []
        if modules is None:
            for name, value in entry_points():
                serves = plugin_platform(name)
                if wanted is not None and serves is not None and serves not in wanted:
                    continue
                try:
                    specs.extend(_plugin_specs(value.split(":")[0], patterns))
                except ImportError as exc:
                    raise CheckLoadError(f"check plugin {name!r} ({value}) failed to import: {exc}") from exc
        else:
            for name in modules:
                specs.extend(_checks_in(importlib.import_module(name)))
        if wanted is None:
            return cls(specs, known_facts())
        return cls(specs, known_facts(wanted | {s.platform for s in specs if isinstance(s, CheckSpec)}), wanted)

    def select(self, patterns: Iterable[str] = (), platform: Platform | str | None = None,
               ids: Iterable[str] | None = None) -> list[CheckSpec]:
        pats = list(patterns)
        matches = id_matcher(pats)
        allowed = set(ids) if ids is not None else None
        out = []
        for cid in sorted(self.checks):
            spec = self.checks[cid]
            if platform and spec.platform != Platform(platform):
                continue
            if pats and not matches(cid):
                continue
            if allowed is not None and cid not in allowed:
                continue
            out.append(spec)
        return out

    def select_challenges(self, impact: Impact | str, patterns: Iterable[str] = ()) -> list[ChallengeSpec]:
        """The challenges ``--challenge IMPACT`` runs (intrusive includes safe), optionally filtered by id pattern."""
        level, pats = Impact(impact), list(patterns)
        matches = id_matcher(pats)
        return [self.challenges[cid] for cid in sorted(self.challenges)
                if level.allows(self.challenges[cid].impact) and (not pats or matches(cid))]

    def ids(self) -> set[str]:
        """Every check and challenge id: what a catalog, profile or waiver may name."""
        return set(self.checks) | set(self.challenges)

    def param_names(self) -> set[str]:
        specs: list[CheckSpec | ChallengeSpec] = [*self.checks.values(), *self.challenges.values()]
        return {p for spec in specs for p in spec.params}

    def fingerprint(self, specs: Iterable[CheckSpec | ChallengeSpec] | None = None) -> str:
        """SHA-256 over the source of every module that defines the given checks (and challenges)."""
        digest = hashlib.sha256()
        every: Iterable[CheckSpec | ChallengeSpec] = [*self.checks.values(), *self.challenges.values()]
        modules = sorted({s.module for s in (specs if specs is not None else every)})
        for name in modules:
            digest.update(name.encode() + b"\0")
            try:
                digest.update(inspect.getsource(importlib.import_module(name)).encode())
            except (OSError, TypeError):
                digest.update(b"<source unavailable>")
        return digest.hexdigest()
