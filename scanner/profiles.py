"""Profiles: the approved configuration of the tool as a reviewable data file.

A profile (YAML, validated by ``scanner/schemas/profile.schema.json``) selects checks by id or glob, sets policy
thresholds with a rationale for each value, and names its source. Built-in profiles live in ``checks/profiles/``;
a plugin ships its own through the ``gxpscan.profiles`` entry point group, whose value names a package: every
``*.yaml`` file in that package is a profile. ``gxpscan scan --profile NAME|FILE`` applies one; the SHA-256 of the
file's bytes goes into the run record (``run.profile_sha256``), so the configuration a run used is traceable.

Precedence of thresholds: a check's own default < the profile < the inventory's policy. An inventory value that
differs from the profile's is reported as a run warning, so a reviewer sees every deviation from the approved
profile. A threshold may be scoped to checks (``checks: [glob, ...]``) when one policy name needs different values
for different checks; the engine then reads it as ``<check id>:<name>`` before the plain name.
"""
from __future__ import annotations

import fnmatch
import functools
import hashlib
import importlib.resources
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from scanner.model import Target, freeze

if TYPE_CHECKING:
    from scanner.challenge import ChallengeSpec
    from scanner.registry import CheckSpec, Registry

ENTRY_POINT_GROUP = "gxpscan.profiles"
SUFFIXES = (".yaml", ".yml")


class ProfileError(ValueError):
    """A profile cannot be found, read or used; the message names the file and the fault."""


@dataclass(frozen=True)
class Threshold:
    name: str
    value: Any
    rationale: str
    checks: tuple[str, ...] = ()  # globs; empty: every check with a parameter of this name

    def applies_to(self, check_id: str) -> bool:
        return not self.checks or any(fnmatch.fnmatchcase(check_id, p) for p in self.checks)


@dataclass(frozen=True)
class Profile:
    name: str
    version: str
    title: str
    source: str  # what the profile follows, e.g. "GxP baseline (gxpscan defaults)"
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    thresholds: tuple[Threshold, ...]
    origin: str  # "built-in", "plugin <entry point>" or "file"
    path: str
    sha256: str
    description: str = ""
    source_url: str = ""
    references: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # check id -> section

    def selects(self, check_id: str) -> bool:
        return any(fnmatch.fnmatchcase(check_id, p) for p in self.include) and \
            not any(fnmatch.fnmatchcase(check_id, p) for p in self.exclude)


# ---------------------------------------------------------------- reading


