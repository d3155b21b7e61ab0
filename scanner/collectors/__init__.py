"""Collectors turn what a connector returns into named, typed facts.

Each platform module exposes ``FACTS`` (name -> FactSpec) and
``collect(connector, target, names) -> dict[str, Fact]``. A fact that could not be collected
or parsed comes back as ``Fact.failed(...)``, never as a missing key. Modules must not import
boto3, paramiko, pywinrm or ldap3 at import time.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from scanner.model import Fact, Platform, Target
from scanner.value import frozen

if TYPE_CHECKING:
    from scanner.connectors import CommandResult, ProcessScope

PLATFORM_COLLECTORS = {
    Platform.LINUX: "scanner.collectors.linux",
    Platform.WINDOWS: "scanner.collectors.windows",
    Platform.AWS: "scanner.collectors.aws",
    Platform.LDAP: "scanner.collectors.ldap",
    Platform.IAC: "scanner.collectors.iac",
}

#: The system-under-test fact of each platform (scanner.facts.system), collected with every target's other facts.
SYSTEM_FACTS = {
    Platform.LINUX: "linux.system",
    Platform.WINDOWS: "windows.system",
    Platform.AWS: "aws.system",
    Platform.LDAP: "ldap.system",
    Platform.IAC: "iac.system",
}


#: The fact of a platform whose value is a ``scanner.model.ResourceNotes`` (file and line of each resource, values
#: that could not be resolved, inline waivers), collected with every target's other facts and applied by the runner.
NOTES_FACTS = {
    Platform.IAC: "iac.resource_notes",
}


#: Platforms whose facts are declared apart from their collector, in a module's ``FACTS`` (name -> description; none
#: needs root): the checks of a scan are validated against them without importing that collector. An IaC scan is
#: judged by the AWS checks, and imported every live AWS collector module (and their connector) to learn the names
#: of the facts. tests/engine/test_startup.py proves each declaration is what its collector provides.
DECLARED_FACTS = {
    Platform.AWS: "scanner.facts.aws",
}


@frozen
class FactSpec:
    name: str
    description: str
    needs_root: bool = False


def _module(platform: Platform) -> ModuleType | None:
    name = PLATFORM_COLLECTORS.get(platform)
    if name is None:
        return None
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def known_facts(platforms: Iterable[Platform] | None = None) -> dict[str, FactSpec]:
    """The facts the collectors provide: of every platform, or of the collectors of ``platforms`` and of the
    platforms they judge (``aws`` includes ``iac``)."""
    wanted = None if platforms is None else set(platforms)
    facts: dict[str, FactSpec] = {}
    for platform in PLATFORM_COLLECTORS:
        if wanted is not None and platform not in wanted and platform.judged_by not in wanted:
            continue
        if platform in DECLARED_FACTS:
            declared: Mapping[str, str] = importlib.import_module(DECLARED_FACTS[platform]).FACTS
            facts.update({name: FactSpec(name, about) for name, about in declared.items()})
            continue
        mod = _module(platform)
        if mod is not None:
            facts.update(mod.FACTS)
    return facts


def collect(connector: Any, target: Target, names: Iterable[str]) -> dict[str, Fact]:
    wanted = sorted(set(names))
    mod = _module(target.type)
    if mod is None:
        return {n: Fact.failed(n, f"no collector for platform {target.type.value}") for n in wanted}
    got: dict[str, Fact] = mod.collect(connector, target, wanted)
    # Fail closed: a fact the collector forgot is an error, not an absence.
    return {n: got.get(n) or Fact.failed(n, "collector returned nothing for this fact") for n in wanted}


def collect_facts(target: Target, fact_names: Iterable[str], scope: ProcessScope | None = None) -> dict[str, Fact]:
    """Open the target's connector and collect. An unreachable target makes every fact an error."""
    names = sorted(set(fact_names))
    if not names:
        return {}
    from scanner.connectors import ConnectorError, open_connector

    try:
        with open_connector(target, scope) as conn:
            got: dict[str, Fact] = collect(conn, target, names)
            return got
    except Exception as exc:
        import logging  # only here: the collector of code runs in a child that imports no more than it needs

        why = str(exc) if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}".rstrip(": ")
        logging.getLogger("gxpscan.runner").debug("target %s failed", target.name, exc_info=True)
        return {n: Fact.failed(n, f"target could not be scanned: {why}") for n in names}


def batch_failure(result: CommandResult) -> str:
    """Why a fact of a batched collection script has no output: the script timed out, its output was cut at the
    bound, or it ended first (its exit code and last line of stderr, split on ``\n`` only)."""
    if result.timed_out:
        return "the batched collection script timed out before this fact's section ran"
    if result.truncated:
        return "output bound reached before this fact's section (output truncated)"
    detail = [d for d in result.stderr.decode("utf-8", "replace").strip().split("\n") if d]
    return (f"no output for this fact (shell exit {result.exit_code}"
            + (f": {detail[-1][:200]}" if detail else "") + ")")
