"""The check plugin API: the ``@check`` decorator and discovery through entry points.

A check is a plain function. Parameters without a default name facts of the check's platform
(``login_defs`` -> fact ``linux.login_defs``); parameters with a default are thresholds that the
inventory's ``policy`` may override by the same name; ``target`` receives the Target itself.
"""
from __future__ import annotations

import fnmatch
import hashlib
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from types import MappingProxyType, ModuleType
from typing import Any

from scanner.challenge import ChallengeSpec, Impact, challenge_spec_of
from scanner.model import Area, Platform, Severity

ENTRY_POINT_GROUP = "gxpscan.checks"
SPECIAL_PARAMS = frozenset({"target"})
_MARK = "__gxpscan_check__"

#: Check id prefix -> platform, for ids whose prefix is not the platform name itself.
ID_PREFIX_PLATFORM = {"ad": Platform.LDAP}


class CheckLoadError(Exception):
    """A check is malformed: unknown fact, duplicate id, bad metadata. Raised at load, never mid-scan."""


@dataclass(frozen=True)
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


def _checks_in(module: ModuleType) -> Iterable[CheckSpec | ChallengeSpec]:
    """The checks and challenges defined in a module or package (not those it merely imports)."""
    seen: list[ModuleType] = [module]
    if hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, module.__name__ + "."):
            seen.append(importlib.import_module(info.name))
    for mod in seen:
        for obj in vars(mod).values():
            spec = getattr(obj, _MARK, None) or challenge_spec_of(obj)
            if isinstance(spec, (CheckSpec, ChallengeSpec)) and obj.__module__ == mod.__name__:
                yield spec


class Registry:
    """All loaded checks, validated against the facts the collectors can provide."""

    def __init__(self, specs: Iterable[CheckSpec | ChallengeSpec], known_facts: Mapping[str, Any]):
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
    def load(cls, modules: Iterable[str] | None = None) -> Registry:
        """Load built-in and third-party checks, both through the ``gxpscan.checks`` entry points.

        ``modules`` replaces entry-point discovery (used by tests for a fixed set of modules).
        """
        from scanner.collectors import known_facts

        specs: list[CheckSpec | ChallengeSpec] = []
        if modules is None:
            for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                try:
                    specs.extend(_checks_in(importlib.import_module(ep.value.split(":")[0])))
                except ImportError as exc:
                    raise CheckLoadError(f"check plugin {ep.name!r} ({ep.value}) failed to import: {exc}") from exc
        else:
            for name in modules:
                specs.extend(_checks_in(importlib.import_module(name)))
        return cls(specs, known_facts())

    def select(self, patterns: Iterable[str] = (), platform: Platform | str | None = None,
               ids: Iterable[str] | None = None) -> list[CheckSpec]:
        pats = list(patterns)
        allowed = set(ids) if ids is not None else None
        out = []
        for cid in sorted(self.checks):
            spec = self.checks[cid]
            if platform and spec.platform != Platform(platform):
                continue
            if pats and not any(fnmatch.fnmatchcase(cid, p) for p in pats):
                continue
            if allowed is not None and cid not in allowed:
                continue
            out.append(spec)
        return out

    def select_challenges(self, impact: Impact | str, patterns: Iterable[str] = ()) -> list[ChallengeSpec]:
        """The challenges ``--challenge IMPACT`` runs (intrusive includes safe), optionally filtered by id pattern."""
        level, pats = Impact(impact), list(patterns)
        return [self.challenges[cid] for cid in sorted(self.challenges)
                if level.allows(self.challenges[cid].impact)
                and (not pats or any(fnmatch.fnmatchcase(cid, p) for p in pats))]

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
