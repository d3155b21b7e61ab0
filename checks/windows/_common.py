"""Helpers shared by the Windows checks (no checks live here)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from scanner.facts.windows import TERMINAL_SERVER, TS_POLICIES, LocalAccount, LocalAccounts, Registry
from scanner.model import Finding, failed, not_applicable, passed


def fold(names: Iterable[str]) -> set[str]:
    return {n.casefold() for n in names}


def enabled(accounts: LocalAccounts) -> list[LocalAccount]:
    return [a for a in accounts.accounts if a.enabled]


def flagged(accounts: LocalAccounts, resource: str, bad: Callable[[LocalAccount], bool], what: str, ok: str,
            allowed: Iterable[str] = ()) -> Finding:
    """One finding over the enabled local accounts: fail naming those ``bad`` holds for (less the allowed ones)."""
    exempt = fold(allowed)
    hits = sorted(a.name for a in enabled(accounts) if bad(a) and a.name.casefold() not in exempt)
    if hits:
        return failed(resource, f"{len(hits)} enabled local account(s) {what}: {', '.join(hits)}", accounts=hits)
    return passed(resource, ok, accounts=[], allowed=sorted(allowed))


def policy_first(registry: Registry, policy_key: str, local_key: str, name: str) -> tuple[int | None, str]:
    """A setting a Group Policy key overrides: (value, where it came from)."""
    value = registry.dword(policy_key, name)
    if value is not None:
        return value, f"{policy_key}\\{name}"
    return registry.dword(local_key, name), f"{local_key}\\{name}"


def rdp_off(registry: Registry, resource: str) -> Finding | None:
    """not_applicable when Remote Desktop connections are denied (policy first, then the local setting)."""
    deny, where = policy_first(registry, TS_POLICIES, TERMINAL_SERVER, "fDenyTSConnections")
    if deny == 1:
        return not_applicable(resource, f"Remote Desktop connections are denied ({where} = 1)")
    return None


def settings_finding(resource: str, problems: list[str], ok: str, **observed: Any) -> Finding:
    if problems:
        return failed(resource, "; ".join(problems), **observed)
    return passed(resource, ok, **observed)


def expect(registry: Registry, key: str, name: str, good: Callable[[int], bool], wanted: str,
           problems: list[str], observed: dict[str, Any]) -> None:
    """Read a registry number into ``observed``; add a problem unless it is set and ``good``."""
    value = registry.dword(key, name)
    observed[name] = value
    if value is None:
        problems.append(f"{name} is not set (want {wanted})")
    elif not good(value):
        problems.append(f"{name} = {value} (want {wanted})")