@functools.cache
def profile_schema() -> dict[str, Any]:
    text = importlib.resources.files("scanner").joinpath("schemas/profile.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _where(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_profile(data: bytes, origin: str, path: str) -> Profile:
    """A profile from the bytes of its file. Raises ProfileError naming the path of each fault."""
    from jsonschema import Draft202012Validator

    from scanner.yamlload import MAX_BYTES, YamlError, load_yaml

    if len(data) > MAX_BYTES:
        raise ProfileError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MiB; not read")
    try:
        doc = load_yaml(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not UTF-8 text") from None
    except YamlError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    errors = sorted(Draft202012Validator(profile_schema()).iter_errors(doc),
                    key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        raise ProfileError(f"{path}: not a valid profile:\n" + "\n".join(
            f"  {_where(e.absolute_path)}: {e.message}" for e in errors))
    names = [t["name"] for t in doc["thresholds"] if "checks" not in t]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ProfileError(f"{path}: thresholds: {', '.join(doubled)} set more than once for every check")
    src = doc["source"]
    return Profile(
        name=doc["profile"], version=str(doc["version"]), title=doc["title"], source=src["name"],
        include=tuple(doc["checks"]["include"]), exclude=tuple(doc["checks"].get("exclude", ())),
        thresholds=tuple(Threshold(t["name"], freeze(t["value"]), t["rationale"], tuple(t.get("checks", ())))
                         for t in doc["thresholds"]),
        origin=origin, path=path, sha256=hashlib.sha256(data).hexdigest(), description=doc.get("description", ""),
        source_url=src.get("url", ""), references=freeze(dict(src.get("references", {}))))


def load_file(path: str | Path, origin: str = "file") -> Profile:
    try:
        with open(path, "rb") as fh:
            data = fh.read(16 * 1024 * 1024 + 1)
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_profile(data, origin, str(path))


def builtin_dir() -> Any:
    """The packaged ``checks/profiles`` folder, or the repository's when the package is not importable."""
    try:
        return importlib.resources.files("checks.profiles")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "checks" / "profiles"


def _from_dir(directory: Any, origin: str) -> list[Profile]:
    files = sorted((f for f in directory.iterdir() if f.name.endswith(SUFFIXES)), key=lambda f: f.name)
    return [parse_profile(f.read_bytes(), origin, str(f)) for f in files]


def discover() -> dict[str, Profile]:
    """Every available profile by name: the built-in ones, then those of plugins. A name defined twice is an
    error (a profile must mean one thing)."""
    found: dict[str, Profile] = {}
    seen_dirs = set()
    sources: list[tuple[Any, str]] = [(builtin_dir(), "built-in")]
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            sources.append((importlib.resources.files(ep.value.split(":")[0]), f"plugin {ep.name}"))
        except (ImportError, TypeError) as exc:
            raise ProfileError(f"profile plugin {ep.name!r} ({ep.value}) cannot be loaded: {exc}") from None
    for directory, origin in sources:
        key = str(directory)
        if key in seen_dirs:
            continue
        seen_dirs.add(key)
        for profile in _from_dir(directory, origin):
            if profile.name in found:
                raise ProfileError(f"profile {profile.name!r} is defined twice: {found[profile.name].path} "
                                   f"({found[profile.name].origin}) and {profile.path} ({origin})")
            found[profile.name] = profile
    return found


def resolve(name_or_file: str) -> Profile:
    """A profile by name, or from a file when the argument is a path to one."""
    path = Path(name_or_file)
    if name_or_file.endswith(SUFFIXES) or "/" in name_or_file:
        if path.is_file():
            return load_file(path)
        raise ProfileError(f"{name_or_file}: no such profile file")
    known = discover()
    if name_or_file not in known:
        raise ProfileError(f"unknown profile {name_or_file!r}; known: {', '.join(sorted(known)) or '(none)'}")
    return known[name_or_file]


# ---------------------------------------------------------------- using


def _same_kind(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    if isinstance(default, (tuple, list)):
        return isinstance(value, (tuple, list))
    if isinstance(default, str):
        return isinstance(value, str)
    return True


def check_against(profile: Profile, registry: Registry) -> list[CheckSpec]:
    """The checks the profile selects; raises ProfileError when a pattern matches nothing, a threshold names no
    parameter of a selected check, or a value is of another kind than the check's default."""
    problems = []
    for pattern in profile.include + profile.exclude:
        if not any(fnmatch.fnmatchcase(cid, pattern) for cid in registry.checks):
            problems.append(f"checks: {pattern!r} matches no loaded check")
    specs = [s for s in registry.select() if profile.selects(s.id)]
    for i, t in enumerate(profile.thresholds):
        users = [s for s in specs if t.name in s.params and t.applies_to(s.id)]
        if not users:
            scope = f" among {', '.join(t.checks)}" if t.checks else ""
            problems.append(f"thresholds[{i}] {t.name}: no selected check{scope} has this parameter")
            continue
        for s in users:
            if not _same_kind(t.value, s.params[t.name]):
                problems.append(f"thresholds[{i}] {t.name}: {t.value!r} is not of the kind of {s.id}'s default "
                                f"{s.params[t.name]!r}")
                break
    if problems:
        raise ProfileError(f"profile {profile.name} ({profile.path}) does not fit the loaded checks:\n"
                           + "\n".join(f"  {p}" for p in problems))
    return specs


def policy_of(profile: Profile, specs: Iterable[CheckSpec | ChallengeSpec]) -> dict[str, Any]:
    """The policy entries the profile sets: plain names, and ``<check id>:<name>`` for scoped thresholds."""
    out: dict[str, Any] = {}
    specs = list(specs)
    for t in profile.thresholds:
        if not t.checks:
            out[t.name] = t.value
            continue
        for s in specs:
            if t.name in s.params and t.applies_to(s.id):
                out[f"{s.id}:{t.name}"] = t.value
    return out


def apply(profile: Profile, specs: Iterable[CheckSpec | ChallengeSpec], target: Target) -> tuple[Target, list[str]]:
    """The target with the profile's thresholds under its own policy (the inventory wins), and a warning for every
    inventory value that differs from the profile's."""
    entries = policy_of(profile, specs)
    own = dict(target.policy)
    warnings = []
    policy = {}
    for key, value in entries.items():
        name = key.rsplit(":", 1)[-1]
        if name in own:
            if freeze(own[name]) != value:
                warnings.append(f"target {target.name}: policy {name} = {own[name]!r} overrides profile "
                                f"{profile.name} ({key} = {value!r})")
            continue
        policy[key] = value
    policy.update(own)
    return replace(target, policy=freeze(policy)), sorted(set(warnings))
