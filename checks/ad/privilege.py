"""Active Directory privileged group membership (nested and primary-group membership included)."""
from __future__ import annotations

from checks.ldap.common import flavor_gate, missing
from scanner.facts.ldap import DirectoryInfo, GroupMember, PrivilegedGroup
from scanner.model import Area, Finding, Severity, failed, not_applicable, passed
from scanner.registry import check


def _how(m: GroupMember) -> str:
    how = "nested" if m.nested else "direct"
    if m.primary_group:
        how += ", primary group"
    return how + ("" if m.enabled else ", disabled")


@check(id="ad.privileged_groups", title="Privileged groups hold only approved accounts",
       severity=Severity.CRITICAL, area=Area.ACCESS_CONTROL,
       criterion="Every user in Domain Admins, Enterprise Admins, Schema Admins, Administrators, Account, Backup "
                 "and Server Operators, directly, through nested groups or through its primary group, is in "
                 "approved_privileged.",
       remediation="Remove the unapproved accounts from the group (and from any group nested in it; for a member "
                   "through its primary group, set its primaryGroupID back to Domain Users first), or, after an "
                   "approved access request, add them to approved_privileged. Keep Schema and Enterprise Admins "
                   "empty except during planned changes.")
def privileged_groups(root_dse: DirectoryInfo, privileged_groups: tuple[PrivilegedGroup, ...] | None,
                      approved_privileged: tuple[str, ...] = ()) -> list[Finding]:
    if na := flavor_gate(root_dse, "ad", f"domain {root_dse.base_dn}"):
        return [na]
    if privileged_groups is None:
        return [missing(f"domain {root_dse.base_dn}", "ldap.privileged_groups")]
    approved = {a.lower() for a in approved_privileged}
    out = []
    for group in privileged_groups:
        if group.held_by is not None:
            out.append(not_applicable(group.name, f"{group.name} lives in the forest root domain {group.held_by}, "
                                      "not in this domain: scan that domain as its own target", sid=group.sid,
                                      held_by=group.held_by))
            continue
        members = [{"sam": m.sam, "nested": m.nested, "enabled": m.enabled, "primary_group": m.primary_group}
                   for m in group.members]
        extra = [m for m in group.members if m.sam.lower() not in approved]
        if extra:
            names = ", ".join(f"{m.sam} ({_how(m)})" for m in extra)
            out.append(failed(group.name, f"unapproved members: {names}", members=members, sid=group.sid,
                              unapproved=[m.sam for m in extra]))
        else:
            out.append(passed(group.name, f"{len(members)} member(s), all approved", members=members, sid=group.sid))
    return out
