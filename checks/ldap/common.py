"""Helpers shared by the directory checks (AD and OpenLDAP)."""
from __future__ import annotations

from datetime import timedelta

from scanner.facts.ldap import DirectoryInfo
from scanner.model import Finding, error, not_applicable

FLAVOR_NAMES = {"ad": "Active Directory", "openldap": "OpenLDAP"}
#: Clocks differ a little; a timestamp further ahead than this is wrong, and would read as "just now".
FUTURE_SLACK = timedelta(days=1)


def flavor_gate(root_dse: DirectoryInfo, wanted: str, resource: str = "directory") -> Finding | None:
    """``not_applicable`` with the reason when the target is not the directory flavor a check is for."""
    if root_dse.flavor == wanted:
        return None
    have = FLAVOR_NAMES.get(root_dse.flavor, root_dse.flavor)
    return not_applicable(resource, f"applies to {FLAVOR_NAMES[wanted]}; this target is {have} "
                          f"(flavor from {root_dse.flavor_source})", flavor=root_dse.flavor)


def missing(resource: str, fact: str) -> Finding:
    """A fact collected empty on a directory of the right flavor: nothing to judge, so not a pass."""
    return error(resource, f"{fact}: no value was collected although the directory is of the flavor this check is "
                 "for; nothing to judge")


def fmt_days(days: float | None) -> str:
    return "never" if days is None else f"{days:g} days"


def fmt_minutes(minutes: float | None) -> str:
    return "until an administrator unlocks" if minutes is None else f"{minutes:g} minutes"
